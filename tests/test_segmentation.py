"""Segmentations placed by geometry: DICOM SEG, RTSTRUCT, NIfTI and numpy (pydicom only).

Runs on pydicom 2.4 and 3.x. SEGs come from pydicom's and pydicom-data's real files
and from a pydicom-only builder (tests/segmentation_fixtures.py) that also makes the
broken files; highdicom-written SEGs are tested in test_segmentation_highdicom.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from segmentation_fixtures import (
    build_rtstruct,
    build_seg,
    dice,
    non_square_ct,
    reference_mask,
)

import dicom_widgets as dw
from dicom_widgets import _compat
from dicom_widgets.data import ct_phantom, pydicom_file, write_series
from dicom_widgets.errors import (
    DicomReadError,
    GeometryError,
    MissingDependencyError,
    SeriesSelectionError,
)
from dicom_widgets.segmentation import cielab_to_rgb, rasterize_polygons


def _write(ds, path):
    _compat.write_dataset(ds, path)
    return path


@pytest.fixture()
def ct():
    return non_square_ct(n_slices=6, rows=40, cols=52)


@pytest.fixture()
def ct_series(ct):
    return dw.load_series(ct, progress=False)


def _box(shape, r0, r1, c0, c1):
    out = np.zeros(shape, bool)
    out[r0:r1, c0:c1] = True
    return out


# ------------------------------------------------------------------ real SEG files
@pytest.mark.parametrize("name", ["liver.dcm", "liver_1frame.dcm"])
def test_real_seg_frames_sit_at_their_plane_position(name):
    path = get_testdata_file(name)
    seg = dw.load_segmentation(path)
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)  # pydicom's own unpacking
    assert [s.label for s in seg.segments] == ["Liver"]
    liver = seg.segments[0]
    assert liver.kind == "BINARY" and liver.category == "Tissue" and liver.property_type == "Liver"
    assert liver.color == cielab_to_rgb(ds.SegmentSequence[0].RecommendedDisplayCIELabValue)
    assert {f.code for f in seg.findings} == {"own-grid"}
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence[: len(frames)]):
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        k, r, c = seg.grid.slice_of_point(position)
        assert abs(r) < 1e-6 and abs(c) < 1e-6
        np.testing.assert_array_equal(seg.slice_mask("Liver", round(k)), frames[f].astype(bool))
    assert int(seg.mask(1).sum()) == int(frames.astype(bool).sum())


def test_real_seg_dataframe_volume():
    seg = dw.load_segmentation(pydicom_file("seg"))
    row = seg.to_dataframe().iloc[0]
    voxel_ml = 0.810547**2 * 1.0 / 1000  # PixelSpacing x SpacingBetweenSlices of the file
    assert row["voxels"] == int(seg.mask(1).sum())
    assert row["volume_ml"] == pytest.approx(row["voxels"] * voxel_ml, rel=1e-4)
    assert np.isnan(row["mean"])  # no CT ships with it: no values to average


# ------------------------------------------------------------------ BINARY placement
def test_binary_frames_crossing_bytes_shuffled_sparse_overlapping(tmp_path, ct, ct_series):
    shape = (40, 52)
    rng = np.random.default_rng(4)
    truth = {n: np.zeros((6, *shape), bool) for n in (1, 2, 3)}
    frames = []
    for n, slices in {1: [1, 2, 3], 2: [2, 4], 3: [0, 5]}.items():
        for k in slices:
            mask = rng.random(shape) < 0.3
            truth[n][k] = mask
            frames.append((n, k, mask))
    order = rng.permutation(len(frames))
    frames = [frames[i] for i in order]  # any frame order; 40*52 bits do not end on bytes? they do
    # An odd frame size makes every frame after the first start inside a byte.
    ct_odd = non_square_ct(n_slices=6, rows=37, cols=51)
    series_odd = dw.load_series(ct_odd, progress=False)
    truth_odd = {n: np.zeros((6, 37, 51), bool) for n in (1, 2, 3)}
    frames_odd = []
    for n, k, _ in frames:
        mask = rng.random((37, 51)) < 0.4
        truth_odd[n][k] = mask
        frames_odd.append((n, k, mask))
    path = _write(
        build_seg(ct_odd, frames_odd, labels={1: "a", 2: "b", 3: "c"}), tmp_path / "seg.dcm"
    )
    seg = dw.load_segmentation(path, series_odd)
    assert seg.findings == []
    for n in (1, 2, 3):
        np.testing.assert_array_equal(seg.mask(n), truth_odd[n])
        assert seg.slices(n) == sorted(np.flatnonzero(truth_odd[n].any(axis=(1, 2))).tolist())
    # overlaps: the later segment wins in the label volume, and the overlap is reported
    shared = int((truth_odd[1] & truth_odd[2]).sum())  # 1 and 2 share slice 2 only
    assert shared > 0
    labels = seg.label_volume()
    assert labels.dtype == np.uint8
    assert np.all(labels[truth_odd[3]] == 3)
    assert np.all(labels[truth_odd[1] & truth_odd[2]] == 2)
    assert seg.mask("b").shape == series_odd.shape
    assert seg.overlaps() == [(1, 2, shared)]
    (overlap,) = seg.findings
    assert overlap.code == "overlap" and overlap.severity == "warning"
    assert f"1 'a' and 2 'b': {shared} voxel(s)" in overlap.message
    # Asked alone, without the label volume: the same answer, reported once.
    fresh = dw.load_segmentation(path, series_odd)
    assert fresh.overlaps() == [(1, 2, shared)] and fresh.overlaps() == [(1, 2, shared)]
    assert [f.code for f in fresh.findings] == ["overlap"]


def test_series_given_as_folder_and_shuffled_files(tmp_path, ct):
    folder = tmp_path / "ct"
    write_series(ct, folder, shuffle=True, seed=9)
    mask = _box((40, 52), 5, 20, 10, 40)
    path = _write(build_seg(ct, [(1, 3, mask)]), tmp_path / "seg.dcm")
    seg = dw.load_segmentation(path, folder)
    np.testing.assert_array_equal(seg.slice_mask(1, 3), mask)
    assert seg.series.frame_ref(3).sop_uid == ct[3].SOPInstanceUID


def test_segment_numbers_not_one_to_n_and_empty_segment(tmp_path, ct, ct_series):
    mask = _box((40, 52), 1, 5, 1, 5)
    ds = build_seg(ct, [(7, 2, mask), (3, 1, mask)], segment_numbers=[3, 7, 9])
    seg = dw.load_segmentation(_write(ds, tmp_path / "s.dcm"), ct_series)
    codes = {f.code: f for f in seg.findings}
    assert "segment-numbers" in codes and "[3, 7, 9]" in codes["segment-numbers"].message
    assert "empty-segment" in codes and "9" in codes["empty-segment"].message
    assert seg.slices(7) == [2] and seg.slices(9) == [] and not seg.mask(9).any()
    assert seg.to_dataframe().set_index("number").loc[9, "voxels"] == 0


def test_truncated_pixel_data_keeps_the_complete_frames(tmp_path, ct, ct_series):
    masks = [_box((40, 52), i, i + 5, 3, 30) for i in range(4)]
    ds = build_seg(ct, [(1, k, m) for k, m in enumerate(masks)], truncate_bytes=100)
    seg = dw.load_segmentation(_write(ds, tmp_path / "t.dcm"), ct_series)
    (finding,) = [f for f in seg.findings if f.code == "truncated"]
    assert finding.severity == "error" and "frames 4..4" in finding.message
    assert str(tmp_path / "t.dcm") in finding.paths
    for k in range(3):
        np.testing.assert_array_equal(seg.slice_mask(1, k), masks[k])
    assert not seg.slice_mask(1, 3).any()


def test_truncated_file_on_disk(tmp_path, ct, ct_series):
    masks = [_box((40, 52), i, i + 5, 3, 30) for i in range(4)]
    path = _write(build_seg(ct, [(1, k, m) for k, m in enumerate(masks)]), tmp_path / "cut.dcm")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 400])
    seg = dw.load_segmentation(path, ct_series)
    assert "truncated" in {f.code for f in seg.findings}
    np.testing.assert_array_equal(seg.slice_mask(1, 0), masks[0])


def test_absent_references_and_reference_mismatch(tmp_path, ct, ct_series):
    mask = _box((40, 52), 2, 9, 2, 9)
    ds = build_seg(ct, [(1, 1, mask), (1, 2, mask)], absent_reference={0})
    # frame 2 claims the image of slice 4 but lies at slice 2
    ds.PerFrameFunctionalGroupsSequence[1].DerivationImageSequence[0].SourceImageSequence[
        0
    ].ReferencedSOPInstanceUID = ct[4].SOPInstanceUID
    seg = dw.load_segmentation(_write(ds, tmp_path / "r.dcm"), ct_series)
    codes = {f.code: f for f in seg.findings}
    assert "frame 1" in codes["absent-reference"].message
    assert "slice 2" in codes["reference-mismatch"].message
    assert seg.slices(1) == [1, 2]  # both placed by geometry


def test_placed_by_reference_without_positions(tmp_path, ct, ct_series):
    mask = _box((40, 52), 2, 9, 2, 9)
    ds = build_seg(ct, [(1, 4, mask)])
    del ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence
    seg = dw.load_segmentation(_write(ds, tmp_path / "p.dcm"), ct_series)
    np.testing.assert_array_equal(seg.slice_mask(1, 4), mask)


def test_frame_off_every_plane_is_not_drawn(tmp_path, ct, ct_series):
    mask = _box((40, 52), 2, 9, 2, 9)
    ds = build_seg(ct, [(1, 1, mask), (1, 2, mask)], position_offset={1: 1.7}, references=False)
    seg = dw.load_segmentation(_write(ds, tmp_path / "o.dcm"), ct_series)
    (finding,) = [f for f in seg.findings if f.code == "off-plane"]
    assert "frame 2" in finding.message and "1.70 mm" in finding.message
    assert seg.slices(1) == [1]


def test_other_frame_of_reference_is_refused_or_left_undrawn(tmp_path, ct, ct_series):
    mask = _box((40, 52), 2, 9, 2, 9)
    path = _write(build_seg(ct, [(1, 1, mask)], frame_of_reference="1.2.3.4"), tmp_path / "f.dcm")
    with pytest.raises(GeometryError, match="Frame of Reference 1.2.3.4"):
        dw.load_segmentation(path, ct_series)
    seg = dw.load_segmentation(path, ct_series, strict=False)
    assert [f.code for f in seg.findings] == ["frame-of-reference"]
    assert not seg.label_volume().any() and seg.segments[0].number == 1


def test_fractional_and_labelmap(tmp_path, ct, ct_series):
    rng = np.random.default_rng(1)
    prob = (rng.random((40, 52)) * 200).astype(np.uint8)
    ds = build_seg(ct, [(1, 2, prob)], kind="FRACTIONAL", max_fractional=200)
    seg = dw.load_segmentation(_write(ds, tmp_path / "fr.dcm"), ct_series)
    assert seg.fractional and seg.segments[0].kind == "FRACTIONAL"
    np.testing.assert_allclose(seg.probabilities(1)[2], prob / 200.0, atol=1e-6)
    np.testing.assert_array_equal(seg.mask(1)[2], prob >= 100)
    labels = np.zeros((40, 52), np.uint8)
    labels[3:10, 3:10] = 1
    labels[20:30, 5:45] = 2
    lm = build_seg(
        ct, [(None, 4, labels), (None, 1, labels[::-1])], kind="LABELMAP", segment_numbers=[1, 2]
    )
    seg = dw.load_segmentation(_write(lm, tmp_path / "lm.dcm"), ct_series)
    assert [s.kind for s in seg.segments] == ["LABELMAP", "LABELMAP"]
    volume = seg.label_volume()
    np.testing.assert_array_equal(volume[4], labels)
    np.testing.assert_array_equal(volume[1], labels[::-1])
    np.testing.assert_array_equal(seg.mask(2)[4], labels == 2)


def test_many_segments_decode_one_slice_at_a_time(tmp_path, ct, ct_series):
    frames = []
    for n in range(1, 121):
        k = n % 6
        mask = np.zeros((40, 52), bool)
        mask[n % 40, (n * 7) % 52] = True
        frames.append((n, k, mask))
    seg = dw.load_segmentation(_write(build_seg(ct, frames), tmp_path / "many.dcm"), ct_series)
    assert len(seg.segments) == 120 and seg.findings == []
    labels = seg.slice_labels(3)
    expected = [n for n in range(1, 121) if n % 6 == 3]
    assert sorted(np.unique(labels[labels > 0]).tolist()) == expected
    assert seg.label_volume().sum() == sum(range(1, 121))


def test_not_a_segmentation_is_a_clear_error(ct_series, tmp_path):
    with pytest.raises(DicomReadError, match="not a SEG or an RTSTRUCT"):
        dw.load_segmentation(pydicom_file("ct_small"), ct_series)
    with pytest.raises(DicomReadError, match="no such file"):
        dw.load_segmentation(tmp_path / "nope.dcm", ct_series)


# ------------------------------------------------------------------ RTSTRUCT
def _ring(center, radius, z, n=40):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack(
        [center[0] + radius * np.cos(t), center[1] + radius * np.sin(t), np.full(n, z)], 1
    )


def _z(ct, k):
    return float(ct[k].ImagePositionPatient[2])


def _rc(series, pts):
    from dicom_widgets.view.planes import patient_to_voxels

    return patient_to_voxels(pts, series.affine())[:, 1:]


@pytest.mark.parametrize("contour_images", [True, False])
def test_rtstruct_closed_contours_with_holes_match_point_in_polygon(
    tmp_path, ct, ct_series, contour_images
):
    outer = [_ring((-20, -10), 22, _z(ct, k)) for k in (1, 2, 3)]
    hole = _ring((-20, -10), 8, _z(ct, 2))
    rois = {
        4: ("Body <script>", [("CLOSED_PLANAR", p) for p in outer] + [("CLOSED_PLANAR", hole)]),
        9: ("Tumour", [("CLOSED_PLANAR", _ring((10, 5), 9.5, _z(ct, 4)))]),
    }
    ds = build_rtstruct(ct, rois, contour_images=contour_images, colors={4: (10, 200, 30)})
    seg = dw.load_segmentation(_write(ds, tmp_path / "rt.dcm"), ct_series)
    assert seg.findings == []
    assert [s.number for s in seg.segments] == [4, 9] and seg.segments[0].color == (10, 200, 30)
    assert seg.segments[0].kind == "CLOSED_PLANAR" and seg.segments[0].property_type == "ORGAN"
    shape = ct_series.shape[1:]
    for k in (1, 2, 3):
        polys = [_rc(ct_series, outer[k - 1])] + ([_rc(ct_series, hole)] if k == 2 else [])
        ref = reference_mask(polys, shape)
        got = seg.slice_mask(4, k)
        assert dice(got, ref) >= 0.97
        assert abs(int(got.sum()) - int(ref.sum())) <= 0.03 * ref.sum()
    centre = np.rint(_rc(ct_series, np.array([[-20.0, -10.0, _z(ct, 2)]]))[0]).astype(int)
    assert not seg.slice_mask(4, 2)[tuple(centre)]  # the hole
    assert seg.slice_mask(4, 1)[tuple(centre)]
    assert len(seg.contours(4, 2)) == 2 and seg.contours(4, 2)[0].closed
    html = seg._repr_html_()
    assert "Body &lt;script&gt;" in html and "<script>" not in html


def test_real_rtstruct_on_a_grid_of_its_frame_of_reference(tmp_path):
    path = get_testdata_file("rtstruct.dcm")
    rt = pydicom.dcmread(path, force=True)
    for_uid = rt.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID
    cts = ct_phantom(n_slices=21, size=100, pixel_spacing=5.0, slice_thickness=10.0)
    z_values = sorted(
        {float(c.ContourData[2]) for roi in rt.ROIContourSequence for c in roi.ContourSequence}
    )
    for k, ds in enumerate(cts):
        ds.FrameOfReferenceUID = for_uid
        ds.ImagePositionPatient = [-247.5, -247.5, -200.0 + 10.0 * k]
    series = dw.load_series(cts, progress=False)
    seg = dw.load_segmentation(path, series)
    assert [s.label for s in seg.segments] == ["patient", "Isocenter 1", "Isocenter 2"]
    assert seg.segments[0].color == (220, 160, 120)
    patient = rt.ROIContourSequence[0]
    for contour in patient.ContourSequence:
        pts = np.array([float(v) for v in contour.ContourData]).reshape(-1, 3)
        k = round((pts[0, 2] + 200.0) / 10.0)
        ref = reference_mask([_rc(series, pts)], series.shape[1:])
        assert dice(seg.slice_mask("patient", k), ref) >= 0.97
    assert z_values == [-200.0, -190.0, -180.0, 0.0]
    assert seg.findings == []  # every contour found its plane
    assert seg.slices("Isocenter 1") == [20] and seg.mask("Isocenter 2").sum() == 1


def test_rtstruct_points_open_degenerate_self_intersecting_off_plane(tmp_path, ct, ct_series):
    z = _z(ct, 2)
    bowtie = np.array([[-30, -30, z], [0, 0, z], [-30, 0, z], [0, -30, z]], float)
    rois = {
        1: ("marker", [("POINT", np.array([[0.0, 0.0, z]]))]),
        2: ("line", [("OPEN_PLANAR", np.array([[-30, 0, z], [20, 0, z]], float))]),
        3: ("flat", [("CLOSED_PLANAR", np.array([[-30, 0, z], [0, 0, z], [20, 0, z]], float))]),
        5: ("bowtie", [("CLOSED_PLANAR", bowtie)]),
        6: ("between", [("CLOSED_PLANAR", _ring((0, 0), 10, z + 1.9))]),
        8: (
            "tilted",
            [("CLOSED_PLANAR", np.array([[-30, 0, z], [0, 0, z + 8], [0, 20, z]], float))],
        ),
    }
    seg = dw.load_segmentation(_write(build_rtstruct(ct, rois), tmp_path / "x.dcm"), ct_series)
    codes = {f.code: f.message for f in seg.findings}
    assert "ROI 3 'flat'" in codes["degenerate"]
    assert "ROI 5 'bowtie'" in codes["self-intersecting"]
    assert "ROI 6 'between'" in codes["off-plane"]
    assert "ROI 8 'tilted'" in codes["not-planar"]
    assert "[2]" in codes["open-contours"]
    point = np.rint(_rc(ct_series, np.array([[0.0, 0.0, z]]))[0]).astype(int)
    assert seg.slice_mask("marker", 2)[tuple(point)] and seg.mask("marker").sum() == 1
    assert not seg.mask("line").any() and len(seg.contours("line")) == 1
    bow = seg.slice_mask("bowtie", 2)
    ref = reference_mask([_rc(ct_series, bowtie)], ct_series.shape[1:])
    assert bow.any() and dice(bow, ref) >= 0.9
    assert not seg.mask("between").any()


def test_rtstruct_long_contours_are_checked_for_self_intersection(tmp_path, ct, ct_series):
    """Contours of thousands of points (a body outline) are checked too, not only short ones."""
    z = _z(ct, 2)
    t = np.linspace(0, 2 * np.pi, 6000, endpoint=False)
    # A figure eight crosses itself once at its centre; the ring next to it does not.
    eight = np.stack([-10 + 25 * np.sin(t), 25 * np.sin(t) * np.cos(t), np.full(t.size, z)], 1)
    rois = {
        1: ("eight", [("CLOSED_PLANAR", eight)]),
        2: ("ring", [("CLOSED_PLANAR", _ring((0, 0), 15, z))]),
    }
    seg = dw.load_segmentation(_write(build_rtstruct(ct, rois), tmp_path / "e.dcm"), ct_series)
    codes = {f.code: f.message for f in seg.findings}
    assert "ROI 1 'eight'" in codes["self-intersecting"]
    assert "ROI 2 'ring'" not in codes["self-intersecting"]


def test_rtstruct_other_frame_of_reference(tmp_path, ct, ct_series):
    rois = {1: ("A", [("CLOSED_PLANAR", _ring((0, 0), 10, _z(ct, 1)))])}
    path = _write(build_rtstruct(ct, rois, frame_of_reference="2.25.1"), tmp_path / "f.dcm")
    with pytest.raises(GeometryError, match="another Frame of Reference"):
        dw.load_segmentation(path, ct_series)
    seg = dw.load_segmentation(path, ct_series, strict=False)
    assert seg.findings[0].code == "frame-of-reference" and not seg.mask("A").any()


def test_rtstruct_without_series_finds_it_in_its_folder(tmp_path, ct):
    write_series(ct, tmp_path)
    rois = {1: ("A", [("CLOSED_PLANAR", _ring((0, 0), 10, _z(ct, 1)))])}
    path = _write(build_rtstruct(ct, rois, contour_images=False), tmp_path / "rt.dcm")
    seg = dw.load_segmentation(path)
    assert seg.series is not None and seg.series.series_uid == ct[0].SeriesInstanceUID
    assert seg.slices("A") == [1]


def test_rasterize_even_odd_and_bounds():
    square = np.array([[-2.0, -2.0], [-2.0, 3.5], [3.5, 3.5], [3.5, -2.0]])
    out = rasterize_polygons([square], (3, 6))
    assert out[:, :4].all() and not out[:, 4:].any()
    inner = np.array([[0.5, 0.5], [0.5, 1.5], [1.5, 1.5], [1.5, 0.5]])
    holed = rasterize_polygons([square, inner], (3, 6))
    assert not holed[1, 1] and holed[0, 0]
    assert not rasterize_polygons([], (3, 3)).any()


# ------------------------------------------------------------------ numpy and NIfTI
def test_numpy_labels_and_shape_errors(ct_series):
    labels = np.zeros(ct_series.shape, np.int32)
    labels[2, 5:10, 5:12] = 5
    labels[3:5, 20:30, 10:20] = 2
    seg = dw.load_segmentation(labels, ct_series, labels={2: "kidney", 5: "cyst", 7: "none"})
    assert [(s.number, s.label) for s in seg.segments] == [(2, "kidney"), (5, "cyst"), (7, "none")]
    np.testing.assert_array_equal(seg.label_volume(), labels)
    df = seg.to_dataframe().set_index("label")
    hu = ct_series.volume()
    assert df.loc["cyst", "mean"] == pytest.approx(float(hu[labels == 5].mean()), rel=1e-6)
    assert (
        df.loc["kidney", "bbox"] == (3, 20, 10, 4, 29, 19)
        and df.loc["kidney", "slices_spanned"] == 2
    )
    assert df.loc["none", "voxels"] == 0
    with pytest.raises(GeometryError, match=r"transpose\(2, 1, 0\)"):
        dw.load_segmentation(np.transpose(labels, (2, 1, 0)), ct_series)
    with pytest.raises(SeriesSelectionError):
        dw.load_segmentation(labels)
    with pytest.raises(KeyError, match="kidney"):
        seg.mask("liver")


def test_nifti_same_grid_resampled_and_misregistered(tmp_path, ct_series):
    nib = pytest.importorskip("nibabel")
    from dicom_widgets.series._export import LPS_TO_RAS

    labels = np.zeros(ct_series.shape, np.uint8)
    labels[1:5, 10:30, 8:40] = 3
    affine = LPS_TO_RAS @ ct_series.affine()
    path = tmp_path / "same.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(labels, (2, 1, 0)).copy(), affine), path)
    seg = dw.load_segmentation(path, ct_series, labels={3: "liver"})
    assert seg.findings == [] and seg.segments[0].label == "liver"
    np.testing.assert_array_equal(seg.label_volume(), labels)
    # Twice as fine in-plane: nearest neighbour brings back the same voxels.
    fine = np.repeat(np.repeat(np.transpose(labels, (2, 1, 0)), 2, axis=0), 2, axis=1)
    fine_affine = affine.copy()
    fine_affine[:3, :2] /= 2
    fine_affine[:3, 3] -= (affine[:3, 0] + affine[:3, 1]) / 4
    path = tmp_path / "fine.nii.gz"
    nib.save(nib.Nifti1Image(fine, fine_affine), path)
    seg = dw.load_segmentation(path, ct_series)
    assert [f.code for f in seg.findings] == ["resampled"]
    np.testing.assert_array_equal(seg.label_volume(), labels)
    # Shifted by 30 columns: part of the map falls outside and a finding says so.
    shifted = affine.copy()
    shifted[:3, 3] += affine[:3, 0] * 30
    path = tmp_path / "shifted.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(labels, (2, 1, 0)).copy(), shifted), path)
    seg = dw.load_segmentation(path, ct_series)
    outside = [f for f in seg.findings if f.code == "outside"]
    assert outside and "misregistered" in outside[0].message


# ------------------------------------------------------------------ writing
def test_write_seg_without_highdicom_names_the_extra(tmp_path, ct_series):
    try:
        import highdicom  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match=r"dicom-widgets\[seg\]"):
            dw.write_seg(np.ones(ct_series.shape, bool), ct_series, tmp_path / "x.dcm")
        assert not (tmp_path / "x.dcm").exists()
    else:
        pytest.skip("highdicom is installed: test_segmentation_highdicom.py covers writing")


def test_html_escapes_every_text_from_the_file(tmp_path, ct, ct_series):
    payload = '<img src=x onerror="alert(1)">'
    mask = _box((40, 52), 2, 9, 2, 9)
    ds = build_seg(ct, [(1, 1, mask)], labels={1: payload})
    ds.SegmentSequence[0].SegmentDescription = "<b>bold</b>"
    seg = dw.load_segmentation(_write(ds, tmp_path / "h.dcm"), ct_series)
    html = seg._repr_html_()
    assert "<img" not in html and "&lt;img src=x" in html and "&lt;b&gt;bold" in html
    assert "dw-swatch" in html and ">49<" in html  # voxels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repr(seg)


def test_contours_through_boundary_pixel_centres_give_the_mask_back():
    mask = np.zeros((12, 14), bool)
    mask[2:9, 3:11] = True
    mask[5:7, 5:8] = False  # a hole whose boundary pixels belong to the mask
    mask[9, 3] = True  # a diagonal step
    outer = np.array([[2, 3], [2, 10], [8, 10], [8, 4], [9, 3]], float)
    hole = np.array([[4, 4], [4, 8], [7, 8], [7, 4]], float)
    got = rasterize_polygons([outer, hole], mask.shape)
    np.testing.assert_array_equal(got, mask)


def test_fast_per_frame_reader_agrees_with_pydicom(tmp_path, ct):
    from dicom_widgets.segmentation._perframe import read_per_frame

    frames = [(n, k, _box((40, 52), k, k + 4, n, n + 9)) for n in (1, 2) for k in (0, 3, 5)]
    ds = build_seg(ct, frames)
    ds.PerFrameFunctionalGroupsSequence[2].DerivationImageSequence[0].SourceImageSequence[
        0
    ].ReferencedFrameNumber = [2, 3]
    path = _write(ds, tmp_path / "pf.dcm")
    raw = pydicom.dcmread(path)._dict[0x52009230]
    if not isinstance(raw.value, bytes):
        pytest.skip("this pydicom parses sequences while reading (2.4): the pydicom path is used")
    fast = read_per_frame(raw.value, len(frames))
    assert fast is not None
    for (number, position, refs), item, (n, k, _) in zip(
        fast, ds.PerFrameFunctionalGroupsSequence, frames
    ):
        assert number == n
        np.testing.assert_allclose(position, [float(v) for v in ct[k].ImagePositionPatient])
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        assert refs[0][0] == uid
    assert fast[2][2] == [(ct[5].SOPInstanceUID, 1), (ct[5].SOPInstanceUID, 2)]
    assert read_per_frame(b"\x01\x02garbage", 1) is None


def test_scan_links_derived_objects_to_their_series(tmp_path, ct):
    for ds in ct:
        ds.SeriesNumber = 3
    write_series(ct, tmp_path / "study" / "ct")
    mask = _box((40, 52), 5, 20, 10, 40)
    seg_ds = build_seg(ct, [(1, 3, mask)], labels={1: "Liver <i>"})
    _write(seg_ds, tmp_path / "study" / "seg.dcm")
    rois = {1: ("GTV", [("CLOSED_PLANAR", _ring((0, 0), 10, _z(ct, 1)))])}
    rt = build_rtstruct(ct, rois, contour_images=False)
    rt.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[
        0
    ].RTReferencedSeriesSequence[
        0
    ].SeriesInstanceUID = "2.25.999"  # a wrong series UID: matched by Frame of Reference
    _write(rt, tmp_path / "study" / "rt.dcm")
    catalog = dw.scan(tmp_path / "study", progress=False)
    links = {link.modality: link for link in catalog.links}
    assert str(links["SEG"]) == "SEG 'Liver <i>' -> CT series 3"
    assert links["SEG"].how == "series" and links["SEG"].target_key == ct[0].SeriesInstanceUID
    assert links["RTSTRUCT"].how == "frame-of-reference"
    assert "SEG 'Liver <i>' -> CT series 3" in repr(catalog)
    html = catalog._repr_html_()
    assert "→ CT series 3" in html and "Liver <i>" not in html


def test_contours_through_pixel_centres_keep_their_outline_despite_rounding():
    """rt-utils' contours on a CT whose origin is rounded to 6 decimals sit 1.3e-6 px off centres."""
    through_centres = np.array([[2.0, 2.0], [2.0, 9.0], [9.0, 9.0], [9.0, 2.0]])
    exact = rasterize_polygons([through_centres], (12, 12))
    assert int(exact.sum()) == 64
    for offset in (1.28e-6, -1.28e-6, 4e-4):
        np.testing.assert_array_equal(
            rasterize_polygons([through_centres + offset], (12, 12)), exact
        )
    # A real half-pixel inset is not "on the edge": the outline pixels are left out.
    assert (
        int(
            rasterize_polygons(
                [through_centres + [[0.5, 0.5], [0.5, -0.5], [-0.5, -0.5], [-0.5, 0.5]]], (12, 12)
            ).sum()
        )
        == 36
    )
