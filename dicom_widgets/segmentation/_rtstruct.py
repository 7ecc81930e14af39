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
    """Append the pixel centres lying exactly on the edges (y0, x0) -> (y1, x1)."""
    eps = 1e-6
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


def read_rtstruct(
    source: Any,
    grid: Grid,
    *,
    series: object = None,
    strict: bool = True,
    tolerance_mm: float | None = None,
) -> Segmentation:
    """Read an RTSTRUCT and place its contours on ``grid`` (see :func:`load_segmentation`)."""
    ds, path = _read(source)
    where = path or "<dataset>"
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
    findings: list[Finding] = []
    paths = (path,) if path else ()

    def note(severity: str, code: str, message: str) -> None:
        findings.append(Finding(severity, code, message, paths))

    # --- ROIs ---------------------------------------------------------------------------
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

    tol = tolerance_mm if tolerance_mm is not None else min(0.5, 0.25 * grid.slice_spacing)
    polylines: dict[int, list[Polyline]] = {}
    closed: dict[tuple[int, int], list[np.ndarray]] = {}
    points: dict[tuple[int, int], list[tuple[int, int]]] = {}
    kinds: dict[int, set[str]] = {}
    colors: dict[int, tuple[int, int, int]] = {}
    off_plane: list[str] = []
    not_planar: list[str] = []
    outside: list[str] = []
    degenerate: list[str] = []
    crossing: list[str] = []
    absent: list[str] = []
    disagree: list[str] = []
    wrong_for: dict[int, str] = {}
    for roi_item in safe_get(ds, "ROIContourSequence", None) or []:
        number = _int(safe_get(roi_item, "ReferencedROINumber"))
        if number is None:
            continue
        if number not in rois:
            rois[number] = {"name": f"ROI {number}", "description": "", "algorithm": "", "for": ""}
            note(
                "warning",
                "roi-undescribed",
                f"ROI {number} has contours but no Structure Set ROI entry",
            )
        roi_for = rois[number]["for"] or frame_of_reference
        if grid.frame_of_reference and roi_for and roi_for != grid.frame_of_reference:
            wrong_for[number] = roi_for
            continue
        color = safe_get(roi_item, "ROIDisplayColor")
        try:
            rgb = tuple(int(v) for v in color)
            colors[number] = (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else default_color(number)
        except (TypeError, ValueError):
            colors[number] = default_color(number)
        name = rois[number]["name"]
        for c_index, contour in enumerate(safe_get(roi_item, "ContourSequence", None) or []):
            label = f"ROI {number} {name!r} contour {c_index + 1}"
            kind = str(safe_get(contour, "ContourGeometricType", "") or "CLOSED_PLANAR").upper()
            kinds.setdefault(number, set()).add(kind)
            data = _contour_data(contour)
            if data.size < 3 or data.size % 3 or not np.all(np.isfinite(data)):
                degenerate.append(f"{label}: {data.size} coordinate values")
                continue
            voxels = grid.to_voxels(data.reshape(-1, 3))
            k_values = voxels[:, 0]
            k_near = int(round(float(np.median(k_values))))
            distance = np.abs(k_values - k_near) * grid.slice_spacing
            if float(distance.max()) > tol:
                spread = (float(k_values.max()) - float(k_values.min())) * grid.slice_spacing
                if spread > tol:
                    not_planar.append(f"{label} spans {spread:.2f} mm across slices")
                else:
                    off_plane.append(
                        f"{label} at z={data[2]:.2f} lies {float(distance.max()):.2f} mm from slice {k_near}"
                    )
                continue
            if not 0 <= k_near < grid.shape[0]:
                outside.append(f"{label} (slice {k_near})")
                continue
            for image in safe_get(contour, "ContourImageSequence", None) or []:
                uid = str(safe_get(image, "ReferencedSOPInstanceUID", "") or "")
                frame = _int(safe_get(image, "ReferencedFrameNumber")) or 1
                k_ref = grid.slice_of_reference(uid, frame - 1)
                if k_ref is None:
                    absent.append(f"{label} -> {uid}")
                elif k_ref != k_near:
                    disagree.append(f"{label}: plane at slice {k_near}, image at slice {k_ref}")
            rc = voxels[:, 1:]
            polylines.setdefault(number, []).append(
                Polyline(k_near, rc, kind == "CLOSED_PLANAR", kind)
            )
            if kind == "POINT":
                for r, c in np.rint(rc).astype(int):
                    if 0 <= r < grid.shape[1] and 0 <= c < grid.shape[2]:
                        points.setdefault((number, k_near), []).append((int(r), int(c)))
            elif kind == "CLOSED_PLANAR":
                unique = np.unique(np.round(rc, 6), axis=0)
                area = 0.5 * abs(
                    float(
                        np.dot(rc[:, 0], np.roll(rc[:, 1], -1))
                        - np.dot(rc[:, 1], np.roll(rc[:, 0], -1))
                    )
                )
                # A self-intersecting polygon's signed lobes can cancel to zero area.
                crosses = len(unique) >= 4 and _self_intersects(rc)
                if len(unique) < 3 or (area < 1e-9 and not crosses):
                    degenerate.append(
                        f"{label}: {len(unique)} distinct point(s), area {area:.3g} px"
                    )
                    continue
                if crosses:
                    crossing.append(f"{label} on slice {k_near}")
                closed.setdefault((number, k_near), []).append(rc)
    if wrong_for:
        detail = "; ".join(
            f"ROI {n} {rois[n]['name']!r}: {u}" for n, u in list(wrong_for.items())[:3]
        )
        message = (
            f"{where}: {len(wrong_for)} ROI(s) lie in another Frame of Reference than the "
            f"series' {grid.frame_of_reference} ({detail}); they would be drawn in the wrong place"
        )
        if strict:
            raise GeometryError(
                message + " (pass strict=False to load them undrawn with a finding)"
            )
        note("error", "frame-of-reference", message + "; they are not drawn")

    def _report(severity: str, code: str, text: str, items: list[str]) -> None:
        report_items(note, severity, code, text, items)

    _report(
        "warning", "off-plane", "contour(s) lie off every slice plane and are not drawn", off_plane
    )
    _report(
        "warning",
        "not-planar",
        "contour(s) are not parallel to the slices and are not drawn",
        not_planar,
    )
    _report("warning", "outside", "contour(s) lie outside the series and are not drawn", outside)
    _report(
        "warning",
        "degenerate",
        "degenerate contour(s) (too few points or no area) are not filled",
        degenerate,
    )
    _report(
        "warning",
        "self-intersecting",
        "self-intersecting contour(s), filled by the even-odd rule",
        crossing,
    )
    _report(
        "warning",
        "absent-reference",
        "contour(s) reference images that are not in the series",
        absent,
    )
    _report(
        "warning",
        "reference-mismatch",
        "contour(s) whose plane and referenced image disagree; placed by their plane",
        disagree,
    )
    open_rois = [n for n, ks in kinds.items() if "OPEN_PLANAR" in ks]
    if open_rois:
        note(
            "info",
            "open-contours",
            f"OPEN_PLANAR contours of ROI(s) {open_rois} are drawn as lines, not filled",
        )

    segments = []
    for number, roi in rois.items():
        kind = "+".join(sorted(kinds.get(number, set()))) or "CLOSED_PLANAR"
        segments.append(
            Segment(
                number=number,
                label=roi["name"],
                color=colors.get(number, default_color(number)),
                kind=kind,
                description=roi["description"],
                property_type=interpreted.get(number, ""),
                algorithm=roi["algorithm"],
            )
        )
    empty = [
        s
        for s in segments
        if s.number not in wrong_for and not any(k[0] == s.number for k in (*closed, *points))
    ]
    if empty:
        names = ", ".join(f"{s.number} {s.label!r}" for s in empty[:8])
        note("info", "empty-segment", f"{len(empty)} ROI(s) have no filled voxels: {names}")
    slices: dict[int, list[int]] = {}
    for number, k in {*closed, *points}:
        slices.setdefault(number, []).append(k)
    slices = {n: sorted(ks) for n, ks in slices.items()}
    shape2 = grid.shape[1:]

    def values(number: int, k: int) -> np.ndarray | None:
        polys = closed.get((number, k))
        out = rasterize_polygons(polys, shape2) if polys else np.zeros(shape2, bool)
        for r, c in points.get((number, k), ()):
            out[r, c] = True
        return out

    return Segmentation(
        segments,
        grid,
        SliceSource(slices, values, polylines=polylines),
        findings=findings,
        modality="RTSTRUCT",
        path=path or "",
        series=series,
        frame_of_reference=frame_of_reference,
        referenced_series_uid=referenced_series,
    )
