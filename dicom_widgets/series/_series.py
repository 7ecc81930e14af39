"""The :class:`Series`: sorted, lazily decoded frames of one image stack."""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from .. import _compat
from .._compat import as_text, safe_get
from .._executors import progress_bar
from ..display import (
    VOILUT,
    Window,
    WindowLUT,
    WindowSpec,
    auto_window,
    make_lut,
    resolve_window,
    to_display,
    voi_lut_from_dataset,
    window_from_dataset,
)
from ..errors import DecodeError, DicomWidgetsWarning, GeometryError
from ._cache import DEFAULT_CACHE_BYTES, FrameCache, Prefetcher
from ._findings import Finding
from ._frames import _NATIVE_SYNTAXES, FrameRef
from ._geometry import arrange
from ._native import read_native_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Series", "CODECS_HINT", "PREFETCH_NEIGHBOURS"]

#: What to tell users when a codec is missing.
CODECS_HINT = 'install the codecs extra: pip install "dicom-widgets[codecs]"'
#: How many frames on each side of the requested one the prefetcher decodes.
PREFETCH_NEIGHBOURS = 2

# Phrases of pydicom 2.4 / 3.x errors that mean "no decoder installed" (not "decoder failed").
_MISSING_CODEC_MARKERS = (
    "missing dependencies",
    "missing required dependencies",
    "no pixel data handlers available",
    "no available image handler",
    "no module named",
)


def _transfer_syntax(ds: Dataset) -> str:
    return as_text(safe_get(getattr(ds, "file_meta", None), "TransferSyntaxUID"))


def _decode_message(ref: FrameRef, exc: BaseException) -> str:
    """Say which file failed, why, and what to do."""
    cause = f"{type(exc).__name__}: {exc}".strip()
    cause = " ".join(cause.split())
    if len(cause) > 400:
        cause = cause[:400] + "..."
    syntax = _transfer_syntax(ref.header)
    name = UID(syntax).name if syntax else "unknown transfer syntax"
    lowered = cause.lower()
    compressed = bool(syntax) and syntax not in _NATIVE_SYNTAXES
    if compressed and any(marker in lowered for marker in _MISSING_CODEC_MARKERS):
        return f"{ref.label}: cannot decode {name} pixel data ({cause}); {CODECS_HINT}"
    message = f"{ref.label}: pixel data could not be decoded ({name}): {cause}"
    if compressed and not _have_codecs():
        # Without pylibjpeg only pydicom's fallback decoders were tried; the extra may decode it.
        message += f"; to try the pylibjpeg decoders, {CODECS_HINT}"
    return message


def _as_rgb(arr: np.ndarray, ref: FrameRef) -> np.ndarray:
    """A decoded colour frame in RGB: pydicom 2.4 leaves YBR_FULL(_422) as stored."""
    decoded = _compat.decoded_photometric(ref.header)
    if ref.samples == 3 and decoded in ("YBR_FULL", "YBR_FULL_422"):
        return _compat.convert_color_space(arr, decoded, "RGB")
    return arr


def _have_codecs() -> bool:
    import importlib.util

    return importlib.util.find_spec("pylibjpeg") is not None


def _expected_pixel_bytes(ref: FrameRef) -> int | None:
    rows, cols, bits, samples, frames = (
        ref.rows,
        ref.cols,
        ref.bits_allocated,
        ref.samples,
        ref.n_frames,
    )
    if not (rows and cols and bits):
        return None
    if ref.photometric == "YBR_FULL_422" and samples == 3:
        samples = 2  # native 4:2:2 stores two samples per pixel (PS3.5 8.2.1)
    pixels = rows * cols * samples * frames
    return (pixels * bits + 7) // 8


class Series:
    """One stack of images, sorted by geometry and decoded lazily.

    Build it with :func:`dicom_widgets.load_series` (or from a
    :class:`~dicom_widgets.series.SeriesCatalog`). Frames are decoded only when
    asked for, kept in a byte-bounded LRU cache, and the neighbours of the last
    requested frame are decoded in a background thread.

    Indexing: ``len(series)`` is the number of slices per time point;
    ``series.n_times`` the number of time points (1 for a 3-D series). Slice 0 is
    the one with the smallest position along the slice normal.

    Parameters
    ----------
    frames : sequence of FrameRef
        The frames of one stack (see :mod:`dicom_widgets.series._frames`).
    key : str, optional
        Catalog key (the SeriesInstanceUID, with ``#2``... for split stacks).
    findings : sequence of Finding
        Findings known before sorting (split, unreadable files...).
    cache_bytes : int
        Upper bound of the decoded-frame cache.
    prefetch : bool
        Decode the neighbours of each requested frame in a background thread.
    header : Dataset, optional
        The header of a series without image frames (SR, RT plan).
    frame_reader : callable, optional
        ``frame_reader(ref)`` returns the stored values of a frame that is not in a local
        file (a DICOMweb frame source); the cache, prefetch and findings work as for files.
    prefetch_neighbours, prefetch_workers : int
        How many frames on each side of the requested one are prefetched, by how many threads.

    Examples
    --------
    >>> import tempfile
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom, write_series
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_series(ct_phantom(n_slices=8, size=32), folder)
    >>> series = dw.load_series(folder, progress=False)
    >>> len(series), series.spacing, float(series.frame(0).min())
    (8, (6.25, 6.25, 4.0), -1000.0)
    """

    def __init__(
        self,
        frames: Sequence[FrameRef],
        *,
        key: str | None = None,
        findings: Sequence[Finding] = (),
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        prefetch: bool = True,
        header: Dataset | None = None,
        frame_reader: Callable[[FrameRef], np.ndarray] | None = None,
        prefetch_neighbours: int = PREFETCH_NEIGHBOURS,
        prefetch_workers: int = 1,
    ) -> None:
        layout = arrange(frames)
        self._layout = layout
        self._grid = layout.grid
        self._n = len(self._grid[0]) if self._grid else 0
        self._flat: list[FrameRef] = [ref for row in self._grid for ref in row]
        self._index_of = {id(ref): k for k, ref in enumerate(self._flat)}
        self._static_findings: list[Finding] = [*findings, *layout.findings]
        self._decode_failures: dict[int, str] = {}
        self._failure_lock = threading.Lock()
        self._full_headers: OrderedDict[str, Dataset] = OrderedDict()
        self._mf_datasets: OrderedDict[str, Dataset] = OrderedDict()
        self._mf_lock = threading.Lock()
        self._file_windows: dict[tuple[int, int], Any] = {}
        self._cache = FrameCache(cache_bytes)
        self._prefetch_enabled = bool(prefetch)
        self._prefetcher: Prefetcher | None = None
        # Frames that come from elsewhere (a DICOMweb server) are read by this callable.
        self._frame_reader = frame_reader
        self._prefetch_neighbours = max(0, int(prefetch_neighbours))
        self._prefetch_workers = max(1, int(prefetch_workers))
        self._luts: OrderedDict[Hashable, WindowLUT] = OrderedDict()
        self._default_window: Window | VOILUT | None | object = _UNSET
        first = self._flat[0] if self._flat else None
        self._first = first
        # A non-image series (SR, RT plan) has no frames but still a header to describe it.
        self._header = first.header if first is not None else header
        self.key = key or (
            first.series_uid
            if first is not None
            else as_text(safe_get(header, "SeriesInstanceUID"))
            if header is not None
            else ""
        )
        by_file: dict[str, dict[int, int]] = {}
        for k, ref in enumerate(self._flat):
            if ref.path is not None:
                by_file.setdefault(ref.path, {})[ref.frame] = k
        self._by_file = by_file
        self._check_pixels_present()
        for finding in layout.findings:
            if finding.code == "missing-geometry" and finding.severity == "warning":
                warnings.warn(
                    f"series {self.key}: {finding.message}", DicomWidgetsWarning, stacklevel=4
                )

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[np.ndarray]:
        """Iterate over the frames of time point 0 (modality units)."""
        for i in range(self._n):
            yield self.frame(i)

    def __getitem__(self, index: int) -> np.ndarray:
        """``series[i]`` is ``series.frame(i)``."""
        return self.frame(index)

    def __enter__(self) -> Series:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the prefetch thread and drop the caches."""
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None
        self._cache.clear()
        with self._mf_lock:
            self._mf_datasets.clear()

    def __del__(self) -> None:
        if sys.is_finalizing():  # daemon threads are frozen; nothing to stop, nothing to wait for
            return
        prefetcher = getattr(self, "_prefetcher", None)
        if prefetcher is not None:
            prefetcher.close()

    @property
    def n_times(self) -> int:
        """Number of time points (or other repeated stacks: echoes, acquisitions); 1 for 3-D."""
        return len(self._grid) if self._n else 0

    @property
    def time_key(self) -> str | None:
        """The attribute that orders the time points of a 4-D series (e.g. TemporalPositionIndex).

        Two are not DICOM keywords: ``"NMFrameVectors"`` (an NM image's frame index vectors
        other than Slice Vector, such as R-R Interval and Time Slot of a gated
        reconstruction) and ``"FrameNumber"`` (frames of one file sharing positions, in
        frame order; a finding says so).
        """
        return self._layout.time_key

    @property
    def sort_method(self) -> str:
        """How slices were ordered: ``"geometry"``, ``"instance-number"``, ``"acquisition-time"``, ``"file-order"``."""
        return self._layout.sort_method

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :meth:`volume` for one time point, prefixed by ``n_times`` when > 1."""
        if not self._n:
            return (0,)
        ref = self._flat[0]
        shape: tuple[int, ...] = (self._n, ref.rows, ref.cols)
        if self.is_color:
            shape = (*shape, 3)
        return (self.n_times, *shape) if self.n_times > 1 else shape

    def _ref(self, index: int, time: int = 0) -> FrameRef:
        if not self._n:
            raise IndexError("this series has no image frames (see series.findings)")
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an integer, not {type(index).__name__}")
        if not -self._n <= index < self._n:
            raise IndexError(f"frame index {index} out of range for {self._n} slices")
        if not 0 <= time < len(self._grid) and not -len(self._grid) <= time < 0:
            raise IndexError(f"time index {time} out of range for {len(self._grid)} time points")
        return self._grid[time][index]

    def frame_ref(self, index: int, time: int = 0) -> FrameRef:
        """The :class:`FrameRef` (file, frame number, geometry) of slice ``index``."""
        return self._ref(index, time)

    def dataset(self, index: int = 0, time: int = 0) -> Dataset:
        """Full header of the instance holding slice ``index`` (pixel data not loaded for files).

        Files opened through the fast header reader are re-read with pydicom here
        (``stop_before_pixels``), so every element is available; the last few are cached.
        """
        return self._full_header(self._ref(index, time).header)

    def _full_header(self, ds: Dataset) -> Dataset:
        if not getattr(ds, "_dw_light", False):
            return ds
        path = str(ds.filename)
        with self._failure_lock:
            full = self._full_headers.get(path)
        if full is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                full = _compat.read_dataset(path, stop_before_pixels=True, force=True)
            _compat.ensure_transfer_syntax(full)
            with self._failure_lock:
                self._full_headers[path] = full
                while len(self._full_headers) > 16:
                    self._full_headers.popitem(last=False)
        return full

    @property
    def header(self) -> Dataset | None:
        """Full header of the first frame's instance (series-level attributes)."""
        return None if self._header is None else self._full_header(self._header)

    @property
    def files(self) -> list[str]:
        """Source files in slice order (each once), time point 0 first."""
        return list(dict.fromkeys(r.path for r in self._flat if r.path is not None))

    # -------------------------------------------------------------- metadata
    def _attr(self, keyword: str) -> str:
        return as_text(safe_get(self._header, keyword))

    @property
    def series_uid(self) -> str:
        """SeriesInstanceUID."""
        return (
            self._first.series_uid if self._first is not None else self._attr("SeriesInstanceUID")
        )

    @property
    def modality(self) -> str:
        """Modality (``"CT"``, ``"MR"``...)."""
        return self._attr("Modality")

    @property
    def description(self) -> str:
        """SeriesDescription."""
        return self._attr("SeriesDescription")

    @property
    def series_number(self) -> str:
        """SeriesNumber as text (may be empty)."""
        return self._attr("SeriesNumber")

    @property
    def patient_name(self) -> str:
        """PatientName as text."""
        return self._attr("PatientName")

    @property
    def stored_photometric(self) -> str:
        """PhotometricInterpretation as stored in the file."""
        return self._attr("PhotometricInterpretation").strip().upper()

    @property
    def is_color(self) -> bool:
        """True for RGB / YBR / PALETTE COLOR data: :meth:`frame` returns (rows, cols, 3) uint8."""
        if self._first is None:
            return False
        return self._first.samples == 3 or self.stored_photometric == "PALETTE COLOR"

    @property
    def photometric(self) -> str:
        """Photometric interpretation of what :meth:`frame` returns.

        ``"RGB"`` for colour data (YBR and palette are converted), otherwise the stored
        ``"MONOCHROME1"`` / ``"MONOCHROME2"``. Pass it to :func:`~dicom_widgets.display.to_display`.
        """
        if self.is_color:
            return "RGB"
        pi = self.stored_photometric
        return pi if pi in ("MONOCHROME1", "MONOCHROME2") else "MONOCHROME2"

    # -------------------------------------------------------------- geometry
    @property
    def positions(self) -> np.ndarray:
        """ImagePositionPatient of each slice (time point 0), shape (n, 3); NaN when unknown."""
        out = np.full((self._n, 3), np.nan)
        for k, ref in enumerate(self._grid[0] if self._n else []):
            if ref.position is not None:
                out[k] = ref.position
        return out

    @property
    def orientation(self) -> np.ndarray | None:
        """ImageOrientationPatient (row cosine, column cosine), shape (6,), or ``None``."""
        return (
            None
            if self._first is None or self._first.orientation is None
            else self._first.orientation.copy()
        )

    @property
    def slice_normal(self) -> np.ndarray | None:
        """Unit normal (row cosine x column cosine): the direction of increasing slice index."""
        return None if self._layout.normal is None else self._layout.normal.copy()

    @property
    def spacing(self) -> tuple[float, float, float]:
        """(row spacing, column spacing, slice spacing) in mm.

        Row spacing is PixelSpacing[0] (between rows), column spacing PixelSpacing[1];
        slice spacing is the median distance between slice positions, else
        SpacingBetweenSlices or SliceThickness, else 1.0 (see :attr:`findings`).
        """
        if self._first is None:
            return (1.0, 1.0, 1.0)
        row, col = self._first.pixel_spacing or (1.0, 1.0)
        step = self._layout.slice_spacing
        if step is None or not math.isfinite(step) or step <= 0:
            step = None
            for keyword in ("SpacingBetweenSlices", "SliceThickness"):
                try:
                    value = float(self._first.header.get(keyword) or 0)
                except (TypeError, ValueError):
                    value = 0.0
                if value > 0:
                    step = value
                    break
        return (float(row), float(col), float(step or 1.0))

    @property
    def is_uniform(self) -> bool:
        """True when slices are evenly spaced along one normal, one size and pixel spacing."""
        return bool(self._n) and self.sort_method == "geometry" and self._layout.is_uniform

    def affine(self) -> np.ndarray:
        """4x4 matrix from voxel index to patient coordinates in mm (DICOM LPS).

        The index order is ``(column, row, slice, 1)``, the ITK / SimpleITK and
        nibabel-DICOM convention: ``affine() @ [c, r, k, 1]`` is the LPS position of
        ``volume()[k, r, c]``. Columns of the 3x3 part: row cosine x column spacing,
        column cosine x row spacing, the step between consecutive slices (from
        first to last slice, so gantry tilt is kept). For NIfTI (RAS) use
        :meth:`to_nifti` or flip the first two rows.

        Raises
        ------
        GeometryError
            When positions or orientation are missing.
        """
        if self._first is None or self.sort_method != "geometry" or self._first.orientation is None:
            raise GeometryError(
                "this series has no ImagePositionPatient/ImageOrientationPatient; no affine"
            )
        ori = self._first.orientation
        row_cos, col_cos = ori[:3], ori[3:]
        d_row, d_col, d_slice = self.spacing
        first = self._grid[0][0].position
        last = self._grid[0][-1].position
        assert first is not None and last is not None
        if self._n > 1:
            step = (last - first) / (self._n - 1)
        else:
            step = np.cross(row_cos, col_cos) * d_slice
        out = np.eye(4)
        out[:3, 0] = row_cos * d_col
        out[:3, 1] = col_cos * d_row
        out[:3, 2] = step
        out[:3, 3] = first
        return out

    # ------------------------------------------------------------- findings
    @property
    def findings(self) -> list[Finding]:
        """QA findings: loading/geometry issues plus frames that failed to decode so far."""
        with self._failure_lock:
            failures = dict(self._decode_failures)
        out = list(self._static_findings)
        for k, message in sorted(failures.items()):
            ref = self._flat[k]
            out.append(Finding("error", "decode-failed", message, (ref.label,)))
        return out

    @property
    def qa(self) -> list[Finding]:
        """Alias of :attr:`findings`."""
        return self.findings

    @property
    def failed(self) -> dict[tuple[int, int], str]:
        """Frames known to fail, as ``{(slice, time): reason}`` (grows as frames are decoded)."""
        with self._failure_lock:
            failures = dict(self._decode_failures)
        return {(k % self._n, k // self._n): msg for k, msg in sorted(failures.items())}

    def frame_error(self, index: int, time: int = 0) -> str | None:
        """Why slice ``index`` cannot be decoded, or ``None`` if it decoded or was not tried yet."""
        ref = self._ref(index, time)
        with self._failure_lock:
            return self._decode_failures.get(self._index_of[id(ref)])

    def _fail(self, k: int, message: str) -> None:
        with self._failure_lock:
            self._decode_failures.setdefault(k, message)

    def _check_pixels_present(self) -> None:
        """Cheap checks that need no decoding: truncated native pixel data."""
        sizes: dict[str, int] = {}
        for k, ref in enumerate(self._flat):
            if ref.error:
                self._fail(k, ref.error)
                continue
            syntax = _transfer_syntax(ref.header)
            # Deflated files are smaller than their pixels: only plain native data can be checked.
            if ref.path is None or syntax not in _NATIVE_SYNTAXES or syntax.endswith(".99"):
                continue
            expected = _expected_pixel_bytes(ref)
            if expected is None:
                continue
            if ref.path not in sizes:
                try:
                    sizes[ref.path] = os.path.getsize(ref.path)
                except OSError as exc:
                    self._fail(k, f"{ref.label}: cannot read the file: {exc}")
                    continue
            offset = getattr(ref.header, "_dw_pixel_offset", None)
            if offset is None and getattr(ref.header, "_dw_light", False):
                self._fail(
                    k, f"{ref.label}: the file has image attributes but no Pixel Data element"
                )
                continue
            # The Pixel Data element header takes at least 8 bytes before the values.
            needed = expected + (offset + 8 if isinstance(offset, int) else 0)
            if sizes[ref.path] < needed:
                self._fail(
                    k,
                    f"{ref.label}: pixel data missing or truncated: the file has {sizes[ref.path]} bytes, "
                    f"the image needs at least {needed}",
                )

    # ------------------------------------------------------------- decoding
    def _decode_into_cache(self, k: int) -> np.ndarray:
        cached = self._cache.get(k)
        if cached is not None:
            return cached
        with self._failure_lock:
            known = self._decode_failures.get(k)
        if known is not None:
            raise DecodeError(known)
        ref = self._flat[k]
        try:
            if self._frame_reader is not None:
                arr = self._frame_reader(ref)
            elif ref.path is None:
                arr = _compat.decode_frame(ref.header, ref.frame)
            elif ref.n_frames > 1:
                arr = read_native_frame(ref)
                if arr is None:
                    arr = self._decode_multiframe(ref, k)
            else:
                arr = _compat.decode_frame_from_file(ref.path, ref.frame, ref.n_frames)
            arr = np.asarray(arr)
            if arr.ndim == 3 and ref.samples == 1 and arr.shape[0] == 1:
                arr = arr[0]
            expected = (
                (ref.rows, ref.cols) if ref.samples == 1 else (ref.rows, ref.cols, ref.samples)
            )
            if arr.shape != expected:
                raise ValueError(
                    f"decoded shape {arr.shape} does not match the header's {expected}"
                )
            arr = _as_rgb(arr, ref)
        except BaseException as exc:  # noqa: BLE001 - every decoder failure becomes a finding
            # Rust decoders (pyo3) raise PanicException, a BaseException, on corrupt data.
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            message = _decode_message(ref, exc)
            self._fail(k, message)
            raise DecodeError(message) from exc
        if not arr.dtype.isnative:  # big-endian files: the LUT fast path indexes native bytes
            arr = arr.astype(arr.dtype.newbyteorder("="))
        arr = np.ascontiguousarray(arr)
        self._cache.put(k, arr)
        return arr

    def _multiframe_dataset(self, path: str) -> Dataset:
        """The whole file (compressed pixel data included), kept for the next frames."""
        with self._mf_lock:
            ds = self._mf_datasets.get(path)
            if ds is None:
                import pydicom

                ds = pydicom.dcmread(path, force=True)
                _compat.ensure_transfer_syntax(ds)
                self._mf_datasets[path] = ds
                while len(self._mf_datasets) > 2:
                    self._mf_datasets.popitem(last=False)
            return ds

    def _decode_multiframe(self, ref: FrameRef, k: int) -> np.ndarray:
        # Re-reading a multi-frame header per frame costs as much as the frame (functional
        # groups): the parsed file is kept, and each frame decoded from it.
        assert ref.path is not None
        ds = self._multiframe_dataset(ref.path)
        if _compat.IS_PYDICOM3:
            return _compat.decode_frame(ds, ref.frame)
        return self._decode_whole_file(ref, k, ds)

    def _decode_whole_file(self, ref: FrameRef, k: int, ds: Dataset) -> np.ndarray:
        # pydicom 2.4 decodes all frames of a file at once: keep the siblings in the cache too.
        assert ref.path is not None
        every = np.asarray(_compat.decode_pixels(ds))
        for frame_no, other in self._by_file.get(ref.path, {}).items():
            if other != k and frame_no < len(every):
                sibling = _as_rgb(every[frame_no], ref)
                self._cache.put(other, np.ascontiguousarray(sibling))
        return every[ref.frame]

    def _schedule_neighbours(self, k: int) -> None:
        if not self._prefetch_enabled or self._n < 2:
            return
        time, index = divmod(k, self._n)
        wanted = []
        for step in range(1, self._prefetch_neighbours + 1):
            for j in (index + step, index - step):
                if 0 <= j < self._n:
                    other = time * self._n + j
                    if other not in self._cache:
                        wanted.append(other)
        if not wanted:
            return
        if self._prefetcher is None:
            self._prefetcher = Prefetcher(self._decode_into_cache, workers=self._prefetch_workers)
        self._prefetcher.request(wanted)

    def raw_frame(self, index: int, time: int = 0) -> np.ndarray:
        """Slice ``index`` as stored values (before rescale), read-only.

        Grey data keeps its stored integer dtype (use with :meth:`display_lut`); colour
        data is returned as RGB (YBR converted), palette data as palette indices.

        Raises
        ------
        DecodeError
            Naming the file and the cause (and the codecs extra when a codec is missing).
        """
        ref = self._ref(index, time)
        k = self._index_of[id(ref)]
        arr = self._decode_into_cache(k)
        self._schedule_neighbours(k)
        return arr

    def cache_info(self) -> dict[str, int]:
        """Decoded-frame cache statistics: ``items``, ``nbytes``, ``max_bytes``, ``hits``, ``misses``."""
        cache = self._cache
        return {
            "items": len(cache),
            "nbytes": cache.nbytes,
            "max_bytes": cache.max_bytes,
            "hits": cache.hits,
            "misses": cache.misses,
        }

    def is_cached(self, index: int, time: int = 0) -> bool:
        """Whether slice ``index`` is decoded and in the cache (showing it costs no decoding)."""
        return self._index_of[id(self._ref(index, time))] in self._cache

    def wait_prefetch(self, timeout: float = 10.0) -> None:
        """Block until the background prefetch has nothing pending (tests, benchmarks)."""
        if self._prefetcher is not None:
            self._prefetcher.wait_idle(timeout)

    def rescale(self, index: int = 0, time: int = 0) -> tuple[float, float]:
        """(RescaleSlope, RescaleIntercept) of slice ``index`` (per frame for enhanced files)."""
        ref = self._ref(index, time)
        return (ref.slope, ref.intercept)

    def has_modality_lut(self, index: int = 0, time: int = 0) -> bool:
        """True when slice ``index`` uses a Modality LUT Sequence instead of rescale."""
        try:
            ref = self._ref(index, time)
        except (IndexError, TypeError):  # no such slice: it has no table
            return False
        return bool(safe_get(ref.header, "ModalityLUTSequence"))

    def frame(self, index: int, time: int = 0) -> np.ndarray:
        """Slice ``index`` in modality units.

        Grey data: Modality LUT or Rescale Slope/Intercept applied (HU for CT) as
        float32 when a rescale applies, else the stored dtype. Colour data:
        (rows, cols, 3) uint8 RGB (YBR converted, palette applied). When no conversion
        is needed the array is the cached one and read-only: copy it before editing.

        Raises
        ------
        DecodeError
            When the frame's pixel data cannot be decoded.
        IndexError
            For an index out of range.
        """
        ref = self._ref(index, time)
        raw = self.raw_frame(index, time)
        try:
            if self.stored_photometric == "PALETTE COLOR" and raw.ndim == 2:
                return to_display(raw, photometric="PALETTE COLOR", ds=ref.header)
            if raw.ndim == 3:
                return to_display(raw, photometric="RGB", ds=ref.header)
            if self.has_modality_lut(index, time):
                return np.asarray(_compat.apply_modality_lut(raw, ref.header))
        except Exception as exc:  # noqa: BLE001 - a broken lookup table is a decode failure
            cause = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
            message = (
                f"{ref.label}: the palette or modality lookup table cannot be applied: {cause}"
            )
            self._fail(self._index_of[id(ref)], message)
            raise DecodeError(message) from exc
        if ref.slope == 1.0 and ref.intercept == 0.0:
            return raw
        return raw.astype(np.float32) * np.float32(ref.slope) + np.float32(ref.intercept)

    def volume(
        self, time: int | None = 0, *, fill: float | None = None, progress: bool = False
    ) -> np.ndarray:
        """All slices stacked: (n, rows, cols), or (n, rows, cols, 3) for colour.

        Parameters
        ----------
        time : int or None
            Time point; ``None`` returns every time point, shape (n_times, n, ...).
        fill : float, optional
            Value for frames that fail to decode; by default a failing frame raises
            :class:`~dicom_widgets.errors.DecodeError`.
        progress : bool
            Show a progress bar (tqdm.auto) while decoding.
        """
        times = range(self.n_times) if time is None else [time]
        out: np.ndarray | None = None
        steps = [(t_pos, t, i) for t_pos, t in enumerate(times) for i in range(self._n)]
        # A bar only for more than one frame; closed even when a frame fails to decode.
        bar = progress_bar(
            progress and len(steps) > 1, len(steps), desc="Decoding frames", unit="frame"
        )
        try:
            for t_pos, t, i in steps:
                try:
                    frame = self.frame(i, t)
                except DecodeError:
                    if fill is None:
                        raise
                    frame = None
                if out is None:
                    ref = self._ref(i, t)
                    dtype = frame.dtype if frame is not None else np.float32
                    shape = (ref.rows, ref.cols) if not self.is_color else (ref.rows, ref.cols, 3)
                    out = np.empty((len(times), self._n, *shape), dtype=dtype)
                if frame is None:
                    if out.dtype.kind in "iu" and not float(fill).is_integer():
                        out = out.astype(np.float32)  # NaN (or 0.5) does not fit integer frames
                    out[t_pos, i] = fill
                else:
                    if frame.dtype != out.dtype:
                        out = out.astype(np.result_type(out.dtype, frame.dtype))
                    out[t_pos, i] = frame
                bar.update(1)
        finally:
            bar.close()
        if out is None:
            return np.empty((0,))
        return out if time is None else out[0]

    # -------------------------------------------------------------- display
    @property
    def default_window(self) -> Window | VOILUT | None:
        """The window a viewer should start with.

        The file's VOI LUT Sequence or first Window Center/Width (of the middle slice),
        else an automatic window from the middle slice's percentiles; ``None`` for colour.
        """
        if self._default_window is _UNSET:
            self._default_window = self._compute_default_window()
        return self._default_window  # type: ignore[return-value]

    def _compute_default_window(self) -> Window | VOILUT | None:
        if not self._n or self.is_color:
            return None
        middle = self._n // 2
        ref = self._ref(middle)
        found: Window | VOILUT | None = voi_lut_from_dataset(ref.header) or window_from_dataset(
            ref.header, ref.frame
        )
        if found is not None:
            return found
        for i in [middle, *range(self._n)]:
            try:
                return auto_window(self.frame(i))
            except DecodeError:
                continue
        return Window(0.0, 1.0, "LINEAR", "auto")

    def _window_for(self, ref: FrameRef, window: WindowSpec) -> WindowSpec:
        if window is None or (isinstance(window, str) and window.lower() == "file"):
            key = (id(ref.header), ref.frame)
            # Parsing the header's window costs more than the LUT lookup: remember it per frame.
            own = self._file_windows.get(key, _UNSET)
            if own is _UNSET:
                own = voi_lut_from_dataset(ref.header) or window_from_dataset(ref.header, ref.frame)
                self._file_windows[key] = own
            return own if own is not None else self.default_window  # type: ignore[return-value]
        return window

    def display_lut(
        self,
        index: int = 0,
        window: WindowSpec = None,
        time: int = 0,
        *,
        invert: bool = False,
        voi_lut_function: str = "LINEAR",
    ) -> WindowLUT | None:
        """The cached :class:`~dicom_widgets.display.WindowLUT` for slice ``index``.

        Composes that frame's rescale (or Modality LUT), the window and MONOCHROME1
        inversion; ``lut(series.raw_frame(index))`` gives the display image. Returns
        ``None`` when the fast path does not apply (colour, float or >16-bit data).
        ``"auto"`` windows are computed from this frame.
        """
        ref = self._ref(index, time)
        if self.is_color:
            return None
        if _stored_dtype(ref.header) is None:
            return None
        # The decoded dtype is the truth (a decoder may return uint8 for 8-bit JPEG data etc.).
        dtype = self.raw_frame(index, time).dtype
        if dtype.kind not in "iu" or dtype.itemsize > 2:
            return None
        spec = self._window_for(ref, window)
        if isinstance(spec, str) and spec.strip().lower() in ("auto", "full", "minmax"):
            spec = resolve_window(spec, self.frame(index, time))
        uses_mlut = self.has_modality_lut(index, time)
        key = (
            dtype.str,
            ref.slope,
            ref.intercept,
            id(ref.header) if uses_mlut else None,
            spec if not isinstance(spec, VOILUT) else id(spec),
            self.photometric,
            bool(invert),
            voi_lut_function,
        )
        try:
            lut = self._luts.get(key)
        except TypeError:  # an unhashable window spec (a list): build without caching
            key, lut = None, None
        if lut is None:
            lut = make_lut(
                dtype,
                spec,
                slope=ref.slope,
                intercept=ref.intercept,
                ds=ref.header if uses_mlut else None,
                photometric=self.photometric,
                voi_lut_function=voi_lut_function,
                invert=invert,
            )
            if key is not None:
                self._luts[key] = lut
                while len(self._luts) > 32:
                    self._luts.popitem(last=False)
        else:
            self._luts.move_to_end(key)
        return lut

    def display(
        self,
        index: int,
        window: WindowSpec = None,
        time: int = 0,
        *,
        invert: bool = False,
        voi_lut_function: str = "LINEAR",
    ) -> np.ndarray:
        """Slice ``index`` as display-ready uint8 (grey (rows, cols) or RGB (rows, cols, 3)).

        ``window`` is as for :func:`~dicom_widgets.display.to_display`; ``None`` uses the
        frame's own window, else :attr:`default_window`. Integer data goes through the
        cached lookup table (one ``numpy.take`` per slice).

        Examples
        --------
        >>> import dicom_widgets as dw
        >>> from dicom_widgets.data import ct_phantom
        >>> series = dw.load_series(ct_phantom(n_slices=3, size=16), progress=False)
        >>> series.display(1, "brain").dtype
        dtype('uint8')
        """
        ref = self._ref(index, time)
        if self.is_color:
            return self.frame(index, time)
        raw = self.raw_frame(index, time)
        lut = None
        if raw.dtype.kind in "iu" and raw.dtype.itemsize <= 2:
            lut = self.display_lut(
                index, window, time, invert=invert, voi_lut_function=voi_lut_function
            )
        if lut is not None:
            return lut(raw)
        spec = self._window_for(ref, window)
        return to_display(
            self.frame(index, time),
            spec,
            photometric=self.photometric,
            voi_lut_function=voi_lut_function,
            ds=ref.header,
            invert=invert,
            frame_index=ref.frame,
        )

    # ----------------------------------------------------------- conversions
    def to_dataframe(self) -> pd.DataFrame:
        """Per-frame metadata as a pandas DataFrame (one row per slice and time point).

        Columns: slice, time, path, frame, instance_number, sop_instance_uid, position_x/y/z,
        slice_location (along the normal), slope, intercept, rows, columns, error.

        Raises
        ------
        MissingDependencyError
            When pandas is not installed (``pip install "dicom-widgets[analysis]"``).
        """
        from ._export import series_dataframe

        return series_dataframe(self)

    def to_nifti(
        self, path: str | os.PathLike[str], *, time: int | None = None, overwrite: bool = False
    ) -> Path:
        """Write the series as NIfTI-1 (``.nii`` / ``.nii.gz``) with a RAS affine.

        The DICOM LPS affine is converted to NIfTI's RAS by negating x and y, the
        convention nibabel documents; the data array is indexed (column, row, slice[, time]).

        Raises
        ------
        MissingDependencyError
            Without nibabel (``pip install "dicom-widgets[analysis]"``).
        GeometryError
            Without geometry or with non-uniform spacing.
        """
        from ._export import write_nifti

        return write_nifti(self, path, time=time, overwrite=overwrite)

    def save_frames(
        self,
        folder: str | os.PathLike[str],
        *,
        window: WindowSpec = None,
        time: int = 0,
        prefix: str = "frame",
        overwrite: bool = False,
    ) -> list[Path]:
        """Write each slice as an 8-bit PNG (windowed with :meth:`display`), atomically.

        Frames that fail to decode are skipped (they are in :attr:`findings`).
        """
        from ._export import save_pngs

        return save_pngs(self, folder, window=window, time=time, prefix=prefix, overwrite=overwrite)

    # ------------------------------------------------------------------ repr
    def summary(self) -> dict[str, Any]:
        """Key facts as a plain dict (used by the text and HTML reprs)."""
        return {
            "key": self.key,
            "series_uid": self.series_uid,
            "modality": self.modality,
            "description": self.description,
            "series_number": self.series_number,
            "patient_name": self.patient_name,
            "n_slices": self._n,
            "n_times": self.n_times,
            "shape": self.shape,
            "photometric": self.photometric,
            "spacing": self.spacing if self._n else None,
            "sort_method": self.sort_method,
            "is_uniform": self.is_uniform,
            "n_files": len(self.files),
            "findings": len(self.findings),
        }

    def __repr__(self) -> str:
        if not self._n:
            lines = [f"<Series {self.modality or '?'} {self.description!r}: no image frames>"]
        else:
            times = f" x {self.n_times} times" if self.n_times > 1 else ""
            ref = self._flat[0]
            size = f"{ref.rows}x{ref.cols}" + ("x3" if self.is_color else "")
            sp = ", ".join(f"{v:.4g}" for v in self.spacing)
            lines = [
                f"<Series {self.modality or '?'} #{self.series_number or '-'} {self.description!r}: "
                f"{self._n} slices{times} of {size}, spacing ({sp}) mm, "
                f"sorted by {self.sort_method}{'' if self.is_uniform else ', not uniform'}>"
            ]
        for finding in self.findings[:10]:
            lines.append(f"  {finding}")
        if len(self.findings) > 10:
            lines.append(f"  ... and {len(self.findings) - 10} more findings")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ..html import html_or_pre, series_html

        return html_or_pre(series_html, self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}


_UNSET = object()


def _stored_dtype(ds: Dataset) -> np.dtype | None:
    """The integer dtype pydicom decodes a grey frame to, or ``None`` when not (u)int8/16."""
    try:
        bits = int(safe_get(ds, "BitsAllocated"))
        signed = int(safe_get(ds, "PixelRepresentation", 0)) == 1
    except (TypeError, ValueError):  # absent or not a number
        return None
    if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
        return None
    if bits == 8:
        return np.dtype(np.int8 if signed else np.uint8)
    if bits == 16:
        return np.dtype(np.int16 if signed else np.uint16)
    return None
