"""Regions of interest on one plane: pixel-centre masks and statistics of modality values.

An ROI is given in screen coordinates (row, col) of the pane it was drawn on, where (0, 0)
is the centre of the top-left pixel. A pixel belongs to the ROI when its centre lies inside
the shape or on its outline. Masks are built on the ROI's bounding box only, so the cost of
an update while dragging grows with the ROI, not with the image.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.measurements.roi import roi_statistics
>>> values = np.full((8, 10), 40.0)
>>> stats, reason = roi_statistics("rectangle", [(1, 1), (3, 4)], values, (0.5, 0.7))
>>> stats["mean"], stats["n_pixels"], round(stats["area_mm2"], 3)
(40.0, 12, 2.1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MeasurementError

__all__ = [
    "ROI_KINDS",
    "STAT_KEYS",
    "RoiMask",
    "roi_vertices",
    "roi_mask",
    "roi_area",
    "roi_statistics",
]

#: The ROI shapes statistics are computed for.
ROI_KINDS = ("ellipse", "rectangle", "polygon")
#: Keys of the statistics dict, in table order.
STAT_KEYS = ("mean", "std", "min", "max", "median", "n_pixels", "area_mm2")

# A pixel centre within this distance (in pixels) of the outline counts as on it, so
# outlines drawn through pixel centres include them despite float rounding.
_EDGE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RoiMask:
    """Pixels of an ROI: a boolean mask over the image's ``rows`` x ``cols`` box.

    Attributes
    ----------
    rows, cols
        The slices of the image the mask covers (the ROI's bounding box, clipped).
    mask
        Boolean array of shape ``(rows.stop - rows.start, cols.stop - cols.start)``.
    """

    rows: slice
    cols: slice
    mask: np.ndarray

    @property
    def n_pixels(self) -> int:
        """How many pixel centres lie inside."""
        return int(np.count_nonzero(self.mask))

    def full(self, shape: Sequence[int]) -> np.ndarray:
        """The mask over a whole image of ``shape`` (rows, cols)."""
        out = np.zeros(tuple(shape[:2]), dtype=bool)
        out[self.rows, self.cols] = self.mask
        return out


def _points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    array = np.asarray(points, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2 or not np.all(np.isfinite(array)):
        raise MeasurementError(
            f"ROI points must be finite (row, col) pairs, got an array of shape {array.shape}"
        )
    return array


def roi_vertices(kind: str, points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """The canonical outline points of an ROI, shape (N, 2) screen (row, col).

    Parameters
    ----------
    kind
        ``"ellipse"``: two opposite corners of its bounding box (the drag of an ellipse
        tool) or four axis end points (major axis first, as DICOM's ELLIPSE graphic);
        returns the four axis end points. ``"rectangle"``: two opposite corners, or its
        four corners; returns the four corners in drawing order. ``"polygon"``: three or
        more vertices (a freehand outline is a polygon); returned unchanged, a repeated
        closing vertex dropped.

    Examples
    --------
    >>> roi_vertices("ellipse", [(0, 0), (4, 10)]).tolist()
    [[2.0, 0.0], [2.0, 10.0], [0.0, 5.0], [4.0, 5.0]]
    """
    pts = _points(points)
    if kind == "ellipse":
        if len(pts) == 2:
            (r0, c0), (r1, c1) = pts
            rc, cc = (r0 + r1) / 2, (c0 + c1) / 2
            horizontal = [(rc, min(c0, c1)), (rc, max(c0, c1))]
            vertical = [(min(r0, r1), cc), (max(r0, r1), cc)]
            wide = abs(c1 - c0) >= abs(r1 - r0)
            return np.array(horizontal + vertical if wide else vertical + horizontal)
        if len(pts) == 4:
            return pts
        raise MeasurementError(
            f"an ellipse needs 2 points (bounding box corners) or 4 (axis end points), "
            f"got {len(pts)}"
        )
    if kind == "rectangle":
        if len(pts) == 2:
            (r0, c0), (r1, c1) = pts
            return np.array([(r0, c0), (r0, c1), (r1, c1), (r1, c0)])
        if len(pts) == 4:
            return pts
        raise MeasurementError(
            f"a rectangle needs 2 points (opposite corners) or 4 (its corners), got {len(pts)}"
        )
    if kind == "polygon":
        if len(pts) > 3 and np.allclose(pts[0], pts[-1]):
            pts = pts[:-1]
        if len(pts) < 3:
            raise MeasurementError(f"a polygon needs at least 3 vertices, got {len(pts)}")
        return pts
    raise MeasurementError(f"ROI kind must be one of {ROI_KINDS}, not {kind!r}")


def _ellipse_axes(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre and the two semi-axis vectors of an ellipse given by its axis end points."""
    centre = (vertices[0] + vertices[1]) / 2
    return centre, (vertices[1] - vertices[0]) / 2, (vertices[3] - vertices[2]) / 2


def _shoelace(vertices: np.ndarray) -> float:
    r, c = vertices[:, 0], vertices[:, 1]
    return 0.5 * abs(float(np.dot(c, np.roll(r, -1)) - np.dot(r, np.roll(c, -1))))


def roi_area(kind: str, vertices: np.ndarray) -> float:
    """Area of the ROI's outline in square screen pixels (not a pixel count).

    Examples
    --------
    >>> round(roi_area("ellipse", roi_vertices("ellipse", [(0, 0), (2, 2)])), 4)
    3.1416
    """
    if kind == "ellipse":
        _, major, minor = _ellipse_axes(vertices)
        return math.pi * float(np.linalg.norm(major)) * float(np.linalg.norm(minor))
    return _shoelace(vertices)


def _box(vertices: np.ndarray, shape: Sequence[int]) -> tuple[slice, slice]:
    """Pixel rows and columns whose centres can lie inside, clipped to the image."""
    lo = np.ceil(vertices.min(axis=0) - _EDGE_TOLERANCE).astype(int)
    hi = np.floor(vertices.max(axis=0) + _EDGE_TOLERANCE).astype(int) + 1
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [shape[0], shape[1]])
    hi = np.maximum(hi, lo)
    return slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1]))


def _ellipse_mask(vertices: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    centre, major, minor = _ellipse_axes(vertices)
    a2, b2 = float(major @ major), float(minor @ minor)
    rr = np.arange(rows.start, rows.stop, dtype=float)[:, None] - centre[0]
    cc = np.arange(cols.start, cols.stop, dtype=float)[None, :] - centre[1]
    # Coordinates along the two axes (not assumed screen-aligned: loaded ellipses may be tilted).
    u = rr * major[0] + cc * major[1]
    v = rr * minor[0] + cc * minor[1]
    return u * u / (a2 * a2) + v * v / (b2 * b2) <= 1.0 + 1e-9


def _polygon_mask(vertices: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """Even-odd fill of pixel centres, closed: centres on the outline are inside too.

    One scanline per pixel row, all rows at once: each edge crossing a row's centre gives
    an x; sorted crossings pair up into filled runs, painted with one cumulative sum.
    """
    n_rows, n_cols = rows.stop - rows.start, cols.stop - cols.start
    mask = np.zeros((n_rows, n_cols), dtype=bool)
    if n_rows == 0 or n_cols == 0:
        return mask
    y = np.arange(rows.start, rows.stop, dtype=float)[:, None]
    start = vertices
    end = np.roll(vertices, -1, axis=0)
    y0, x0 = start[:, 0][None, :], start[:, 1][None, :]
    y1, x1 = end[:, 0][None, :], end[:, 1][None, :]
    # Half-open in y, so a vertex on a scanline is counted once for the parity.
    crosses = ((y0 <= y) & (y < y1)) | ((y1 <= y) & (y < y0))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    x = np.where(crosses, x - cols.start, np.inf)
    x.sort(axis=1)
    # Only as many crossing columns as the busiest row has (2 for a convex outline).
    x = x[:, : int(crosses.sum(axis=1).max(initial=0))]
    runs = np.zeros((n_rows, n_cols + 1), dtype=np.int32)
    for k in range(0, x.shape[1] - 1, 2):
        left, right = x[:, k], x[:, k + 1]
        ok = np.isfinite(right)
        first = np.clip(np.ceil(left[ok] - _EDGE_TOLERANCE), 0, n_cols).astype(int)
        last = np.clip(np.floor(right[ok] + _EDGE_TOLERANCE) + 1, 0, n_cols).astype(int)
        keep = first < last
        row_ids = np.nonzero(ok)[0][keep]
        np.add.at(runs, (row_ids, first[keep]), 1)
        np.add.at(runs, (row_ids, last[keep]), -1)
    mask |= np.cumsum(runs, axis=1)[:, :n_cols] > 0
    # The outline itself: horizontal edges and vertices lying on a scanline.
    flat = (np.abs(start[:, 0] - end[:, 0]) <= _EDGE_TOLERANCE) & (
        np.abs(start[:, 0] - np.round(start[:, 0])) <= _EDGE_TOLERANCE
    )
    for (ya, xa), (_, xb) in zip(start[flat], end[flat]):
        row = int(round(ya)) - rows.start
        if 0 <= row < n_rows:
            lo = max(int(math.ceil(min(xa, xb) - _EDGE_TOLERANCE)) - cols.start, 0)
            hi = min(int(math.floor(max(xa, xb) + _EDGE_TOLERANCE)) + 1 - cols.start, n_cols)
            mask[row, lo:hi] = True
    on_centre = np.all(np.abs(vertices - np.round(vertices)) <= _EDGE_TOLERANCE, axis=1)
    for yv, xv in np.round(vertices[on_centre]).astype(int):
        row, col = yv - rows.start, xv - cols.start
        if 0 <= row < n_rows and 0 <= col < n_cols:
            mask[row, col] = True
    return mask


def roi_mask(
    kind: str, points: Sequence[Sequence[float]] | np.ndarray, shape: Sequence[int]
) -> RoiMask:
    """The pixels of an ROI on an image of ``shape`` (rows, cols), on its bounding box.

    Parameters
    ----------
    kind
        One of :data:`ROI_KINDS`.
    points
        Screen (row, col) points as :func:`roi_vertices` takes them.
    shape
        The image's (rows, cols); parts of the ROI outside it are cut off.

    Examples
    --------
    >>> m = roi_mask("ellipse", [(0, 0), (4, 4)], (10, 10))
    >>> m.rows, m.cols, m.n_pixels
    (slice(0, 5, None), slice(0, 5, None), 13)
    """
    vertices = roi_vertices(kind, points)
    rows, cols = _box(vertices, shape)
    if rows.stop == rows.start or cols.stop == cols.start:
        return RoiMask(rows, cols, np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool))
    if kind == "ellipse":
        _, major, minor = _ellipse_axes(vertices)
        if not np.any(major) or not np.any(minor):
            mask = np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool)
        else:
            mask = _ellipse_mask(vertices, rows, cols)
    else:
        mask = _polygon_mask(vertices, rows, cols)
    return RoiMask(rows, cols, mask)


def _nan_stats(area_mm2: float) -> dict[str, float]:
    stats: dict[str, float] = {key: math.nan for key in STAT_KEYS}
    stats["n_pixels"] = 0
    stats["area_mm2"] = area_mm2
    return stats


def roi_statistics(
    kind: str,
    points: Sequence[Sequence[float]] | np.ndarray,
    values: np.ndarray,
    pixel_spacing: tuple[float, float],
    *,
    pixel_area_mm2: float | None = None,
) -> tuple[dict[str, float], str]:
    """Statistics of ``values`` inside an ROI, and the reason when there are none.

    Parameters
    ----------
    kind
        One of :data:`ROI_KINDS`.
    points
        Screen (row, col) points (see :func:`roi_vertices`).
    values
        The displayed plane's modality values (HU for CT), 2-D.
    pixel_spacing
        (mm per screen row, mm per screen column) of the plane
        (:meth:`dicom_widgets.view.Plane.pixel_spacing`).
    pixel_area_mm2
        Area of one screen pixel in mm² when rows and columns are not perpendicular
        (a tilted gantry); by default the product of ``pixel_spacing``.

    Returns
    -------
    stats : dict
        ``mean``, ``std`` (population, ddof 0), ``min``, ``max``, ``median`` of the pixels
        whose centres lie inside, ``n_pixels``, and ``area_mm2``: the area of the drawn
        outline in mm² (not the pixel count times the pixel area).
    reason : str
        Empty, or why the statistics are NaN (zero area, no pixel centre inside).

    Examples
    --------
    >>> values = np.arange(100.0).reshape(10, 10)
    >>> stats, reason = roi_statistics("ellipse", [(2, 2), (2, 6)], values, (1.0, 1.0))
    >>> stats["mean"], reason
    (nan, 'the ellipse has zero area')
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise MeasurementError(f"values must be a 2-D plane, got shape {values.shape}")
    vertices = roi_vertices(kind, points)
    unit_area = (
        float(pixel_spacing[0]) * float(pixel_spacing[1])
        if pixel_area_mm2 is None
        else float(pixel_area_mm2)
    )
    area_mm2 = roi_area(kind, vertices) * unit_area
    if area_mm2 <= 0 or roi_area(kind, vertices) < 1e-12:
        return _nan_stats(0.0), f"the {kind} has zero area"
    found = roi_mask(kind, vertices, values.shape)
    if found.n_pixels == 0:
        return _nan_stats(area_mm2), f"no pixel centre lies inside the {kind}"
    inside = values[found.rows, found.cols][found.mask].astype(np.float64, copy=False)
    stats = {
        "mean": float(inside.mean()),
        "std": float(inside.std()),
        "min": float(inside.min()),
        "max": float(inside.max()),
        "median": float(np.median(inside)),
        "n_pixels": int(inside.size),
        "area_mm2": float(area_mm2),
    }
    return stats, ""
