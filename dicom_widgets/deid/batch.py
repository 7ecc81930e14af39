"""Batch de-identification of files: read, anonymize, (clean pixels), verify, write atomically."""

from __future__ import annotations

import concurrent.futures as cf
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .._compat import decoded_photometric, normalize_unknown_vrs, read_dataset
from .._encode import encode_part10
from .._executors import progress_bar, shared_process_pool
from .._io import FileRange, atomic_write, write_chunks
from ..errors import UnsafeOutputError
from ._checks import DICOMDIR_NOT_COPIED, check_output_folder, sop_class_of, why_not_anonymized
from ._header import HeaderContinues, read_header
from ._tables import EDITION
from .context import DeidContext
from .engine import AnonymizationResult, DeidWarning, _html_or_pre, _join_notes, anonymize
from .profile import Profile
from .text_regions import TextCleaning, TextRegionPlan, clean_burned_in_text, tesseract_version
from .verification import Hit, VerificationReport, collect_needles, display_path, verify_bytes

__all__ = ["anonymize_files", "BatchJob", "process_file", "Report", "FileOutcome", "clean_pixels"]

_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
#: Below this many files the batch runs in the calling thread (process start-up costs more).
PROCESS_POOL_THRESHOLD = 64
_CHUNK = 16
T = TypeVar("T")

Region = tuple[int, int, int, int]
# Photometric interpretations whose black (or minimum) is known after decoding (PS3.3 C.7.6.3.1.2).
_BLANKABLE_PHOTOMETRICS = frozenset(
    {
        "MONOCHROME1",
        "MONOCHROME2",
        "PALETTE COLOR",
        "RGB",
        "YBR_FULL",
        "YBR_FULL_422",
        "YBR_ICT",
        "YBR_RCT",
    }
)


@dataclass
class FileOutcome:
    """What happened to one source file.

    Attributes
    ----------
    source : str
    output : str or None
        The written file (``None`` when nothing was written).
    status : str
        ``"written"``, ``"skipped"`` (e.g. DICOMDIR), ``"error"`` (unreadable or unwritable:
        nothing written), ``"verification_failed"`` (identifying values found: nothing written)
        or ``"exists"`` (output present and ``overwrite=False``).
    message : str
    n_changes : int
    actions : dict
        Count per applied action code.
    warnings : list of DeidWarning
    identity_removed : bool
    pixel_cleaned : bool
    transfer_syntax : str
    hits : list of Hit
    """

    index: int
    source: str
    output: str | None
    status: str
    message: str = ""
    n_changes: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    warnings: list[DeidWarning] = field(default_factory=list)
    identity_removed: bool = False
    pixel_cleaned: bool = False
    transfer_syntax: str = ""
    hits: list[Hit] = field(default_factory=list)
    needles_checked: int = 0
    text_regions: TextCleaning | None = None
    _pending: Any = field(default=None, repr=False, compare=False)
    _pending_bytes: int = field(default=0, repr=False, compare=False)
    #: The output name the file was meant to have, its own second name, the message it gets
    #: when written, and whether it found that name holding its very bytes (these settle
    #: which source of a batch gets which name: _first_source_named...).
    _name: str = field(default="", repr=False, compare=False)
    _alternate: str = field(default="", repr=False, compare=False)
    _written_message: str = field(default="", repr=False, compare=False)
    _found_identical: bool = field(default=False, repr=False, compare=False)

    @property
    def unresolved(self) -> list[DeidWarning]:
        return [w for w in self.warnings if not w.resolved]


@dataclass
class Report:
    """Outcome of :func:`anonymize_files`.

    Attributes
    ----------
    outcomes : list of FileOutcome
        One per source file, in input order.
    context : DeidContext
        Key and merged UID / date-shift maps (export with :meth:`uid_map_csv`).
    profile : Profile
    out_dir : str
    verification : VerificationReport or None
    pixel_regions : object
        The pixel cleaning request, if any.
    """

    outcomes: list[FileOutcome]
    context: DeidContext
    profile: Profile
    out_dir: str
    verification: VerificationReport | None = None
    pixel_regions: Any = None
    edition: str = EDITION
    text_regions: TextRegionPlan | None = None

    def counts(self) -> dict[str, int]:
        """Number of files per status."""
        out: dict[str, int] = {}
        for outcome in self.outcomes:
            out[outcome.status] = out.get(outcome.status, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        """True when every file was written (or deliberately skipped) and verification is clean."""
        return all(o.status in ("written", "skipped") for o in self.outcomes) and (
            self.verification is None or self.verification.ok
        )

    @property
    def written(self) -> list[str]:
        return [o.output for o in self.outcomes if o.output]

    @property
    def uid_map(self) -> dict[str, str]:
        return dict(self.context.uid_map)

    @property
    def date_offsets(self) -> dict[str, int]:
        return dict(self.context.date_offsets)

    def uid_map_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """UID map as CSV (re-identifying: a warning is issued and written in the file)."""
        return self.context.uid_map_csv(path)

    def date_offsets_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """Per-patient date offsets as CSV (re-identifying: warned the same way)."""
        return self.context.date_offsets_csv(path)

    def to_rows(self) -> list[dict[str, Any]]:
        """One plain dict per file (for a DataFrame)."""
        return [
            {
                "source": o.source,
                "output": o.output,
                "status": o.status,
                "message": o.message,
                "changes": o.n_changes,
                "warnings": len(o.warnings),
                "unresolved": len(o.unresolved),
                "identity_removed": o.identity_removed,
                "pixel_cleaned": o.pixel_cleaned,
                "hits": len(o.hits),
                "text_regions_blanked": len(o.text_regions.blanked) if o.text_regions else 0,
                "text_regions_rejected": len(o.text_regions.rejected) if o.text_regions else 0,
                "text_verified": o.text_regions.verified if o.text_regions else None,
            }
            for o in self.outcomes
        ]

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        verification = (
            "not verified"
            if self.verification is None
            else (
                "verified: no identifying value found"
                if self.verification.ok
                else f"verification: {len(self.verification.hits)} hit(s)"
            )
        )
        cleaned = sum(o.pixel_cleaned for o in self.outcomes)
        pixels = (
            f"; pixel data cleaned in {cleaned} file(s) (written as Explicit VR Little Endian)"
            if cleaned
            else ""
        )
        return (
            f"<Report {len(self.outcomes)} file(s) -> {display_path(self.out_dir)} ({counts}); "
            f"{self.profile.describe()}, PS3.15 {self.edition}; {len(self.context.uid_map)} UIDs remapped; "
            f"{verification}{pixels}>"
        )

    def _repr_text(self) -> str:
        lines = [repr(self)]
        for o in self.outcomes:
            extra = f" [{len(o.unresolved)} unresolved warning(s)]" if o.unresolved else ""
            text = f" [{o.text_regions.describe()}]" if o.text_regions else ""
            lines.append(
                f"  {o.status:<20} {display_path(o.source)} -> "
                f"{display_path(o.output, self.out_dir)} {o.message}{extra}{text}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _html_or_pre("anonymization_report_html", self)


# -- pixel cleaning ------------------------------------------------------------------------
def _regions_for(pixel_regions: Any, rows: int, cols: int) -> list[Region]:
    if pixel_regions is None:
        return []
    if isinstance(pixel_regions, Mapping):
        found = pixel_regions.get((rows, cols)) or pixel_regions.get(f"{rows}x{cols}") or []
        return [tuple(int(v) for v in r) for r in found]  # type: ignore[misc]
    return [tuple(int(v) for v in r) for r in pixel_regions]  # type: ignore[misc]


def clean_pixels(ds: Dataset, regions: Sequence[Region]) -> bool:
    """Blank ``regions`` (row0, col0, row1, col1; end exclusive) in every frame of ``ds``.

    The pixel data is decoded, blanked with the image minimum (monochrome) or black (colour)
    and stored uncompressed; the transfer syntax becomes Explicit VR Little Endian. Returns
    False (nothing changed) when no region overlaps the image.
    """
    rows, cols = int(ds.Rows), int(ds.Columns)
    boxes = []
    for r0, c0, r1, c1 in regions:
        r0, r1 = max(0, min(r0, r1)), min(rows, max(r0, r1))
        c0, c1 = max(0, min(c0, c1)), min(cols, max(c0, c1))
        if r1 > r0 and c1 > c0:
            boxes.append((r0, c0, r1, c1))
    if not boxes:
        return False
    if int(ds.get("BitsAllocated", 8)) == 1:
        raise ValueError("pixel cleaning of 1-bit (binary) pixel data is not supported")
    photometric = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    if photometric not in _BLANKABLE_PHOTOMETRICS:
        raise ValueError(
            f"pixel cleaning of Photometric Interpretation {photometric or '(missing)'} is not "
            f"supported (supported: {', '.join(sorted(_BLANKABLE_PHOTOMETRICS))}): nothing written"
        )
    transfer = str(ds.file_meta.TransferSyntaxUID)
    compressed = transfer not in (
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
    )
    arr = np.array(ds.pixel_array, copy=True)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    view = arr.reshape((frames, rows, cols, samples) if samples > 1 else (frames, rows, cols))
    decoded = decoded_photometric(ds)
    if samples > 1 and decoded.startswith("YBR"):
        # Black in YCbCr: no luminance, neutral chroma.
        mid = 1 << (int(ds.get("BitsStored", 8) or 8) - 1)
        fill: Any = np.array([0, mid, mid], dtype=view.dtype)
    else:
        fill = 0 if samples > 1 else view.min()
    for r0, c0, r1, c1 in boxes:
        view[:, r0:r1, c0:c1, ...] = fill
    # What the decoder returned (pydicom 3 converts YBR to RGB; 2.4 keeps YBR values).
    photometric = decoded_photometric(ds)
    if photometric == "YBR_FULL_422":
        photometric = "YBR_FULL"  # decoded data has full chroma resolution
    if photometric and photometric != str(ds.get("PhotometricInterpretation", "")):
        ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    bits = int(ds.BitsAllocated)
    target = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}.get(bits)
    if target is not None and view.dtype.kind in "iu" and view.dtype.itemsize * 8 == bits:
        data = view.astype(view.dtype.newbyteorder("<"), copy=False).tobytes()
    else:
        data = view.astype(f"<{view.dtype.kind}{bits // 8}").tobytes()
    if len(data) % 2:
        data += b"\x00"
    ds.PixelData = data
    ds["PixelData"].VR = "OB" if bits <= 8 else "OW"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = _EXPLICIT_VR_LE
    if "LossyImageCompression" not in ds and compressed:
        pass  # unchanged meaning: lossy history (if any) is already recorded by the source
    return True


# -- the job --------------------------------------------------------------------------------
PixelRegions = Sequence[Region] | Mapping[Any, Sequence[Region]] | None


@dataclass(frozen=True)
class BatchJob:
    """Everything a worker needs to de-identify any file of one batch (frozen, picklable).

    :func:`anonymize_files` builds one and sends it, with a chunk of sources, to each worker
    (any executor: threads, processes, ``dask.distributed``).

    Attributes
    ----------
    out_dir : str
        The (checked, existing) output folder.
    profile : Profile
    key_hex : str
        The key of the batch's :class:`~dicom_widgets.deid.DeidContext`.
    date_shift_days : (int, int)
    overwrite, verify, fsync : bool
        As for :func:`anonymize_files`.
    pixel_regions : rectangles, mapping or None
        What the per-file pixel step blanks (:func:`clean_pixels`).
    text_regions : TextRegionPlan or None
        Burned-in text the per-file pixel step finds (OCR, in the worker) and blanks.

    Examples
    --------
    >>> import pickle
    >>> job = BatchJob("/tmp/out", Profile(), "00" * 16, (-3652, -365))
    >>> pickle.loads(pickle.dumps(job)) == job, job.needs_pixels
    (True, False)
    """

    out_dir: str
    profile: Profile
    key_hex: str
    date_shift_days: tuple[int, int]
    overwrite: bool = False
    pixel_regions: PixelRegions = None
    verify: bool = True
    fsync: bool = True
    text_regions: TextRegionPlan | None = None

    @property
    def needs_pixels(self) -> bool:
        """Whether the per-file pixel step may change pixel data (the file is then read whole;
        otherwise only the header is parsed and the pixel data bytes are copied unchanged)."""
        return (self.pixel_regions is not None or self.text_regions is not None) or any(
            self.profile.override_for(tag) is not None for tag in _PIXEL_TAGS
        )

    def context(self) -> DeidContext:
        """A fresh context for one chunk, under the job's key.

        Its maps are deterministic under the key, so a chunk's own context holds exactly
        the UIDs and dates of its files, and all of them go back to the caller. (A context
        kept per process would hold a previous batch's mappings too -- an executor reused
        for a second batch with the same key, or threads -- and the caller's report would
        lack the ones it already held.)
        """
        return DeidContext(self.key_hex, date_shift_days=self.date_shift_days)


# -- reading ----------------------------------------------------------------------------------
# Pixel Data, Float Pixel Data, Double Float Pixel Data.
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_PIXEL_TAG_BYTES = {t.to_bytes(4, "little")[2:] + t.to_bytes(4, "little")[:2] for t in _PIXEL_TAGS}
_NATIVE_SYNTAXES = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
)
_IMPLICIT_VR_LE = "1.2.840.10008.1.2"
# Not spliced: big endian and deflated bodies are re-encoded as a whole by the writer.
_RE_ENCODED_SYNTAXES = ("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")
_LONG_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN")
_ITEM, _SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\xdd\xe0"


@dataclass
class _Source:
    """A file as read: the dataset (header only when the pixel bytes are copied as they are)."""

    ds: Dataset
    label: str
    data: bytes | None = None
    #: Offsets of the pixel data element in the file: its start, its value, its end;
    #: ``None`` when ``ds`` holds the pixel data (or there is none).
    pixel_span: tuple[int, int, int] | None = None
    #: The pixel data element left in the file (``data`` is then only the file's start),
    #: copied to the output by the kernel; ``None`` when it is in ``data``.
    pixels_in_file: FileRange | None = None

    def close(self) -> None:
        """Close the file the pixel data element is still in, if any."""
        if self.pixels_in_file is not None:
            self.pixels_in_file.close()


def _parse(data: bytes, *, header_only: bool) -> tuple[Dataset, int]:
    """The dataset in ``data`` and where parsing stopped (the pixel data tag, if header only).

    A file without the Part 10 preamble is read with ``force`` when it holds real elements;
    a file cut short raises ``ValueError("truncated ...")``.
    """
    import io
    import warnings as _warnings

    found = read_header(data) if header_only else None
    if found is not None:
        # Read as pydicom reads it; the body has no unknown VR (it would have gone to pydicom).
        normalize_unknown_vrs(found[0].file_meta)
        return found
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        fp = io.BytesIO(data)
        try:
            ds = read_dataset(fp, stop_before_pixels=header_only)
        except Exception as first:  # noqa: BLE001 - retry without the Part 10 preamble
            fp = io.BytesIO(data)
            try:
                ds = read_dataset(fp, stop_before_pixels=header_only, force=True)
            except Exception:  # noqa: BLE001
                raise first from None
            if len(ds) == 0 or not any(t >> 16 >= 0x0008 for t in ds.keys()):
                raise first
    for warning in caught:
        text = str(warning.message)
        if "End of file reached" in text or "truncated" in text.lower():
            raise ValueError(f"truncated file: {text}")
    # A flipped VR byte: keep the element's bytes as UN (read with the dictionary VR).
    normalize_unknown_vrs(ds)
    if getattr(ds, "file_meta", None) is not None:
        normalize_unknown_vrs(ds.file_meta)
    return ds, fp.tell()


def _read(source: str | os.PathLike[str] | Any) -> Dataset:
    """The whole dataset of a file (a path or a binary file object), checked for truncation."""
    data = source.read() if hasattr(source, "read") else Path(source).read_bytes()
    ds, _ = _parse(data, header_only=False)
    _check_complete(ds)
    return ds


def _element_end(
    read: Callable[[int, int], bytes], size: int, start: int, implicit: bool
) -> tuple[int, int] | None:
    """(value offset, end offset) of the pixel data element starting at ``start`` of a file
    of ``size`` bytes (``read(offset, n)`` gives its bytes; the end may lie past the file
    when it is cut short); ``None`` when its encoding is not one to copy byte for byte."""
    head = read(start, 12)
    if implicit:
        length, value = int.from_bytes(head[4:8], "little"), start + 8
    elif head[4:6] in _LONG_VRS:
        length, value = int.from_bytes(head[8:12], "little"), start + 12
    else:
        return None
    if length != 0xFFFFFFFF:
        return value, value + length
    # Encapsulated: items up to the sequence delimiter (one step per fragment).
    pos = value
    while pos + 8 <= size:
        item = read(pos, 8)
        tag, length = item[:4], int.from_bytes(item[4:8], "little")
        if tag == _SEQUENCE_END:
            return value, pos + 8
        if tag != _ITEM or length == 0xFFFFFFFF:
            return None
        pos += 8 + length
    return value, size + 1  # no delimiter: cut short


def _in_memory(data: bytes) -> Callable[[int, int], bytes]:
    """``read(offset, n)`` over bytes."""
    return lambda offset, n: data[offset : offset + n]


def _in_file(prefix: bytes, file: Any) -> Callable[[int, int], bytes]:
    """``read(offset, n)`` over a file whose first bytes, ``prefix``, were read: beyond them
    a page at a time, so that walking many small fragments costs few system calls."""
    window = [len(prefix), b""]  # the last page read beyond the prefix, and where it starts

    def read(offset: int, n: int) -> bytes:
        if offset + n <= len(prefix):
            return prefix[offset : offset + n]
        start, page = window
        if not (start <= offset and offset + n <= start + len(page)):
            file.seek(offset)
            page = file.read(max(n, _PAGE))
            window[:] = start, page = offset, page
        return page[offset - start : offset - start + n]

    return read


_PAGE = 4096


def _read_encoding(ds: Dataset) -> tuple[bool, bool] | None:
    """(implicit VR, little endian) the dataset was read with."""
    encoding = getattr(ds, "original_encoding", None)  # pydicom 3
    if encoding is None:  # pragma: no cover - pydicom 2.4
        encoding = (getattr(ds, "read_implicit_vr", None), getattr(ds, "read_little_endian", None))
    return None if None in encoding else (bool(encoding[0]), bool(encoding[1]))


def _copy_encoding(ds: Dataset) -> bool | None:
    """Implicit VR (True/False) when ``ds`` is written back in the encoding it was read with,
    so that bytes of the file can be copied into the output (PS3.5 A.1/A.2: little endian,
    not deflated); ``None`` otherwise."""
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else ""
    if syntax in _RE_ENCODED_SYNTAXES:
        return None
    implicit = syntax in ("", _IMPLICIT_VR_LE)
    return implicit if _read_encoding(ds) == (implicit, True) else None


def _pixel_span(
    read: Callable[[int, int], bytes], size: int, stop: int, implicit: bool
) -> tuple[int, int, int] | None:
    """(start, value, end) of the pixel data element at ``stop`` when it is the last element
    of the file (``read`` and ``size`` as for :func:`_element_end`) and encoded to be copied
    byte for byte; ``None`` otherwise."""
    if read(stop, 4) not in _PIXEL_TAG_BYTES:
        return None
    found = _element_end(read, size, stop, implicit)
    if found is None or found[1] < size:
        return None  # elements after the pixel data (signatures, padding): read it all
    return stop, found[0], found[1]


#: Bytes read first from a file larger than this: its header (up to the pixel data) nearly
#: always fits, and the pixel data element is then never read, only copied file to file.
#: A longer header (an enhanced multi-frame's per-frame groups) is read with 16 times as
#: much, up to :data:`_HEADER_PREFIX_MAX`.
_HEADER_PREFIX = 64 << 10
_HEADER_PREFIX_MAX = 16 << 20


def _load(source: str | Dataset, index: int, job: BatchJob) -> _Source:
    """Read one source: header only, with the pixel data bytes located, unless the job's pixel
    step needs them decoded or the file cannot be copied that way (then it is read whole)."""
    if isinstance(source, Dataset):
        from .engine import _copy_dataset

        return _Source(_copy_dataset(source), f"<dataset {index}>")
    file = open(source, "rb", buffering=0)  # noqa: SIM115 - kept open by the result, or closed
    try:
        if not job.needs_pixels:
            found = _header_then_pixels(file, source)
            if found is not None:
                return found
            file.seek(0)
        data = file.readall()
    except BaseException:
        file.close()
        raise
    file.close()
    if not job.needs_pixels:
        ds, stop = _parse(data, header_only=True)
        implicit = _copy_encoding(ds)
        if implicit is not None:
            if stop >= len(data):
                _check_complete(ds)
                return _Source(ds, source, data)  # no pixel data: the header is everything
            span = _pixel_span(_in_memory(data), len(data), stop, implicit)
            if span is not None:
                start, value, end = span
                _check_complete(ds, (end - value, len(data) - value))
                return _Source(ds, source, data, span)
    ds, _ = _parse(data, header_only=False)
    _check_complete(ds)
    return _Source(ds, source, data)


def _file_start(file: Any, size: int) -> tuple[bytes, Dataset, int] | None:
    """(the bytes read, the header, the offset of its pixel data tag) from the start of
    ``file``, read in growing prefixes while the header runs past them; ``None`` when the
    file must be read whole (no larger than the prefix, a header for pydicom, none found
    within :data:`_HEADER_PREFIX_MAX`)."""
    prefix, want = b"", _HEADER_PREFIX
    while want < size and want <= _HEADER_PREFIX_MAX:
        prefix += file.read(want - len(prefix))
        if len(prefix) < want:
            return None  # the file is shorter than it was a moment ago: read what it is
        try:
            found = read_header(prefix, whole=False)
        except HeaderContinues:
            found = None
        else:
            if found is None:
                return None
            ds, stop = found
            # The pixel data tag and its length must lie in the prefix: a header that just
            # fills it would otherwise look like a file without pixel data.
            if stop + 12 <= len(prefix):
                return prefix, ds, stop
        want *= 16
    return None


def _header_then_pixels(file: Any, source: str) -> _Source | None:
    """The header from the first bytes of ``file`` (:func:`_file_start`) and its last
    element, the pixel data element, left in the file to be copied (the file then stays
    open, owned by the result; fragments of encapsulated pixel data are walked in the file);
    ``None`` when the file must be read whole: small, a header too long, a header
    :func:`read_header` leaves to pydicom, elements after the pixel data. A pixel data
    element shorter than declared raises."""
    size = os.fstat(file.fileno()).st_size
    start = _file_start(file, size)
    if start is None:
        return None
    prefix, ds, stop = start
    normalize_unknown_vrs(ds.file_meta)
    implicit = _copy_encoding(ds)
    if implicit is None:
        return None
    span = _pixel_span(_in_file(prefix, file), size, stop, implicit)
    if span is None:
        return None
    _, value, end = span
    _check_complete(ds, (end - value, size - value))
    return _Source(ds, source, prefix, span, FileRange(file, stop, end - stop, source))


def _check_complete(ds: Dataset, pixel_value: tuple[int, int] | None = None) -> None:
    """Raise for a file cut short: an element shorter than declared, or image attributes
    without enough pixel data (``pixel_value``: the length of the pixel data value as
    declared and the bytes present, when it was located rather than read)."""
    if pixel_value is not None and pixel_value[0] > pixel_value[1]:
        raise ValueError(
            f"truncated file: the Pixel Data element declares {pixel_value[0]} bytes, "
            f"{pixel_value[1]} present"
        )
    # A file cut inside an element: pydicom keeps the short value of the last element read.
    # (key=int: BaseTag's comparisons are Python code, three calls each)
    last = max(ds._dict, key=int) if ds._dict else None
    if last is not None:
        raw = ds._dict[last]
        declared = getattr(raw, "length", None)
        value = getattr(raw, "value", None)
        if (
            not isinstance(raw, DataElement)
            and isinstance(value, bytes)
            and declared not in (None, 0xFFFFFFFF)
            and len(value) < declared
        ):
            raise ValueError(
                f"truncated file: element {last} declares {declared} bytes, {len(value)} present"
            )
    if pixel_value is not None:
        length = pixel_value[0]
    elif 0x7FE00010 in ds:
        elem = ds[0x7FE00010]
        if getattr(elem, "is_undefined_length", False) or not isinstance(elem.value, bytes):
            return
        length = len(elem.value)
    else:
        return
    try:
        rows, cols = _header_int(ds, 0x00280010), _header_int(ds, 0x00280011)
        bits = _header_int(ds, 0x00280100)
        samples = _header_int(ds, 0x00280002, 1) or 1
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (KeyError, TypeError, ValueError):
        return
    transfer = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
    if transfer and transfer not in _NATIVE_SYNTAXES:
        return  # encapsulated: length not predictable
    if str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
        samples = 2  # chroma subsampled: two bytes per pixel pair per channel pair
    expected = rows * cols * samples * frames * bits // 8
    if length + 1 < expected:
        raise ValueError(
            f"truncated Pixel Data: {length} bytes, {expected} expected "
            f"for {frames} frame(s) of {rows}x{cols}"
        )


def _header_int(ds: Dataset, tag: int, default: int | None = None) -> int:
    """An US value of the header (Rows, Columns...), from its raw bytes when it is still raw
    (converting it would take it off the encoder's raw path); ``KeyError`` when absent and
    no default is given."""
    raw = ds._dict.get(tag)
    if raw is None:
        if default is None:
            raise KeyError(tag)
        return default
    value = raw.value
    if (
        not isinstance(raw, DataElement)
        and raw.VR in ("US", None)  # None: implicit VR, and these are US in the dictionary
        and isinstance(value, bytes)
        and len(value) == 2
        and raw.is_little_endian
    ):
        return int.from_bytes(value, "little")
    value = ds[tag].value
    if value in (None, ""):
        if default is None:
            raise KeyError(tag)
        return default
    return int(value)


def _is_image(ds: Dataset, sop_class: str) -> bool:
    """Whether the instance must carry pixel data (image attributes or an image storage class)."""
    if "Rows" in ds and "Columns" in ds:
        return True
    from pydicom.uid import UID

    return "Image Storage" in UID(sop_class).name if sop_class else False


# -- one file ---------------------------------------------------------------------------------
def _ensure_file_meta(ds: Dataset, sop_class: str) -> None:
    """Give a file without file meta one (implicit VR little endian, as it was read)."""
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        from pydicom.dataset import FileMetaDataset

        new_meta = meta if meta is not None else FileMetaDataset()
        new_meta.TransferSyntaxUID = _IMPLICIT_VR_LE
        ds.file_meta = new_meta
    if "MediaStorageSOPClassUID" not in ds.file_meta and sop_class:
        ds.file_meta.MediaStorageSOPClassUID = sop_class
    if "MediaStorageSOPInstanceUID" not in ds.file_meta and "SOPInstanceUID" in ds:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def _pixel_step(ds: Dataset, job: BatchJob) -> bool:
    """The per-file pixel step (PS3.15 E.3.1, Clean Pixel Data): blank the job's regions.

    Runs only on files read whole (:attr:`BatchJob.needs_pixels`). Returns whether the pixel
    data changed (the engine then records code 113101 and Burned In Annotation NO).
    """
    if job.pixel_regions is None or "PixelData" not in ds or "Rows" not in ds:
        return False
    regions = _regions_for(job.pixel_regions, int(ds.Rows), int(ds.Columns))
    return bool(regions) and clean_pixels(ds, regions)


def _text_step(ds: Dataset, job: BatchJob, label: str) -> TextCleaning | None:
    """Burned-in text (PS3.15 E.3.1): OCR the pixels and blank what the job's plan says.

    Runs before the header is de-identified: the text is matched against the header's
    values. ``None`` when the job asks for no text detection or there are no pixels.
    """
    if job.text_regions is None or not job.text_regions.covers(label):
        return None
    if "PixelData" not in ds or "Rows" not in ds:
        return None
    return clean_burned_in_text(ds, job.text_regions, source=label)


def _encode(
    ds: Dataset, source: _Source
) -> tuple[memoryview, list[bytes | memoryview | FileRange]]:
    """(header, chunks of the output file): the header is encoded from the dataset, the pixel
    data element follows as it is in the source (never decoded: still in the file, or a
    view of the bytes read)."""
    if source.pixel_span is None:
        data = encode_part10(ds)  # a view: no copy of the (large) pixel data
        return data, [data]
    header = encode_part10(ds)
    if source.pixels_in_file is not None:
        return header, [header, source.pixels_in_file]
    begin, _, end = source.pixel_span
    assert source.data is not None
    return header, [header, memoryview(source.data)[begin:end]]


def process_file(
    job: BatchJob,
    index: int,
    source: str | Dataset,
    context: DeidContext,
    io_pool: _Writes | None = None,
) -> FileOutcome:
    """Read, de-identify, verify and write one source; whatever goes wrong stays with it.

    Parameters
    ----------
    job : BatchJob
    index : int
        The source's place in the batch (kept in the outcome).
    source : path or Dataset
    context : DeidContext
        The key and maps (the caller's own in a serial batch, the worker's in a pool).
    io_pool : _Writes, optional
        Runs the write (and its fsync) on an I/O thread so that the next file's work overlaps
        it; the outcome is then completed by :func:`_settle`.

    Returns
    -------
    FileOutcome
    """
    try:
        return _process(job, index, source, context, io_pool)
    except BaseException as exc:  # noqa: BLE001 - one bad file must not sink the batch
        # Rust decoders (pyo3) raise PanicException, a BaseException, on corrupt data.
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        label = source if isinstance(source, str) else f"<dataset {index}>"
        return FileOutcome(index, label, None, "error", f"{type(exc).__name__}: {exc}"[:500])


def _process(
    job: BatchJob,
    index: int,
    source: str | Dataset,
    context: DeidContext,
    io_pool: _Writes | None,
) -> FileOutcome:
    """One file's steps: read, the pixel steps, de-identify, encode, verify, write."""
    try:
        loaded = _load(source, index, job)
    except Exception as exc:  # noqa: BLE001 - reported per file
        label = source if isinstance(source, str) else f"<dataset {index}>"
        return FileOutcome(
            index, label, None, "error", f"unreadable: {type(exc).__name__}: {exc}"[:500]
        )
    outcome = None
    try:
        outcome = _process_loaded(job, index, loaded, context, io_pool)
    finally:
        if outcome is None or outcome._pending is None:
            loaded.close()  # (a pending write closes it when done)
    return outcome


def _process_loaded(
    job: BatchJob, index: int, loaded: _Source, context: DeidContext, io_pool: _Writes | None
) -> FileOutcome:
    """:func:`_process` once the source is read."""
    ds, label = loaded.ds, loaded.label
    refused = why_not_anonymized(ds)
    if refused is not None:
        status = "skipped" if refused == DICOMDIR_NOT_COPIED else "error"
        return FileOutcome(index, label, None, status, refused)
    sop_class = sop_class_of(ds)
    has_pixels = loaded.pixel_span is not None or any(tag in ds for tag in _PIXEL_TAGS)
    # pydicom stops quietly at the end of a file cut inside its header, so an image without
    # its pixels may be a truncated file; header-only files exist too, so it is written, but
    # never without a word.
    note = (
        "no Pixel Data in an image instance: the source may be truncated (header only written)"
        if _is_image(ds, sop_class) and not has_pixels
        else ""
    )
    _ensure_file_meta(ds, sop_class)
    result, pixel_cleaned, text = _deidentify(ds, job, label, context, has_pixels)
    out = result.dataset
    if "SOPInstanceUID" in out and str(out.SOPInstanceUID).strip():
        name = f"{out.SOPInstanceUID}.dcm"
    else:
        name = f"noid-{context.pseudonym('file', os.path.abspath(label), 24)}.dcm"
    target = Path(job.out_dir) / name
    header, chunks = _encode(out, loaded)
    outcome = FileOutcome(
        index,
        label,
        None,
        "written",
        note,
        n_changes=sum(1 for c in result.changes if c.changed),
        actions=result.changes_by_action(),
        warnings=result.warnings,
        identity_removed=result.identity_removed,
        pixel_cleaned=pixel_cleaned,
        transfer_syntax=str(out.file_meta.TransferSyntaxUID),
        text_regions=text,
        _name=str(target),
        _written_message=(
            "pixel data cleaned; written uncompressed (Explicit VR Little Endian)"
            if pixel_cleaned
            else note
        ),
    )
    if job.verify:
        _verify_output(outcome, result, header, str(target))
        if outcome.hits:
            return outcome
    # The name if another source of the batch (sharing the SOP Instance UID, other bytes)
    # has the first: still identifier-free, derived from the source path under the key.
    outcome._alternate = str(
        target.with_name(f"{target.stem}-{context.pseudonym('file', label, 10)}.dcm")
    )
    if io_pool is not None:
        # The write (and its fsync) runs on an I/O thread while this worker goes on with
        # the next file; the chunk waits for it before reporting the outcome.
        outcome._pending = io_pool.write(outcome, target, chunks, job)
        outcome._pending_bytes = sum(
            len(chunk) for chunk in chunks if not isinstance(chunk, FileRange)
        )
        return outcome
    return _write_output(outcome, target, chunks, job)


def _deidentify(
    ds: Dataset, job: BatchJob, label: str, context: DeidContext, has_pixels: bool
) -> tuple[AnonymizationResult, bool, TextCleaning | None]:
    """The pixel steps (regions, burned-in text: PS3.15 E.3.1), then the header (Annex E);
    returns the result, whether the pixels changed, and what the text step did."""
    pixel_cleaned = _pixel_step(ds, job)
    text = _text_step(ds, job, label)
    pixel_warnings = []
    if text is not None:
        pixel_cleaned = pixel_cleaned or bool(text.blanked)
        if not text.verified:
            pixel_warnings.append(
                DeidWarning(
                    "burned_in_text",
                    "PixelData",
                    f"burned-in text not verified ({text.problem}): review the pixels",
                )
            )
    result = anonymize(
        ds,
        job.profile,
        context=context,
        # A complete text check that found nothing to blank cleaned the pixels too: Burned
        # In Annotation becomes NO, code 113101 is recorded.
        pixel_cleaned=pixel_cleaned or (text is not None and text.verified),
        has_pixel_data=has_pixels,
        pixel_warnings=pixel_warnings,
        _inplace=True,
    )
    return result, pixel_cleaned, text


def _verify_output(
    outcome: FileOutcome, result: AnonymizationResult, header: bytes | memoryview, file: str
) -> None:
    """Search the encoded header about to be written for the original's identifying values
    (pixel data values excepted); with hits the outcome says it is not written."""
    needles = collect_needles(None, result.changes, identifiers=result.identifiers)
    outcome.needles_checked = len(needles)
    outcome.hits = verify_bytes(
        header,
        needles,
        result.dataset.get("SpecificCharacterSet", ""),
        file=file,
        touched={c.path for c in result.changes if c.changed},
        sanctioned={c.path for c in result.changes if c.action == "K" and c.rule != "basic"},
    )
    if outcome.hits:
        outcome.status = "verification_failed"
        outcome.message = (
            f"{len(outcome.hits)} identifying value(s) found in the output; not written"
        )


def _same_content(path: Path, chunks: Sequence[bytes | memoryview | FileRange]) -> bool:
    with open(path, "rb") as handle:
        for chunk in chunks:
            if isinstance(chunk, FileRange):
                if not chunk.same_as(handle):
                    return False
            elif handle.read(len(chunk)) != chunk:
                return False
        return handle.read(1) == b""


def _write_output(
    outcome: FileOutcome,
    target: Path,
    chunks: Sequence[bytes | memoryview | FileRange],
    job: BatchJob,
) -> FileOutcome:
    """Write one verified output atomically (temporary file, then rename) and complete its
    outcome; an interrupted write leaves no file behind. The source file a chunk still
    reads from is closed at the end."""
    try:
        return _write_verified(outcome, target, chunks, job)
    finally:
        for chunk in chunks:
            if isinstance(chunk, FileRange):
                chunk.close()


def _write_verified(
    outcome: FileOutcome,
    target: Path,
    chunks: Sequence[bytes | memoryview | FileRange],
    job: BatchJob,
) -> FileOutcome:
    """:func:`_write_output`'s steps: the name, else "exists" or the alternate name."""

    def write(path: Path, replace: bool) -> None:
        atomic_write(
            path,
            lambda handle: write_chunks(handle, chunks),
            overwrite=replace,
            fsync=job.fsync,
        )

    try:
        try:
            # Never replaced here, even with overwrite: the file there may be another
            # source's of this batch (sharing the SOP Instance UID). One left by an earlier
            # run is replaced once the whole batch is written (_first_claimant_named).
            write(target, replace=False)
        except FileExistsError:
            if _same_content(target, chunks):
                outcome.status = "exists"
                outcome.message = _identical_message(target)
                outcome._found_identical = True
                return outcome
            # Another source with the same SOP Instance UID (copies, re-encodings).
            alternate = Path(outcome._alternate)
            try:
                write(alternate, replace=job.overwrite)  # this source's own second name
                target = alternate
            except FileExistsError:
                outcome.status = "exists"
                outcome.message = f"{target.name} exists (overwrite=False)"
                return outcome
    except Exception as exc:  # noqa: BLE001 - disk full, permissions...: nothing half written
        outcome.status = "error"
        outcome.message = f"write failed: {type(exc).__name__}: {exc}"[:500]
        return outcome
    outcome.output = str(target)
    outcome.message = outcome._written_message
    return outcome


def _identical_message(target: Path, overwrite: bool = False) -> str:
    """Why a source has no file of its own: its bytes are already there (with overwrite, it
    can only be another source's file of this batch)."""
    if overwrite:
        return f"{target.name} holds identical content, written for another source of the batch"
    return f"{target.name} exists with identical content (overwrite=False)"


def _first_source_named(outcomes: list[FileOutcome]) -> None:
    """Of sources giving the same bytes under one name, report the first in input order as
    the one written, the others as ``"exists"``, as a serial batch does.

    Pool workers write in any order, and a later copy may take the name first; the file is
    the same either way, so only the outcomes change. (Sources sharing a SOP Instance UID
    with different content: :func:`_first_claimant_named`.) ``outcomes`` are in input order.
    """
    holders = {o.output: o for o in outcomes if o.status == "written" and o.output}
    for outcome in outcomes:
        holder = holders.get(outcome._name) if outcome._found_identical else None
        if holder is None or holder.index < outcome.index:
            continue
        outcome.status, outcome.output = "written", holder.output
        outcome.message, outcome._found_identical = outcome._written_message, False
        holder.status, holder.output, holder._found_identical = "exists", None, True
        holder.message = _identical_message(Path(outcome._name))
        holders[outcome._name] = outcome


def _first_claimant_named(outcomes: list[FileOutcome], job: BatchJob) -> None:
    """Of sources sharing an output name but not their bytes, give the name to the first in
    input order, as a serial batch into an empty folder does (with ``overwrite``, also over
    a file an earlier run left there).

    Workers never replace a name, and write in any order: a later source (the holder) may
    take the name first and send the first one to its alternate, or an earlier run's file
    holds it. Then, while the name still holds those bytes, the holder gets them under its
    own alternate name too (a hard link), and so does each source that had found them there
    (a copy: serially it writes its own file); then the first one's alternate is renamed
    over the name, and a later source whose very bytes the name now holds loses its
    duplicate ("exists"). A holder whose alternate an earlier run's file took is "exists",
    as serially. Each file has a name at every step. ``outcomes`` are in input order, with
    identical copies already settled (:func:`_first_source_named`).
    """
    claimants: dict[str, list[FileOutcome]] = {}
    for o in outcomes:
        if o._name and (o.status == "written" or (o.status == "exists" and o._found_identical)):
            claimants.setdefault(o._name, []).append(o)
    for name, group in claimants.items():
        try:
            _settle_name(name, group, job)
        except OSError as exc:  # a file removed, a folder made read-only meanwhile
            for outcome in group:
                outcome.message = _join_notes(
                    outcome.message, f"name left as written: {type(exc).__name__}: {exc}"
                )
    for outcome in outcomes:
        if outcome.status == "exists" and outcome._found_identical:
            outcome.message = _identical_message(Path(outcome._name), job.overwrite)


def _settle_name(name: str, group: list[FileOutcome], job: BatchJob) -> None:
    """:func:`_first_claimant_named` for one name and the sources that wanted it."""
    import filecmp

    first = group[0]
    holder = next((o for o in group if o.status == "written" and o.output == name), None)
    if holder is first or (holder is None and not job.overwrite):
        return  # (without overwrite, an earlier run's file keeps its name)
    if first.status == "exists":  # an earlier run's file holds its very bytes
        first.status, first.output, first._found_identical = "written", name, False
        first.message = first._written_message
        return
    holder_named = False
    if holder is not None:
        try:
            _name_again(Path(name), Path(holder._alternate), replace=job.overwrite)
            holder_named = True
        except FileExistsError:
            pass
        except OSError:  # (a file system without hard links): as the workers wrote it
            return
    for outcome in group[1:]:
        if outcome.status == "exists":  # it found the bytes there: its own copy
            _copy_output(Path(name), outcome, job)
    try:
        os.replace(first.output, name)
    except OSError:
        if holder_named:
            os.unlink(holder._alternate)
        return
    first.output = name
    if holder_named:
        holder.output = holder._alternate
    elif holder is not None:
        holder.status, holder.output = "exists", None
        holder.message = f"{Path(name).name} exists (overwrite=False)"
    for outcome in group[1:]:
        if outcome is not holder and outcome.status == "written" and outcome.output:
            if filecmp.cmp(outcome.output, name, shallow=False):  # the first one's bytes
                os.unlink(outcome.output)
                outcome.status, outcome.output, outcome._found_identical = "exists", None, True


def _name_again(path: Path, name: Path, *, replace: bool) -> None:
    """Give the file ``path`` a second name (a hard link), replacing a file there only with
    ``replace``; ``FileExistsError`` otherwise."""
    if not replace:
        os.link(path, name)
        return
    temporary = name.with_name(f".{name.name}.{os.urandom(6).hex()}.tmp")
    os.link(path, temporary)
    try:
        os.replace(temporary, name)
    except BaseException:
        os.unlink(temporary)
        raise


def _copy_output(source: Path, outcome: FileOutcome, job: BatchJob) -> None:
    """Write a copy of the output ``source`` as ``outcome``'s file under its alternate name
    (atomically, by the kernel), and say so in the outcome."""
    alternate = Path(outcome._alternate)
    span = FileRange(open(source, "rb", buffering=0), 0, source.stat().st_size, str(source))
    try:
        atomic_write(
            alternate,
            lambda handle: write_chunks(handle, [span]),
            overwrite=job.overwrite,
            fsync=job.fsync,
        )
    except FileExistsError:  # (as a serial batch says it)
        outcome.message = f"{Path(outcome._name).name} exists (overwrite=False)"
        outcome._found_identical = False
        return
    finally:
        span.close()
    outcome.status, outcome.output, outcome._found_identical = "written", str(alternate), False
    outcome.message = outcome._written_message


class _Writes:
    """A chunk's I/O threads, with the writes to one output name kept in input order.

    Sources that share a SOP Instance UID (copies, re-encodings) share an output name:
    the first in the batch gets it and the next ones "exists" or their alternate name.
    Threads finishing in any order must not decide which, so a write to a name another
    pending write of the chunk already targets waits for that one first (it was submitted
    earlier, so it is running or done: no thread waits for one queued behind it).
    """

    def __init__(self, pool: cf.Executor) -> None:
        self.pool = pool
        self.last: dict[Path, cf.Future] = {}

    def write(
        self,
        outcome: FileOutcome,
        target: Path,
        chunks: Sequence[bytes | memoryview | FileRange],
        job: BatchJob,
    ) -> cf.Future:
        """Submit :func:`_write_output` for ``outcome``, after any earlier one to ``target``."""
        before = self.last.get(target)

        def write_after() -> FileOutcome:
            if before is not None:
                cf.wait([before])  # its failure is its own outcome's
            return _write_output(outcome, target, chunks, job)

        future = self.pool.submit(write_after)
        self.last[target] = future
        return future


def _settle(outcome: FileOutcome) -> FileOutcome:
    """Wait for an outcome's pending write, if any."""
    pending = outcome._pending
    if pending is not None:
        outcome._pending = None
        try:
            pending.result()
        except Exception as exc:  # noqa: BLE001
            outcome.status = "error"
            outcome.message = f"write failed: {type(exc).__name__}: {exc}"[:500]
    return outcome


# -- the two ways of running a batch ----------------------------------------------------------
#: Writes in flight at most, and the bytes they may hold together (each holds one file's).
_MAX_PENDING = 16
_MAX_PENDING_BYTES = 256 << 20
#: I/O threads of a worker: a write waits in the kernel (for page cache memory, for the
#: disk with fsync, where concurrent fsyncs share the journal's commits on ext4 and xfs),
#: so several are in flight at once. bench_deid on 2 cores, 2 workers: 4 threads 7%
#: faster than 2 without fsync; with fsync, 4 no slower than 8 (median ratios 0.96-1.09
#: against 1.07-1.17: more concurrent fsyncs only contend for the journal).
_IO_THREADS = 4


def _run_in_order(
    job: BatchJob, items: Sequence[tuple[int, Any]], context: DeidContext, done: Any = None
) -> list[FileOutcome]:
    """Process ``items`` one after the other, each write overlapping the next file's work.

    ``done(outcome)`` is called as each outcome settles. An interruption (Ctrl-C) waits for
    the writes already started, so no temporary file is left behind.
    """
    from collections import deque

    outcomes: list[FileOutcome] = []
    pending: deque[FileOutcome] = deque()
    in_flight = 0  # bytes held by the pending writes
    with cf.ThreadPoolExecutor(max_workers=_IO_THREADS, thread_name_prefix="deid-io") as io_threads:
        writes = _Writes(io_threads)
        for index, source in items:
            pending.append(process_file(job, index, source, context, writes))
            in_flight += pending[-1]._pending_bytes
            while pending and (
                len(pending) > _MAX_PENDING
                or (in_flight > _MAX_PENDING_BYTES and len(pending) > 1)
                or pending[0]._pending is None
                or pending[0]._pending.done()
            ):
                in_flight -= pending[0]._pending_bytes
                outcomes.append(_settle(pending.popleft()))
                if done is not None:
                    done(outcomes[-1])
        while pending:
            outcomes.append(_settle(pending.popleft()))
            if done is not None:
                done(outcomes[-1])
    return outcomes


def _run_chunk(
    job: BatchJob, items: list[tuple[int, Any]]
) -> tuple[list[FileOutcome], dict[str, str], dict[str, int]]:
    """A pool worker's task: one chunk, with a context of its own; returns the outcomes and
    the UIDs and date offsets of the chunk's files (merged into the caller's context)."""
    context = job.context()
    outcomes = _run_in_order(job, items, context)
    return outcomes, context.uid_map, context.date_offsets


def _run_serial(
    job: BatchJob, items: Sequence[tuple[int, Any]], context: DeidContext, bar: Any
) -> list[FileOutcome]:
    """The serial path: in this thread, sharing the caller's context (its maps fill as we go)."""

    def done(_outcome: FileOutcome) -> None:
        if bar is not None:
            bar.update(1)

    return _run_in_order(job, items, context, done)


def _guided_chunks(items: Sequence[T], workers: int) -> list[list[T]]:
    """``items`` in chunks of at most :data:`_CHUNK`, shrinking towards the end.

    A chunk is a quarter of each worker's share of what is left (guided scheduling): few
    chunks while there is much to do, small ones at the end, so that no worker is still
    on a long last chunk while the others idle (two files at least: a chunk has its own
    context and I/O threads).

    Examples
    --------
    >>> [len(c) for c in _guided_chunks(list(range(60)), 2)]
    [7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]
    """
    chunks, start = [], 0
    while start < len(items):
        size = max(2, min(_CHUNK, (len(items) - start) // (4 * workers)))
        chunks.append(list(items[start : start + size]))
        start += size
    return chunks


def _workers_of(executor: Any) -> int:
    """How many tasks ``executor`` runs at once: a standard library pool's size, else (a
    dask client's executor...) this machine's cores.

    Examples
    --------
    >>> with cf.ThreadPoolExecutor(3) as pool:
    ...     _workers_of(pool)
    3
    """
    workers = getattr(executor, "_max_workers", None)
    return workers if isinstance(workers, int) and workers > 0 else os.cpu_count() or 1


def _run_pool(
    job: BatchJob,
    items: Sequence[tuple[int, Any]],
    context: DeidContext,
    executor: cf.Executor,
    bar: Any,
) -> list[FileOutcome]:
    """The pool path: chunks of sources go to ``executor``; a chunk that fails as a whole (a
    dead worker) gives error outcomes for its files, and the batch goes on."""
    chunks = _guided_chunks(items, _workers_of(executor))
    futures = {executor.submit(_run_chunk, job, chunk): chunk for chunk in chunks}
    outcomes: list[FileOutcome] = []
    try:
        for future in cf.as_completed(futures):
            try:
                chunk_outcomes, uids, dates = future.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker must not sink the batch
                chunk_outcomes = [
                    FileOutcome(
                        i,
                        src if not isinstance(src, Dataset) else f"<dataset {i}>",
                        None,
                        "error",
                        f"worker failed: {type(exc).__name__}: {exc}"[:500],
                    )
                    for i, src in futures[future]
                ]
                uids, dates = {}, {}
            context.merge(uids, dates)
            outcomes.extend(chunk_outcomes)
            if bar is not None:
                bar.update(len(chunk_outcomes))
    except BaseException:
        # Interrupted: queued chunks are dropped; running ones finish their files (each
        # written whole or not at all) before the interruption goes on, so the folder is
        # final by then.
        for future in futures:
            future.cancel()
        cf.wait(futures)
        raise
    return outcomes


# -- sources ----------------------------------------------------------------------------------
def _resolved(path: Path, parents: dict[Path, Path]) -> tuple[Path, bool]:
    """``(path.resolve(), path.is_dir())`` with one ``lstat``: a batch lists many files of
    few folders, so each folder is resolved once (``parents``) and a file that is no symlink
    is its resolved folder joined with its name."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # missing (reported per file) or unreadable: as Path.resolve() says
        return path.resolve(), False
    if stat.S_ISLNK(mode) or path.name in ("", ".", ".."):
        resolved = path.resolve()
        return resolved, resolved.is_dir()
    parent = parents.get(path.parent)
    if parent is None:
        parent = parents[path.parent] = path.parent.resolve()
    return parent / path.name, stat.S_ISDIR(mode)


def _expand(sources: Iterable[Any]) -> tuple[list[Path | Dataset], list[Path]]:
    """The files (and datasets) of ``sources`` and the folders they come from; a source
    listed twice is refused."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    files: list[Path | Dataset] = []
    folders: list[Path] = []
    listed: dict[Path, str] = {}
    datasets_seen: set[int] = set()
    parents: dict[Path, Path] = {}
    for item in sources:
        if isinstance(item, Dataset):
            # In-memory datasets (a widget opened on a Dataset): anonymized from a copy.
            if id(item) in datasets_seen:
                raise UnsafeOutputError("the same Dataset object is listed twice as a source")
            datasets_seen.add(id(item))
            files.append(item)
            continue
        path = Path(os.fspath(item)).expanduser()
        resolved, is_dir = _resolved(path, parents)
        if resolved in listed:
            raise UnsafeOutputError(f"source {item!s} is listed twice (also as {listed[resolved]})")
        listed[resolved] = str(item)
        if is_dir:
            folders.append(resolved)
            files.extend(sorted(p.resolve() for p in resolved.rglob("*") if p.is_file()))
        else:
            files.append(resolved)
            folders.append(resolved.parent)
    seen: set[Path] = set()
    for f in files:
        if isinstance(f, Dataset):
            continue
        if f in seen:
            raise UnsafeOutputError(
                f"source file {f} is listed twice (directly and through a folder)"
            )
        seen.add(f)
    return files, folders


def anonymize_files(
    sources: Iterable[str | os.PathLike[str] | Dataset] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    profile: Profile | None = None,
    key: bytes | str | DeidContext | None = None,
    executor: cf.Executor | None = None,
    progress: bool | Callable[[int, int], None] = True,
    overwrite: bool = False,
    pixel_regions: PixelRegions = None,
    verify: bool = True,
    date_shift_days: tuple[int, int] = (-3652, -365),
    fsync: bool = True,
    text_regions: str | TextRegionPlan | None = None,
) -> Report:
    """De-identify files into ``out_dir``; every file gets an outcome, the batch goes on.

    Each file's header is parsed, de-identified, verified in memory and written; its pixel
    data bytes are copied unchanged (never decoded) unless a pixel step changes them. In a
    file larger than 64 KiB they are not even read: the kernel copies them file to file
    (on Linux; elsewhere in pieces of 1 MiB), so memory stays small whatever the file size.

    Parameters
    ----------
    sources : path or iterable of paths and Datasets
        Files and folders (recursively), or in-memory datasets (anonymized from a copy,
        reported as ``<dataset i>``). A path listed twice is refused.
    out_dir : path
        Created if needed; refused when it is, is inside or contains a source folder. Files
        are named ``<new SOP Instance UID>.dcm`` (no identifiers), written atomically.
    profile : Profile, optional
        Default: the Basic Profile.
    key : bytes, str or DeidContext, optional
        The HMAC key (or a context) for UIDs and date shifts; reuse it to continue a batch.
        Random when omitted (``report.context.key_hex``).
    executor : concurrent.futures.Executor, optional
        Any executor (thread pool, process pool, ``dask.distributed.Client.get_executor()``).
        Default: serial for fewer than 64 files, else the process's shared process pool
        (started by the first such batch, kept for the next ones, shut down when idle for
        a minute).
    progress : bool or callable
        Show a ``tqdm`` progress bar, or call ``progress(done, total)`` after each file/chunk.
    overwrite : bool
        Replace output files left by an earlier run (otherwise the outcome is ``"exists"``):
        the batch's files are then those a run into an empty folder writes, and files at
        names none of its sources owns (their plain and alternate names) are left alone.
        Never the file of another source of the batch: sources sharing a SOP Instance UID
        each keep theirs.
    pixel_regions : list of (row0, col0, row1, col1), or mapping (rows, cols) -> list
        Rectangles (end exclusive) blanked in every frame (with a mapping, of that geometry);
        such files are written Explicit VR Little Endian with code 113101 (Clean Pixel Data).
    verify : bool
        Search every output for the original's identifying values before writing it; a file
        with hits is not written (``"verification_failed"``).
    date_shift_days : (int, int)
        Range of the per-patient date offset (when ``key`` is not a context).
    fsync : bool
        Flush each output to disk before its rename (crash-durable). ``False`` keeps the
        atomic rename (no reader sees a partial file); flushing is left to the system.
    text_regions : {"detect", "all-text"}, TextRegionPlan or None
        Burned-in text: each worker OCRs every image (:func:`~.text_regions.find_text_regions`)
        and blanks the regions showing header values (``"detect"``) or all text
        (``"all-text"``); a :class:`~dicom_widgets.deid.TextRegionPlan` also carries a
        reviewer's decisions per file. Each outcome's ``text_regions`` says what was done. A
        complete check sets Burned In Annotation NO (code 113101); a failed one warns and
        keeps Patient Identity Removed NO.

    Returns
    -------
    Report

    Raises
    ------
    MissingDependencyError
        ``text_regions`` needs Tesseract and it is not installed (before any file is read).

    Notes
    -----
    Interrupted (Ctrl-C, or an exception from ``progress``), the batch stops: written files
    are complete and verified, writes in flight finish or leave nothing.

    Examples
    --------
    >>> import tempfile
    >>> from dicom_widgets.data import ct_phantom, write_series
    >>> src = write_series(ct_phantom(n_slices=3, size=16), tempfile.mkdtemp())
    >>> report = anonymize_files(src, tempfile.mkdtemp(), progress=False)
    >>> report.counts()
    {'written': 3}
    """
    profile = profile if profile is not None else Profile()
    context = (
        key if isinstance(key, DeidContext) else DeidContext(key, date_shift_days=date_shift_days)
    )
    options = dict(overwrite=overwrite, pixel_regions=pixel_regions, verify=verify, fsync=fsync)
    job, items = _batch_job(sources, out_dir, profile, context, text_regions, options)
    outcomes = _run(job, items, context, executor, progress)
    verification = _verification(outcomes) if verify else None
    plan = job.text_regions
    return Report(
        outcomes, context, profile, job.out_dir, verification, pixel_regions, text_regions=plan
    )


def _batch_job(
    sources: Iterable[Any] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    profile: Profile,
    context: DeidContext,
    text_regions: str | TextRegionPlan | None,
    options: dict[str, Any],
) -> tuple[BatchJob, list[tuple[int, Any]]]:
    """The job and its numbered sources: sources expanded, the output folder checked and
    created, and Tesseract looked for when the plan needs OCR (before any file is read)."""
    files, folders = _expand(sources)
    plan = TextRegionPlan.of(text_regions)
    if plan is not None and plan.mode is not None and len(plan.reviewed) < len(files):
        tesseract_version()  # missing Tesseract: say what to install before any work
    out = check_output_folder(out_dir, folders)
    out.mkdir(parents=True, exist_ok=True)
    job = BatchJob(
        str(out), profile, context.key_hex, context.date_shift_days, text_regions=plan, **options
    )
    return job, [(i, f if isinstance(f, Dataset) else str(f)) for i, f in enumerate(files)]


def _run(
    job: BatchJob,
    items: list[tuple[int, Any]],
    context: DeidContext,
    executor: cf.Executor | None,
    progress: bool | Callable[[int, int], None],
) -> list[FileOutcome]:
    """Run the batch serially or on ``executor`` (from :data:`PROCESS_POOL_THRESHOLD` files
    when none is given, the process's shared pool: :func:`~dicom_widgets._executors.shared_process_pool`);
    outcomes in input order."""
    bar = progress_bar(progress, len(items), desc="anonymize")
    try:
        if executor is not None:
            outcomes = _run_pool(job, items, context, executor, bar)
        elif len(items) >= PROCESS_POOL_THRESHOLD and (os.cpu_count() or 1) > 1:
            # The process's shared pool: started once, its workers leave Ctrl-C to us.
            with shared_process_pool() as pool:
                outcomes = _run_pool(job, items, context, pool, bar)
        else:
            outcomes = _run_serial(job, items, context, bar)
    finally:
        bar.close()
    outcomes.sort(key=lambda o: o.index)
    _first_source_named(outcomes)
    _first_claimant_named(outcomes, job)
    return outcomes


def _verification(outcomes: list[FileOutcome]) -> VerificationReport:
    """The batch's verification: every file's hits, the files and values checked."""
    return VerificationReport(
        hits=[h for o in outcomes for h in o.hits],
        files_checked=sum(1 for o in outcomes if o.status in ("written", "verification_failed")),
        needles_checked=sum(o.needles_checked for o in outcomes),
    )
