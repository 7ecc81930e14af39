"""Builders of SEG and RTSTRUCT datasets over real-looking CT series, for the tests.

highdicom writes SEGs in the tests that can import it; these pydicom-only builders let
the same placement rules be tested on pydicom 2.4, and make the broken files highdicom
refuses to write (truncated pixel data, absent references, frames off every plane).
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from dicom_widgets.data import ct_phantom

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
RT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


def non_square_ct(n_slices: int = 6, rows: int = 40, cols: int = 52, *, spacing: float = 2.0):
    """CT phantom slices cropped to rows x cols (non-square), in slice order."""
    size = max(rows, cols)
    out = []
    for ds in ct_phantom(n_slices=n_slices, size=size, pixel_spacing=spacing):
        arr = ds.pixel_array[:rows, :cols].copy()
        ds.Rows, ds.Columns = rows, cols
        ds.PixelData = arr.tobytes()
        out.append(ds)
    return out


def _item(**values) -> Dataset:
    ds = Dataset()
    for key, value in values.items():
        setattr(ds, key, value)
    return ds


def _geometry(ct: list[Dataset]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ori = np.array([float(v) for v in ct[0].ImageOrientationPatient])
    pos = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in ct])
    return ori, pos, np.array([float(v) for v in ct[0].PixelSpacing])


def build_seg(
    ct: list[Dataset],
    frames: list[tuple[int | None, int, np.ndarray]],
    *,
    segment_numbers: list[int] | None = None,
    labels: dict[int, str] | None = None,
    kind: str = "BINARY",
    max_fractional: int = 255,
    frame_of_reference: str | None = None,
    references: bool = True,
    absent_reference: set[int] | None = None,
    position_offset: dict[int, float] | None = None,
    truncate_bytes: int = 0,
) -> Dataset:
    """A SEG over ``ct`` with ``frames`` = [(segment number, slice index, 2-D array)], in that order.

    ``kind`` is BINARY (bool masks, packed 1 bit), FRACTIONAL (uint8 0..max_fractional) or
    LABELMAP (uint8 segment numbers; the segment number of a frame is ignored).
    """
    ori, pos, spacing = _geometry(ct)
    numbers = segment_numbers or sorted({n for n, _, _ in frames if n is not None})
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = LABELMAP_CLASS if kind == "LABELMAP" else SEG_CLASS
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "SEG"
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = ct[0].StudyInstanceUID
    ds.FrameOfReferenceUID = frame_of_reference or ct[0].FrameOfReferenceUID
    ds.SegmentationType = "LABELMAP" if kind == "LABELMAP" else kind
    if kind == "FRACTIONAL":
        ds.SegmentationFractionalType = "PROBABILITY"
        ds.MaximumFractionalValue = max_fractional
    ds.Rows, ds.Columns = int(ct[0].Rows), int(ct[0].Columns)
    ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 1 if kind == "BINARY" else 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.ReferencedSeriesSequence = Sequence(
        [_item(SeriesInstanceUID=ct[0].SeriesInstanceUID, ReferencedInstanceSequence=Sequence([]))]
    )
    ds.SegmentSequence = Sequence(
        [
            _item(
                SegmentNumber=n,
                SegmentLabel=(labels or {}).get(n, f"seg {n}"),
                SegmentAlgorithmType="MANUAL",
                RecommendedDisplayCIELabValue=[(30000 + 300 * n) % 65536, 40000, 20000],
                SegmentedPropertyCategoryCodeSequence=Sequence(
                    [
                        _item(
                            CodeValue="85756007", CodingSchemeDesignator="SCT", CodeMeaning="Tissue"
                        )
                    ]
                ),
                SegmentedPropertyTypeCodeSequence=Sequence(
                    [
                        _item(
                            CodeValue="85756007", CodingSchemeDesignator="SCT", CodeMeaning="Tissue"
                        )
                    ]
                ),
            )
            for n in numbers
        ]
    )
    ds.SharedFunctionalGroupsSequence = Sequence(
        [
            _item(
                PlaneOrientationSequence=Sequence(
                    [_item(ImageOrientationPatient=[f"{v:g}" for v in ori])]
                ),
                PixelMeasuresSequence=Sequence(
                    [
                        _item(
                            PixelSpacing=[f"{v:g}" for v in spacing],
                            SliceThickness=ct[0].SliceThickness,
                        )
                    ]
                ),
            )
        ]
    )
    per_frame = []
    for f, (number, k, _arr) in enumerate(frames):
        position = pos[k].copy()
        if position_offset and f in position_offset:
            position[2] += position_offset[f]
        item = _item(
            PlanePositionSequence=Sequence(
                [_item(ImagePositionPatient=[f"{v:.6g}" for v in position])]
            ),
        )
        if kind != "LABELMAP":
            item.SegmentIdentificationSequence = Sequence([_item(ReferencedSegmentNumber=number)])
        if references:
            uid = (
                generate_uid()
                if absent_reference and f in absent_reference
                else ct[k].SOPInstanceUID
            )
            item.DerivationImageSequence = Sequence(
                [
                    _item(
                        SourceImageSequence=Sequence(
                            [
                                _item(
                                    ReferencedSOPClassUID=ct[k].SOPClassUID,
                                    ReferencedSOPInstanceUID=uid,
                                )
                            ]
                        )
                    )
                ]
            )
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    stack = np.stack([a for _, _, a in frames]) if frames else np.zeros((0, ds.Rows, ds.Columns))
    if kind == "BINARY":
        data = np.packbits(stack.astype(bool).ravel(), bitorder="little").tobytes()
    else:
        data = stack.astype(np.uint8).tobytes()
    if truncate_bytes:
        data = data[:-truncate_bytes]
    if len(data) % 2:
        data += b"\0"
    ds.PixelData = data
    ds["PixelData"].VR = "OB" if kind == "BINARY" else "OW"
    return ds


def build_rtstruct(
    ct: list[Dataset],
    rois: dict[int, tuple[str, list[tuple[str, np.ndarray]]]],
    *,
    frame_of_reference: str | None = None,
    contour_images: bool = True,
    colors: dict[int, tuple[int, int, int]] | None = None,
) -> Dataset:
    """An RTSTRUCT over ``ct``: ``rois`` = {number: (name, [(geometric type, (N, 3) mm points)])}."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = RT_CLASS
    ds.SOPClassUID = RT_CLASS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyInstanceUID = ct[0].StudyInstanceUID
    for_uid = frame_of_reference or ct[0].FrameOfReferenceUID
    ds.ReferencedFrameOfReferenceSequence = Sequence(
        [
            _item(
                FrameOfReferenceUID=for_uid,
                RTReferencedStudySequence=Sequence(
                    [
                        _item(
                            ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
                            ReferencedSOPInstanceUID=ct[0].StudyInstanceUID,
                            RTReferencedSeriesSequence=Sequence(
                                [_item(SeriesInstanceUID=ct[0].SeriesInstanceUID)]
                            ),
                        )
                    ]
                ),
            )
        ]
    )
    z_of = {round(float(d.ImagePositionPatient[2]), 3): d for d in ct}
    ds.StructureSetROISequence = Sequence(
        [
            _item(
                ROINumber=n,
                ReferencedFrameOfReferenceUID=for_uid,
                ROIName=name,
                ROIGenerationAlgorithm="MANUAL",
            )
            for n, (name, _) in rois.items()
        ]
    )
    contours = []
    for n, (_, items) in rois.items():
        seq = []
        for c_index, (kind, pts) in enumerate(items):
            item = _item(
                ContourGeometricType=kind,
                NumberOfContourPoints=len(pts),
                ContourNumber=c_index + 1,
                ContourData=[f"{v:.6g}" for v in np.asarray(pts, float).ravel()],
            )
            image = z_of.get(round(float(pts[0][2]), 3))
            if contour_images and image is not None:
                item.ContourImageSequence = Sequence(
                    [
                        _item(
                            ReferencedSOPClassUID=image.SOPClassUID,
                            ReferencedSOPInstanceUID=image.SOPInstanceUID,
                        )
                    ]
                )
            seq.append(item)
        contours.append(
            _item(
                ReferencedROINumber=n,
                ROIDisplayColor=list((colors or {}).get(n, (255, 0, 0))),
                ContourSequence=Sequence(seq),
            )
        )
    ds.ROIContourSequence = Sequence(contours)
    ds.RTROIObservationsSequence = Sequence(
        [
            _item(ObservationNumber=n, ReferencedROINumber=n, RTROIInterpretedType="ORGAN")
            for n in rois
        ]
    )
    return ds


def reference_mask(polygons_rc: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Pixel-centre point-in-polygon (matplotlib's Path), even-odd across polygons."""
    from matplotlib.path import Path

    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    centres = np.stack([rr.ravel(), cc.ravel()], axis=1).astype(float)
    out = np.zeros(shape, bool)
    for poly in polygons_rc:
        out ^= Path(poly).contains_points(centres).reshape(shape)
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total
