"""Deterministic synthetic CT and MR series of a Shepp-Logan-like head phantom.

The phantom is a set of ellipsoids in normalised head coordinates (each axis in
[-1, 1]); a later ellipsoid paints over the earlier ones, so each region has one
exact value, listed in :data:`CT_REGIONS` / :data:`MR_REGIONS`. Images are
produced by sampling the ellipsoids at the patient coordinates of every pixel,
so any orientation (axial, sagittal, oblique) shows the same anatomy in the right
place, which is what the geometry tests rely on.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
)

__all__ = [
    "Region",
    "CT_REGIONS",
    "MR_REGIONS",
    "HEAD_HALF_SIZE_MM",
    "ct_phantom",
    "mr_phantom",
    "mr_multiframe_phantom",
    "phantom_values_at",
]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"

#: Half extent of the normalised head in millimetres along x (left), y (posterior), z (superior).
HEAD_HALF_SIZE_MM = np.array([80.0, 100.0, 90.0])


@dataclass(frozen=True)
class Region:
    """One ellipsoid of the phantom.

    Attributes
    ----------
    name : str
        Anatomical name, e.g. ``"left ventricle"``.
    center : tuple of float
        Centre in normalised coordinates (x: patient left, y: posterior, z: superior).
    semi_axes : tuple of float
        Semi-axes in normalised units.
    angle_deg : float
        Rotation about the z axis.
    ct_hu : float
        Value in Hounsfield units.
    mr_value : float
        Value in the MR phantom (arbitrary units, T1-like contrast).

    Examples
    --------
    >>> tumour = next(r for r in _REGIONS if r.name == "tumour")
    >>> tumour.ct_hu == CT_REGIONS["tumour"], tumour.mr_value
    (True, 1100.0)
    """

    name: str
    center: tuple[float, float, float]
    semi_axes: tuple[float, float, float]
    angle_deg: float
    ct_hu: float
    mr_value: float


_REGIONS: tuple[Region, ...] = (
    Region("scalp", (0.0, 0.0, 0.0), (0.92, 0.95, 0.93), 0.0, 40.0, 900.0),
    Region("skull", (0.0, 0.0, 0.0), (0.87, 0.91, 0.89), 0.0, 1000.0, 80.0),
    Region("brain", (0.0, -0.01, 0.0), (0.80, 0.85, 0.84), 0.0, 30.0, 600.0),
    Region("right ventricle", (-0.22, 0.0, 0.05), (0.11, 0.31, 0.22), -18.0, 5.0, 180.0),
    Region("left ventricle", (0.22, 0.0, 0.05), (0.16, 0.41, 0.28), 18.0, 5.0, 180.0),
    Region("haemorrhage", (0.0, -0.45, -0.25), (0.21, 0.20, 0.30), 0.0, 70.0, 750.0),
    Region("tumour", (0.0, 0.55, 0.30), (0.10, 0.10, 0.12), 0.0, 55.0, 1100.0),
    Region("calcification", (-0.35, -0.30, 0.45), (0.06, 0.05, 0.06), 0.0, 400.0, 100.0),
)

#: Regions of the CT phantom with their exact HU values (air outside is -1000 HU).
CT_REGIONS: dict[str, float] = {"air": -1000.0, **{r.name: r.ct_hu for r in _REGIONS}}
#: Regions of the MR phantom with their exact values (background is 0).
MR_REGIONS: dict[str, float] = {"air": 0.0, **{r.name: r.mr_value for r in _REGIONS}}
#: Region centres in patient millimetres (LPS), where each region's value can be read.
REGION_CENTERS_MM: dict[str, tuple[float, float, float]] = {
    r.name: tuple(float(v) for v in np.asarray(r.center) * HEAD_HALF_SIZE_MM) for r in _REGIONS[3:]
}


def phantom_values_at(points_mm: np.ndarray, *, modality: str = "CT") -> np.ndarray:
    """Return the phantom value at patient coordinates (LPS, millimetres).

    Parameters
    ----------
    points_mm : numpy.ndarray
        Array of shape (..., 3).
    modality : {"CT", "MR"}
        Which value table to use.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``points_mm.shape[:-1]``.

    Examples
    --------
    >>> float(phantom_values_at(np.array([0.0, 0.0, 0.0])))  # between the ventricles
    30.0
    """
    pts = np.asarray(points_mm, dtype=np.float64) / HEAD_HALF_SIZE_MM
    if modality == "CT":
        out = np.full(pts.shape[:-1], CT_REGIONS["air"])
    elif modality == "MR":
        out = np.full(pts.shape[:-1], MR_REGIONS["air"])
    else:
        raise ValueError(f"modality must be 'CT' or 'MR', not {modality!r}")
    for region in _REGIONS:
        rel = pts - np.asarray(region.center)
        theta = np.deg2rad(region.angle_deg)
        cos, sin = np.cos(theta), np.sin(theta)
        x = rel[..., 0] * cos + rel[..., 1] * sin
        y = -rel[..., 0] * sin + rel[..., 1] * cos
        a, b, c = region.semi_axes
        inside = (x / a) ** 2 + (y / b) ** 2 + (rel[..., 2] / c) ** 2 <= 1.0
        out[inside] = region.ct_hu if modality == "CT" else region.mr_value
    return out


def _check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive_float(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return number


def _uid(*parts: object) -> str:
    # Deterministic 2.25 UIDs (a UUID-sized integer from a hash of the arguments), so the same
    # arguments always give the same series; pydicom's generate_uid(prefix=None) is random.
    digest = hashlib.sha256("\x1f".join(["dicom-widgets-phantom", *map(str, parts)]).encode())
    return f"2.25.{int.from_bytes(digest.digest()[:16], 'big')}"


def _fmt(values: Sequence[float]) -> list[float]:
    return [round(float(v), 6) for v in values]


def _patient_and_study(ds: Dataset, *, seed: int, modality: str) -> None:
    """Fill obviously fake but realistic identifying tags, so anonymization has work to do."""
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "PHANTOM^Jane^Q^^" if modality == "CT" else "PHANTOM^John^^Dr^"
    ds.PatientID = f"DW-PHANTOM-{seed:04d}"
    ds.IssuerOfPatientID = "DICOM-WIDGETS-SYNTHETIC"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "F" if modality == "CT" else "M"
    ds.PatientAge = "054Y"
    ds.PatientWeight = 68.0
    ds.PatientSize = 1.68
    ds.OtherPatientIDs = f"MRN{seed:06d}"
    ds.PatientAddress = "1 Example Street, Springfield (synthetic)"
    ds.PatientComments = f"Synthetic phantom for {ds.PatientName}; not a real patient."
    ds.StudyDate = "20240102"
    ds.StudyTime = "101500"
    ds.SeriesDate = "20240102"
    ds.SeriesTime = "102000"
    ds.AcquisitionDate = "20240102"
    ds.ContentDate = "20240102"
    ds.AccessionNumber = f"ACC{seed:07d}"
    ds.StudyID = f"S{seed:04d}"
    ds.ReferringPhysicianName = "REFERRER^Example"
    ds.PerformingPhysicianName = "RADIOLOGIST^Example"
    ds.OperatorsName = "TECH^Example"
    ds.InstitutionName = "Example General Hospital (synthetic)"
    ds.InstitutionAddress = "2 Hospital Road, Springfield"
    ds.InstitutionalDepartmentName = "Radiology"
    ds.StationName = "DW-SCANNER-01"
    ds.Manufacturer = "dicom-widgets"
    ds.ManufacturerModelName = "Synthetic Phantom Generator"
    ds.DeviceSerialNumber = "SN-0000-PHANTOM"
    ds.SoftwareVersions = "dicom-widgets 0.1"
    ds.StudyDescription = "Head phantom (synthetic)"
    ds.BodyPartExamined = "HEAD"


def _private_block(ds: Dataset, seed: int) -> None:
    # A private block carrying an identifier, as real scanners do; the Basic Profile removes it.
    block = ds.private_block(0x0009, "DICOM_WIDGETS_PHANTOM", create=True)
    block.add_new(0x01, "LO", f"DW-PHANTOM-{seed:04d}")
    block.add_new(0x02, "DS", "1.5")


def _file_meta(sop_class: str, sop_instance: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "DICOM_WIDGETS"
    return meta


def _new_dataset(sop_class: str, sop_instance: str) -> Dataset:
    from pydicom.dataset import FileDataset

    ds = FileDataset(
        "", Dataset(), file_meta=_file_meta(sop_class, sop_instance), preamble=b"\0" * 128
    )
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    return ds


def _orientation(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Row and column direction cosines (LPS) of an acquisition plane."""
    if kind == "axial":
        return np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    if kind == "sagittal":
        return np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0])
    if kind == "coronal":
        return np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0])
    if kind == "oblique":
        # A sagittal plane tilted 20 degrees about the z axis and 10 degrees about x.
        row, col = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, -1.0])
        rz, rx = np.deg2rad(20.0), np.deg2rad(10.0)
        rot_z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
        rot_x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
        rot = rot_x @ rot_z
        return rot @ row, rot @ col
    raise ValueError(
        f"orientation must be 'axial', 'sagittal', 'coronal' or 'oblique', not {kind!r}"
    )


def _plane_geometry(
    size: int, pixel_mm: float, n_slices: int, slice_mm: float, orientation: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Row/column cosines, normal and the ImagePositionPatient of every slice, centred on 0."""
    row, col = _orientation(orientation)
    normal = np.cross(row, col)
    half = (size - 1) / 2.0 * pixel_mm
    offsets = (np.arange(n_slices) - (n_slices - 1) / 2.0) * slice_mm
    positions = [-half * row - half * col + off * normal for off in offsets]
    return row, col, normal, positions


def _sample_plane(
    position: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    size: int,
    pixel_mm: float,
    modality: str,
) -> np.ndarray:
    idx = np.arange(size) * pixel_mm
    # Pixel (r, c) lies at position + c * dx * row_cosine + r * dy * column_cosine (PS3.3 C.7.6.2.1.1).
    pts = position + idx[None, :, None] * row + idx[:, None, None] * col
    return phantom_values_at(pts, modality=modality)


def ct_phantom(
    n_slices: int = 48,
    size: int = 256,
    *,
    pixel_spacing: float | None = None,
    slice_thickness: float = 4.0,
    noise: float = 0.0,
    seed: int = 1,
) -> list[Dataset]:
    """Generate a synthetic axial CT head series in Hounsfield units.

    The pixels are int16 stored values with RescaleSlope 1 and RescaleIntercept
    -1024, so ``stored + (-1024)`` gives the HU values of :data:`CT_REGIONS`
    exactly when ``noise`` is 0.

    Parameters
    ----------
    n_slices : int
        Number of slices (>= 1).
    size : int
        Rows and columns (>= 8).
    pixel_spacing : float, optional
        In-plane spacing in mm; by default the 200 mm field of view is spread over ``size``.
    slice_thickness : float
        Distance between slice centres in mm; also SliceThickness.
    noise : float
        Standard deviation of Gaussian noise in HU (deterministic for a given ``seed``).
    seed : int
        Makes the UIDs, patient ID and noise reproducible; different seeds give different patients.

    Returns
    -------
    list of pydicom.dataset.FileDataset
        In slice order (inferior to superior), with file meta, ready for :func:`write_series`.

    Examples
    --------
    >>> series = ct_phantom(n_slices=4, size=64)
    >>> len(series), series[0].Modality, series[0].pixel_array.shape
    (4, 'CT', (64, 64))
    """
    n_slices, size, slice_thickness, pixel_mm = _checked_grid(
        n_slices, size, ("slice_thickness", slice_thickness), pixel_spacing, field_of_view=200.0
    )
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    row, col, _normal, positions = _plane_geometry(
        size, pixel_mm, n_slices, slice_thickness, "axial"
    )
    uids = tuple(_uid("CT", seed, k) for k in ("study", "series", "for"))
    out = []
    for k, pos in enumerate(positions):
        hu = _sample_plane(pos, row, col, size, pixel_mm, "CT")
        if noise:
            hu = hu + rng.normal(0.0, noise, hu.shape)
        stored = np.clip(np.round(hu + 1024.0), -32768, 32767).astype(np.int16)
        ds = _slice_dataset(
            CT_IMAGE_STORAGE, _uid("CT", seed, "sop", k), "CT", seed, uids, k, (pos, row, col)
        )
        _ct_acquisition(ds, k, float(pos[2]), slice_thickness, pixel_mm)
        _grey_pixels(ds, size, bits_stored=16, signed=True)
        _private_block(ds, seed)
        ds.PixelData = stored.tobytes()
        out.append(ds)
    return out


def _ct_acquisition(
    ds: Dataset, k: int, z_mm: float, slice_thickness: float, pixel_mm: float
) -> None:
    """The CT phantom's series, acquisition and display attributes of slice ``k``."""
    ds.SeriesDescription = "Axial head phantom"
    ds.ProtocolName = "HEAD ROUTINE"
    ds.SeriesNumber = 2
    ds.AcquisitionNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.KVP = 120
    ds.ConvolutionKernel = "STANDARD"
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = round(z_mm, 6)
    ds.SliceThickness = slice_thickness
    ds.PixelSpacing = [round(pixel_mm, 6), round(pixel_mm, 6)]
    ds.AcquisitionTime = (
        _dt.datetime(2024, 1, 2, 10, 20, 0) + _dt.timedelta(seconds=0.5 * k)
    ).strftime("%H%M%S.%f")
    ds.ContentTime = ds.AcquisitionTime
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = [40, 400], [80, 1800]
    ds.WindowCenterWidthExplanation = ["BRAIN", "BONE"]


def _checked_grid(
    n_slices: int,
    size: int,
    spacing: tuple[str, float],
    pixel_spacing: float | None,
    *,
    field_of_view: float,
) -> tuple[int, int, float, float]:
    """Checked (n_slices, size, slice spacing, pixel spacing); the latter spreads the FOV."""
    n_slices = _check_positive_int("n_slices", n_slices)
    size = _check_positive_int("size", size, minimum=8)
    slice_mm = _check_positive_float(*spacing)
    pixel_mm = (
        field_of_view / size
        if pixel_spacing is None
        else _check_positive_float("pixel_spacing", pixel_spacing)
    )
    return n_slices, size, slice_mm, pixel_mm


def _slice_dataset(
    sop_class: str,
    sop_instance: str,
    modality: str,
    seed: int,
    uids: Sequence[str],
    k: int,
    plane: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Dataset:
    """Slice ``k`` of a phantom series: patient, study and series, position and orientation."""
    position, row, col = plane
    ds = _new_dataset(sop_class, sop_instance)
    _patient_and_study(ds, seed=seed, modality=modality)
    ds.Modality = modality
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = uids
    ds.InstanceNumber = k + 1
    ds.PatientPosition = "HFS"
    ds.ImagePositionPatient = _fmt(position)
    ds.ImageOrientationPatient = _fmt([*row, *col])
    return ds


def mr_phantom(
    n_slices: int = 32,
    size: int = 192,
    *,
    orientation: str = "sagittal",
    pixel_spacing: float | None = None,
    slice_spacing: float = 5.0,
    seed: int = 2,
) -> list[Dataset]:
    """Generate a synthetic MR head series (uint16, no rescale) in a non-axial plane.

    Parameters
    ----------
    n_slices : int
        Number of slices (>= 1).
    size : int
        Rows and columns (>= 8).
    orientation : {"sagittal", "coronal", "oblique", "axial"}
        Acquisition plane. ``"oblique"`` tilts a sagittal plane by 20 and 10 degrees.
    pixel_spacing : float, optional
        In-plane spacing in mm; by default a 220 mm field of view.
    slice_spacing : float
        Distance between slice centres (SpacingBetweenSlices) in mm.
    seed : int
        Makes the UIDs reproducible.

    Returns
    -------
    list of pydicom.dataset.FileDataset

    Examples
    --------
    >>> series = mr_phantom(n_slices=3, size=32, orientation="oblique")
    >>> series[0].Modality, len(series[0].ImageOrientationPatient)
    ('MR', 6)
    """
    n_slices, size, slice_spacing, pixel_mm = _checked_grid(
        n_slices, size, ("slice_spacing", slice_spacing), pixel_spacing, field_of_view=220.0
    )
    row, col, _normal, positions = _plane_geometry(
        size, pixel_mm, n_slices, slice_spacing, orientation
    )
    uids = tuple(_uid("MR", seed, k) for k in ("study", "series", "for"))
    out = []
    for k, pos in enumerate(positions):
        values = _sample_plane(pos, row, col, size, pixel_mm, "MR")
        sop_uid = _uid("MR", seed, orientation, "sop", k)
        ds = _slice_dataset(MR_IMAGE_STORAGE, sop_uid, "MR", seed, uids, k, (pos, row, col))
        ds.SeriesDescription = f"T1 {orientation} head phantom"
        ds.ProtocolName = f"T1_{orientation.upper()}"
        ds.SeriesNumber = 3
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.MagneticFieldStrength = 1.5
        ds.RepetitionTime = 500.0
        ds.EchoTime = 15.0
        ds.SliceThickness = slice_spacing
        ds.SpacingBetweenSlices = slice_spacing
        ds.PixelSpacing = [round(pixel_mm, 6), round(pixel_mm, 6)]
        _grey_pixels(ds, size, bits_stored=12, signed=False)
        ds.WindowCenter = 600
        ds.WindowWidth = 1200
        _private_block(ds, seed)
        ds.PixelData = values.astype(np.uint16).tobytes()
        out.append(ds)
    return out


def mr_multiframe_phantom(
    n_slices: int = 16,
    size: int = 128,
    *,
    n_timepoints: int = 1,
    orientation: str = "sagittal",
    slice_spacing: float = 5.0,
    seed: int = 3,
) -> Dataset:
    """Generate one Enhanced MR Image (multi-frame) file with per-frame functional groups.

    Frames are stored slice-fastest within each temporal position; with
    ``n_timepoints > 1`` positions repeat over time (a 4-D series), and the
    signal of the tumour grows with time so that time points differ visibly.

    Parameters
    ----------
    n_slices : int
        Slices per time point (>= 1).
    size : int
        Rows and columns (>= 8).
    n_timepoints : int
        Temporal positions (>= 1).
    orientation : str
        As for :func:`mr_phantom`.
    slice_spacing : float
        Distance between slice centres in mm.
    seed : int
        Makes the UIDs reproducible.

    Returns
    -------
    pydicom.dataset.FileDataset

    Examples
    --------
    >>> ds = mr_multiframe_phantom(n_slices=4, size=32, n_timepoints=2)
    >>> int(ds.NumberOfFrames), len(ds.PerFrameFunctionalGroupsSequence)
    (8, 8)
    """
    n_slices, size, slice_spacing, pixel_mm = _checked_grid(
        n_slices, size, ("slice_spacing", slice_spacing), None, field_of_view=220.0
    )
    n_timepoints = _check_positive_int("n_timepoints", n_timepoints)
    row, col, _normal, positions = _plane_geometry(
        size, pixel_mm, n_slices, slice_spacing, orientation
    )
    ds = _new_dataset(ENHANCED_MR_IMAGE_STORAGE, _uid("MRMF", seed, "sop"))
    _patient_and_study(ds, seed=seed, modality="MR")
    ds.Modality = "MR"
    ds.SeriesDescription = f"Enhanced MR {orientation} phantom" + (
        " dynamic" if n_timepoints > 1 else ""
    )
    ds.StudyInstanceUID = _uid("MRMF", seed, "study")
    ds.SeriesInstanceUID = _uid("MRMF", seed, "series", n_timepoints)
    ds.FrameOfReferenceUID = _uid("MRMF", seed, "for")
    ds.SeriesNumber = 4
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.ContentTime = "102000"
    ds.AcquisitionDateTime = "20240102102000"
    ds.NumberOfFrames = n_slices * n_timepoints
    _grey_pixels(ds, size, bits_stored=12, signed=False)
    ds.SharedFunctionalGroupsSequence = DicomSequence(
        [_shared_groups(pixel_mm, slice_spacing, [*row, *col])]
    )
    frames = []
    per_frame = []
    tumour = next(r for r in _REGIONS if r.name == "tumour")
    for t in range(n_timepoints):
        for k, pos in enumerate(positions):
            values = _sample_plane(pos, row, col, size, pixel_mm, "MR")
            # Contrast uptake: the tumour brightens by 150 per time point.
            values[values == tumour.mr_value] += 150.0 * t
            frames.append(values.astype(np.uint16))
            per_frame.append(_frame_groups(pos, slice_number=k + 1, time_point=t + 1))
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    _private_block(ds, seed)
    ds.PixelData = np.stack(frames).tobytes()
    return ds


def _grey_pixels(ds: Dataset, size: int, *, bits_stored: int, signed: bool) -> None:
    """The Image Pixel attributes of a square 16-bit greyscale image."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.BurnedInAnnotation = "NO"


def _shared_groups(pixel_mm: float, slice_spacing: float, orientation: list[float]) -> Dataset:
    """The Shared Functional Groups item: pixel measures, plane orientation, window."""
    measures = Dataset()
    measures.PixelSpacing = [round(pixel_mm, 6), round(pixel_mm, 6)]
    measures.SliceThickness = slice_spacing
    measures.SpacingBetweenSlices = slice_spacing
    plane_orientation = Dataset()
    plane_orientation.ImageOrientationPatient = _fmt(orientation)
    voi = Dataset()
    voi.WindowCenter = 600
    voi.WindowWidth = 1200
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([plane_orientation])
    shared.FrameVOILUTSequence = DicomSequence([voi])
    return shared


def _frame_groups(position: np.ndarray, *, slice_number: int, time_point: int) -> Dataset:
    """One Per-frame Functional Groups item: frame content and plane position."""
    content = Dataset()
    content.StackID = "1"
    content.InStackPositionNumber = slice_number
    content.TemporalPositionIndex = time_point
    content.DimensionIndexValues = [time_point, slice_number]
    plane = Dataset()
    plane.ImagePositionPatient = _fmt(position)
    item = Dataset()
    item.FrameContentSequence = DicomSequence([content])
    item.PlanePositionSequence = DicomSequence([plane])
    return item
