"""Adversarial header values: NaN/inf/garbage numbers, impossible image attributes, HTML
payloads in every text VR, duplicated and mixed instances, deep nesting, huge headers.

Series are written with the CT phantom into tmp folders; garbage numbers ("abc" in a DS/IS)
are patched into the written bytes, since pydicom refuses to create them.
Contract: only :class:`DicomWidgetsError` subclasses or documented ``ValueError``/``TypeError``
escape; reprs never raise and never let markup through; the rest of a series still opens.
"""

from __future__ import annotations

import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dicom_widgets as dw
from dicom_widgets import deid, tags
from dicom_widgets.data import ct_phantom, write_series
from dicom_widgets.errors import DicomWidgetsError
from dicom_widgets.html import catalog_html, dataset_html, series_html

ALLOWED = (DicomWidgetsError, ValueError, TypeError)
PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&<svg/onload=alert(3)>"


def _guard(where, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ALLOWED:
        return None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - what must not escape
        pytest.fail(f"{where}: {type(exc).__module__}.{type(exc).__name__}: {exc}")


class _ActiveContent(HTMLParser):
    """Collects elements and attributes that would run script or load a URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "svg", "iframe", "object", "embed", "base", "form", "meta", "link"}:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in {"src", "href"} and not (value or "").startswith(
                ("data:image/png;base64,", "#")
            ):
                self.found.append(f"<{tag} {name}={value!r}>")


def _no_markup(html: str, where: str) -> None:
    parser = _ActiveContent()
    parser.feed(html)
    parser.close()
    assert not parser.found, f"{where}: active content reached the HTML: {parser.found[:5]}"
    for needle in ("<script", "<img src=x", "<svg"):
        assert needle not in html, f"{where}: unescaped {needle!r} in the HTML"


def _exercise_folder(folder: Path, where: str, *, expect_slices: int | None = None):
    catalog = dw.scan(folder, progress=False)
    html = catalog_html(catalog)
    assert 'class="dw-repr"' in html
    total = 0
    for key in list(catalog.keys()):
        series = _guard(f"{where}: catalog[{key}]", catalog.__getitem__, key)
        if series is None:
            continue
        with series:
            total += len(series)
            repr(series)
            list(series.findings)
            for i in sorted({0, len(series) - 1}) if len(series) else []:
                _guard(f"{where}: frame({i})", series.frame, i)
                shown = _guard(f"{where}: display({i})", series.display, i)
                if shown is not None:
                    assert shown.dtype == np.uint8
            if len(series):
                _guard(f"{where}: volume", series.volume, fill=np.nan)
                _guard(f"{where}: affine", series.affine)
                _guard(f"{where}: default_window", lambda s=series: s.default_window)
            assert 'class="dw-repr"' in series_html(series, n_thumbnails=2, thumbnail_size=32)
    if expect_slices is not None:
        assert total >= expect_slices, f"{where}: only {total} slices open"
    return catalog


def _exercise_dataset(ds, where: str) -> None:
    html = dataset_html(ds, thumbnail_size=32)
    assert 'class="dw-repr"' in html
    _guard(f"{where}: flatten", tags.flatten, ds)
    _guard(f"{where}: search", tags.search, ds, "vr:DS")
    _guard(f"{where}: compare", dw.compare, ds, ds)
    _guard(f"{where}: anonymize", deid.anonymize, ds)


def _write(datasets, folder: Path) -> list[Path]:
    return write_series(datasets, folder, shuffle=False)


# --- garbage in numeric strings ------------------------------------------------------------

PLACEHOLDER = "9.87654321"  # 10 chars, even: replaced byte for byte after writing
GARBAGE = ["abc", "nan", "-inf", "1e999", "\\"]
NUMERIC = {
    "RescaleSlope": PLACEHOLDER,
    "RescaleIntercept": PLACEHOLDER,
    "WindowCenter": PLACEHOLDER,
    "WindowWidth": PLACEHOLDER,
    "SliceThickness": PLACEHOLDER,
    "ImagePositionPatient": [PLACEHOLDER, "0", "0"],
    "ImageOrientationPatient": [PLACEHOLDER, "0", "0", "0", "1", "0"],
    "PixelSpacing": [PLACEHOLDER, PLACEHOLDER],
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("keyword", list(NUMERIC))
def test_garbage_numeric_strings(keyword, tmp_path):
    for n, garbage in enumerate(GARBAGE):
        datasets = ct_phantom(n_slices=4, size=16)
        for ds in datasets:
            setattr(ds, keyword, NUMERIC[keyword])
        folder = tmp_path / f"case{n}"
        paths = _write(datasets, folder)
        new = garbage.encode().ljust(len(PLACEHOLDER))
        for path in paths[:3]:  # the last slice stays valid
            path.write_bytes(path.read_bytes().replace(PLACEHOLDER.encode(), new))
        where = f"{keyword}={garbage!r}"
        _exercise_folder(folder, where, expect_slices=4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(paths[0])
        _exercise_dataset(ds, where)


# --- impossible values set through pydicom -------------------------------------------------

CASES = {
    "ImagePositionPatient NaN": lambda ds, i: setattr(ds, "ImagePositionPatient", ["nan"] * 3),
    "ImagePositionPatient inf": lambda ds, i: setattr(
        ds, "ImagePositionPatient", ["inf", "0", "0"]
    ),
    "ImagePositionPatient 1e308": lambda ds, i: setattr(
        ds, "ImagePositionPatient", ["1e308", "-1e308", str(1e307 * i)]
    ),
    "ImagePositionPatient 2 values": lambda ds, i: setattr(ds, "ImagePositionPatient", ["1", "2"]),
    "ImageOrientationPatient zeros": lambda ds, i: setattr(
        ds, "ImageOrientationPatient", ["0"] * 6
    ),
    "ImageOrientationPatient parallel": lambda ds, i: setattr(
        ds, "ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"]
    ),
    "PixelSpacing 0": lambda ds, i: setattr(ds, "PixelSpacing", ["0", "0"]),
    "PixelSpacing negative": lambda ds, i: setattr(ds, "PixelSpacing", ["-1", "-1"]),
    "PixelSpacing 1 value": lambda ds, i: setattr(ds, "PixelSpacing", ["1"]),
    "RescaleSlope 0": lambda ds, i: setattr(ds, "RescaleSlope", "0"),
    "RescaleSlope -1": lambda ds, i: setattr(ds, "RescaleSlope", "-1"),
    "RescaleSlope NaN": lambda ds, i: setattr(ds, "RescaleSlope", "nan"),
    "RescaleSlope 1e308": lambda ds, i: setattr(ds, "RescaleSlope", "1e308"),
    "WindowWidth 0": lambda ds, i: setattr(ds, "WindowWidth", "0"),
    "WindowWidth negative": lambda ds, i: setattr(ds, "WindowWidth", "-100"),
    "WindowWidth NaN": lambda ds, i: setattr(ds, "WindowWidth", "nan"),
    "WindowCenter 1e308": lambda ds, i: setattr(ds, "WindowCenter", "1e308"),
    "BitsStored > BitsAllocated": lambda ds, i: (
        setattr(ds, "BitsStored", 32),
        setattr(ds, "HighBit", 31),
    ),
    "BitsAllocated 12": lambda ds, i: setattr(ds, "BitsAllocated", 12),
    "Rows 0": lambda ds, i: setattr(ds, "Rows", 0),
    "Columns 0": lambda ds, i: setattr(ds, "Columns", 0),
    "NumberOfFrames 0": lambda ds, i: setattr(ds, "NumberOfFrames", 0),
    "NumberOfFrames 5 (too few bytes)": lambda ds, i: setattr(ds, "NumberOfFrames", 5),
    "SamplesPerPixel 3 on grey data": lambda ds, i: setattr(ds, "SamplesPerPixel", 3),
    "PixelData short": lambda ds, i: setattr(ds, "PixelData", ds.PixelData[:100]),
    "PixelData odd length": lambda ds, i: setattr(ds, "PixelData", ds.PixelData[:-1]),
    "PixelData double": lambda ds, i: setattr(ds, "PixelData", ds.PixelData * 2),
    "Photometric unknown": lambda ds, i: setattr(ds, "PhotometricInterpretation", "FOO"),
    "Photometric empty": lambda ds, i: setattr(ds, "PhotometricInterpretation", ""),
    "Photometric RGB on grey": lambda ds, i: setattr(ds, "PhotometricInterpretation", "RGB"),
    "Photometric YBR on grey": lambda ds, i: setattr(ds, "PhotometricInterpretation", "YBR_FULL"),
    "Photometric PALETTE without LUT": lambda ds, i: setattr(
        ds, "PhotometricInterpretation", "PALETTE COLOR"
    ),
    "Charset unknown": lambda ds, i: setattr(ds, "SpecificCharacterSet", "GARBAGE"),
    "Charset bad ISO 2022": lambda ds, i: setattr(ds, "SpecificCharacterSet", "ISO 2022 IR 999"),
    "Charset multi garbage": lambda ds, i: setattr(ds, "SpecificCharacterSet", ["", "X", "\x1b$B"]),
    "InstanceNumber huge": lambda ds, i: setattr(ds, "InstanceNumber", "99999999999"),
    "no SeriesInstanceUID": lambda ds, i: delattr(ds, "SeriesInstanceUID"),
    "no SOPInstanceUID": lambda ds, i: delattr(ds, "SOPInstanceUID"),
    "no geometry": lambda ds, i: (
        delattr(ds, "ImagePositionPatient"),
        delattr(ds, "ImageOrientationPatient"),
    ),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES))
def test_impossible_values_in_every_slice(case, tmp_path):
    datasets = ct_phantom(n_slices=4, size=16)
    for i, ds in enumerate(datasets):
        CASES[case](ds, i)
    paths = _write(datasets, tmp_path / "src")
    _exercise_folder(tmp_path / "src", case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(paths[0], force=True)
    _exercise_dataset(ds, case)
    _exercise_dataset(datasets[1], case + " (in memory)")
    report = deid.anonymize_files([tmp_path / "src"], tmp_path / "out", progress=False, fsync=False)
    for outcome in report.outcomes:
        assert outcome.status in {"written", "error", "exists", "verification_failed"}
        if outcome.status != "written":
            assert outcome.message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["RescaleSlope NaN", "PixelData short", "Photometric unknown"])
def test_one_bad_slice_does_not_lose_the_others(case, tmp_path):
    datasets = ct_phantom(n_slices=6, size=16)
    CASES[case](datasets[2], 2)
    _write(datasets, tmp_path)
    series = dw.load_series(tmp_path, progress=False)
    with series:
        assert len(series) >= 5
        ok = 0
        for i in range(len(series)):
            if _guard(f"{case}: display({i})", series.display, i) is not None:
                ok += 1
        assert ok >= 5


@pytest.mark.timeout(60)
def test_palette_without_lut_is_a_decode_error(tmp_path):
    datasets = ct_phantom(n_slices=3, size=16)
    for ds in datasets:
        ds.PhotometricInterpretation = "PALETTE COLOR"
    _write(datasets, tmp_path)
    series = dw.load_series(tmp_path, progress=False)
    with series:
        with pytest.raises(DicomWidgetsError, match="IM_000"):
            series.frame(0)
        assert np.isnan(series.volume(fill=np.nan)).all()


# --- duplicates and mixed instances --------------------------------------------------------


@pytest.mark.timeout(60)
def test_duplicated_sop_instance_uid_with_different_pixels(tmp_path):
    datasets = ct_phantom(n_slices=5, size=16)
    for ds in datasets[1:3]:
        ds.SOPInstanceUID = datasets[0].SOPInstanceUID
        ds.file_meta.MediaStorageSOPInstanceUID = datasets[0].SOPInstanceUID
    _write(datasets, tmp_path / "src")
    series = dw.load_series(tmp_path / "src", progress=False)
    with series:
        assert "duplicate-instance" in {f.code for f in series.findings}
        for i in range(len(series)):
            assert series.display(i).dtype == np.uint8
    report = deid.anonymize_files([tmp_path / "src"], tmp_path / "out", progress=False, fsync=False)
    written = [o.output for o in report.outcomes if o.status == "written"]
    # Different content under one UID must not overwrite each other in the output.
    assert len(set(written)) == len(written) == 5


@pytest.mark.timeout(60)
def test_mixed_sizes_in_one_series_uid(tmp_path):
    datasets = ct_phantom(n_slices=6, size=16)
    for ds, (rows, cols) in zip(datasets[:2], [(8, 8), (16, 8)]):
        ds.Rows, ds.Columns = rows, cols
        ds.PixelData = np.zeros((rows, cols), np.int16).tobytes()
    _write(datasets, tmp_path)
    catalog = _exercise_folder(tmp_path, "mixed sizes", expect_slices=6)
    sizes = {(e.rows, e.cols) for e in catalog.entries}
    assert {(16, 16), (8, 8), (16, 8)} <= sizes
    # load_series picks the main stack instead of failing or stacking mismatched frames.
    series = dw.load_series(tmp_path, progress=False)
    with series:
        assert series.volume().shape == (4, 16, 16)


# --- HTML payloads in every text VR --------------------------------------------------------

TEXT_VRS = ["AE", "AS", "CS", "DA", "DT", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR", "UT"]


def _payload_dataset(ds: Dataset) -> Dataset:
    for keyword in [
        "PatientName",
        "PatientID",
        "StudyDescription",
        "SeriesDescription",
        "InstitutionName",
        "Manufacturer",
        "ImageComments",
        "AccessionNumber",
        "StudyID",
        "ReferringPhysicianName",
        "OperatorsName",
        "BodyPartExamined",
    ]:
        setattr(ds, keyword, PAYLOAD)
    ds.add_new(0x00090010, "LO", PAYLOAD)  # private creator itself
    for offset, vr in enumerate(TEXT_VRS + ["OB", "UN"]):
        value = PAYLOAD.encode() if vr in ("OB", "UN") else PAYLOAD
        ds.add_new(0x00091000 + offset, vr, value)
    item = Dataset()
    item.CodeMeaning = PAYLOAD
    item.add_new(0x00111010, "LO", PAYLOAD)
    ds.ProcedureCodeSequence = Sequence([item])
    return ds


@pytest.mark.timeout(60)
def test_html_payloads_never_reach_markup(tmp_path):
    datasets = [_payload_dataset(ds) for ds in ct_phantom(n_slices=3, size=16)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = _write(datasets, tmp_path / "src")
    for ds in [datasets[0], pydicom.dcmread(paths[0])]:
        _no_markup(dataset_html(ds), "dataset_html")
        rows = tags.flatten(ds)
        assert any("<script>" in row.summary for row in rows)  # the text itself is kept
        from dicom_widgets.html.tags import explorer_html, rows_table

        _no_markup(str(rows_table(rows)), "rows_table")
        _no_markup(
            str(
                explorer_html(rows, status="", selected=None, hits=(), varying=(), group_headers=())
            ),
            "explorer_html",
        )
        diff = dw.compare(ds, datasets[1])
        _no_markup(diff._repr_html_(), "compare")
        result = deid.anonymize(ds)
        _no_markup(result._repr_html_(), "AnonymizationResult")
    catalog = dw.scan(tmp_path / "src", progress=False)
    _no_markup(catalog_html(catalog), "catalog_html")
    series = catalog[0]
    with series:
        _no_markup(series_html(series), "series_html")
        _no_markup(series._repr_html_(), "Series._repr_html_")
    report = deid.anonymize_files([tmp_path / "src"], tmp_path / "out", progress=False, fsync=False)
    _no_markup(report._repr_html_(), "Report")
    assert report.verification is not None
    _no_markup(report.verification._repr_html_(), "VerificationReport")


@pytest.mark.timeout(60)
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0, max_codepoint=0x2FFF),
        max_size=60,
    ),
    vr=st.sampled_from(["LO", "SH", "UT", "PN", "LT", "UC"]),
)
def test_any_text_value_is_escaped_and_flattened(text, vr):
    ds = ct_phantom(n_slices=1, size=8)[0]
    ds.add_new(0x00091001, vr, text)
    ds.StudyDescription = text
    html = dataset_html(ds, thumbnail=False)
    assert 'class="dw-repr"' in html
    _no_markup(html, f"dataset_html({text!r})")
    html.encode("utf-8")  # always valid UTF-8 (lone surrogates etc. are made visible)
    rows = tags.flatten(ds)
    assert rows
    deid.anonymize(ds)


# --- structure: deep nesting, huge headers -------------------------------------------------


def _deep(levels: int) -> Dataset:
    ds = ct_phantom(n_slices=1, size=16)[0]
    inner = Dataset()
    inner.CodeMeaning = PAYLOAD
    inner.PatientName = "Deep^Secret"
    for _ in range(levels):
        outer = Dataset()
        outer.ContentSequence = Sequence([inner])
        inner = outer
    ds.ContentSequence = Sequence([inner])
    return ds


@pytest.mark.timeout(60)
def test_200_levels_of_sequence_nesting(tmp_path):
    ds = _deep(200)
    html = dataset_html(ds)
    _no_markup(html, "deep dataset_html")
    rows = tags.flatten(ds)
    assert max(row.depth for row in rows) >= 100 or len(rows) > 100
    dw.compare(ds, ds)
    result = deid.anonymize(ds)
    assert "Deep^Secret" not in str(result.dataset)
    paths = _write([ds], tmp_path / "src")
    catalog = dw.scan(tmp_path / "src", progress=False)
    assert catalog.n_files == 1
    series = dw.load_series(paths[0], progress=False)
    with series:
        assert series.display(0).dtype == np.uint8
    report = deid.anonymize_files([paths[0]], tmp_path / "out", progress=False, fsync=False)
    assert report.outcomes[0].status in {"written", "verification_failed", "error"}
    if report.outcomes[0].status == "written":
        assert b"Deep^Secret" not in Path(report.outcomes[0].output).read_bytes()


@pytest.mark.timeout(60)
def test_100k_element_dataset_stays_bounded():
    ds = ct_phantom(n_slices=1, size=16)[0]
    for g in range(0x0011, 0x0011 + 2 * 25, 2):
        ds.add_new((g << 16) | 0x0010, "LO", "CREATOR")
        for e in range(0x1000, 0x1000 + 4000):
            ds.add_new((g << 16) | e, "LO", f"v{e}")
    assert len(ds) > 100_000
    html = dataset_html(ds, max_html_chars=1_500_000)
    assert len(html) < 2_500_000  # the cap is said in the output, not exceeded many times over
    assert "truncated" in html.lower()
    rows = tags.flatten(ds)
    assert len(rows) > 100_000
    assert tags.search(rows, "v4096")
    pytest.importorskip("ipywidgets")
    # The widgets page through it: their HTML stays small whatever the header size.
    explorer = dw.TagExplorer(ds)
    assert explorer.n_visible > 100_000
    assert len(explorer.table.value) < 200_000
    explorer.query = "v4"
    explorer.flush()
    assert explorer.n_hits > 1000
    assert len(explorer.table.value) < 200_000
    preview = dw.AnonymizationPreview(ds, canvas="image")
    assert len(preview.diff.value) < 500_000
    preview.close()
    explorer.close()


# --- widgets on hostile input (cheap constructors only) ------------------------------------


@pytest.mark.timeout(60)
def test_widgets_accept_hostile_series(tmp_path):
    pytest.importorskip("ipywidgets")
    datasets = [_payload_dataset(ds) for ds in ct_phantom(n_slices=4, size=16)]
    for ds in datasets:
        ds.ImagePositionPatient = ["nan", "nan", "nan"]
        ds.WindowWidth = "0"
        ds.RescaleSlope = "0"
    _write(datasets, tmp_path / "src")
    series = dw.load_series(tmp_path / "src", progress=False)
    with series:
        viewer = dw.SeriesViewer(series, canvas="image")
        try:
            assert viewer.displayed.dtype == np.uint8
            # Annotations are matplotlib text (never HTML); the static bundle must be clean.
            bundle = viewer._repr_mimebundle_()
            bundle = bundle[0] if isinstance(bundle, tuple) else bundle
            _no_markup(str(bundle.get("text/html", "")), "SeriesViewer text/html")
        finally:
            viewer.close()
    explorer = dw.TagExplorer(datasets[0])
    explorer.query = "script"
    explorer.flush()
    assert explorer.n_hits >= 1
    _no_markup(explorer.table.value, "TagExplorer table")
    preview = dw.AnonymizationPreview(datasets[0], canvas="image")
    assert preview.result is not None
    _no_markup(preview.diff.value, "AnonymizationPreview diff")
    preview.close()


# --- API misuse: wrong types and missing paths give clear, documented errors -----------------


@pytest.mark.timeout(60)
def test_misuse_errors_are_documented_types(tmp_path):
    with pytest.raises(TypeError, match="source must be"):
        dw.scan(42, progress=False)
    with pytest.raises(DicomWidgetsError, match="nope"):
        dw.load_series(tmp_path / "nope", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DicomWidgetsError, match="empty"):
        dw.load_series(tmp_path / "empty", progress=False)
    with pytest.raises(ValueError, match="pairs"):
        deid.verify([tmp_path / "a.dcm"], [])
    with pytest.raises(ValueError, match="explode"):
        deid.Profile(overrides={"PatientName": "explode"})
    with pytest.raises(ValueError, match="window width"):
        dw.to_display(np.zeros((4, 4)), (np.nan, np.nan))
    src = tmp_path / "src"
    write_series(ct_phantom(n_slices=2, size=16), src)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(DicomWidgetsError, match="not a folder"):
        deid.anonymize_files([src], tmp_path / "a_file", progress=False)
    series = dw.load_series(src, progress=False)
    with series:
        with pytest.raises(DicomWidgetsError, match="source"):
            series.save_frames(src)


@pytest.mark.timeout(60)
def test_anonymize_rejects_non_dataset_with_type_error():
    with pytest.raises(TypeError, match="Dataset"):
        deid.anonymize("not a dataset")


@pytest.mark.timeout(60)
def test_anonymize_files_missing_source_is_named(tmp_path):
    out = tmp_path / "elsewhere" / "out"
    try:
        report = deid.anonymize_files([tmp_path / "data" / "nope.dcm"], out, progress=False)
    except DicomWidgetsError as exc:
        assert "nope.dcm" in str(exc) and "inside the source" not in str(exc)
    else:
        assert [o.status for o in report.outcomes] == ["error"]
        assert "nope.dcm" in report.outcomes[0].source


# --- enhanced multi-frame with broken functional groups -----------------------------------


def _mf_short(ds):
    del ds.PerFrameFunctionalGroupsSequence[1:]


def _mf_nan(ds):
    for item in ds.PerFrameFunctionalGroupsSequence:
        item.PlanePositionSequence[0].ImagePositionPatient = ["nan"] * 3


def _mf_more_frames(ds):
    ds.NumberOfFrames = int(ds.NumberOfFrames) * 3


def _mf_no_shared(ds):
    del ds.SharedFunctionalGroupsSequence


def _mf_same_position(ds):
    for item in ds.PerFrameFunctionalGroupsSequence:
        item.PlanePositionSequence[0].ImagePositionPatient = [0, 0, 0]


def _mf_empty_items(ds):
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [Dataset() for _ in range(int(ds.NumberOfFrames))]
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "mutate",
    [_mf_short, _mf_nan, _mf_more_frames, _mf_no_shared, _mf_same_position, _mf_empty_items],
)
def test_broken_functional_groups(mutate, tmp_path):
    from dicom_widgets.data import mr_multiframe_phantom

    ds = mr_multiframe_phantom()
    ds = ds[0] if isinstance(ds, list) else ds
    mutate(ds)
    _write([ds], tmp_path / "src")
    _exercise_folder(tmp_path / "src", mutate.__name__)
    _exercise_dataset(ds, mutate.__name__)
    report = deid.anonymize_files([tmp_path / "src"], tmp_path / "out", progress=False, fsync=False)
    outcome = report.outcomes[0]
    assert outcome.status in {"written", "error"}
    assert outcome.status == "written" or outcome.message


# --- identity everywhere: no written output may carry the patient's name or ID -------------


def _identity_everywhere() -> Dataset:
    """A CT slice with the patient's name and ID in every public text attribute (~600)."""
    from pydicom.datadict import DicomDictionary

    ds = ct_phantom(n_slices=1, size=16, seed=21)[0]
    name, patient_id = str(ds.PatientName), str(ds.PatientID)
    for tag, (vr, _vm, _desc, retired, keyword) in DicomDictionary.items():
        if (tag >> 16) in (0x0000, 0x0002, 0xFFFE, 0x7FE0) or tag in ds or not keyword or retired:
            continue
        if vr in ("LO", "ST", "LT", "UT", "UC", "PN"):
            ds.add_new(tag, vr, f"Patient {name} id {patient_id}")
        elif vr == "SH":
            ds.add_new(tag, vr, patient_id[:16])
        elif vr in ("OB", "UN", "OB or OW") and (tag >> 16) != 0x0004:
            # Binary attributes outside the Annex E table (HPGLDocument, Signature, ...) too.
            ds.add_new(tag, "OB", f"xx{name} {patient_id}x".encode())
    return ds


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "profile",
    [
        None,
        deid.Profile(clean_descriptors=True, retain_patient_characteristics=True),
        deid.Profile(retain_device_identity=True, retain_institution_identity=True),
    ],
    ids=["basic", "clean-descriptors", "retain-device-institution"],
)
def test_identity_in_every_text_attribute_never_written(profile, tmp_path):
    ds = _identity_everywhere()
    name, patient_id = str(ds.PatientName), str(ds.PatientID)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _write([ds], tmp_path / "src")
    report = deid.anonymize_files(
        [tmp_path / "src"], tmp_path / "out", profile=profile, progress=False, fsync=False
    )
    outcome = report.outcomes[0]
    assert outcome.status in {"written", "verification_failed"}, outcome.message
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert name.encode() not in data
            assert patient_id.encode() not in data
            assert b"PHANTOM^Jane" not in data
