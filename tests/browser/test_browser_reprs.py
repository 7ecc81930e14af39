"""HTML reprs in a real browser: hostile values show as text, sections open and close.

JupyterLab runs the scripts of trusted HTML outputs and the browser fires ``onerror`` of
images, so a value that reached the page unescaped would set ``window.__pwned``. A
control test shows that this detector does fire on unescaped HTML.
"""

from __future__ import annotations

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

PAYLOAD_CELL = """\
import warnings

import dicom_widgets as dw
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from dicom_widgets.data import ct_phantom

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
SVG = '"><svg onload="window.__pwned=1">'
datasets = ct_phantom(n_slices=3, size=32)
with warnings.catch_warnings():
    # Hostile files are not valid DICOM either: pydicom only warns about them.
    warnings.simplefilter("ignore")
    for ds in datasets:
        ds.PatientName = IMG
        ds.InstitutionName = SCRIPT
        ds.StudyDescription = IMG
        ds.SeriesDescription = SVG
        item = Dataset()
        item.CodeMeaning = SCRIPT
        ds.ProcedureCodeSequence = Sequence([item])
        block = ds.private_block(0x0009, "EVIL<b onmouseover=x>", create=True)
        block.add_new(0x10, "LO", IMG)
ds = datasets[0]"""

REPR_CELLS = [
    "%load_ext dicom_widgets",
    PAYLOAD_CELL,
    "ds",
    "dw.load_series(datasets, progress=False)",
]

#: Elements that must not exist in any output area if every value was escaped.
INJECTED = ".jp-OutputArea-output script, .jp-OutputArea-output [onerror], " + (
    ".jp-OutputArea-output [onload], .jp-OutputArea-output [onmouseover], .jp-OutputArea-output svg"
)


def _assert_not_injected(notebook):
    page = notebook.page
    assert page.evaluate("typeof window.__pwned") == "undefined", "an injected script ran"
    assert notebook.dialogs == [], notebook.dialogs
    injected = page.locator(INJECTED)
    assert injected.count() == 0, injected.evaluate_all("els => els.map(e => e.outerHTML)")


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_hostile_values_render_as_text(notebook, jupyter_server, app):
    write_notebook(jupyter_server.root_dir / f"reprs_{app}.ipynb", REPR_CELLS)
    notebook.open(f"reprs_{app}.ipynb", app=app)
    notebook.run_all()
    page = notebook.page
    reprs = page.locator(".jp-OutputArea-output .dw-repr")
    reprs.nth(1).wait_for(state="attached")
    assert reprs.count() == 2  # the dataset and the series

    dataset_repr = reprs.nth(0)
    dataset_repr.locator(".dw-section").first.wait_for(state="visible")
    # textContent includes closed sections: an unescaped payload would act there too.
    text = dataset_repr.text_content()
    assert '<img src=x onerror="window.__pwned=1">' in text
    assert "<script>window.__pwned=1</script>" in text
    assert "EVIL<b onmouseover=x>" in text
    # The series repr shows its description as text too.
    assert '"><svg onload="window.__pwned=1">' in reprs.nth(1).text_content()
    # The only images are the repr's own thumbnails (data: URIs).
    sources = page.locator(".jp-OutputArea-output img").evaluate_all("els => els.map(e => e.src)")
    assert sources and all(src.startswith("data:image/png;base64,") for src in sources), sources

    _assert_not_injected(notebook)
    notebook.assert_no_widget_errors()


def test_sections_open_and_close(notebook, jupyter_server):
    write_notebook(jupyter_server.root_dir / "sections.ipynb", REPR_CELLS[:3])
    notebook.open("sections.ipynb")
    notebook.run_all()
    repr_ = notebook.page.locator(".jp-OutputArea-output .dw-repr").first
    repr_.wait_for(state="visible")
    # A closed section: its details are hidden until its label is clicked. Pinned by the
    # checkbox id, since "closed" stops matching once it opens.
    closed = repr_.locator(".dw-section > .dw-section-in:not(:checked)")
    assert closed.count() > 0, "the repr has no closed collapsible section"
    ident = closed.first.get_attribute("id")
    section = repr_.locator(f".dw-section:has(> #{ident})")
    details = section.locator("> .dw-section-details")
    summary = section.locator(f"> label[for='{ident}']")
    assert details.is_hidden()
    summary.click()
    details.wait_for(state="visible")
    summary.click()
    details.wait_for(state="hidden")
    _assert_not_injected(notebook)


def test_control_unescaped_html_is_detected(notebook, jupyter_server):
    """The detector works: the same payload, displayed raw, runs in this browser."""
    cells = [
        "from IPython.display import HTML\nHTML('<img src=x onerror=\"window.__pwned=1\">')",
    ]
    write_notebook(jupyter_server.root_dir / "control.ipynb", cells)
    notebook.open("control.ipynb")
    notebook.run_all()
    notebook.page.wait_for_function("window.__pwned === 1")
    with pytest.raises(AssertionError):
        _assert_not_injected(notebook)
