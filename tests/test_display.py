"""The display pipeline: windows, presets, LUT fast path, photometric handling on real files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from dicom_widgets._compat import apply_modality_lut, apply_voi_lut, decode_pixels
from dicom_widgets.data import ct_phantom, mr_multiframe_phantom, pydicom_file
from dicom_widgets.display import (
    PRESETS,
    VOILUT,
    Window,
    apply_window,
    auto_window,
    make_lut,
    resolve_window,
    to_display,
    voi_lut_from_dataset,
    window_from_dataset,
)


def test_presets_cover_the_required_names_with_documented_values():
    required = {
        "brain": (40, 80),
        "subdural": (75, 215),
        "stroke": (40, 40),
        "lung": (-600, 1500),
        "mediastinum": (50, 350),
        "abdomen": (50, 400),
        "liver": (60, 160),
        "bone": (400, 1800),
    }
    for name, value in required.items():
        assert PRESETS[name] == value


def test_linear_follows_ps33_formula_at_the_edges():
    c, w = 40.0, 80.0
    lo_edge = c - 0.5 - (w - 1) / 2  # values <= this give y_min
    hi_edge = c - 0.5 + (w - 1) / 2  # values > this give y_max
    y = apply_window(np.array([lo_edge, lo_edge + 1e-6, hi_edge, hi_edge + 1e-6]), c, w)
    assert y[0] == 0.0 and y[1] > 0.0
    assert y[2] == pytest.approx(255.0) and y[3] == 255.0
    # Monotonic across the window.
    ramp = apply_window(np.linspace(-100, 200, 301), c, w)
    assert np.all(np.diff(ramp) >= 0)


def test_linear_exact_and_sigmoid():
    y = apply_window(np.array([-10.0, 0.0, 10.0]), 0.0, 20.0, "LINEAR_EXACT")
    assert y.tolist() == [0.0, 127.5, 255.0]
    s = apply_window(np.array([-1e6, 0.0, 1e6]), 0.0, 20.0, "SIGMOID")
    assert (
        s[0] == pytest.approx(0.0) and s[1] == pytest.approx(127.5) and s[2] == pytest.approx(255)
    )


def test_width_one_is_a_threshold():
    y = apply_window(np.array([9.0, 9.5, 10.0]), 10.0, 1.0)
    assert y.tolist() == [0.0, 0.0, 255.0]


def test_window_matches_pydicom_apply_voi_lut_on_the_ct_phantom():
    ds = ct_phantom(n_slices=1, size=32, noise=20.0)[0]
    hu = apply_modality_lut(decode_pixels(ds), ds)
    ours = to_display(hu, None, ds=ds)  # file window 40/80 LINEAR
    theirs = apply_voi_lut(hu, ds)  # pydicom output range is 0..2**BitsStored-1... or float
    theirs = np.asarray(theirs, dtype=np.float64)
    lo, hi = theirs.min(), theirs.max()
    scaled = np.rint((theirs - lo) / (hi - lo) * 255) if hi > lo else theirs
    # Same breakpoints: which pixels are black/white must agree exactly.
    assert np.array_equal(ours == 0, scaled == 0)
    assert np.array_equal(ours == 255, scaled == 255)
    assert np.max(np.abs(ours.astype(int) - scaled)) <= 1


def test_window_from_file_uses_the_first_of_multiple_values():
    ds = ct_phantom(n_slices=1, size=8)[0]
    assert ds.WindowCenter == [40, 400]
    win = window_from_dataset(ds)
    assert win == Window(40.0, 80.0, "LINEAR", "BRAIN")
    ds.VOILUTFunction = "SIGMOID"
    assert window_from_dataset(ds).function == "SIGMOID"


def test_window_from_functional_groups_of_enhanced_mr():
    ds = mr_multiframe_phantom(n_slices=2, size=16)
    assert window_from_dataset(ds, 1) == Window(600.0, 1200.0, "LINEAR", "")


def test_presets_and_auto_and_errors():
    frame = np.linspace(-1000, 1000, 100).reshape(10, 10)
    assert resolve_window("Lung", frame) == Window(-600.0, 1500.0, "LINEAR", "lung")
    auto = auto_window(frame)
    assert auto.explanation == "auto" and 1500 < auto.width < 2000
    # None with no dataset means automatic.
    assert resolve_window(None, frame).explanation == "auto"
    with pytest.raises(ValueError, match="unknown window"):
        resolve_window("nope", frame)
    with pytest.raises(ValueError, match="positive"):
        resolve_window((40, 0), frame)
    with pytest.raises(ValueError, match="voi_lut_function"):
        resolve_window((40, 80), frame, voi_lut_function="CUBIC")


def test_auto_window_of_a_flat_frame_shows_mid_grey():
    out = to_display(np.full((4, 4), 7.0), "auto")
    assert out.dtype == np.uint8 and np.all(out == out[0, 0])


def test_monochrome1_is_inverted_and_invert_flag_flips_again():
    ramp = np.arange(0, 256, dtype=np.float64).reshape(16, 16)
    m2 = to_display(ramp, (127.5, 256), voi_lut_function="LINEAR_EXACT")
    m1 = to_display(ramp, (127.5, 256), voi_lut_function="LINEAR_EXACT", photometric="MONOCHROME1")
    assert np.array_equal(m1, 255 - m2)
    both = to_display(
        ramp,
        (127.5, 256),
        voi_lut_function="LINEAR_EXACT",
        photometric="MONOCHROME1",
        invert=True,
    )
    assert np.array_equal(both, m2)


def test_real_monochrome1_file_renders_bright_where_stored_values_are_low():
    path = pydicom_file("monochrome1")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    arr = apply_modality_lut(decode_pixels(ds), ds)
    out = to_display(arr, "auto", photometric="MONOCHROME1")
    assert out.shape == arr.shape and out.dtype == np.uint8
    # In MONOCHROME1 the minimum stored value is white.
    low = arr <= np.percentile(arr, 0.1)
    assert out[low].mean() > 250


def test_voi_lut_sequence_is_used_from_a_real_file():
    ds = pydicom.dcmread(pydicom_file("voi_lut"), force=True)
    lut = voi_lut_from_dataset(ds)
    assert isinstance(lut, VOILUT) and lut.data.size > 0
    arr = decode_pixels(ds)
    modality = apply_modality_lut(arr, ds)
    out = to_display(modality, None, ds=ds)
    ref = np.asarray(apply_voi_lut(modality, ds), dtype=np.float64)
    # Same ordering of grey levels as pydicom's LUT application.
    expected = np.rint(np.clip(ref * 255.0 / (2**lut.bits - 1), 0, 255))
    assert np.max(np.abs(out.astype(int) - expected)) <= 1


def test_palette_color_needs_ds_and_gives_rgb():
    ds = pydicom.dcmread(pydicom_file("palette"), force=True)
    # This old file has no file meta; it is implicit VR little endian.
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    arr = decode_pixels(ds)
    out = to_display(arr, photometric="PALETTE COLOR", ds=ds)
    assert out.shape == (*arr.shape, 3) and out.dtype == np.uint8
    assert len(np.unique(out.reshape(-1, 3), axis=0)) > 10
    with pytest.raises(ValueError, match="ds="):
        to_display(arr, photometric="PALETTE COLOR")


def test_ybr_is_converted_to_rgb():
    rgb_ds = pydicom.dcmread(pydicom_file("rgb"), force=True)
    rgb = decode_pixels(rgb_ds)
    from dicom_widgets._compat import convert_color_space

    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    back = to_display(ybr, photometric="YBR_FULL")
    assert back.dtype == np.uint8 and back.shape == rgb.shape
    assert np.max(np.abs(back.astype(int) - rgb.astype(int))) <= 2
    assert np.array_equal(to_display(rgb, photometric="RGB"), rgb)


def test_sixteen_bit_rgb_is_scaled_to_eight_bits():
    arr = np.zeros((2, 2, 3), dtype=np.uint16)
    arr[0, 0] = 65535
    out = to_display(arr, photometric="RGB")
    assert out[0, 0].tolist() == [255, 255, 255] and out[1, 1].tolist() == [0, 0, 0]


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="2-D"):
        to_display(np.zeros((2, 2, 2, 2)))


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.int8])
@pytest.mark.parametrize("window", [(40, 80), "lung", (0.5, 3.0)])
@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_lut_fast_path_equals_float_path(dtype, window, function):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(0)
    stored = rng.integers(info.min, info.max, size=(64, 64), endpoint=True).astype(dtype)
    slope, intercept = 0.5, -1024.0
    lut = make_lut(dtype, window, slope=slope, intercept=intercept, voi_lut_function=function)
    ref = to_display(stored * slope + intercept, window, voi_lut_function=function)
    assert np.array_equal(lut(stored), ref)
    # The documented lut[arr - offset] form gives the same result.
    by_value = lut.table_by_value[stored.astype(np.int64) - lut.offset]
    assert np.array_equal(by_value, ref)


def test_lut_with_modality_lut_sequence_matches_pydicom():
    ds = pydicom.dcmread(pydicom_file("modality_lut"), force=True)
    arr = decode_pixels(ds)
    modality = np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)
    lut = make_lut(arr.dtype, "auto", ds=ds, sample=arr)
    ref = to_display(modality, lut.window)
    assert np.array_equal(lut(arr), ref)


def test_lut_from_file_window_and_monochrome1():
    ds = ct_phantom(n_slices=1, size=16, noise=30.0)[0]
    arr = decode_pixels(ds)
    lut = make_lut(arr.dtype, None, ds=ds, intercept=-1024, photometric="MONOCHROME1")
    ref = to_display(arr - 1024.0, None, ds=ds, photometric="MONOCHROME1")
    assert np.array_equal(lut(arr), ref)


def test_lut_rejects_wrong_input():
    with pytest.raises(TypeError):
        make_lut(np.float32, (0, 1))
    lut = make_lut(np.uint8, (0, 10))
    with pytest.raises(TypeError):
        lut(np.zeros(3, dtype=np.int16))
    with pytest.raises(ValueError, match="needs the frame"):
        make_lut(np.uint16, "auto")


def test_lut_accepts_big_endian_arrays():
    stored = np.array([[0, 100, 1000]], dtype=">i2")
    lut = make_lut(np.int16, (500, 1000))
    np.testing.assert_array_equal(lut(stored), to_display(stored.astype(float), (500, 1000)))


def test_auto_window_percentiles_match_numpy():
    from dicom_widgets.display import _percentiles

    rng = np.random.default_rng(3)
    values = rng.normal(size=1001) * 100
    for q in ((0.5, 99.5), (0, 100), (1, 99), (25, 75)):
        np.testing.assert_allclose(_percentiles(values, q), np.percentile(values, q))


def test_auto_window_of_a_probability_map_spans_its_range():
    # Float data narrower than 1 (probabilities) must not be flattened to a threshold.
    probs = np.linspace(0.0, 1.0, 10_000).reshape(100, 100)
    window = auto_window(probs)
    assert window.function == "LINEAR_EXACT" and 0.9 < window.width < 1.0
    shown = to_display(probs, "auto")
    assert shown.min() == 0 and shown.max() == 255
    assert len(np.unique(shown)) > 200, "a smooth ramp stays a ramp"
