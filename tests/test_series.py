"""Series loading on generated phantoms: geometry sort, QA findings, lazy decoding, cache, exports."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pydicom
import pytest

import dicom_widgets as dw
from dicom_widgets.data import (
    CT_REGIONS,
    REGION_CENTERS_MM,
    ct_phantom,
    mr_multiframe_phantom,
    mr_phantom,
    write_series,
)
from dicom_widgets.display import Window, to_display
from dicom_widgets.errors import (
    DecodeError,
    DicomReadError,
    DicomWidgetsError,
    GeometryError,
    SeriesSelectionError,
    UnsafeOutputError,
)
from dicom_widgets.series import Finding, FrameCache, Series, SeriesCatalog


def _codes(series) -> list[str]:
    return [f.code for f in series.findings]


@pytest.fixture()
def ct_series(ct_folder) -> Series:
    series = dw.load_series(ct_folder, progress=False)
    yield series
    series.close()


# ------------------------------------------------------------------------- geometry


def test_shuffled_files_come_back_in_geometric_order(ct_folder, ct_datasets, ct_series):
    names = sorted(p.name for p in ct_folder.iterdir())
    assert len(ct_series) == len(ct_datasets) == len(names)
    z = ct_series.positions[:, 2]
    assert np.all(np.diff(z) > 0)
    expected = sorted(float(ds.ImagePositionPatient[2]) for ds in ct_datasets)
    np.testing.assert_allclose(z, expected)
    assert ct_series.sort_method == "geometry" and ct_series.is_uniform
    assert ct_series.findings == []
    # The pixels follow the sort: slice k is the dataset at the k-th position.
    by_z = {float(ds.ImagePositionPatient[2]): ds for ds in ct_datasets}
    for k in (0, 7, len(ct_series) - 1):
        ds = by_z[float(z[k])]
        np.testing.assert_array_equal(ct_series.frame(k), ds.pixel_array.astype(np.float32) - 1024)


def test_frame_is_in_hounsfield_units_and_raw_frame_is_stored(ct_series):
    k = len(ct_series) // 2
    hu = ct_series.frame(k)
    raw = ct_series.raw_frame(k)
    assert hu.dtype == np.float32 and raw.dtype == np.int16
    np.testing.assert_array_equal(hu, raw.astype(np.float32) - 1024)
    assert hu.min() == CT_REGIONS["air"]
    assert ct_series.rescale(k) == (1.0, -1024.0)
    assert not raw.flags.writeable  # cached arrays are shared


def test_spacing_orientation_and_affine_place_regions_correctly(ct_series):
    assert ct_series.spacing == pytest.approx((200 / 64, 200 / 64, 4.0))
    np.testing.assert_allclose(ct_series.orientation, [1, 0, 0, 0, 1, 0])
    affine = ct_series.affine()
    inverse = np.linalg.inv(affine)
    for name, center in REGION_CENTERS_MM.items():
        c, r, k, _ = inverse @ np.array([*center, 1.0])
        value = ct_series.frame(int(round(k)))[int(round(r)), int(round(c))]
        assert value == CT_REGIONS[name], name


def test_oblique_mr_sorts_along_its_normal(tmp_path):
    datasets = mr_phantom(n_slices=9, size=32, orientation="oblique")
    write_series(datasets, tmp_path, seed=11)
    series = dw.load_series(tmp_path, progress=False)
    normal = series.slice_normal
    proj = series.positions @ normal
    assert np.all(np.diff(proj) > 0)
    assert series.spacing[2] == pytest.approx(5.0)
    # Instance numbers were assigned in slice order by the generator.
    numbers = [int(series.dataset(i).InstanceNumber) for i in range(len(series))]
    assert numbers == sorted(numbers) or numbers == sorted(numbers, reverse=True)
    # The affine's slice axis follows the normal.
    np.testing.assert_allclose(series.affine()[:3, 2], normal * 5.0, atol=1e-4)


def test_deleted_slice_is_a_gap_finding(tmp_path, ct_datasets):
    paths = write_series(ct_datasets, tmp_path, seed=4)
    removed = paths[10]
    removed.unlink()
    series = dw.load_series(tmp_path, progress=False)
    gaps = [f for f in series.findings if f.code == "gap"]
    assert len(gaps) == 1 and gaps[0].severity == "warning"
    assert "1 slice(s) missing" in gaps[0].message
    assert str(paths[9]) in gaps[0].paths and str(paths[11]) in gaps[0].paths
    assert not series.is_uniform
    with pytest.raises(GeometryError):
        series.to_nifti(tmp_path.parent / f"{tmp_path.name}_gap.nii")


def test_scanner_jitter_is_not_a_gap(tmp_path):
    datasets = ct_phantom(n_slices=12, size=16)
    rng = np.random.default_rng(0)
    for ds in datasets:
        pos = [float(v) for v in ds.ImagePositionPatient]
        pos[2] += float(rng.uniform(-0.02, 0.02))  # 0.5% of the 4 mm spacing
        ds.ImagePositionPatient = pos
    series = dw.load_series(datasets, progress=False)
    assert "gap" not in _codes(series) and "irregular-spacing" not in _codes(series)
    assert series.is_uniform


def test_duplicated_file_is_reported_and_ignored(tmp_path, ct_datasets):
    paths = write_series(ct_datasets, tmp_path, seed=4)
    copy = tmp_path / "copy_of_slice.dcm"
    shutil.copy(paths[5], copy)
    series = dw.load_series(tmp_path, progress=False)
    assert len(series) == len(ct_datasets)
    dup = [f for f in series.findings if f.code == "duplicate-instance"]
    assert len(dup) == 1 and str(copy) in dup[0].paths and str(paths[5]) in dup[0].paths


def test_duplicate_position_with_new_uid_is_reported(tmp_path):
    datasets = ct_phantom(n_slices=6, size=16)
    extra = ct_phantom(n_slices=6, size=16, seed=1)[2]
    extra.SOPInstanceUID = pydicom.uid.generate_uid()
    extra.file_meta.MediaStorageSOPInstanceUID = extra.SOPInstanceUID
    extra.InstanceNumber = 99
    write_series([*datasets, extra], tmp_path, seed=2)
    series = dw.load_series(tmp_path, progress=False)
    dup = [f for f in series.findings if f.code == "duplicate-position"]
    assert len(dup) == 1 and len(dup[0].paths) == 2
    assert len(series) == 6 and series.n_times == 1


def test_localizer_in_same_series_is_split_and_reported(tmp_path):
    datasets = ct_phantom(n_slices=8, size=32)
    localizer = ct_phantom(n_slices=1, size=48, seed=1)[0]
    localizer.SOPInstanceUID = pydicom.uid.generate_uid()
    localizer.file_meta.MediaStorageSOPInstanceUID = localizer.SOPInstanceUID
    localizer.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal scout
    localizer.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    write_series([*datasets, localizer], tmp_path, seed=1)
    catalog = dw.scan(tmp_path, progress=False)
    uid = datasets[0].SeriesInstanceUID
    assert catalog.keys() == [uid, f"{uid}#2"]
    assert catalog.entries[1].split_from == uid
    assert "orientation" in catalog.entries[1].split_reason
    # load_series picks the main stack and reports the split.
    series = dw.load_series(tmp_path, progress=False)
    assert len(series) == 8 and series.key == uid
    split = [f for f in series.findings if f.code == "split"]
    assert split and "localizer" in split[0].message
    scout = dw.load_series(tmp_path, series_uid=f"{uid}#2", progress=False)
    assert len(scout) == 1 and scout.frame(0).shape == (48, 48)


def test_missing_geometry_falls_back_to_instance_number_with_a_warning():
    datasets = ct_phantom(n_slices=5, size=16)
    for ds in datasets:
        del ds.ImagePositionPatient
    datasets = datasets[::-1]
    with pytest.warns(dw.DicomWidgetsWarning):
        series = dw.load_series(datasets, progress=False)
    assert series.sort_method == "instance-number"
    assert [int(series.dataset(i).InstanceNumber) for i in range(5)] == [1, 2, 3, 4, 5]
    finding = next(f for f in series.findings if f.code == "missing-geometry")
    assert finding.severity == "warning" and "InstanceNumber" in finding.message
    with pytest.raises(GeometryError):
        series.affine()


def test_a_degenerate_orientation_has_no_slice_normal():
    """Row and column cosines alike: no plane, so no normal (not a zero vector) and no affine."""
    datasets = ct_phantom(n_slices=3, size=16)
    for ds in datasets:
        ds.ImageOrientationPatient = [1, 0, 0, 1, 0, 0]
    with pytest.warns(dw.DicomWidgetsWarning):
        series = dw.load_series(datasets, progress=False)
    assert series.sort_method == "instance-number"
    assert series.slice_normal is None
    with pytest.raises(GeometryError):
        series.affine()


def test_mixed_rescale_is_reported_and_applied_per_frame():
    datasets = ct_phantom(n_slices=4, size=16)
    datasets[1].RescaleIntercept = -1000
    series = dw.load_series(datasets, progress=False)
    assert "mixed-rescale" in _codes(series)
    np.testing.assert_array_equal(
        series.frame(1), datasets[1].pixel_array.astype(np.float32) - 1000
    )


# ------------------------------------------------------------------------ multi-frame


def test_multiframe_4d_exposes_time_points():
    ds = mr_multiframe_phantom(n_slices=5, size=16, n_timepoints=3)
    series = dw.load_series(ds, progress=False)
    assert len(series) == 5 and series.n_times == 3
    assert series.shape == (3, 5, 16, 16)
    assert series.time_key == "TemporalPositionIndex"
    assert "4d" in _codes(series)
    tumour_gain = [series.frame(2, t).max() for t in range(3)]
    assert tumour_gain[0] < tumour_gain[1] < tumour_gain[2]
    assert series.volume(time=None).shape == (3, 5, 16, 16)
    # Frames are the right ones: frame (slice k, time t) is stored frame t * n + k.
    stored = ds.pixel_array
    np.testing.assert_array_equal(series.raw_frame(3, 2), stored[2 * 5 + 3])


def test_multiframe_4d_without_temporal_index_is_ordered_by_dimension_index_values():
    """No Temporal Position Index: the frames' Dimension Index Values still order the times.

    Frames are stored in a shuffled order, so frame order would be wrong.
    """
    ds = mr_multiframe_phantom(n_slices=4, size=16, n_timepoints=11)
    for item in ds.PerFrameFunctionalGroupsSequence:
        del item.FrameContentSequence[0].TemporalPositionIndex
    stored = ds.pixel_array
    order = np.random.default_rng(7).permutation(len(stored))
    ds.PerFrameFunctionalGroupsSequence = pydicom.sequence.Sequence(
        [ds.PerFrameFunctionalGroupsSequence[i] for i in order]
    )
    ds.PixelData = stored[order].tobytes()
    series = dw.load_series(ds, progress=False)
    assert (len(series), series.n_times) == (4, 11)
    assert series.time_key == "DimensionIndexValues"
    assert _codes(series) == ["4d"]
    for t in (0, 1, 9, 10):  # numerically: time point 10 after 9
        np.testing.assert_array_equal(series.raw_frame(3, t), stored[t * 4 + 3])


def test_multiframe_file_on_disk_uses_functional_group_positions(tmp_path):
    ds = mr_multiframe_phantom(n_slices=6, size=16, orientation="coronal")
    # Store frames in reverse slice order to prove the per-frame positions are used.
    per_frame = list(ds.PerFrameFunctionalGroupsSequence)[::-1]
    frames = ds.pixel_array[::-1].copy()
    ds.PerFrameFunctionalGroupsSequence = pydicom.sequence.Sequence(per_frame)
    ds.PixelData = frames.tobytes()
    write_series([ds], tmp_path, shuffle=False)
    series = dw.load_series(tmp_path, progress=False)
    assert len(series) == 6 and series.n_times == 1
    proj = series.positions @ series.slice_normal
    assert np.all(np.diff(proj) > 0)
    assert series.spacing == pytest.approx((220 / 16, 220 / 16, 5.0))
    assert series.default_window == Window(600.0, 1200.0, "LINEAR", "")
    np.testing.assert_array_equal(series.raw_frame(0), frames[-1])


# --------------------------------------------------------------------------- laziness


def test_opening_decodes_nothing_and_cache_is_bounded(ct_folder):
    frame_bytes = 64 * 64 * 2
    series = dw.load_series(ct_folder, progress=False, cache_bytes=3 * frame_bytes, prefetch=False)
    assert len(series._cache) == 0
    for k in range(len(series)):
        series.raw_frame(k)
        assert series._cache.nbytes <= 3 * frame_bytes
    assert len(series._cache) == 3


def test_prefetch_decodes_neighbours_in_background(ct_folder):
    series = dw.load_series(ct_folder, progress=False)
    series.raw_frame(10)
    series.wait_prefetch()
    for k in (8, 9, 11, 12):
        assert series.is_cached(k)
    assert not series.is_cached(5)
    series.close()


def test_frame_cache_lru_eviction_order():
    cache = FrameCache(30)
    for key in "abc":
        cache.put(key, np.zeros(10, dtype=np.uint8))
    cache.get("a")
    cache.put("d", np.zeros(10, dtype=np.uint8))
    assert "b" not in cache and "a" in cache and cache.nbytes == 30
    cache.put("big", np.zeros(31, dtype=np.uint8))
    assert "big" not in cache


# --------------------------------------------------------------------------- display


def test_display_fast_path_matches_to_display(ct_series):
    k = 12
    for window in (None, "lung", (40, 80), "auto"):
        fast = ct_series.display(k, window)
        ref_window = ct_series._window_for(ct_series.frame_ref(k), window)
        slow = to_display(ct_series.frame(k), ref_window, ds=ct_series.dataset(k))
        assert fast.dtype == np.uint8
        np.testing.assert_array_equal(fast, slow)
    lut = ct_series.display_lut(k, "brain")
    np.testing.assert_array_equal(lut(ct_series.raw_frame(k)), ct_series.display(k, "brain"))
    assert ct_series.display_lut(k, "brain") is lut  # cached


def test_default_window_from_file_and_auto_for_mr():
    ct = dw.load_series(ct_phantom(n_slices=3, size=16), progress=False)
    assert ct.default_window == Window(40.0, 80.0, "LINEAR", "BRAIN")
    datasets = mr_phantom(n_slices=3, size=16)
    for ds in datasets:
        del ds.WindowCenter, ds.WindowWidth
    mr = dw.load_series(datasets, progress=False)
    assert mr.default_window.explanation == "auto"


# ---------------------------------------------------------------------- sources/errors


def test_several_series_need_a_choice_and_the_error_lists_them(tmp_path):
    write_series(ct_phantom(n_slices=3, size=16), tmp_path / "ct")
    write_series(mr_phantom(n_slices=2, size=16), tmp_path / "mr")
    (tmp_path / "notes.txt").write_text("not dicom")
    with pytest.raises(SeriesSelectionError) as info:
        dw.load_series(tmp_path, progress=False)
    message = str(info.value)
    assert "2 series" in message and "series_uid=" in message
    assert "Axial head phantom" in message and "T1 sagittal head phantom" in message
    catalog = dw.scan(tmp_path, progress=False)
    assert isinstance(catalog, SeriesCatalog) and len(catalog) == 2
    assert catalog.non_dicom == [str(tmp_path / "notes.txt")]
    uid = next(e.key for e in catalog.entries if e.modality == "MR")
    mr = dw.load_series(tmp_path, series_uid=uid, progress=False)
    assert mr.modality == "MR" and len(mr) == 2
    assert catalog.get(uid).modality == "MR" and catalog[uid].modality == "MR"
    with pytest.raises(SeriesSelectionError, match="no series"):
        dw.load_series(tmp_path, series_uid="1.2.3", progress=False)


def test_unreadable_file_is_listed_and_the_rest_opens(tmp_path, ct_datasets):
    paths = write_series(ct_datasets[:6], tmp_path, seed=4)
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(paths[0].read_bytes()[:300])  # truncated inside the header
    series = dw.load_series(tmp_path, progress=False)
    assert len(series) == 6
    unreadable = [f for f in series.findings if f.code == "unreadable"]
    assert unreadable and unreadable[0].paths == (str(broken),)
    with pytest.raises(DicomReadError, match="broken.dcm"):
        dw.load_series(broken, progress=False)


def test_truncated_pixel_data_fails_only_that_frame(tmp_path, ct_datasets):
    paths = write_series(ct_datasets[:5], tmp_path, shuffle=False)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 1000])
    series = dw.load_series(tmp_path, progress=False)
    assert len(series) == 5
    assert series.frame_error(2) is not None
    with pytest.raises(DecodeError) as info:
        series.frame(2)
    assert paths[2].name in str(info.value) and "truncated" in str(info.value)
    assert isinstance(info.value, DicomWidgetsError)
    series.frame(1)
    assert [f.code for f in series.findings] == ["decode-failed"]
    assert series.failed == {(2, 0): series.frame_error(2)}
    vol = series.volume(fill=np.nan)
    assert np.isnan(vol[2]).all() and not np.isnan(vol[1]).any()
    with pytest.raises(DecodeError):
        series.volume()


def test_in_memory_datasets_and_single_dataset():
    datasets = ct_phantom(n_slices=4, size=16)
    series = dw.load_series(datasets[::-1], progress=False)
    assert len(series) == 4 and series.files == []
    assert np.all(np.diff(series.positions[:, 2]) > 0)
    one = dw.load_series(datasets[0], progress=False)
    assert len(one) == 1 and one.spacing[2] == 4.0


def test_bad_source_types_raise_type_error():
    with pytest.raises(TypeError, match="source must be"):
        dw.scan(42, progress=False)


def test_finding_validation_and_text():
    with pytest.raises(ValueError):
        Finding("fatal", "x", "y")
    assert "warning [gap]" in str(Finding("warning", "gap", "msg", ["a", "b", "c", "d"]))


def test_reprs_are_text_and_html(ct_series):
    text = repr(ct_series)
    assert "24 slices" in text and "CT" in text
    bundle = ct_series._repr_mimebundle_()
    assert bundle["text/plain"] == text and "<" in bundle["text/html"]


# ----------------------------------------------------------------------------- exports


def test_to_dataframe_has_a_row_per_frame(ct_series):
    pytest.importorskip("pandas")
    df = ct_series.to_dataframe()
    assert len(df) == len(ct_series)
    assert list(df["slice"]) == list(range(len(ct_series)))
    assert df["position_z"].is_monotonic_increasing
    assert set(df["error"]) == {""}


def test_to_nifti_affine_matches_nibabel_conventions(ct_series, tmp_path):
    nib = pytest.importorskip("nibabel")
    out = ct_series.to_nifti(tmp_path / "ct.nii.gz")
    img = nib.load(out)
    assert img.shape == (64, 64, 24)
    # Axial DICOM: columns go to patient left, rows to posterior, slices superior.
    assert nib.orientations.aff2axcodes(img.affine) == ("L", "P", "S")
    # A region centre (LPS) maps to the voxel holding its HU value.
    center_lps = np.array(REGION_CENTERS_MM["haemorrhage"])
    ras = center_lps * [-1, -1, 1]
    i, j, k = np.rint(np.linalg.inv(img.affine) @ [*ras, 1])[:3].astype(int)
    assert img.get_fdata()[i, j, k] == CT_REGIONS["haemorrhage"]
    with pytest.raises(FileExistsError):
        ct_series.to_nifti(out)


def test_affine_matches_nibabel_dicom_wrapper(ct_series):
    dicomwrappers = pytest.importorskip("nibabel.nicom.dicomwrappers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrapper = dicomwrappers.wrapper_from_file(ct_series.files[0])
        theirs = np.asarray(wrapper.affine)
    # nibabel's wrapper indexes (row, column); ours (column, row): swap the first two axes.
    ours = ct_series.affine()
    np.testing.assert_allclose(theirs[:3, 0], ours[:3, 1], atol=1e-6)
    np.testing.assert_allclose(theirs[:3, 1], ours[:3, 0], atol=1e-6)
    np.testing.assert_allclose(theirs[:3, 3], ours[:3, 3], atol=1e-6)


def test_save_frames_writes_pngs_and_refuses_the_source_folder(ct_series, ct_folder, tmp_path):
    from PIL import Image

    written = ct_series.save_frames(tmp_path / "png", window="brain")
    assert len(written) == len(ct_series)
    img = np.asarray(Image.open(written[3]))
    np.testing.assert_array_equal(img, ct_series.display(3, "brain"))
    with pytest.raises(UnsafeOutputError):
        ct_series.save_frames(ct_folder)


def test_missing_geometry_warns_with_the_package_category():
    datasets = ct_phantom(n_slices=3, size=16)
    for ds in datasets:
        del ds.ImagePositionPatient
    with pytest.warns(dw.DicomWidgetsWarning, match="InstanceNumber"):
        dw.load_series(datasets, progress=False)


def test_classic_series_with_two_acquisitions_is_4d():
    first = ct_phantom(n_slices=4, size=16)
    second = ct_phantom(n_slices=4, size=16, noise=5.0, seed=1)
    for ds in second:
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.AcquisitionNumber = 2
        ds.InstanceNumber += 4
    series = dw.load_series([*second, *first], progress=False)
    assert (len(series), series.n_times, series.time_key) == (4, 2, "AcquisitionNumber")
    assert int(series.dataset(0, time=1).AcquisitionNumber) == 2


def test_list_of_paths_source(ct_folder, ct_datasets):
    paths = sorted(ct_folder.iterdir(), reverse=True)
    series = dw.load_series([str(p) for p in paths], progress=False)
    assert len(series) == len(ct_datasets) and np.all(np.diff(series.positions[:, 2]) > 0)


def test_progress_bar_scan_runs(ct_folder):
    catalog = dw.scan(ct_folder, progress=True)
    assert len(catalog) == 1 and catalog.n_files == 24


def test_html_reprs_escape_dicom_values():
    datasets = ct_phantom(n_slices=2, size=16)
    for ds in datasets:
        ds.SeriesDescription = "<script>alert(1)</script>"
    series = dw.load_series(datasets, progress=False)
    html = series._repr_html_()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    catalog = dw.scan(datasets, progress=False)
    html = catalog._repr_html_()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "1 series" in repr(catalog)


def test_catalog_dataframe_and_lookup(tmp_path):
    pytest.importorskip("pandas")
    write_series(ct_phantom(n_slices=3, size=16), tmp_path / "ct")
    write_series([mr_multiframe_phantom(n_slices=2, size=16)], tmp_path / "mf")
    catalog = dw.scan(tmp_path, progress=False)
    df = catalog.to_dataframe()
    assert sorted(df["modality"]) == ["CT", "MR"]
    assert set(df["n_frames"]) == {3, 2}
    assert [s.modality for s in catalog] == list(df["modality"])
    assert catalog.get("nope") is None
    with pytest.raises(KeyError):
        catalog["nope"]


def test_4d_to_nifti(tmp_path):
    nib = pytest.importorskip("nibabel")
    series = dw.load_series(
        mr_multiframe_phantom(n_slices=4, size=16, n_timepoints=2), progress=False
    )
    out = series.to_nifti(tmp_path / "dyn.nii")
    img = nib.load(out)
    assert img.shape == (16, 16, 4, 2)
    np.testing.assert_array_equal(np.asarray(img.dataobj)[:, :, 2, 1], series.frame(2, 1).T)
    with pytest.raises(ValueError, match=".nii"):
        series.to_nifti(tmp_path / "dyn.img")


def test_opening_1000_slices_decodes_only_what_is_shown():
    series = dw.load_series(ct_phantom(n_slices=1000, size=8), progress=False)
    assert len(series) == 1000 and len(series._cache) == 0
    series.display(500)
    series.wait_prefetch()
    cached = [k for k in range(1000) if series.is_cached(k)]
    assert cached == [498, 499, 500, 501, 502]
    series.close()


def test_modality_lut_file_frame_matches_pydicom():
    from dicom_widgets._compat import apply_modality_lut
    from dicom_widgets.data import pydicom_file

    path = pydicom_file("modality_lut")
    series = dw.load_series(path, progress=False)
    assert series.has_modality_lut(0)
    ds = pydicom.dcmread(path)
    expected = apply_modality_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(series.frame(0), expected)
    lut = series.display_lut(0, "auto")
    np.testing.assert_array_equal(lut(series.raw_frame(0)), series.display(0, lut.window))


def test_volume_fill_on_integer_frames_and_cache_info(tmp_path):
    paths = write_series(mr_phantom(n_slices=4, size=16), tmp_path, shuffle=False)
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[:-100])
    series = dw.load_series(tmp_path, progress=False, prefetch=False)
    assert series.frame(0).dtype == np.uint16  # no rescale: stored values
    vol = series.volume(fill=np.nan, progress=True)
    assert vol.dtype == np.float32 and np.isnan(vol[3]).all() and not np.isnan(vol[:3]).any()
    info = series.cache_info()
    assert info["items"] == 3 and info["nbytes"] == 3 * 16 * 16 * 2
    assert info["max_bytes"] == dw.series.DEFAULT_CACHE_BYTES


def test_float_pixel_data_file(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from dicom_widgets._compat import write_dataset

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.30"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.Rows = ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 32
    ds.FloatPixelData = np.linspace(-1, 1, 16, dtype=np.float32).tobytes()
    write_dataset(ds, tmp_path / "float.dcm")
    series = dw.load_series(tmp_path / "float.dcm", progress=False)
    assert series.findings == []
    np.testing.assert_allclose(series.frame(0).ravel(), np.linspace(-1, 1, 16))
    assert series.display_lut(0) is None  # no integer fast path for float data
    shown = series.display(0, "full")
    assert shown.dtype == np.uint8 and shown.min() == 0 and shown.max() == 255


def test_rt_dose_frames_are_placed_by_grid_frame_offset_vector(tmp_path):
    """RT Dose: one file, many frames at one Image Position, spread by (3004,000C)."""
    from dicom_widgets.data import pydicom_file

    path = pydicom_file("rtdose")
    series = dw.load_series(path, progress=False)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    assert series.shape == (len(offsets), ds.Rows, ds.Columns)
    assert not [f for f in series.findings if f.code == "duplicate-position"]
    base = np.array([float(v) for v in ds.ImagePositionPatient])
    expected = base + np.outer(np.array(offsets) - offsets[0], [0, 0, 1])  # axial dose grid
    assert np.allclose(series.positions, expected)
    assert series.spacing[2] == pytest.approx(offsets[1] - offsets[0])
    # Frame k is the k-th plane of the dose grid.
    assert np.array_equal(series.raw_frame(3), pydicom.dcmread(path).pixel_array[3])

    # Absolute offsets (first one = the z of Image Position) on a tilted grid give the same
    # spacing along the plane normal; a vector of the wrong length is ignored (reported).
    tilted = pydicom.dcmread(path)
    tilted.ImageOrientationPatient = [1, 0, 0, 0, 0.8, -0.6]
    tilted.GridFrameOffsetVector = [base[2] + o for o in offsets]
    tilted.save_as(tmp_path / "tilted.dcm")
    turned = dw.load_series(tmp_path / "tilted.dcm", progress=False)
    assert turned.shape[0] == len(offsets)
    assert turned.spacing[2] == pytest.approx(offsets[1] - offsets[0])
    broken = pydicom.dcmread(path)
    broken.GridFrameOffsetVector = offsets[:-1]
    broken.save_as(tmp_path / "broken.dcm")
    # Its frames cannot be placed: all kept, in frame order, as time points, with a warning.
    unplaced = dw.load_series(tmp_path / "broken.dcm", progress=False)
    assert (len(unplaced), unplaced.n_times) == (1, len(offsets))
    assert [(f.severity, f.code) for f in unplaced.findings] == [
        ("warning", "frames-in-file-order")
    ]
    assert unplaced.time_key == "FrameNumber"
    assert np.array_equal(unplaced.raw_frame(0, time=3), pydicom.dcmread(path).pixel_array[3])


def _nm_reconstruction(
    path,
    *,
    slices: list[int],
    time_slots: int = 0,
    spacing: float | None = 4.8,
    top_level_position: bool = False,
    orientation=(1, 0, 0, 0, 1, 0),
):
    """An NM Image (RECON TOMO / RECON GATED TOMO) laid out as PS3.3 C.8.4.8.1 describes.

    Frame f holds Slice Vector ``slices[f]`` (and, gated, Time Slot Vector) and its pixels
    are ``100 * slice + time slot`` (slot 1 when not gated) so a test can tell every frame apart.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.tag import Tag
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from dicom_widgets._compat import write_dataset

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "NM"
    slots = max(time_slots, 1)
    frame_slices = [s for _ in range(slots) for s in slices]
    frame_slots = [t + 1 for t in range(slots) for _ in slices]
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON GATED TOMO" if time_slots else "RECON TOMO"]
    ds.NumberOfFrames = len(frame_slices)
    ds.NumberOfSlices = len(slices)
    ds.SliceVector = frame_slices
    if time_slots:
        ds.FrameIncrementPointer = [Tag(0x0054, 0x0060), Tag(0x0054, 0x0070), Tag(0x0054, 0x0080)]
        ds.RRIntervalVector = [1] * len(frame_slices)
        ds.TimeSlotVector = frame_slots
        ds.NumberOfTimeSlots = time_slots
    else:
        ds.FrameIncrementPointer = Tag(0x0054, 0x0080)
    detector = Dataset()
    detector.ImagePositionPatient = [-76.8, -60.0, 100.0]
    detector.ImageOrientationPatient = list(orientation)
    ds.DetectorInformationSequence = [detector]
    if top_level_position:  # some writers repeat them at the top level
        ds.ImagePositionPatient = detector.ImagePositionPatient
        ds.ImageOrientationPatient = detector.ImageOrientationPatient
    ds.PixelSpacing = [4.8, 4.8]
    if spacing is not None:
        ds.SpacingBetweenSlices = spacing
        ds.SliceThickness = abs(spacing)
    ds.Rows, ds.Columns = 6, 5
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    values = [100 * s + t for s, t in zip(frame_slices, frame_slots)]
    ds.PixelData = np.repeat(np.array(values, "<u2"), 30).tobytes()
    write_dataset(ds, path)
    return path


@pytest.mark.parametrize("top_level_position", [False, True])
@pytest.mark.parametrize("spacing", [4.8, -4.8])
def test_nm_reconstruction_slices_are_placed_by_slice_vector(tmp_path, top_level_position, spacing):
    """NM RECON TOMO: one file, frames indexed by Slice Vector, the position in the detector item.

    Slice s lies ``(s - 1) * Spacing Between Slices`` along the plane normal from Image
    Position (Patient); a negative spacing stacks them the other way (PS3.3 C.8.4.15). Frames
    stored in any order come out sorted along the normal; a position repeated at the top
    level (as some writers do) changes nothing -- it used to collapse the volume to one slice.
    """
    path = _nm_reconstruction(
        tmp_path / "nm.dcm",
        slices=[3, 1, 4, 2, 5],
        spacing=spacing,
        top_level_position=top_level_position,
    )
    series = dw.load_series(path, progress=False)
    assert series.findings == []
    assert series.sort_method == "geometry"
    assert series.shape == (5, 6, 5)
    by_position = sorted(range(1, 6), key=lambda s: (s - 1) * spacing)
    assert [int(series.raw_frame(k)[0, 0]) // 100 for k in range(5)] == by_position
    expected = np.array([[-76.8, -60.0, 100.0 + (s - 1) * spacing] for s in by_position])
    assert np.allclose(series.positions, expected)
    assert series.spacing == pytest.approx((4.8, 4.8, 4.8))


def test_nm_reconstruction_on_a_tilted_plane_follows_its_normal(tmp_path):
    path = _nm_reconstruction(
        tmp_path / "nm.dcm", slices=[1, 2, 3], orientation=(1, 0, 0, 0, 0.8, -0.6)
    )
    series = dw.load_series(path, progress=False)
    normal = np.cross([1, 0, 0], [0, 0.8, -0.6])
    assert np.allclose(series.positions[2] - series.positions[0], 2 * 4.8 * normal)
    assert series.spacing[2] == pytest.approx(4.8)


def test_nm_gated_reconstruction_is_slices_by_time_slots(tmp_path):
    """RECON GATED TOMO: 12 time slots of 4 slices, ordered numerically (slot 10 after 9)."""
    path = _nm_reconstruction(tmp_path / "gated.dcm", slices=[1, 2, 3, 4], time_slots=12)
    series = dw.load_series(path, progress=False)
    assert (len(series), series.n_times) == (4, 12)
    assert series.time_key == "NMFrameVectors"
    assert [f.code for f in series.findings] == ["4d"]
    for t in range(12):
        for k in range(4):
            assert int(series.raw_frame(k, time=t)[0, 0]) == 100 * (k + 1) + t + 1


def test_nm_reconstruction_without_spacing_keeps_every_frame(tmp_path):
    """No Spacing Between Slices nor Slice Thickness: no geometry, but no frame is lost."""
    path = _nm_reconstruction(tmp_path / "nm.dcm", slices=[1, 2, 3], spacing=None)
    series = dw.load_series(path, progress=False)
    assert len(series) * series.n_times == 3
    assert [int(series.raw_frame(k)[0, 0]) for k in range(3)] == [101, 201, 301]
