"""The bundled sample data: phantoms round-trip through disk as valid Part 10 files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from dicom_widgets._compat import IS_PYDICOM3
from dicom_widgets.data import (
    CT_REGIONS,
    MR_REGIONS,
    PYDICOM_FILES,
    REGION_CENTERS_MM,
    all_pydicom_test_files,
    charset_files,
    ct_phantom,
    mr_multiframe_phantom,
    mr_phantom,
    phantom_values_at,
    pydicom_file,
    sample_series_folder,
    write_series,
)


def _geometry(ds):
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    return iop[:3], iop[3:], np.array(ds.ImagePositionPatient, dtype=float)


def _voxel_of(point_mm, ds_list):
    """Index (slice, row, col) of the voxel nearest a patient point, from the files' geometry."""
    row, col, _ = _geometry(ds_list[0])
    normal = np.cross(row, col)
    dists = [float(np.dot(point_mm - _geometry(ds)[2], normal)) for ds in ds_list]
    k = int(np.argmin(np.abs(dists)))
    origin = _geometry(ds_list[k])[2]
    dy, dx = (float(v) for v in ds_list[k].PixelSpacing)
    rel = point_mm - origin
    return k, int(round(np.dot(rel, col) / dy)), int(round(np.dot(rel, row) / dx))


def test_ct_phantom_round_trips_as_valid_part10(tmp_path):
    series = ct_phantom(n_slices=12, size=64)
    paths = write_series(series, tmp_path, seed=5)
    assert sorted(p.name for p in paths) != [p.name for p in paths], "names must be shuffled"
    read = []
    for path in paths:
        raw = path.read_bytes()
        assert raw[128:132] == b"DICM", "Part 10 files start with a preamble and DICM"
        ds = pydicom.dcmread(path)  # plain pydicom, no force
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        read.append(ds)
    # Files come back in the given order; their geometry is self-consistent.
    row, col, _ = _geometry(read[0])
    normal = np.cross(row, col)
    along = np.array([np.dot(_geometry(ds)[2], normal) for ds in read])
    steps = np.diff(along)
    assert np.allclose(steps, float(read[0].SliceThickness))
    assert len({ds.SeriesInstanceUID for ds in read}) == 1
    assert len({ds.StudyInstanceUID for ds in read}) == 1
    assert len({ds.FrameOfReferenceUID for ds in read}) == 1
    assert len({ds.SOPInstanceUID for ds in read}) == len(read)
    assert [ds.InstanceNumber for ds in read] == list(range(1, 13))


def test_ct_phantom_hu_values_of_known_regions(tmp_path):
    series = ct_phantom(n_slices=40, size=128)
    paths = write_series(series, tmp_path)
    read = [pydicom.dcmread(p) for p in paths]
    for name, center in REGION_CENTERS_MM.items():
        k, r, c = _voxel_of(np.array(center), read)
        ds = read[k]
        hu = ds.pixel_array[r, c] * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert hu == CT_REGIONS[name], name
    # A corner of every slice is air.
    corner = read[0].pixel_array[0, 0] + float(read[0].RescaleIntercept)
    assert corner == CT_REGIONS["air"]


def test_ct_phantom_noise_is_deterministic():
    a = ct_phantom(n_slices=2, size=32, noise=10.0, seed=4)
    b = ct_phantom(n_slices=2, size=32, noise=10.0, seed=4)
    assert a[1].PixelData == b[1].PixelData
    assert a[0].SOPInstanceUID == b[0].SOPInstanceUID
    c = ct_phantom(n_slices=2, size=32, noise=10.0, seed=5)
    assert c[0].SOPInstanceUID != a[0].SOPInstanceUID
    assert c[0].PatientID != a[0].PatientID


@pytest.mark.parametrize("orientation", ["sagittal", "coronal", "oblique", "axial"])
def test_mr_phantom_geometry_and_values(orientation, tmp_path):
    series = mr_phantom(n_slices=30, size=96, orientation=orientation, slice_spacing=3.0)
    read = [pydicom.dcmread(p) for p in write_series(series, tmp_path)]
    row, col, _ = _geometry(read[0])
    assert abs(np.dot(row, col)) < 1e-5 and np.isclose(np.linalg.norm(row), 1, atol=1e-5)
    normal = np.cross(row, col)
    along = np.array([np.dot(_geometry(ds)[2], normal) for ds in read])
    assert np.allclose(np.diff(along), 3.0, atol=1e-4)
    hits = 0
    for name, center in REGION_CENTERS_MM.items():
        k, r, c = _voxel_of(np.array(center), read)
        if not (0 <= r < 96 and 0 <= c < 96):
            continue
        # Sample where the file says that pixel is, and compare with the model.
        pos = (
            _geometry(read[k])[2]
            + r * float(read[k].PixelSpacing[0]) * col
            + c * float(read[k].PixelSpacing[1]) * row
        )
        assert read[k].pixel_array[r, c] == phantom_values_at(pos, modality="MR")
        hits += read[k].pixel_array[r, c] == MR_REGIONS[name]
    assert hits >= 3


def test_mr_multiframe_phantom_per_frame_geometry(tmp_path):
    ds = mr_multiframe_phantom(n_slices=6, size=32, n_timepoints=3)
    path = write_series([ds], tmp_path, shuffle=False)[0]
    back = pydicom.dcmread(path)
    assert back.NumberOfFrames == 18
    arr = back.pixel_array
    assert arr.shape == (18, 32, 32)
    pfg = back.PerFrameFunctionalGroupsSequence
    positions = [tuple(item.PlanePositionSequence[0].ImagePositionPatient) for item in pfg]
    assert positions[:6] == positions[6:12] == positions[12:]
    times = [item.FrameContentSequence[0].TemporalPositionIndex for item in pfg]
    assert times == [1] * 6 + [2] * 6 + [3] * 6
    assert not np.array_equal(arr[3], arr[15]), "the tumour brightens over time"


@pytest.mark.parametrize(
    "call",
    [
        lambda: ct_phantom(n_slices=0),
        lambda: ct_phantom(n_slices=-3),
        lambda: ct_phantom(size=2),
        lambda: ct_phantom(slice_thickness=0),
        lambda: ct_phantom(n_slices=2.5),
        lambda: ct_phantom(noise=-1),
        lambda: mr_phantom(orientation="diagonal"),
        lambda: mr_phantom(slice_spacing=float("nan")),
        lambda: mr_multiframe_phantom(n_timepoints=0),
    ],
)
def test_sample_data_rejects_nonsense(call):
    with pytest.raises(ValueError, match="must be|orientation"):
        call()


def test_short_names_resolve_to_real_files():
    missing = []
    for short in PYDICOM_FILES:
        try:
            assert pydicom_file(short).is_file(), short
        except FileNotFoundError:
            missing.append(short)
    # pydicom 2.4 lacks a few examples that pydicom 3 added; 3.x must have them all.
    allowed = set() if IS_PYDICOM3 else {"us_rgb", "us_cine", "us_palette", "overlay_example"}
    assert set(missing) <= allowed, missing
    with pytest.raises(KeyError, match="known short names"):
        pydicom_file("nope")
    assert pydicom_file("dicomdir").parent.name == "dicomdirtests"


def test_test_file_listing_and_charsets():
    files = all_pydicom_test_files()
    names = {p.name for p in files}
    assert {"CT_small.dcm", "MR_truncated.dcm", "emri_small.dcm"} <= names
    assert len(charset_files()) >= 10


def test_sample_series_folder_is_idempotent(tmp_path):
    root = sample_series_folder(tmp_path / "s", n_slices=4, size=32)
    first = sorted(p.stat().st_mtime_ns for p in root.rglob("*.dcm"))
    assert len(first) == 4 + 32 + 1
    sample_series_folder(tmp_path / "s", n_slices=4, size=32)
    assert sorted(p.stat().st_mtime_ns for p in root.rglob("*.dcm")) == first


def test_write_series_never_overwrites(tmp_path):
    series = ct_phantom(n_slices=2, size=16)
    write_series(series, tmp_path, shuffle=False)
    with pytest.raises(FileExistsError):
        write_series(series, tmp_path, shuffle=False)
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files left behind"
