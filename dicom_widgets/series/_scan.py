"""Finding DICOM files, reading their headers and grouping them into series stacks.

A scan keeps only columnar facts per file (see :mod:`._index`); the headers of a series
are read again when it is opened. Headers are read in chunks, serially or on any executor
(a process pool, a Dask cluster), and merge into the same catalog in the same order.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import stat
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset

from .. import _compat
from .._compat import is_dicomdir
from ..errors import DicomReadError, SeriesSelectionError
from ._cache import DEFAULT_CACHE_BYTES
from ._fastheader import read_fast
from ._findings import Finding
from ._frames import FrameRef, frames_from_header
from ._index import DICOMDIR, ERROR, NON_DICOM, OK, FileTable, PackedStrings, TableBuilder
from ._parallel import add_dataset, file_stat, read_files
from ._series import Series

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = ["scan", "load_series", "SeriesCatalog", "SeriesInfo"]

# Orientation cosines closer than this belong to the same stack.
_ORIENTATION_TOL = 1e-3

Source = str | os.PathLike | Dataset | Iterable[Any]

Progress = bool | Callable[[int, int], Any]


@dataclass
class _StackSource:
    """Where the frames of one catalog entry come from: rows of the catalog's table."""

    table: FileTable
    memory: list[Dataset]
    files: np.ndarray  # file rows, in discovery order
    frames: np.ndarray | None  # frame rows of an image stack; None for non-image entries

    def paths(self) -> list[str]:
        memory = self.table.columns["memory"]
        return [self.table.path[int(r)] for r in self.files if memory[r] < 0]

    def _read(self, row: int) -> tuple[str | None, Dataset | None, str]:
        index = int(self.table.columns["memory"][row])
        if index >= 0:
            return None, self.memory[index], ""
        path = self.table.path[row]
        kind, ds, reason = read_header(path, order=row)
        if kind != "ok" or ds is None:
            return path, None, reason or f"no longer a DICOM file ({kind})"
        return path, ds, ""

    def detached(self) -> _StackSource:
        """The same stack with only its own rows (small enough to send to a worker)."""
        if self.memory:
            return self  # in-memory datasets never leave this process
        files = np.asarray(self.files, dtype=np.int64)
        sub = self.table.take(files)
        frames = None
        if self.frames is not None:
            gathered = _frame_rows(self.table, files)
            frames = np.flatnonzero(np.isin(gathered, self.frames))
        return _StackSource(sub, [], np.arange(len(files), dtype=np.int64), frames)

    def load(self) -> tuple[list[FrameRef], list[Dataset], list[Finding]]:
        """Read the headers again: (frames, headers of non-image files, findings)."""
        refs: list[FrameRef] = []
        headers: list[Dataset] = []
        findings: list[Finding] = []
        wanted: dict[int, set[int]] = {}
        if self.frames is not None:
            file_of = self.table.frames["file"][self.frames]
            frame_of = self.table.frames["frame"][self.frames]
            for f, k in zip(file_of.tolist(), frame_of.tolist()):
                wanted.setdefault(f, set()).add(k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the scan already warned about these files
            for row in self.files.tolist():
                path, ds, reason = self._read(row)
                if ds is None:
                    findings.append(
                        Finding("error", "unreadable", f"changed since the scan: {reason}", (path,))
                    )
                    continue
                if self.frames is None:
                    headers.append(ds)
                    continue
                known = getattr(ds, "_dw_frames", None)
                found = known if known is not None else frames_from_header(ds, path, order=row)
                keep = wanted.get(row, set())
                refs.extend(ref for ref in found if ref.frame in keep)
        return refs, headers, findings


@dataclass
class SeriesInfo:
    """Summary of one stack found by :func:`scan` (one row of the catalog).

    ``key`` is the SeriesInstanceUID; stacks split out of a series (localizers, a
    second image size) get ``"<uid>#2"``, ``"<uid>#3"``... and ``split_from`` names the UID.
    ``paths`` lists its files; ``frames`` and ``headers`` read their headers again (the
    catalog keeps only a few facts per file).
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
    findings: list[Finding] = field(default_factory=list, repr=False)
    _source: _StackSource | None = field(default=None, repr=False, compare=False)

    @property
    def paths(self) -> list[str]:
        """The files of this entry, in discovery order (in-memory datasets not listed)."""
        return self._source.paths() if self._source is not None else []

    @property
    def frames(self) -> list[FrameRef]:
        """The entry's frames, from headers read again now."""
        return self._source.load()[0] if self._source is not None else []

    @property
    def headers(self) -> list[Dataset]:
        """Headers of a non-image entry (SR, RT plan...), read again now."""
        return self._source.load()[1] if self._source is not None else []

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


class SeriesCatalog(Sequence):
    """What :func:`scan` found: series summaries, unreadable files and non-DICOM files.

    ``catalog.entries`` are the :class:`SeriesInfo` summaries; ``catalog[i]`` (or
    ``catalog["<uid>"]``, ``catalog.get(uid)``) opens the :class:`Series`, reading its
    headers again; iterating yields the series. ``errors`` lists unreadable files with the
    reason, ``non_dicom`` the files skipped as not DICOM. Per file the catalog keeps only
    columnar facts (a few hundred bytes), so archives of 10^6 files fit in memory:
    ``to_dataframe("files")`` lists them all, ``to_parquet`` saves them as an index that
    ``scan(..., index=path)`` reuses.

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
    >>> len(catalog.to_dataframe("files"))
    7
    """

    def __init__(
        self,
        entries: Sequence[SeriesInfo],
        *,
        table: FileTable | None = None,
        memory: Sequence[Dataset] = (),
        source: str = "",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        prefetch: bool = True,
    ) -> None:
        self.entries: list[SeriesInfo] = list(entries)
        self._table = table if table is not None else TableBuilder().build()
        self._memory = list(memory)
        status = self._table.columns["status"]
        paths = self._table.path
        reason = self._table.columns["reason"]
        pool = self._table.pool
        self.errors: list[tuple[str, str]] = [
            (paths[int(r)], pool[int(reason[r])]) for r in np.flatnonzero(status == ERROR)
        ]
        self.non_dicom: list[str] = [paths[int(r)] for r in np.flatnonzero(status == NON_DICOM)]
        self.dicomdirs: list[str] = [paths[int(r)] for r in np.flatnonzero(status == DICOMDIR)]
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
    def links(self) -> list[Any]:
        """Each SEG / RTSTRUCT and the image series it references (``DerivedLink``)."""
        from ..segmentation._links import derived_links

        if getattr(self, "_links", None) is None:
            self._links = derived_links(self)
        return list(self._links)

    @property
    def n_files(self) -> int:
        """Number of DICOM files grouped into series (in-memory datasets not counted)."""
        columns = self._table.columns
        return int(np.count_nonzero((columns["status"] == OK) & (columns["memory"] < 0)))

    @property
    def nbytes(self) -> int:
        """Bytes of the per-file facts (the bulk of the catalog's memory for big archives)."""
        return self._table.nbytes

    def to_dataframe(self, level: str = "series") -> Any:
        """A pandas DataFrame of the series, or of every file.

        Parameters
        ----------
        level : {"series", "files"}
            ``"series"``: one row per catalog entry (see :meth:`SeriesInfo.as_row`).
            ``"files"``: one row per file found, unreadable and non-DICOM ones included
            (``status``, ``reason``), with its size, mtime, header facts and geometry;
            multi-frame files get one row per frame (``frame``).
        """
        from ._export import require

        pd = require("pandas")
        if level == "files":
            return self._table.to_dataframe()
        if level != "series":
            raise ValueError(f"level must be 'series' or 'files', not {level!r}")
        return pd.DataFrame([e.as_row() for e in self.entries])

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Save every file's facts as a Parquet index (atomically), for ``scan(index=path)``.

        In-memory datasets are not saved. Needs pyarrow (``pip install "dicom-widgets[archive]"``).
        """
        self._table.to_parquet(path)
        return Path(path)

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
        lines.extend(f"  {link}" for link in self.links)
        for path, reason in self.errors[:10]:
            lines.append(f"  unreadable: {path}: {reason}")
        if len(self.errors) > 10:
            lines.append(f"  ... and {len(self.errors) - 10} more unreadable files")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ..html import catalog_html, html_or_pre

        return html_or_pre(catalog_html, self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


# ---------------------------------------------------------------------------- reading


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
            if is_dicomdir(ds):
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


def _walk(
    folder: Path, recursive: bool, found: list[tuple[str, int, int]], errors: list[tuple[str, str]]
) -> None:
    """Regular files under ``folder`` in sorted order, with their size and mtime.

    Symlinks to files are followed, symlinked folders are not (no loops); pipes, sockets,
    devices, dangling links and entries vanishing during the walk become ``errors``: opening
    a FIFO would block the scan, and the user should hear about them.
    """
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=_NAME)
    except OSError as exc:
        errors.append((str(folder), f"cannot list the folder: {exc}"))
        return
    # The loop that a resumed scan mostly is: one stat per file and nothing else.
    subfolders = []
    add, is_regular = found.append, stat.S_ISREG
    for entry in entries:
        if recursive and entry.name[:1] == ".":
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if recursive and not entry.is_symlink():
                subfolders.append(entry.path)
            continue
        try:
            st = entry.stat()
        except OSError as exc:
            reason = (
                "dangling symbolic link (its target is missing)"
                if entry.is_symlink()
                else f"vanished or unreadable during the scan: {exc}"
            )
            errors.append((entry.path, reason))
            continue
        if is_regular(st.st_mode):
            add((entry.path, st.st_size, st.st_mtime_ns))
        else:
            errors.append((entry.path, "not a regular file (pipe, socket or device)"))
    for sub in subfolders:
        _walk(Path(sub), recursive, found, errors)


_NAME = attrgetter("name")


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:  # dangling symlink, symlink loop, permission: not a file we can read
        return False


def _load_index(index: str | os.PathLike[str] | None) -> FileTable | None:
    """The saved index at ``index``, if there is one."""
    if index is None or not os.path.exists(index):
        return None
    return FileTable.from_parquet(index)


def _index_rows(old: FileTable, paths: list[str]) -> tuple[np.ndarray, bool]:
    """The row of ``old`` holding each path (-1: none; errors are always read again), and
    whether some were found only under another spelling (relative / absolute)."""
    reusable = np.flatnonzero(old.columns["status"] != ERROR)
    indexed = old.path.take(reusable)
    if len(reusable) == len(paths):
        # An unchanged tree lists the same paths in the same order: compare the bytes at once.
        packed = PackedStrings.from_list(paths)
        if np.array_equal(packed.offsets, indexed.offsets) and np.array_equal(
            packed.data, indexed.data
        ):
            return reusable, False
    by_path = dict(zip(indexed.tolist(), reusable.tolist()))
    rows = np.array([by_path.get(path, -1) for path in paths], dtype=np.int64)
    missing = np.flatnonzero(rows < 0)
    if len(missing) and by_path:
        by_abs = {os.path.abspath(p): r for p, r in by_path.items()}
        for k in missing.tolist():
            rows[k] = by_abs.get(os.path.abspath(paths[k]), -1)
    return rows, bool(len(missing)) and bool((rows[missing] >= 0).any())


def _unchanged(
    old: FileTable, queue: list[tuple[str, int, int]]
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Each queued file's row in ``old``, whether that row can be reused as it is (same
    size and mtime), and whether some paths are spelled otherwise in ``old``."""
    rows, respelled = _index_rows(old, [path for path, _, _ in queue])
    sizes = np.fromiter((q[1] for q in queue), dtype=np.int64, count=len(queue))
    mtimes = np.fromiter((q[2] for q in queue), dtype=np.int64, count=len(queue))
    known = rows >= 0
    same = np.zeros(len(queue), dtype=bool)
    same[known] = (old.columns["size"][rows[known]] == sizes[known]) & (
        old.columns["mtime_ns"][rows[known]] == mtimes[known]
    )
    return rows, same, respelled


def _read_queue(
    queue: list[tuple[str, int, int]],
    *,
    executor: str | cf.Executor | Client | None,
    progress: Progress,
    old: FileTable | None,
) -> tuple[FileTable, list[tuple[type[Warning], str]], int]:
    """One row per queued file, in queue order: reused from ``old`` when its size and mtime
    are unchanged, else read. Also returns how many files were read."""
    if old is not None and queue:
        rows, same, respelled = _unchanged(old, queue)
        reuse_at, read_at = np.flatnonzero(same), np.flatnonzero(~same)
    else:
        rows = reuse_at = np.zeros(0, dtype=np.int64)
        respelled = False
        read_at = np.arange(len(queue))
    fresh, caught = read_files(
        [queue[k][0] for k in read_at.tolist()],
        [(queue[k][1], queue[k][2]) for k in read_at.tolist()],
        executor=executor,
        progress=progress,
        fast=FAST_HEADERS,
    )
    if not len(reuse_at):
        return fresh, caught, len(read_at)
    assert old is not None
    combined = FileTable.concat([old.take(rows[reuse_at]), fresh])
    position = np.empty(len(queue), dtype=np.int64)
    position[reuse_at] = np.arange(len(reuse_at))
    position[read_at] = len(reuse_at) + np.arange(len(read_at))
    table = combined.take(position)
    if respelled:  # the catalog spells paths as this scan found them, not as the index did
        table = replace(table, path=PackedStrings.from_list([path for path, _, _ in queue]))
    return table, caught, len(read_at)


class _Gathered:
    """What a source names, before any header is read: in-memory datasets and errors as
    rows, and the queue of files to read (with their size and mtime), in the order given.

    Explicitly given DICOMDIRs are read at once, their referenced files queued (missing ones
    become errors); a DICOMDIR met while walking a folder is only listed, since the walk
    reads its files anyway.
    """

    def __init__(self, recursive: bool) -> None:
        self.recursive = recursive
        self.given = TableBuilder()
        self.memory: list[Dataset] = []
        self.queue: list[tuple[str, int, int]] = []
        self.errors: list[tuple[str, str]] = []
        self.referenced: set[str] = set()  # DICOMDIRs given explicitly (absolute paths)
        self.explicit: set[str] = set()  # other files given explicitly (absolute paths)
        self.walks = 0

    def add(self, item: Any) -> None:
        """Add a Dataset, a path or an iterable of those."""
        if isinstance(item, Dataset):
            add_dataset(self.given, "", item, memory=len(self.memory))
            self.memory.append(item)
        elif isinstance(item, (str, os.PathLike)):
            self._add_path(Path(item))
        elif isinstance(item, Iterable) and not isinstance(item, (bytes, bytearray)):
            for sub in item:
                self.add(sub)
        else:
            raise TypeError(
                "source must be a folder, a file, a DICOMDIR, a Dataset or a list of those, "
                f"not {type(item).__name__}"
            )

    def _add_path(self, p: Path) -> None:
        if p.is_dir():
            self.walks += 1
            _walk(p, self.recursive, self.queue, self.errors)
        elif _is_regular_file(p):
            if not ("DICOMDIR" in p.name.upper() and self._add_dicomdir(p)):
                self.explicit.add(os.path.abspath(p))
                self.queue.append((str(p), *file_stat(p)))
        elif p.exists():
            self.errors.append((str(p), "not a regular file (pipe, socket or device)"))
        else:
            self.errors.append((str(p), "no such file or directory"))

    def _add_dicomdir(self, p: Path) -> bool:
        """Queue the files of DICOMDIR ``p``; False when it is no DICOMDIR after all."""
        kind, ds, _reason = read_header(p, fast=False)
        if kind != "dicomdir" or ds is None:
            return False
        self.given.add_file(str(p), status=DICOMDIR, size=file_stat(p)[0], mtime_ns=file_stat(p)[1])
        self.referenced.add(os.path.abspath(p))
        dicomdir_errors: list[tuple[str, str]] = []
        for ref in _dicomdir_files(p, ds, dicomdir_errors):
            if ref.exists():
                self.queue.append((str(ref), *file_stat(ref)))
            else:
                dicomdir_errors.append((str(ref), f"referenced by {p} but missing"))
        self.errors.extend(dicomdir_errors)
        return True

    def unique_queue(self) -> tuple[list[tuple[str, int, int]], set[str]]:
        """The queue without repeated files, and the absolute paths seen (DICOMDIRs too)."""
        seen: set[str] = set(self.referenced)
        if self.walks == 1 and not self.explicit and not self.referenced:
            return self.queue, seen  # one folder walked: its paths are unique already
        unique = []
        for item in self.queue:
            key = os.path.abspath(item[0])
            if key not in seen:
                seen.add(key)
                unique.append(item)
        return unique, seen


def _late_dicomdir_files(
    files: FileTable, explicit: set[str], seen: set[str]
) -> tuple[list[tuple[str, int, int]], list[tuple[str, str]]]:
    """Files referenced by DICOMDIRs given under another name (found only once read), not
    seen yet, and the references refused or missing."""
    more: list[tuple[str, int, int]] = []
    errors: list[tuple[str, str]] = []
    for row in np.flatnonzero(files.columns["status"] == DICOMDIR).tolist():
        path = files.path[row]
        if os.path.abspath(path) not in explicit:
            continue
        kind, ds, _reason = read_header(path, fast=False)
        if kind != "dicomdir" or ds is None:
            continue
        for ref in _dicomdir_files(Path(path), ds, errors):
            ref_key = os.path.abspath(ref)
            if ref_key not in seen:
                seen.add(ref_key)
                more.append((str(ref), *file_stat(ref)))
    return more, errors


def _collect(
    source: Any,
    recursive: bool,
    progress: Progress,
    executor: str | cf.Executor | Client | None = None,
    index: str | os.PathLike[str] | None = None,
) -> tuple[FileTable, list[Dataset], bool]:
    """Every file and dataset of ``source`` as rows of one table, in a deterministic order,
    and whether ``index`` needs writing.

    Datasets, paths that cannot be opened and explicitly given DICOMDIRs come first (in the
    order given), then the files found, in walk order; files referenced by a DICOMDIR given
    under another name last.
    """
    gathered = _Gathered(recursive)
    with warnings.catch_warnings(record=True) as caught_given:
        warnings.simplefilter("always")
        gathered.add(source)
    for path, reason in gathered.errors:
        gathered.given.add_file(path, status=ERROR, reason=reason)
    unique, seen = gathered.unique_queue()
    old = _load_index(index)
    read = partial(_read_queue, executor=executor, progress=progress, old=old)
    files, caught, n_read = read(unique)
    parts = [gathered.given.build(), files]
    more, more_errors = _late_dicomdir_files(files, gathered.explicit, seen)
    if more or more_errors:
        late = TableBuilder()
        for path, reason in more_errors:
            late.add_file(path, status=ERROR, reason=reason)
        extra, caught_more, n_more = read(more)
        parts += [late.build(), extra]
        caught.extend(caught_more)
        n_read += n_more
    for record in caught_given:
        warnings.warn(record.message, record.category, stacklevel=4)
    for category, message in caught:
        warnings.warn(message, category, stacklevel=4)
    table = FileTable.concat(parts)
    # The index needs writing unless every file came from it unchanged and none vanished.
    stale = index is not None and (
        old is None
        or n_read > 0
        or int(np.count_nonzero(table.columns["memory"] < 0)) != old.n_files
    )
    return table, gathered.memory, stale


# --------------------------------------------------------------------------- grouping


def _orientation_keys(orientation: np.ndarray) -> np.ndarray:
    """A stack key per frame: orientations within the tolerance share one (NaN: its own).

    Distinct orientations are compared in order of first appearance against the ones kept
    so far, exactly as frame-by-frame grouping would, but once per distinct value.
    """
    keys = np.zeros(len(orientation), dtype=np.int64)
    if len(orientation) == 0 or (orientation == orientation[0]).all():
        return keys  # the common case: one orientation (NaN never compares equal: not here)
    missing = np.isnan(orientation).any(axis=1)
    reps: list[np.ndarray | None] = []

    def key_of(ori: np.ndarray | None) -> int:
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

    present = np.flatnonzero(~missing)
    unique, first, inverse = np.unique(
        orientation[present], axis=0, return_index=True, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    first_missing = int(np.flatnonzero(missing)[0]) if missing.any() else None
    # Visit distinct values (and the missing one) in the order the frames show them.
    visits = [(int(present[f]), u) for u, f in enumerate(first)]
    if first_missing is not None:
        visits.append((first_missing, -1))
    unique_key = np.zeros(len(unique), dtype=np.int64)
    missing_key = 0
    for _, u in sorted(visits):
        if u < 0:
            missing_key = key_of(None)
        else:
            unique_key[u] = key_of(unique[u])
    keys[present] = unique_key[inverse]
    keys[missing] = missing_key
    return keys


def _describe_split(main: tuple[Any, ...], other: tuple[Any, ...], n_other_files: int) -> str:
    """Why a stack was split off: ``main``/``other`` are (rows, cols, samples, orientation)."""
    (a_rows, a_cols, a_samples, a_ori), (b_rows, b_cols, b_samples, b_ori) = main, other
    reasons = []
    if (a_rows, a_cols, a_samples) != (b_rows, b_cols, b_samples):
        reasons.append(f"image size {b_rows}x{b_cols} instead of {a_rows}x{a_cols}")
    a_missing, b_missing = bool(np.isnan(a_ori).any()), bool(np.isnan(b_ori).any())
    if a_missing != b_missing or (
        not a_missing and float(np.max(np.abs(a_ori - b_ori))) > _ORIENTATION_TOL
    ):
        reasons.append("a different orientation")
    text = " and ".join(reasons) or "different geometry"
    if n_other_files <= 3 and "orientation" in text:
        text += " (probably a localizer)"
    return text


def _frame_rows(table: FileTable, files: np.ndarray) -> np.ndarray:
    """The frame rows of ``files`` (in file order, frames in file order)."""
    start = table.frame_start
    counts = table.columns["n_frames"][files].astype(np.int64)
    offsets = np.zeros(len(files) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return np.repeat(start[files] - offsets[:-1], counts) + np.arange(offsets[-1])


def _labels(table: FileTable, frame_rows: np.ndarray) -> tuple[str, ...]:
    """Unique labels of frames (file, with the frame number for multi-frame files)."""
    frames = table.frames
    memory = table.columns["memory"]
    n_frames = table.columns["n_frames"]
    out = []
    for r in frame_rows.tolist():
        f = int(frames["file"][r])
        base = table.path[f] if memory[f] < 0 else f"<dataset {table.sop_uid[f] or '?'}>"
        out.append(f"{base} [frame {int(frames['frame'][r]) + 1}]" if n_frames[f] > 1 else base)
    return tuple(dict.fromkeys(out))


def _entry(
    table: FileTable, memory: list[Dataset], key: str, uid: str, first: int, files: np.ndarray,
    frames: np.ndarray | None,
) -> SeriesInfo:  # fmt: skip
    text = table.text
    entry = SeriesInfo(
        key=key,
        series_uid=uid,
        patient_name=text("patient_name", first),
        patient_id=text("patient_id", first),
        study_uid=text("study_uid", first),
        study_date=text("study_date", first),
        study_description=text("study_description", first),
        series_number=text("series_number", first),
        series_description=text("series_description", first),
        modality=text("modality", first),
        sop_class=text("sop_class", first),
        n_instances=len(files),
        _source=_StackSource(table, memory, files, frames),
    )
    if frames is not None and len(frames):
        entry.n_frames = len(frames)
        entry.rows = int(table.frames["rows"][frames[0]])
        entry.cols = int(table.frames["cols"][frames[0]])
    return entry


def _files_by_series(table: FileTable) -> dict[str, list[np.ndarray]]:
    """Readable file rows by SeriesInstanceUID (in first-seen order of the sorted codes);
    files without one get a series per folder (one for all in-memory datasets)."""
    columns = table.columns
    ok = np.flatnonzero(columns["status"] == OK)
    codes = columns["series_uid"][ok]
    # Files by series, each series in discovery order (a stable sort keeps it).
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    by_uid: dict[str, list[np.ndarray]] = {}
    for group in np.split(ok[order], bounds) if len(ok) else []:
        uid = table.text("series_uid", int(group[0]))
        if uid:
            by_uid.setdefault(uid, []).append(group)
            continue
        for row in group.tolist():
            folder = os.path.dirname(table.path[row]) if columns["memory"][row] < 0 else "memory"
            by_uid.setdefault(f"(no SeriesInstanceUID: {folder})", []).append(
                np.array([row], dtype=np.int64)
            )
    return by_uid


def _stacks(table: FileTable, frame_rows: np.ndarray) -> list[np.ndarray]:
    """The frame rows of each stack (same size, samples and orientation): biggest first,
    equal sizes in order of first appearance."""
    frames = table.frames
    stack_of = np.stack(
        [
            frames["rows"][frame_rows].astype(np.int64),
            frames["cols"][frame_rows].astype(np.int64),
            frames["samples"][frame_rows].astype(np.int64),
            _orientation_keys(frames["orientation"][frame_rows]),
        ],
        axis=1,
    )
    if (stack_of == stack_of[0]).all():  # one stack: no need to sort the keys
        return [frame_rows]
    _, first, inverse = np.unique(stack_of, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = sorted(range(len(first)), key=lambda s: (-int(np.sum(inverse == s)), first[s]))
    return [frame_rows[inverse == s] for s in order]


def _geometry(table: FileTable, frame_row: int) -> tuple[Any, ...]:
    """(rows, cols, samples, orientation) of one frame: what tells stacks apart."""
    frames = table.frames
    return (
        int(frames["rows"][frame_row]),
        int(frames["cols"][frame_row]),
        int(frames["samples"][frame_row]),
        frames["orientation"][frame_row],
    )


def _note_split(table: FileTable, main: SeriesInfo, split: SeriesInfo, members: np.ndarray) -> None:
    """Record on both entries why ``split`` (frame rows ``members``) left ``main``."""
    assert (
        split._source is not None and main._source is not None and main._source.frames is not None
    )
    why = _describe_split(
        _geometry(table, int(main._source.frames[0])),
        _geometry(table, int(members[0])),
        len(split._source.files),
    )
    uid = main.series_uid
    split.split_from, split.split_reason = uid, why
    paths = _labels(table, members)
    main.findings.append(
        Finding(
            "warning",
            "split",
            f"{len(members)} frame(s) of series {uid} have {why}; "
            f"they were split into stack {split.key!r}",
            paths,
        )
    )
    split.findings.append(Finding("warning", "split", f"split out of series {uid}: {why}", paths))


def _image_entries(
    table: FileTable, memory: list[Dataset], uid: str, images: np.ndarray
) -> list[SeriesInfo]:
    """The stacks of the image files ``images`` of series ``uid``: the main one first."""
    entries: list[SeriesInfo] = []
    for k, members in enumerate(_stacks(table, _frame_rows(table, images))):
        files = np.array(list(dict.fromkeys(table.frames["file"][members].tolist())), np.int64)
        key = uid if k == 0 else f"{uid}#{k + 1}"
        entries.append(_entry(table, memory, key, uid, int(files[0]), files, members))
        if k:
            _note_split(table, entries[0], entries[-1], members)
    return entries


def _non_image_entry(
    table: FileTable, memory: list[Dataset], uid: str, others: np.ndarray, with_images: bool
) -> SeriesInfo:
    """One entry for the files of series ``uid`` without pixel data (SR, RT plan...)."""
    key = f"{uid}#nonimage" if with_images else uid
    entry = _entry(table, memory, key, uid, int(others[0]), others, None)
    entry.has_pixels = False
    sop = entry.sop_class
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
    return entry


def _catalog_order(entry: SeriesInfo) -> tuple[Any, ...]:
    try:
        number = int(entry.series_number)
    except ValueError:
        number = 1 << 30
    return (entry.patient_id, entry.study_date, entry.study_uid, number, entry.key)


def _group(table: FileTable, memory: list[Dataset]) -> list[SeriesInfo]:
    """Catalog entries from the table: files by SeriesInstanceUID, frames by stack geometry."""
    has_pixels = table.columns["has_pixels"]
    entries: list[SeriesInfo] = []
    for uid, groups in _files_by_series(table).items():
        rows = np.sort(np.concatenate(groups))
        images, others = rows[has_pixels[rows]], rows[~has_pixels[rows]]
        if len(images):
            entries += _image_entries(table, memory, uid, images)
        if len(others):
            entries.append(_non_image_entry(table, memory, uid, others, bool(len(images))))
    entries.sort(key=_catalog_order)
    return entries


def _series_from_entry(
    entry: SeriesInfo, *, cache_bytes: int, prefetch: bool, extra: Sequence[Finding] = ()
) -> Series:
    refs: list[FrameRef] = []
    headers: list[Dataset] = []
    found: list[Finding] = []
    if entry._source is not None:
        refs, headers, found = entry._source.load()
    return Series(
        refs,
        key=entry.key,
        findings=[*entry.findings, *found, *extra],
        cache_bytes=cache_bytes,
        prefetch=prefetch,
        header=headers[0] if headers else None,
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
    progress: Progress = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    prefetch: bool = True,
    executor: str | cf.Executor | Client | None = None,
    index: str | os.PathLike[str] | None = None,
) -> SeriesCatalog:
    """Find DICOM files, read their headers only and group them into series.

    Parameters
    ----------
    source : path, DICOMDIR, Dataset or list of those
        A folder (walked recursively), one file, a DICOMDIR (its referenced files
        are read), a pydicom Dataset, or a list mixing these.
    recursive : bool
        Walk sub-folders.
    progress : bool or callable
        Show a progress bar (tqdm.auto: a widget in notebooks) when reading takes a while,
        or call ``progress(done, total)`` after each chunk of files.
    cache_bytes, prefetch
        Passed to every :class:`Series` opened from the catalog.
    executor : None, "processes", concurrent.futures.Executor or dask.distributed.Client
        Where headers are read, in chunks of files: ``None`` in this process,
        ``"processes"`` in a process pool sized to the machine, or any executor, or the
        workers of a Dask cluster (they must see the files at the same paths: shared
        storage). Every executor gives the same catalog. Ctrl-C cancels the pending chunks;
        a chunk whose worker died is retried once, then its files are reported as errors.
        On Dask, the workers' statistical profiler (``distributed.worker.profile.enabled``,
        on by default) costs about a tenth of the header reading (``bench_scan.py``):
        turn it off in the cluster's configuration for big scans.
    index : path, optional
        A Parquet index (see :meth:`SeriesCatalog.to_parquet`): when it exists, files whose
        size and mtime are unchanged are taken from it instead of being read; new and
        changed files are read, vanished ones dropped. The updated index is written back.

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
    table, memory, stale = _collect(source, recursive, progress, executor, index)
    catalog = SeriesCatalog(
        _group(table, memory),
        table=table,
        memory=memory,
        source=_describe_source(source),
        cache_bytes=cache_bytes,
        prefetch=prefetch,
    )
    if stale:
        assert index is not None
        catalog.to_parquet(index)
    return catalog


def load_series(
    source: Source,
    *,
    series_uid: str | None = None,
    recursive: bool = True,
    progress: bool = True,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    prefetch: bool = True,
    auth: Any = None,
) -> Series:
    """Open one series from a folder, files, Datasets, a multi-frame file, a DICOMDIR or a URL.

    Only headers are read; pixels are decoded frame by frame on demand.

    Parameters
    ----------
    source : path, DICOMDIR, Dataset or list of those, or a DICOMweb series URL
        See :func:`scan`. An ``http(s)://…/studies/{study}/series/{series}`` URL opens the
        series from the server lazily (:func:`dicom_widgets.dicomweb.load_series_url`).
    series_uid : str, optional
        Which series to open when the source holds several (a SeriesInstanceUID or a
        catalog key such as ``"<uid>#2"`` for a split stack).
    recursive, progress : bool
        As for :func:`scan`.
    cache_bytes : int
        Byte bound of the decoded-frame LRU cache (default 256 MiB).
    prefetch : bool
        Decode neighbours of the displayed frame in a background thread.
    auth : (user, password), token or requests auth object, optional
        Credentials for a DICOMweb URL (sent only to that URL's origin).

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
    if isinstance(source, str) and source.lower().startswith(("http://", "https://")):
        from ..dicomweb import load_series_url

        return load_series_url(source, auth=auth, cache_bytes=cache_bytes, prefetch=prefetch)
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

    return _series_from_entry(
        _single_entry(catalog), cache_bytes=cache_bytes, prefetch=prefetch, extra=extra
    )


def _single_entry(catalog: SeriesCatalog) -> SeriesInfo:
    """The one image series of ``catalog``, or an error saying what was found instead."""
    where = catalog.source
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
    return candidates[0]


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
