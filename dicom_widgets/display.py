"""The display pipeline: modality values to 8-bit pixels (pure numpy).

Every view of the package (viewer, HTML thumbnails, saved PNGs) goes through
:func:`to_display`, so a series looks the same everywhere. The steps follow
PS3.3 C.11 ("Look Up Tables and Presentation States"):

1. the frame is already in modality units (``Series.frame`` applied Rescale
   Slope/Intercept or the Modality LUT);
2. a VOI transform maps it to 0..255: a window (centre/width) with the
   LINEAR, LINEAR_EXACT or SIGMOID function of PS3.3 C.11.2.1.2, or the VOI LUT
   Sequence of the file;
3. MONOCHROME1 is inverted so it looks like MONOCHROME2;
4. colour data is converted to RGB (YBR_FULL / YBR_FULL_422) or looked up in the
   palette (PALETTE COLOR).

For integer data, :func:`make_lut` builds a :class:`WindowLUT` once per
(rescale, window) and then each slice costs one ``numpy.take``: that is the
path the viewer uses while scrolling.

Examples
--------
>>> import numpy as np
>>> hu = np.array([[-1000.0, 0.0], [40.0, 1000.0]])
>>> to_display(hu, "brain").tolist()
[[0, 0], [129, 255]]
>>> lut = make_lut(np.int16, (40, 80), intercept=-1024)
>>> lut(np.array([[0, 1064]], dtype=np.int16)).tolist()
[[0, 129]]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from ._compat import functional_group, is_multi_value, safe_get
from .errors import DicomWidgetsWarning

__all__ = [
    "PRESETS",
    "PRESET_SOURCE",
    "VOI_FUNCTIONS",
    "Window",
    "WindowLUT",
    "WindowSpec",
    "to_display",
    "apply_window",
    "auto_window",
    "window_from_dataset",
    "windows_from_dataset",
    "overlay_mask",
    "voi_lut_from_dataset",
    "resolve_window",
    "make_lut",
]

#: CT window presets in Hounsfield units, as ``name: (center, width)``.
#:
#: Values follow Radiopaedia's "Windowing (CT)" article (head: brain 40/80,
#: subdural 75/215 (middle of its 50-100 / 130-300 range), stroke 40/40;
#: chest: lung -600/1500, mediastinum 50/350; abdomen: soft tissue 50/400,
#: liver 60/160; bone 400/1800), which agree with the common reading-room
#: defaults. ``soft_tissue`` is an alias of ``abdomen``.
PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (75.0, 215.0),
    "stroke": (40.0, 40.0),
    "temporal_bone": (600.0, 2800.0),
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
    "soft_tissue": (50.0, 400.0),
    "liver": (60.0, 160.0),
    "bone": (400.0, 1800.0),
}
#: Where the :data:`PRESETS` values come from.
PRESET_SOURCE = "https://radiopaedia.org/articles/windowing-ct"

#: VOI LUT Functions of PS3.3 C.11.2.1.3 that :func:`apply_window` implements.
VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")

#: Default percentiles of the automatic window.
AUTO_PERCENTILES = (0.5, 99.5)

# At most this many pixels feed the automatic window: a strided sample of a big frame gives
# the same percentiles to within a grey level and keeps "auto" cheap on 2k x 2k images.
_AUTO_SAMPLE = 65536


@dataclass(frozen=True)
class Window:
    """A VOI window in modality units.

    Attributes
    ----------
    center, width : float
        Window Center (0028,1050) and Window Width (0028,1051).
    function : str
        VOI LUT Function (0028,1056): ``"LINEAR"``, ``"LINEAR_EXACT"`` or ``"SIGMOID"``.
    explanation : str
        Window Center & Width Explanation, or the preset name, or ``"auto"``.

    Examples
    --------
    >>> Window(40.0, 400.0, explanation="soft tissue").as_tuple()
    (40.0, 400.0)
    """

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""

    def as_tuple(self) -> tuple[float, float]:
        """``(center, width)``."""
        return (self.center, self.width)


@dataclass(frozen=True)
class VOILUT:
    """A VOI LUT Sequence item: ``descriptor = (entries, first_mapped, bits)`` and ``data``."""

    first_mapped: int
    bits: int
    data: np.ndarray
    explanation: str = ""


WindowSpec = tuple[float, float] | Window | VOILUT | str | None


def window_from_dataset(ds: Dataset | None, frame: int = 0) -> Window | None:
    """The file's own window for ``frame``: the first of :func:`windows_from_dataset`.

    Parameters
    ----------
    ds : Dataset or None
        A header (pixel data not needed).
    frame : int
        Frame index, for multi-frame files.

    Returns
    -------
    Window or None
        ``None`` when the file has no usable window (missing, non-numeric, width <= 0).

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> window_from_dataset(ct_phantom(1, 8)[0])
    Window(center=40.0, width=80.0, function='LINEAR', explanation='BRAIN')
    """
    windows = windows_from_dataset(ds, frame)
    return windows[0] if windows else None


def windows_from_dataset(ds: Dataset | None, frame: int = 0) -> list[Window]:
    """Every window the file offers for ``frame``, in file order (the first is the default).

    Window Center (0028,1050) and Window Width (0028,1051) may hold several values, one
    per Window Center & Width Explanation (PS3.3 C.11.2). They are read from the top
    level, else from the Frame VOI LUT functional group of enhanced multi-frame files
    (per-frame first, then shared). Pairs that are not numbers, or have a width <= 0, are
    left out.

    Parameters
    ----------
    ds : Dataset or None
        A header (pixel data not needed).
    frame : int
        Frame index, for multi-frame files.

    Returns
    -------
    list of Window
        Empty when the file has no usable window.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> [w.explanation for w in windows_from_dataset(ct_phantom(1, 8)[0])]
    ['BRAIN', 'BONE']
    """
    if ds is None:
        return []
    source: Dataset | None = (
        ds if "WindowCenter" in ds else functional_group(ds, frame, "FrameVOILUTSequence")
    )
    if source is None:
        return []
    centers, widths = safe_get(source, "WindowCenter"), safe_get(source, "WindowWidth")
    if centers is None or widths is None:
        return []
    explanations = _values(safe_get(source, "WindowCenterWidthExplanation", ""))
    function = str(safe_get(source, "VOILUTFunction", "") or "LINEAR").strip().upper()
    if function not in VOI_FUNCTIONS:
        function = "LINEAR"
    out = []
    for k, (center, width) in enumerate(zip(_values(centers), _values(widths))):
        try:
            center, width = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if math.isfinite(center) and math.isfinite(width) and width > 0:
            text = str(explanations[k] or "") if k < len(explanations) else ""
            out.append(Window(center, width, function, text))
    return out


def _values(value: Any) -> list[Any]:
    """A DICOM value as a list (a multi-valued element, or one value)."""
    if is_multi_value(value):
        return list(value)
    return [value]


def overlay_mask(
    ds: Dataset | None, frame: int = 0, shape: tuple[int, int] | None = None
) -> np.ndarray | None:
    """The union of the overlay planes (60xx,3000) of ``frame`` as a boolean image, or None.

    Overlay planes (PS3.3 C.9.2) are 1-bit graphics stored beside the pixel data: ROI
    outlines, annotations, shutters. Planes smaller than the image are placed at their
    Overlay Origin (60xx,0050); a plane that cannot be read is skipped with a
    :class:`~dicom_widgets.errors.DicomWidgetsWarning`, so the image still shows.

    Parameters
    ----------
    ds : Dataset or None
        The image's dataset.
    frame : int
        Frame of a multi-frame overlay (clamped to the overlay's frames).
    shape : (rows, cols), optional
        Shape of the image (default: the dataset's Rows and Columns).

    Returns
    -------
    numpy.ndarray or None
        (rows, cols) bool, or None when the dataset has no overlay plane.

    Examples
    --------
    >>> import pydicom
    >>> from dicom_widgets.data import pydicom_file
    >>> overlay_mask(pydicom.dcmread(pydicom_file("overlay"))).shape
    (484, 484)
    """
    if ds is None:
        return None
    if shape is None:
        shape = (int(safe_get(ds, "Rows", 0) or 0), int(safe_get(ds, "Columns", 0) or 0))
    result = None
    for group in range(0x6000, 0x6020, 2):
        if (group, 0x3000) not in ds:
            continue
        try:
            plane = np.asarray(ds.overlay_array(group))
        except Exception as exc:  # noqa: BLE001 - a malformed overlay must not hide the image
            warnings.warn(
                f"overlay group {group:04X} unreadable: {exc}", DicomWidgetsWarning, stacklevel=2
            )
            continue
        if plane.ndim == 3:
            plane = plane[min(frame, plane.shape[0] - 1)]
        plane = _place_overlay(plane.astype(bool), safe_get(ds, (group, 0x0050)), shape)
        result = plane if result is None else (result | plane)
    return result


def _place_overlay(plane: np.ndarray, origin: Any, shape: tuple[int, int]) -> np.ndarray:
    """``plane`` padded into an image of ``shape`` at its 1-based Overlay Origin (row, col)."""
    if plane.shape == tuple(shape):
        return plane
    full = np.zeros(shape, bool)
    row, col = (0, 0)
    if origin is not None:
        row, col = int(origin.value[0]) - 1, int(origin.value[1]) - 1
    row, col = max(row, 0), max(col, 0)
    part = plane[: shape[0] - row, : shape[1] - col]
    full[row : row + part.shape[0], col : col + part.shape[1]] = part
    return full


def voi_lut_from_dataset(ds: Dataset | None) -> VOILUT | None:
    """The first item of the VOI LUT Sequence (0028,3010), or ``None``.

    Malformed items (missing descriptor or data, empty data) give ``None`` so the
    caller falls back to a window.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> item = Dataset(); item.LUTDescriptor = [4, 0, 8]; item.LUTData = [0, 60, 180, 255]
    >>> ds = Dataset(); ds.VOILUTSequence = [item]
    >>> lut = voi_lut_from_dataset(ds)
    >>> lut.first_mapped, lut.data.tolist(), voi_lut_from_dataset(Dataset())
    (0, [0.0, 60.0, 180.0, 255.0], None)
    """
    if ds is None or not ds.get("VOILUTSequence"):
        return None
    item = ds.VOILUTSequence[0]
    try:
        descriptor = [int(v) for v in item.LUTDescriptor]
        raw = item.LUTData
    except (AttributeError, TypeError, ValueError):
        return None
    if isinstance(raw, (bytes, bytearray)):
        bits = descriptor[2]
        dtype = np.dtype("<u2" if bits > 8 else "u1")
        if not getattr(ds, "is_little_endian", True):
            dtype = dtype.newbyteorder(">")
        data = np.frombuffer(bytes(raw), dtype=dtype).astype(np.float64)
    else:
        data = np.asarray(
            raw if isinstance(raw, (list, tuple)) or hasattr(raw, "__len__") else [raw],
            dtype=np.float64,
        )
    if data.size == 0:
        return None
    first = descriptor[1]
    # The first-mapped value is US or SS depending on the data; a value >= 2**15 with signed
    # pixels is really negative (PS3.3 C.11.2.1.1).
    if int(ds.get("PixelRepresentation", 0) or 0) == 1 and first >= 2**15:
        first -= 2**16
    bits = descriptor[2] if descriptor[2] in range(8, 17) else 16
    # Some writers declare 16 bits for 8-bit data or vice versa: trust the data's maximum.
    bits = max(8, min(16, max(bits, int(np.ceil(np.log2(max(float(data.max()), 1.0) + 1))))))
    explanation = str(item.get("LUTExplanation", "") or "")
    return VOILUT(first, bits, data, explanation)


def auto_window(arr: np.ndarray, percentiles: tuple[float, float] = AUTO_PERCENTILES) -> Window:
    """A window spanning the ``percentiles`` of the finite values of ``arr``.

    Useful for MR, PET, CR and anything without a meaningful absolute scale.

    Parameters
    ----------
    arr : numpy.ndarray
        Modality values.
    percentiles : (float, float)
        Lower and upper percentile.

    Returns
    -------
    Window
        ``explanation="auto"``; width is at least 1.

    Examples
    --------
    >>> auto_window(np.arange(101.0), (0, 100))
    Window(center=50.0, width=100.0, function='LINEAR', explanation='auto')
    """
    flat = np.asarray(arr).reshape(-1)
    if flat.size > _AUTO_SAMPLE:
        flat = flat[:: flat.size // _AUTO_SAMPLE]
    if flat.dtype.kind == "f":
        flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Window(0.0, 1.0, "LINEAR", "auto")
    lo, hi = _percentiles(flat, percentiles)
    if hi <= lo:
        # A flat image: widen so it shows mid grey instead of a hard threshold.
        lo, hi = lo - 0.5, lo + 0.5
    elif hi - lo < 1.0:
        # Narrow float data (probability maps in 0..1): LINEAR needs a width of at least 1
        # (PS3.3 C.11.2.1.2.1); LINEAR_EXACT takes any positive width.
        return Window((lo + hi) / 2.0, hi - lo, "LINEAR_EXACT", "auto")
    return Window((lo + hi) / 2.0, hi - lo, "LINEAR", "auto")


def _percentiles(values: np.ndarray, q: tuple[float, float]) -> tuple[float, float]:
    """Linear-interpolation percentiles (numpy's default method) without ``np.percentile``.

    ``np.percentile`` imports ``numpy.ma`` on first use (~20-40 ms), which the first
    automatic window of a viewer would pay; a sort of at most ``_AUTO_SAMPLE`` values is cheap.
    """
    ordered = np.sort(values.astype(np.float64, copy=False))
    out = []
    for p in q:
        pos = (len(ordered) - 1) * min(max(float(p), 0.0), 100.0) / 100.0
        lo = int(np.floor(pos))
        hi = min(lo + 1, len(ordered) - 1)
        out.append(float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)))
    return out[0], out[1]


def resolve_window(
    window: WindowSpec,
    frame: np.ndarray | None = None,
    *,
    ds: Dataset | None = None,
    voi_lut_function: str = "LINEAR",
    frame_index: int = 0,
) -> Window | VOILUT:
    """Turn any accepted ``window`` argument into a :class:`Window` or :class:`VOILUT`.

    Parameters
    ----------
    window : (center, width), Window, str or None
        ``(center, width)`` in modality units; a :data:`PRESETS` name; ``"auto"``
        (percentiles of ``frame``); ``"file"`` or ``None`` (the file's VOI LUT
        Sequence, else its first Window Center/Width, else ``"auto"``).
    frame : numpy.ndarray, optional
        Needed for ``"auto"`` and the fallbacks.
    ds : Dataset, optional
        The header holding the file's window.
    voi_lut_function : str
        Function used with an explicit ``(center, width)`` or preset.
    frame_index : int
        Frame of a multi-frame ``ds`` (for its Frame VOI LUT functional group).

    Raises
    ------
    ValueError
        An unknown preset name or a malformed window.

    Examples
    --------
    >>> resolve_window("lung")
    Window(center=-600.0, width=1500.0, function='LINEAR', explanation='lung')
    >>> resolve_window((40, 80)).as_tuple(), resolve_window("full", np.array([0, 100])).center
    ((40.0, 80.0), 50.0)
    """
    if isinstance(window, (Window, VOILUT)):
        return window
    function = (voi_lut_function or "LINEAR").strip().upper()
    if function not in VOI_FUNCTIONS:
        raise ValueError(
            f"voi_lut_function must be one of {VOI_FUNCTIONS}, not {voi_lut_function!r}"
        )
    if window is None or (isinstance(window, str) and window.lower() == "file"):
        lut = voi_lut_from_dataset(ds)
        if lut is not None:
            return lut
        found = window_from_dataset(ds, frame_index)
        if found is not None:
            return found
        window = "auto"
    if isinstance(window, str):
        key = window.strip().lower().replace(" ", "_").replace("-", "_")
        if key in ("auto", "full", "minmax") and frame is None:
            raise ValueError(f"window {window!r} needs the frame's values to choose a window")
        if key == "auto":
            return auto_window(frame)
        if key in ("full", "minmax"):
            if np.asarray(frame).size == 0:
                return Window(0.0, 1.0, "LINEAR", "full")
            lo, hi = float(np.nanmin(frame)), float(np.nanmax(frame))
            return Window((lo + hi) / 2.0, max(hi - lo, 1.0), "LINEAR", "full")
        if key in PRESETS:
            center, width = PRESETS[key]
            return Window(center, width, function, key)
        known = ", ".join(sorted(PRESETS))
        raise ValueError(
            f"unknown window {window!r}: use (center, width), 'auto', 'file', None or a preset ({known})"
        )
    center, width = _center_width(window)
    if not (math.isfinite(center) and math.isfinite(width)) or width <= 0:
        raise ValueError(f"window width must be a positive finite number, got {window!r}")
    return Window(center, width, function)


def _center_width(window: object) -> tuple[float, float]:
    """``(center, width)`` of a window given as a pair, or the ValueError every caller gives."""
    try:
        center, width = (float(v) for v in window)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(
            f"window must be (center, width), a preset name, 'auto' or None, not {window!r}"
        ) from None
    return center, width


def apply_window(
    arr: np.ndarray,
    center: float,
    width: float,
    function: str = "LINEAR",
    *,
    y_min: float = 0.0,
    y_max: float = 255.0,
) -> np.ndarray:
    """Apply a VOI window (PS3.3 C.11.2.1.2) and return float64 values in ``[y_min, y_max]``.

    Parameters
    ----------
    arr : numpy.ndarray
        Modality values.
    center, width : float
        The window.
    function : {"LINEAR", "LINEAR_EXACT", "SIGMOID"}
        LINEAR uses the standard's ``c - 0.5`` / ``w - 1`` form (width < 1 is treated as 1,
        a threshold); LINEAR_EXACT maps ``[c - w/2, c + w/2]`` exactly; SIGMOID is
        ``y_range / (1 + exp(-4 (x - c) / w))``.

    Examples
    --------
    >>> apply_window(np.array([-1.0, 0.5, 2.0]), 0.5, 2, "LINEAR_EXACT").tolist()
    [0.0, 127.5, 255.0]
    """
    x = np.asarray(arr, dtype=np.float64)
    span = y_max - y_min
    function = function.upper()
    if function == "SIGMOID":
        with np.errstate(over="ignore"):
            return span / (1.0 + np.exp(-4.0 * (x - center) / width)) + y_min
    if function == "LINEAR_EXACT":
        if width <= 0:
            raise ValueError("LINEAR_EXACT needs width > 0")
        y = ((x - center) / width + 0.5) * span + y_min
    else:
        width = max(float(width), 1.0)
        if width == 1.0:
            # The standard's formula divides by zero here; it is a threshold at c - 0.5.
            return np.where(x <= center - 0.5, y_min, y_max).astype(np.float64)
        y = ((x - (center - 0.5)) / (width - 1.0) + 0.5) * span + y_min
    return np.clip(y, y_min, y_max)


def _apply_voi_lut(arr: np.ndarray, lut: VOILUT) -> np.ndarray:
    index = np.clip(
        np.rint(np.asarray(arr, dtype=np.float64)) - lut.first_mapped, 0, lut.data.size - 1
    )
    values = lut.data[index.astype(np.intp)]
    return np.clip(values * (255.0 / (2**lut.bits - 1)), 0.0, 255.0)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.rint(values).astype(np.uint8)


def _rgb_to_uint8(arr: np.ndarray, ds: Dataset | None) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    bits = int(ds.get("BitsStored", 0) or 0) if ds is not None else 0
    if not bits:
        top = float(np.max(arr)) if arr.size else 0.0
        bits = 8 if top <= 255 else 16 if top <= 65535 else int(np.ceil(np.log2(top + 1)))
    scale = 255.0 / (2**bits - 1)
    return _to_uint8(np.clip(arr.astype(np.float64) * scale, 0, 255))


def to_display(
    frame: np.ndarray,
    window: WindowSpec = None,
    *,
    photometric: str = "MONOCHROME2",
    voi_lut_function: str = "LINEAR",
    ds: Dataset | None = None,
    invert: bool = False,
    frame_index: int = 0,
) -> np.ndarray:
    """Map a frame in modality units to 8-bit display pixels.

    Parameters
    ----------
    frame : numpy.ndarray
        A 2-D grey frame in modality units (HU for CT), a 2-D palette index frame, or a
        (rows, cols, 3) colour frame.
    window : (center, width), str, Window or None
        ``(center, width)``; a preset name from :data:`PRESETS`; ``"auto"`` (percentiles);
        ``"full"`` (min..max); ``"file"`` / ``None``: the file's VOI LUT Sequence or first
        Window Center/Width from ``ds``, else ``"auto"``. Ignored for colour frames.
    photometric : str
        Photometric Interpretation of ``frame``: ``"MONOCHROME1"`` is inverted after
        windowing; ``"YBR_FULL"``/``"YBR_FULL_422"`` are converted to RGB; ``"PALETTE COLOR"``
        needs ``ds`` (its palette) and returns RGB; ``"RGB"`` passes through.
    voi_lut_function : {"LINEAR", "LINEAR_EXACT", "SIGMOID"}
        Function of an explicit window or preset (the file's window uses the file's function).
    ds : Dataset, optional
        Header with the window, VOI LUT or palette.
    invert : bool
        Invert the grey result (on top of MONOCHROME1 handling).
    frame_index : int
        Frame of a multi-frame ``ds`` whose window to use.

    Returns
    -------
    numpy.ndarray
        ``uint8`` of shape (rows, cols) for grey data, (rows, cols, 3) for colour.

    Examples
    --------
    >>> to_display(np.array([[0.0, 50.0, 100.0]]), (50, 101)).tolist()
    [[1, 129, 255]]
    >>> to_display(np.array([[0.0, 100.0]]), (50, 100), photometric="MONOCHROME1").tolist()
    [[255, 0]]
    """
    arr = np.asarray(frame)
    pi = (photometric or "MONOCHROME2").strip().upper()
    if pi == "PALETTE COLOR" and arr.ndim == 2:
        if ds is None:
            raise ValueError("PALETTE COLOR frames need ds= (the dataset holding the palette)")
        from ._compat import apply_color_lut

        rgb = apply_color_lut(arr, ds)
        return (
            rgb if rgb.dtype == np.uint8 else _to_uint8(np.asarray(rgb, dtype=np.float64) / 257.0)
        )
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        if pi.startswith("YBR") and pi in ("YBR_FULL", "YBR_FULL_422"):
            from ._compat import convert_color_space

            arr = convert_color_space(arr, pi, "RGB")
        return _rgb_to_uint8(arr[..., :3], ds)
    if arr.ndim != 2:
        raise ValueError(
            f"expected a 2-D frame or (rows, cols, 3) colour frame, got shape {arr.shape}"
        )
    spec = resolve_window(
        window, arr, ds=ds, voi_lut_function=voi_lut_function, frame_index=frame_index
    )
    if isinstance(spec, VOILUT):
        values = _apply_voi_lut(arr, spec)
    else:
        values = apply_window(arr, spec.center, spec.width, spec.function)
    out = _to_uint8(values)
    if (pi == "MONOCHROME1") != bool(invert):
        np.subtract(255, out, out=out)
    return out


@dataclass(frozen=True)
class WindowLUT:
    """A lookup table from stored integer values straight to display ``uint8``.

    ``table`` has one entry per possible bit pattern of ``dtype`` (256 or 65536
    entries) and is indexed by the unsigned view of the data, so applying it is a
    single ``numpy.take`` with no arithmetic and no overflow: about 0.3 ms for a
    512x512 int16 slice. ``offset`` is the stored value of ``table_by_value[0]``
    for callers who prefer ``table_by_value[arr - offset]``.

    Build it with :func:`make_lut`; call it on a stored-value frame.

    Examples
    --------
    >>> lut = make_lut(np.int16, (40, 80))  # the brain window, stored values = HU
    >>> lut(np.array([-100, 40, 500], dtype=np.int16)).tolist(), lut.table.size
    ([0, 129, 255], 65536)
    """

    dtype: np.dtype
    table: np.ndarray
    offset: int
    window: Window | VOILUT | None

    @property
    def table_by_value(self) -> np.ndarray:
        """The table ordered by stored value from ``offset`` up (``lut[arr - offset]`` form)."""
        if self.dtype.kind == "i":
            half = self.table.size // 2
            return np.concatenate([self.table[half:], self.table[:half]])
        return self.table

    def __call__(self, arr: np.ndarray) -> np.ndarray:
        """Map stored values ``arr`` (of :attr:`dtype`) to ``uint8`` display values."""
        arr = np.asarray(arr)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype.itemsize != self.dtype.itemsize or arr.dtype.kind not in "iu":
            raise TypeError(f"this LUT maps {self.dtype} data, got {arr.dtype}")
        index = arr.view(np.uint8 if arr.dtype.itemsize == 1 else np.uint16)
        return np.take(self.table, index)


def make_lut(
    dtype: np.dtype | type | str,
    window: WindowSpec = None,
    *,
    slope: float = 1.0,
    intercept: float = 0.0,
    ds: Dataset | None = None,
    photometric: str = "MONOCHROME2",
    voi_lut_function: str = "LINEAR",
    invert: bool = False,
    sample: np.ndarray | None = None,
    frame_index: int = 0,
) -> WindowLUT:
    """Build a :class:`WindowLUT` composing rescale (or Modality LUT) and window.

    The table is computed with :func:`to_display` itself, so the fast path and the
    float path agree value for value.

    Parameters
    ----------
    dtype : numpy dtype
        The stored pixel dtype: (u)int8 or (u)int16.
    window : see :func:`to_display`
        ``"auto"`` needs ``sample`` (a stored-value frame) to pick percentiles.
    slope, intercept : float
        Rescale Slope / Intercept (per frame for enhanced multi-frame files).
    ds : Dataset, optional
        Used for the file's window / VOI LUT, and for a Modality LUT Sequence, which then
        replaces ``slope``/``intercept``.
    photometric, voi_lut_function, invert, frame_index
        As for :func:`to_display`.
    sample : numpy.ndarray, optional
        Stored values of a representative frame for ``"auto"`` / ``"full"`` windows.

    Returns
    -------
    WindowLUT

    Raises
    ------
    TypeError
        For non-integer dtypes or more than 16 bits (use :func:`to_display` there).

    Examples
    --------
    >>> lut = make_lut("uint16", (600, 1200))
    >>> lut(np.array([0, 600, 1200], dtype=np.uint16)).tolist()
    [0, 128, 255]
    """
    dt = np.dtype(dtype)
    if dt.kind not in "iu" or dt.itemsize > 2:
        raise TypeError(f"make_lut handles 8- and 16-bit integer data, not {dt}")
    pattern = np.arange(2 ** (8 * dt.itemsize), dtype=np.uint8 if dt.itemsize == 1 else np.uint16)
    stored = pattern.view(dt.newbyteorder("=") if dt.byteorder not in "=|" else dt)
    modality = _modality_values(stored, slope=slope, intercept=intercept, ds=ds)
    sample_values = None
    if sample is not None:
        sample_values = _modality_values(
            np.asarray(sample), slope=slope, intercept=intercept, ds=ds
        )
    spec = resolve_window(
        window,
        sample_values,
        ds=ds,
        voi_lut_function=voi_lut_function,
        frame_index=frame_index,
    )
    table = to_display(
        modality.reshape(1, -1), spec, photometric=photometric, invert=invert
    ).reshape(-1)
    offset = int(np.iinfo(dt).min)
    return WindowLUT(dt.newbyteorder("="), table, offset, spec)


def _modality_values(
    stored: np.ndarray, *, slope: float, intercept: float, ds: Dataset | None
) -> np.ndarray:
    if ds is not None and ds.get("ModalityLUTSequence"):
        from ._compat import apply_modality_lut

        return np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
    return stored.astype(np.float64) * float(slope) + float(intercept)


def presets_table() -> Mapping[str, tuple[float, float]]:
    """A read-only view of :data:`PRESETS` (for documentation and UIs)."""
    from types import MappingProxyType

    return MappingProxyType(PRESETS)
