"""SeriesViewer as a user sees it: every interaction must change the pixels on screen.

Each test opens a small notebook showing the viewer on the bundled CT phantom, acts with
the mouse or keyboard like a user, and compares the canvas pixels before and after.
Corner annotations are switched off where a change of the *image* is what is checked
(the slice number in a corner would change the pixels on its own).
"""

from __future__ import annotations

import re

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

VIEWER_CELLS = [
    """\
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom

series = dw.load_series(ct_phantom(n_slices=24, size=128), progress=False)
viewer = dw.SeriesViewer(series, window="brain", size=384)
viewer.show_annotations = {annotations}
viewer""",
]

#: JavaScript: how many separate bright grey column runs a canvas shows across its middle
#: band (three for the ortho layout's three panes, one for a single pane). Cyan crosshair
#: lines are not grey, so they do not join panes; the gaps they cut are bridged.
PANE_COUNT_JS = """
(canvas) => {
  const w = canvas.width, h = canvas.height;
  const data = canvas.getContext('2d').getImageData(0, 0, w, h).data;
  const lit = new Array(w).fill(false);
  for (let y = Math.floor(h * 0.35); y < Math.floor(h * 0.65); y += 2) {
    for (let x = 0; x < w; x++) {
      const i = 4 * (y * w + x), r = data[i], g = data[i + 1], b = data[i + 2];
      if (r > 8 && Math.abs(r - g) < 12 && Math.abs(r - b) < 12) lit[x] = true;
    }
  }
  // Merge runs split by a thin vertical crosshair line (a few pixels), not by pane gaps.
  const maxGap = Math.max(4, Math.round(w * 0.015));
  const minRun = w * 0.05;
  let runs = 0, start = -1, end = -1;
  for (let x = 0; x <= w; x++) {
    if (x < w && lit[x]) {
      if (start < 0) start = x;
      else if (x - end > maxGap) { if (end - start >= minRun) runs++; start = x; }
      end = x;
    }
  }
  if (start >= 0 && end - start >= minRun) runs++;
  return runs;
}
"""


def open_viewer(notebook, jupyter_server, name, *, annotations=False, app="lab"):
    """Open a notebook with the viewer, run it, wait for a painted image; return its canvas."""
    cells = [VIEWER_CELLS[0].format(annotations=annotations)]
    write_notebook(jupyter_server.root_dir / f"{name}.ipynb", cells)
    notebook.open(f"{name}.ipynb", app=app)
    notebook.run_all()
    viewer = notebook.page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    notebook.wait_pixels(canvas, min_colours=3)
    return viewer, canvas


def canvas_centre(canvas):
    box = canvas.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_canvas_renders_and_slider_steps(notebook, jupyter_server):
    viewer, canvas = open_viewer(notebook, jupyter_server, "viewer_slider")
    first = notebook.pixel_signature(canvas)
    assert int(first.split(":")[2]) >= 3, "the canvas shows a blank image"

    handle = viewer.locator(".widget-slider .noUi-handle").first
    notebook.step_slider(handle, "ArrowRight", times=3)
    moved = notebook.wait_pixels_changed(canvas, first)
    assert moved != first
    notebook.step_slider(handle, "ArrowLeft", times=3)
    notebook.wait_pixels_equal(canvas, first)

    notebook.assert_no_widget_errors()


def test_frame_cache_repaints_the_next_slice_while_the_kernel_is_busy(notebook, jupyter_server):
    """A slider step repaints from the browser's frame cache, with no kernel round trip.

    The key press repaints the picture within its own JavaScript task, while ipympl's canvas
    is still the old one: no message from the kernel can arrive in between (the page runs
    one task at a time), so the new picture can only come from the cache. This holds while
    a cell keeps the kernel's main thread busy, too. Once the kernel's frame arrives,
    ipympl's canvas underneath shows exactly the cached picture. A new window starts a new
    generation of frames.
    """
    # The second cell keeps the kernel busy when run again (not on the first run).
    sleeper_cell = (
        "import time\nruns = globals().get('runs', 0) + 1\ntime.sleep(0 if runs == 1 else 6)"
    )
    cells = [VIEWER_CELLS[0].format(annotations=True), sleeper_cell]
    write_notebook(jupyter_server.root_dir / "viewer_cache.ipynb", cells)
    notebook.open("viewer_cache.ipynb")
    notebook.run_all()
    page = notebook.page
    viewer = page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    overlay = viewer.locator("canvas.dw-frame-overlay")
    cache = viewer.locator(".dw-frame-cache")
    # The slice on screen and its neighbours are decoded in the browser.
    page.wait_for_function(
        "(el) => Number(el.dataset.frames || 0) >= 6", arg=cache.element_handle()
    )
    overlay.wait_for(state="visible")
    before = notebook.pixel_signature(overlay)
    notebook.wait_pixels_equal(canvas, before)

    # Busy kernel: run the sleeping cell again and wait until it is running.
    sleeper = page.locator(".jp-CodeCell").nth(1)
    sleeper.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    prompt = sleeper.locator(".jp-InputPrompt")
    page.wait_for_function("(el) => el.textContent.includes('*')", arg=prompt.element_handle())
    handle = viewer.locator(".widget-slider .noUi-handle").first
    overlay_before, moved, canvas_before, canvas_after = notebook.key_in_one_task(
        handle, overlay, canvas
    )
    assert overlay_before == before and canvas_before == before
    assert moved != before, "the key press did not repaint from the cache"
    assert canvas_after == canvas_before  # ipympl's frame had not come (it could not have)
    assert "*" in prompt.inner_text()

    # The kernel catches up: ipympl's own frame is the very same picture.
    page.wait_for_function(
        "(el) => /\\[\\d+\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=30_000
    )
    notebook.wait_pixels_equal(canvas, moved)

    # A new window: new frames, never the old generation's.
    select = viewer.locator(".widget-dropdown", has_text="Window").locator("select").first
    select.select_option(label="bone")
    bone = notebook.wait_pixels_changed(canvas, moved)
    notebook.wait_pixels_equal(overlay, bone)
    notebook.step_slider(handle, "ArrowRight")
    stepped = notebook.wait_pixels_changed(overlay, bone)
    notebook.wait_pixels_equal(canvas, stepped)
    notebook.assert_no_widget_errors()


def test_wheel_over_canvas_changes_slice(notebook, jupyter_server):
    _, canvas = open_viewer(notebook, jupyter_server, "viewer_wheel")
    before = notebook.pixel_signature(canvas)
    x, y = canvas_centre(canvas)
    notebook.page.mouse.move(x, y)
    notebook.page.mouse.wheel(0, 120)
    after = notebook.wait_pixels_changed(canvas, before)
    assert after != before
    notebook.assert_no_widget_errors()


def test_preset_changes_window(notebook, jupyter_server):
    viewer, canvas = open_viewer(notebook, jupyter_server, "viewer_preset")
    before = notebook.pixel_signature(canvas)
    select = viewer.locator(".widget-dropdown", has_text="Window").locator("select").first
    select.select_option(label="bone")
    after = notebook.wait_pixels_changed(canvas, before)
    assert after != before
    notebook.assert_no_widget_errors()


def test_right_drag_changes_window(notebook, jupyter_server):
    _, canvas = open_viewer(notebook, jupyter_server, "viewer_drag")
    before = notebook.pixel_signature(canvas)
    x, y = canvas_centre(canvas)
    mouse = notebook.page.mouse
    mouse.move(x, y)
    mouse.down(button="right")
    mouse.move(x + 80, y - 60, steps=8)
    mouse.up(button="right")
    after = notebook.wait_pixels_changed(canvas, before)
    assert after != before
    notebook.assert_no_widget_errors()


def test_hover_shows_readout(notebook, jupyter_server):
    viewer, canvas = open_viewer(notebook, jupyter_server, "viewer_hover")
    x, y = canvas_centre(canvas)
    notebook.page.mouse.move(x - 5, y - 5)
    notebook.page.mouse.move(x, y, steps=3)
    readout = viewer.get_by_text(re.compile(r"slice \d+\s+row \d+\s+col \d+")).first
    readout.wait_for(state="visible")
    text = readout.inner_text()
    # The phantom is CT: the readout gives Hounsfield units and the stored value.
    assert " HU" in text and "stored" in text, text
    notebook.assert_no_widget_errors()


def test_play_advances_frames(notebook, jupyter_server):
    viewer, canvas = open_viewer(notebook, jupyter_server, "viewer_play")
    first = notebook.pixel_signature(canvas)
    play = viewer.locator("button", has_text="Play").first
    play.click()
    # Two successive repaints without any further input: the cine is running.
    second = notebook.wait_pixels_changed(canvas, first)
    third = notebook.wait_pixels_changed(canvas, second)
    assert len({first, second, third}) == 3
    play.click()  # stop, so the kernel's timer does not outlive the test
    notebook.assert_no_widget_errors()


def test_ortho_layout_set_from_code_shows_three_panes(notebook, jupyter_server):
    cells = [VIEWER_CELLS[0].format(annotations=True), "viewer.view = 'ortho'"]
    write_notebook(jupyter_server.root_dir / "viewer_ortho_code.ipynb", cells)
    notebook.open("viewer_ortho_code.ipynb")
    notebook.run_all()
    canvas = notebook.page.locator(".dw-series-viewer .jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    notebook.page.wait_for_function(
        "(el) => (" + PANE_COUNT_JS + ")(el) === 3", arg=canvas.element_handle()
    )
    box = canvas.bounding_box()
    assert box["width"] > 2.5 * box["height"], box
    notebook.assert_no_widget_errors()


def test_ortho_button_shows_three_panes(notebook, jupyter_server):
    viewer, canvas = open_viewer(notebook, jupyter_server, "viewer_ortho", annotations=True)
    assert canvas.evaluate(PANE_COUNT_JS) == 1
    before = notebook.pixel_signature(canvas)
    viewer.locator(".widget-toggle-buttons button", has_text=re.compile("^ortho$")).click()
    notebook.wait_pixels_changed(canvas, before)
    notebook.page.wait_for_function(
        "(el) => (" + PANE_COUNT_JS + ")(el) === 3", arg=canvas.element_handle(), timeout=20_000
    )
    box = canvas.bounding_box()
    assert box["width"] > 2.5 * box["height"], box
    notebook.assert_no_widget_errors()


def test_viewer_renders_in_notebook7(notebook, jupyter_server):
    viewer, canvas = open_viewer(notebook, jupyter_server, "viewer_nb7", app="notebook")
    before = notebook.pixel_signature(canvas)
    x, y = canvas_centre(canvas)
    notebook.page.mouse.move(x, y)
    notebook.page.mouse.wheel(0, 120)
    after = notebook.wait_pixels_changed(canvas, before)
    # The frame cache (anywidget) runs in Notebook 7 too and shows the kernel's picture.
    overlay = viewer.locator("canvas.dw-frame-overlay")
    overlay.wait_for(state="visible")
    notebook.wait_pixels_equal(overlay, after)
    notebook.assert_no_widget_errors()


def test_image_fallback_slider_changes_pixels(notebook, jupyter_server):
    """canvas="image" (front-ends without ipympl): a plain <img> still follows the slider."""
    cell = (
        VIEWER_CELLS[0].format(annotations=False).replace("size=384)", "size=384, canvas='image')")
    )
    assert "canvas='image'" in cell
    write_notebook(jupyter_server.root_dir / "viewer_image.ipynb", [cell])
    notebook.open("viewer_image.ipynb")
    notebook.run_all()
    viewer = notebook.page.locator(".dw-series-viewer").first
    image = viewer.locator("img").first
    image.wait_for(state="visible")
    before = notebook.wait_pixels(image, min_colours=3)
    notebook.step_slider(viewer.locator(".widget-slider .noUi-handle").first, times=2)
    after = notebook.wait_pixels_changed(image, before)
    assert after != before
    notebook.assert_no_widget_errors()
