"""The pipeline itself: plain ipywidgets and an ipympl figure render and react in a real browser.

If these fail, every other browser test would fail for reasons that have nothing to do
with dicom-widgets (server, kernel, widget manager, ipympl front-end, Chromium).
"""

from __future__ import annotations

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

SMOKE_CELLS = [
    "%matplotlib widget",
    """\
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(0)
frames = rng.integers(0, 255, size=(11, 64, 64))
with plt.ioff():
    fig, ax = plt.subplots(figsize=(3, 3))
im = ax.imshow(frames[0], cmap="gray", vmin=0, vmax=255)
slider = widgets.IntSlider(value=0, min=0, max=10, description="frame")


def update(change):
    im.set_data(frames[change["new"]])
    fig.canvas.draw_idle()


slider.observe(update, names="value")
widgets.VBox([slider, fig.canvas])""",
]


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_slider_repaints_ipympl_canvas(notebook, jupyter_server, app):
    write_notebook(jupyter_server.root_dir / f"smoke_{app}.ipynb", SMOKE_CELLS)
    notebook.open(f"smoke_{app}.ipynb", app=app)
    notebook.run_all()

    page = notebook.page
    canvas = page.locator(".jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    before = notebook.wait_pixels(canvas, min_colours=16)

    readout = page.locator(".widget-readout").first
    if app == "lab":
        handle = page.locator(".widget-slider .noUi-handle").first
        notebook.step_slider(handle)
        expected, back = "1", lambda: notebook.step_slider(handle, "ArrowLeft")
    else:
        # Notebook 7 swallows arrow keys before the slider sees them: use the mouse.
        slider = page.locator(".widget-slider").first
        notebook.drag_slider(slider, 1.0)
        expected, back = "10", lambda: notebook.drag_slider(slider, 0.0)
    after = notebook.wait_pixels_changed(canvas, before)
    assert after != before
    assert readout.inner_text().strip() == expected

    # Going back to frame 0 shows its pixels again: the canvas shows the data.
    back()
    notebook.wait_pixels_equal(canvas, before)
    assert readout.inner_text().strip() == "0"

    notebook.assert_no_widget_errors()
    notebook.assert_no_error_outputs()
