"""Every real DICOM file pydicom ships goes through scan, load_series and frame() safely.

Broken files are allowed to fail, but only with the package's own errors, naming the
file; files pydicom itself decodes must decode to the same stored values.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

import dicom_widgets as dw
from dicom_widgets._compat import IS_PYDICOM3
from dicom_widgets.data import all_pydicom_test_files, charset_files, pydicom_file
from dicom_widgets.display import to_display
from dicom_widgets.errors import DecodeError, DicomReadError, SeriesSelectionError

ALL_FILES = all_pydicom_test_files() + charset_files()
HAVE_CODECS = importlib.util.find_spec("pylibjpeg") is not None

# Files that are broken on purpose (or need a decoder no extra provides) and may fail to decode
# even with the codecs extra installed. Anything else failing is a regression.
KNOWN_UNDECODABLE = {
    "MR_truncated.dcm",  # pixel data cut short
    "badVR.dcm",  # invalid Rows value
    "JPEG-lossy.dcm",  # 12-bit JPEG Extended: only GDCM decodes it
    "JPEG2000-embedded-sequence-delimiter.dcm",  # corrupt codestream
    "emri_small_jpeg_2k_lossless_too_short.dcm",  # truncated
    "chrJapMulti.dcm",  # charset test files carry Rows but no pixel data
    "chrJapMultiExplicitIR6.dcm",
    "chrKoreanMulti.dcm",
}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _pydicom_frame(path: Path, frame: int) -> np.ndarray | None:
    """Stored values as pydicom decodes them, or None when pydicom cannot."""
    try:
        ds = pydicom.dcmread(path, force=True)
        arr = ds.pixel_array
    except Exception:  # noqa: BLE001 - pydicom failing is fine: we only compare when it works
        return None
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        return arr[frame]
    return arr


@pytest.mark.parametrize("path", ALL_FILES, ids=_id)
def test_every_pydicom_file_scans_loads_and_decodes_safely(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the deliberately odd files
        catalog = dw.scan(path, progress=False)
        repr(catalog)
        try:
            series = dw.load_series(path, progress=False, prefetch=False)
        except DicomReadError as exc:
            assert str(path) in str(exc)
            assert catalog.errors
            return
        except SeriesSelectionError as exc:
            # DICOMDIRs listing many series, or files that are not DICOM at all.
            assert len(catalog) > 1 or not catalog.entries, str(exc)
            return
        text = repr(series)
        assert isinstance(text, str)
        assert all(isinstance(f, dw.Finding) for f in series.findings)
        if len(series) == 0:
            assert any(f.code == "no-pixel-data" for f in series.findings)
            with pytest.raises(IndexError):
                series.frame(0)
            return
        for index in sorted({0, len(series) - 1}):
            try:
                frame = series.frame(index)
                shown = series.display(index)
            except DecodeError as exc:
                ref = series.frame_ref(index)
                assert ref.path is not None and Path(ref.path).name in str(exc)
                assert series.frame_error(index) == str(exc)
                assert any(f.code == "decode-failed" for f in series.findings)
                if HAVE_CODECS:
                    assert path.name in KNOWN_UNDECODABLE, str(exc)
                continue
            assert frame.shape[:2] == (series.frame_ref(index).rows, series.frame_ref(index).cols)
            assert shown.dtype == np.uint8 and shown.shape[:2] == frame.shape[:2]
            if not series.is_color:
                # The LUT fast path shows what the float pipeline shows.
                reference = to_display(
                    frame, "auto", photometric=series.photometric, ds=series.frame_ref(index).header
                )
                fast = series.display(index, "auto")
                assert np.max(np.abs(fast.astype(int) - reference.astype(int))) <= 1
                ref = series.frame_ref(index)
                expected = _pydicom_frame(Path(ref.path), ref.frame)
                if expected is not None:
                    np.testing.assert_array_equal(series.raw_frame(index), expected)


def test_sweep_covers_the_interesting_files():
    names = {p.name for p in ALL_FILES}
    for short in (
        "multiframe",
        "rgb",
        "ybr",
        "monochrome1",
        "palette",
        "deflated",
        "mr_small_bigendian",
        "mr_small_rle",
        "mr_small_jpeg2000",
        "mr_truncated",
        "rtplan",
        "sr",
        "dicomdir",
    ):
        assert pydicom_file(short).name in names
    assert any(p.parent.name == "dicomdirtests" for p in ALL_FILES)


def test_scan_dicomdirtests_folder_and_its_dicomdir_agree():
    dicomdir = pydicom_file("dicomdir")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_folder = dw.scan(dicomdir.parent, progress=False)
        by_dicomdir = dw.scan(dicomdir, progress=False)
    assert not by_dicomdir.errors and by_dicomdir.dicomdirs == [str(dicomdir)]
    assert str(dicomdir) in by_folder.dicomdirs
    # The DICOMDIR indexes every image under dicomdirtests except the TINY_ALPHA sub-set,
    # which has its own DICOMDIR; the folder walk finds those too.
    folder_keys = {e.key for e in by_folder.entries if "TINY_ALPHA" not in (e.paths or [""])[0]}
    assert {e.key for e in by_dicomdir.entries} == folder_keys
    indexed = [
        p
        for sub in ("77654033", "98892001", "98892003")
        for p in (dicomdir.parent / sub).rglob("*")
        if p.is_file()
    ]
    assert by_dicomdir.n_files == len(indexed) > 20
    assert any(p.endswith("README.txt") for p in by_folder.non_dicom)
    # Multi-planar localizers in one series are split by orientation and reported.
    splits = [f for f in by_dicomdir.findings if f.code == "split"]
    assert splits
    # Every entry opens and decodes.
    for series in by_dicomdir:
        assert len(series) >= 1
        assert series.frame(0).ndim == 2
    with pytest.raises(SeriesSelectionError, match="series_uid="):
        dw.load_series(dicomdir, progress=False)
    key = by_dicomdir.keys()[1]
    assert dw.load_series(dicomdir, series_uid=key, progress=False).key == key


def test_multiframe_and_colour_files_from_pydicom():
    mf = dw.load_series(pydicom_file("multiframe"), progress=False)
    assert len(mf) * mf.n_times == 10
    rgb = dw.load_series(pydicom_file("rgb"), progress=False)
    assert rgb.is_color and rgb.photometric == "RGB"
    frame = rgb.frame(0)
    assert frame.shape == (100, 100, 3) and frame.dtype == np.uint8
    ybr = dw.load_series(pydicom_file("ybr"), progress=False)
    # The YBR file holds the same picture as the RGB one: it must come back as RGB.
    diff = np.abs(ybr.frame(0).astype(int) - frame.astype(int))
    assert diff.max() <= 8 and diff.mean() < 1.5  # 8-bit YBR round trip rounding
    mono1 = dw.load_series(pydicom_file("monochrome1"), progress=False)
    assert mono1.photometric == "MONOCHROME1"


@pytest.mark.skipif(not IS_PYDICOM3, reason="the us_palette file comes with pydicom-data 3")
def test_palette_file_gives_rgb():
    try:
        path = pydicom_file("us_palette")
    except FileNotFoundError:
        pytest.skip("pydicom-data palette example not installed")
    series = dw.load_series(path, progress=False)
    assert series.is_color and series.frame(0).ndim == 3


_NO_CODECS_SCRIPT = textwrap.dedent(
    """
    import sys, importlib.abc

    class _Hide(importlib.abc.MetaPathFinder):
        # Behave as if the codecs extra were not installed.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"pylibjpeg", "libjpeg", "openjpeg", "rle", "jpeg_ls", "gdcm"}:
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, _Hide())
    import dicom_widgets as dw
    from dicom_widgets.data import pydicom_file
    series = dw.load_series(pydicom_file("mr_small_jpegls"), progress=False)
    try:
        series.frame(0)
    except dw.DecodeError as exc:
        print("DECODE-ERROR", exc)
    else:
        print("DECODED")
    """
)


def test_missing_codec_message_names_the_extra():
    """Run in a fresh interpreter where the pylibjpeg packages cannot be imported."""
    result = subprocess.run(
        [sys.executable, "-c", _NO_CODECS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "DECODE-ERROR" in out, out
    assert 'pip install "dicom-widgets[codecs]"' in out
    assert "MR_small_jpeg_ls_lossless.dcm" in out


def _ref_facts(ref):
    return (
        None if ref.position is None else tuple(np.round(ref.position, 6)),
        None if ref.orientation is None else tuple(np.round(ref.orientation, 6)),
        ref.pixel_spacing,
        ref.slope,
        ref.intercept,
        ref.rows,
        ref.cols,
        ref.samples,
        ref.bits_allocated,
        ref.photometric,
        ref.instance_number,
        ref.sop_uid,
        ref.series_uid,
        ref.acquisition_seconds,
    )


def test_fast_header_reader_agrees_with_pydicom_on_every_file():
    """The fast reader must describe frames exactly as the pydicom path does (or decline)."""
    from dicom_widgets.series._fastheader import read_fast
    from dicom_widgets.series._frames import frames_from_header, has_pixel_module

    used = 0
    warnings.simplefilter("ignore")  # reset by pytest after the test; odd files warn on access
    for path in ALL_FILES:
        light = read_fast(path)
        if light is None:
            continue
        used += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        light_ds, light_refs = light
        expected = list(frames_from_header(full, path)) if has_pixel_module(full) else []
        assert [_ref_facts(r) for r in light_refs] == [_ref_facts(r) for r in expected], path
        # Light headers convert lazily to the same values pydicom gives.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for keyword in ("Modality", "SeriesDescription", "PatientName", "WindowCenter"):
                if keyword in full:
                    assert light_ds.get(keyword) == full.get(keyword), (path, keyword)
    assert used > 50  # the common case really goes through the fast path


def test_fast_and_pydicom_paths_give_the_same_series(ct_folder, monkeypatch):
    import dicom_widgets.series._scan as scan_module

    fast = dw.load_series(ct_folder, progress=False, prefetch=False)
    monkeypatch.setattr(scan_module, "FAST_HEADERS", False)
    slow = dw.load_series(ct_folder, progress=False, prefetch=False)
    assert fast.files == slow.files
    np.testing.assert_array_equal(fast.positions, slow.positions)
    assert fast.spacing == slow.spacing and fast.default_window == slow.default_window
    np.testing.assert_array_equal(fast.frame(3), slow.frame(3))
    # dataset() always gives the full header, whichever reader opened the file.
    assert fast.dataset(3).InstitutionName == slow.dataset(3).InstitutionName
    assert fast.dataset(3) is fast.dataset(3)


def test_dicomdir_under_another_name_and_missing_references(tmp_path):
    import shutil

    dicomdir = pydicom_file("dicomdir")
    copy = tmp_path / "dicomtree"
    shutil.copytree(dicomdir.parent, copy, ignore=shutil.ignore_patterns("TINY_ALPHA"))
    renamed = copy / "index.dcm"
    (copy / "DICOMDIR").rename(renamed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = dw.scan(dicomdir, progress=False)
        by_renamed = dw.scan(renamed, progress=False)
    assert sorted(by_renamed.keys()) == sorted(reference.keys())
    # A referenced file that disappeared is an error naming it; the rest still opens.
    victim = Path(reference.entries[0].paths[0])
    (copy / victim.relative_to(dicomdir.parent)).unlink()
    shutil.copy(renamed, copy / "DICOMDIR")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        damaged = dw.scan(copy / "DICOMDIR", progress=False)
    assert len(damaged.errors) == 1 and "missing" in damaged.errors[0][1]
    assert damaged.errors[0][0].endswith(victim.name)
    assert (
        sum(e.n_instances for e in damaged.entries)
        == sum(e.n_instances for e in reference.entries) - 1
    )
