"""The :class:`Segmentation` object: segments placed on a series grid, decoded per slice.

Every reader (SEG, RTSTRUCT, NIfTI, numpy) produces a :class:`SliceSource`: the list of
slices each segment touches (known from the headers, without decoding) and a function
that gives one segment's values on one slice. :class:`Segmentation` builds volumes,
statistics and tables from those slices, so the first overlaid slice of a 100-segment
SEG costs one slice's frames, not the whole file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..series._findings import Finding
from ._grid import Grid

__all__ = ["Segment", "Segmentation", "SliceSource", "Polyline"]


@dataclass(frozen=True)
class Segment:
    """One segment (SEG) or ROI (RTSTRUCT) or label value (NIfTI / numpy).

    Attributes
    ----------
    number : int
        Segment Number / ROI Number / label value.
    label : str
        Segment Label / ROI Name / the name given to a label value.
    color : tuple of int
        Display colour, sRGB 0-255.
    kind : str
        ``"BINARY"``, ``"FRACTIONAL"``, ``"LABELMAP"`` (SEG), ``"CLOSED_PLANAR"``,
        ``"POINT"``, ``"OPEN_PLANAR"`` or a mix joined by ``+`` (RTSTRUCT), ``"LABEL"``
        (NIfTI / numpy).
    description : str
        Segment Description / ROI Description.
    category, property_type : str
        Code meanings of the segmented property category and type (SEG), the RT ROI
        Interpreted Type (RTSTRUCT).
    algorithm : str
        Segment Algorithm Type and Name (SEG), ROI Generation Algorithm (RTSTRUCT).

    Examples
    --------
    >>> Segment(1, "Liver", (221, 130, 101), "BINARY").label
    'Liver'
    """

    number: int
    label: str
    color: tuple[int, int, int]
    kind: str
    description: str = ""
    category: str = ""
    property_type: str = ""
    algorithm: str = ""


@dataclass(frozen=True)
class Polyline:
    """One RT contour on one slice, in fractional (row, col) voxel coordinates of that slice.

    Attributes
    ----------
    slice : int
        Slice index.
    points : numpy.ndarray
        (N, 2) array of (row, col); pixel centres are integers.
    closed : bool
        True for CLOSED_PLANAR (the last point joins the first).
    kind : str
        The Contour Geometric Type.
    """

    slice: int
    points: np.ndarray
    closed: bool
    kind: str


@dataclass
class SliceSource:
    """What a reader hands to :class:`Segmentation`.

    Attributes
    ----------
    slices : dict
        Segment number -> sorted slice indices where it may have voxels.
    values : callable
        ``values(number, slice)`` -> 2-D array (bool, or float32 in [0, 1] for
        fractional data) or ``None`` when the segment is empty there.
    fractional : bool
        Values are probabilities / occupancies rather than booleans.
    polylines : dict
        Segment number -> its contours (RTSTRUCT only).
    label_slice : callable, optional
        ``label_slice(slice)`` -> 2-D integer array of segment numbers, when the source
        is a label map (faster than one call per segment).
    """

    slices: dict[int, list[int]]
    values: Callable[[int, int], np.ndarray | None]
    fractional: bool = False
    polylines: dict[int, list[Polyline]] = field(default_factory=dict)
    label_slice: Callable[[int], np.ndarray | None] | None = None


class Segmentation:
    """Segments placed voxel by voxel on a series, with their QA findings.

    Build it with :func:`dicom_widgets.load_segmentation`. Masks are aligned to the
    series: ``seg.mask(1)[k]`` covers ``series.frame(k)``. Slices are decoded (or
    rasterised) on demand and a few are cached, so memory stays bounded for SEGs with
    hundreds of segments.

    Examples
    --------
    >>> import numpy as np
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> series = dw.load_series(ct_phantom(n_slices=4, size=16), progress=False)
    >>> labels = np.zeros(series.shape, np.uint8); labels[1:3, 4:8, 4:8] = 2
    >>> seg = dw.load_segmentation(labels, series, labels={2: "box"})
    >>> seg.segments[0].label, int(seg.mask("box").sum())
    ('box', 32)
    """

    def __init__(
        self,
        segments: Sequence[Segment],
        grid: Grid,
        source: SliceSource,
        *,
        findings: Iterable[Finding] = (),
        modality: str = "",
        path: str = "",
        series: object = None,
        frame_of_reference: str = "",
        referenced_series_uid: str = "",
        cache_slices: int = 64,
    ) -> None:
        self._segments = list(segments)
        self._by_number = {s.number: s for s in self._segments}
        self.grid = grid
        self._source = source
        self._findings = list(findings)
        #: ``"SEG"``, ``"RTSTRUCT"``, ``"NIFTI"`` or ``"ARRAY"``.
        self.modality = modality
        #: The file read ("" for arrays and datasets).
        self.path = path
        #: The series the segments are placed on (``None`` for a SEG on its own grid).
        self.series = series
        self.frame_of_reference = frame_of_reference
        self.referenced_series_uid = referenced_series_uid
        self._cache: OrderedDict[tuple[int, int], np.ndarray | None] = OrderedDict()
        self._cache_slices = max(1, int(cache_slices))
        self._lock = threading.Lock()
        #: Overlapping pairs, once a full decode has counted them (see :meth:`overlaps`).
        self._overlaps: list[tuple[int, int, int]] | None = None

    # ------------------------------------------------------------------ segments
    @property
    def segments(self) -> list[Segment]:
        """The segments, in file order."""
        return list(self._segments)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, cols) of the masks: the series' shape."""
        return self.grid.shape

    @property
    def fractional(self) -> bool:
        """True when values are probabilities or occupancies (FRACTIONAL SEG)."""
        return self._source.fractional

    @property
    def findings(self) -> list[Finding]:
        """Geometry and content findings, each naming what and where."""
        return list(self._findings)

    def segment(self, segment: int | str | Segment) -> Segment:
        """The :class:`Segment` with this number or label.

        Raises
        ------
        KeyError
            For an unknown number or label (the message lists the known ones).
        """
        if isinstance(segment, Segment):
            segment = segment.number
        if isinstance(segment, (int, np.integer)) and not isinstance(segment, bool):
            found = self._by_number.get(int(segment))
            if found is not None:
                return found
        elif isinstance(segment, str):
            matches = [s for s in self._segments if s.label == segment]
            if not matches:
                matches = [s for s in self._segments if s.label.lower() == segment.lower()]
            if matches:
                return matches[0]
        known = ", ".join(f"{s.number}: {s.label!r}" for s in self._segments[:20])
        raise KeyError(f"no segment {segment!r} in this segmentation; segments are {known}")

    def slices(self, segment: int | str | Segment) -> list[int]:
        """Slice indices where ``segment`` may have voxels (from the headers; no decoding)."""
        return list(self._source.slices.get(self.segment(segment).number, []))

    # ------------------------------------------------------------------ per slice
    def _values(self, number: int, k: int) -> np.ndarray | None:
        key = (number, k)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = self._source.values(number, k)
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._cache_slices:
                self._cache.popitem(last=False)
        return value

    def slice_mask(self, segment: int | str | Segment, index: int) -> np.ndarray:
        """Boolean (rows, cols) mask of ``segment`` on slice ``index`` (decodes that slice only)."""
        number = self.segment(segment).number
        rows, cols = self.shape[1:]
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"slice {index} out of range for {self.shape[0]} slices")
        if index not in self._source.slices.get(number, ()):
            return np.zeros((rows, cols), bool)
        values = self._values(number, index)
        if values is None:
            return np.zeros((rows, cols), bool)
        return _as_mask(values)

    def slice_probabilities(self, segment: int | str | Segment, index: int) -> np.ndarray:
        """Float32 (rows, cols) values in [0, 1] of ``segment`` on slice ``index``."""
        number = self.segment(segment).number
        values = (
            self._values(number, index) if index in self._source.slices.get(number, ()) else None
        )
        if values is None:
            return np.zeros(self.shape[1:], np.float32)
        return values.astype(np.float32, copy=False)

    def slice_labels(self, index: int, segments: Iterable[int] | None = None) -> np.ndarray:
        """Segment numbers on slice ``index`` as (rows, cols) uint16 (0 = none).

        Where segments overlap, the one listed last (in :attr:`segments` order) wins.
        """
        wanted = None if segments is None else {self.segment(s).number for s in segments}
        if self._source.label_slice is not None and wanted is None:
            labels = self._source.label_slice(index)
            if labels is not None:
                return labels.astype(np.uint16, copy=False)
            return np.zeros(self.shape[1:], np.uint16)
        out = np.zeros(self.shape[1:], np.uint16)
        for seg in self._segments:
            if wanted is not None and seg.number not in wanted:
                continue
            if index in self._source.slices.get(seg.number, ()):
                out[self.slice_mask(seg.number, index)] = seg.number
        return out

    def contours(self, segment: int | str | Segment, index: int | None = None) -> list[Polyline]:
        """The RT contours of ``segment`` (on slice ``index`` only, when given).

        Empty for SEG, NIfTI and numpy sources, which have no polylines.
        """
        lines = self._source.polylines.get(self.segment(segment).number, [])
        return [p for p in lines if index is None or p.slice == index]

    # ------------------------------------------------------------------ volumes
    def mask(self, segment: int | str | Segment) -> np.ndarray:
        """Boolean (slices, rows, cols) mask of ``segment``, aligned to the series.

        For FRACTIONAL data it is true where the value is at least half the maximum.

        Examples
        --------
        >>> import numpy as np
        >>> import dicom_widgets as dw
        >>> from dicom_widgets.data import ct_phantom
        >>> series = dw.load_series(ct_phantom(n_slices=2, size=8), progress=False)
        >>> seg = dw.load_segmentation(np.ones(series.shape, bool), series)
        >>> seg.mask(1).shape
        (2, 8, 8)
        """
        out = np.zeros(self.shape, bool)
        for k, values in self._decoded(self.segment(segment).number):
            out[k] = _as_mask(values)
        return out

    def probabilities(self, segment: int | str | Segment) -> np.ndarray:
        """Float32 (slices, rows, cols) values in [0, 1] (1.0 inside a binary mask)."""
        out = np.zeros(self.shape, np.float32)
        for k, values in self._decoded(self.segment(segment).number):
            out[k] = values
        return out

    def label_volume(self) -> np.ndarray:
        """Segment numbers on the series grid, (slices, rows, cols), 0 where none.

        uint8 when every number fits, else uint16. Where segments overlap (BINARY or
        FRACTIONAL SEGs may), the one listed last in :attr:`segments` wins, as in
        :meth:`slice_labels` and the viewer; the overlaps are counted on the way and a
        SEG's are reported in :attr:`findings` (see :meth:`overlaps`).
        """
        top = max((s.number for s in self._segments), default=0)
        dtype = np.uint8 if top < 256 else np.uint16
        out = np.zeros(self.shape, dtype)
        if self._source.label_slice is not None:
            touched = sorted({k for ks in self._source.slices.values() for k in ks})
            for k in touched:
                labels = self._source.label_slice(k)
                if labels is not None:
                    out[k] = labels
            return out
        counts: dict[tuple[int, int], int] = {}
        for k, numbers in sorted(self._segments_by_slice().items()):
            masks = self._slice_masks(numbers, k)
            for number, inside in masks:  # in segment order: the last one wins
                out[k][inside] = number
            _count_overlaps(masks, counts)
        self._found_overlaps(counts)
        return out

    def overlaps(self) -> list[tuple[int, int, int]]:
        """Pairs of segments that share voxels: ``(number, other number, voxels)``, most first.

        Only slices where two or more segments have frames are decoded. A FRACTIONAL
        segment covers the voxels where its mask (:meth:`mask`) is true. Label maps
        cannot overlap. For a SEG, overlaps found are also reported in :attr:`findings`
        (``"overlap"``); RT structures nest by design (a body contains its organs) and
        are not reported.

        Examples
        --------
        >>> import numpy as np
        >>> import dicom_widgets as dw
        >>> from dicom_widgets.data import ct_phantom
        >>> series = dw.load_series(ct_phantom(n_slices=2, size=8), progress=False)
        >>> seg = dw.load_segmentation(np.ones(series.shape, np.uint8), series)
        >>> seg.overlaps()
        []
        """
        if self._overlaps is None:
            counts: dict[tuple[int, int], int] = {}
            if self._source.label_slice is None:
                for k, numbers in sorted(self._segments_by_slice().items()):
                    if len(numbers) > 1:
                        _count_overlaps(self._slice_masks(numbers, k), counts)
            self._found_overlaps(counts)
        assert self._overlaps is not None
        return list(self._overlaps)

    def _segments_by_slice(self) -> dict[int, list[int]]:
        """Slice -> the segment numbers with data there, in segment order (from the headers)."""
        by_slice: dict[int, list[int]] = {}
        for seg in self._segments:
            for k in self._source.slices.get(seg.number, ()):
                by_slice.setdefault(k, []).append(seg.number)
        return by_slice

    def _slice_masks(self, numbers: list[int], k: int) -> list[tuple[int, np.ndarray]]:
        """(number, mask) on slice ``k`` of the segments that decode, decoded past the cache."""
        masks = []
        for number in numbers:
            values = self._source.values(number, k)
            if values is not None:
                masks.append((number, _as_mask(values)))
        return masks

    def _found_overlaps(self, counts: dict[tuple[int, int], int]) -> None:
        """Keep the overlaps counted, and report them once (SEG only, see :meth:`overlaps`)."""
        first = self._overlaps is None
        self._overlaps = sorted(
            ((a, b, n) for (a, b), n in counts.items() if n), key=lambda t: (-t[2], t[0], t[1])
        )
        if not (first and self._overlaps and self.modality == "SEG"):
            return
        label = {s.number: s.label for s in self._segments}
        shown = "; ".join(
            f"{a} {label.get(a, '')!r} and {b} {label.get(b, '')!r}: {n} voxel(s)"
            for a, b, n in self._overlaps[:5]
        )
        more = f"; and {len(self._overlaps) - 5} more pair(s)" if len(self._overlaps) > 5 else ""
        self._findings.append(
            Finding(
                "warning",
                "overlap",
                f"{len(self._overlaps)} pair(s) of segments overlap: {shown}{more}; the label "
                "volume and the viewer show the segment listed later there",
                (self.path,) if self.path else (),
            )
        )

    def _decoded(self, number: int) -> Iterator[tuple[int, np.ndarray]]:
        """(slice, values) of segment ``number`` on every slice that has data, decoded in turn.

        Whole-volume reads go past the per-slice cache (they would only flush it).
        """
        for k in self._source.slices.get(number, ()):
            values = self._source.values(number, k)
            if values is not None:
                yield k, values

    # ------------------------------------------------------------------ tables
    @property
    def n_slice_frames(self) -> int:
        """How many (segment, slice) pairs hold data: the work a full decode does."""
        return sum(len(ks) for ks in self._source.slices.values())

    def statistics(self, *, values: bool = True) -> list[dict[str, Any]]:
        """One dict per segment: voxels, volume_ml, series values inside, bbox, slices.

        Values come from ``series.frame(k)`` (HU for CT), read once per slice; without
        a series, or with ``values=False``, the value columns are NaN. Used by
        :meth:`to_dataframe` and the HTML repr.
        """
        n_seg = len(self._segments)
        count = np.zeros(n_seg, np.int64)
        total = np.zeros(n_seg)
        total_sq = np.zeros(n_seg)
        lo = np.full(n_seg, np.inf)
        hi = np.full(n_seg, -np.inf)
        bbox_lo = np.full((n_seg, 3), np.iinfo(np.int64).max)
        bbox_hi = np.full((n_seg, 3), -1)
        by_slice: dict[int, list[int]] = {}
        for i, seg in enumerate(self._segments):
            for k in self._source.slices.get(seg.number, ()):
                by_slice.setdefault(k, []).append(i)
        has_values = values and self.series is not None
        for k in sorted(by_slice):
            image = None
            if has_values:
                try:
                    image = np.asarray(self.series.frame(k), dtype=np.float64)  # type: ignore[attr-defined]
                    if image.ndim != 2:
                        image = None
                except Exception:  # noqa: BLE001 - an undecodable slice leaves NaN statistics
                    image = None
            for i in by_slice[k]:
                inside = self.slice_mask(self._segments[i].number, k)
                n = int(np.count_nonzero(inside))
                if not n:
                    continue
                count[i] += n
                rows = np.flatnonzero(inside.any(axis=1))
                cols = np.flatnonzero(inside.any(axis=0))
                bbox_lo[i] = np.minimum(bbox_lo[i], (k, rows[0], cols[0]))
                bbox_hi[i] = np.maximum(bbox_hi[i], (k, rows[-1], cols[-1]))
                if image is not None:
                    vals = image[inside]
                    total[i] += float(vals.sum())
                    total_sq[i] += float((vals * vals).sum())
                    lo[i] = min(lo[i], float(vals.min()))
                    hi[i] = max(hi[i], float(vals.max()))
        voxel_ml = self.grid.voxel_volume_mm3 / 1000.0
        out = []
        for i, seg in enumerate(self._segments):
            n = int(count[i])
            valued = n and has_values and np.isfinite(lo[i])
            mean = total[i] / n if valued else float("nan")
            var = max(0.0, total_sq[i] / n - mean * mean) if valued else float("nan")
            out.append(
                {
                    "number": seg.number,
                    "label": seg.label,
                    "kind": seg.kind,
                    "color": "#{:02x}{:02x}{:02x}".format(*seg.color),
                    "voxels": n,
                    "volume_ml": n * voxel_ml,
                    "mean": mean,
                    "std": float(np.sqrt(var)) if valued else float("nan"),
                    "min": float(lo[i]) if valued else float("nan"),
                    "max": float(hi[i]) if valued else float("nan"),
                    "bbox": (
                        tuple(int(x) for x in bbox_lo[i]) + tuple(int(x) for x in bbox_hi[i])
                        if n
                        else None
                    ),
                    "first_slice": int(bbox_lo[i][0]) if n else None,
                    "last_slice": int(bbox_hi[i][0]) if n else None,
                    "slices_spanned": int(bbox_hi[i][0] - bbox_lo[i][0] + 1) if n else 0,
                }
            )
        return out

    def to_dataframe(self) -> Any:
        """One row per segment: number, label, kind, colour, voxels, volume_ml, the mean,
        std, min and max of the series values inside (HU for CT), the bounding box
        (slice, row, col of both corners, inclusive) and the slices spanned.

        Raises
        ------
        MissingDependencyError
            Without pandas (``pip install "dicom-widgets[analysis]"``).

        Examples
        --------
        >>> import numpy as np
        >>> import dicom_widgets as dw
        >>> from dicom_widgets.data import ct_phantom
        >>> series = dw.load_series(ct_phantom(n_slices=2, size=8), progress=False)
        >>> seg = dw.load_segmentation(np.ones(series.shape, bool), series)
        >>> int(seg.to_dataframe().loc[0, "voxels"])
        128
        """
        from ..series._export import require

        pd = require("pandas")
        rows = self.statistics()
        return pd.DataFrame(
            rows,
            columns=[
                "number",
                "label",
                "kind",
                "color",
                "voxels",
                "volume_ml",
                "mean",
                "std",
                "min",
                "max",
                "bbox",
                "first_slice",
                "last_slice",
                "slices_spanned",
            ],
        )

    # ------------------------------------------------------------------ reprs
    def __repr__(self) -> str:
        where = f" on series {self.grid.series_uid}" if self.grid.series_uid else ""
        shown = ", ".join(f"{s.number}:{s.label}" for s in self._segments[:6])
        more = f", ... {len(self._segments) - 6} more" if len(self._segments) > 6 else ""
        return (
            f"<Segmentation {self.modality} {len(self._segments)} segment(s) [{shown}{more}]"
            f"{where}, shape {self.shape}, {len(self._findings)} finding(s)>"
        )

    def _repr_html_(self) -> str:
        from ..html import html_or_pre
        from ..html.segmentation import segmentation_html

        return html_or_pre(segmentation_html, self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


def _as_mask(values: np.ndarray) -> np.ndarray:
    """A slice's values as a mask: binary as is, FRACTIONAL where at least half the maximum."""
    return values if values.dtype == bool else values >= 0.5


def _count_overlaps(
    masks: list[tuple[int, np.ndarray]], counts: dict[tuple[int, int], int]
) -> None:
    """Add the voxels each pair of ``masks`` (one slice) shares to ``counts[(a, b)]``, a before b."""
    if len(masks) < 2:
        return
    coverage = np.zeros(masks[0][1].shape, np.uint8 if len(masks) < 256 else np.uint16)
    for _, mask in masks:
        coverage += mask
    shared = coverage >= 2
    if not shared.any():
        return
    # Only the voxels under two or more segments: a few, even with 100 segments per slice.
    covered = np.stack([mask[shared] for _, mask in masks]).astype(np.int64)
    pairs = covered @ covered.T
    for i, j in zip(*np.nonzero(np.triu(pairs, 1))):
        key = (masks[i][0], masks[j][0])
        counts[key] = counts.get(key, 0) + int(pairs[i, j])
