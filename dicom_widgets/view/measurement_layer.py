"""The measurement layer: distances, angles and ROIs drawn with their values on every pane.

Measurements live in patient coordinates (:class:`dicom_widgets.measurements.Measurement`),
so the layer shows each one on whichever pane and plane it lies on (within half a plane),
after a view change and in linked viewers alike. It draws vector items (lines and text)
that the front-end keeps sharp at any zoom; it leaves the RGBA frame alone.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.view import ViewModel
>>> from dicom_widgets.view.measurement_layer import MeasurementLayer
>>> model = ViewModel(np.zeros((4, 20, 30), np.int16), spacing=(2.0, 0.5, 0.5))
>>> layer = model.add_layer(MeasurementLayer())
>>> m = layer.measure("distance", [(2, 2), (2, 12)])
>>> m.text(), [type(item).__name__ for item in model.items()]
('5.0 mm', ['Polyline', 'TextItem'])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import traitlets

from ..errors import MeasurementError
from ..measurements import Measurement, measure
from ..measurements._measurement import place_on_plane
from ..measurements.edit import HIT_TOLERANCE_PX, Hit, drag_points, handles, hit_test
from .layers import Layer, PaneView, Polyline, TextItem

if TYPE_CHECKING:  # pragma: no cover
    from .model import ViewModel
from .slab import slab_label

__all__ = ["MeasurementEdit", "MeasurementLayer", "measurement_layer_of", "outline"]

#: Colours of measurements (yellow, as workstations draw them) and of the selected one.
MEASUREMENT_COLOR = (1.0, 0.85, 0.1)
SELECTED_COLOR = (0.2, 0.9, 1.0)
_ELLIPSE_SEGMENTS = 64
# Handles are drawn for shapes with few points (a freehand outline's are still dragged).
_MAX_DRAWN_HANDLES = 16
_UNDO_DEPTH = 50
_PLACEMENT_CACHE = 8  # pane geometries (3 ortho panes, a few views)
_HANDLE_HALF = 0.6  # screen pixels


def _handle_square(centre: np.ndarray, color: tuple[float, float, float]) -> Polyline:
    offsets = np.array([[-1, -1], [-1, 1], [1, 1], [1, -1]], dtype=float) * _HANDLE_HALF
    return Polyline(centre + offsets, color, width=1.0, closed=True)


def outline(kind: str, points: np.ndarray) -> np.ndarray:
    """Screen (row, col) points to draw for a measurement placed on a pane.

    An ellipse's four axis end points become a closed curve of 64 segments; the other
    kinds are drawn through their own points.

    Examples
    --------
    >>> outline("ellipse", np.array([[0, 0], [0, 4.0], [-1, 2], [1, 2]])).shape
    (65, 2)
    """
    if kind != "ellipse":
        return np.asarray(points, dtype=float)
    centre = (points[0] + points[1]) / 2
    major = (points[1] - points[0]) / 2
    minor = (points[3] - points[2]) / 2
    t = np.linspace(0, 2 * np.pi, _ELLIPSE_SEGMENTS + 1)
    return centre + np.cos(t)[:, None] * major + np.sin(t)[:, None] * minor


class MeasurementLayer(Layer):
    """The measurements of a model, drawn on every pane where they lie.

    Parameters
    ----------
    name
        Layer name (``"measurements"``).
    measurements
        Measurements to start with (made here or loaded with
        :func:`dicom_widgets.load_measurements`).
    """

    #: The :attr:`Measurement.uid` of the selected measurement, or ``""``.
    selected = traitlets.Unicode("")

    def __init__(
        self, name: str = "measurements", measurements: Iterable[Measurement] = ()
    ) -> None:
        super().__init__(name)
        self._measurements: list[Measurement] = list(measurements)
        # (uid, the measurement before) of each finished move or resize, oldest first.
        self._undo: list[tuple[str, Measurement]] = []
        # Pane geometry -> (revision, plane index -> measurements there): see placed().
        self._placements: dict[tuple[object, ...], tuple[int, dict]] = {}

    # -- the list ----------------------------------------------------------------------
    @property
    def measurements(self) -> list[Measurement]:
        """The measurements, oldest first (a copy of the list)."""
        return list(self._measurements)

    def add(self, measurements: Measurement | Iterable[Measurement]) -> list[Measurement]:
        """Add one or several measurements (the ones already there, by uid, are replaced)."""
        new = [measurements] if isinstance(measurements, Measurement) else list(measurements)
        uids = {m.uid for m in new}
        self._measurements = [m for m in self._measurements if m.uid not in uids] + new
        self.changed()
        return new

    def get(self, key: str | int) -> Measurement:
        """A measurement by uid, label or position."""
        if isinstance(key, int):
            return self._measurements[key]
        for m in self._measurements:
            if key in (m.uid, m.label):
                return m
        raise KeyError(f"no measurement with uid or label {key!r}")

    def remove(self, key: str | int) -> None:
        """Delete a measurement (by uid, label or position)."""
        found = self.get(key)
        self._measurements = [m for m in self._measurements if m is not found]
        if self.selected == found.uid:
            self.selected = ""
        self.changed()

    def rename(self, key: str | int, label: str) -> None:
        """Give a measurement a new label."""
        self.get(key).label = str(label)
        self.changed()

    def clear(self) -> None:
        """Delete every measurement."""
        self._measurements = []
        self.selected = ""
        self.changed()

    def measure(
        self,
        kind: str,
        points: Sequence[Sequence[float]] | np.ndarray,
        *,
        pane: int | None = None,
        label: str = "",
        clip: bool = False,
    ) -> Measurement:
        """Measure on a pane of the model (default: the active one) and keep the result.

        ``points`` are screen (row, col) of that pane. ROI statistics are computed on the
        values the pane shows (:meth:`ViewModel.values`: a slab's projection when a slab
        is on).
        """
        m = self._measure_on_pane(
            kind, points, pane, label or f"{kind} {len(self._measurements) + 1}", clip
        )
        self.add(m)
        return m

    def _measure_on_pane(
        self,
        kind: str,
        points: Sequence[Sequence[float]] | np.ndarray,
        pane: int | None,
        label: str,
        clip: bool,
    ) -> Measurement:
        """:func:`measure` on a pane of the model, with its values, slab and references."""
        model = self.model
        if model is None:
            raise MeasurementError("the measurement layer is not attached to a model")
        view = model.pane(pane)
        affine = view.affine
        if affine is None:
            raise MeasurementError("this volume has no geometry to measure in")
        values = model.values(pane) if kind not in ("distance", "angle") else None
        source = model.source
        series = getattr(source, "series", None)
        frame_uid = ""
        references: tuple[str, ...] = ()
        if series is not None:
            frame_uid = str(series.dataset(0).get("FrameOfReferenceUID", "") or "")
            if view.acquired:
                references = (series.frame_ref(view.index).sop_uid,)
        modality = str(getattr(source, "modality", "") or "").upper()
        slab = ""
        if getattr(model, "slab", "none") != "none":
            slab = slab_label(model.slab, float(model.slab_thickness))
        return measure(
            kind,
            points,
            plane=view.plane,
            index=view.index,
            shape=view.volume_shape,
            affine=affine,
            values=values,
            label=label,
            unit="HU" if modality == "CT" else "",
            clip=clip,
            frame_of_reference_uid=frame_uid,
            referenced_sop_instance_uids=references,
            slab=slab,
        )

    # -- moving and resizing -----------------------------------------------------------
    def placed(self, pane: PaneView) -> list[tuple[Measurement, np.ndarray]]:
        """The measurements on this pane's plane, with their screen (row, col) points.

        Where every measurement lies is worked out once per pane geometry and layer
        revision, so a slice step looks up its plane's few instead of placing them all.
        """
        if pane.affine is None:
            return []
        key = (pane.plane, pane.volume_shape, pane.affine.tobytes())
        cached = self._placements.get(key)
        if cached is None or cached[0] != self.revision:
            by_index: dict[int, list[tuple[Measurement, np.ndarray]]] = {}
            found = place_on_plane(self._measurements, pane.plane, pane.volume_shape, pane.affine)
            for m, placement in zip(self._measurements, found):
                if placement is not None:
                    by_index.setdefault(placement.index, []).append((m, placement.points))
            if len(self._placements) >= _PLACEMENT_CACHE:
                self._placements.clear()
            cached = self._placements[key] = (self.revision, by_index)
        return list(cached[1].get(pane.index, ()))

    def hit(
        self,
        row: float,
        col: float,
        *,
        pane: int | None = None,
        scale: tuple[float, float] = (1.0, 1.0),
        tolerance_px: float = HIT_TOLERANCE_PX,
    ) -> Hit | None:
        """The handle or body of a measurement at screen (row, col) of a pane, or None.

        ``scale`` is display pixels per screen row and column (see
        :func:`dicom_widgets.measurements.edit.hit_test`).
        """
        if self.model is None or not (self.visible and self.model.show_overlays):
            return None  # hidden measurements are not grabbed
        placed = [(m.uid, m.kind, points) for m, points in self.placed(self.model.pane(pane))]
        return hit_test(placed, (row, col), scale=scale, tolerance_px=tolerance_px)

    def begin_edit(
        self, hit: Hit, start: tuple[float, float], pane: int | None = None
    ) -> MeasurementEdit:
        """Start dragging what ``hit`` grabbed from screen point ``start`` (the press)."""
        return MeasurementEdit(self, hit, start, pane)

    def _replace(self, uid: str, new: Measurement) -> None:
        """Put ``new`` in the place of the measurement ``uid`` (same position in the list)."""
        position = next(k for k, m in enumerate(self._measurements) if m.uid == uid)
        new.uid = uid
        self._measurements[position] = new
        self.changed()

    def undo(self) -> Measurement | None:
        """Undo the last move or resize (of a measurement still there); return what it restored."""
        while self._undo:
            uid, before = self._undo.pop()
            if any(m.uid == uid for m in self._measurements):
                self._replace(uid, before)
                return before
        return None

    # -- drawing -----------------------------------------------------------------------
    def items(self, pane: PaneView) -> list[Polyline | TextItem]:
        """A line and a value text for each measurement on this pane's plane.

        The selected one also shows its handles (small squares), which the viewer's
        navigate tool drags.
        """
        out: list[Polyline | TextItem] = []
        for m, points in self.placed(pane):
            selected = m.uid == self.selected
            color = SELECTED_COLOR if selected else MEASUREMENT_COLOR
            line = outline(m.kind, points)
            out.append(Polyline(line, color, width=1.5, closed=m.kind in ("rectangle", "polygon")))
            if selected and len(points) <= _MAX_DRAWN_HANDLES:
                out += [_handle_square(grip, color) for grip in handles(m.kind, points)]
            # The text sits above the outline's top point, so it does not hide the ROI.
            top = line[np.argmin(line[:, 0])]
            text = f"{m.label}: {m.text()}" if m.label else m.text()
            out.append(TextItem(float(top[0]) - 1.0, float(top[1]), text, color))
        return out

    def __repr__(self) -> str:
        return f"<MeasurementLayer {self.name!r}: {len(self._measurements)} measurements>"


class MeasurementEdit:
    """One drag of a measurement's handle or body, re-measured on every move.

    Made by :meth:`MeasurementLayer.begin_edit`. Each :meth:`move` applies the drag to
    the geometry the measurement had at the press
    (:func:`~dicom_widgets.measurements.edit.drag_points`) and measures it again on the
    pane's values (a slab's projection when a slab is on), keeping its uid and label;
    :meth:`finish` makes it one undoable step.

    Examples
    --------
    >>> import numpy as np
    >>> from dicom_widgets.view import ViewModel
    >>> model = ViewModel(np.zeros((4, 20, 30), np.int16), spacing=(2.0, 0.5, 0.5))
    >>> layer = model.add_layer(MeasurementLayer())
    >>> ruler = layer.measure("distance", [(2, 2), (2, 12)])
    >>> edit = layer.begin_edit(layer.hit(2, 12), (2, 12))
    >>> edit.move(2, 22).text(), edit.finish() is layer.get(0)
    ('10.0 mm', True)
    >>> layer.undo().text()
    '5.0 mm'
    """

    def __init__(
        self, layer: MeasurementLayer, hit: Hit, start: tuple[float, float], pane: int | None
    ) -> None:
        model = layer.model
        if model is None:
            raise MeasurementError("the measurement layer is not attached to a model")
        self.layer = layer
        self.hit = hit
        self.pane = model.active if pane is None else int(pane)
        self.start = (float(start[0]), float(start[1]))
        self.before = layer.get(hit.uid)
        view = model.pane(self.pane)
        placed = dict((m.uid, points) for m, points in layer.placed(view))
        if hit.uid not in placed:
            raise MeasurementError(
                f"measurement {self.before.label or hit.uid} is not on this plane"
            )
        self._points = placed[hit.uid]
        self._screen_shape = view.screen_shape
        self._spacing = (
            view.plane.pixel_spacing(view.affine) if view.affine is not None else (1.0, 1.0)
        )
        self.current = self.before

    def move(self, row: float, col: float) -> Measurement:
        """Drag to screen (row, col); returns the re-measured measurement (also in the layer)."""
        delta = (float(row) - self.start[0], float(col) - self.start[1])
        points = drag_points(
            self.before.kind,
            self._points,
            self.hit,
            delta,
            self._screen_shape,
            spacing=self._spacing,
        )
        m = self.layer._measure_on_pane(
            self.before.kind, points, self.pane, self.before.label, True
        )
        self.layer._replace(self.hit.uid, m)
        self.current = m
        return m

    def finish(self) -> Measurement:
        """End the drag; a changed measurement can be put back with :meth:`MeasurementLayer.undo`."""
        if self.current is not self.before:
            self.layer._undo.append((self.hit.uid, self.before))
            del self.layer._undo[:-_UNDO_DEPTH]
        return self.current

    def cancel(self) -> None:
        """Put the measurement back as it was at the press."""
        if self.current is not self.before:
            self.layer._replace(self.hit.uid, self.before)
            self.current = self.before


def measurement_layer_of(model: ViewModel, name: str = "measurements") -> MeasurementLayer:
    """The model's measurement layer, added on first use.

    Examples
    --------
    >>> import numpy as np
    >>> from dicom_widgets.view import ViewModel
    >>> model = ViewModel(np.zeros((2, 8, 8)))
    >>> measurement_layer_of(model) is measurement_layer_of(model)
    True
    """
    if name in model.layers:
        found = model.layers[name]
        if not isinstance(found, MeasurementLayer):
            raise MeasurementError(f"the model's layer {name!r} is not a measurement layer")
        return found
    layer = MeasurementLayer(name)
    model.add_layer(layer)
    return layer
