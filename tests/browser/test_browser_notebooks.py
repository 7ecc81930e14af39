"""The project's own notebooks, run in a real browser: every widget shows up, nothing fails.

nbval checks their outputs in a kernel; only a browser shows whether the widgets they
display actually render (no "Error displaying widget", painted canvases).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_quickstart_widgets_render(notebook, jupyter_server, app):
    source = NOTEBOOKS / "01_quickstart.ipynb"
    target = jupyter_server.root_dir / f"quickstart_{app}" / source.name
    target.parent.mkdir(exist_ok=True)
    shutil.copy(source, target)
    notebook.open(f"{target.parent.name}/{source.name}", app=app)
    notebook.run_all()
    page = notebook.page

    canvas = page.locator(".dw-series-viewer .jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    notebook.wait_pixels(canvas, min_colours=3)
    page.locator("table.dw-tags tbody tr").first.wait_for(state="visible")
    page.locator(".dw-anonymization-preview tr").first.wait_for(state="visible")
    page.locator(".jp-OutputArea-output .dw-repr").first.wait_for(state="visible")
    notebook.assert_no_widget_errors()
