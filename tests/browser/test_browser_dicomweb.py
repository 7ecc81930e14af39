"""DicomWebBrowser as a user sees it: the studies of a real Orthanc listed, a click opens one.

A local Orthanc (basic auth, 127.0.0.1 only) holds a CT phantom; the notebook's kernel
connects to it. The user clicks the study's row, then the series' row, and the viewer
paints the CT slice; a slider step repaints it (frames fetched over DICOMweb).
"""

from __future__ import annotations

import os

import pytest
from harness import write_notebook

from dicom_widgets.data import ct_phantom
from dicom_widgets.dicomweb.local_orthanc import LocalOrthanc, orthanc_available

pytestmark = pytest.mark.browser

USER, PASSWORD = "browser-user", "browser-Pa55-word"

CELLS = [
    """\
import dicom_widgets as dw

browser = dw.DicomWebBrowser({url!r}, auth=({user!r}, {password!r}))
browser""",
]


@pytest.fixture(scope="module")
def orthanc():
    if not orthanc_available():
        reason = "Orthanc is not installed: run `bash scripts/install-system-packages.sh` as root"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{reason} (CI=true: DICOMweb tests must run, not skip)", pytrace=False)
        pytest.skip(reason)
    server = LocalOrthanc(credentials=(USER, PASSWORD))
    try:
        server.start()
        server.store(ct_phantom(n_slices=16, size=128))
        yield server
    finally:
        server.stop()


def test_lists_the_studies_and_opens_a_series_in_the_viewer(notebook, jupyter_server, orthanc):
    cells = [CELLS[0].format(url=orthanc.dicomweb_url, user=USER, password=PASSWORD)]
    write_notebook(jupyter_server.root_dir / "dicomweb_browser.ipynb", cells)
    notebook.open("dicomweb_browser.ipynb")
    notebook.run_all()
    page = notebook.page
    widget = page.locator(".dw-dicomweb-browser").first
    studies = widget.locator(".dw-dicomweb-studies .dw-dicomweb-row")
    studies.first.wait_for(state="visible")
    assert studies.count() == 1
    row = studies.first.inner_text()
    assert "DW-PHANTOM-0001" in row and "PHANTOM" in row
    assert "1 study found" in widget.inner_text()

    studies.first.locator(".dw-dicomweb-open").click()
    series = widget.locator(".dw-dicomweb-series .dw-dicomweb-row")
    series.first.wait_for(state="visible")
    assert "Axial head phantom" in series.first.inner_text()

    series.first.locator(".dw-dicomweb-open").click()
    canvas = widget.locator(".dw-series-viewer .jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    first = notebook.wait_pixels(canvas, min_colours=3)
    handle = widget.locator(".dw-series-viewer .widget-slider .noUi-handle").first
    notebook.step_slider(handle, "ArrowRight", times=2)
    assert notebook.wait_pixels_changed(canvas, first) != first
    assert "opened 16 slices" in widget.inner_text()
    assert PASSWORD not in widget.inner_text()
    notebook.assert_no_widget_errors()
    notebook.assert_no_error_outputs()
