"""Batch de-identification of files: read, anonymize, (clean pixels), verify, write atomically."""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .._compat import decoded_photometric, normalize_unknown_vrs, read_dataset
from .._encode import encode_part10
from .._io import atomic_write_bytes, atomic_write_bytes_unsynced
from ..errors import UnsafeOutputError
from ._tables import EDITION
from .context import DeidContext
from .engine import DeidWarning, _html_or_pre, anonymize
from .profile import Profile
from .verification import Hit, VerificationReport, collect_needles, display_path, verify_bytes

__all__ = ["anonymize_files", "Report", "FileOutcome", "clean_pixels"]

_MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
#: Below this many files the batch runs in the calling thread (process start-up costs more).
PROCESS_POOL_THRESHOLD = 64
_CHUNK = 16

Region = tuple[int, int, int, int]


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
    _pending: Any = field(default=None, repr=False, compare=False)

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
            lines.append(
                f"  {o.status:<20} {display_path(o.source)} -> "
                f"{display_path(o.output, self.out_dir)} {o.message}{extra}"
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


# -- one file ------------------------------------------------------------------------------
_CONTEXTS: dict[tuple[str, tuple[int, int]], DeidContext] = {}


def _context_for(key_hex: str, shift: tuple[int, int]) -> DeidContext:
    # One context per worker process and key, so the maps grow across chunks.
    ctx = _CONTEXTS.get((key_hex, shift))
    if ctx is None:
        ctx = DeidContext(key_hex, date_shift_days=shift)
        _CONTEXTS[(key_hex, shift)] = ctx
    return ctx


def _read(path: str) -> Dataset:
    import warnings as _warnings

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            ds = read_dataset(path)
        except Exception as first:  # noqa: BLE001 - retry without the Part 10 preamble
            try:
                ds = read_dataset(path, force=True)
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
    _check_complete(ds)
    return ds


def _check_complete(ds: Dataset) -> None:
    """Raise for a file cut short: image attributes without (enough) pixel data."""
    # A file cut inside an element: pydicom keeps the short value of the last element read.
    last = max(ds._dict) if ds._dict else None
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
    if 0x7FE00010 in ds:
        elem = ds[0x7FE00010]
        if getattr(elem, "is_undefined_length", False) or not isinstance(elem.value, bytes):
            return
        try:
            rows, cols = int(ds.Rows), int(ds.Columns)
            bits = int(ds.BitsAllocated)
            samples = int(ds.get("SamplesPerPixel", 1) or 1)
            frames = int(ds.get("NumberOfFrames", 1) or 1)
        except (AttributeError, TypeError, ValueError):
            return
        transfer = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
        if transfer and transfer not in (
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.1",
            "1.2.840.10008.1.2.2",
            "1.2.840.10008.1.2.1.99",
        ):
            return  # encapsulated: length not predictable
        if str(ds.get("PhotometricInterpretation", "")) == "YBR_FULL_422":
            samples = 2  # chroma subsampled: two bytes per pixel pair per channel pair
        expected = rows * cols * samples * frames * bits // 8
        if len(elem.value) + 1 < expected:
            raise ValueError(
                f"truncated Pixel Data: {len(elem.value)} bytes, {expected} expected "
                f"for {frames} frame(s) of {rows}x{cols}"
            )


# Pixel Data, Float Pixel Data, Double Float Pixel Data.
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def _is_image(ds: Dataset, sop_class: str) -> bool:
    """Whether the instance must carry pixel data (image attributes or an image storage class)."""
    if "Rows" in ds and "Columns" in ds:
        return True
    from pydicom.uid import UID

    return "Image Storage" in UID(sop_class).name if sop_class else False


def _process_one(index: int, source: str | Dataset, *args: Any, **kwargs: Any) -> FileOutcome:
    """One file's outcome (arguments as :func:`_process_one_file`); whatever goes wrong with
    this file stays with this file."""
    try:
        return _process_one_file(index, source, *args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - one bad file must not sink the batch
        # Rust decoders (pyo3) raise PanicException, a BaseException, on corrupt data.
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        label = source if isinstance(source, str) else f"<dataset {index}>"
        return FileOutcome(index, label, None, "error", f"{type(exc).__name__}: {exc}"[:500])


def _process_one_file(
    index: int,
    source: str | Dataset,
    out_dir: str,
    profile: Profile,
    context: DeidContext,
    overwrite: bool,
    pixel_regions: Any,
    do_verify: bool,
    fsync: bool = True,
    io_pool: cf.Executor | None = None,
) -> FileOutcome:
    if isinstance(source, Dataset):
        from .engine import _copy_dataset

        ds = _copy_dataset(source)
        source = f"<dataset {index}>"
    else:
        try:
            ds = _read(source)
        except Exception as exc:  # noqa: BLE001 - reported per file
            return FileOutcome(
                index, source, None, "error", f"unreadable: {type(exc).__name__}: {exc}"[:500]
            )
    meta = getattr(ds, "file_meta", None)
    sop_class = str(
        ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else "")
    )
    if sop_class == _MEDIA_STORAGE_DIRECTORY or "DirectoryRecordSequence" in ds:
        return FileOutcome(
            index,
            source,
            None,
            "skipped",
            "DICOMDIR not copied: its records name patients and the original files; "
            "build a new one from the anonymized files (pydicom.fileset)",
        )
    # pydicom stops quietly at the end of a file cut inside its header, so an image without
    # its pixels may be a truncated file; header-only files exist too, so it is written, but
    # never without a word.
    note = (
        "no Pixel Data in an image instance: the source may be truncated (header only written)"
        if _is_image(ds, sop_class) and not any(tag in ds for tag in _PIXEL_TAGS)
        else ""
    )
    if not sop_class or "SOPInstanceUID" not in ds:
        return FileOutcome(
            index,
            source,
            None,
            "error",
            "not a composite instance (no SOP Class UID or SOP Instance UID): nothing written",
        )
    try:
        if meta is None or "TransferSyntaxUID" not in meta:
            from pydicom.dataset import FileMetaDataset

            # Files without file meta (no preamble): write as read (implicit VR little endian).
            new_meta = meta if meta is not None else FileMetaDataset()
            new_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
            ds.file_meta = new_meta
        if "MediaStorageSOPClassUID" not in ds.file_meta and sop_class:
            ds.file_meta.MediaStorageSOPClassUID = sop_class
        if "MediaStorageSOPInstanceUID" not in ds.file_meta and "SOPInstanceUID" in ds:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        pixel_cleaned = False
        regions = []
        if pixel_regions is not None and "PixelData" in ds and "Rows" in ds:
            regions = _regions_for(pixel_regions, int(ds.Rows), int(ds.Columns))
        if regions:
            pixel_cleaned = clean_pixels(ds, regions)
        result = anonymize(ds, profile, context=context, pixel_cleaned=pixel_cleaned, _inplace=True)
        out = result.dataset
        if "SOPInstanceUID" in out and str(out.SOPInstanceUID).strip():
            name = f"{out.SOPInstanceUID}.dcm"
        else:
            name = f"noid-{context.pseudonym('file', os.path.abspath(source), 24)}.dcm"
        target = Path(out_dir) / name
        data = encode_part10(out)  # a view: no copy of the (large) pixel data
        hits: list[Hit] = []
        n_needles = 0
        if do_verify:
            needles = collect_needles(None, result.changes, identifiers=result.identifiers)
            touched = {c.path for c in result.changes if c.changed}
            sanctioned = {c.path for c in result.changes if c.action == "K" and c.rule != "basic"}
            n_needles = len(needles)
            hits = verify_bytes(
                data,
                needles,
                out.get("SpecificCharacterSet", ""),
                file=str(target),
                touched=touched,
                sanctioned=sanctioned,
            )
        outcome = FileOutcome(
            index,
            source,
            None,
            "written",
            note,
            n_changes=sum(1 for c in result.changes if c.changed),
            actions=result.changes_by_action(),
            warnings=result.warnings,
            identity_removed=result.identity_removed,
            pixel_cleaned=pixel_cleaned,
            transfer_syntax=str(out.file_meta.TransferSyntaxUID),
            hits=hits,
            needles_checked=n_needles,
        )
        if hits:
            outcome.status = "verification_failed"
            outcome.message = f"{len(hits)} identifying value(s) found in the output; not written"
            return outcome
        pseudonym = context.pseudonym("file", str(source), 10)
        if io_pool is not None:
            # The write (and its fsync) runs on an I/O thread while this worker goes on with
            # the next file; the chunk waits for it before reporting the outcome.
            outcome._pending = io_pool.submit(
                _write_output, outcome, target, data, overwrite, fsync, pseudonym
            )
            return outcome
        return _write_output(outcome, target, data, overwrite, fsync, pseudonym)
    except BaseException as exc:  # noqa: BLE001 - reported per file, nothing written
        # Rust decoders (pyo3) raise PanicException, a BaseException, on corrupt pixel data.
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return FileOutcome(index, source, None, "error", f"{type(exc).__name__}: {exc}"[:500])


def _write_output(
    outcome: FileOutcome,
    target: Path,
    data: Any,
    overwrite: bool,
    fsync: bool,
    pseudonym: str,
) -> FileOutcome:
    """Write one verified output atomically and complete its outcome."""
    write = atomic_write_bytes if fsync else atomic_write_bytes_unsynced
    try:
        try:
            write(target, data, overwrite=overwrite)
        except FileExistsError:
            if target.read_bytes() == data:
                outcome.status = "exists"
                outcome.message = f"{target.name} exists with identical content (overwrite=False)"
                return outcome
            # Another source with the same SOP Instance UID (copies, re-encodings): a second,
            # still identifier-free name derived from the source path under the key.
            alternate = target.with_name(f"{target.stem}-{pseudonym}.dcm")
            try:
                write(alternate, data, overwrite=overwrite)
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
    if outcome.pixel_cleaned:
        outcome.message = "pixel data cleaned; written uncompressed (Explicit VR Little Endian)"
    return outcome


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


def _process_chunk(
    jobs: list[tuple[int, Any]],
    out_dir: str,
    profile: Profile,
    key_hex: str,
    shift: tuple[int, int],
    overwrite: bool,
    pixel_regions: Any,
    do_verify: bool,
    fsync: bool = True,
) -> tuple[list[FileOutcome], dict[str, str], dict[str, int]]:
    context = _context_for(key_hex, shift)
    before_uids = set(context.uid_map)
    before_dates = set(context.date_offsets)
    with cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="deid-io") as io_pool:
        outcomes = [
            _process_one(
                i,
                src,
                out_dir,
                profile,
                context,
                overwrite,
                pixel_regions,
                do_verify,
                fsync,
                io_pool,
            )
            for i, src in jobs
        ]
        outcomes = [_settle(o) for o in outcomes]
    uids = {k: v for k, v in context.uid_map.items() if k not in before_uids}
    dates = {k: v for k, v in context.date_offsets.items() if k not in before_dates}
    return outcomes, uids, dates


class _CallbackBar:
    """Adapts a ``progress(done, total)`` callable to the bits of the tqdm API used here."""

    def __init__(self, callback: Any, total: int) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def update(self, n: int) -> None:
        self.done += n
        self.callback(self.done, self.total)

    def close(self) -> None:
        pass


# -- sources and safety ----------------------------------------------------------------------
def _expand(sources: Iterable[Any]) -> tuple[list[Path], list[Path]]:
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    files: list[Path] = []
    folders: list[Path] = []
    listed: dict[Path, str] = {}
    datasets_seen: set[int] = set()
    for item in sources:
        if isinstance(item, Dataset):
            # In-memory datasets (a widget opened on a Dataset): anonymized from a copy.
            if id(item) in datasets_seen:
                raise UnsafeOutputError("the same Dataset object is listed twice as a source")
            datasets_seen.add(id(item))
            files.append(item)  # type: ignore[arg-type]
            continue
        path = Path(os.fspath(item)).expanduser()
        resolved = path.resolve()
        if resolved in listed:
            raise UnsafeOutputError(f"source {item!s} is listed twice (also as {listed[resolved]})")
        listed[resolved] = str(item)
        if resolved.is_dir():
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


def _check_out_dir(out_dir: Path, folders: list[Path]) -> None:
    for folder in folders:
        if out_dir == folder or folder in out_dir.parents:
            raise UnsafeOutputError(
                f"output folder {out_dir} is inside the source folder {folder}: choose a folder "
                "outside the sources (de-identified copies must never mix with the originals)"
            )
        if out_dir in folder.parents:
            raise UnsafeOutputError(
                f"output folder {out_dir} contains the source folder {folder}: choose a folder "
                "outside the sources (a later scan of the output would mix originals and copies)"
            )


def anonymize_files(
    sources: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    profile: Profile | None = None,
    key: bytes | str | DeidContext | None = None,
    executor: cf.Executor | None = None,
    progress: bool = True,
    overwrite: bool = False,
    pixel_regions: Sequence[Region] | Mapping[Any, Sequence[Region]] | None = None,
    verify: bool = True,
    date_shift_days: tuple[int, int] = (-3652, -365),
    fsync: bool = True,
) -> Report:
    """De-identify files into ``out_dir``; every file gets an outcome, the batch goes on.

    Parameters
    ----------
    sources : path or iterable of paths and Datasets
        Files and folders (searched recursively), or in-memory datasets (anonymized from a
        copy; reported as ``<dataset i>``). A path listed twice is refused.
    out_dir : path
        Created if needed; refused when it is, or is inside, a source folder. Files are named
        ``<new SOP Instance UID>.dcm`` (no identifiers), written atomically.
    profile : Profile, optional
        Default: the Basic Profile.
    key : bytes, str or DeidContext, optional
        The HMAC key (or a whole context) for UIDs and date shifts; reuse it to continue a batch.
        Random when omitted (read it back from ``report.context.key_hex``).
    executor : concurrent.futures.Executor, optional
        Any executor (thread pool, process pool, ``dask.distributed.Client.get_executor()``).
        Default: serial for fewer than 64 files, else a process pool.
    progress : bool or callable
        Show a ``tqdm`` progress bar, or call ``progress(done, total)`` after each file/chunk.
    overwrite : bool
        Replace existing output files (otherwise the outcome is ``"exists"``).
    pixel_regions : list of (row0, col0, row1, col1), or mapping (rows, cols) -> list
        Rectangles (end exclusive) blanked in every frame; with a mapping only instances of
        that geometry. Cleaned files are written as Explicit VR Little Endian and carry code
        113101 (Clean Pixel Data). Without it pixel data and transfer syntax are byte-exact.
    fsync : bool
        Flush each output to disk before its rename (crash-durable). ``False`` keeps the
        temporary-file-and-rename atomicity (no reader ever sees a partial file) but leaves
        flushing to the operating system (much faster for big batches).
    verify : bool
        Search every output for the original's identifying values before writing it; a file
        with hits is not written (status ``"verification_failed"``).

    Returns
    -------
    Report

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
    if isinstance(key, DeidContext):
        context = key
    else:
        context = DeidContext(key, date_shift_days=date_shift_days)
    files, folders = _expand(sources)
    out = Path(os.fspath(out_dir)).expanduser().resolve()
    _check_out_dir(out, folders)
    if out.exists() and not out.is_dir():
        raise UnsafeOutputError(f"output path {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    jobs = [(i, f if isinstance(f, Dataset) else str(f)) for i, f in enumerate(files)]
    outcomes: list[FileOutcome] = []
    own_pool = None
    if executor is None and len(jobs) >= PROCESS_POOL_THRESHOLD and (os.cpu_count() or 1) > 1:
        own_pool = cf.ProcessPoolExecutor(max_workers=min(os.cpu_count() or 2, 8))
        executor = own_pool
    bar = None
    if callable(progress):
        bar = _CallbackBar(progress, len(jobs))
    elif progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), desc="anonymize", unit="file")
        except ImportError:  # pragma: no cover - tqdm is a dependency
            bar = None
    try:
        if executor is None:
            # Serial: share the caller's context directly (its maps fill as we go); writes
            # overlap with the next file on an I/O thread, a few files behind at most.
            from collections import deque

            pending: deque[FileOutcome] = deque()
            with cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="deid-io") as io_pool:
                for i, src in jobs:
                    pending.append(
                        _process_one(
                            i,
                            src,
                            str(out),
                            profile,
                            context,
                            overwrite,
                            pixel_regions,
                            verify,
                            fsync,
                            io_pool,
                        )
                    )
                    while len(pending) > 8:
                        outcomes.append(_settle(pending.popleft()))
                        if bar is not None:
                            bar.update(1)
                while pending:
                    outcomes.append(_settle(pending.popleft()))
                    if bar is not None:
                        bar.update(1)
        else:
            chunk = max(1, min(_CHUNK, len(jobs) // (4 * (os.cpu_count() or 1)) or 1))
            futures = {
                executor.submit(
                    _process_chunk,
                    jobs[start : start + chunk],
                    str(out),
                    profile,
                    context.key_hex,
                    context.date_shift_days,
                    overwrite,
                    pixel_regions,
                    verify,
                    fsync,
                ): jobs[start : start + chunk]
                for start in range(0, len(jobs), chunk)
            }
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
        # Interrupted (KeyboardInterrupt...): drop the queued work; written files are complete.
        if own_pool is not None:
            own_pool.shutdown(wait=False, cancel_futures=True)
            own_pool = None
        raise
    finally:
        if bar is not None:
            bar.close()
        if own_pool is not None:
            own_pool.shutdown()
    outcomes.sort(key=lambda o: o.index)
    verification = None
    if verify:
        verification = VerificationReport(
            hits=[h for o in outcomes for h in o.hits],
            files_checked=sum(
                1 for o in outcomes if o.status in ("written", "verification_failed")
            ),
            needles_checked=sum(o.needles_checked for o in outcomes),
        )
    return Report(outcomes, context, profile, str(out), verification, pixel_regions)
