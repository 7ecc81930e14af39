"""SEGs written by highdicom (and by write_seg) read back voxel-exact, on real-looking CT.

highdicom needs pydicom 3: on pydicom 2.4 this module is skipped (reading is tested in
test_segmentation.py without highdicom).
"""

from __future__ import annotations

import numpy as np
import pytest
from segmentation_fixtures import non_square_ct

import dicom_widgets as dw
from dicom_widgets import _compat

hd = pytest.importorskip("highdicom")
from pydicom.sr.codedict import codes  # noqa: E402


def _descriptions(n, *, labels=None):
    return [
        hd.seg.SegmentDescription(
            segment_number=i,
            segment_label=(labels or {}).get(i, f"organ {i}"),
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i in range(1, n + 1)
    ]


def _highdicom_seg(ct, pixel, kind, n_segments, **kwargs):
    return hd.seg.Segmentation(
        source_images=ct,
        pixel_array=pixel,
        segmentation_type=kind,
        segment_descriptions=_descriptions(n_segments),
        series_instance_uid=hd.UID(),
        series_number=99,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
        **kwargs,
    )


def _shuffle_frames(seg, seed=0):
    """Reorder a native BINARY/8-bit SEG's frames (headers and pixels) at random."""
    n = int(seg.NumberOfFrames)
    rows, cols = int(seg.Rows), int(seg.Columns)
    frames = _compat.decode_pixels(seg).reshape(n, rows, cols)
    order = np.random.default_rng(seed).permutation(n)
    items = list(seg.PerFrameFunctionalGroupsSequence)
    seg.PerFrameFunctionalGroupsSequence = [items[i] for i in order]
    frames = frames[order]
    if int(seg.BitsAllocated) == 1:
        data = np.packbits(frames.astype(bool).ravel(), bitorder="little").tobytes()
    else:
        data = frames.astype(np.uint8).tobytes()
    seg.PixelData = data + (b"\0" if len(data) % 2 else b"")
    return order


@pytest.fixture()
def ct():
    return non_square_ct(n_slices=8, rows=37, cols=45)


@pytest.fixture()
def series(ct):
    return dw.load_series(ct, progress=False)


def _labels(shape, seed=2):
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint8)
    labels[1:4, 3:20, 5:30] = 1
    labels[3:6, 15:30, 20:40] = 2
    labels[6, 5:9, 5:9] = 3
    labels[rng.random(shape) < 0.01] = 4
    return labels


def test_binary_sparse_shuffled_non_square(tmp_path, ct, series):
    labels = _labels(series.shape)
    seg = _highdicom_seg(ct, labels, "BINARY", 4, omit_empty_frames=True)
    assert int(seg.NumberOfFrames) < 8 * 4  # sparse: empty frames omitted
    _shuffle_frames(seg)
    path = tmp_path / "seg.dcm"
    seg.save_as(path)
    got = dw.load_segmentation(path, series)
    assert got.findings == []
    for n in range(1, 5):
        np.testing.assert_array_equal(got.mask(n), labels == n)
    np.testing.assert_array_equal(got.label_volume(), labels)


def test_labelmap_and_fractional(tmp_path, ct, series):
    labels = _labels(series.shape, seed=5)
    lm = _highdicom_seg(ct, labels, "LABELMAP", 4)
    lm.save_as(tmp_path / "lm.dcm")
    got = dw.load_segmentation(tmp_path / "lm.dcm", series)
    assert [s.number for s in got.segments] == [1, 2, 3, 4]  # background 0 not listed
    np.testing.assert_array_equal(got.label_volume(), labels)
    rng = np.random.default_rng(3)
    prob = np.zeros(series.shape, np.float32)
    prob[2:5] = rng.random((3, *series.shape[1:]))
    fr = _highdicom_seg(ct, prob, "FRACTIONAL", 1, max_fractional_value=200)
    fr.save_as(tmp_path / "fr.dcm")
    got = dw.load_segmentation(tmp_path / "fr.dcm", series)
    assert got.fractional
    expected = hd.seg.segread(tmp_path / "fr.dcm").get_pixels_by_source_instance(
        [d.SOPInstanceUID for d in ct], combine_segments=False, rescale_fractional=True
    )[..., 0]
    np.testing.assert_allclose(got.probabilities(1), expected, atol=1e-6)
    assert np.abs(got.probabilities(1) - prob).max() <= 0.5 / 200 + 1e-6
    np.testing.assert_array_equal(got.mask(1), expected >= 0.5)


def test_write_seg_reads_back_exactly_in_highdicom_and_here(tmp_path, ct, series):
    labels = _labels(series.shape).astype(np.int32) * 3  # label values 3, 6, 9, 12
    out = dw.write_seg(labels, series, tmp_path / "out.dcm", labels={3: "liver <b>", 6: "kidney"})
    back = hd.seg.segread(out)
    assert [d.SegmentLabel for d in back.SegmentSequence][:2] == ["liver <b>", "kidney"]
    pixels = back.get_pixels_by_source_instance(
        [d.SOPInstanceUID for d in ct], combine_segments=True
    )
    np.testing.assert_array_equal(pixels, labels // 3)
    ours = dw.load_segmentation(out, series)
    assert ours.findings == []
    np.testing.assert_array_equal(ours.label_volume(), labels // 3)
    np.testing.assert_array_equal(ours.mask("kidney"), labels == 6)
    with pytest.raises(FileExistsError):
        dw.write_seg(labels, series, out)
    mask = labels == 9
    out2 = dw.write_seg(mask, series, tmp_path / "m.dcm", segmentation_type="LABELMAP")
    np.testing.assert_array_equal(dw.load_segmentation(out2, series).mask(1), mask)
    with pytest.raises(dw.GeometryError):
        dw.write_seg(mask[:-1], series, tmp_path / "bad.dcm")
    assert not (tmp_path / "bad.dcm").exists()


def test_write_seg_from_files_on_disk_finds_its_series(tmp_path, ct):
    from dicom_widgets.data import write_series

    write_series(ct, tmp_path / "study")
    series = dw.load_series(tmp_path / "study", progress=False)
    mask = np.zeros(series.shape, bool)
    mask[2:4, 5:15, 6:20] = True
    out = dw.write_seg(mask, series, tmp_path / "study" / "seg.dcm", labels={1: "lesion"})
    found = dw.load_segmentation(out)  # no series: found in the SEG's folder
    assert found.series is not None and found.series.series_uid == series.series_uid
    np.testing.assert_array_equal(found.mask("lesion"), mask)
