"""A segmentation in the viewer as a user sees it: unticking a segment changes the canvas.

A DICOM SEG written by ``write_seg`` over the bundled CT phantom is read back and shown
with ``viewer.add_segmentation``; the legend's checkbox of one segment is clicked in
JupyterLab and the canvas pixels must change, then come back when it is ticked again.
After a toggle, a slider step painted from the browser's frame cache never shows a frame
cached before it (the segment still drawn), and equals the kernel's own frame.
"""

from __future__ import annotations

import pytest
from harness import write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    """\
import tempfile, os
import numpy as np
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom

series = dw.load_series(ct_phantom(n_slices=12, size=128), progress=False)
labels = np.zeros(series.shape, np.uint8)
labels[3:9, 30:70, 30:70] = 1
labels[3:9, 75:100, 60:100] = 2
try:
    path = dw.write_seg(labels, series, os.path.join(tempfile.mkdtemp(), "seg.dcm"),
                        labels={1: "Liver <b>", 2: "Spleen"})
    seg = dw.load_segmentation(path, series)
except dw.MissingDependencyError:
    seg = dw.load_segmentation(labels, series, labels={1: "Liver <b>", 2: "Spleen"})
viewer = dw.SeriesViewer(series, index=6, window="abdomen", size=384)
viewer.show_annotations = False
layer = viewer.add_segmentation(seg, alpha=0.6)
viewer""",
]


def test_unticking_a_segment_in_the_legend_changes_the_canvas(notebook, jupyter_server):
    write_notebook(jupyter_server.root_dir / "segmentation.ipynb", CELLS)
    notebook.open("segmentation.ipynb")
    notebook.run_all()
    page = notebook.page
    viewer = page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    shown = notebook.wait_pixels(canvas, min_colours=3)
    legend = viewer.locator(".dw-segment-legend")
    legend.wait_for(state="visible")
    assert "Liver <b>" in legend.inner_text()  # the label as text, not markup
    toggle = legend.locator(".dw-segment-toggle", has_text="Liver").locator("input").first
    toggle.click()
    hidden = notebook.wait_pixels_changed(canvas, shown)
    assert hidden != shown
    toggle.click()
    notebook.wait_pixels_equal(canvas, shown)
    notebook.assert_no_widget_errors()


def test_after_a_toggle_cached_frames_are_never_stale(notebook, jupyter_server):
    write_notebook(jupyter_server.root_dir / "segmentation_cache.ipynb", CELLS)
    notebook.open("segmentation_cache.ipynb")
    notebook.run_all()
    page = notebook.page
    viewer = page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    overlay = viewer.locator("canvas.dw-frame-overlay")
    cache = viewer.locator(".dw-frame-cache")
    handle = viewer.locator(".widget-slider .noUi-handle").first
    page.wait_for_function(
        "(el) => Number(el.dataset.frames || 0) >= 3", arg=cache.element_handle()
    )
    overlay.wait_for(state="visible")
    at_6 = notebook.pixel_signature(overlay)
    # Slice 7 with both segments, from the cache; then back to 6.
    _, with_liver_7, _, _ = notebook.key_in_one_task(handle, overlay, canvas)
    assert with_liver_7 != at_6
    notebook.wait_pixels_equal(canvas, with_liver_7)
    notebook.step_slider(handle, "ArrowLeft")
    notebook.wait_pixels_equal(canvas, at_6)
    generation = cache.get_attribute("data-generation")

    toggle = viewer.locator(".dw-segment-toggle", has_text="Liver").locator("input").first
    toggle.click()
    hidden_6 = notebook.wait_pixels_changed(canvas, at_6)
    notebook.wait_pixels_equal(overlay, hidden_6)
    page.wait_for_function(
        "([el, old]) => el.dataset.generation !== old && Number(el.dataset.frames || 0) >= 3",
        arg=[cache.element_handle(), generation],
    )
    _, moved, _, under = notebook.key_in_one_task(handle, overlay, canvas)
    assert moved not in (hidden_6, with_liver_7), "a stale frame (liver drawn) was painted"
    assert under == hidden_6  # painted before the kernel's frame could arrive
    # The kernel's own frame of slice 7 without the liver is the very same picture.
    notebook.wait_pixels_equal(canvas, moved)
    notebook.assert_no_widget_errors()
