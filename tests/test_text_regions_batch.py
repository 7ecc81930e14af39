"""anonymize_files(text_regions=...): burned-in text found in the workers, blanked, reported.

Real datasets (``burned_in_phantom``) written to real files, real Tesseract; the markers
(Burned In Annotation, Patient Identity Removed, the de-identification method codes) are
read back from the written files.
"""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pydicom
import pytest

from dicom_widgets._compat import write_dataset
from dicom_widgets.data import burned_in_phantom
from dicom_widgets.deid import TextRegion, TextRegionPlan, anonymize_files
from dicom_widgets.deid import text_regions as tr
from dicom_widgets.errors import DicomWidgetsWarning, MissingDependencyError


def _write(image, folder) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.dcm"
    write_dataset(image.dataset, path)
    return str(path.resolve())


def _codes(ds) -> set[str]:
    return {str(item.CodeValue) for item in ds.get("DeidentificationMethodCodeSequence", [])}


@pytest.mark.slow
def test_detect_blanks_phi_and_sets_the_markers_truthfully(tesseract, tmp_path):
    image = burned_in_phantom("US", variant=1, rows=240, cols=320)
    source = _write(image, tmp_path / "src")
    report = anonymize_files(
        source, tmp_path / "out", progress=False, text_regions="detect", fsync=False
    )
    (outcome,) = report.outcomes
    assert outcome.status == "written", outcome.message
    text = outcome.text_regions
    assert text is not None and text.verified and text.mode == "detect"
    assert {"PatientName", "PatientID"} <= {m for r in text.blanked for m in r.matches}
    assert outcome.pixel_cleaned and outcome.identity_removed
    out = pydicom.dcmread(outcome.output)
    assert out.BurnedInAnnotation == "NO"
    assert out.PatientIdentityRemoved == "YES"
    assert "113101" in _codes(out)  # Clean Pixel Data
    name = image.texts[0]
    r0, c0, r1, c1 = name.box
    assert out.pixel_array[r0:r1, c0:c1].max() == 0
    row = report.to_rows()[0]
    assert row["text_regions_blanked"] == len(text.blanked) and row["text_verified"] is True
    assert "burned-in text (detect)" in report._repr_text()
    # The recognised text is PHI: it stays out of the report's text.
    assert image.dataset.PatientID not in report._repr_text()


@pytest.mark.slow
def test_ocr_timeout_is_a_warning_and_leaves_the_file_not_verified(tesseract, tmp_path):
    image = burned_in_phantom("SC", variant=0, rows=240, cols=320)
    source = _write(image, tmp_path / "src")
    plan = TextRegionPlan("detect", time_budget=0.0)
    with pytest.warns(DicomWidgetsWarning, match="not verified"):
        report = anonymize_files(source, tmp_path / "out", progress=False, text_regions=plan)
    (outcome,) = report.outcomes
    assert outcome.status == "written"
    assert not outcome.text_regions.verified
    assert any(w.kind == "burned_in_text" for w in outcome.unresolved)
    out = pydicom.dcmread(outcome.output)
    assert out.PatientIdentityRemoved == "NO"
    assert out.BurnedInAnnotation == "YES"  # nothing was checked: the source's word stands
    assert "113101" not in _codes(out)
    assert report.to_rows()[0]["text_verified"] is False
    assert "NOT VERIFIED" in report._repr_text()


def test_reviewed_regions_need_no_ocr_and_the_report_records_the_rejection(tmp_path):
    image = burned_in_phantom("US", variant=0, rows=240, cols=320)
    name, pid = image.texts[0], image.texts[1]
    accepted = TextRegion(name.box, name.text, 90.0, ("PatientName",)).decided(True)
    rejected = TextRegion(pid.box, pid.text, 90.0, ("PatientID",)).decided(False)
    plan = TextRegionPlan("detect", {"<dataset 0>": (accepted, rejected)})
    report = anonymize_files(
        [image.dataset], tmp_path / "out", progress=False, text_regions=plan, verify=True
    )
    (outcome,) = report.outcomes
    assert outcome.status == "written"
    assert outcome.text_regions.mode == "reviewed"
    assert [r.box for r in outcome.text_regions.rejected] == [pid.box]
    row = report.to_rows()[0]
    assert (row["text_regions_blanked"], row["text_regions_rejected"]) == (1, 1)
    out = pydicom.dcmread(outcome.output)
    r0, c0, r1, c1 = name.box
    assert out.pixel_array[r0:r1, c0:c1].max() == 0
    r0, c0, r1, c1 = pid.box
    assert np.array_equal(out.pixel_array[r0:r1, c0:c1], image.dataset.pixel_array[r0:r1, c0:c1])
    assert "1 rejected by the reviewer" in report._repr_text()
    assert report.text_regions is plan


def test_without_tesseract_the_batch_says_what_to_install_and_writes_nothing(tmp_path, monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    tr._tesseract.cache_clear()
    try:
        image = burned_in_phantom("US", variant=0, rows=64, cols=64)
        with pytest.raises(MissingDependencyError, match="tesseract-ocr-eng"):
            anonymize_files([image.dataset], tmp_path / "out", text_regions="detect")
        assert not (tmp_path / "out").exists()
        # Everything else keeps working.
        report = anonymize_files([image.dataset], tmp_path / "out2", progress=False)
        assert report.counts() == {"written": 1}
    finally:
        tr._tesseract.cache_clear()


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="detect"):
        anonymize_files([burned_in_phantom().dataset], tmp_path / "o", text_regions="ocr")


@pytest.mark.slow
def test_the_pool_runs_ocr_in_its_workers(tesseract, tmp_path):
    images = [burned_in_phantom("SC", variant=v, rows=200, cols=320) for v in (1, 2)]
    folder = tmp_path / "src"
    folder.mkdir()
    for i, image in enumerate(images):
        write_dataset(image.dataset, folder / f"{i}.dcm")
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        report = anonymize_files(
            folder, tmp_path / "out", progress=False, text_regions="all-text", executor=pool
        )
    assert report.counts() == {"written": 2}
    for outcome in report.outcomes:
        assert outcome.text_regions.verified and outcome.text_regions.mode == "all-text"
        assert outcome.text_regions.blanked and not outcome.text_regions.kept
