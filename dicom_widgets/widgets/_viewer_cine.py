"""Cine playback of a viewer: a kernel-side timer stepping slices, or time points of 4-D data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .viewer import SeriesViewer

__all__ = ["Cine"]


class Cine:
    """The play timer of one viewer; ``axis`` is "time" for 4-D data, else "index"."""

    def __init__(self, viewer: SeriesViewer) -> None:
        self.viewer = viewer
        self.timer: Any = None

    @property
    def axis(self) -> str:
        return "time" if self.viewer.source.n_times > 1 else "index"

    def length(self, axis: str) -> int:
        """Frames along ``axis`` ("index" or "time")."""
        if axis == "time":
            return self.viewer.source.n_times
        if axis == "index":
            return self.viewer.model.n_index()
        raise ValueError(f"axis must be 'index' or 'time', got {axis!r}")

    def play(self, playing: bool) -> None:
        viewer = self.viewer
        if not playing:
            if self.timer is not None:
                self.timer.stop()
            return
        axis = self.axis
        if not viewer.loop and getattr(viewer, axis) >= self.length(axis) - 1:
            setattr(viewer, axis, 0)  # Play at the end of a non-looping cine starts over
        if self.timer is None:
            self.timer = self._new_timer()
            self.timer.add_callback(self.tick)
        self.timer.interval = int(1000 / viewer.fps)
        self.timer.start()

    def set_fps(self, fps: float) -> None:
        if self.timer is not None:
            self.timer.interval = int(1000 / fps)

    def tick(self) -> None:
        """One cine step (the timer's callback)."""
        viewer = self.viewer
        axis = self.axis
        nxt = getattr(viewer, axis) + 1
        if nxt >= self.length(axis):
            if not viewer.loop:
                viewer.playing = False
                return
            nxt = 0
        setattr(viewer, axis, nxt)

    def _new_timer(self) -> Any:
        viewer = self.viewer
        if viewer.canvas_mode == "ipympl":
            return viewer.canvas.new_timer(interval=int(1000 / viewer.fps))
        from matplotlib.backends.backend_webagg_core import TimerTornado

        return TimerTornado(interval=int(1000 / viewer.fps))
