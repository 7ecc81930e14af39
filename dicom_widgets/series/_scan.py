"""Finding DICOM files, reading their headers and grouping them into series stacks."""

from __future__ import annotations

import html as _html
import os
import stat
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from .. import _compat
from ..errors import DicomReadError, SeriesSelectionError
from ._cache import DEFAULT_CACHE_BYTES
from ._fastheader import read_fast
from ._findings import Finding
from ._frames import FrameRef, frames_from_header, has_pixel_module
from ._series import Series

__all__ = ["scan", "load_series", "SeriesCatalog", "SeriesInfo"]

_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
# Below this many files a progress bar is just noise.
_PROGRESS_MIN_FILES = 20
# Orientation cosines closer than this belong to the same stack.
_ORIENTATION_TOL = 1e-3

Source = str | os.PathLike | Dataset | Iterable[Any]


@dataclass
class SeriesInfo:
    """Summary of one stack found by :func:`scan` (one row of the catalog).

    ``key`` is the SeriesInstanceUID; stacks split out of a series (localizers, a
    second image size) get ``"<uid>#2"``, ``"<uid>#3"``... and ``split_from`` names the UID.
    """

    key: str
    series_uid: str
    patient_name: str = ""
    patient_id: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    series_number: str = ""
    series_description: str = ""
    modality: str = ""
    sop_class: str = ""
    n_instances: int = 0
    n_frames: int = 0
    rows: int = 0
    cols: int = 0
    has_pixels: bool = True
    split_from: str | None = None
    split_reason: str = ""
    frames: list[FrameRef] = field(default_factory=list, repr=False)
    headers: list[Dataset] = field(default_factory=list, repr=False)
    findings: list[Finding] = field(default_factory=list, repr=False)
    paths: list[str] = field(default_factory=list, repr=False)

    def as_row(self) -> dict[str, Any]:
        """The summary as a flat dict (catalog tables and DataFrames)."""
        return {
            "key": self.key,
            "series_uid": self.series_uid,
            "patient_name": self.patient_name,
            "patient_id": self.patient_id,
            "study_date": self.study_date,
            "study_description": self.study_description,
            "series_number": self.series_number,
            "series_description": self.series_description,
            "modality": self.modality,
            "n_instances": self.n_instances,
            "n_frames": self.n_frames,
            "rows": self.rows,
            "columns": self.cols,
            "split_from": self.split_from or "",
            "findings": len(self.findings),
        }


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword, "")
    except Exception:  # noqa: BLE001 - unparsable value
        return ""
    return "" if value is None else str(value)


class SeriesCatalog(Sequence):
    """What :func:`scan` found: series summaries, unreadable files and non-DICOM files.

    ``catalog.entries`` are the :class:`SeriesInfo` summaries; ``catalog[i]`` (or
    ``catalog["<uid>"]``, ``catalog.get(uid)``) opens the :class:`Series`; iterating
    yields the series. ``errors`` lists unreadable files with the reason,
    ``non_dicom`` the files skipped as not DICOM.

    Examples
    --------
    >>> import tempfile
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom, mr_phantom, write_series
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_series(ct_phantom(n_slices=4, size=16), folder / "ct")
    >>> _ = write_series(mr_phantom(n_slices=3, size=16), folder / "mr")
    >>> catalog = dw.scan(folder, progress=False)
    >>> len(catalog), sorted(e.modality for e in catalog.entries)
    (2, ['CT', 'MR'])
    """

    def __init__(
        self,
        entries: Sequence[SeriesInfo],
        *,
        errors: Sequence[tuple[str, str]] = (),
        non_dicom: Sequence[str] = (),
        dicomdirs: Sequence[str] = (),
        source: str = "",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        prefetch: bool = True,
    ) -> None:
        self.entries: list[SeriesInfo] = list(entries)
        self.errors: list[tuple[str, str]] = list(errors)
        self.non_dicom: list[str] = list(non_dicom)
        self.dicomdirs: list[str] = list(dicomdirs)
        self.source = source
        self._cache_bytes = cache_bytes
        self._prefetch = prefetch
        self._opened: dict[str, Series] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: Any) -> Any:  # int -> Series, str -> Series, slice -> list
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if isinstance(index, str):
            return self.get(index, strict=True)
        return self._open(self.entries[index])

    def __iter__(self) -> Iterator[Series]:
        for entry in self.entries:
            yield self._open(entry)

    def keys(self) -> list[str]:
        """Catalog keys (SeriesInstanceUID, ``#n`` suffix for split stacks)."""
        return [e.key for e in self.entries]

    def info(self, key: str) -> SeriesInfo:
        """The summary for ``key`` (or for a SeriesInstanceUID: its main stack)."""
        for entry in self.entries:
            if entry.key == key:
                return entry
        raise KeyError(key)

    def get(self, series_uid: str, default: Any = None, *, strict: bool = False) -> Series | Any:
        """The :class:`Series` whose key or SeriesInstanceUID is ``series_uid`` (main stack first)."""
        for entry in self.entries:
            if entry.key == series_uid:
                return self._open(entry)
        if strict:
            raise KeyError(f"no series {series_uid!r} in this catalog; keys: {self.keys()}")
        return default

    def _open(self, entry: SeriesInfo) -> Series:
        series = self._opened.get(entry.key)
        if series is None:
            series = _series_from_entry(
                entry, cache_bytes=self._cache_bytes, prefetch=self._prefetch
            )
            self._opened[entry.key] = series
        return series

    @property
    def findings(self) -> list[Finding]:
        """Scan-level findings: unreadable files, non-DICOM files, splits."""
        out = [Finding("error", "unreadable", reason, (path,)) for path, reason in self.errors]
        if self.non_dicom:
            out.append(
                Finding(
                    "info",
                    "non-dicom",
                    f"{len(self.non_dicom)} file(s) are not DICOM and were skipped",
                    tuple(self.non_dicom),
                )
            )
        for entry in self.entries:
            out.extend(f for f in entry.findings if f.code == "split")
        return out

    @property
    def n_files(self) -> int:
        """Number of DICOM files grouped into series (in-memory datasets not counted)."""
        return len({p for e in self.entries for p in e.paths})

    def to_dataframe(self) -> Any:
        """One row per series (see :meth:`SeriesInfo.as_row`); needs pandas."""
        from ._export import require

        pd = require("pandas")
        return pd.DataFrame([e.as_row() for e in self.entries])

    def __repr__(self) -> str:
        head = (
            f"<SeriesCatalog of {self.source!r}: {len(self.entries)} series, "
            f"{len(self.errors)} unreadable, {len(self.non_dicom)} non-DICOM>"
        )
        lines = [head]
        for k, e in enumerate(self.entries):
            size = f"{e.rows}x{e.cols}" if e.has_pixels else "no pixels"
            lines.append(
                f"  [{k}] {e.modality or '?':<3} #{e.series_number or '-':<4} "
                f"{e.series_description[:40]!r:<42} {e.n_instances:>5} inst {e.n_frames:>6} frames "
                f"{size:<10} {e.key}"
            )
        for path, reason in self.errors[:10]:
            lines.append(f"  unreadable: {path}: {reason}")
        if len(self.errors) > 10:
            lines.append(f"  ... and {len(self.errors) - 10} more unreadable files")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        try:
            from ..html import catalog_html

            return str(catalog_html(self))
        except Exception:  # noqa: BLE001 - a repr must never raise; fall back to escaped text
            return f"<pre>{_html.escape(repr(self))}</pre>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


# ---------------------------------------------------------------------------- reading


def _progress(items: Sequence[Any], enabled: bool, desc: str) -> Iterable[Any]:
    if not enabled or len(items) < _PROGRESS_MIN_FILES:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but a missing bar must never stop a scan
        return items
    # delay: only show a bar when the scan actually takes a while (tqdm >= 4.61).
    try:
        return tqdm(items, desc=desc, unit="file", delay=0.5, leave=False)
    except TypeError:  # pragma: no cover - older tqdm without delay
        return tqdm(items, desc=desc, unit="file", leave=False)


def _is_dicomdir(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    sop = ""
    try:
        sop = str(meta.get("MediaStorageSOPClassUID", "")) if meta is not None else ""
    except Exception:  # noqa: BLE001
        pass
    return sop == _DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds


def _plausible(ds: Dataset) -> bool:
    """Whether a dataset read with force=True really is DICOM (random bytes parse too)."""
    try:
        keys = [elem.tag for elem in ds.iterall()][:200]
    except Exception:  # noqa: BLE001
        return False
    if not keys:
        return False
    known = {0x00080016, 0x00080018, 0x00080060, 0x00100020, 0x0020000D, 0x0020000E, 0x00280010}
    return any(int(t) in known for t in keys) and all(
        int(t) >> 16 < 0x7FE1 or int(t) >> 16 == 0xFFFE for t in keys[:20]
    )


#: Use the fast reader for classic little-endian files (set False to compare with pydicom).
FAST_HEADERS = True


def read_header(
    path: str | os.PathLike[str], *, order: int = 0, fast: bool | None = None
) -> tuple[str, Dataset | None, str]:
    """Read one file's header: ``(kind, dataset, reason)``.

    ``kind`` is ``"ok"``, ``"dicomdir"``, ``"non-dicom"`` or ``"error"`` (with ``reason``).
    Classic single-frame little-endian files go through the fast reader (a light header
    with the frame already described); everything else through pydicom.
    """
    from pydicom.errors import InvalidDicomError

    if FAST_HEADERS if fast is None else fast:
        light = read_fast(path, order=order)
        if light is not None:
            return "ok", light[0], ""

    with warnings.catch_warnings():
        # A folder of odd files must not flood the output; problems surface as findings.
        warnings.simplefilter("ignore")
        try:
            with open(path, "rb") as handle:
                ds = _compat.read_dataset(handle, stop_before_pixels=True)
                # pydicom stopped right at the Pixel Data tag: remember where, so truncated
                # pixel data can be reported without decoding anything.
                ds._dw_pixel_offset = handle.tell()
        except InvalidDicomError:
            try:
                ds = _compat.read_dataset(path, stop_before_pixels=True, force=True)
            except Exception:  # noqa: BLE001
                return "non-dicom", None, "no DICOM preamble and not parseable"
            if not _plausible(ds):
                return "non-dicom", None, "no DICOM preamble"
        except IsADirectoryError:
            return "non-dicom", None, "a directory"
        except (OSError, MemoryError) as exc:
            return "error", None, f"cannot read the file: {exc}"
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt headers
            return "error", None, f"not a readable DICOM file ({type(exc).__name__}: {exc})"
        try:
            if _is_dicomdir(ds):
                return "dicomdir", ds, ""
            if len(ds) == 0:
                # pydicom stops quietly at the end of a file cut inside its header.
                return "error", None, "no data elements after the file meta (truncated file?)"
        except Exception as exc:  # noqa: BLE001
            return "error", None, f"corrupt DICOM header ({type(exc).__name__}: {exc})"
    _compat.ensure_transfer_syntax(ds)
    return "ok", ds, ""


def _dicomdir_files(path: Path, ds: Dataset, errors: list[tuple[str, str]]) -> list[Path]:
    """Files referenced by a DICOMDIR's directory records, inside its file-set only.

    PS3.10 File IDs are relative to the file-set root and made of plain components; a
    reference that would leave that folder ("..", absolute paths, separators) is reported
    in ``errors`` and never opened, so a crafted DICOMDIR cannot make us read other files.
    """
    root = path.parent.resolve()
    out: list[Path] = []
    for record in ds.get("DirectoryRecordSequence", []) or []:
        try:
            file_id = record.get("ReferencedFileID")
        except Exception:  # noqa: BLE001
            continue
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        target = path.parent.joinpath(*parts)
        plain = all(p and p not in (".", "..") and not any(c in p for c in "/\\:") for p in parts)
        if not plain or not target.resolve().is_relative_to(root):
            errors.append((str(target), f"referenced by {path} but outside its file-set; not read"))
            continue
        out.append(target)
    return list(dict.fromkeys(out))


def _walk(folder: Path, recursive: bool) -> list[Path]:
    # Only regular files (symlinks followed): opening a FIFO or a device would block the scan.
    if not recursive:
        return sorted(p for p in folder.iterdir() if _is_regular_file(p))
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(root) / f
            for f in sorted(files)
            if not f.startswith(".") and _is_regular_file(Path(root) / f)
        )
    return found


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:  # dangling symlink, symlink loop, permission: not a file we can read
        return False


@dataclass
class _Collected:
    instances: list[tuple[str | None, Dataset]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    non_dicom: list[str] = field(default_factory=list)
    dicomdirs: list[str] = field(default_factory=list)


def _collect(source: Any, recursive: bool, progress: bool) -> _Collected:
    out = _Collected()
    paths: list[Path] = []
    # Explicitly given files that are DICOMDIRs, with the files they reference (missing ones
    # become errors); a DICOMDIR met while walking a folder is only listed, since the walk
    # reads its files anyway.
    referenced: set[str] = set()
    explicit: set[str] = set()

    def add_file(p: Path) -> None:
        if "DICOMDIR" in p.name.upper():
            kind, ds, _reason = read_header(p, fast=False)
            if kind == "dicomdir" and ds is not None:
                out.dicomdirs.append(str(p))
                referenced.add(os.path.abspath(p))
                for ref in _dicomdir_files(p, ds, out.errors):
                    if ref.exists():
                        paths.append(ref)
                    else:
                        out.errors.append((str(ref), f"referenced by {p} but missing"))
                return
        explicit.add(os.path.abspath(p))
        paths.append(p)

    def add(item: Any) -> None:
        if isinstance(item, Dataset):
            out.instances.append((None, item))
        elif isinstance(item, (str, os.PathLike)):
            p = Path(item)
            if p.is_dir():
                paths.extend(_walk(p, recursive))
            elif _is_regular_file(p):
                add_file(p)
            elif p.exists():
                out.errors.append((str(p), "not a regular file (pipe, socket or device)"))
            else:
                out.errors.append((str(p), "no such file or directory"))
        elif isinstance(item, Iterable) and not isinstance(item, (bytes, bytearray)):
            for sub in item:
                add(sub)
        else:
            raise TypeError(
                "source must be a folder, a file, a DICOMDIR, a Dataset or a list of those, "
                f"not {type(item).__name__}"
            )

    add(source)
    seen: set[str] = set(referenced)
    queue = list(dict.fromkeys(paths))
    for path in _progress(queue, progress, "Reading DICOM headers"):
        key = os.path.abspath(path)
        if key in seen:
            continue
        seen.add(key)
        kind, ds, reason = read_header(path, order=len(out.instances))
        if kind == "ok":
            assert ds is not None
            out.instances.append((str(path), ds))
        elif kind == "dicomdir":
            out.dicomdirs.append(str(path))
            if key in explicit and ds is not None:  # a DICOMDIR under another name
                for ref in _dicomdir_files(path, ds, out.errors):
                    ref_key = os.path.abspath(ref)
                    if ref_key in seen:
                        continue
                    seen.add(ref_key)
                    kind2, ds2, reason2 = read_header(ref, order=len(out.instances))
                    if kind2 == "ok" and ds2 is not None:
                        out.instances.append((str(ref), ds2))
                    elif kind2 == "non-dicom":
                        out.non_dicom.append(str(ref))
                    else:
                        out.errors.append((str(ref), reason2 or f"referenced by {path}"))
        elif kind == "error":
            out.errors.append((str(path), reason))
        else:
            out.non_dicom.append(str(path))
    return out


# --------------------------------------------------------------------------- grouping


def _orientation_key(ori: np.ndarray | None, reps: list[np.ndarray | None]) -> int:
    for k, rep in enumerate(reps):
        if rep is None and ori is None:
            return k
        if (
            rep is not None
            and ori is not None
            and float(np.max(np.abs(rep - ori))) <= _ORIENTATION_TOL
        ):
            return k
    reps.append(ori)
    return len(reps) - 1


def _describe_split(main: list[FrameRef], other: list[FrameRef]) -> str:
    a, b = main[0], other[0]
    reasons = []
    if (a.rows, a.cols, a.samples) != (b.rows, b.cols, b.samples):
        reasons.append(f"image size {b.rows}x{b.cols} instead of {a.rows}x{a.cols}")
    if (a.orientation is None) != (b.orientation is None) or (
        a.orientation is not None
        and b.orientation is not None
        and float(np.max(np.abs(a.orientation - b.orientation))) > _ORIENTATION_TOL
    ):
        reasons.append("a different orientation")
    text = " and ".join(reasons) or "different geometry"
    if len({r.path for r in other}) <= 3 and "orientation" in text:
        text += " (probably a localizer)"
    return text


def _group(collected: _Collected) -> list[SeriesInfo]:
    by_uid: dict[str, list[tuple[str | None, Dataset]]] = defaultdict(list)
    for path, ds in collected.instances:
        uid = getattr(ds, "_dw_series_uid", None)
        if uid is None:
            uid = _text(ds, "SeriesInstanceUID")
        if not uid:
            folder = os.path.dirname(path) if path else "memory"
            uid = f"(no SeriesInstanceUID: {folder})"
        by_uid[uid].append((path, ds))

    entries: list[SeriesInfo] = []
    order = 0
    for uid, instances in by_uid.items():
        images = []
        others = []
        for path, ds in instances:
            known = getattr(ds, "_dw_frames", None)
            has_pixels = bool(known) if known is not None else has_pixel_module(ds)
            (images if has_pixels else others).append((path, ds))
        stacks: dict[tuple[Any, ...], list[FrameRef]] = defaultdict(list)
        reps: list[np.ndarray | None] = []
        for path, ds in images:
            known = getattr(ds, "_dw_frames", None)
            refs = known if known is not None else frames_from_header(ds, path, order=order)
            for ref in refs:
                key = (ref.rows, ref.cols, ref.samples, _orientation_key(ref.orientation, reps))
                stacks[key].append(ref)
            order += 1
        ordered = sorted(stacks.values(), key=lambda refs: -len(refs))
        for k, refs in enumerate(ordered):
            key = uid if k == 0 else f"{uid}#{k + 1}"
            entry = _entry(key, uid, refs[0].header, refs=refs)
            if k > 0:
                why = _describe_split(ordered[0], refs)
                entry.split_from = uid
                entry.split_reason = why
                split_msg = (
                    f"{len(refs)} frame(s) of series {uid} have {why}; "
                    f"they were split into stack {key!r}"
                )
                paths = tuple(dict.fromkeys(r.label for r in refs))
                main_entry = next(e for e in entries if e.key == uid)
                main_entry.findings.append(Finding("warning", "split", split_msg, paths))
                entry.findings.append(
                    Finding("warning", "split", f"split out of series {uid}: {why}", paths)
                )
            entries.append(entry)
        if others:
            key = uid if not images else f"{uid}#nonimage"
            first = others[0][1]
            entry = _entry(key, uid, first, refs=[])
            entry.has_pixels = False
            entry.n_instances = len(others)
            entry.headers = [ds for _, ds in others]
            entry.paths = [p for p, _ in others if p is not None]
            sop = _text(first, "SOPClassUID")
            try:
                from pydicom.uid import UID

                sop = UID(sop).name if sop else "unknown SOP class"
            except Exception:  # noqa: BLE001
                pass
            entry.findings.append(
                Finding(
                    "info",
                    "no-pixel-data",
                    f"{len(others)} instance(s) ({sop}) have no image pixel data",
                    tuple(entry.paths),
                )
            )
            entries.append(entry)

    def sort_key(e: SeriesInfo) -> tuple[Any, ...]:
        try:
            number = int(e.series_number)
        except ValueError:
            number = 1 << 30
        return (e.patient_id, e.study_date, e.study_uid, number, e.key)

    entries.sort(key=sort_key)
    return entries


def _entry(key: str, uid: str, ds: Dataset, *, refs: list[FrameRef]) -> SeriesInfo:
    entry = SeriesInfo(
        key=key,
        series_uid=uid,
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        series_number=_text(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        modality=_text(ds, "Modality"),
        sop_class=_text(ds, "SOPClassUID"),
        frames=refs,
    )
    if refs:
        entry.n_frames = len(refs)
        entry.rows, entry.cols = refs[0].rows, refs[0].cols
        entry.n_instances = len({r.path if r.path is not None else id(r.header) for r in refs})
        entry.paths = list(dict.fromkeys(r.path for r in refs if r.path is not None))
    return entry


def _series_from_entry(
    entry: SeriesInfo, *, cache_bytes: int, prefetch: bool, extra: Sequence[Finding] = ()
) -> Series:
    return Series(
        entry.frames,
        key=entry.key,
        findings=[*entry.findings, *extra],
        cache_bytes=cache_bytes,
        prefetch=prefetch,
        header=entry.headers[0] if entry.headers else None,
    )


# ------------------------------------------------------------------------------ public


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, Dataset):
        return "<Dataset>"
    try:
        return f"<{len(source)} items>"
    except TypeError:
        return f"<{type(source).__name__}>"


def scan(
    source: Source,
    *,
    recursive: bool = True,
    progress: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    prefetch: bool = True,
) -> SeriesCatalog:
    """Find DICOM files, read their headers only and group them into series.

    Parameters
    ----------
    source : path, DICOMDIR, Dataset or list of those
        A folder (walked recursively), one file, a DICOMDIR (its referenced files
        are read), a pydicom Dataset, or a list mixing these.
    recursive : bool
        Walk sub-folders.
    progress : bool
        Show a progress bar (tqdm.auto: a widget in notebooks) when reading takes a while.
    cache_bytes, prefetch
        Passed to every :class:`Series` opened from the catalog.

    Returns
    -------
    SeriesCatalog
        Unreadable files are in ``catalog.errors`` (path, reason) and
        ``catalog.findings``; non-DICOM files are counted in ``catalog.non_dicom``.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import pydicom_file
    >>> catalog = dw.scan(pydicom_file("ct_small"), progress=False)
    >>> catalog.entries[0].modality, catalog.entries[0].rows
    ('CT', 128)
    """
    collected = _collect(source, recursive, progress)
    return SeriesCatalog(
        _group(collected),
        errors=collected.errors,
        non_dicom=collected.non_dicom,
        dicomdirs=collected.dicomdirs,
        source=_describe_source(source),
        cache_bytes=cache_bytes,
        prefetch=prefetch,
    )


def load_series(
    source: Source,
    *,
    series_uid: str | None = None,
    recursive: bool = True,
    progress: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    prefetch: bool = True,
) -> Series:
    """Open one series from a folder, files, Datasets, a multi-frame file or a DICOMDIR.

    Only headers are read; pixels are decoded frame by frame on demand.

    Parameters
    ----------
    source : path, DICOMDIR, Dataset or list of those
        See :func:`scan`.
    series_uid : str, optional
        Which series to open when the source holds several (a SeriesInstanceUID or a
        catalog key such as ``"<uid>#2"`` for a split stack).
    recursive, progress : bool
        As for :func:`scan`.
    cache_bytes : int
        Byte bound of the decoded-frame LRU cache (default 256 MiB).
    prefetch : bool
        Decode neighbours of the displayed frame in a background thread.

    Returns
    -------
    Series
        Files that could not be read are listed in ``series.findings``.

    Raises
    ------
    SeriesSelectionError
        When the source holds several image series and ``series_uid`` is not given
        (the message lists them), or nothing usable at all.
    DicomReadError
        When the source is a single file that cannot be read as DICOM.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import mr_multiframe_phantom
    >>> series = dw.load_series(mr_multiframe_phantom(n_slices=4, size=16, n_timepoints=3))
    >>> len(series), series.n_times
    (4, 3)
    """
    catalog = scan(
        source, recursive=recursive, progress=progress, cache_bytes=cache_bytes, prefetch=prefetch
    )
    where = catalog.source
    extra = [Finding("error", "unreadable", reason, (path,)) for path, reason in catalog.errors]
    if series_uid is not None:
        entry = next((e for e in catalog.entries if e.key == series_uid), None)
        if entry is None:
            raise SeriesSelectionError(f"no series {series_uid!r} in {where}.\n{_listing(catalog)}")
        return _series_from_entry(entry, cache_bytes=cache_bytes, prefetch=prefetch, extra=extra)

    if not catalog.entries:
        if len(catalog.errors) == 1 and not catalog.non_dicom:
            path, reason = catalog.errors[0]
            raise DicomReadError(path, reason)
        parts = []
        if catalog.errors:
            shown = "; ".join(f"{p}: {r}" for p, r in catalog.errors[:5])
            parts.append(f"{len(catalog.errors)} unreadable ({shown})")
        if catalog.non_dicom:
            parts.append(f"{len(catalog.non_dicom)} non-DICOM file(s)")
        detail = ", ".join(parts) or "no files"
        raise SeriesSelectionError(f"no DICOM series found in {where}: {detail}")

    # Split stacks (localizers) and non-image companions do not make the choice ambiguous:
    # the main image stack of each SeriesInstanceUID is the candidate.
    images = [e for e in catalog.entries if e.has_pixels and e.split_from is None]
    candidates = images or [e for e in catalog.entries if e.split_from is None]
    if len(candidates) > 1:
        raise SeriesSelectionError(
            f"{where} holds {len(candidates)} series; choose one with "
            f"load_series(source, series_uid=...) or open it from dicom_widgets.scan(source)[i]:\n"
            f"{_listing(catalog, candidates)}"
        )
    return _series_from_entry(
        candidates[0], cache_bytes=cache_bytes, prefetch=prefetch, extra=extra
    )


def _listing(catalog: SeriesCatalog, entries: Sequence[SeriesInfo] | None = None) -> str:
    rows = []
    for e in entries if entries is not None else catalog.entries:
        count = (
            f"{e.n_frames} frames in {e.n_instances} files"
            if e.has_pixels
            else f"{e.n_instances} non-image"
        )
        rows.append(
            f"  series_uid={e.key!r}  number={e.series_number or '-'}  {e.modality or '?'}  "
            f"{e.series_description!r}  ({count})"
        )
    return "\n".join(rows)
