"""The viewer's side of the browser frame cache: generations, prefetch, thread safety.

:class:`~dicom_widgets.widgets._frame_cache.FrameCache` is the browser part (an anywidget
that paints cached frames when the slider moves). :class:`FrameCacheBinding` decides what
it gets: every frame the canvas sends, tagged with a *generation* that changes whenever
anything other than the slice index changed, and, in idle time, the frames of the
neighbouring slices, rendered offscreen by the viewer.

Thread safety: ipykernel 7 handles widget messages on a subshell thread, so a slider
message or an ipympl "draw" request can arrive while the main thread prefetches.
Rendering a frame, the generation it belongs to and its send go together under the
canvas lock; prefetch renders other slices without moving the model's cursor, so a
slice change made meanwhile is never undone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ._frame_cache import FrameCache

if TYPE_CHECKING:
    from .viewer import SeriesViewer

__all__ = ["FrameCacheBinding", "PREFETCH_AHEAD", "PREFETCH_BEHIND", "SETTLE_S"]

#: Slices prefetched into the browser's frame cache: ahead in the direction of travel, behind.
PREFETCH_AHEAD = 10
PREFETCH_BEHIND = 4
#: Seconds after the last slice step the browser painted from its cache before ipympl's own
#: canvas (hidden under the cached frame) gets the new picture too.
SETTLE_S = 0.1


class FrameCacheBinding:
    """Feeds one viewer's frames to its :class:`FrameCache` (see the module docstring).

    Attributes
    ----------
    widget : FrameCache
        The browser-side cache (a child of the viewer).
    generation : int
        The generation of the frames sent now.
    """

    def __init__(self, viewer: SeriesViewer) -> None:
        self.viewer = viewer
        self.widget = FrameCache()
        self.widget.on_ready = self._on_ready
        self.generation = 0
        self.sent: set[int] = set()
        self.direction = 1
        self._look: object = None
        self._layout: object = None
        self._shown_png: bytes | None = None
        self._scheduled = False
        self._closed = False
        self._canvas_due: float | None = None
        viewer.model.observe(self._on_index, "index")

    def start(self, slider: widgets.IntSlider) -> None:
        """Let the cache follow the slider in the browser (its value is the slice shown)."""
        self.widget.slider = slider

    def close(self) -> None:
        """Close the cache; a prefetch or a canvas send still scheduled then does nothing."""
        self._closed = True
        self.viewer.model.unobserve(self._on_index, "index")
        self.widget.close()

    def _on_index(self, change: dict) -> None:
        if change["old"] != change["new"]:
            self.direction = 1 if change["new"] > change["old"] else -1

    # ------------------------------------------------------------------ frames
    def on_frame(self, png: bytes) -> None:
        """Every frame ipympl sends also goes to the browser's cache, under its generation.

        A frame from a slice change keeps the generation; one the viewer draws for any
        other reason (window, colormap, layers, pane, ...) starts a new one, which drops
        the cached frames. Frames ipympl draws by itself (first display, refresh requests,
        resize, toolbar zoom and pan) start one only when the picture or the layout changed.
        """
        viewer = self.viewer
        self._canvas_due = None  # ipympl's canvas is current again
        if self._closed or not viewer.panes:
            return
        look, layout = viewer._frame_look(), viewer._frame_layout()
        if viewer._in_render:
            new_look = not viewer._index_only or look != self._look
        else:
            new_look = look != self._look or layout != self._layout
            if not new_look and png == self._shown_png:
                return  # the same picture again: the browser has it
            new_look = True
        self._shown_png = png
        if new_look:
            self.generation += 1
            self._look = look
            self._layout = layout
            self.sent = set()
        index = viewer.model.index
        if index in self.sent:
            return  # prefetched: the browser has these very bytes already
        self.widget.send_frame(self.generation, index, png)
        self.sent.add(index)

    def _on_ready(self) -> None:
        """A browser model of the cache appeared (first display, page reload): fill it."""
        if self._closed:
            return
        with self.viewer._draw_lock:
            self.sent = set()
            if self._shown_png is not None and self.viewer.panes:
                index = self.viewer.model.index
                self.widget.send_frame(self.generation, index, self._shown_png)
                self.sent.add(index)
        self.schedule()

    # ------------------------------------------------------------------ deferred canvas
    def defer_canvas(self) -> bool:
        """Hold back ipympl's copy of a slice step the browser has painted from its cache.

        The browser shows the cached frame of the new slice over ipympl's canvas, so
        sending ipympl the same picture at once only costs: a PNG encode in the kernel and,
        in the browser, a decode on the page's main thread that can delay the next step's
        frame. It is sent once the steps have settled (:data:`SETTLE_S` after the last),
        so ipympl's canvas (toolbar zoom and pan, a cache reset) is still the picture shown.

        Returns
        -------
        bool
            True when the send was deferred; False when the caller must send now (the
            slice is not cached in the browser, cine is playing, or there is no running
            event loop to send it later, as in scripts and unit tests).
        """
        if self._closed or self.viewer.playing or self.viewer.model.index not in self.sent:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        pending = self._canvas_due is not None
        self._canvas_due = loop.time() + SETTLE_S
        if not pending:
            loop.call_later(SETTLE_S, self._settle_canvas)
        return True

    def _settle_canvas(self) -> None:
        """Send ipympl the held-back picture once no step came for :data:`SETTLE_S`."""
        due = self._canvas_due
        if due is None or self._closed:
            return  # sent meanwhile (any frame ipympl gets is the current picture)
        loop = asyncio.get_running_loop()
        if loop.time() < due:
            loop.call_later(due - loop.time(), self._settle_canvas)
            return
        self._canvas_due = None
        self.viewer._send_canvas()

    # ------------------------------------------------------------------ prefetch
    def order(self) -> list[int]:
        """Slices to cache next, nearest first, favouring the direction of travel."""
        model = self.viewer.model
        here, n = model.index, model.n_index()
        ahead = [here + self.direction * k for k in range(1, PREFETCH_AHEAD + 1)]
        behind = [here - self.direction * k for k in range(1, PREFETCH_BEHIND + 1)]
        # Interleave: two ahead for each one behind.
        order: list[int] = []
        while ahead or behind:
            order += ahead[:2] + behind[:1]
            ahead, behind = ahead[2:], behind[1:]
        return [j for j in order if 0 <= j < n and j not in self.sent]

    def schedule(self) -> None:
        """Render neighbouring slices for the browser's cache when the kernel is idle.

        One frame per event-loop turn, so a slider message waiting behind it is handled
        within one frame's time. Without a running event loop (scripts, unit tests) nothing
        is scheduled; :meth:`prefetch` does the same work on demand.
        """
        if self._closed or self._scheduled or self.viewer._hold:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._scheduled = True
        loop.call_soon(self.step)

    def step(self) -> None:
        """One scheduled prefetch step (then schedule the next)."""
        self._scheduled = False
        if self._closed or self.viewer.playing:
            return  # cine renders every frame anyway
        if self.prefetch(1):
            self.schedule()

    def prefetch(self, n: int = PREFETCH_AHEAD + PREFETCH_BEHIND) -> int:
        """Send up to ``n`` neighbouring slices now; returns how many were sent."""
        viewer = self.viewer
        if self._closed or not viewer.panes:
            return 0
        # Busy canvas (a render on another thread): try again later.
        if not viewer._draw_lock.acquire(blocking=False):
            return 0
        try:
            here = viewer.model.index
            # Frames far from here were dropped by the browser (it keeps ``capacity`` nearest).
            keep = self.widget.capacity // 2
            self.sent = {j for j in self.sent if abs(j - here) <= keep}
            # Never inside another draw of this thread (a nested call would undo its state).
            if viewer._in_render or getattr(viewer.canvas, "drawing", 0) or self._look is None:
                return 0
            sent = 0
            for j in self.order()[:n]:
                png = viewer._offscreen_png(j)
                if png is None:
                    break
                self.widget.send_frame(self.generation, j, png)
                self.sent.add(j)
                sent += 1
            return sent
        finally:
            viewer._draw_lock.release()
