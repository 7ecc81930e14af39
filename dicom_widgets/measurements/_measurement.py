"""A measurement kept in patient coordinates, so it survives view changes and linked viewers."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.uid import generate_uid

from ..errors import MeasurementError
from ..view.planes import Plane
from .roi import ROI_KINDS, STAT_KEYS

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["KINDS", "Measurement", "PanePlacement", "measurements_dataframe", "place_on_plane"]

#: Every kind of measurement: two line measurements and the ROI shapes.
KINDS = ("distance", "angle", *ROI_KINDS)

# How far (in planes) a point may lie from a pane's plane and still be drawn on it.
_HALF_PLANE = 0.5 + 1e-6


@dataclass(frozen=True)
class PanePlacement:
    """Where a measurement lies on one pane: its plane index and screen (row, col) points."""

    index: int
    points: np.ndarray


@dataclass(eq=False)
class Measurement:
    """One distance, angle or ROI, with its value and where it was taken.

    The geometry is kept in patient coordinates (LPS, mm), so the measurement can be drawn
    on the right plane of any pane (:meth:`on_plane`) after a view change or in another
    viewer of the same Frame of Reference.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    points
        Patient coordinates (mm), shape (N, 3): the two end points of a distance; the
        three points of an angle (vertex in the middle); an ellipse's four axis end points
        (major axis first, as DICOM's ELLIPSE); a rectangle's four corners; a polygon's
        vertices.
    value
        mm for a distance, degrees for an angle, the mean of the ROI's values for an ROI.
    unit
        ``"mm"``, ``"deg"``, or the values' unit for an ROI (``"HU"`` for CT).
    label
        A name for the table and the report.
    stats
        For an ROI: ``mean``, ``std``, ``min``, ``max``, ``median``, ``n_pixels`` and
        ``area_mm2`` (see :func:`dicom_widgets.measurements.roi.roi_statistics`).
    plane, index
        The pane's plane and plane index it was drawn on (None when unknown, e.g. a
        loaded report without its series).
    frame_of_reference_uid
        The Frame of Reference the patient coordinates belong to.
    referenced_sop_instance_uids
        The images it was measured on.
    reason
        Why ``value`` / ``stats`` are NaN (a zero-area ROI), else empty.
    uid
        A DICOM UID identifying it (the SR's Tracking Unique Identifier).
    slab
        The slab it was measured on (``"MIP 10 mm"``), empty on a single plane.

    Examples
    --------
    >>> import numpy as np
    >>> m = Measurement("distance", np.array([[0, 0, 0], [3, 4, 0]]), 5.0, "mm", label="d1")
    >>> Measurement.from_json(m.to_json()).value
    5.0
    """

    kind: str
    points: np.ndarray
    value: float
    unit: str
    label: str = ""
    stats: dict[str, float] = field(default_factory=dict)
    plane: Plane | None = None
    index: int | None = None
    frame_of_reference_uid: str = ""
    referenced_sop_instance_uids: tuple[str, ...] = ()
    reason: str = ""
    uid: str = field(default_factory=lambda: str(generate_uid()))
    slab: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MeasurementError(f"measurement kind must be one of {KINDS}, not {self.kind!r}")
        points = np.asarray(self.points, dtype=float)
        if points.ndim != 2 or points.shape[1] != 3:
            raise MeasurementError(
                f"measurement points must be patient (x, y, z) in mm, shape (N, 3); "
                f"got shape {points.shape}"
            )
        self.points = points
        self.value = float(self.value)
        self.referenced_sop_instance_uids = tuple(str(u) for u in self.referenced_sop_instance_uids)

    @property
    def view(self) -> str:
        """The view it was drawn on (``"acquired"``, ``"coronal"``...), or ``""``."""
        return self.plane.view if self.plane is not None else ""

    @property
    def is_roi(self) -> bool:
        """True for ellipse, rectangle and polygon."""
        return self.kind in ROI_KINDS

    def text(self) -> str:
        """The value as shown on the image: ``"42.3 mm"``, ``"90.0°"``, ``"35.2 ± 4.1 HU"``."""
        if self.kind == "distance":
            return f"{self.value:.1f} mm"
        if self.kind == "angle":
            return f"{self.value:.1f}°"
        if self.reason:
            return self.reason
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"{self.stats.get('mean', math.nan):.1f} ± {self.stats.get('std', math.nan):.1f}"
            f"{unit}, {self.stats.get('area_mm2', math.nan):.1f} mm²"
        )

    # -- placing on panes --------------------------------------------------------------
    def on_plane(
        self, plane: Plane, shape: Sequence[int], affine: np.ndarray
    ) -> PanePlacement | None:
        """Where this measurement shows on a pane, or None when it is not on one of its planes.

        It shows on plane ``k`` when every point lies within half a plane of plane ``k``
        (so a distance drawn along a row of a coronal image also shows on the axial image
        through that row).

        Parameters
        ----------
        plane, shape, affine
            The pane's :class:`~dicom_widgets.view.Plane`, the volume shape
            (slices, rows, cols) and :meth:`dicom_widgets.Series.affine`.

        Examples
        --------
        >>> import numpy as np
        >>> from dicom_widgets.view import plane_for
        >>> affine = np.diag([0.5, 0.7, 2.0, 1.0])
        >>> m = Measurement("distance", [[0, 0, 4], [5, 0, 4]], 5.0, "mm")
        >>> placement = m.on_plane(plane_for("axial", affine), (5, 20, 20), affine)
        >>> placement.index, placement.points.tolist()
        (2, [[0.0, 0.0], [0.0, 10.0]])
        """
        return place_on_plane([self], plane, shape, affine)[0]

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (numbers, strings and lists only).

        Examples
        --------
        >>> Measurement("angle", [[1, 0, 0], [0, 0, 0], [0, 1, 0]], 90.0, "deg").to_dict()["value"]
        90.0
        """
        return {
            "kind": self.kind,
            "label": self.label,
            "points": self.points.tolist(),
            "value": _json_float(self.value),
            "unit": self.unit,
            "stats": {key: _json_float(v) for key, v in self.stats.items()},
            "plane": dataclasses.asdict(self.plane) if self.plane is not None else None,
            "index": self.index,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "referenced_sop_instance_uids": list(self.referenced_sop_instance_uids),
            "reason": self.reason,
            "uid": self.uid,
            "slab": self.slab,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """The inverse of :meth:`to_dict`.

        Raises
        ------
        MeasurementError
            When a key is missing or a value has the wrong shape.
        """
        try:
            plane = data.get("plane")
            stats = {
                key: (int(v) if key == "n_pixels" and v is not None else _from_json_float(v))
                for key, v in dict(data.get("stats") or {}).items()
            }
            return cls(
                kind=data["kind"],
                points=np.asarray(data["points"], dtype=float).reshape(-1, 3),
                value=_from_json_float(data["value"]),
                unit=str(data.get("unit", "")),
                label=str(data.get("label", "")),
                stats=stats,
                plane=Plane(**plane) if plane else None,
                index=None if data.get("index") is None else int(data["index"]),
                frame_of_reference_uid=str(data.get("frame_of_reference_uid", "")),
                referenced_sop_instance_uids=tuple(data.get("referenced_sop_instance_uids", ())),
                reason=str(data.get("reason", "")),
                uid=str(data.get("uid") or generate_uid()),
                slab=str(data.get("slab", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, MeasurementError):
                raise
            raise MeasurementError(f"not a measurement: {type(exc).__name__}: {exc}") from exc

    def to_json(self) -> str:
        """This measurement as a JSON string (NaN written as null)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Measurement:
        """The inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MeasurementError(f"not a measurement: invalid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise MeasurementError("not a measurement: the JSON is not an object")
        return cls.from_dict(data)

    def __repr__(self) -> str:
        where = f" on {self.view} plane {self.index}" if self.plane is not None else ""
        label = f" {self.label!r}" if self.label else ""
        return f"<Measurement {self.kind}{label}: {self.text()}{where}>"


def place_on_plane(
    measurements: Sequence[Measurement], plane: Plane, shape: Sequence[int], affine: np.ndarray
) -> list[PanePlacement | None]:
    """:meth:`Measurement.on_plane` of many measurements at once (one coordinate transform).

    Examples
    --------
    >>> from dicom_widgets.view import plane_for
    >>> affine = np.diag([0.5, 0.7, 2.0, 1.0])
    >>> ms = [Measurement("distance", [[0, 0, z], [5, 0, z]], 5.0, "mm") for z in (4, 40)]
    >>> [p and p.index for p in place_on_plane(ms, plane_for("axial", affine), (5, 20, 20), affine)]
    [2, None]
    """
    if not measurements:
        return []
    located = plane.from_patient(np.vstack([m.points for m in measurements]), shape, affine)
    n_planes = plane.n_positions(shape)
    out: list[PanePlacement | None] = []
    start = 0
    for m in measurements:
        here = located[start : start + len(m.points)]
        start += len(m.points)
        index = int(np.round(np.median(here[:, 0])))
        on_it = 0 <= index < n_planes and np.max(np.abs(here[:, 0] - index)) <= _HALF_PLANE
        out.append(PanePlacement(index, here[:, 1:].copy()) if on_it else None)
    return out


def _json_float(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def measurements_dataframe(measurements: Iterable[Measurement]) -> pandas.DataFrame:
    """One row per measurement: label, kind, value, unit, view, index and the ROI statistics.

    Examples
    --------
    >>> m = Measurement("distance", [[0, 0, 0], [3, 4, 0]], 5.0, "mm", label="d1")
    >>> measurements_dataframe([m])[["label", "value", "unit"]].values.tolist()
    [['d1', 5.0, 'mm']]
    """
    from ..series._export import require

    pandas = require("pandas")
    rows = []
    for m in measurements:
        row: dict[str, Any] = {
            "label": m.label,
            "kind": m.kind,
            "value": m.value,
            "unit": m.unit,
            "view": m.view,
            "index": m.index,
            "slab": m.slab,
        }
        for key in STAT_KEYS:
            row[key] = m.stats.get(key, math.nan)
        row["reason"] = m.reason
        row["uid"] = m.uid
        rows.append(row)
    columns = [
        "label",
        "kind",
        "value",
        "unit",
        "view",
        "index",
        "slab",
        *STAT_KEYS,
        "reason",
        "uid",
    ]
    return pandas.DataFrame(rows, columns=columns)
