"""Reading headers in chunks, serially or on any executor, into a columnar :class:`FileTable`.

A chunk is a list of files; a worker reads their headers (the fast reader, else pydicom)
and sends back only the facts the catalog keeps (a small :class:`FileTable` and the
warnings raised), never Datasets. Chunks are merged in their order, so the catalog is the
same whichever executor read them and whichever chunk finished first.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from .._executors import ChunkFailure, progress_bar, run_chunks
from ._frames import frames_from_header, has_pixel_module
from ._index import (
    DICOMDIR,
    ERROR,
    NON_DICOM,
    OK,
    TEXT_COLUMNS,
    FileTable,
    PackedStrings,
    TableBuilder,
)

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

__all__ = [
    "read_files",
    "read_chunk",
    "add_dataset",
    "dataset_text",
    "ChunkResult",
    "HeaderChunk",
]

#: Files per chunk: enough to amortise sending a task, few enough for progress and balance.
MIN_CHUNK, MAX_CHUNK = 32, 1000
_CHUNKS_WANTED = 32
# Below this many files a progress bar is just noise.
PROGRESS_MIN_FILES = 20

#: Keywords of :data:`TEXT_COLUMNS` (SeriesInstanceUID first: the grouping key).
_KEYWORDS = (
    "SeriesInstanceUID",
    "PatientName",
    "PatientID",
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "SeriesNumber",
    "SeriesDescription",
    "Modality",
    "SOPClassUID",
)
_TEXT_TAGS = tuple(
    BaseTag(t)
    for t in (
        0x0020000E,
        0x00100010,
        0x00100020,
        0x0020000D,
        0x00080020,
        0x00081030,
        0x00200011,
        0x0008103E,
        0x00080060,
        0x00080016,
    )
)
_CHARSET = BaseTag(0x00080005)
assert len(_KEYWORDS) == len(TEXT_COLUMNS) == len(_TEXT_TAGS)


def dataset_text(ds: Dataset, keyword: str) -> str:
    """A header value as text, ``""`` when absent or unparsable."""
    try:
        value = ds.get(keyword, "")
    except Exception:  # noqa: BLE001 - unparsable value
        return ""
    return "" if value is None else str(value)


def _texts(ds: Dataset, cache: dict[tuple[Any, ...], tuple[str, ...]]) -> tuple[str, ...]:
    # Files of one series repeat these values byte for byte: convert each distinct set once
    # (light headers keep raw bytes until read, so the bytes are the cache key).
    raw = getattr(ds, "_dict", None)
    key: tuple[Any, ...] | None = None
    if getattr(ds, "_dw_light", False) and raw is not None:
        elements = [raw.get(tag) for tag in (_CHARSET, *_TEXT_TAGS)]
        if all(e is None or isinstance(e, RawDataElement) for e in elements):
            key = tuple(None if e is None else e.value for e in elements)
            found = cache.get(key)
            if found is not None:
                return found
    texts = tuple(dataset_text(ds, keyword) for keyword in _KEYWORDS)
    if key is not None:
        cache[key] = texts
    return texts


def add_dataset(
    builder: TableBuilder,
    path: str,
    ds: Dataset,
    *,
    size: int = -1,
    mtime_ns: int = -1,
    memory: int = -1,
    cache: dict[tuple[Any, ...], tuple[str, ...]] | None = None,
    caught: list[tuple[type[Warning], str]] | None = None,
) -> int:
    """Add the facts of one readable header (and of each frame it describes) to ``builder``."""
    known = getattr(ds, "_dw_frames", None)
    has_pixels = bool(known) if known is not None else has_pixel_module(ds)
    texts = list(_texts(ds, cache if cache is not None else {}))
    series_uid = getattr(ds, "_dw_series_uid", None)
    if series_uid is not None:
        texts[0] = series_uid
    refs: list[Any] = []
    if has_pixels:
        if known is not None:
            refs = known
        else:
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                refs = list(frames_from_header(ds, path if memory < 0 else None))
            if caught is not None:
                caught.extend((w.category, str(w.message)) for w in records)
    if refs:
        sop_uid, instance = refs[0].sop_uid, refs[0].instance_number
    else:
        sop_uid = dataset_text(ds, "SOPInstanceUID")
        try:
            instance = int(ds.get("InstanceNumber"))
        except Exception:  # noqa: BLE001 - absent or unparsable
            instance = None
    row = builder.add_file(
        path,
        status=OK,
        size=size,
        mtime_ns=mtime_ns,
        texts=texts,
        sop_uid=sop_uid,
        instance_number=np.nan if instance is None else float(instance),
        has_pixels=has_pixels,
        memory=memory,
    )
    for ref in refs:
        builder.add_frame(
            row,
            ref.frame,
            ref.rows,
            ref.cols,
            ref.samples,
            ref.position,
            ref.orientation,
            ref.pixel_spacing,
        )
    return row


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk: the facts and the warnings raised."""

    table: FileTable
    warnings: list[tuple[type[Warning], str]] = field(default_factory=list)


@dataclass(frozen=True)
class HeaderChunk:
    """The files of one chunk as a worker gets them: two buffers, not 1000 Python objects.

    ``paths`` packs the paths into one byte buffer; ``stats`` holds (size, mtime in ns) per
    file. A list of path strings costs a Dask scheduler a task-graph node per string; these
    cost one buffer each, whatever the executor.
    """

    paths: PackedStrings
    stats: np.ndarray  # (n, 2) int64
    fast: bool = True

    def __len__(self) -> int:
        return len(self.paths)


def read_chunk(chunk: HeaderChunk) -> ChunkResult:
    """Read the headers of the files of ``chunk``.

    Whatever goes wrong with one file (it vanished, is not DICOM, is corrupt) becomes that
    file's row; only the death of the worker itself can lose a chunk (it is then retried).
    """
    from ._scan import read_header

    builder = TableBuilder()
    cache: dict[tuple[Any, ...], tuple[str, ...]] = {}
    caught: list[tuple[type[Warning], str]] = []
    for path, (size, mtime_ns) in zip(chunk.paths.tolist(), chunk.stats.tolist()):
        try:
            kind, ds, reason = read_header(path, fast=chunk.fast)
            if kind == "ok" and ds is not None:
                add_dataset(
                    builder, path, ds, size=size, mtime_ns=mtime_ns, cache=cache, caught=caught
                )
                # A light header and its frames point at each other: break the cycle so the
                # header is freed now, not by the garbage collector (~47 objects a file).
                vars(ds).pop("_dw_frames", None)
                continue
            status = {"dicomdir": DICOMDIR, "non-dicom": NON_DICOM}.get(kind, ERROR)
        except Exception as exc:  # noqa: BLE001 - one file never sinks its chunk
            status, reason = ERROR, f"cannot read the file ({type(exc).__name__}: {exc})"
        builder.add_file(path, status=status, size=size, mtime_ns=mtime_ns, reason=reason)
    return ChunkResult(builder.build(), caught)


def chunk_size(n_files: int) -> int:
    """Files per chunk for ``n_files`` (about 32 chunks, 32 to 1000 files each)."""
    return max(MIN_CHUNK, min(MAX_CHUNK, math.ceil(n_files / _CHUNKS_WANTED)))


def _chunks(
    paths: Sequence[str], stats: Sequence[tuple[int, int]], fast: bool
) -> list[HeaderChunk]:
    packed = PackedStrings.from_list(paths)
    stat_array = np.array(stats, dtype=np.int64).reshape(-1, 2)
    size = chunk_size(len(paths))
    return [
        HeaderChunk(packed.slice(s, s + size), stat_array[s : s + size], fast)
        for s in range(0, len(paths), size)
    ]


def _failed_chunk(chunk: HeaderChunk, failure: ChunkFailure) -> FileTable:
    """One error row per file of a chunk that failed twice."""
    builder = TableBuilder()
    reason = (
        f"the worker reading this file failed twice (it crashed or was killed): {failure.reason}"
    )
    for path, (size, mtime_ns) in zip(chunk.paths.tolist(), chunk.stats.tolist()):
        builder.add_file(path, status=ERROR, size=size, mtime_ns=mtime_ns, reason=reason)
    return builder.build()


def read_files(
    paths: Sequence[str],
    stats: Sequence[tuple[int, int]],
    *,
    executor: str | cf.Executor | Client | None = None,
    progress: bool | Callable[[int, int], Any] = True,
    fast: bool = True,
) -> tuple[FileTable, list[tuple[type[Warning], str]]]:
    """Read every file's header in chunks on ``executor``; one row per file, in order.

    A chunk that failed twice (its worker died) gives one error row per file of it.
    """
    chunks = _chunks(paths, stats, fast)
    bar = progress_bar(
        progress, len(paths), desc="Reading DICOM headers", min_total=PROGRESS_MIN_FILES
    )
    try:
        results = run_chunks(
            read_chunk, [(c,) for c in chunks], executor, sizes=[len(c) for c in chunks], bar=bar
        )
    finally:
        bar.close()
    tables = []
    caught: list[tuple[type[Warning], str]] = []
    for chunk, result in zip(chunks, results):
        if isinstance(result, ChunkFailure):
            tables.append(_failed_chunk(chunk, result))
        else:
            tables.append(result.table)
            caught.extend(result.warnings)
    return FileTable.concat(tables), caught


def file_stat(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(size, mtime in ns) of a file, (-1, -1) when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return int(st.st_size), int(st.st_mtime_ns)
