"""TagExplorer as a user sees it: typing narrows the table, selecting shows the expression."""

from __future__ import annotations

import re

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

EXPLORER_CELLS = [
    """\
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom

explorer = dw.TagExplorer(ct_phantom(n_slices=4, size=16))
explorer""",
]

ROWS = "table.dw-tags tbody tr"


def _open(notebook, jupyter_server, name, app="lab"):
    write_notebook(jupyter_server.root_dir / f"{name}.ipynb", EXPLORER_CELLS)
    notebook.open(f"{name}.ipynb", app=app)
    notebook.run_all()
    search = notebook.page.get_by_placeholder(re.compile(r"^search: keyword"))
    search.wait_for(state="visible")
    notebook.page.locator(ROWS).first.wait_for(state="visible")
    return search


def _wait_rows(notebook, keywords):
    """Wait until the table's rows are exactly the rows of these keywords."""
    notebook.page.wait_for_function(
        """([selector, keywords]) => {
            const rows = [...document.querySelectorAll(selector)];
            return rows.length === keywords.length
                && keywords.every(k => rows.some(r => r.textContent.includes(k)));
        }""",
        arg=[ROWS, keywords],
    )


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_search_narrows_rows_and_selection_shows_expression(notebook, jupyter_server, app):
    search = _open(notebook, jupyter_server, f"explorer_{app}", app)
    page = notebook.page
    assert page.locator(ROWS).count() > 20  # the whole header before searching

    search.click()
    search.press_sequentially("window", delay=20)
    _wait_rows(notebook, ["WindowCenter", "WindowWidth", "WindowCenterWidthExplanation"])

    search.fill("")
    search.press_sequentially("slice location", delay=20)
    _wait_rows(notebook, ["SliceLocation"])
    assert "(0020,1041)" in page.locator(ROWS).first.inner_text()

    # Select the hit in the list: the Python expression to reach it appears.
    select = page.locator(".widget-select select").first
    option = select.locator("option", has_text="SliceLocation").first
    select.select_option(value=option.get_attribute("value"))
    expression = page.locator(".widget-text", has_text="Python").locator("input").first
    page.wait_for_function(
        "(el) => el.value === 'ds.SliceLocation'", arg=expression.element_handle()
    )
    notebook.assert_no_widget_errors()


def test_tag_spelling_search(notebook, jupyter_server):
    search = _open(notebook, jupyter_server, "explorer_tag")
    search.click()
    search.press_sequentially("0028,0030", delay=20)
    _wait_rows(notebook, ["PixelSpacing"])
    notebook.assert_no_widget_errors()
