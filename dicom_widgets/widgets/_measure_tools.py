"""The viewer's measurement tools: mouse tools, the measurements table, the viewer's API.

Kept out of ``viewer.py`` so that the viewer only delegates: the tools turn mouse events
on the canvas into :meth:`MeasurementLayer.measure` calls (the core does the geometry and
statistics), and the table is an ``ipywidgets.HTML`` built by
:mod:`dicom_widgets.html.measurements` with a few controls (select, rename, delete, go to
slice).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from ..errors import MeasurementError
from ..html import wrap
from ..html.measurements import measurements_table, measurements_text
from ..measurements import Measurement, measurements_dataframe
from ..view.measurement_layer import MeasurementEdit, MeasurementLayer, measurement_layer_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from .viewer import SeriesViewer

__all__ = ["TOOLS", "MeasureTools", "MeasurementsTable"]

#: The mouse tools: navigate (the viewer's own mouse handling) or draw a measurement.
TOOLS = ("navigate", "distance", "angle", "ellipse", "rectangle", "polygon")
_TOOL_LABELS = {
    "navigate": "Navigate",
    "distance": "Ruler",
    "angle": "Angle",
    "ellipse": "Ellipse",
    "rectangle": "Rectangle",
    "polygon": "Polygon",
}
# A click this close (screen pixels) to a polygon's first vertex closes it.
_CLOSE_PX = 3.0


class MeasureTools:
    """Mouse tools of one viewer: draw measurements on its panes.

    ``distance``, ``ellipse``, ``rectangle``: press, drag, release. ``angle``: press on the
    first end, drag to the vertex, release, then click the second end. ``polygon``: click
    the vertices (or drag freehand); click near the first vertex or double-click to close.
    While drawing, the measurement is recomputed on every mouse move, so the value shows
    live (ROI statistics work on the ROI's bounding box only).

    With the ``navigate`` tool, a press on a measurement's handle (end point, vertex,
    corner or edge of an ellipse or rectangle) resizes it and a press on its body (inside
    an ROI, near a line) moves it, re-measured live (:meth:`grab`, :meth:`drag`,
    :meth:`drop`; the geometry is :mod:`dicom_widgets.measurements.edit`).
    """

    def __init__(self, viewer: SeriesViewer) -> None:
        self.viewer = viewer
        self._points: list[tuple[float, float]] = []
        self._pane: int | None = None
        self._pressed = False
        self._live: Measurement | None = None
        self._edit: MeasurementEdit | None = None

    @property
    def layer(self) -> MeasurementLayer:
        return measurement_layer_of(self.viewer.model)

    @property
    def tool(self) -> str:
        return self.viewer.tool

    def reset(self) -> None:
        """Forget a measurement being drawn (its live preview is removed); end a drag."""
        if self._edit is not None:
            self._edit.finish()
            self._edit = None
        if self._live is not None:
            self.layer.remove(self._live.uid)
        self._live = None
        self._points = []
        self._pane = None
        self._pressed = False

    def _update(self, points: Sequence[tuple[float, float]], kind: str | None = None) -> None:
        """(Re)measure the drawn points; the live measurement keeps its uid and label."""
        kind = kind or self.tool
        label = self._live.label if self._live is not None else ""
        try:
            m = self.layer.measure(kind, points, pane=self._pane, label=label, clip=True)
        except MeasurementError:
            return  # e.g. an angle whose second arm is not there yet
        if self._live is not None:
            self.layer.remove(self._live.uid)
            m.uid, m.label = self._live.uid, self._live.label
            self.layer.add(m)
        self._live = m
        self.viewer.measurements_table.refresh()

    # -- events (screen coordinates: row = ydata, col = xdata) ---------------------------
    def press(self, pane: int, row: float, col: float, dblclick: bool = False) -> None:
        tool = self.tool
        if self._pane is not None and pane != self._pane:
            self.reset()
        self._pane = pane
        self._pressed = True
        point = (row, col)
        if tool in ("distance", "ellipse", "rectangle"):
            self.reset()
            self._pane, self._pressed = pane, True
            self._points = [point, point]
        elif tool == "angle":
            if len(self._points) == 2:  # the second arm's end
                self._points.append(point)
                self._update(self._points)
                self._finish()
            else:
                self.reset()
                self._pane, self._pressed = pane, True
                self._points = [point, point]
        elif tool == "polygon":
            if len(self._points) >= 3 and (dblclick or self._near_first(point)):
                self._update(self._points)
                self._finish()
                return
            self._points.append(point)
            if len(self._points) >= 3:
                self._update(self._points)

    def motion(self, row: float, col: float) -> None:
        tool = self.tool
        if not self._points:
            return
        point = (row, col)
        if tool in ("distance", "ellipse", "rectangle") and self._pressed:
            self._points[-1] = point
            self._update(self._points)
        elif tool == "angle":
            if self._pressed and len(self._points) == 2:
                self._points[-1] = point
                self._update(self._points, kind="distance")
            elif len(self._points) == 2:
                self._update([*self._points, point])
        elif tool == "polygon" and self._pressed:
            last = self._points[-1]
            if np.hypot(row - last[0], col - last[1]) >= 2.0:  # freehand: a vertex per 2 px
                self._points.append(point)
                if len(self._points) >= 3:
                    self._update(self._points)

    def release(self, row: float, col: float) -> None:
        tool = self.tool
        self._pressed = False
        if not self._points:
            return
        if tool in ("distance", "ellipse", "rectangle"):
            self._points[-1] = (row, col)
            self._update(self._points)
            self._finish()
        elif tool == "angle" and len(self._points) == 2:
            self._points[-1] = (row, col)
            if self._live is not None:  # the first arm's preview was a distance
                self.layer.remove(self._live.uid)
                self._live = None

    def _near_first(self, point: tuple[float, float]) -> bool:
        first = self._points[0]
        return bool(np.hypot(point[0] - first[0], point[1] - first[1]) <= _CLOSE_PX)

    def _finish(self) -> None:
        if self._live is not None:
            self.layer.selected = self._live.uid
        self._live = None
        self._points = []
        self._pane = None
        self.viewer.measurements_table.refresh()

    # -- moving and resizing with the navigate tool ---------------------------------------
    @property
    def editing(self) -> bool:
        """Whether a measurement's handle or body is being dragged."""
        return self._edit is not None

    def grab(self, pane: int, row: float, col: float) -> bool:
        """Start dragging the handle or body under a press; False when there is none."""
        layer = self.layer
        hit = layer.hit(row, col, pane=pane, scale=self._display_scale(pane))
        if hit is None:
            return False
        self._edit = layer.begin_edit(hit, (row, col), pane)
        layer.selected = hit.uid
        layer.changed()  # the selection colour and the handles show at once
        self.viewer.measurements_table.refresh()
        return True

    def drag(self, pane: int, row: float, col: float) -> None:
        """Follow the mouse: the measurement is re-measured and the table refreshed."""
        if self._edit is None or pane != self._edit.pane:
            return
        self._edit.move(row, col)
        self.viewer.measurements_table.refresh()

    def drop(self, pane: int | None, row: float | None, col: float | None) -> None:
        """End the drag (at the release point when it is on the pane): one undoable step."""
        edit, self._edit = self._edit, None
        if edit is None:
            return
        if pane == edit.pane and row is not None and col is not None:
            edit.move(row, col)
        edit.finish()
        self.viewer.measurements_table.refresh()

    def undo(self) -> Measurement | None:
        """Undo the last move or resize; returns the measurement restored, or None."""
        restored = self.layer.undo()
        if restored is not None:
            self.viewer.measurements_table.refresh()
        return restored

    def _display_scale(self, pane: int) -> tuple[float, float]:
        """Display pixels per screen row and column of a pane (the zoom and the aspect)."""
        transform = self.viewer.axes[pane].transData
        (x0, y0), (x1, y1) = transform.transform([(0.0, 0.0), (1.0, 1.0)])
        return abs(float(y1 - y0)), abs(float(x1 - x0))


class MeasurementsTable:
    """The table under the image: select, rename, delete, go to the measurement's slice."""

    def __init__(self, viewer: SeriesViewer) -> None:
        self.viewer = viewer
        self.html = widgets.HTML()
        self.html.add_class("dw-measurements-table")
        self.select = widgets.Dropdown(description="Selected", options=[("", "")], value="")
        self.label = widgets.Text(description="Label", continuous_update=False)
        self.rename_button = widgets.Button(description="Rename")
        self.delete_button = widgets.Button(description="Delete", button_style="danger")
        self.go_button = widgets.Button(description="Go to slice")
        self.tool = widgets.ToggleButtons(
            options=[(_TOOL_LABELS[t], t) for t in TOOLS], value="navigate"
        )
        self.slab = widgets.Dropdown(
            description="Slab",
            options=[("none", "none"), ("MIP", "mip"), ("MinIP", "minip"), ("Mean", "mean")],
            value="none",
        )
        self.thickness = widgets.BoundedFloatText(
            description="mm", value=10.0, min=0.0, max=500.0, step=1.0
        )
        self.rename_button.on_click(lambda _: self._rename())
        self.delete_button.on_click(lambda _: self._delete())
        self.go_button.on_click(lambda _: self._go())
        self.select.observe(self._on_select, "value")
        edit = widgets.HBox(
            [self.select, self.label, self.rename_button, self.delete_button, self.go_button]
        )
        self.widget = widgets.VBox(
            [widgets.HBox([self.tool, self.slab, self.thickness]), self.html, edit]
        )
        self.widget.add_class("dw-measure-box")

    def refresh(self) -> None:
        """Show the current measurements."""
        layer = measurement_layer_of(self.viewer.model)
        items = layer.measurements
        self.html.value = str(
            wrap(measurements_table(items, layer.selected), measurements_text(items))
        )
        options = [("", "")] + [(m.label or m.uid, m.uid) for m in items]
        value = layer.selected if layer.selected in {m.uid for m in items} else ""
        self.select.options = options
        self.select.value = value

    def _on_select(self, change: dict[str, Any]) -> None:
        layer = measurement_layer_of(self.viewer.model)
        uid = change["new"] or ""
        if uid != layer.selected:
            layer.selected = uid
            layer.changed()
        if uid:
            self.label.value = layer.get(uid).label
        self.refresh()

    def _rename(self) -> None:
        uid = self.select.value
        if uid:
            self.viewer.rename_measurement(uid, self.label.value)

    def _delete(self) -> None:
        uid = self.select.value
        if uid:
            self.viewer.remove_measurement(uid)

    def _go(self) -> None:
        uid = self.select.value
        if uid:
            self.viewer.go_to_measurement(uid)


# -- the viewer's API (SeriesViewer's methods call these) --------------------------------
def viewer_measure(
    viewer: SeriesViewer,
    kind: str,
    points: Sequence[Sequence[float]] | np.ndarray,
    *,
    pane: int | None = None,
    label: str = "",
    clip: bool = False,
) -> Measurement:
    m = measurement_layer_of(viewer.model).measure(kind, points, pane=pane, label=label, clip=clip)
    viewer.measurements_table.refresh()
    return m


def viewer_save(viewer: SeriesViewer, path: str | os.PathLike[str], overwrite: bool) -> Path:
    series = getattr(viewer.source, "series", None)
    if series is None:
        raise MeasurementError(
            "saving measurements as DICOM SR needs a DICOM series (this viewer shows a numpy "
            "array); use viewer.measurements_dataframe() or Measurement.to_json() instead"
        )
    from ..measurements.sr import save_measurements

    return save_measurements(
        measurement_layer_of(viewer.model).measurements, series, path, overwrite=overwrite
    )


def viewer_add(
    viewer: SeriesViewer, measurements: Iterable[Measurement] | str | os.PathLike[str]
) -> list[Measurement]:
    if isinstance(measurements, (str, os.PathLike)):
        from ..measurements.sr import load_measurements

        measurements = load_measurements(measurements, getattr(viewer.source, "series", None))
    added = measurement_layer_of(viewer.model).add(list(measurements))
    viewer.measurements_table.refresh()
    return added


def viewer_dataframe(viewer: SeriesViewer) -> pandas.DataFrame:
    return measurements_dataframe(measurement_layer_of(viewer.model).measurements)


def viewer_go_to(viewer: SeriesViewer, uid: str) -> None:
    """Show the pane's plane a measurement lies on (switching to its view if needed)."""
    model = viewer.model
    m = measurement_layer_of(model).get(uid)
    pane = model.pane()
    placement = None
    if pane.affine is not None:
        placement = m.on_plane(pane.plane, pane.volume_shape, pane.affine)
    if placement is None and m.view and m.view != viewer.view:
        viewer.view = m.view
        pane = model.pane()
        placement = m.on_plane(pane.plane, pane.volume_shape, pane.affine)
    if placement is None:
        raise MeasurementError(f"measurement {m.label or m.uid} lies on no plane of this view")
    viewer.index = placement.index
