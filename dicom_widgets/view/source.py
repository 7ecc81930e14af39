"""What a view shows, behind one interface: a numpy volume or a :class:`~dicom_widgets.series.Series`.

The view model (and so the viewer) never touches pixels of a source directly; it asks a :class:`Source` for
stored values (for the integer LUT fast path), modality values (for readouts and
float data), geometry and headers. Frames are decoded on demand and kept in a small
LRU cache, so opening a 1000-slice series decodes only the slice on screen.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._compat import safe_get
from ..display import VOILUT, Window, windows_from_dataset
from ..errors import DecodeError, DicomWidgetsError, GeometryError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from ..series import Series

__all__ = ["Source", "ArraySource", "SeriesSource", "as_source", "NoPixelDataError"]

#: Decoded frames a source keeps (per kind); a Series has its own, larger cache behind it.
CACHE_FRAMES = 8


class NoPixelDataError(DicomWidgetsError, ValueError):
    """The object has no image to show (SR, RT plan, ...); the message points to TagExplorer.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> try:
    ...     as_source(pydicom_file("rtplan"))
    ... except NoPixelDataError as exc:
    ...     print("TagExplorer" in str(exc))
    True
    """


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        try:
            self.data.move_to_end(key)
            return self.data[key]
        except KeyError:
            value = make()
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)
            return value


class Source:
    """Interface of what the viewer displays. Indices: ``(slice, time)``.

    Attributes
    ----------
    n_slices, n_times, rows, cols : int
    is_color : bool
        Frames are (rows, cols, 3) RGB ``uint8`` already.
    affine : numpy.ndarray or None
        4x4 matrix from voxel ``(col, row, slice, 1)`` to patient LPS mm.
    uniform : bool
        Slices are equally spaced and parallel (reformats are meaningful).
    uniform_reason : str
        Why reformats are unavailable when ``uniform`` is False.
    photometric, modality, description : str

    Examples
    --------
    >>> source = as_source(np.zeros((2, 4, 5, 6), np.int16), spacing=(3.0, 1.0, 1.0))
    >>> (source.n_times, source.n_slices, source.rows, source.cols), source.spacing
    ((2, 4, 5, 6), (1.0, 1.0, 3.0))
    """

    n_slices: int = 0
    n_times: int = 1
    rows: int = 0
    cols: int = 0
    is_color: bool = False
    affine: np.ndarray | None = None
    uniform: bool = False
    uniform_reason: str = ""
    photometric: str = "MONOCHROME2"
    modality: str = ""
    description: str = ""
    stored_dtype: np.dtype | None = None

    @property
    def coordinate_space(self) -> str | None:
        """What positions mean: "patient" (DICOM LPS), "array" (numpy indices x spacing), or None.

        Linked viewers match positions only within the same space: a numpy volume with a spacing
        has no patient origin, so it is matched to a DICOM series by index.
        """
        return None

    def check(self, index: int, time: int = 0) -> None:
        """Raise ``IndexError`` saying what range was expected."""
        if not 0 <= index < self.n_slices:
            raise IndexError(
                f"slice index {index} is out of range: this series has {self.n_slices} "
                f"slice(s), valid indices are 0..{self.n_slices - 1}"
            )
        if not 0 <= time < self.n_times:
            raise IndexError(
                f"time index {time} is out of range: valid time points are 0..{self.n_times - 1}"
            )

    # Overridden by subclasses -------------------------------------------------------------
    def stored(self, index: int, time: int = 0) -> np.ndarray | None:
        """Stored integer values of one frame, or None when only modality values exist."""
        return None

    def values(self, index: int, time: int = 0) -> np.ndarray:
        """Modality values (HU for CT) of one frame; RGB ``uint8`` for colour data."""
        raise NotImplementedError

    def rescale(self, index: int, time: int = 0) -> tuple[float, float]:
        return (1.0, 0.0)

    def error(self, index: int, time: int = 0) -> str | None:
        """Why the frame cannot be decoded, or None."""
        return None

    def dataset(self, index: int, time: int = 0) -> Dataset | None:
        """The header of the instance holding the frame, or None (numpy volumes)."""
        return None

    def file_windows(self) -> list[Window]:
        """The windows the file offers (Window Center/Width values), first = default."""
        return []

    def default_window(self) -> Window | VOILUT | None:
        """The window the source itself suggests (a series' file window), or None."""
        return None

    def identifiers(self) -> dict[str, str]:
        return {}

    def cine_fps(self) -> float | None:
        """Frame rate the file recommends for cine display, if any."""
        return None

    # Derived ------------------------------------------------------------------------------
    @property
    def spacing(self) -> tuple[float, float, float] | None:
        """(row spacing, column spacing, slice spacing) in mm from the affine."""
        if self.affine is None:
            return None
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[1]), float(norms[0]), float(norms[2]))

    def position(self, index: int) -> np.ndarray | None:
        """Patient position (LPS mm) of the first pixel of slice ``index``."""
        if self.affine is None:
            return None
        return (self.affine @ np.array([0.0, 0.0, float(index), 1.0]))[:3]

    def normal(self) -> np.ndarray | None:
        """Unit slice normal (row direction x column direction) in patient space, or None."""
        if self.affine is None:
            return None
        n = np.cross(self.affine[:3, 0], self.affine[:3, 1])
        norm = float(np.linalg.norm(n))
        return n / norm if norm else None

    def volume(self, time: int = 0, *, stored: bool) -> np.ndarray:
        """All slices of one time point, stored values (when ``stored``) or modality values.

        Failed frames are filled with the volume's minimum so reformats still work.
        """
        frames: list[np.ndarray | None] = []
        for k in range(self.n_slices):
            try:
                frames.append(self.stored(k, time) if stored else self.values(k, time))
            except DecodeError:
                frames.append(None)
        good = [f for f in frames if f is not None]
        if not good:
            raise DecodeError("no frame of this series could be decoded")
        fill = min(float(np.min(f)) for f in good)
        shape, dtype = good[0].shape, good[0].dtype
        return np.stack([f if f is not None else np.full(shape, fill, dtype) for f in frames])


class ArraySource(Source):
    """A numpy array: (rows, cols), (slices, rows, cols), (times, slices, rows, cols), RGB last axis.

    Parameters
    ----------
    array : numpy.ndarray
    spacing : (slice, row, col) mm, optional
        Spacing along the array's axes, in the array's axis order. Without it pixels are square
        and reformats use 1 mm everywhere.
    rgb : bool, optional
        Whether the last axis holds RGB(A) channels; guessed from a last axis of 3 or 4.

    Examples
    --------
    >>> source = ArraySource(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    >>> source.n_slices, source.stored(1).tolist()[0], source.is_color
    (2, [12, 13, 14, 15], False)
    """

    def __init__(
        self,
        array: np.ndarray,
        spacing: tuple[float, ...] | None = None,
        *,
        rgb: bool | None = None,
        modality: str = "",
        description: str = "",
    ) -> None:
        arr = np.asarray(array)
        if arr.size == 0:
            raise ValueError(
                f"the volume is empty (shape {arr.shape}); expected at least one pixel"
            )
        if rgb is None:
            rgb = arr.ndim >= 3 and arr.shape[-1] in (3, 4) and arr.shape[-2] > 4
        if rgb:
            if arr.shape[-1] == 4:
                arr = arr[..., :3]
            core_ndim = arr.ndim - 1
        else:
            core_ndim = arr.ndim
        if core_ndim == 2:
            arr = arr[None, None]
        elif core_ndim == 3:
            arr = arr[None]
        elif core_ndim != 4:
            raise ValueError(
                "expected a 2-D image, a 3-D (slices, rows, cols) or 4-D (times, slices, rows, "
                f"cols) volume (with a last RGB axis for colour), got shape {np.shape(array)}"
            )
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)
        if rgb and arr.dtype != np.uint8:
            top = float(arr.max()) or 1.0
            arr = np.clip(arr * (255.0 / top if top > 255 or top <= 1 else 1.0), 0, 255).astype(
                np.uint8
            )
        self._arr = arr
        self.n_times, self.n_slices, self.rows, self.cols = arr.shape[:4]
        self.is_color = bool(rgb)
        self.photometric = "RGB" if rgb else "MONOCHROME2"
        self.modality = modality
        self.description = description
        if not rgb and arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2:
            self.stored_dtype = arr.dtype
        if spacing is None:
            spacing_3 = (1.0, 1.0, 1.0)
        else:
            spacing_3 = tuple(float(s) for s in spacing)
            if len(spacing_3) == 2:
                spacing_3 = (1.0, *spacing_3)
            if len(spacing_3) != 3 or not all(np.isfinite(spacing_3)) or min(spacing_3) <= 0:
                raise ValueError(
                    f"spacing must be (slice, row, col) positive numbers in mm, got {spacing!r}"
                )
        dz, dy, dx = spacing_3
        # Array axes map onto patient axes as an axial stack: columns -> x, rows -> y, slices -> z.
        self.affine = np.diag([dx, dy, dz, 1.0])
        self.uniform = True
        self.has_spacing = spacing is not None

    @property
    def coordinate_space(self) -> str | None:
        return "array" if self.has_spacing else None

    def stored(self, index: int, time: int = 0) -> np.ndarray | None:
        self.check(index, time)
        return self._arr[time, index] if self.stored_dtype is not None else None

    def values(self, index: int, time: int = 0) -> np.ndarray:
        self.check(index, time)
        frame = self._arr[time, index]
        return frame if self.is_color or frame.dtype.kind == "f" else frame.astype(np.float32)

    def volume(self, time: int = 0, *, stored: bool) -> np.ndarray:
        vol = self._arr[time]
        return vol if stored or vol.dtype.kind == "f" else vol.astype(np.float32)


class SeriesSource(Source):
    """A :class:`dicom_widgets.series.Series` (decoded lazily through its own cache).

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> source = SeriesSource(dw.load_series(ct_phantom(n_slices=3, size=16), progress=False))
    >>> source.modality, source.uniform, float(source.values(0)[0, 0])  # air, in HU
    ('CT', True, -1000.0)
    """

    def __init__(self, series: Series) -> None:
        self.series = series
        n = len(series)
        if n == 0:
            raise ValueError("the series is empty: expected at least one image")
        self.n_slices = n
        self.n_times = int(getattr(series, "n_times", 1) or 1)
        self.photometric = str(getattr(series, "photometric", "MONOCHROME2") or "MONOCHROME2")
        self.is_color = self.photometric.upper() in (
            "RGB",
            "YBR_FULL",
            "YBR_FULL_422",
            "PALETTE COLOR",
        )
        self.modality = str(getattr(series, "modality", "") or "")
        shape = tuple(getattr(series, "shape", ()))
        if self.is_color and len(shape) >= 3:
            self.rows, self.cols = int(shape[-3]), int(shape[-2])
        elif len(shape) >= 2:
            self.rows, self.cols = int(shape[-2]), int(shape[-1])
        header = self.dataset(0)
        if header is not None and not self.rows:
            self.rows, self.cols = int(header.get("Rows", 0)), int(header.get("Columns", 0))
        self.description = (
            str(header.get("SeriesDescription", "") or "") if header is not None else ""
        )
        self._values = _LRU(CACHE_FRAMES)
        self._stored = _LRU(CACHE_FRAMES)
        self.uniform = bool(getattr(series, "is_uniform", False))
        try:
            affine = series.affine()
        except Exception as exc:  # noqa: BLE001 - a series without usable geometry (SC, US,
            # not uniform; DICOMweb series compute it from remote headers) is still shown
            affine = None
            reason = str(exc)
        else:
            reason = ""
        self.affine = None if affine is None else np.asarray(affine, dtype=float)
        if self.affine is None:
            self.uniform = False
        if not self.uniform:
            self.uniform_reason = reason or _uniform_reason(series)
        #: Slice decoded to learn the stored dtype: the viewer points it at the slice it shows
        #: first, so opening a long series decodes exactly one frame.
        self.probe_index = n // 2
        self._dtype: np.dtype | None = None
        self._dtype_known = False

    @property
    def stored_dtype(self) -> np.dtype | None:  # type: ignore[override]
        """dtype of the stored frames when the LUT fast path applies ((u)int8/16), else None."""
        if not self._dtype_known and not self.is_color:
            try:
                raw = self.stored(self.probe_index, 0)
            except DecodeError:
                return None  # try again with another frame next time
            self._dtype_known = True
            if raw is not None and raw.dtype.kind in "iu" and raw.dtype.itemsize <= 2:
                self._dtype = raw.dtype
        return self._dtype

    def stored(self, index: int, time: int = 0) -> np.ndarray | None:
        self.check(index, time)
        if self.is_color:
            return None
        return self._stored.get((index, time), lambda: self._decode("raw_frame", index, time))

    def values(self, index: int, time: int = 0) -> np.ndarray:
        self.check(index, time)
        return self._values.get((index, time), lambda: self._decode("frame", index, time))

    def _decode(self, method: str, index: int, time: int) -> np.ndarray:
        reason = self.error(index, time)
        if reason:
            raise DecodeError(reason)
        try:
            return np.asarray(getattr(self.series, method)(index, time=time))
        except DecodeError:
            raise
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:
            # A decoder failing on one frame must not stop the viewer; that includes Rust
            # decoders' pyo3 PanicException, which derives from BaseException.
            raise DecodeError(f"{type(exc).__name__}: {exc}") from exc

    def rescale(self, index: int, time: int = 0) -> tuple[float, float]:
        try:
            slope, intercept = self.series.rescale(index, time=time)
            return float(slope), float(intercept)
        except Exception:  # noqa: BLE001 - an unusable rescale shows stored values, not nothing
            return (1.0, 0.0)

    def has_modality_lut(self) -> bool:
        attr = getattr(self.series, "has_modality_lut", False)
        try:
            return bool(attr() if callable(attr) else attr)
        except Exception:  # noqa: BLE001 - a broken Modality LUT leaves the rescale path
            return False

    def error(self, index: int, time: int = 0) -> str | None:
        getter = getattr(self.series, "frame_error", None)
        if getter is None:
            return None
        try:
            return getter(index, time=time)
        except Exception:  # noqa: BLE001 - asking why must not fail; decoding will say
            return None

    def dataset(self, index: int, time: int = 0) -> Dataset | None:
        getter = getattr(self.series, "dataset", None)
        if getter is None:
            return None
        try:
            return getter(index, time=time)
        except Exception:  # noqa: BLE001 - a header that cannot be read: no annotations, still pixels
            return None

    def position(self, index: int) -> np.ndarray | None:
        positions = getattr(self.series, "positions", None)
        if positions is not None:
            try:
                pos = np.asarray(positions, dtype=float)
                if pos.ndim == 2 and pos.shape[0] > index and np.isfinite(pos[index]).all():
                    return pos[index]
            except (TypeError, ValueError):
                pass
        return super().position(index)

    @property
    def coordinate_space(self) -> str | None:
        return "patient" if self.position(0) is not None and self.normal() is not None else None

    def normal(self) -> np.ndarray | None:
        # Known from the orientation even when the slices are not uniform (no affine).
        found = getattr(self.series, "slice_normal", None)
        if found is not None:
            try:
                n = np.asarray(found, dtype=float).reshape(3)
                if np.isfinite(n).all() and np.linalg.norm(n) > 0:
                    return n / np.linalg.norm(n)
            except (TypeError, ValueError):
                pass
        return super().normal()

    def file_windows(self) -> list[Window]:
        return windows_from_dataset(self.dataset(0))

    def default_window(self) -> Window | VOILUT | None:
        return getattr(self.series, "default_window", None)

    def cine_fps(self) -> float | None:
        return _cine_fps(self.dataset(0))

    def identifiers(self) -> dict[str, str]:
        ds = self.dataset(0)
        if ds is None:
            return {}
        out = {}
        for key in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber"):
            value = safe_get(ds, key)
            if value not in (None, ""):
                out[key] = str(value)
        return out


def _cine_fps(ds: Dataset | None) -> float | None:
    """Recommended Display Frame Rate, Cine Rate, or 1000 / Frame Time (ms), in that order."""
    if ds is None:
        return None
    for keyword, convert in (
        ("RecommendedDisplayFrameRate", float),
        ("CineRate", float),
        ("FrameTime", lambda ms: 1000.0 / float(ms)),
    ):
        value = safe_get(ds, keyword)
        if value in (None, ""):
            continue
        try:
            fps = convert(value)
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if 0 < fps <= 120:
            return fps
    return None


def _uniform_reason(series: Series) -> str:
    for finding in getattr(series, "findings", []) or []:
        if getattr(finding, "severity", "") in ("warning", "error"):
            return str(getattr(finding, "message", finding))
    return "the slices are not equally spaced and parallel (or have no geometry)"


def _has_pixels(ds: Dataset) -> bool:
    return any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def as_source(
    source: object, spacing: tuple[float, ...] | None = None, rgb: bool | None = None
) -> Source:
    """Turn what the user passed to ``SeriesViewer`` into a :class:`Source`.

    Raises
    ------
    NoPixelDataError
        A dataset or file without pixel data (SR, RT plan, ...).
    ValueError
        An empty volume or series.

    Examples
    --------
    >>> type(as_source(np.zeros((3, 8, 8)))).__name__
    'ArraySource'
    >>> from dicom_widgets.data import pydicom_file
    >>> type(as_source(pydicom_file("ct_small"))).__name__
    'SeriesSource'
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, np.ndarray) or (
        isinstance(source, (list, tuple)) and source and isinstance(source[0], (int, float, list))
    ):
        return ArraySource(np.asarray(source), spacing, rgb=rgb)
    try:
        from ..series import Series, load_series
    except (
        ImportError
    ) as exc:  # pragma: no cover - the series helper's module is part of the package
        raise DicomWidgetsError(
            f"dicom_widgets.series is needed to show {type(source).__name__} objects: {exc}"
        ) from exc
    if isinstance(source, Series):
        series = source
    else:
        _reject_no_pixels(source)
        series = load_series(source, progress=False)
    if len(series) == 0:
        header = getattr(series, "header", None)
        if header is not None and not _has_pixels(header):
            what = str(header.get("Modality", "") or header.get("SOPClassUID", "") or "")
            name = getattr(header, "filename", None) or "the series"
            raise NoPixelDataError(
                f"{name} has no pixel data (modality {what or 'unknown'}): there is no image "
                "to view. Explore its content with dicom_widgets.TagExplorer(...) instead."
            )
        raise ValueError("the series is empty: expected at least one image")
    return SeriesSource(series)


def _reject_no_pixels(source: object) -> None:
    """Give SR / RT plan / other non-image inputs a clear message before loading."""
    from pydicom.dataset import Dataset

    candidates: list[Any] = []
    if isinstance(source, Dataset):
        candidates = [source]
    elif isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        import os

        if os.path.isfile(source):
            from .._compat import read_dataset

            try:
                candidates = [read_dataset(source, defer_size=1024)]
            except Exception:  # noqa: BLE001 - load_series reports unreadable files itself
                return
    elif (
        isinstance(source, (list, tuple)) and source and all(isinstance(s, Dataset) for s in source)
    ):
        candidates = list(source)
    if candidates and not any(_has_pixels(ds) for ds in candidates):
        ds = candidates[0]
        what = str(safe_get(ds, "Modality", "") or safe_get(ds, "SOPClassUID", "") or "this object")
        name = getattr(ds, "filename", None) or "the dataset"
        raise NoPixelDataError(
            f"{name} has no pixel data (modality {what}): there is no image to view. "
            "Explore its content with dicom_widgets.TagExplorer(...) instead."
        )


def require_uniform(source: Source, view: str) -> None:
    """Raise :class:`GeometryError` when ``view`` needs geometry the source lacks."""
    if view in ("acquired",):
        return
    if source.n_slices < 2:
        raise GeometryError(f"the {view} view needs at least 2 slices; this series has 1")
    if not source.uniform or source.affine is None:
        raise GeometryError(
            f"the {view} view needs equally spaced parallel slices: {source.uniform_reason}"
        )
