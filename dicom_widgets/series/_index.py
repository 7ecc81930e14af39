"""The catalog's per-file facts, kept columnar: a few hundred bytes a file instead of a header.

A scan of 10^6 files must fit in memory, so nothing per file is a Python object: numbers
are numpy columns, strings repeated across a series (UIDs, names, descriptions) are codes
into one pool, and strings unique to a file (its path, its SOP Instance UID) are packed
into one byte buffer with offsets. Headers are read again when a series is opened.

One row per file (errors and non-DICOM files included), and one row per frame of every
image file in a second, aligned table (one frame per classic file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "FileTable",
    "PackedStrings",
    "TEXT_COLUMNS",
    "STATUS_NAMES",
    "OK",
    "NON_DICOM",
    "ERROR",
    "DICOMDIR",
]

OK, NON_DICOM, ERROR, DICOMDIR = 0, 1, 2, 3
#: Status codes as written in DataFrames and the Parquet index.
STATUS_NAMES = ("ok", "non-dicom", "error", "dicomdir")
#: Header texts kept per file (as codes into the table's string pool).
TEXT_COLUMNS = (
    "series_uid",
    "patient_name",
    "patient_id",
    "study_uid",
    "study_date",
    "study_description",
    "series_number",
    "series_description",
    "modality",
    "sop_class",
)
_FRAME_INT = ("file", "frame", "rows", "cols", "samples")
_INDEX_VERSION = "1"
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"  # file names that are not UTF-8 survive the round trip


class PackedStrings:
    """Many strings in one byte buffer with offsets (about 8 bytes of overhead each).

    Examples
    --------
    >>> s = PackedStrings.from_list(["a.dcm", "sub/b.dcm", "é.dcm"])
    >>> len(s), s[1], s.take(np.array([1, 1, 0])).tolist(), s.slice(1, 3).tolist()
    (3, 'sub/b.dcm', ['sub/b.dcm', 'sub/b.dcm', 'a.dcm'], ['sub/b.dcm', 'é.dcm'])
    """

    __slots__ = ("data", "offsets")

    def __init__(self, data: np.ndarray, offsets: np.ndarray) -> None:
        self.data = data
        self.offsets = offsets

    @classmethod
    def from_list(cls, strings: Iterable[str]) -> PackedStrings:
        strings = list(strings)
        raw = "".join(strings).encode(_ENCODING, _ERRORS)
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        if len(raw) != int(lengths.sum()):
            # Some character takes several bytes: lengths in bytes, string by string. (When
            # the totals agree, every character took one byte: lengths in characters are
            # lengths in bytes.)
            encoded = [s.encode(_ENCODING, _ERRORS) for s in strings]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            raw = b"".join(encoded)
        offsets = np.zeros(len(strings) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.frombuffer(raw, dtype=np.uint8).copy(), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.data[start:end].tobytes().decode(_ENCODING, _ERRORS)

    def tolist(self) -> list[str]:
        raw = self.data.tobytes()
        off = self.offsets.tolist()
        return [raw[off[k] : off[k + 1]].decode(_ENCODING, _ERRORS) for k in range(len(off) - 1)]

    def slice(self, start: int, stop: int) -> PackedStrings:
        """Strings ``start:stop`` (a copy: a chunk sent to a worker carries only its bytes)."""
        stop = min(stop, len(self))
        first, last = int(self.offsets[start]), int(self.offsets[stop])
        return PackedStrings(self.data[first:last].copy(), self.offsets[start : stop + 1] - first)

    def take(self, index: np.ndarray) -> PackedStrings:
        index = np.asarray(index, dtype=np.int64)
        if len(index) == len(self) and np.array_equal(index, np.arange(len(self))):
            return self  # never modified in place: the same strings are these
        starts = self.offsets[index]
        lengths = self.offsets[index + 1] - starts
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Byte k of the result comes from starts[string] + (k - offsets[string]).
        source = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return PackedStrings(self.data[source], offsets)

    @classmethod
    def concat(cls, parts: Sequence[PackedStrings]) -> PackedStrings:
        if not parts:
            return cls.from_list([])
        data = np.concatenate([p.data for p in parts])
        shifts = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
        offsets = np.concatenate(
            [np.zeros(1, dtype=np.int64)] + [p.offsets[1:] + s for p, s in zip(parts, shifts)]
        )
        return cls(data, offsets)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.offsets.nbytes)


@dataclass
class FileTable:
    """Columnar facts of every file of a scan, and of every frame of its image files.

    File columns (length ``n_files``): ``path``, ``sop_uid`` (packed strings), ``size``,
    ``mtime_ns``, ``status`` (:data:`STATUS_NAMES`), ``reason`` and the
    :data:`TEXT_COLUMNS` (codes into ``pool``), ``instance_number`` (NaN when absent),
    ``has_pixels``, ``n_frames`` and ``memory`` (index of an in-memory Dataset, else -1).
    Frame columns (length ``n_frames.sum()``): ``file``, ``frame``, ``rows``, ``cols``,
    ``samples``, ``position`` (n, 3), ``orientation`` (n, 6), ``spacing`` (n, 2), NaN
    when absent.
    """

    path: PackedStrings
    sop_uid: PackedStrings
    pool: list[str]
    columns: dict[str, np.ndarray]
    frames: dict[str, np.ndarray]
    _frame_start: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ access
    @property
    def n_files(self) -> int:
        return len(self.path)

    def __len__(self) -> int:
        return self.n_files

    def text(self, column: str, row: int) -> str:
        """The text of ``column`` for file ``row``."""
        return self.pool[int(self.columns[column][row])]

    def texts(self, column: str) -> list[str]:
        """Every file's text of ``column``."""
        pool = self.pool
        return [pool[c] for c in self.columns[column].tolist()]

    @property
    def frame_start(self) -> np.ndarray:
        """First frame row of each file (its frames are contiguous)."""
        if self._frame_start is None:
            start = np.zeros(self.n_files + 1, dtype=np.int64)
            np.cumsum(self.columns["n_frames"], out=start[1:])
            self._frame_start = start
        return self._frame_start

    def frame_rows(self, row: int) -> range:
        start = self.frame_start
        return range(int(start[row]), int(start[row + 1]))

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns (the catalog's memory per file is about this / n_files)."""
        pool = sum(len(s) + 49 for s in self.pool) + 8 * len(self.pool)
        arrays = sum(a.nbytes for a in self.columns.values()) + sum(
            a.nbytes for a in self.frames.values()
        )
        return int(self.path.nbytes + self.sop_uid.nbytes + pool + arrays)

    # --------------------------------------------------------------- combining
    @classmethod
    def concat(cls, parts: Sequence[FileTable]) -> FileTable:
        """One table from several (files and frames in order; pools merged)."""
        parts = [p for p in parts if p is not None and p.n_files] or list(parts[:1])
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return TableBuilder().build()
        pool: list[str] = []
        codes: dict[str, int] = {}
        remaps = []
        for part in parts:
            remap = np.empty(len(part.pool), dtype=np.int32)
            for k, text in enumerate(part.pool):
                code = codes.get(text)
                if code is None:
                    code = codes[text] = len(pool)
                    pool.append(text)
                remap[k] = code
            remaps.append(remap)
        columns = {}
        for name in parts[0].columns:
            values = [p.columns[name] for p in parts]
            if name in TEXT_COLUMNS or name == "reason":
                values = [r[v] for r, v in zip(remaps, values)]
            columns[name] = np.concatenate(values)
        shifts = np.cumsum([0] + [p.n_files for p in parts[:-1]])
        frames = {}
        for name in parts[0].frames:
            values = [p.frames[name] for p in parts]
            if name == "file":
                values = [v + s for v, s in zip(values, shifts)]
            frames[name] = np.concatenate(values)
        return cls(
            PackedStrings.concat([p.path for p in parts]),
            PackedStrings.concat([p.sop_uid for p in parts]),
            pool,
            columns,
            frames,
        )

    def take(self, rows: np.ndarray) -> FileTable:
        """The files ``rows`` (in that order) with their frames."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == self.n_files and np.array_equal(rows, np.arange(self.n_files)):
            return self  # tables are never modified in place: the same rows are this table
        start = self.frame_start
        counts = self.columns["n_frames"][rows].astype(np.int64)
        new_start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=new_start[1:])
        frame_rows = np.repeat(start[rows] - new_start[:-1], counts) + np.arange(new_start[-1])
        frames = {name: values[frame_rows] for name, values in self.frames.items()}
        frames["file"] = np.repeat(np.arange(len(rows), dtype=np.int32), counts)
        return FileTable(
            self.path.take(rows),
            self.sop_uid.take(rows),
            self.pool,
            {name: values[rows] for name, values in self.columns.items()},
            frames,
        )

    # ----------------------------------------------------------------- export
    def to_dataframe(self) -> Any:
        """One row per file; image files with several frames get one row per frame."""
        from ._export import require

        pd = require("pandas")
        n_frames = self.columns["n_frames"].astype(np.int64)
        # Files without frames keep one row (frame -1) so every file is listed.
        per_file = np.maximum(n_frames, 1)
        file_of_row = np.repeat(np.arange(self.n_files), per_file)
        has_frame = np.repeat(n_frames > 0, per_file)
        frame_row = np.full(len(file_of_row), -1, dtype=np.int64)
        frame_row[has_frame] = np.arange(len(self.frames["file"]))

        def frame_column(values: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full((len(file_of_row),) + values.shape[1:], fill, dtype=values.dtype)
            out[has_frame] = values
            return out

        paths = np.array(self.path.tolist(), dtype=object)
        data: dict[str, Any] = {
            "path": paths[file_of_row],
            "status": np.array(STATUS_NAMES, dtype=object)[self.columns["status"]][file_of_row],
            "reason": np.array(self.pool, dtype=object)[self.columns["reason"]][file_of_row],
            "size": self.columns["size"][file_of_row],
            "mtime_ns": self.columns["mtime_ns"][file_of_row],
        }
        pool = np.array(self.pool, dtype=object)
        for name in TEXT_COLUMNS:
            data[name] = pool[self.columns[name]][file_of_row]
        data["sop_uid"] = np.array(self.sop_uid.tolist(), dtype=object)[file_of_row]
        data["instance_number"] = self.columns["instance_number"][file_of_row]
        data["has_pixels"] = self.columns["has_pixels"][file_of_row]
        data["n_frames"] = n_frames[file_of_row]
        data["memory"] = self.columns["memory"][file_of_row]
        data["frame"] = frame_column(self.frames["frame"], -1)
        for name in ("rows", "cols", "samples"):
            data[name] = frame_column(self.frames[name], 0)
        position = frame_column(self.frames["position"], np.nan)
        for k, axis in enumerate("xyz"):
            data[f"position_{axis}"] = position[:, k]
        orientation = frame_column(self.frames["orientation"], np.nan)
        for k in range(6):
            data[f"orientation_{k}"] = orientation[:, k]
        spacing = frame_column(self.frames["spacing"], np.nan)
        data["spacing_row"], data["spacing_col"] = spacing[:, 0], spacing[:, 1]
        return pd.DataFrame(data)

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dataframe` (files read from disk only) atomically as Parquet."""
        from .._io import atomic_write
        from ._export import require

        pa = require("pyarrow")
        pq = require("pyarrow.parquet")
        df = self.to_dataframe()
        df = df[df["memory"] < 0].drop(columns=["memory"])
        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"dicom_widgets_index"] = _INDEX_VERSION.encode()
        table = table.replace_schema_metadata(meta)
        atomic_write(path, lambda handle: pq.write_table(table, handle), overwrite=True)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> FileTable:
        """Read an index written by :meth:`to_parquet` (straight from Arrow's buffers)."""
        from ._export import require

        pa = require("pyarrow")
        pq = require("pyarrow.parquet")
        table = pq.read_table(path, use_threads=False)
        meta = table.schema.metadata or {}
        if meta.get(b"dicom_widgets_index") != _INDEX_VERSION.encode():
            raise ValueError(f"{path} is not a dicom_widgets scan index (version {_INDEX_VERSION})")

        def column(name: str, dtype: Any) -> np.ndarray:
            return table.column(name).to_numpy().astype(dtype, copy=False)

        frame = column("frame", np.int64)
        first = np.flatnonzero(frame <= 0)
        framed = np.flatnonzero(frame >= 0)
        pool: list[str] = [""]
        codes: dict[str, int] = {"": 0}

        def pooled(name: str) -> np.ndarray:
            encoded = table.column(name).combine_chunks().dictionary_encode()
            remap = np.empty(len(encoded.dictionary), dtype=np.int32)
            for k, text in enumerate(encoded.dictionary.to_pylist()):
                code = codes.get(text)
                if code is None:
                    code = codes[text] = len(pool)
                    pool.append(text)
                remap[k] = code
            return remap[encoded.indices.to_numpy()[first]]

        def packed(name: str) -> PackedStrings:
            arr = table.column(name).combine_chunks().cast(pa.large_string())
            _, offsets, data = arr.buffers()
            off = np.frombuffer(offsets, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
            raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
            return PackedStrings(raw, off.copy()).take(first)

        status_code = {name: k for k, name in enumerate(STATUS_NAMES)}
        status_names = table.column("status").combine_chunks().dictionary_encode()
        status_map = np.array(
            [status_code[s] for s in status_names.dictionary.to_pylist()], dtype=np.int8
        )
        columns = {
            "size": column("size", np.int64)[first],
            "mtime_ns": column("mtime_ns", np.int64)[first],
            "status": status_map[status_names.indices.to_numpy()[first]],
            "reason": pooled("reason"),
            "instance_number": column("instance_number", np.float64)[first],
            "has_pixels": column("has_pixels", bool)[first],
            "n_frames": column("n_frames", np.int32)[first],
            "memory": np.full(len(first), -1, dtype=np.int32),
        }
        for name in TEXT_COLUMNS:
            columns[name] = pooled(name)
        is_first = np.zeros(len(frame), dtype=np.int64)
        is_first[first] = 1

        def stacked(names: Sequence[str]) -> np.ndarray:
            return np.stack([column(n, np.float64)[framed] for n in names], axis=1)

        frames = {
            "file": (np.cumsum(is_first) - 1)[framed].astype(np.int32),
            "frame": frame[framed].astype(np.int32),
            "rows": column("rows", np.int32)[framed],
            "cols": column("cols", np.int32)[framed],
            "samples": column("samples", np.int16)[framed],
            "position": stacked([f"position_{a}" for a in "xyz"]).reshape(-1, 3),
            "orientation": stacked([f"orientation_{k}" for k in range(6)]).reshape(-1, 6),
            "spacing": stacked(["spacing_row", "spacing_col"]).reshape(-1, 2),
        }
        return cls(packed("path"), packed("sop_uid"), pool, columns, frames)


class TableBuilder:
    """Collects one file at a time (in a worker) and builds a :class:`FileTable`."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.sop_uids: list[str] = []
        self.pool: list[str] = [""]
        self.codes: dict[str, int] = {"": 0}
        self.file_ints: dict[str, list[int]] = {
            name: [] for name in ("size", "mtime_ns", "status", "reason", "n_frames", "memory")
        }
        self.file_ints.update({name: [] for name in TEXT_COLUMNS})
        self.instance: list[float] = []
        self.has_pixels: list[bool] = []
        self.frame_ints: dict[str, list[int]] = {name: [] for name in _FRAME_INT}
        self.position: list[Sequence[float]] = []
        self.orientation: list[Sequence[float]] = []
        self.spacing: list[Sequence[float]] = []

    def code(self, text: str) -> int:
        code = self.codes.get(text)
        if code is None:
            code = self.codes[text] = len(self.pool)
            self.pool.append(text)
        return code

    def add_file(
        self,
        path: str,
        *,
        status: int,
        size: int = -1,
        mtime_ns: int = -1,
        reason: str = "",
        texts: Sequence[str] = (),
        sop_uid: str = "",
        instance_number: float = np.nan,
        has_pixels: bool = False,
        memory: int = -1,
    ) -> int:
        """Add one file (``texts`` in :data:`TEXT_COLUMNS` order); returns its row."""
        row = len(self.paths)
        self.paths.append(path)
        self.sop_uids.append(sop_uid)
        ints = self.file_ints
        ints["size"].append(size)
        ints["mtime_ns"].append(mtime_ns)
        ints["status"].append(status)
        ints["reason"].append(self.code(reason))
        ints["n_frames"].append(0)
        ints["memory"].append(memory)
        texts = tuple(texts) or ("",) * len(TEXT_COLUMNS)
        for name, text in zip(TEXT_COLUMNS, texts):
            ints[name].append(self.code(text))
        self.instance.append(instance_number)
        self.has_pixels.append(has_pixels)
        return row

    def add_frame(
        self,
        row: int,
        frame: int,
        rows: int,
        cols: int,
        samples: int,
        position: Sequence[float] | None,
        orientation: Sequence[float] | None,
        spacing: Sequence[float] | None,
    ) -> None:
        """Add one frame of file ``row`` (the file's last added frame row)."""
        ints = self.frame_ints
        ints["file"].append(row)
        ints["frame"].append(frame)
        ints["rows"].append(rows)
        ints["cols"].append(cols)
        ints["samples"].append(samples)
        self.position.append(_NAN3 if position is None else position)
        self.orientation.append(_NAN6 if orientation is None else orientation)
        self.spacing.append(_NAN2 if spacing is None else spacing)
        self.file_ints["n_frames"][row] += 1

    def build(self) -> FileTable:
        ints = self.file_ints
        columns = {
            "size": np.array(ints["size"], dtype=np.int64),
            "mtime_ns": np.array(ints["mtime_ns"], dtype=np.int64),
            "status": np.array(ints["status"], dtype=np.int8),
            "reason": np.array(ints["reason"], dtype=np.int32),
            "instance_number": np.array(self.instance, dtype=np.float64),
            "has_pixels": np.array(self.has_pixels, dtype=bool),
            "n_frames": np.array(ints["n_frames"], dtype=np.int32),
            "memory": np.array(ints["memory"], dtype=np.int32),
        }
        for name in TEXT_COLUMNS:
            columns[name] = np.array(ints[name], dtype=np.int32)
        f = self.frame_ints
        frames = {
            "file": np.array(f["file"], dtype=np.int32),
            "frame": np.array(f["frame"], dtype=np.int32),
            "rows": np.array(f["rows"], dtype=np.int32),
            "cols": np.array(f["cols"], dtype=np.int32),
            "samples": np.array(f["samples"], dtype=np.int16),
            "position": np.array(self.position, dtype=np.float64).reshape(-1, 3),
            "orientation": np.array(self.orientation, dtype=np.float64).reshape(-1, 6),
            "spacing": np.array(self.spacing, dtype=np.float64).reshape(-1, 2),
        }
        return FileTable(
            PackedStrings.from_list(self.paths),
            PackedStrings.from_list(self.sop_uids),
            self.pool,
            columns,
            frames,
        )


_NAN2 = (np.nan,) * 2
_NAN3 = (np.nan,) * 3
_NAN6 = (np.nan,) * 6
