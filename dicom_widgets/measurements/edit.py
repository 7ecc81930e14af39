"""Moving and resizing measurements: handles, hit-testing and drags, in a pane's screen points.

Pure geometry on the (row, col) points a measurement has on a pane
(:meth:`Measurement.on_plane`), so it works on every plane; the layer
(:class:`dicom_widgets.view.measurement_layer.MeasurementLayer`) re-measures the result on
the pane's values. Hit-testing is done in *display* pixels (``scale`` says how many a
screen row and column span), so the tolerance is the same at any zoom and on anisotropic
panes, as in OHIF/Cornerstone and Slicer.

Handles, by kind:

* distance, angle, polygon: their points (end points, vertex, polygon vertices);
* rectangle: its four corners, then the middles of its four edges;
* ellipse: the four corners of its bounding box, then the middles of the box's edges,
  which are the ends of its axes.

Dragging a corner keeps the opposite corner; dragging an edge moves that edge only; a
drag of the body (inside an ROI, or near a line or outline) moves the whole measurement,
kept inside the image.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.measurements.edit import drag_points, hit_test
>>> ruler = np.array([[10.0, 10.0], [10.0, 30.0]])
>>> hit = hit_test([("r1", "distance", ruler)], (10.5, 29.0))
>>> hit.uid, hit.part, hit.handle
('r1', 'handle', 1)
>>> drag_points("distance", ruler, hit, (0.0, 10.0), (64, 64)).tolist()
[[10.0, 10.0], [10.0, 40.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MeasurementError
from .roi import ROI_KINDS, roi_area

__all__ = ["HIT_TOLERANCE_PX", "Hit", "handles", "hit_test", "drag_points"]

#: How far (display pixels) from a handle or a line a press still grabs it.
HIT_TOLERANCE_PX = 6.0

_Point = tuple[float, float]


@dataclass(frozen=True)
class Hit:
    """What a press grabbed: a measurement's handle, or its body.

    Attributes
    ----------
    uid
        The measurement's :attr:`~dicom_widgets.measurements.Measurement.uid`.
    part
        ``"handle"`` (resize) or ``"body"`` (move).
    handle
        The index into :func:`handles` for a handle, -1 for the body.
    distance_px
        How far from the press it is, in display pixels (0 inside an ROI).
    """

    uid: str
    part: str
    handle: int = -1
    distance_px: float = 0.0


def _box_from_ellipse(points: np.ndarray) -> np.ndarray:
    """An ellipse's four axis ends (major first) -> the corners of its bounding box."""
    centre = (points[0] + points[1]) / 2
    major = (points[1] - points[0]) / 2
    minor = (points[3] - points[2]) / 2
    return np.array(
        [
            centre - major - minor,
            centre + major - minor,
            centre + major + minor,
            centre - major + minor,
        ]
    )


def _ellipse_from_box(box: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_box_from_ellipse`: the axis ends are the box's edge middles."""
    middles = (box + np.roll(box, -1, axis=0)) / 2  # edge k runs from corner k to k + 1
    return np.array([middles[3], middles[1], middles[0], middles[2]])


def handles(kind: str, points: np.ndarray) -> np.ndarray:
    """The handles of a measurement placed on a pane, screen (row, col), shape (H, 2).

    Examples
    --------
    >>> handles("rectangle", np.array([[0, 0], [0, 4], [2, 4], [2, 0]])).tolist()[4:]
    [[0.0, 2.0], [1.0, 4.0], [2.0, 2.0], [1.0, 0.0]]
    """
    points = np.asarray(points, dtype=float)
    if kind == "rectangle":
        return np.vstack([points, (points + np.roll(points, -1, axis=0)) / 2])
    if kind == "ellipse":
        box = _box_from_ellipse(points)
        return np.vstack([box, (box + np.roll(box, -1, axis=0)) / 2])
    return points


def _outline(kind: str, points: np.ndarray) -> np.ndarray:
    """The polyline the body is near: closed for ROIs (an ellipse as 64 segments)."""
    if kind == "ellipse":
        centre = (points[0] + points[1]) / 2
        major, minor = (points[1] - points[0]) / 2, (points[3] - points[2]) / 2
        t = np.linspace(0, 2 * np.pi, 65)
        return centre + np.cos(t)[:, None] * major + np.sin(t)[:, None] * minor
    if kind in ROI_KINDS:
        return np.vstack([points, points[:1]])
    return points


def _segment_distance(line: np.ndarray, point: np.ndarray) -> float:
    """Distance from ``point`` to the nearest segment of ``line`` (both already in display px)."""
    if len(line) == 1:
        return float(np.linalg.norm(line[0] - point))
    a, b = line[:-1], line[1:]
    ab = b - a
    length2 = np.einsum("ij,ij->i", ab, ab)
    t = np.clip(np.einsum("ij,ij->i", point - a, ab) / np.where(length2 > 0, length2, 1.0), 0, 1)
    nearest = a + t[:, None] * ab
    return float(np.min(np.linalg.norm(nearest - point, axis=1)))


def _inside(kind: str, points: np.ndarray, point: np.ndarray) -> bool:
    """Whether a screen point lies inside an ROI (even-odd rule; an ellipse by its axes)."""
    if kind == "ellipse":
        centre = (points[0] + points[1]) / 2
        axes = [(points[1] - points[0]) / 2, (points[3] - points[2]) / 2]
        if not all(np.any(axis) for axis in axes):
            return False
        d = point - centre
        return sum(float(d @ axis) ** 2 / float(axis @ axis) ** 2 for axis in axes) <= 1.0
    rows, cols = points[:, 0], points[:, 1]
    rows_next, cols_next = np.roll(rows, -1), np.roll(cols, -1)
    crosses = (rows > point[0]) != (rows_next > point[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        at = cols + (point[0] - rows) * (cols_next - cols) / (rows_next - rows)
    return bool(np.count_nonzero(crosses & (point[1] < at)) % 2)


def hit_test(
    placed: Iterable[tuple[str, str, np.ndarray]],
    point: _Point,
    *,
    scale: tuple[float, float] = (1.0, 1.0),
    tolerance_px: float = HIT_TOLERANCE_PX,
) -> Hit | None:
    """The handle or body under a press on a pane, or None.

    Parameters
    ----------
    placed
        ``(uid, kind, points)`` of the measurements on the pane, ``points`` in screen
        (row, col) as :meth:`Measurement.on_plane` gives them.
    point
        The press, screen (row, col).
    scale
        Display pixels per screen row and per screen column (the zoom and the pane's
        aspect); the tolerance is measured in display pixels.
    tolerance_px
        How far from a handle, a line or an outline a press still grabs it.

    Returns
    -------
    Hit or None
        The nearest handle within the tolerance; else the nearest line or outline within
        it; else the smallest ROI the press lies inside.
    """
    factor = np.array(scale, dtype=float)
    press = np.asarray(point, dtype=float) * factor
    best_handle: Hit | None = None
    best_line: Hit | None = None
    best_inside: tuple[float, Hit] | None = None
    for uid, kind, points in placed:
        points = np.asarray(points, dtype=float)
        grips = handles(kind, points) * factor
        distances = np.linalg.norm(grips - press, axis=1)
        k = int(np.argmin(distances))
        if distances[k] <= tolerance_px and (
            best_handle is None or distances[k] < best_handle.distance_px
        ):
            best_handle = Hit(uid, "handle", k, float(distances[k]))
        near = _segment_distance(_outline(kind, points) * factor, press)
        if near <= tolerance_px and (best_line is None or near < best_line.distance_px):
            best_line = Hit(uid, "body", -1, near)
        if kind in ROI_KINDS and _inside(kind, points, np.asarray(point, float)):
            area = roi_area(kind, points)
            if best_inside is None or area < best_inside[0]:
                best_inside = (area, Hit(uid, "body", -1, 0.0))
    if best_handle is not None:
        return best_handle
    if best_line is not None:
        return best_line
    return best_inside[1] if best_inside is not None else None


def _drag_box_handle(box: np.ndarray, handle: int, delta: np.ndarray) -> np.ndarray:
    """A parallelogram's corners after dragging a corner (0-3) or an edge middle (4-7).

    The drag is split along the box's own two edge directions (so a tilted box stays a
    box): a corner follows it with the opposite corner fixed, an edge follows its part
    across the edge only.
    """
    u, v = box[1] - box[0], box[3] - box[0]
    if abs(u[0] * v[1] - u[1] * v[0]) < 1e-12:  # degenerate: fall back to screen axes
        u, v = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    along_u, along_v = np.linalg.solve(np.column_stack([u, v]), delta)
    out = box.copy()
    if handle < 4:
        # Corner k's edges: k -> k+1 and k -> k-1 run along u or v; its neighbours take
        # the part of the drag along the edge they do not share with it.
        share_u = handle in (0, 2)  # corners 0-1 and 2-3 share a u edge
        out[handle] = box[handle] + delta
        out[(handle + 1) % 4] = box[(handle + 1) % 4] + (along_v * v if share_u else along_u * u)
        out[(handle + 3) % 4] = box[(handle + 3) % 4] + (along_u * u if share_u else along_v * v)
        return out
    edge = handle - 4  # edge k joins corners k and k + 1; edges 0 and 2 run along u
    move = along_v * v if edge in (0, 2) else along_u * u
    out[edge] = box[edge] + move
    out[(edge + 1) % 4] = box[(edge + 1) % 4] + move
    return out


def _move_inside(points: np.ndarray, delta: np.ndarray, screen_shape: Sequence[int]) -> np.ndarray:
    """``points + delta``, the delta shortened so every point stays on the image."""
    low = -0.5 - points.min(axis=0)
    high = np.array(screen_shape[:2], dtype=float) - 0.5 - points.max(axis=0)
    return points + np.clip(delta, np.minimum(low, 0), np.maximum(high, 0))


def drag_points(
    kind: str,
    points: np.ndarray,
    hit: Hit,
    delta: _Point,
    screen_shape: Sequence[int],
    *,
    spacing: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """The screen points of a measurement after a drag of ``delta`` (rows, cols).

    Parameters
    ----------
    kind, points
        The measurement and its screen points on the pane *when the drag began* (drags
        are applied from there, so a handle never drifts).
    hit
        What the press grabbed (:func:`hit_test`).
    delta
        The mouse's way since the press, screen (rows, cols).
    screen_shape
        The pane's (rows, cols): a moved measurement stays inside it.
    spacing
        mm per screen row and column: an edited ellipse lists its longer axis in mm first
        (DICOM's ELLIPSE).

    Returns
    -------
    numpy.ndarray
        Points for :func:`dicom_widgets.measurements.measure` (an ellipse's four axis
        ends, a rectangle's four corners); a dragged handle may still lie outside the
        image, so measure them with ``clip=True``.
    """
    points = np.asarray(points, dtype=float)
    step = np.asarray(delta, dtype=float)
    if hit.part == "body":
        return _move_inside(points, step, screen_shape)
    if hit.part != "handle" or not 0 <= hit.handle < len(handles(kind, points)):
        raise MeasurementError(f"no handle {hit.handle} on a {kind}")
    if kind == "rectangle":
        return _drag_box_handle(points, hit.handle, step)
    if kind == "ellipse":
        axes = _ellipse_from_box(_drag_box_handle(_box_from_ellipse(points), hit.handle, step))
        mm = np.asarray(spacing, dtype=float)
        major = np.linalg.norm((axes[1] - axes[0]) * mm)
        minor = np.linalg.norm((axes[3] - axes[2]) * mm)
        return axes if major >= minor else axes[[2, 3, 0, 1]]
    out = points.copy()
    out[hit.handle] += step
    return out
