"""RTSTRUCT reader: ROI contours placed on slices by their plane, rasterised on demand.

Each contour's points are mapped to fractional (slice, row, col) voxels of the series.
A contour belongs to slice ``k`` when all its points lie within the tolerance of that
slice's plane, whether or not it has a Contour Image Sequence (the reference is only
checked). CLOSED_PLANAR contours of one ROI on one slice are filled together by the
even-odd rule at pixel centres, so an inner contour cuts a hole; POINT contours mark
their voxel; OPEN_PLANAR contours are kept as polylines only.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .. import _compat
from .._compat import safe_get
from ..errors import DicomReadError, GeometryError
from ..series._findings import Finding
from ._color import default_color
from ._grid import Grid
from ._model import Polyline, Segment, Segmentation, SliceSource
from ._seg import report_items

__all__ = ["read_rtstruct", "rasterize_polygons", "RTSTRUCT_SOP_CLASS"]

RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
_CONTOUR_DATA = 0x30060050


#: How close (in pixels) a pixel centre must be to a contour edge to count as on it.
#: Contour Data and Image Position are decimal strings of at most 16 characters, and
#: writers round them differently: a contour traced through pixel centres by one program
#: lands a few 1e-6 px off them on another's image (rt-utils' contours on a CT whose
#: origin is stored to 6 decimals are 1.3e-6 px off at 0.39 mm pixels), and a tolerance
#: tighter than that drops the outline pixels on one side of every edge.
ON_EDGE_PX = 1e-3


def rasterize_polygons(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Fill closed polygons by the even-odd rule at pixel centres.

    A pixel (r, c) is inside when a ray from its centre crosses the polygons' edges an
    odd number of times, so overlapping contours of one ROI cut holes. A pixel whose
    centre lies exactly on a contour counts as inside: contours traced through the
    centres of a mask's boundary pixels (OpenCV, rt-utils, many planning systems) give
    that mask back. Only the rows and columns the polygons span are touched.

    Parameters
    ----------
    polygons : list of numpy.ndarray
        Each (N, 2) of fractional (row, col); pixel centres are integers.
    shape : tuple of int
        (rows, cols) of the result.

    Returns
    -------
    numpy.ndarray
        Boolean (rows, cols).

    Examples
    --------
    >>> square = np.array([[0.5, 0.5], [0.5, 3.5], [3.5, 3.5], [3.5, 0.5]])
    >>> int(rasterize_polygons([square], (5, 5)).sum())
    9
    >>> through_centres = np.array([[0.0, 0.0], [0.0, 3.0], [3.0, 3.0], [3.0, 0.0]])
    >>> int(rasterize_polygons([through_centres], (5, 5)).sum())
    16
    """
    rows, cols = shape
    out = np.zeros(shape, bool)
    all_r, all_c, keep = [], [], []
    on_r, on_c = [], []
    for poly in polygons:
        if len(poly) < 3:
            continue
        y0 = poly[:, 0]
        x0 = poly[:, 1]
        y1 = np.roll(y0, -1)
        x1 = np.roll(x0, -1)
        _centres_on_edges(y0, x0, y1, x1, on_r, on_c)
        moving = y0 != y1
        y0, y1, x0, x1 = y0[moving], y1[moving], x0[moving], x1[moving]
        # Rows r with min(y) <= r < max(y): each vertex is counted once, horizontal edges never.
        start = np.clip(np.ceil(np.minimum(y0, y1)), 0, rows).astype(np.int64)
        stop = np.clip(np.ceil(np.maximum(y0, y1)), 0, rows).astype(np.int64)
        counts = stop - start
        total = int(counts.sum())
        if not total:
            continue
        edge = np.repeat(np.arange(counts.size), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        r = start[edge] + offsets
        t = (r - y0[edge]) / (y1[edge] - y0[edge])
        xc = x0[edge] + t * (x1[edge] - x0[edge])
        all_r.append(r)
        all_c.append(np.clip(np.floor(xc).astype(np.int64) + 1, 0, cols))
        keep.append(True)
    if not keep:
        return out
    r = np.concatenate(all_r)
    c = np.concatenate(all_c)
    r_lo, r_hi = int(r.min()), int(r.max()) + 1
    c_lo, c_hi = int(c.min()), int(c.max()) + 1
    width = c_hi - c_lo + 1
    flat = (r - r_lo) * width + (c - c_lo)
    toggles = np.bincount(flat, minlength=(r_hi - r_lo) * width).reshape(r_hi - r_lo, width)
    parity = (np.cumsum(toggles, axis=1) & 1).astype(bool)
    span = min(c_hi, cols) - c_lo
    if span > 0:
        out[r_lo:r_hi, c_lo : c_lo + span] = parity[:, :span]
    if on_r:
        rr = np.concatenate(on_r)
        cc = np.concatenate(on_c)
        ok = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        out[rr[ok], cc[ok]] = True
    return out


def _centres_on_edges(
    y0: np.ndarray, x0: np.ndarray, y1: np.ndarray, x1: np.ndarray, on_r: list, on_c: list
) -> None:
    """Append the pixel centres lying on the edges (y0, x0) -> (y1, x1), within :data:`ON_EDGE_PX`."""
    eps = ON_EDGE_PX
    # Walk each edge by whole rows (or whole columns for flat edges) and keep the points
    # that land on integer coordinates.
    steep = np.abs(y1 - y0) >= np.abs(x1 - x0)
    for major0, major1, minor0, minor1, is_row in (
        (y0[steep], y1[steep], x0[steep], x1[steep], True),
        (x0[~steep], x1[~steep], y0[~steep], y1[~steep], False),
    ):
        lo = np.ceil(np.minimum(major0, major1) - eps).astype(np.int64)
        hi = np.floor(np.maximum(major0, major1) + eps).astype(np.int64)
        counts = np.clip(hi - lo + 1, 0, None)
        total = int(counts.sum())
        if not total:
            continue
        edge = np.repeat(np.arange(counts.size), counts)
        major = lo[edge] + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
        length = major1[edge] - major0[edge]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(length != 0, (major - major0[edge]) / length, 0.0)
        minor = minor0[edge] + t * (minor1[edge] - minor0[edge])
        hit = np.abs(minor - np.rint(minor)) < eps
        major, minor = major[hit], np.rint(minor[hit]).astype(np.int64)
        on_r.append(major if is_row else minor)
        on_c.append(minor if is_row else major)


#: Contours longer than this are not checked for self-intersection (memory stays bounded).
SELF_INTERSECTION_MAX_POINTS = 20_000


def _orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Sign of the turn p -> q -> r (rows of (x, y) points): 1 left, -1 right, 0 collinear."""
    return np.sign(
        (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0])
    )


def _overlapping_edge_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j), i != j, of edges a[k] -> b[k] whose bounding boxes overlap (a sweep in x).

    Edges sorted by their smallest x: the edges whose box can overlap edge i's in x are
    those after it whose smallest x is at most i's largest x, found by one searchsorted.
    A contour crosses each vertical line a few times, so there are about n pairs, not n^2.
    """
    x_lo, x_hi = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
    y_lo, y_hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    order = np.argsort(x_lo, kind="stable")
    sorted_lo = x_lo[order]
    stop = np.searchsorted(sorted_lo, x_hi[order], side="right")
    counts = np.clip(stop - np.arange(order.size) - 1, 0, None)
    first = np.repeat(np.arange(order.size), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    i, j = order[first], order[first + 1 + offsets]
    keep = (y_lo[i] <= y_hi[j]) & (y_lo[j] <= y_hi[i])
    return i[keep], j[keep]


def _self_intersects(poly: np.ndarray) -> bool:
    """Whether two non-adjacent edges of a closed polygon cross properly.

    Only edges whose bounding boxes overlap are tested, so long contours (thousands of
    points, as a body outline has) cost about linear time; contours of more than
    :data:`SELF_INTERSECTION_MAX_POINTS` points are not checked.
    """
    n = len(poly)
    if n < 4 or n > SELF_INTERSECTION_MAX_POINTS:
        return False
    a = np.asarray(poly, np.float64)[:, :2]
    b = np.roll(a, -1, axis=0)
    i, j = _overlapping_edge_pairs(a, b)
    gap = np.abs(i - j)
    near = (gap > 1) & (gap < n - 1)  # neighbouring edges share a point: not a crossing
    i, j = i[near], j[near]
    o1, o2 = _orient(a[i], b[i], a[j]), _orient(a[i], b[i], b[j])
    o3, o4 = _orient(a[j], b[j], a[i]), _orient(a[j], b[j], b[i])
    return bool(((o1 * o2 < 0) & (o3 * o4 < 0)).any())


def _contour_data(contour: Dataset) -> np.ndarray:
    """Contour Data as floats; parsed from the raw bytes when pydicom has not converted them.

    pydicom makes one DSfloat object per coordinate, which dominates reading a large
    structure set; numpy parses the backslash-separated text directly.
    """
    raw = contour._dict.get(_CONTOUR_DATA)  # the element itself, unconverted if still raw
    value = getattr(raw, "value", None)
    if isinstance(raw, RawDataElement) and isinstance(value, bytes):
        try:
            return np.array(value.decode("ascii").strip("\0 ").split("\\"), dtype=np.float64)
        except (UnicodeDecodeError, ValueError):
            pass
    try:
        return np.asarray([float(v) for v in safe_get(contour, "ContourData", []) or []])
    except (TypeError, ValueError):
        return np.empty(0)


def _read(source: Any) -> tuple[Dataset, str | None]:
    if isinstance(source, Dataset):
        name = getattr(source, "filename", None)
        return source, name if isinstance(name, str) else None
    path = os.fspath(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _compat.read_dataset(path, force=True)
    except Exception as exc:  # noqa: BLE001
        raise DicomReadError(path, f"cannot be read as DICOM: {type(exc).__name__}: {exc}") from exc
    return ds, path


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_rtstruct(ds: Dataset, where: str, grid: Grid) -> None:
    if (
        str(safe_get(ds, "Modality", "")) != "RTSTRUCT"
        and str(safe_get(ds, "SOPClassUID", "")) != RTSTRUCT_SOP_CLASS
    ):
        raise DicomReadError(
            where, f"is not an RTSTRUCT (Modality {safe_get(ds, 'Modality', '')!r})"
        )
    if grid.affine is None:
        raise GeometryError(
            f"{where}: the series has no geometry, so contours (in mm) cannot be placed"
        )


def _roi_table(ds: Dataset, note: Any) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """The Structure Set ROIs by number, and each ROI's RT ROI Interpreted Type."""
    rois: dict[int, dict[str, Any]] = {}
    for item in safe_get(ds, "StructureSetROISequence", None) or []:
        number = _int(safe_get(item, "ROINumber"))
        if number is None:
            note("warning", "roi-number", "an ROI without a usable ROI Number is skipped")
            continue
        rois[number] = {
            "name": str(safe_get(item, "ROIName", "") or f"ROI {number}"),
            "description": str(safe_get(item, "ROIDescription", "") or ""),
            "algorithm": str(safe_get(item, "ROIGenerationAlgorithm", "") or ""),
            "for": str(safe_get(item, "ReferencedFrameOfReferenceUID", "") or ""),
        }
    interpreted: dict[int, str] = {}
    for item in safe_get(ds, "RTROIObservationsSequence", None) or []:
        number = _int(safe_get(item, "ReferencedROINumber"))
        if number is not None:
            interpreted[number] = str(safe_get(item, "RTROIInterpretedType", "") or "")
    return rois, interpreted


def _rt_references(ds: Dataset) -> tuple[str, str]:
    """The structure set's Frame of Reference and referenced series UIDs ('' when absent)."""
    frame_of_reference = ""
    ref_for = safe_get(ds, "ReferencedFrameOfReferenceSequence", None) or []
    if ref_for:
        frame_of_reference = str(safe_get(ref_for[0], "FrameOfReferenceUID", "") or "")
    referenced_series = ""
    try:
        study = ref_for[0].RTReferencedStudySequence[0]
        referenced_series = str(study.RTReferencedSeriesSequence[0].SeriesInstanceUID)
    except (AttributeError, IndexError, TypeError):
        pass
    return frame_of_reference, referenced_series


#: The findings of contour placement: (list attribute, code, text), in report order.
_CONTOUR_REPORTS = (
    ("off_plane", "off-plane", "contour(s) lie off every slice plane and are not drawn"),
    ("not_planar", "not-planar", "contour(s) are not parallel to the slices and are not drawn"),
    ("outside", "outside", "contour(s) lie outside the series and are not drawn"),
    (
        "degenerate",
        "degenerate",
        "degenerate contour(s) (too few points or no area) are not filled",
    ),
    ("crossing", "self-intersecting", "self-intersecting contour(s), filled by the even-odd rule"),
    ("absent", "absent-reference", "contour(s) reference images that are not in the series"),
    (
        "disagree",
        "reference-mismatch",
        "contour(s) whose plane and referenced image disagree; placed by their plane",
    ),
)


class _ContourPlacer:
    """Places the contours of every ROI on the slices by their plane, noting what does not fit."""

    def __init__(
        self, grid: Grid, rois: dict[int, dict[str, Any]], frame_of_reference: str, tol: float
    ) -> None:
        self.grid, self.rois, self.frame_of_reference, self.tol = (
            grid,
            rois,
            frame_of_reference,
            tol,
        )
        self.polylines: dict[int, list[Polyline]] = {}
        self.closed: dict[tuple[int, int], list[np.ndarray]] = {}
        self.points: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self.kinds: dict[int, set[str]] = {}
        self.colors: dict[int, tuple[int, int, int]] = {}
        self.wrong_for: dict[int, str] = {}
        # What does not fit, one list per finding of _CONTOUR_REPORTS.
        self.off_plane: list[str] = []
        self.not_planar: list[str] = []
        self.outside: list[str] = []
        self.degenerate: list[str] = []
        self.crossing: list[str] = []
        self.absent: list[str] = []
        self.disagree: list[str] = []

    def add_roi(self, roi_item: Dataset, note: Any) -> None:
        number = _int(safe_get(roi_item, "ReferencedROINumber"))
        if number is None:
            return
        rois = self.rois
        if number not in rois:
            rois[number] = {"name": f"ROI {number}", "description": "", "algorithm": "", "for": ""}
            note(
                "warning",
                "roi-undescribed",
                f"ROI {number} has contours but no Structure Set ROI entry",
            )
        roi_for = rois[number]["for"] or self.frame_of_reference
        if self.grid.frame_of_reference and roi_for and roi_for != self.grid.frame_of_reference:
            self.wrong_for[number] = roi_for
            return
        color = safe_get(roi_item, "ROIDisplayColor")
        try:
            rgb = tuple(int(v) for v in color)
            self.colors[number] = (
                (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else default_color(number)
            )
        except (TypeError, ValueError):
            self.colors[number] = default_color(number)
        name = rois[number]["name"]
        for c_index, contour in enumerate(safe_get(roi_item, "ContourSequence", None) or []):
            self._add_contour(number, f"ROI {number} {name!r} contour {c_index + 1}", contour)

    def _plane_of(self, label: str, data: np.ndarray) -> tuple[int, np.ndarray] | None:
        """The slice a contour lies on and its (row, col) points, or None (noted why)."""
        grid = self.grid
        voxels = grid.to_voxels(data.reshape(-1, 3))
        k_values = voxels[:, 0]
        k_near = int(round(float(np.median(k_values))))
        distance = np.abs(k_values - k_near) * grid.slice_spacing
        if float(distance.max()) > self.tol:
            spread = (float(k_values.max()) - float(k_values.min())) * grid.slice_spacing
            if spread > self.tol:
                self.not_planar.append(f"{label} spans {spread:.2f} mm across slices")
            else:
                self.off_plane.append(
                    f"{label} at z={data[2]:.2f} lies {float(distance.max()):.2f} mm "
                    f"from slice {k_near}"
                )
            return None
        if not 0 <= k_near < grid.shape[0]:
            self.outside.append(f"{label} (slice {k_near})")
            return None
        return k_near, voxels[:, 1:]

    def _check_images(self, label: str, contour: Dataset, k_near: int) -> None:
        for image in safe_get(contour, "ContourImageSequence", None) or []:
            uid = str(safe_get(image, "ReferencedSOPInstanceUID", "") or "")
            frame = _int(safe_get(image, "ReferencedFrameNumber")) or 1
            k_ref = self.grid.slice_of_reference(uid, frame - 1)
            if k_ref is None:
                self.absent.append(f"{label} -> {uid}")
            elif k_ref != k_near:
                self.disagree.append(f"{label}: plane at slice {k_near}, image at slice {k_ref}")

    def _add_contour(self, number: int, label: str, contour: Dataset) -> None:
        kind = str(safe_get(contour, "ContourGeometricType", "") or "CLOSED_PLANAR").upper()
        self.kinds.setdefault(number, set()).add(kind)
        data = _contour_data(contour)
        if data.size < 3 or data.size % 3 or not np.all(np.isfinite(data)):
            self.degenerate.append(f"{label}: {data.size} coordinate values")
            return
        placed = self._plane_of(label, data)
        if placed is None:
            return
        k_near, rc = placed
        self._check_images(label, contour, k_near)
        self.polylines.setdefault(number, []).append(
            Polyline(k_near, rc, kind == "CLOSED_PLANAR", kind)
        )
        if kind == "POINT":
            for r, c in np.rint(rc).astype(int):
                if 0 <= r < self.grid.shape[1] and 0 <= c < self.grid.shape[2]:
                    self.points.setdefault((number, k_near), []).append((int(r), int(c)))
        elif kind == "CLOSED_PLANAR":
            self._add_polygon(number, label, k_near, rc)

    def _add_polygon(self, number: int, label: str, k_near: int, rc: np.ndarray) -> None:
        unique = np.unique(np.round(rc, 6), axis=0)
        area = 0.5 * abs(
            float(np.dot(rc[:, 0], np.roll(rc[:, 1], -1)) - np.dot(rc[:, 1], np.roll(rc[:, 0], -1)))
        )
        # A self-intersecting polygon's signed lobes can cancel to zero area.
        crosses = len(unique) >= 4 and _self_intersects(rc)
        if len(unique) < 3 or (area < 1e-9 and not crosses):
            self.degenerate.append(f"{label}: {len(unique)} distinct point(s), area {area:.3g} px")
            return
        if crosses:
            self.crossing.append(f"{label} on slice {k_near}")
        self.closed.setdefault((number, k_near), []).append(rc)

    def refuse_other_frames(self, where: str, strict: bool, note: Any) -> None:
        """ROIs in another Frame of Reference: ``GeometryError`` (strict) or an error finding."""
        if not self.wrong_for:
            return
        detail = "; ".join(
            f"ROI {n} {self.rois[n]['name']!r}: {u}" for n, u in list(self.wrong_for.items())[:3]
        )
        message = (
            f"{where}: {len(self.wrong_for)} ROI(s) lie in another Frame of Reference than the "
            f"series' {self.grid.frame_of_reference} ({detail}); they would be drawn in the "
            "wrong place"
        )
        if strict:
            raise GeometryError(
                message + " (pass strict=False to load them undrawn with a finding)"
            )
        note("error", "frame-of-reference", message + "; they are not drawn")

    def report(self, note: Any) -> None:
        for name, code, text in _CONTOUR_REPORTS:
            report_items(note, "warning", code, text, getattr(self, name))
        open_rois = [n for n, ks in self.kinds.items() if "OPEN_PLANAR" in ks]
        if open_rois:
            note(
                "info",
                "open-contours",
                f"OPEN_PLANAR contours of ROI(s) {open_rois} are drawn as lines, not filled",
            )

    def segments(self, interpreted: dict[int, str], note: Any) -> list[Segment]:
        """One segment per ROI (empty ones noted)."""
        segments = []
        for number, roi in self.rois.items():
            kind = "+".join(sorted(self.kinds.get(number, set()))) or "CLOSED_PLANAR"
            segments.append(
                Segment(
                    number=number,
                    label=roi["name"],
                    color=self.colors.get(number, default_color(number)),
                    kind=kind,
                    description=roi["description"],
                    property_type=interpreted.get(number, ""),
                    algorithm=roi["algorithm"],
                )
            )
        filled = {k[0] for k in (*self.closed, *self.points)}
        empty = [s for s in segments if s.number not in self.wrong_for and s.number not in filled]
        if empty:
            names = ", ".join(f"{s.number} {s.label!r}" for s in empty[:8])
            note("info", "empty-segment", f"{len(empty)} ROI(s) have no filled voxels: {names}")
        return segments

    def source(self) -> SliceSource:
        """Masks rasterised on demand, one (ROI, slice) at a time, and the polylines."""
        slices: dict[int, list[int]] = {}
        for number, k in {*self.closed, *self.points}:
            slices.setdefault(number, []).append(k)
        slices = {n: sorted(ks) for n, ks in slices.items()}
        shape2 = self.grid.shape[1:]
        closed, points = self.closed, self.points

        def values(number: int, k: int) -> np.ndarray | None:
            polys = closed.get((number, k))
            out = rasterize_polygons(polys, shape2) if polys else np.zeros(shape2, bool)
            for r, c in points.get((number, k), ()):
                out[r, c] = True
            return out

        return SliceSource(slices, values, polylines=self.polylines)


def read_rtstruct(
    source: Any,
    grid: Grid,
    *,
    series: object = None,
    strict: bool = True,
    tolerance_mm: float | None = None,
) -> Segmentation:
    """Read an RTSTRUCT and place its contours on ``grid`` (see :func:`load_segmentation`).

    The steps: check the object (:func:`_check_rtstruct`); read the ROI table
    (:func:`_roi_table`) and references; place every contour by its plane
    (:class:`_ContourPlacer`), refusing another Frame of Reference; report; build the
    segments and a slice source that rasterises on demand.
    """
    ds, path = _read(source)
    where = path or "<dataset>"
    _check_rtstruct(ds, where, grid)
    findings: list[Finding] = []
    paths = (path,) if path else ()

    def note(severity: str, code: str, message: str) -> None:
        findings.append(Finding(severity, code, message, paths))

    rois, interpreted = _roi_table(ds, note)
    frame_of_reference, referenced_series = _rt_references(ds)
    tol = tolerance_mm if tolerance_mm is not None else min(0.5, 0.25 * grid.slice_spacing)
    placer = _ContourPlacer(grid, rois, frame_of_reference, tol)
    for roi_item in safe_get(ds, "ROIContourSequence", None) or []:
        placer.add_roi(roi_item, note)
    placer.refuse_other_frames(where, strict, note)
    placer.report(note)
    segments = placer.segments(interpreted, note)
    return Segmentation(
        segments,
        grid,
        placer.source(),
        findings=findings,
        modality="RTSTRUCT",
        path=path or "",
        series=series,
        frame_of_reference=frame_of_reference,
        referenced_series_uid=referenced_series,
    )
