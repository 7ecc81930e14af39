"""DICOM SEG reader on pydicom alone: frames placed by geometry, decoded per slice.

BINARY (1-bit packed, frames may start inside a byte), FRACTIONAL (8-bit, scaled by
Maximum Fractional Value) and LABELMAP (Label Map Segmentation Storage, 8/16-bit segment
numbers) are read. The headers say where every frame lies (Plane Position (Patient) and
the source image references); pixel data stays on disk and a frame's bytes are read
only when a slice is asked for. highdicom is not needed to read.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .. import _compat
from .._compat import safe_get
from ..errors import DicomReadError, GeometryError
from ..series._findings import Finding
from ._color import cielab_to_rgb, default_color
from ._grid import Grid
from ._model import Segment, Segmentation, SliceSource
from ._perframe import read_per_frame

__all__ = ["read_seg", "seg_grid", "SEG_SOP_CLASS", "LABELMAP_SOP_CLASS"]

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
_PIXEL_DATA = 0x7FE00010
_PER_FRAME = 0x52009230
_NATIVE_SYNTAXES = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
}
#: Values larger than this stay on disk until a frame is asked for.
_DEFER_BYTES = 1 << 16


def _first(ds: Dataset | None, keyword: str) -> Dataset | None:
    seq = safe_get(ds, keyword)
    try:
        return seq[0] if seq else None
    except (TypeError, IndexError):
        return None


def _floats(value: Any, n: int) -> np.ndarray | None:
    try:
        arr = np.array([float(v) for v in value], float)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (n,) and np.all(np.isfinite(arr)) else None


def _code_meaning(item: Dataset, keyword: str) -> str:
    code = _first(item, keyword)
    return str(safe_get(code, "CodeMeaning", "") or "") if code is not None else ""


def _functional(ds: Dataset, per_frame: Dataset | None, outer: str, keyword: str) -> Any:
    """A value of a functional group macro: per-frame first, then shared."""
    for groups in (per_frame, _first(ds, "SharedFunctionalGroupsSequence")):
        item = _first(groups, outer)
        if item is not None:
            value = safe_get(item, keyword)
            if value is not None and value != "":
                return value
    return None


def _segments(ds: Dataset, labelmap: bool) -> list[Segment]:
    kind = "LABELMAP" if labelmap else str(safe_get(ds, "SegmentationType", "BINARY") or "BINARY")
    out = []
    for item in safe_get(ds, "SegmentSequence", None) or []:
        try:
            number = int(item.SegmentNumber)
        except (AttributeError, TypeError, ValueError):
            continue
        lab = _floats(safe_get(item, "RecommendedDisplayCIELabValue"), 3)
        color = cielab_to_rgb(lab) if lab is not None else default_color(number)
        algorithm = " ".join(
            str(safe_get(item, k, "") or "")
            for k in ("SegmentAlgorithmType", "SegmentAlgorithmName")
        ).strip()
        out.append(
            Segment(
                number=number,
                label=str(safe_get(item, "SegmentLabel", "") or f"Segment {number}"),
                color=color,
                kind=kind,
                description=str(safe_get(item, "SegmentDescription", "") or ""),
                category=_code_meaning(item, "SegmentedPropertyCategoryCodeSequence"),
                property_type=_code_meaning(item, "SegmentedPropertyTypeCodeSequence"),
                algorithm=algorithm,
            )
        )
    return out


@dataclass
class _Frame:
    index: int  # 0-based frame number in the file
    segment: int | None  # None for LABELMAP frames
    position: np.ndarray | None
    references: list[tuple[str, int]]  # (SOP instance, 0-based frame) of the source images


def _raw_per_frame(ds: Dataset, path: str | None) -> bytes | None:
    """The undecoded bytes of Per-frame Functional Groups Sequence, when pydicom kept them."""
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if syntax != "1.2.840.10008.1.2.1":
        return None
    raw = ds._dict.get(_PER_FRAME)  # the element itself, before pydicom parses its items
    if not isinstance(raw, RawDataElement):
        return None
    if isinstance(raw.value, bytes):
        return raw.value
    if raw.value is None and path is not None and raw.length not in (0, 0xFFFFFFFF):
        with open(path, "rb") as handle:
            handle.seek(raw.value_tell)
            return handle.read(raw.length)
    return None


def _frames(ds: Dataset, n_frames: int, labelmap: bool, path: str | None = None) -> list[_Frame]:
    raw = _raw_per_frame(ds, path)
    fast = read_per_frame(raw, n_frames) if raw is not None else None
    if fast is not None:
        # Shared groups hold what every frame shares (a single-segment SEG's number...).
        shared_number = None
        shared_position = None
        if not labelmap:
            value = _functional(
                ds, None, "SegmentIdentificationSequence", "ReferencedSegmentNumber"
            )
            shared_number = int(value) if value is not None else None
        shared_position = _floats(
            _functional(ds, None, "PlanePositionSequence", "ImagePositionPatient"), 3
        )
        return [
            _Frame(
                f,
                None if labelmap else (number if number is not None else shared_number),
                position if position is not None else shared_position,
                refs,
            )
            for f, (number, position, refs) in enumerate(fast)
        ]
    per_frame = list(safe_get(ds, "PerFrameFunctionalGroupsSequence", None) or [])
    out = []
    for f in range(n_frames):
        item = per_frame[f] if f < len(per_frame) else None
        number = None
        if not labelmap:
            value = _functional(
                ds, item, "SegmentIdentificationSequence", "ReferencedSegmentNumber"
            )
            try:
                number = int(value) if value is not None else None
            except (TypeError, ValueError):
                number = None
        position = _floats(
            _functional(ds, item, "PlanePositionSequence", "ImagePositionPatient"), 3
        )
        refs: list[tuple[str, int]] = []
        for derivation in safe_get(item, "DerivationImageSequence", None) or []:
            for source in safe_get(derivation, "SourceImageSequence", None) or []:
                uid = str(safe_get(source, "ReferencedSOPInstanceUID", "") or "")
                frames = safe_get(source, "ReferencedFrameNumber")
                try:
                    numbers = [int(v) for v in frames] if frames is not None else [1]
                except TypeError:
                    numbers = [int(frames)]
                if uid:
                    refs.extend((uid, max(0, n - 1)) for n in numbers)
        out.append(_Frame(f, number, position, refs))
    return out


def _geometry(ds: Dataset) -> tuple[np.ndarray | None, tuple[float, float] | None]:
    orientation = _floats(
        _functional(ds, None, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
    )
    if orientation is None:
        orientation = _floats(safe_get(ds, "ImageOrientationPatient"), 6)
    spacing = _floats(_functional(ds, None, "PixelMeasuresSequence", "PixelSpacing"), 2)
    if spacing is None:
        spacing = _floats(safe_get(ds, "PixelSpacing"), 2)
    return orientation, (float(spacing[0]), float(spacing[1])) if spacing is not None else None


def seg_grid(ds: Dataset, positions: Sequence[np.ndarray]) -> Grid | None:
    """A grid made of the SEG's own frame planes (used when no series is at hand).

    Planes are spread evenly from the lowest to the highest frame position along the
    normal, so gaps between frames become empty slices rather than shifting labels.
    """
    orientation, spacing = _geometry(ds)
    if orientation is None or spacing is None or not positions:
        return None
    row_cos, col_cos = orientation[:3], orientation[3:]
    normal = np.cross(row_cos, col_cos)
    pts = np.array(positions, float)
    depth = pts @ normal
    order = np.argsort(depth)
    distinct = np.unique(np.round(depth[order], 3))
    step = float(np.median(np.diff(distinct))) if distinct.size > 1 else 0.0
    if step <= 0:
        for keyword in ("SpacingBetweenSlices", "SliceThickness"):
            value = _functional(ds, None, "PixelMeasuresSequence", keyword)
            try:
                step = float(value) if value is not None else 0.0
            except (TypeError, ValueError):
                step = 0.0
            if step > 0:
                break
    step = step or 1.0
    n = int(round((distinct[-1] - distinct[0]) / step)) + 1 if distinct.size > 1 else 1
    affine = np.eye(4)
    affine[:3, 0] = row_cos * spacing[1]
    affine[:3, 1] = col_cos * spacing[0]
    affine[:3, 2] = normal * step
    affine[:3, 3] = pts[order[0]]
    return Grid(
        (n, int(ds.Rows), int(ds.Columns)),
        affine,
        frame_of_reference=str(safe_get(ds, "FrameOfReferenceUID", "") or ""),
    )


@dataclass
class _Placement:
    """Where one frame lands: slice ``k`` and the in-plane index map (None: identical grid)."""

    k: int
    rows: np.ndarray | None = None  # series row -> frame row (or -1)
    cols: np.ndarray | None = None  # series col -> frame col (or -1)
    transpose: bool = False


class _PixelReader:
    """Reads one frame's stored values, from the file (native data) or through pydicom."""

    def __init__(self, ds: Dataset, path: str | None, n_frames: int) -> None:
        self.rows, self.cols = int(ds.Rows), int(ds.Columns)
        self.bits = int(safe_get(ds, "BitsAllocated", 1) or 1)
        self.path = path
        self._lock = threading.Lock()
        self._ds = ds
        syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
        self.native = syntax in _NATIVE_SYNTAXES or not syntax
        self.big_endian = syntax == "1.2.840.10008.1.2.2"
        self.offset = 0
        self.in_memory: bytes | None = None
        raw = ds._dict.get(_PIXEL_DATA)  # the element itself: no deferred read yet
        self.available = 0
        if raw is None:
            return
        value = getattr(raw, "value", None)
        if self.native and value is None and path is not None and getattr(raw, "value_tell", None):
            self.offset = int(raw.value_tell)
            declared = int(raw.length)
            self.available = max(0, min(declared, os.path.getsize(path) - self.offset))
        elif self.native:
            data = ds.PixelData if value is None else value
            self.in_memory = bytes(data)
            self.available = len(self.in_memory)
        else:
            self.available = -1  # encapsulated: pydicom decodes and reports truncation
        self.n_frames = n_frames

    @property
    def frame_bits(self) -> int:
        return self.rows * self.cols * self.bits

    def complete(self, frame: int) -> bool:
        """Whether the stored bytes hold all of ``frame``."""
        if self.available < 0:
            return True
        end_bit = (frame + 1) * self.frame_bits
        return (end_bit + 7) // 8 <= self.available

    def _bytes(self, start: int, stop: int) -> bytes:
        if self.in_memory is not None:
            return self.in_memory[start:stop]
        assert self.path is not None
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + start)
            return handle.read(stop - start)

    def read(self, frame: int) -> np.ndarray:
        """Stored values of ``frame``: bool for 1-bit, uint8/uint16 otherwise."""
        if not self.native:
            with self._lock:
                return np.asarray(_compat.decode_frame(self._ds, frame))
        n = self.rows * self.cols
        if self.bits == 1:
            start_bit = frame * n
            first, last = start_bit // 8, (start_bit + n + 7) // 8
            chunk = np.frombuffer(self._bytes(first, last), np.uint8)
            skip = start_bit - first * 8
            bits = np.unpackbits(chunk, bitorder="little")[skip : skip + n]
            return bits.view(bool).reshape(self.rows, self.cols)
        size = self.bits // 8
        dtype = np.dtype(f"{'>' if self.big_endian else '<'}u{size}")
        data = np.frombuffer(self._bytes(frame * n * size, (frame + 1) * n * size), dtype)
        return data.reshape(self.rows, self.cols)


def _read_dataset(source: Any) -> tuple[Dataset, str | None]:
    if isinstance(source, Dataset):
        return source, (
            str(source.filename) if isinstance(getattr(source, "filename", None), str) else None
        )
    path = os.fspath(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _compat.read_dataset(path, force=True, defer_size=_DEFER_BYTES)
        _compat.ensure_transfer_syntax(ds)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a read error of this file
        raise DicomReadError(path, f"cannot be read as DICOM: {type(exc).__name__}: {exc}") from exc
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if syntax == "1.2.840.10008.1.2.1.99":  # deflated: offsets in the file mean nothing
        ds = _compat.read_dataset(path, force=True)
    return ds, path


class _Notes:
    """The findings of one read: ``note(severity, code, message)`` adds one naming the file."""

    def __init__(self, path: str | None) -> None:
        self.findings: list[Finding] = []
        self.paths: tuple[str, ...] = (path,) if path else ()

    def __call__(self, severity: str, code: str, message: str) -> None:
        self.findings.append(Finding(severity, code, message, self.paths))

    def decode_failed(self, frame: int, exc: BaseException) -> None:
        _decode_failed(self.findings, self.paths, frame, exc)


@dataclass
class _SegHeader:
    """What a SEG's header says before anything is placed."""

    ds: Dataset
    path: str | None
    where: str
    labelmap: bool
    n_frames: int
    rows: int
    cols: int
    segments: list[Segment]
    frames: list[_Frame]
    frame_of_reference: str
    referenced_series: str

    def result(self, grid: Grid, source: SliceSource, note: _Notes, series: object) -> Segmentation:
        return Segmentation(
            self.segments,
            grid,
            source,
            findings=note.findings,
            modality="SEG",
            path=self.path or "",
            series=series,
            frame_of_reference=self.frame_of_reference,
            referenced_series_uid=self.referenced_series,
        )


def _seg_header(ds: Dataset, path: str | None) -> _SegHeader:
    """Check that ``ds`` is a SEG and read its dimensions, segments and frames."""
    where = path or "<dataset>"
    sop_class = str(safe_get(ds, "SOPClassUID", "") or "")
    labelmap = (
        sop_class == LABELMAP_SOP_CLASS or str(safe_get(ds, "SegmentationType", "")) == "LABELMAP"
    )
    if str(safe_get(ds, "Modality", "")) != "SEG" and sop_class not in (
        SEG_SOP_CLASS,
        LABELMAP_SOP_CLASS,
    ):
        raise DicomReadError(
            where, f"is not a DICOM SEG (Modality {safe_get(ds, 'Modality', '')!r})"
        )
    try:
        n_frames = int(safe_get(ds, "NumberOfFrames", 1) or 1)
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError) as exc:
        raise DicomReadError(
            where, f"SEG without usable Rows/Columns/NumberOfFrames: {exc}"
        ) from exc
    # Segment 0 of a label map is its background: not a segment to list, draw or count.
    segments = [s for s in _segments(ds, labelmap) if not (labelmap and s.number == 0)]
    item = _first(ds, "ReferencedSeriesSequence")
    referenced = str(safe_get(item, "SeriesInstanceUID", "") or "") if item is not None else ""
    return _SegHeader(
        ds,
        path,
        where,
        labelmap,
        n_frames,
        rows,
        cols,
        segments,
        _frames(ds, n_frames, labelmap, path),
        str(safe_get(ds, "FrameOfReferenceUID", "") or ""),
        referenced,
    )


def _target_grid(
    head: _SegHeader, grid: Grid | None, strict: bool, note: _Notes
) -> tuple[Grid, bool]:
    """The grid to place on (the SEG's own without a series) and whether it may be drawn on.

    Another Frame of Reference raises ``GeometryError`` (``strict``) or is noted as an
    error, and then nothing is drawn.
    """
    if grid is None:
        grid = seg_grid(head.ds, [f.position for f in head.frames if f.position is not None])
        if grid is None:
            raise GeometryError(
                f"{head.where}: the SEG has no plane positions/orientation and no series was "
                "given to place it on; pass series=..."
            )
        note("info", "own-grid", "no series given: segments are placed on the SEG's own frame grid")
        return grid, True
    theirs = head.frame_of_reference
    if grid.frame_of_reference and theirs and grid.frame_of_reference != theirs:
        message = (
            f"{head.where}: the SEG's Frame of Reference {theirs} is not the series' "
            f"{grid.frame_of_reference}; its segments would be drawn in the wrong place"
        )
        if strict:
            raise GeometryError(message + " (pass strict=False to load it undrawn with a finding)")
        note("error", "frame-of-reference", message + "; nothing is drawn")
        return grid, False
    if head.referenced_series and grid.series_uid and head.referenced_series != grid.series_uid:
        note(
            "info",
            "other-series",
            f"the SEG references series {head.referenced_series}; placed on series "
            f"{grid.series_uid} by geometry (same Frame of Reference)",
        )
    return grid, True


def _check_segment_numbers(segments: list[Segment], note: _Notes) -> None:
    numbers = [s.number for s in segments]
    if numbers != list(range(1, len(numbers) + 1)):
        note(
            "warning",
            "segment-numbers",
            f"segment numbers are not 1..{len(numbers)} in order: {numbers[:12]}"
            + (" ..." if len(numbers) > 12 else ""),
        )


def _truncated_frames(head: _SegHeader, reader: _PixelReader, note: _Notes) -> set[int]:
    """Frames whose pixel data is missing or cut short (noted as errors)."""
    if reader.available == 0:
        note("error", "no-pixel-data", "the SEG has no Pixel Data: nothing can be drawn")
    truncated = [f.index for f in head.frames if reader.available and not reader.complete(f.index)]
    if truncated:
        note(
            "error",
            "truncated",
            f"Pixel Data holds {reader.available} bytes; frames {truncated[0] + 1}.."
            f"{truncated[-1] + 1} of {head.n_frames} are missing or cut short and are not drawn",
        )
    return set(truncated)


class _FramePlacer:
    """Places SEG frames on a grid by position (and references), collecting what does not fit."""

    def __init__(
        self, head: _SegHeader, grid: Grid, tol: float, own_grid: bool, note: _Notes
    ) -> None:
        self.head, self.grid, self.tol, self.own_grid = head, grid, tol, own_grid
        orientation, spacing = _geometry(head.ds)
        self.in_plane = _in_plane_map(grid, orientation, spacing, head.rows, head.cols)
        if isinstance(self.in_plane, str):
            note("error", "orientation", self.in_plane)
        self.placements: dict[int, _Placement] = {}
        self.off_plane: list[str] = []
        self.outside: list[str] = []
        self.absent: list[str] = []
        self.disagree: list[str] = []
        self.unknown_segment: set[int] = set()
        # All frame positions in series voxels at once (one solve, not one per frame).
        self.voxel_of: dict[int, tuple[float, float, float]] = {}
        placed = [f for f in head.frames if f.position is not None]
        if grid.affine is not None and placed:
            voxels = grid.to_voxels(np.array([f.position for f in placed]))
            self.voxel_of = {f.index: tuple(map(float, v)) for f, v in zip(placed, voxels)}

    def place_all(self, skip: set[int], known: set[int]) -> dict[int, _Placement]:
        for frame in self.head.frames:
            if frame.index in skip:
                continue
            if not self.head.labelmap and (frame.segment is None or frame.segment not in known):
                self.unknown_segment.add(-1 if frame.segment is None else frame.segment)
                continue
            self._place(frame)
        return self.placements

    def _slice_by_reference(self, frame: _Frame) -> int | None:
        if not frame.references or self.own_grid:
            return None
        for uid, number in frame.references:
            found = self.grid.slice_of_reference(uid, number)
            if found is not None:
                return found
        self.absent.append(f"frame {frame.index + 1} -> {frame.references[0][0]}")
        return None

    def _place(self, frame: _Frame) -> None:
        grid, head = self.grid, self.head
        by_ref = self._slice_by_reference(frame)
        label = f"frame {frame.index + 1}" + (
            f" (segment {frame.segment})" if frame.segment else ""
        )
        if (
            frame.position is not None
            and grid.affine is not None
            and not isinstance(self.in_plane, str)
        ):
            k, r0, c0 = self.voxel_of[frame.index]
            k_near = int(round(k))
            if abs(k - k_near) * grid.slice_spacing > self.tol:
                self.off_plane.append(
                    f"{label} at {np.round(frame.position, 2).tolist()} lies "
                    f"{abs(k - k_near) * grid.slice_spacing:.2f} mm from slice {k_near}"
                )
                return
            if not 0 <= k_near < grid.shape[0]:
                self.outside.append(f"{label} (slice {k_near})")
                return
            if by_ref is not None and by_ref != k_near:
                self.disagree.append(
                    f"{label}: position slice {k_near}, referenced image slice {by_ref}"
                )
            self.placements[frame.index] = _place(
                k_near, r0, c0, self.in_plane, grid.shape, head.rows, head.cols
            )
        elif by_ref is not None and (head.rows, head.cols) == grid.shape[1:]:
            self.placements[frame.index] = _Placement(by_ref)
        else:
            self.off_plane.append(f"{label} has neither a usable position nor a referenced image")

    def report(self, note: _Notes) -> None:
        for code, text, items in (
            ("off-plane", "frame(s) do not lie on a slice plane and are not drawn", self.off_plane),
            ("outside", "frame(s) lie outside the series and are not drawn", self.outside),
            (
                "absent-reference",
                "frame(s) reference instances that are not in the series",
                self.absent,
            ),
            (
                "reference-mismatch",
                "frame(s) whose position and referenced image disagree; placed by position",
                self.disagree,
            ),
        ):
            report_items(note, "warning", code, text, items)
        if self.unknown_segment:
            note(
                "warning",
                "unknown-segment",
                f"frames reference segment numbers {sorted(self.unknown_segment)} that the "
                "Segment Sequence does not describe (-1: none); they are not drawn",
            )


def _frame_index(
    head: _SegHeader, placements: dict[int, _Placement], note: _Notes
) -> tuple[dict[tuple[int, int], list[int]], dict[int, list[int]], dict[int, list[int]]]:
    """Which frames make which (segment, slice) and which slice; the slices of each segment."""
    by_key: dict[tuple[int, int], list[int]] = {}
    by_slice: dict[int, list[int]] = {}
    for f, place in placements.items():
        number = head.frames[f].segment
        by_slice.setdefault(place.k, []).append(f)
        if number is not None:
            by_key.setdefault((number, place.k), []).append(f)
    duplicates = [key for key, fs in by_key.items() if len(fs) > 1]
    if duplicates:
        note(
            "info",
            "duplicate-frames",
            f"{len(duplicates)} (segment, slice) pair(s) have several frames, combined: "
            f"e.g. segment {duplicates[0][0]} slice {duplicates[0][1]}",
        )
    slices: dict[int, list[int]] = {}
    if head.labelmap:
        every = sorted(by_slice)
        slices = {s.number: every for s in head.segments}
    else:
        for number, k in by_key:
            slices.setdefault(number, []).append(k)
        slices = {n: sorted(ks) for n, ks in slices.items()}
    empty = [s for s in head.segments if not slices.get(s.number)]
    if empty:
        names = ", ".join(f"{s.number} {s.label!r}" for s in empty[:8])
        note("info", "empty-segment", f"{len(empty)} segment(s) have no frames: {names}")
    return by_key, by_slice, slices


class _SegSlices:
    """Decodes the frames of one (segment, slice), or one slice of a label map, on demand."""

    def __init__(
        self,
        head: _SegHeader,
        reader: _PixelReader,
        placements: dict[int, _Placement],
        index: tuple[dict[tuple[int, int], list[int]], dict[int, list[int]], dict[int, list[int]]],
        shape2: tuple[int, int],
        note: _Notes,
    ) -> None:
        self.head, self.reader, self.placements, self.shape2, self.note = (
            head,
            reader,
            placements,
            shape2,
            note,
        )
        self.by_key, self.by_slice, self.slices = index
        self.fractional = str(safe_get(head.ds, "SegmentationType", "")) == "FRACTIONAL"
        self.max_value = (
            float(safe_get(head.ds, "MaximumFractionalValue", 255) or 255)
            if self.fractional
            else 1.0
        )

    def source(self) -> SliceSource:
        return SliceSource(
            self.slices,
            self.values,
            fractional=self.fractional,
            label_slice=self.label_slice if self.head.labelmap else None,
        )

    def _placed(self, f: int) -> np.ndarray:
        return _apply(self.reader.read(f), self.placements[f], self.shape2)

    def values(self, number: int, k: int) -> np.ndarray | None:
        if self.head.labelmap:
            labels = self.label_slice(k)
            return None if labels is None else labels == number
        out = None
        for f in self.by_key.get((number, k), ()):
            try:
                arr = self._placed(f)
            except Exception as exc:  # noqa: BLE001 - a frame that fails stays undrawn
                self.note.decode_failed(f, exc)
                continue
            if self.fractional:
                arr = np.minimum(arr.astype(np.float32) / np.float32(self.max_value), 1.0)
                out = arr if out is None else np.maximum(out, arr)
            else:
                arr = arr.astype(bool, copy=False)
                out = arr if out is None else out | arr
        return out

    def label_slice(self, k: int) -> np.ndarray | None:
        out = None
        for f in self.by_slice.get(k, ()):
            try:
                arr = self._placed(f)
            except Exception as exc:  # noqa: BLE001
                self.note.decode_failed(f, exc)
                continue
            out = arr if out is None else np.where(arr != 0, arr, out)
        return out


def read_seg(
    source: Any,
    grid: Grid | None,
    *,
    series: object = None,
    strict: bool = True,
    tolerance_mm: float | None = None,
) -> Segmentation:
    """Read a DICOM SEG and place its frames on ``grid`` (see :func:`load_segmentation`).

    The steps: read the header (:func:`_seg_header`); choose the grid and refuse another
    Frame of Reference (:func:`_target_grid`); check segment numbers and pixel data; place
    every frame by position and references (:class:`_FramePlacer`); index the frames by
    (segment, slice) (:func:`_frame_index`); decode them on demand (:class:`_SegSlices`).
    """
    ds, path = _read_dataset(source)
    head = _seg_header(ds, path)
    note = _Notes(path)
    own_grid = grid is None
    grid, drawable = _target_grid(head, grid, strict, note)
    if not drawable:
        return head.result(grid, SliceSource({}, lambda n, k: None), note, series)
    _check_segment_numbers(head.segments, note)
    reader = _PixelReader(ds, path, head.n_frames)
    truncated = _truncated_frames(head, reader, note)
    tol = tolerance_mm if tolerance_mm is not None else min(0.5, 0.25 * grid.slice_spacing)
    placer = _FramePlacer(head, grid, tol, own_grid, note)
    skip = {f.index for f in head.frames} if reader.available == 0 else truncated
    placements = placer.place_all(skip, {s.number for s in head.segments})
    placer.report(note)
    index = _frame_index(head, placements, note)
    slices = _SegSlices(head, reader, placements, index, grid.shape[1:], note)
    return head.result(grid, slices.source(), note, series)


def _decode_failed(
    findings: list[Finding], paths: tuple[str, ...], frame: int, exc: BaseException
) -> None:
    message = f"frame {frame + 1} cannot be decoded and is not drawn: {type(exc).__name__}: {exc}"
    if not any(f.message == message for f in findings):
        findings.append(Finding("error", "decode-failed", message[:400], paths))


def report_items(note: Any, severity: str, code: str, text: str, items: list[str]) -> None:
    """One finding for a list of like problems: the count and the first three, named."""
    if items:
        shown = "; ".join(items[:3]) + (f"; and {len(items) - 3} more" if len(items) > 3 else "")
        note(severity, code, f"{len(items)} {text}: {shown}")


def _in_plane_map(
    grid: Grid,
    orientation: np.ndarray | None,
    spacing: tuple[float, float] | None,
    rows: int,
    cols: int,
) -> tuple[np.ndarray, np.ndarray] | str | None:
    """Voxel steps of one frame column and one frame row in the series, or why not.

    Returns ``None`` when the grid has no geometry (placement by references only).
    """
    if grid.affine is None:
        return None
    if orientation is None or spacing is None:
        if (rows, cols) == grid.shape[1:]:
            return None
        return "the SEG has no orientation or pixel spacing and its frames differ in size from the series"
    to_vox = np.linalg.inv(grid.affine[:3, :3])
    col_step = to_vox @ (orientation[:3] * spacing[1])  # (col, row, slice) per frame column
    row_step = to_vox @ (orientation[3:] * spacing[0])
    if abs(col_step[2]) > 1e-3 or abs(row_step[2]) > 1e-3:
        return (
            "the SEG's frames are not parallel to the series' slices (orientation "
            f"{np.round(orientation, 4).tolist()}); nothing is drawn"
        )
    return col_step, row_step


def _place(
    k: int,
    r0: float,
    c0: float,
    in_plane: tuple[np.ndarray, np.ndarray] | None,
    shape: tuple[int, int, int],
    rows: int,
    cols: int,
) -> _Placement:
    if in_plane is None:
        return _Placement(k)
    col_step, row_step = in_plane  # each (col, row, slice) in series voxels
    axis_aligned = abs(col_step[1]) < 1e-6 and abs(row_step[0]) < 1e-6
    swapped = abs(col_step[0]) < 1e-6 and abs(row_step[1]) < 1e-6
    identical = (
        axis_aligned
        and abs(col_step[0] - 1) < 1e-6
        and abs(row_step[1] - 1) < 1e-6
        and abs(r0) < 1e-3
        and abs(c0) < 1e-3
        and (rows, cols) == shape[1:]
    )
    if identical:
        return _Placement(k)
    if not (axis_aligned or swapped):
        # A frame rotated within the plane: nearest neighbour per pixel through the 2x2 map.
        return _Placement(k, *_rotated_maps(r0, c0, col_step, row_step, shape, rows, cols))
    if axis_aligned:
        row_scale, col_scale = row_step[1], col_step[0]
    else:
        row_scale, col_scale = col_step[1], row_step[0]
    series_rows = np.arange(shape[1], dtype=float)
    series_cols = np.arange(shape[2], dtype=float)
    frame_axis_for_rows = np.rint((series_rows - r0) / row_scale).astype(np.int64)
    frame_axis_for_cols = np.rint((series_cols - c0) / col_scale).astype(np.int64)
    # In the swapped case series rows run along frame columns and vice versa.
    limit_rows, limit_cols = (rows, cols) if axis_aligned else (cols, rows)
    frame_axis_for_rows[(frame_axis_for_rows < 0) | (frame_axis_for_rows >= limit_rows)] = -1
    frame_axis_for_cols[(frame_axis_for_cols < 0) | (frame_axis_for_cols >= limit_cols)] = -1
    return _Placement(k, frame_axis_for_rows, frame_axis_for_cols, transpose=swapped)


def _rotated_maps(
    r0: float,
    c0: float,
    col_step: np.ndarray,
    row_step: np.ndarray,
    shape: tuple[int, int, int],
    rows: int,
    cols: int,
) -> tuple[np.ndarray, np.ndarray]:
    m = np.array([[row_step[1], col_step[1]], [row_step[0], col_step[0]]])  # (r, c) per (i, j)
    inv = np.linalg.inv(m)
    rr, cc = np.meshgrid(np.arange(shape[1]) - r0, np.arange(shape[2]) - c0, indexing="ij")
    ij = np.rint(inv @ np.stack([rr.ravel(), cc.ravel()])).astype(np.int64)
    valid = (ij[0] >= 0) & (ij[0] < rows) & (ij[1] >= 0) & (ij[1] < cols)
    flat = np.where(valid, ij[0] * cols + ij[1], -1).reshape(shape[1:])
    return flat, np.empty(0, np.int64)


def _apply(frame: np.ndarray, place: _Placement, shape2: tuple[int, int]) -> np.ndarray:
    if place.rows is None:
        return frame
    assert place.cols is not None
    if place.cols.size == 0:  # rotated: a flat index per series pixel
        flat = place.rows
        out = np.zeros(shape2, frame.dtype)
        ok = flat >= 0
        out[ok] = frame.ravel()[flat[ok]]
        return out
    source = frame.T if place.transpose else frame
    out = np.zeros(shape2, frame.dtype)
    rows_ok = place.rows >= 0
    cols_ok = place.cols >= 0
    if rows_ok.any() and cols_ok.any():
        out[np.ix_(rows_ok, cols_ok)] = source[np.ix_(place.rows[rows_ok], place.cols[cols_ok])]
    return out
