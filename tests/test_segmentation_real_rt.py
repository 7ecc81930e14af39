"""A real RTSTRUCT from another registry package, on the geometry of its own CT.

dicompyler-core's source distribution (PyPI, ``dicompyler-core==0.5.6``) ships, in
``tests/testdata/example_data``, a breast-case RTSTRUCT (``rtss.dcm``: 10 ROIs, 441
CLOSED_PLANAR contours on 98 planes, each with a Contour Image Sequence) and ONE slice of
the CT it was drawn on (``ct.0.dcm``, 512x512, 1.07 mm pixels, the plane z = 168.56 mm).
No registry package found ships a whole CT with its RTSTRUCT (see the report of issue 15).

Two series are tested:

- the real CT slice alone: the BODY contour on its plane is rasterised there, and every
  other contour is reported as lying outside the series (true findings, none false);
- the CT geometry rebuilt at the 98 planes the RTSTRUCT references: the shipped slice's
  header and pixels, with the referenced SOP Instance UID and the contour plane's z of
  each referenced image. Rasterisation depends on geometry only, so every ROI's mask
  is compared there with a pixel-centre point-in-polygon reference.

The wheel of dicompyler-core does not carry the test data, so ``make unit`` fetches the
source distribution into the test cache (``scripts/fetch_test_data.py``, hash pinned);
without it the tests skip and say how to get it, and fail under ``CI=true``.
"""

from __future__ import annotations

import copy
import html
from pathlib import Path

import numpy as np
import pytest
from registry_data import registry_member
from segmentation_fixtures import dice, reference_mask

import dicom_widgets as dw
from dicom_widgets import _compat

pytestmark = pytest.mark.slow  # about 20 s: 98 slices of 512x512, 10 ROIs

SDIST = "dicompyler-core-0.5.6.tar.gz"
MEMBERS = {"ct.0.dcm", "rtss.dcm"}
EXAMPLE = "dicompyler-core-0.5.6/tests/testdata/example_data/"


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict[str, Path]:
    """``ct.0.dcm`` and ``rtss.dcm`` from dicompyler-core's source distribution."""
    folder = tmp_path_factory.mktemp("dicompyler")
    return {name: registry_member(SDIST, EXAMPLE + name, folder) for name in MEMBERS}


@pytest.fixture(scope="module")
def rtss(example):
    return _compat.read_dataset(example["rtss.dcm"])


@pytest.fixture(scope="module")
def rebuilt(example, rtss):
    """The CT geometry at every plane the RTSTRUCT references, from the shipped slice."""
    ct = _compat.read_dataset(example["ct.0.dcm"])
    plane_of: dict[str, float] = {}
    for roi in rtss.ROIContourSequence:
        for contour in getattr(roi, "ContourSequence", []):
            for image in getattr(contour, "ContourImageSequence", []):
                plane_of[image.ReferencedSOPInstanceUID] = float(contour.ContourData[2])
    slices = []
    for number, (uid, z) in enumerate(sorted(plane_of.items(), key=lambda kv: kv[1]), 1):
        ds = copy.deepcopy(ct)
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = number
        ds.ImagePositionPatient = [ct.ImagePositionPatient[0], ct.ImagePositionPatient[1], z]
        ds.SliceLocation = z
        slices.append(ds)
    assert ct.SOPInstanceUID in plane_of  # the shipped slice is one of them
    return dw.load_series(slices, progress=False)


@pytest.fixture(scope="module")
def seg(rtss, rebuilt):
    return dw.load_segmentation(rtss, rebuilt)


def _reference(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """:func:`reference_mask` computed over the polygons' bounding box only (same pixels)."""
    out = np.zeros(shape, bool)
    points = np.concatenate(polygons)
    r0, c0 = np.maximum(np.floor(points.min(axis=0)).astype(int), 0)
    r1, c1 = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 1, shape)
    if r1 > r0 and c1 > c0:
        box = reference_mask([p - (r0, c0) for p in polygons], (r1 - r0, c1 - c0))
        out[r0:r1, c0:c1] = box
    return out


def _polygons_rc(rtss, number: int, series, index: int) -> list[np.ndarray]:
    """ROI ``number``'s contours on slice ``index`` as (row, col) pixel coordinates."""
    ref = series.frame_ref(index)
    origin, spacing = ref.position, ref.pixel_spacing
    out = []
    for roi in rtss.ROIContourSequence:
        if int(roi.ReferencedROINumber) != number:
            continue
        for contour in getattr(roi, "ContourSequence", []):
            points = np.array([float(v) for v in contour.ContourData]).reshape(-1, 3)
            if abs(points[0, 2] - origin[2]) > 0.01:
                continue
            # Identity orientation (checked below): x runs along columns, y along rows.
            out.append(
                np.stack(
                    [
                        (points[:, 1] - origin[1]) / spacing[0],
                        (points[:, 0] - origin[0]) / spacing[1],
                    ],
                    axis=1,
                )
            )
    return out


def test_every_roi_agrees_with_a_point_in_polygon_reference(rtss, rebuilt, seg):
    assert np.allclose(rebuilt.frame_ref(0).orientation, [1, 0, 0, 0, 1, 0], atol=1e-6)
    assert len(seg.segments) == 10
    voxel_ml = float(np.prod(rebuilt.spacing)) / 1000.0
    table = seg.to_dataframe().set_index("number")
    checked = 0
    for segment in seg.segments:
        mask = seg.mask(segment.number)
        reference = np.zeros(rebuilt.shape, bool)
        for index in range(len(rebuilt)):
            polygons = _polygons_rc(rtss, segment.number, rebuilt, index)
            if polygons:
                reference[index] = _reference(polygons, rebuilt.shape[1:])
        if not reference.any():
            assert segment.label == "Areola" and not mask.any()  # the ROI without contours
            continue
        score = dice(mask, reference)
        assert score >= 0.97, (segment.label, score)
        volume = float(table.loc[segment.number, "volume_ml"])
        assert abs(volume - reference.sum() * voxel_ml) <= 0.03 * reference.sum() * voxel_ml
        checked += 1
    assert checked == 9


def test_geometry_checks_report_only_what_is_true(seg):
    # On its own CT geometry, the one finding is the ROI that has no contour at all.
    assert [(f.code, f.severity) for f in seg.findings] == [("empty-segment", "info")]
    assert "Areola" in str(seg.findings[0])


def test_on_the_shipped_slice_alone_other_planes_are_reported_not_drawn(example, rtss):
    series = dw.load_series([example["ct.0.dcm"]], progress=False)
    seg = dw.load_segmentation(rtss, series)
    codes = {f.code for f in seg.findings}
    assert codes == {"outside", "empty-segment"}, [str(f) for f in seg.findings]
    outside = next(f for f in seg.findings if f.code == "outside")
    assert "437 contour(s)" in str(outside)  # 441 contours, 4 of them on this plane
    body = seg.mask("BODY")[0]
    reference = _reference(_polygons_rc(rtss, 1, series, 0), series.shape[1:])
    assert reference.any() and dice(body, reference) >= 0.97
    assert not any(seg.mask(s.number).any() for s in seg.segments if s.label != "BODY")


def test_roi_names_reach_html_escaped(example, rtss, seg):
    page = seg._repr_html_()
    for segment in seg.segments:
        assert html.escape(segment.label) in page
    # A name with markup (the same file, one ROI renamed) stays text.
    marked = copy.deepcopy(rtss)
    marked.StructureSetROISequence[4].ROIName = "Heart <img src=x onerror=alert(1)>"
    one_slice = dw.load_series([example["ct.0.dcm"]], progress=False)
    page = dw.load_segmentation(marked, one_slice)._repr_html_()
    assert "<img" not in page and "Heart &lt;img src=x onerror=alert(1)&gt;" in page
