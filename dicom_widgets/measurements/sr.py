"""Measurements kept as a DICOM SR Measurement Report (TID 1500), written with highdicom.

Each measurement is one Measurement Group, identified by its Tracking Identifier (the
label) and Tracking Unique Identifier (:attr:`Measurement.uid`):

* ROIs (ellipse, rectangle, polygon): TID 1410 Planar ROI Measurements with the region as
  an Image Region — SCOORD on the source image when the ROI lies in one acquired image,
  else SCOORD3D in the Frame of Reference (a reformatted plane) — and their mean, standard
  deviation, minimum, maximum, median, area and pixel count.
* Distances and angles: TID 1501 groups holding a Length (mm) or an Angle (degrees)
  measurement inferred from its SCOORD / SCOORD3D polyline.

The report's Image Library (TID 1600) lists the referenced images with their position,
orientation and spacing, so :func:`load_measurements` places SCOORD points in patient
coordinates even without the series. Reading uses pydicom only (it works on pydicom 2.4);
writing needs highdicom (the ``seg`` extra, which needs pydicom 3).

Examples
--------
>>> from dicom_widgets.measurements import load_measurements, save_measurements
>>> save_measurements(viewer.measurements, series, "report.dcm")  # doctest: +SKIP
>>> [m.text() for m in load_measurements("report.dcm", series)]  # doctest: +SKIP
['42.3 mm', '0.4 ± 3.1 HU, 120.5 mm²']
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from .._io import write_dataset_atomic
from ..errors import DicomReadError, GeometryError, MeasurementError, MissingDependencyError
from ..view.planes import PLANE_VIEWS, patient_to_voxels, plane_for
from ._measurement import KINDS, Measurement

if TYPE_CHECKING:  # pragma: no cover
    from ..series import Series

__all__ = ["save_measurements", "load_measurements", "N_PIXELS_CODE", "DRAWING_TOOL_CODE"]


class _Codes:
    """The coded concepts used, spelled out: pydicom 2.4's code dictionary has two "Median"s."""

    Device = Code("121007", "DCM", "Device")
    FrameOfReferenceUID = Code("112227", "DCM", "Frame of Reference UID")
    HorizontalPixelSpacing = Code("111026", "DCM", "Horizontal Pixel Spacing")
    ImageLibrary = Code("111028", "DCM", "Image Library")
    ImageOrientationPatientColumnX = Code("110907", "DCM", "Image Orientation (Patient) Column X")
    ImageOrientationPatientColumnY = Code("110908", "DCM", "Image Orientation (Patient) Column Y")
    ImageOrientationPatientColumnZ = Code("110909", "DCM", "Image Orientation (Patient) Column Z")
    ImageOrientationPatientRowX = Code("110904", "DCM", "Image Orientation (Patient) Row X")
    ImageOrientationPatientRowY = Code("110905", "DCM", "Image Orientation (Patient) Row Y")
    ImageOrientationPatientRowZ = Code("110906", "DCM", "Image Orientation (Patient) Row Z")
    ImagePositionPatientX = Code("110901", "DCM", "Image Position (Patient) X")
    ImagePositionPatientY = Code("110902", "DCM", "Image Position (Patient) Y")
    ImagePositionPatientZ = Code("110903", "DCM", "Image Position (Patient) Z")
    ImagingMeasurements = Code("126010", "DCM", "Imaging Measurements")
    MeasurementGroup = Code("125007", "DCM", "Measurement Group")
    TrackingIdentifier = Code("112039", "DCM", "Tracking Identifier")
    TrackingUniqueIdentifier = Code("112040", "DCM", "Tracking Unique Identifier")
    VerticalPixelSpacing = Code("111066", "DCM", "Vertical Pixel Spacing")
    Angle = Code("1483009", "SCT", "Angle")
    Area = Code("42798000", "SCT", "Area")
    Length = Code("410668003", "SCT", "Length")
    Maximum = Code("56851009", "SCT", "Maximum")
    Mean = Code("373098007", "SCT", "Mean")
    Median = Code("373099004", "SCT", "Median")
    Minimum = Code("255605001", "SCT", "Minimum")
    StandardDeviation = Code("386136009", "SCT", "Standard Deviation")
    Degree = Code("deg", "UCUM", "Degree")
    HounsfieldUnit = Code("[hnsf'U]", "UCUM", "Hounsfield unit")
    Millimeter = Code("mm", "UCUM", "mm")
    SquareMillimeter = Code("mm2", "UCUM", "square millimeter")


#: The pixel count has no standard concept: a private one (PS3.16 8.2: "99" schemes).
N_PIXELS_CODE = Code("DW0001", "99DCMWIDGETS", "Number of pixels")

#: Which tool drew it (a rectangle and a 4-vertex polygon are the same region otherwise).
DRAWING_TOOL_CODE = Code("DW0002", "99DCMWIDGETS", "Drawing tool")


def _tool_code(kind: str) -> Code:
    return Code(f"DW-{kind.upper()}", "99DCMWIDGETS", kind)


_STAT_CODES = {
    "mean": _Codes.Mean,
    "std": _Codes.StandardDeviation,
    "min": _Codes.Minimum,
    "max": _Codes.Maximum,
    "median": _Codes.Median,
    "area_mm2": _Codes.Area,
    "n_pixels": N_PIXELS_CODE,
}
_LINE_CODES = {"distance": _Codes.Length, "angle": _Codes.Angle}
_UNIT_CODES = {
    "HU": _Codes.HounsfieldUnit,
    "mm": _Codes.Millimeter,
    "deg": _Codes.Degree,
    "mm2": _Codes.SquareMillimeter,
    "": Code("1", "UCUM", "no units"),
}
_IMAGE_REGION = "111030"
_IMAGE_LIBRARY = _Codes.ImageLibrary.value
_IMAGING_MEASUREMENTS = _Codes.ImagingMeasurements.value
_MEASUREMENT_GROUP = _Codes.MeasurementGroup.value
_TRACKING_ID = _Codes.TrackingIdentifier.value
_TRACKING_UID = _Codes.TrackingUniqueIdentifier.value
_REPORT_TEMPLATE = "1500"
_REPORT_TITLE = "126000"  # Imaging Measurement Report
# SCOORD image coordinates put the top-left pixel's centre at (0.5, 0.5) (PS3.3 C.18.6.1.1);
# screen and voxel coordinates put it at 0.
_PIXEL_CENTRE = 0.5


# ------------------------------------------------------------------------------ writing
def _highdicom() -> Any:
    try:
        import highdicom
    except ImportError as exc:
        raise MissingDependencyError(
            "saving measurements as DICOM SR needs highdicom (which needs pydicom 3): "
            f'pip install "dicom-widgets[seg]" (pydicom {pydicom.__version__} is installed)'
        ) from exc
    return highdicom


def _unit_code(unit: str) -> Code:
    return _UNIT_CODES.get(unit, Code(unit, "UCUM", unit))


def _series_frame_of_reference(series: Series) -> str:
    return str(series.dataset(0).get("FrameOfReferenceUID", "") or "")


def _touched_slices(m: Measurement, affine: np.ndarray, n_slices: int) -> tuple[np.ndarray, bool]:
    """Voxels (slice, row, col) of the points, and whether they all lie in one acquired slice."""
    voxels = patient_to_voxels(m.points, affine)
    k = np.round(voxels[:, 0])
    in_one = bool(np.all(np.abs(voxels[:, 0] - k[0]) < 1e-4)) and 0 <= k[0] < n_slices
    return voxels, in_one


def _graphic_type(m: Measurement, three_d: bool) -> str:
    """SCOORD has no POLYGON: a closed POLYLINE (first vertex repeated) is one (PS3.3 C.18.6.1.2)."""
    if m.kind == "ellipse":
        return "ELLIPSE"
    return "POLYGON" if three_d and m.is_roi else "POLYLINE"


def _closed(points: np.ndarray, m: Measurement) -> np.ndarray:
    # A polygon repeats its first vertex at the end, in SCOORD and SCOORD3D alike.
    return np.vstack([points, points[:1]]) if m.kind in ("rectangle", "polygon") else points


def save_measurements(
    measurements: Iterable[Measurement],
    series: Series,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    series_description: str = "Measurements",
    series_number: int = 9001,
) -> Path:
    """Write ``measurements`` of ``series`` as a TID 1500 Measurement Report (Comprehensive 3D SR).

    Parameters
    ----------
    measurements
        Measurements made on ``series`` (e.g. ``viewer.measurements``).
    series
        The series they were made on: the report references its images and inherits its
        patient and study.
    path
        The output file, written atomically (a temporary file renamed into place).
    overwrite
        Replace an existing file.
    series_description, series_number
        Of the new SR series.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    MissingDependencyError
        Without highdicom (it needs pydicom 3).
    MeasurementError
        With no measurements, or one from another Frame of Reference.
    GeometryError
        When the series has no geometry (no affine).
    """
    hd = _highdicom()
    items = list(measurements)
    if not items:
        raise MeasurementError("there are no measurements to save")
    frame_uid = _checked_frame_of_reference(items, series)
    affine = series.affine()
    library: dict[int, Dataset] = {}
    groups = [
        _measurement_group(hd, m, number, series, affine, library, frame_uid)
        for number, m in enumerate(items, start=1)
    ]
    document = _report_document(hd, groups, library, series_description, series_number)
    return write_dataset_atomic(document, path, overwrite=overwrite)


def _checked_frame_of_reference(items: list[Measurement], series: Series) -> str:
    """The series' Frame of Reference UID, after checking every measurement belongs to it."""
    frame_uid = _series_frame_of_reference(series)
    if not frame_uid:
        raise GeometryError(f"series {series.key} has no Frame of Reference UID to report in")
    for m in items:
        if m.frame_of_reference_uid and m.frame_of_reference_uid != frame_uid:
            raise MeasurementError(
                f"measurement {m.label or m.uid} is in Frame of Reference "
                f"{m.frame_of_reference_uid}, the series in {frame_uid}; refused"
            )
    return frame_uid


def _measurement_group(
    hd: Any,
    m: Measurement,
    number: int,
    series: Series,
    affine: np.ndarray,
    library: dict[int, Dataset],
    frame_uid: str,
) -> Any:
    """One Measurement Group: TID 1410 for an ROI, TID 1501 for a distance or an angle.

    The images the measurement touches are added to ``library`` (the report's evidence).
    """
    n_slices = len(series)
    voxels, in_one = _touched_slices(m, affine, n_slices)
    for k in sorted({int(k) for k in np.clip(np.round(voxels[:, 0]), 0, n_slices - 1)}):
        library.setdefault(k, series.dataset(k))
    source = library[int(round(voxels[0, 0]))] if in_one else None
    tracking = hd.sr.TrackingIdentifier(uid=m.uid, identifier=m.label or f"{m.kind} {number}")
    tool = [hd.sr.QualitativeEvaluation(name=DRAWING_TOOL_CODE, value=_tool_code(m.kind))]
    graphic = _graphic_item(hd, m, voxels, source, frame_uid)
    if m.is_roi:
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_region=graphic,
            measurements=_roi_values(hd, m),
            qualitative_evaluations=tool,
        )
    values = []
    if np.isfinite(m.value):
        values.append(
            hd.sr.Measurement(
                name=_LINE_CODES[m.kind],
                value=float(m.value),
                unit=_unit_code(m.unit),
                referenced_coordinates=[graphic],
            )
        )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, measurements=values, qualitative_evaluations=tool
    )


def _graphic_item(
    hd: Any, m: Measurement, voxels: np.ndarray, source: Dataset | None, frame_uid: str
) -> Any:
    """The measurement's outline as a content item: SCOORD on ``source``, else SCOORD3D.

    An ROI becomes an Image Region, a distance or an angle the Coordinates of its value.
    """
    graphic_type = _graphic_type(m, three_d=source is None)
    if source is not None:
        cls = hd.sr.ImageRegion if m.is_roi else hd.sr.CoordinatesForMeasurement
        return cls(
            graphic_type=graphic_type,
            graphic_data=_closed(voxels[:, [2, 1]] + _PIXEL_CENTRE, m),
            source_image=hd.sr.SourceImageForRegion.from_source_image(source),
        )
    cls = hd.sr.ImageRegion3D if m.is_roi else hd.sr.CoordinatesForMeasurement3D
    return cls(
        graphic_type=graphic_type,
        graphic_data=_closed(m.points, m),
        frame_of_reference_uid=frame_uid,
    )


def _roi_values(hd: Any, m: Measurement) -> list[Any]:
    """The ROI's statistics as TID 300 measurements (a zero-area ROI keeps its area only)."""
    values = []
    for key, code in _STAT_CODES.items():
        value = m.stats.get(key)
        if value is None or not np.isfinite(value):
            continue
        unit = {"area_mm2": "mm2", "n_pixels": ""}.get(key, m.unit)
        values.append(hd.sr.Measurement(name=code, value=float(value), unit=_unit_code(unit)))
    return values


def _report_document(
    hd: Any,
    groups: list[Any],
    library: dict[int, Dataset],
    series_description: str,
    series_number: int,
) -> Dataset:
    """The Comprehensive 3D SR holding the TID 1500 report of ``groups``."""
    images = [library[k] for k in sorted(library)]
    observer = hd.sr.ObserverContext(
        observer_type=_Codes.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=str(generate_uid()), name="dicom-widgets"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=Code("363679005", "SCT", "Imaging procedure"),
        imaging_measurements=groups,
        referenced_images=images,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=images,
        content=report[0],
        series_instance_uid=str(generate_uid()),
        series_number=series_number,
        sop_instance_uid=str(generate_uid()),
        instance_number=1,
        manufacturer="dicom-widgets",
        series_description=series_description,
        is_complete=True,
    )


# ------------------------------------------------------------------------------ reading
def _code_value(item: Dataset, keyword: str = "ConceptNameCodeSequence") -> str:
    sequence = item.get(keyword)
    return str(sequence[0].CodeValue) if sequence else ""


def _children(
    item: Dataset, code: str | None = None, value_type: str | None = None
) -> list[Dataset]:
    return [
        child
        for child in item.get("ContentSequence", [])
        if (code is None or _code_value(child) == code)
        and (value_type is None or child.get("ValueType") == value_type)
    ]


def _num(item: Dataset) -> tuple[float, str]:
    measured = item.MeasuredValueSequence[0]
    unit = _code_value(measured, "MeasurementUnitsCodeSequence")
    return float(measured.NumericValue), unit


def _unit_name(ucum: str) -> str:
    for name, code in _UNIT_CODES.items():
        if code.value == ucum:
            return name
    return ucum


class _ImageGeometry:
    """Position, orientation and spacing of the referenced images, by SOP Instance UID."""

    def __init__(self, root: Dataset, series: Series | None) -> None:
        self._library: dict[str, np.ndarray] = {}
        self.frames_of_reference: set[str] = set()
        for library in _children(root, _IMAGE_LIBRARY):
            for group in library.get("ContentSequence", []):
                shared = self._descriptors(group)
                for entry in _children(group, value_type="IMAGE"):
                    self._add(entry, {**shared, **self._descriptors(entry)})
        self._series = series
        self._series_index: dict[str, int] = {}
        if series is not None:
            for k in range(len(series)):
                self._series_index[series.frame_ref(k).sop_uid] = k

    def _descriptors(self, item: Dataset) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in item.get("ContentSequence", []):
            code = _code_value(child)
            if child.get("ValueType") == "NUM":
                out[code] = _num(child)[0]
            elif child.get("ValueType") == "UIDREF":
                out[code] = str(child.UID)
        return out

    def _add(self, entry: Dataset, found: dict[str, Any]) -> None:
        uid = str(entry.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        frame = found.get(_Codes.FrameOfReferenceUID.value)
        if frame:
            self.frames_of_reference.add(frame)
        names = [
            _Codes.ImagePositionPatientX,
            _Codes.ImagePositionPatientY,
            _Codes.ImagePositionPatientZ,
            _Codes.ImageOrientationPatientRowX,
            _Codes.ImageOrientationPatientRowY,
            _Codes.ImageOrientationPatientRowZ,
            _Codes.ImageOrientationPatientColumnX,
            _Codes.ImageOrientationPatientColumnY,
            _Codes.ImageOrientationPatientColumnZ,
            _Codes.HorizontalPixelSpacing,
            _Codes.VerticalPixelSpacing,
        ]
        values = [found.get(code.value) for code in names]
        if all(v is not None for v in values):
            self._library[uid] = np.asarray(values, dtype=float)

    def patient(self, sop_uid: str, image_points: np.ndarray) -> np.ndarray:
        """Patient mm of SCOORD (column, row) points on image ``sop_uid``."""
        cols = image_points[:, 0] - _PIXEL_CENTRE
        rows = image_points[:, 1] - _PIXEL_CENTRE
        if sop_uid in self._library:
            v = self._library[sop_uid]
            position, row_cos, col_cos = v[0:3], v[3:6], v[6:9]
            col_mm, row_mm = v[9], v[10]
            return position + np.outer(cols * col_mm, row_cos) + np.outer(rows * row_mm, col_cos)
        if self._series is not None and sop_uid in self._series_index:
            affine = self._series.affine()
            plane = plane_for("acquired", affine)
            k = self._series_index[sop_uid]
            return plane.patient(k, rows, cols, (len(self._series), 1, 1), affine)
        raise MeasurementError(
            f"the report places points on image {sop_uid}, whose geometry is neither in its "
            "image library nor in the series given"
        )


def _is_report(ds: Dataset) -> bool:
    templates = ds.get("ContentTemplateSequence") or []
    if templates and str(templates[0].get("TemplateIdentifier", "")) == _REPORT_TEMPLATE:
        return True
    return _code_value(ds) == _REPORT_TITLE and ds.get("ValueType") == "CONTAINER"


def _is_rectangle(points: np.ndarray) -> bool:
    if len(points) != 4:
        return False
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.linalg.norm(edges, axis=1)
    if np.any(lengths == 0):
        return False
    cosines = [
        abs(edges[i] @ edges[(i + 1) % 4]) / lengths[i] / lengths[(i + 1) % 4] for i in range(4)
    ]
    return max(cosines) < 1e-6


def _group_points(
    group: Dataset, geometry: _ImageGeometry
) -> tuple[str, np.ndarray, str, tuple[str, ...]]:
    """(graphic type, patient points, frame of reference, referenced SOP UIDs) of a group."""
    found = _children(group, _IMAGE_REGION)
    if not found:
        for num in _children(group, value_type="NUM"):
            found = [
                c
                for c in num.get("ContentSequence", [])
                if c.get("ValueType") in ("SCOORD", "SCOORD3D")
            ]
            if found:
                break
    if not found:
        raise MeasurementError("a measurement group has neither an image region nor coordinates")
    item = found[0]
    data = np.asarray(item.GraphicData, dtype=float)
    if item.ValueType == "SCOORD3D":
        return (
            str(item.GraphicType),
            data.reshape(-1, 3),
            str(item.ReferencedFrameOfReferenceUID),
            (),
        )
    images = _children(item, value_type="IMAGE")
    if not images:
        raise MeasurementError("an image-region coordinate references no image")
    uid = str(images[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    return str(item.GraphicType), geometry.patient(uid, data.reshape(-1, 2)), "", (uid,)


def _read_group(group: Dataset, geometry: _ImageGeometry) -> Measurement:
    label = ""
    uid = ""
    for child in group.get("ContentSequence", []):
        code = _code_value(child)
        if code == _TRACKING_ID and child.get("ValueType") == "TEXT":
            label = str(child.TextValue)
        elif code == _TRACKING_UID and child.get("ValueType") == "UIDREF":
            uid = str(child.UID)
    graphic_type, points, frame_uid, references = _group_points(group, geometry)
    closed = len(points) > 3 and np.allclose(points[0], points[-1])
    if graphic_type in ("POLYGON", "POLYLINE") and closed:
        points = points[:-1]
    numbers = {_code_value(num): _num(num) for num in _children(group, value_type="NUM")}
    line = {code.value: kind for kind, code in _LINE_CODES.items()}
    kind = next((line[c] for c in numbers if c in line), "")
    stats: dict[str, float] = {}
    unit = ""
    reason = ""
    tools = [
        _code_value(c, "ConceptCodeSequence")
        for c in _children(group, DRAWING_TOOL_CODE.value, "CODE")
    ]
    drawn_with = next((k for k in KINDS if tools and tools[0] == _tool_code(k).value), "")
    if _children(group, _IMAGE_REGION):
        kind = drawn_with or {"ELLIPSE": "ellipse"}.get(graphic_type, "polygon")
        if kind == "polygon" and not drawn_with and _is_rectangle(points):
            kind = "rectangle"
        for key, code in _STAT_CODES.items():
            if code.value in numbers:
                stats[key] = numbers[code.value][0]
            else:
                stats[key] = float("nan")
        stats["n_pixels"] = int(stats["n_pixels"]) if np.isfinite(stats["n_pixels"]) else 0
        unit = _unit_name(numbers.get(_Codes.Mean.value, (0.0, ""))[1])
        value = stats["mean"]
        if not np.isfinite(value):
            reason = f"the {kind} has zero area" if stats.get("area_mm2") == 0 else "no statistics"
    elif kind:
        value, ucum = numbers[_LINE_CODES[kind].value]
        unit = _unit_name(ucum)
    else:
        kind = "distance" if graphic_type == "POLYLINE" and len(points) == 2 else "angle"
        value, unit = float("nan"), "mm" if kind == "distance" else "deg"
        reason = "the report holds no value for it"
    return Measurement(
        kind=kind,
        points=points,
        value=value,
        unit=unit,
        label=label,
        stats=stats,
        frame_of_reference_uid=frame_uid,
        referenced_sop_instance_uids=references,
        reason=reason,
        uid=uid or str(generate_uid()),
    )


def _place_on_series(m: Measurement, series: Series) -> None:
    """Set the plane, index and images of a loaded measurement from the series' geometry."""
    affine = series.affine()
    first = series.frame_ref(0)
    shape = (len(series), first.rows, first.cols)
    for view in PLANE_VIEWS:
        plane = plane_for(view, affine)
        placement = m.on_plane(plane, shape, affine)
        if placement is not None:
            m.plane, m.index = plane, placement.index
            break
    if not m.referenced_sop_instance_uids:
        slices = np.round(patient_to_voxels(m.points, affine)[:, 0])
        slices = sorted({int(k) for k in np.clip(slices, 0, len(series) - 1)})
        m.referenced_sop_instance_uids = tuple(series.frame_ref(k).sop_uid for k in slices)


def load_measurements(
    path: str | os.PathLike[str], series: Series | None = None
) -> list[Measurement]:
    """Read the measurements of a TID 1500 Measurement Report.

    Parsing uses pydicom only, so it works on pydicom 2.4 without highdicom. Reports
    written by other software (OHIF, highdicom) load too, as far as they hold distances,
    angles and planar ROIs.

    Parameters
    ----------
    path
        The SR file.
    series
        The series to show them on: the report must be in its Frame of Reference, and each
        measurement gets the plane and plane index it lies on.

    Returns
    -------
    list of Measurement
        In the report's order; points in patient mm.

    Raises
    ------
    DicomReadError
        When the file cannot be read or is not a TID 1500 Measurement Report.
    MeasurementError
        When the report is in another Frame of Reference than ``series``.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> dw.load_measurements("report.dcm", series)  # doctest: +SKIP
    [<Measurement distance 'd1': 42.3 mm on acquired plane 12>]
    """
    try:
        ds = pydicom.dcmread(os.fspath(path))
    except Exception as exc:  # noqa: BLE001 - any reader failure is "not readable"
        raise DicomReadError(path, f"cannot be read as DICOM: {type(exc).__name__}: {exc}") from exc
    if not _is_report(ds):
        templates = ds.get("ContentTemplateSequence") or []
        template = str(templates[0].get("TemplateIdentifier", "")) if templates else "none"
        what = (
            f"a {ds.get('Modality', 'non-SR')} object" if "ContentSequence" not in ds else "an SR"
        )
        raise DicomReadError(
            path,
            f"not a TID 1500 Measurement Report: it is {what} with template {template} "
            f"and title {_code_value(ds) or 'none'} (expected template 1500, title 126000)",
        )
    geometry = _ImageGeometry(ds, series)
    measurements = []
    for container in _children(ds, _IMAGING_MEASUREMENTS):
        for group in _children(container, _MEASUREMENT_GROUP):
            try:
                measurements.append(_read_group(group, geometry))
            except MeasurementError as exc:
                raise MeasurementError(f"{os.fspath(path)}: {exc}") from exc
    frames = geometry.frames_of_reference | {
        m.frame_of_reference_uid for m in measurements if m.frame_of_reference_uid
    }
    if ds.get("FrameOfReferenceUID"):
        frames.add(str(ds.FrameOfReferenceUID))
    if series is not None:
        series_frame = _series_frame_of_reference(series)
        other = sorted(f for f in frames if f != series_frame)
        if other:
            raise MeasurementError(
                f"{os.fspath(path)}: the measurements are in Frame of Reference "
                f"{', '.join(other)}, the series {series.key} in {series_frame or 'none'}; "
                "refused (they would land in the wrong place)"
            )
        for m in measurements:
            m.frame_of_reference_uid = series_frame
            _place_on_series(m, series)
    elif len(frames) == 1:
        for m in measurements:
            m.frame_of_reference_uid = m.frame_of_reference_uid or next(iter(frames))
    return measurements
