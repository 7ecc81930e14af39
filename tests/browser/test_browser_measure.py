"""Measuring with the mouse in JupyterLab: a ruler and an ellipse, read back in the table."""

from __future__ import annotations

import re

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

CELL = """\
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom

series = dw.load_series(ct_phantom(n_slices=24, size=128), progress=False)
viewer = dw.SeriesViewer(series, window="brain", size=384)
viewer.show_annotations = False
viewer"""


def _rows(viewer):
    return viewer.locator("table.dw-measurements tbody tr")


def test_draw_a_distance_and_an_ellipse_and_read_them_in_the_table(notebook, jupyter_server):
    write_notebook(jupyter_server.root_dir / "measure.ipynb", [CELL])
    notebook.open("measure.ipynb")
    notebook.run_all()
    viewer = notebook.page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    notebook.wait_pixels(canvas, min_colours=3)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    mouse = notebook.page.mouse

    # The ruler: a horizontal drag across the middle of the head.
    viewer.get_by_role("button", name="Ruler").click()
    before = notebook.pixel_signature(canvas)
    mouse.move(x - 90, y)
    mouse.down()
    mouse.move(x + 90, y, steps=10)
    mouse.up()
    _rows(viewer).first.wait_for(state="visible")
    notebook.wait_pixels_changed(canvas, before)  # the line and its value are on the image

    # The ellipse: a small one in the brain (30 HU in the phantom), between the ventricles.
    viewer.get_by_role("button", name="Ellipse").click()
    mouse.move(x - 8, y - 8)
    mouse.down()
    mouse.move(x + 8, y + 8, steps=6)
    mouse.up()
    rows = _rows(viewer)
    rows.nth(1).wait_for(state="visible")
    assert rows.count() == 2

    distance = rows.nth(0).locator("td").all_inner_texts()
    ellipse = rows.nth(1).locator("td").all_inner_texts()
    assert distance[1] == "distance" and ellipse[1] == "ellipse"
    # 180 screen px of a 384 px canvas showing 200 mm: about 90 mm.
    length = float(re.fullmatch(r"(\d+\.\d) mm", distance[2]).group(1))
    assert 60 < length < 100, distance
    assert re.fullmatch(r"30\.0 HU", ellipse[2]), ellipse  # mean of the ROI
    assert float(ellipse[9]) > 0 and int(ellipse[10]) > 0  # area mm², pixels
    notebook.assert_no_widget_errors()
