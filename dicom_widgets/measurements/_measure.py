"""The one entry point from screen points on a pane to a :class:`Measurement`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import MeasurementError
from ..view.planes import Plane
from ._measurement import KINDS, Measurement
from .roi import ROI_KINDS, roi_statistics, roi_vertices

__all__ = ["measure", "distance_mm", "angle_degrees", "pixel_area_mm2"]

_N_POINTS = {"distance": 2, "angle": 3}


def distance_mm(points: np.ndarray) -> float:
    """Length in mm of the segment between two patient points (shape (2, 3)).

    Examples
    --------
    >>> distance_mm(np.array([[0.0, 0, 0], [3, 4, 0]]))
    5.0
    """
    points = np.asarray(points, dtype=float)
    return float(np.linalg.norm(points[1] - points[0]))


def angle_degrees(points: np.ndarray) -> float:
    """Angle in degrees at the middle of three patient points (shape (3, 3)).

    NaN when an arm has zero length. ``atan2(|a x b|, a . b)`` keeps small and
    near-straight angles exact, where ``acos`` of the cosine loses digits.

    Examples
    --------
    >>> angle_degrees(np.array([[1.0, 0, 0], [0, 0, 0], [0, 2, 0]]))
    90.0
    """
    points = np.asarray(points, dtype=float)
    a = points[0] - points[1]
    b = points[2] - points[1]
    if not np.any(a) or not np.any(b):
        return math.nan
    return float(np.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b))))


def pixel_area_mm2(plane: Plane, affine: np.ndarray) -> float:
    """Area in mm² of one screen pixel of ``plane`` (exact when rows and columns are skewed)."""
    down, right, _ = plane.steps(affine)
    return float(np.linalg.norm(np.cross(down, right)))


def _check_inside(points: np.ndarray, screen_shape: tuple[int, int], clip: bool) -> np.ndarray:
    """Points within the picture (pixel edges included), clipped when asked, else refused."""
    high = np.array(screen_shape, dtype=float) - 0.5
    outside = np.any((points < -0.5) | (points > high), axis=1)
    if not np.any(outside):
        return points
    if clip:
        return np.clip(points, -0.5, high)
    first = points[np.argmax(outside)]
    raise MeasurementError(
        f"point (row {first[0]:g}, col {first[1]:g}) lies outside the "
        f"{screen_shape[0]}x{screen_shape[1]} image (rows and columns run from -0.5 to "
        f"{high[0]:g} and {high[1]:g}); pass clip=True to clip points to the image"
    )


def measure(
    kind: str,
    points_rc: Sequence[Sequence[float]] | np.ndarray,
    *,
    plane: Plane,
    index: int,
    shape: Sequence[int],
    affine: np.ndarray,
    values: np.ndarray | None = None,
    label: str = "",
    unit: str = "",
    clip: bool = False,
    frame_of_reference_uid: str = "",
    referenced_sop_instance_uids: Sequence[str] = (),
    slab: str = "",
) -> Measurement:
    """Measure on plane ``index`` of a pane from screen (row, col) points.

    Distances and angles come from the points' patient coordinates (:meth:`Plane.patient`),
    exact on acquired, reformatted, anisotropic and oblique planes; ROI statistics from
    ``values``, the pane's modality values (HU for CT, or a slab's projection).

    Parameters
    ----------
    kind
        ``"distance"`` (2 points), ``"angle"`` (3 points, vertex in the middle),
        ``"ellipse"``, ``"rectangle"`` (2 corners, or 4 points) or ``"polygon"`` (3+).
    points_rc
        Screen (row, col) points; (0, 0) is the centre of the top-left pixel.
    plane, index, shape
        The pane's plane, the plane index shown and the volume's (slices, rows, cols).
    affine
        :meth:`dicom_widgets.Series.affine` (without geometry, one built from the
        spacing: ``np.diag([col_mm, row_mm, slice_mm, 1])``).
    values, unit
        The pane's 2-D values (needed for ROIs) and their unit (``"HU"``).
    label, clip
        Its name; whether points outside the image are clipped to its edge (else refused).
    frame_of_reference_uid, referenced_sop_instance_uids, slab
        Where the coordinates belong, the images measured and the slab ``values`` came
        from (``"MIP 10 mm"``), kept for the record and the report.

    Returns
    -------
    Measurement
        ``value`` is mm for a distance, degrees for an angle, the mean for an ROI; an ROI
        without area has NaN ``stats`` and says why in ``reason``. Bad input (kind, number
        of points, points outside the image, no ``values``) raises MeasurementError.

    Examples
    --------
    >>> from dicom_widgets.view import plane_for
    >>> affine = np.diag([0.5, 0.7, 2.0, 1.0])  # 0.5 mm columns, 0.7 mm rows, 2 mm slices
    >>> m = measure("distance", [(0, 0), (3, 4)], plane=plane_for("coronal", affine),
    ...             index=5, shape=(10, 20, 30), affine=affine)
    >>> round(m.value, 6)  # 3 rows of 2 mm, 4 columns of 0.5 mm
    6.324555
    """
    points, volume_shape = _checked_points(kind, points_rc, plane, int(index), shape, clip)
    stats: dict[str, float] = {}
    value, reason = math.nan, ""
    if kind in ROI_KINDS:
        points, stats, reason = _roi_measure(kind, points, values, plane, affine, volume_shape)
        value = stats["mean"]
    patient = plane.patient(int(index), points[:, 0], points[:, 1], volume_shape, affine)
    if kind in _N_POINTS:
        value, unit, reason = _line_value(kind, patient)
    return Measurement(
        kind=kind,
        points=patient,
        value=value,
        unit=unit,
        label=label,
        stats=stats,
        plane=plane,
        index=int(index),
        frame_of_reference_uid=frame_of_reference_uid,
        referenced_sop_instance_uids=tuple(referenced_sop_instance_uids),
        reason=reason,
        slab=slab,
    )


def _line_value(kind: str, patient: np.ndarray) -> tuple[float, str, str]:
    """Value, unit and the reason it is NaN, of a distance or an angle between patient points."""
    if kind == "distance":
        return distance_mm(patient), "mm", ""
    value = angle_degrees(patient)
    return value, "deg", "an arm of the angle has zero length" if math.isnan(value) else ""


def _checked_points(
    kind: str,
    points_rc: Sequence[Sequence[float]] | np.ndarray,
    plane: Plane,
    index: int,
    shape: Sequence[int],
    clip: bool,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The screen points as floats, checked (kind, count, plane index, inside), and the shape."""
    if kind not in KINDS:
        raise MeasurementError(f"measurement kind must be one of {KINDS}, not {kind!r}")
    points = np.asarray(points_rc, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or not np.all(np.isfinite(points)):
        raise MeasurementError(
            f"points must be finite screen (row, col) pairs, got an array of shape {points.shape}"
        )
    volume_shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    if not 0 <= index < plane.n_positions(volume_shape):
        raise MeasurementError(
            f"plane index {index} is outside the {plane.n_positions(volume_shape)} planes "
            f"of the {plane.view} view"
        )
    if kind in _N_POINTS and len(points) != _N_POINTS[kind]:
        raise MeasurementError(f"a {kind} needs {_N_POINTS[kind]} points, got {len(points)}")
    return _check_inside(points, plane.screen_shape(volume_shape), clip), volume_shape


def _roi_measure(
    kind: str,
    points: np.ndarray,
    values: np.ndarray | None,
    plane: Plane,
    affine: np.ndarray,
    volume_shape: tuple[int, int, int],
) -> tuple[np.ndarray, dict[str, float], str]:
    """An ROI's canonical vertices, its statistics on ``values`` and the reason if NaN."""
    screen_shape = plane.screen_shape(volume_shape)
    if values is None:
        raise MeasurementError(f"an {kind} ROI needs the plane's values")
    values = np.asarray(values)
    if values.shape[:2] != screen_shape:
        raise MeasurementError(
            f"values of shape {values.shape} do not match the {plane.view} plane's "
            f"{screen_shape[0]}x{screen_shape[1]} pixels"
        )
    vertices = roi_vertices(kind, points)
    stats, reason = roi_statistics(
        kind,
        vertices,
        values,
        plane.pixel_spacing(affine),
        pixel_area_mm2=pixel_area_mm2(plane, affine),
    )
    return vertices, stats, reason
