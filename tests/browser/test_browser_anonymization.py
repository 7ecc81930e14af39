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
