"""AnonymizationPreview as a user sees it: the diff, an option toggled, an export verified."""

from __future__ import annotations

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

PREVIEW_CELLS = [
    """\
import tempfile

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, write_series

source = tempfile.mkdtemp(prefix="dw-anon-src-")
write_series(ct_phantom(n_slices=3, size=32), source)
preview = dw.AnonymizationPreview(source)
preview""",
]

ROOT = ".dw-anonymization-preview"


def _row(page, keyword):
    """The diff table row of an element, by its keyword cell."""
    return page.locator(f"{ROOT} tr", has=page.get_by_text(keyword, exact=True))


def _open(notebook, jupyter_server, name, app="lab"):
    write_notebook(jupyter_server.root_dir / f"{name}.ipynb", PREVIEW_CELLS)
    notebook.open(f"{name}.ipynb", app=app)
    notebook.run_all()
    notebook.page.locator(f"{ROOT} tr").first.wait_for(state="visible")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_diff_lists_expected_changes_and_option_changes_them(notebook, jupyter_server, app):
    _open(notebook, jupyter_server, f"anon_diff_{app}", app)
    page = notebook.page
    # Basic Profile on the phantom: identifiers emptied or removed, UIDs remapped.
    for keyword, what in [
        ("PatientName", "emptied"),
        ("PatientID", "emptied"),
        ("InstitutionName", "removed"),
        ("StudyInstanceUID", "UID remapped"),
        ("PatientSex", "emptied"),
    ]:
        row = _row(page, keyword).first
        row.wait_for(state="visible")
        assert what in row.inner_text(), (keyword, row.inner_text())

    # Retain Patient Characteristics: PatientSex is no longer emptied.
    page.locator(f"{ROOT} .widget-checkbox", has_text="retain_patient_characteristics").locator(
        "input"
    ).check()
    page.wait_for_function(
        """(root) => ![...document.querySelectorAll(root + ' tr')].some(
            r => r.textContent.includes('PatientSex') && r.textContent.includes('emptied'))""",
        arg=ROOT,
    )
    assert "emptied" in _row(page, "PatientName").first.inner_text()
    notebook.assert_no_widget_errors()


def test_export_writes_folder_and_shows_verification(notebook, jupyter_server, tmp_path):
    _open(notebook, jupyter_server, "anon_export")
    page = notebook.page
    out = tmp_path / "anonymized"
    page.locator(f"{ROOT} .lm-TabBar-tab, {ROOT} .p-TabBar-tab", has_text="Export").first.click()
    output = page.locator(f"{ROOT} .widget-text", has_text="output").locator("input").first
    output.fill(str(out))
    output.press("Enter")
    page.locator(f"{ROOT} button", has_text="Export").last.click()
    page.get_by_text("verification", exact=False).filter(visible=True).first.wait_for()
    text = page.locator(ROOT).inner_text()
    assert "no identifying values found" in text, text[-2000:]
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(written) == 3, written
    notebook.assert_no_widget_errors()


TEXT_CELLS = [
    """\
import tempfile
from pathlib import Path

import dicom_widgets as dw
from dicom_widgets._compat import write_dataset
from dicom_widgets.data import burned_in_phantom

source = Path(tempfile.mkdtemp(prefix="dw-anon-text-src-")) / "us.dcm"
image = burned_in_phantom("US", variant=1, rows=240, cols=320)
write_dataset(image.dataset, source)
preview = dw.AnonymizationPreview(str(source), detect_text=True)
preview""",
]


def test_proposed_text_regions_one_rejected_export_records_it(notebook, jupyter_server, tmp_path):
    """Burned-in text found by OCR shows as checkboxes; unchecking one keeps it, and the
    export's report says so (the other PHI is blanked in the written file)."""
    pytest.importorskip("pytesseract")
    import numpy as np
    import pydicom

    from dicom_widgets.data import burned_in_phantom
    from dicom_widgets.deid.text_regions import tesseract_version
    from dicom_widgets.errors import MissingDependencyError

    try:
        tesseract_version()
    except MissingDependencyError as exc:
        import os

        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{exc} (CI=true: OCR tests must run, not skip)", pytrace=False)
        pytest.skip(str(exc))
    write_notebook(jupyter_server.root_dir / "anon_text.ipynb", TEXT_CELLS)
    notebook.open("anon_text.ipynb")
    notebook.run_all()
    page = notebook.page
    page.locator(f"{ROOT} .lm-TabBar-tab, {ROOT} .p-TabBar-tab", has_text="Pixels").first.click()
    boxes = page.locator(f"{ROOT} .dw-text-region")
    boxes.first.wait_for(state="visible")
    labels = boxes.all_inner_texts()
    assert any("PatientName" in t for t in labels), labels
    pid = page.locator(f"{ROOT} .dw-text-region", has_text="PatientID").first
    assert pid.locator("input").is_checked()  # PHI is proposed for blanking
    pid.locator("input").uncheck()
    page.locator(f"{ROOT} .dw-text-region", has_text="(rejected)").first.wait_for()
    page.get_by_text("uncheck one to keep it", exact=False).filter(visible=True).first.wait_for()

    out = tmp_path / "anonymized"
    page.locator(f"{ROOT} .lm-TabBar-tab, {ROOT} .p-TabBar-tab", has_text="Export").first.click()
    output = page.locator(f"{ROOT} .widget-text", has_text="output").locator("input").first
    output.fill(str(out))
    output.press("Enter")
    page.locator(f"{ROOT} button", has_text="Export").last.click()
    page.get_by_text("rejected by the reviewer", exact=False).filter(visible=True).first.wait_for()
    text = page.locator(ROOT).inner_text()
    assert "no identifying values found" in text, text[-2000:]
    assert "1 rejected" in text, text[-2000:]
    (written,) = [p for p in out.rglob("*") if p.is_file()]
    ds = pydicom.dcmread(written)
    assert ds.BurnedInAnnotation == "NO"
    # The same phantom here: the name's line is black in the output, the rejected ID is not.
    image = burned_in_phantom("US", variant=1, rows=240, cols=320)
    name, pid_line = image.texts[0], image.texts[1]
    assert "ID" in pid_line.text
    r0, c0, r1, c1 = name.box
    assert ds.pixel_array[r0:r1, c0:c1].max() == 0
    r0, c0, r1, c1 = pid_line.box
    assert np.array_equal(ds.pixel_array[r0:r1, c0:c1], image.dataset.pixel_array[r0:r1, c0:c1])
    notebook.assert_no_widget_errors()
