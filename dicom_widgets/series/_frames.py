"""Per-frame header facts: where a frame comes from and where it lies in the patient.

A :class:`FrameRef` is everything the loader needs to sort, group and later decode
one 2-D frame, taken from a header read with ``stop_before_pixels``; classic files
give one frame each, enhanced multi-frame files one per frame, with the values of
their per-frame and shared functional groups.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from .._compat import DICOMDIR_SOP_CLASS, functional_group, is_multi_value, safe_get
from ..errors import DicomWidgetsWarning

__all__ = ["FrameRef", "frames_from_header", "has_pixel_module", "UNSET"]

UNSET = object()

# SOP classes that never hold a displayable image even when they carry Rows/Columns.
_NON_IMAGE_SOP_PREFIXES = (
    DICOMDIR_SOP_CLASS,
    "1.2.840.10008.5.1.4.1.1.88.",  # Structured reports
    "1.2.840.10008.5.1.4.1.1.9.",  # Waveforms
    "1.2.840.10008.5.1.4.1.1.481.5",  # RT Plan
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT Structure Set
    "1.2.840.10008.5.1.4.1.1.11.",  # Presentation states
)


@dataclass(eq=False)
class FrameRef:
    """One 2-D frame: its source, header and geometry.

    Attributes
    ----------
    path : str or None
        The file, or ``None`` for an in-memory dataset.
    header : Dataset
        The instance's header (``stop_before_pixels``) or the in-memory dataset.
    frame : int
        Index of the frame inside its file.
    n_frames : int
        Number of frames of the file.
    position, orientation : numpy.ndarray or None
        ImagePositionPatient (3,) and ImageOrientationPatient (6,).
    pixel_spacing : tuple of float or None
        (row spacing, column spacing) in mm.
    slope, intercept : float
        Rescale Slope / Intercept of this frame (1 and 0 when absent).

    Examples
    --------
    >>> from dicom_widgets.data import mr_multiframe_phantom
    >>> refs = list(frames_from_header(mr_multiframe_phantom(n_slices=3, size=16), None))
    >>> len(refs), refs[2].frame, refs[2].n_frames, refs[2].pixel_spacing
    (3, 2, 3, (13.75, 13.75))
    """

    path: str | None
    header: Dataset
    frame: int = 0
    n_frames: int = 1
    position: np.ndarray | None = None
    orientation: np.ndarray | None = None
    pixel_spacing: tuple[float, float] | None = None
    slope: float = 1.0
    intercept: float = 0.0
    rows: int = 0
    cols: int = 0
    samples: int = 1
    bits_allocated: int = 0
    photometric: str = ""
    instance_number: int | None = None
    sop_uid: str = ""
    series_uid: str = ""
    acquisition_seconds: float | None = None
    temporal: dict[str, Any] = field(default_factory=dict)
    order: int = 0
    error: str | None = None

    @property
    def label(self) -> str:
        """File name (with frame number for multi-frame files) for messages."""
        base = self.path if self.path is not None else f"<dataset {self.sop_uid or '?'}>"
        return f"{base} [frame {self.frame + 1}]" if self.n_frames > 1 else base

    @property
    def in_memory(self) -> bool:
        """True when the pixels live in :attr:`header` rather than on disk."""
        return self.path is None


def _float_list(value: Any, n: int) -> np.ndarray | None:
    try:
        arr = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        return None
    return arr


def _seconds(value: Any) -> float | None:
    """Seconds since midnight of a DICOM TM (or the time part of a DT)."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) >= 14 and text[:8].isdigit():  # DT: YYYYMMDDHHMMSS...
        text = text[8:]
    text = text.split("+")[0].split("-")[0].replace(":", "")
    try:
        hh = int(text[0:2]) if len(text) >= 2 else 0
        mm = int(text[2:4]) if len(text) >= 4 else 0
        ss = float(text[4:]) if len(text) > 4 else 0.0
    except ValueError:
        return None
    return hh * 3600.0 + mm * 60.0 + ss


def _first_float(value: Any, default: float) -> float:
    """A number from a DS value; a (wrongly) multi-valued one gives its first value."""
    if is_multi_value(value):
        value = value[0] if len(value) else default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def has_pixel_module(ds: Dataset) -> bool:
    """Whether a header describes an image (Rows/Columns and not a known non-image SOP class)."""
    sop_class = str(safe_get(ds, "SOPClassUID", "") or "")
    if sop_class.startswith(_NON_IMAGE_SOP_PREFIXES):
        return False
    rows, cols = _int(safe_get(ds, "Rows")), _int(safe_get(ds, "Columns"))
    return bool(rows and cols)


_NATIVE_SYNTAXES = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
)


LITTLE_ENDIAN_NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})


def native_pixel_extent(path: str, offset: int) -> tuple[int, int] | None:
    """Where the values of a little-endian Pixel Data element start, and their declared length.

    ``offset`` is the position of the element's tag (where pydicom stopped before pixels).
    None when there is no Pixel Data element there or its length is undefined (encapsulated).
    """
    with open(path, "rb") as handle:
        handle.seek(offset)
        head = handle.read(12)
    if len(head) < 8 or struct.unpack_from("<HH", head) != (0x7FE0, 0x0010):
        return None
    if head[4:6] in (b"OB", b"OW", b"UN"):
        if len(head) < 12:
            return None
        (length,) = struct.unpack_from("<L", head, 8)
        start = offset + 12
    else:
        (length,) = struct.unpack_from("<L", head, 4)
        start = offset + 8
    return None if length == 0xFFFFFFFF else (start, length)


def _max_frames(
    ds: Dataset, path: str | None, rows: int, cols: int, samples: int, bits: int
) -> int:
    """Most frames the pixel data can hold, so a corrupt NumberOfFrames cannot exhaust memory.

    Native data needs ``rows * cols * samples * bits / 8`` bytes a frame; encapsulated data at
    least one 8-byte item header a frame. The bound comes from the pixel data's length when it
    is in memory or its element header can be read from the file (a truncated last frame
    counts: decoding it reports the truncation), else from the file's size (deflated files
    get no bound from it).
    """
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
    native = syntax in _NATIVE_SYNTAXES or not syntax
    per_frame = max((rows * cols * samples * bits) // 8 if native else 8, 1)
    available: int | None = None
    try:
        element = ds.get("PixelData") if "PixelData" in ds else None
        offset = getattr(ds, "_dw_pixel_offset", None)
        if element is not None and element.value is not None:
            available = len(element.value)
        elif path is not None and isinstance(offset, int) and syntax in LITTLE_ENDIAN_NATIVE:
            extent = native_pixel_extent(path, offset)
            if extent is not None:
                start, length = extent
                available = max(min(length, os.path.getsize(path) - start), 0)
                return max(-(-available // per_frame), 1)
        if available is None and path is not None and not syntax.endswith(".99"):
            available = os.path.getsize(path)
    except Exception:  # noqa: BLE001 - deferred or unreadable values: no bound from them
        available = None
    if available is None:
        return 1 << 20
    return available // per_frame + 1


def unit_normal(orientation: np.ndarray) -> np.ndarray | None:
    """The unit normal of an image plane (row x column direction cosines), None if degenerate."""
    normal = np.cross(orientation[:3], orientation[3:])
    length = float(np.linalg.norm(normal))
    if not np.isfinite(length) or length < 1e-6:
        return None
    return normal / length


def _grid_positions(
    ds: Dataset, n_frames: int, position: np.ndarray | None, orientation: np.ndarray | None
) -> np.ndarray | None:
    """Frame positions of a classic multi-frame grid (RT Dose) from Grid Frame Offset Vector.

    PS3.3 C.8.8.3.2: the offsets run along the normal of the image plane, either relative to
    the first frame (first offset 0) or as absolute positions whose first one is that of
    Image Position (Patient); both give ``position + (offset[k] - offset[0]) * normal``.
    """
    if n_frames < 2 or position is None or orientation is None:
        return None
    offsets = _float_list(safe_get(ds, "GridFrameOffsetVector", []), n_frames)
    if offsets is None:
        return None
    normal = unit_normal(orientation)
    if normal is None:
        return None
    return position[None, :] + (offsets - offsets[0])[:, None] * normal[None, :]


#: NM frame index vectors (PS3.3 C.8.4.8.1) other than Slice Vector: the frames at one
#: slice of a gated reconstruction differ by these (R-R interval, time slot), and those of
#: planar images by energy window, detector, phase, time slice, rotation and view.
_NM_OTHER_VECTORS = (
    "EnergyWindowVector",
    "DetectorVector",
    "PhaseVector",
    "TimeSliceVector",
    "RotationVector",
    "RRIntervalVector",
    "TimeSlotVector",
    "AngularViewVector",
)


def _int_vector(ds: Dataset, keyword: str, n_frames: int) -> list[int] | None:
    """An NM frame index vector with one integer per frame, else None."""
    value = safe_get(ds, keyword)
    if value is None:
        return None
    values = [value] if isinstance(value, (int, float, str)) else list(value)
    out = [_int(v) for v in values]
    if len(out) != n_frames or any(v is None for v in out):
        return None
    return out  # type: ignore[return-value]


def _nm_slice_positions(
    ds: Dataset, n_frames: int, position: np.ndarray | None, orientation: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Frame positions and the orientation of an NM reconstruction (RECON TOMO, RECON GATED TOMO).

    Its frames are indexed by Slice Vector (0054,0080); slice 1 is at Image Position
    (Patient) and the others follow along the normal of the image plane, Spacing Between
    Slices (0018,0088) apart, whose sign gives the direction of stacking (PS3.3 C.8.4.15).
    Position and orientation are those of the Detector Information Sequence (0054,0022),
    where the NM Detector Module puts them, unless the file has them at the top level.
    """
    slices = _int_vector(ds, "SliceVector", n_frames)
    if slices is None:
        return None
    detector = safe_get(ds, "DetectorInformationSequence")
    first = detector[0] if detector else None
    if position is None and first is not None:
        position = _float_list(safe_get(first, "ImagePositionPatient", []), 3)
    if orientation is None and first is not None:
        orientation = _float_list(safe_get(first, "ImageOrientationPatient", []), 6)
    spacing = _first_float(safe_get(ds, "SpacingBetweenSlices"), 0.0)
    if not np.isfinite(spacing) or spacing == 0:
        spacing = abs(_first_float(safe_get(ds, "SliceThickness"), 0.0))
    if position is None or orientation is None or not np.isfinite(spacing) or spacing == 0:
        return None
    normal = unit_normal(orientation)
    if normal is None:
        return None
    steps = (np.asarray(slices, dtype=np.float64) - 1.0) * spacing
    return position[None, :] + steps[:, None] * normal[None, :], orientation


def _nm_time_points(ds: Dataset, n_frames: int) -> list[tuple[int, ...]] | None:
    """Per frame, the values of the NM index vectors other than Slice Vector (or None)."""
    if safe_get(ds, "SliceVector") is None and not safe_get(ds, "FrameIncrementPointer"):
        return None
    vectors = [_int_vector(ds, key, n_frames) for key in _NM_OTHER_VECTORS]
    present = [v for v in vectors if v is not None and len(set(v)) > 1]
    if not present:
        return None
    return [tuple(v[k] for v in present) for k in range(n_frames)]


def frames_from_header(
    ds: Dataset, path: str | os.PathLike[str] | None, *, order: int = 0
) -> Iterator[FrameRef]:
    """Yield one :class:`FrameRef` per frame described by ``ds``.

    Parameters
    ----------
    ds : Dataset
        Header of one instance (pixel data not needed).
    path : path-like or None
        Its file, or ``None`` when ``ds`` is in memory.
    order : int
        Discovery order of the instance (the last-resort sort key).

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> [ref] = frames_from_header(ct_phantom(n_slices=1, size=16)[0], None)
    >>> ref.rows, ref.intercept, ref.position.tolist()
    (16, -1024.0, [-93.75, -93.75, 0.0])
    """
    n_frames = _int(safe_get(ds, "NumberOfFrames", 1)) or 1
    rows, cols = _int(safe_get(ds, "Rows")) or 0, _int(safe_get(ds, "Columns")) or 0
    samples = _int(safe_get(ds, "SamplesPerPixel", 1)) or 1
    bits = _int(safe_get(ds, "BitsAllocated", 0)) or 0
    photometric = str(safe_get(ds, "PhotometricInterpretation", "") or "").strip().upper()
    base_pos = _float_list(safe_get(ds, "ImagePositionPatient", []), 3)
    base_ori = _float_list(safe_get(ds, "ImageOrientationPatient", []), 6)
    spacing = _float_list(safe_get(ds, "PixelSpacing", []), 2)
    if spacing is None:
        spacing = _float_list(safe_get(ds, "ImagerPixelSpacing", []), 2)
    slope = safe_get(ds, "RescaleSlope", 1.0)
    intercept = safe_get(ds, "RescaleIntercept", 0.0)
    instance = _int(safe_get(ds, "InstanceNumber"))
    sop_uid = str(safe_get(ds, "SOPInstanceUID", "") or "")
    series_uid = str(safe_get(ds, "SeriesInstanceUID", "") or "")
    enhanced = bool(safe_get(ds, "PerFrameFunctionalGroupsSequence")) or bool(
        safe_get(ds, "SharedFunctionalGroupsSequence")
    )
    classic_temporal = _classic_temporal(ds)
    str_path = None if path is None else os.fspath(path)
    n_frames = _listed_frames(ds, str_path, n_frames, rows, cols, samples, bits)
    grid = nm_times = None
    if not enhanced and n_frames > 1:
        grid, base_ori, nm_times = _stack_positions(ds, n_frames, base_pos, base_ori)
    for k in range(n_frames):
        pos, ori, sp = base_pos, base_ori, spacing
        if grid is not None:
            pos = grid[k]
        fslope, fintercept = slope, intercept
        temporal = dict(classic_temporal)
        if nm_times is not None:
            temporal["NMFrameVectors"] = nm_times[k]
        if n_frames > 1:
            # Last resort for frames of one file sharing a position: they follow in time.
            temporal["FrameNumber"] = k + 1
        if enhanced:
            pos, ori, sp = _frame_geometry(ds, k, pos, ori, sp)
            transform = functional_group(ds, k, "PixelValueTransformationSequence")
            if transform is not None:
                fslope = safe_get(transform, "RescaleSlope", fslope)
                fintercept = safe_get(transform, "RescaleIntercept", fintercept)
            temporal.update(_frame_temporal(ds, k))
        fslope_f, fintercept_f = _rescale(fslope, fintercept)
        yield FrameRef(
            path=str_path,
            header=ds,
            frame=k,
            n_frames=n_frames,
            position=pos,
            orientation=ori,
            pixel_spacing=None if sp is None else (float(sp[0]), float(sp[1])),
            slope=fslope_f,
            intercept=fintercept_f,
            rows=rows,
            cols=cols,
            samples=samples,
            bits_allocated=bits,
            photometric=photometric,
            instance_number=instance,
            sop_uid=sop_uid,
            series_uid=series_uid,
            acquisition_seconds=temporal.get("AcquisitionTime"),
            temporal=temporal,
            order=order * 100000 + k,
        )


def _listed_frames(
    ds: Dataset, path: str | None, declared: int, rows: int, cols: int, samples: int, bits: int
) -> int:
    """How many frames to list: NumberOfFrames, or fewer (with a warning) if the data is short."""
    n_frames = min(declared, _max_frames(ds, path, rows, cols, samples, bits))
    if n_frames < declared:
        warnings.warn(
            f"{path or 'dataset'}: NumberOfFrames is {declared} but the pixel data can hold "
            f"at most {n_frames} frames; only those are listed",
            DicomWidgetsWarning,
            stacklevel=3,
        )
    return n_frames


def _stack_positions(
    ds: Dataset, n_frames: int, position: np.ndarray | None, orientation: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None, list[tuple[int, ...]] | None]:
    """Frame positions, orientation and NM time points of a classic multi-frame file."""
    grid = _grid_positions(ds, n_frames, position, orientation)
    nm = _nm_slice_positions(ds, n_frames, position, orientation)
    if nm is not None:
        grid, orientation = nm
    return grid, orientation, _nm_time_points(ds, n_frames)


def _classic_temporal(ds: Dataset) -> dict[str, Any]:
    """The top-level attributes that tell time points apart (classic, one frame a file)."""
    temporal = {
        key: safe_get(ds, key)
        for key in (
            "TemporalPositionIdentifier",
            "TriggerTime",
            "EchoNumbers",
            "AcquisitionNumber",
            "DiffusionBValue",
        )
        if safe_get(ds, key) is not None
    }
    acq = _seconds(safe_get(ds, "AcquisitionTime") or safe_get(ds, "ContentTime"))
    if acq is not None:
        temporal["AcquisitionTime"] = acq
    return temporal


def _frame_geometry(
    ds: Dataset,
    k: int,
    pos: np.ndarray | None,
    ori: np.ndarray | None,
    spacing: np.ndarray | None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Position, orientation and pixel spacing of frame ``k`` from its functional groups."""
    plane = functional_group(ds, k, "PlanePositionSequence")
    if plane is not None:
        pos = _float_list(safe_get(plane, "ImagePositionPatient", []), 3)
    orient = functional_group(ds, k, "PlaneOrientationSequence")
    if orient is not None:
        ori = _float_list(safe_get(orient, "ImageOrientationPatient", []), 6)
    measures = functional_group(ds, k, "PixelMeasuresSequence")
    if measures is not None:
        found = _float_list(safe_get(measures, "PixelSpacing", []), 2)
        spacing = found if found is not None else spacing
    return pos, ori, spacing


def _frame_temporal(ds: Dataset, k: int) -> dict[str, Any]:
    """What tells frame ``k`` of an enhanced file apart in time (Frame Content, MR Echo)."""
    temporal: dict[str, Any] = {}
    content = functional_group(ds, k, "FrameContentSequence", shared=False)
    if content is not None:
        for key in ("TemporalPositionIndex", "StackID", "InStackPositionNumber"):
            if safe_get(content, key) is not None:
                temporal[key] = safe_get(content, key)
        div = safe_get(content, "DimensionIndexValues")
        if div is not None:
            temporal["DimensionIndexValues"] = tuple(
                div if isinstance(div, (list, tuple)) or hasattr(div, "__iter__") else [div]
            )
        facq = _seconds(safe_get(content, "FrameAcquisitionDateTime"))
        if facq is not None:
            temporal["AcquisitionTime"] = facq
    echo = functional_group(ds, k, "MREchoSequence")
    if echo is not None and safe_get(echo, "EffectiveEchoTime") is not None:
        temporal["EffectiveEchoTime"] = safe_get(echo, "EffectiveEchoTime")
    return temporal


def _rescale(slope: object, intercept: object) -> tuple[float, float]:
    """Usable (slope, intercept): a zero, infinite or unreadable slope means 1."""
    slope_f = _first_float(slope, 1.0)
    intercept_f = _first_float(intercept, 0.0)
    if not np.isfinite(slope_f) or slope_f == 0:
        slope_f = 1.0
    if not np.isfinite(intercept_f):
        intercept_f = 0.0
    return slope_f, intercept_f
