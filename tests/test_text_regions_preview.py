"""AnonymizationPreview's burned-in text: proposed regions, accepted or rejected, exported.

Driven through public traits and the widgets' own values (no browser), on a real dataset
with PHI burned in, with real Tesseract.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

pytest.importorskip("ipywidgets")

from dicom_widgets.data import burned_in_phantom  # noqa: E402
from dicom_widgets.deid import text_regions as tr  # noqa: E402
from dicom_widgets.widgets.anonymization import AnonymizationPreview  # noqa: E402


@pytest.mark.slow
def test_proposed_regions_are_reviewed_and_the_export_follows_the_review(tesseract, tmp_path):
    image = burned_in_phantom("US", variant=1, rows=240, cols=320)
    preview = AnonymizationPreview(image.dataset, canvas="image", detect_text=True)
    regions = preview.text_regions
    phi = [i for i, r in enumerate(regions) if r.is_phi]
    assert len(phi) >= 3, preview.text_message
    # One checkbox per region, PHI checked (to blank), the rest not.
    boxes = preview.region_boxes.children
    assert [b.value for b in boxes] == [r.is_phi for r in regions]
    name = next(i for i in phi if "PatientName" in regions[i].matches)
    pid = next(i for i in phi if "PatientID" in regions[i].matches)
    # The reviewer unchecks the ID: rejected; accepting by the method works the same way.
    boxes[pid].value = False
    preview.accept_region(name)
    assert preview.text_regions[pid].accepted is False
    assert preview.text_regions[name].accepted is True
    assert "(rejected)" in preview.region_boxes.children[pid].description
    # The anonymized side shows the accepted regions blanked, the rejected one kept (where
    # no accepted region overlaps it).
    original, anonymized = preview.display_frames()
    r0, c0, r1, c1 = preview.text_regions[name].box
    assert anonymized[r0:r1, c0:c1].max() == 0
    kept = _only_in(preview.text_regions, pid, image.dataset.pixel_array.shape[:2])
    assert kept.any() and np.array_equal(anonymized[kept], original[kept])

    report = preview.export(tmp_path / "out")
    assert report is not None and report.counts() == {"written": 1}
    (outcome,) = report.outcomes
    assert outcome.text_regions.mode == "reviewed"
    assert [r.box for r in outcome.text_regions.rejected] == [preview.text_regions[pid].box]
    assert report.to_rows()[0]["text_regions_rejected"] == 1
    assert "1 rejected by the reviewer" in report._repr_text()
    written = pydicom.dcmread(outcome.output)
    r0, c0, r1, c1 = preview.text_regions[name].box
    assert written.pixel_array[r0:r1, c0:c1].max() == 0
    assert np.array_equal(written.pixel_array[kept], image.dataset.pixel_array[kept])


def _only_in(regions, index, shape):
    """Pixels of region ``index`` that no blanked region covers."""
    mask = np.zeros(shape, dtype=bool)
    r0, c0, r1, c1 = regions[index].box
    mask[r0:r1, c0:c1] = True
    for i, region in enumerate(regions):
        if i != index and region.blanked_by("detect"):
            r0, c0, r1, c1 = region.box
            mask[r0:r1, c0:c1] = False
    return mask


def test_without_tesseract_the_preview_says_what_to_install(monkeypatch):
    pytesseract = pytest.importorskip("pytesseract")
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    tr._tesseract.cache_clear()
    try:
        image = burned_in_phantom("US", variant=0, rows=64, cols=96)
        preview = AnonymizationPreview(image.dataset, canvas="image", detect_text=True)
        assert "apt-get install tesseract-ocr" in preview.text_message
        assert preview.text_regions == ()
        # The rest keeps working: hand-drawn regions, the diff.
        preview.add_region((0, 0, 10, 10))
        assert preview.change_for("PatientName").action in ("Z", "D")
    finally:
        tr._tesseract.cache_clear()
