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


def _open_viewer(notebook, jupyter_server, name, cell):
    """Run a one-cell notebook; the viewer and its canvas, once the image is painted."""
    write_notebook(jupyter_server.root_dir / name, [cell])
    notebook.open(name)
    notebook.run_all()
    viewer = notebook.page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    notebook.wait_pixels(canvas, min_colours=3)
    return viewer, canvas


def test_draw_a_distance_and_an_ellipse_and_read_them_in_the_table(notebook, jupyter_server):
    viewer, canvas = _open_viewer(notebook, jupyter_server, "measure.ipynb", CELL)
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


EDIT_CELL = """\
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom

series = dw.load_series(ct_phantom(n_slices=24, size=128), progress=False)
viewer = dw.SeriesViewer(series, window="brain", size=384)
viewer.show_annotations = False
viewer.measure("distance", [(100, 20), (100, 50)], label="ruler")  # 30 px of 1.5625 mm
viewer.measure("ellipse", [(30, 84), (38, 94)], label="roi")  # in the brain (30 HU)
viewer"""


def _value_of(rows, label):
    for k in range(rows.count()):
        cells = rows.nth(k).locator("td").all_inner_texts()
        if cells[0] == label:
            return cells[2]
    raise AssertionError(f"no row {label!r} in the table")


def _wait_value(notebook, rows, label, expected_pattern):
    deadline = notebook.page.evaluate("performance.now()") + 20_000
    while True:
        text = _value_of(rows, label)
        if re.fullmatch(expected_pattern, text):
            return text
        if notebook.page.evaluate("performance.now()") > deadline:
            raise AssertionError(f"{label}: {text!r} never matched {expected_pattern!r}")
        notebook.page.wait_for_timeout(100)


def test_drag_a_ruler_end_and_an_roi_body_and_read_the_new_values(notebook, jupyter_server):
    viewer, canvas = _open_viewer(notebook, jupyter_server, "measure_edit.ipynb", EDIT_CELL)
    rows = _rows(viewer)
    rows.nth(1).wait_for(state="visible")
    assert _value_of(rows, "ruler") == "46.9 mm"
    assert _value_of(rows, "roi") == "30.0 HU"
    box = canvas.bounding_box()
    # The 128x128 image fills the square canvas: pixel (row, col) has its centre here.
    per_pixel = box["width"] / 128

    def at(row, col):
        return box["x"] + (col + 0.5) * per_pixel, box["y"] + (row + 0.5) * per_pixel

    mouse = notebook.page.mouse  # the navigate tool (the default) moves and resizes
    # The ruler's right end, dragged 30 columns further right: 60 px of 1.5625 mm.
    mouse.move(*at(100, 50))
    mouse.down()
    mouse.move(*at(100, 80), steps=8)
    mouse.up()
    text = _wait_value(notebook, rows, "ruler", r"9\d\.\d mm")
    assert abs(float(text.split()[0]) - 93.75) <= 0.2, text
    # The ellipse's body, dragged from the brain into the ventricle (5 HU).
    before = notebook.pixel_signature(canvas)
    mouse.move(*at(34, 89))
    mouse.down()
    mouse.move(*at(34 + 34, 89 - 15), steps=8)
    mouse.up()
    _wait_value(notebook, rows, "roi", r"5\.0 HU")
    notebook.wait_pixels_changed(canvas, before)
    assert rows.count() == 2  # moved and resized, not drawn anew
    notebook.assert_no_widget_errors()
