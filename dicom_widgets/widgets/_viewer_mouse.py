"""Mouse and keys on the viewer's canvas, turned into model changes.

Wheel: step slices in the pane under the mouse (making it the active pane). Keys: arrows
and page up/down step, home/end jump, space plays. Left click: activate a pane and, in
the ortho view, move the crosshair there; with a measuring tool (the viewer's ``tool``
trait), place its points (``viewer.tools``). Left drag on a measurement's handle or body
(navigate tool): resize or move it; ctrl+z undoes the last one. Right drag: window
(horizontal: width, vertical: centre). Hover: the readout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .viewer import SeriesViewer

__all__ = ["CanvasEvents"]

_KEY_STEPS = {"up": 1, "right": 1, "down": -1, "left": -1, "pageup": 10, "pagedown": -10}


class CanvasEvents:
    """Connects a viewer's canvas events to its model (see the module docstring)."""

    def __init__(self, viewer: SeriesViewer) -> None:
        self.viewer = viewer
        self.drag: tuple[float, float, float, float] | None = None
        canvas = viewer.canvas
        for event, handler in (
            ("scroll_event", self.on_scroll),
            ("key_press_event", self.on_key),
            ("button_press_event", self.on_press),
            ("button_release_event", self.on_release),
            ("motion_notify_event", self.on_motion),
            ("figure_leave_event", lambda event: viewer.set_trait("readout", "")),
        ):
            canvas.mpl_connect(event, handler)

    def _pane_at(self, event: Any) -> int | None:
        for k, ax in enumerate(self.viewer.axes):
            if event.inaxes is ax:
                return k
        return None

    def _toolbar_busy(self) -> bool:
        toolbar = getattr(self.viewer.canvas, "toolbar", None)
        return bool(toolbar is not None and getattr(toolbar, "mode", ""))

    def on_scroll(self, event: Any) -> None:
        k = self._pane_at(event)
        if k is None:
            return
        viewer = self.viewer
        with viewer._draw_lock, viewer.model.hold():  # activation and step: one frame
            viewer.model.active = k
            # Wheel towards the user (negative step) moves forward, as in clinical viewers.
            viewer.step(-int(np.sign(event.step)) or 1)

    def on_key(self, event: Any) -> None:
        viewer = self.viewer
        if event.key in _KEY_STEPS:
            viewer.step(_KEY_STEPS[event.key])
        elif event.key == "home":
            viewer.index = 0
        elif event.key == "end":
            viewer.index = viewer.model.n_index() - 1
        elif event.key == " ":
            viewer.playing = not viewer.playing
        elif event.key in ("ctrl+z", "cmd+z"):
            with viewer._draw_lock, viewer.model.hold():
                viewer.tools.undo()

    def on_press(self, event: Any) -> None:
        k = self._pane_at(event)
        if k is None or self._toolbar_busy():
            return
        viewer = self.viewer
        model = viewer.model
        if viewer.tool != "navigate" and event.button == 1 and event.xdata is not None:
            with viewer._draw_lock, model.hold():
                model.active = k
                viewer.tools.press(
                    k, event.ydata, event.xdata, bool(getattr(event, "dblclick", False))
                )
            return
        if event.button == 3 and not viewer.source.is_color:
            self.drag = (event.x, event.y, viewer.window_center, viewer.window_width)
        elif event.button == 1 and event.xdata is not None:
            with viewer._draw_lock, model.hold():  # one frame for the click
                model.active = k
                if viewer.tools.grab(k, event.ydata, event.xdata):
                    return  # a measurement's handle or body: the drag edits it
                if model.view == "ortho":
                    pane = model.pane(k)
                    rows, cols = pane.screen_shape
                    row = int(np.clip(int(round(event.ydata)), 0, rows - 1))
                    col = int(np.clip(int(round(event.xdata)), 0, cols - 1))
                    model.set_cursor(pane.plane.voxel(pane.index, row, col, pane.volume_shape))

    def on_release(self, event: Any) -> None:
        self.drag = None
        viewer = self.viewer
        if viewer.tools.editing:
            with viewer._draw_lock, viewer.model.hold():
                viewer.tools.drop(self._pane_at(event), event.ydata, event.xdata)
            return
        if viewer.tool != "navigate" and event.xdata is not None:
            with viewer._draw_lock, viewer.model.hold():
                viewer.tools.release(event.ydata, event.xdata)

    def on_motion(self, event: Any) -> None:
        viewer = self.viewer
        if self.drag is not None:
            x0, y0, c0, w0 = self.drag
            # Width scales geometrically (128 px doubles it), so the same gesture works for
            # HU (width 1000s) and for float maps (width 0.1) and never reaches zero; the
            # centre moves by a width-proportional amount per pixel.
            width = w0 * 2.0 ** ((event.x - x0) / 128.0)
            center = c0 + (y0 - event.y) * w0 / 256.0
            viewer.drag_window(center, width)
            return
        k = self._pane_at(event)
        if k is None or event.xdata is None:
            if viewer.readout:
                viewer.readout = ""
            return
        if viewer.tools.editing:
            with viewer._draw_lock, viewer.model.hold():
                viewer.tools.drag(k, event.ydata, event.xdata)
        elif viewer.tool != "navigate":
            with viewer._draw_lock, viewer.model.hold():
                viewer.tools.motion(event.ydata, event.xdata)
        viewer.readout = viewer.value_at(k, event.ydata, event.xdata)
