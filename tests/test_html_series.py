"""Series and catalog reprs, and dataset thumbnails of colour files, on real data."""

from __future__ import annotations

import base64
import io
import re
import warnings

import numpy as np
import pytest
from test_html_checks import assert_safe, parse, text_of

import dicom_widgets as dw
from dicom_widgets._compat import read_dataset
from dicom_widgets.data import ct_phantom, mr_phantom, pydicom_file, write_series
from dicom_widgets.html import catalog_html, dataset_thumbnail, orientation_label, series_html

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def _thumbs(html: str) -> list[dict]:
    return [a for t, a in parse(html).starts if t == "img"]


def _png(attrs: dict) -> np.ndarray:
    from PIL import Image

    data = base64.b64decode(attrs["src"].split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_series_summary_strip_and_collapsed_header():
    series = dw.load_series(ct_phantom(n_slices=12, size=32), progress=False)
    html = series_html(series)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    for expected in ("12 slices", "32 × 32", "Spacing", "axial", "center 40, width 80", "CT"):
        assert expected in text, expected
    thumbs = _thumbs(html)
    assert len(thumbs) == 5
    assert [a["alt"] for a in thumbs] == [f"slice {i}" for i in (0, 3, 6, 8, 11)]
    # The first instance's header is there, in a section that starts closed.
    match = re.search(
        r'<input id="([^"]+)" class="dw-section-in" type="checkbox"( checked)?>'
        r'<label for="\1" class="dw-section-summary"[^>]*>Header of the first instance',
        html,
    )
    assert match is not None and match.group(2) is None
    assert "PatientName" in text
    assert html.count("<style>") == 1


def test_series_mimebundle_has_text_and_html():
    series = dw.load_series(ct_phantom(n_slices=3, size=16), progress=False)
    bundle = series._repr_mimebundle_()
    assert bundle["text/plain"] == repr(series)
    assert bundle["text/html"].startswith('<div class="dw-repr">')
    pre = re.search(r'<pre class="dw-text-repr-fallback">(.*?)</pre>', bundle["text/html"], re.S)
    assert pre is not None and "Series" in pre.group(1)


def test_series_payloads_are_text():
    datasets = ct_phantom(n_slices=3, size=16)
    for ds in datasets:
        ds.SeriesDescription = SCRIPT
        ds.PatientName = IMG
    series = dw.load_series(datasets, progress=False)
    html = series_html(series)
    text = text_of(html)
    assert_safe(html)
    assert SCRIPT in text and IMG in text


def test_undecodable_slice_gives_note_and_error_finding():
    datasets = ct_phantom(n_slices=5, size=16)
    datasets[2].PixelData = datasets[2].PixelData[:10]
    series = dw.load_series(datasets, progress=False, prefetch=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        html = series_html(series)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    assert len(_thumbs(html)) == 4
    assert "cannot decode" in text
    assert "QA findings" in text and "decode-failed" in text
    assert "dw-badge dw-sev-error" in html


def test_findings_are_listed_with_severity_colours():
    datasets = ct_phantom(n_slices=8, size=16)
    del datasets[4]  # a gap in the stack
    series = dw.load_series(datasets, progress=False)
    assert series.findings, "the loader should report the gap"
    html = series_html(series)
    assert_safe(html)
    severities = {f.severity for f in series.findings}
    for severity in severities:
        assert f"dw-badge dw-sev-{severity}" in html
    assert f"({len(series.findings)})" in text_of(html)


def test_multiframe_series_and_thumbnail_count():
    series = dw.load_series(read_dataset(pydicom_file("multiframe")), progress=False)
    html = series_html(series, n_thumbnails=3, thumbnail_size=48)
    assert_safe(html)
    thumbs = _thumbs(html)
    assert len(thumbs) == 3 and all(int(a["width"]) <= 48 for a in thumbs)


def test_catalog_rows_thumbnails_errors(tmp_path):
    write_series(ct_phantom(n_slices=4, size=16), tmp_path / "ct")
    mr = mr_phantom(n_slices=3, size=16)
    for ds in mr:
        ds.SeriesDescription = SCRIPT
    write_series(mr, tmp_path / "mr")
    (tmp_path / "notes.txt").write_text("not dicom")
    (tmp_path / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10")
    catalog = dw.scan(tmp_path, progress=False)
    html = catalog_html(catalog)
    parsed = assert_safe(html)
    text = "".join(parsed.text)
    rows = re.findall(r"<tr>", html)
    assert len(rows) == len(catalog.entries) + 1  # + header row
    assert len(_thumbs(html)) == sum(1 for e in catalog.entries if e.has_pixels)
    assert SCRIPT in text
    assert "CT" in text and "MR" in text
    if catalog.non_dicom:
        assert "Not DICOM" in text
    if catalog.errors:
        assert "Files that could not be read" in text
    bundle = catalog._repr_mimebundle_()
    assert bundle["text/plain"] == repr(catalog)
    assert "dw-catalog" in bundle["text/html"]


def test_catalog_caps(tmp_path):
    for k in range(3):
        write_series(ct_phantom(n_slices=2, size=8, seed=k), tmp_path / f"s{k}")
    catalog = dw.scan(tmp_path, progress=False)
    if len(catalog) < 3:
        pytest.skip("phantoms share a SeriesInstanceUID")
    html = catalog_html(catalog, max_thumbnails=1, max_series=2)
    assert_safe(html)
    text = text_of(html)
    assert len(_thumbs(html)) == 1
    assert "… 1 more series" in text
    assert "first 1 series only" in text


def test_empty_catalog(tmp_path):
    catalog = dw.scan(tmp_path, progress=False)
    html = catalog_html(catalog)
    assert "no DICOM series found" in text_of(html)


@pytest.mark.parametrize(
    ("orientation", "label"),
    [
        ([1, 0, 0, 0, 1, 0], "axial"),
        ([1, 0, 0, 0, 0, -1], "coronal"),
        ([0, 1, 0, 0, 0, -1], "sagittal"),
        ([1, 0, 0, 0, 0.7071, 0.7071], "oblique"),
        (None, "unknown"),
        ([0, 0, 0, 0, 0, 0], "unknown"),
        (["a"] * 6, "unknown"),
    ],
)
def test_orientation_label(orientation, label):
    assert orientation_label(orientation) == label


def test_colour_thumbnails_agree_between_rgb_and_ybr():
    rgb = _png(_thumbs(dataset_thumbnail(read_dataset(pydicom_file("rgb"))))[0])
    ybr = _png(_thumbs(dataset_thumbnail(read_dataset(pydicom_file("ybr"))))[0])
    assert rgb.shape == ybr.shape
    assert np.abs(rgb.astype(int) - ybr.astype(int)).mean() < 6
    # SC_rgb's top band is pure red.
    assert tuple(rgb[2, rgb.shape[1] // 2]) == (255, 0, 0)


def test_monochrome1_thumbnail_is_inverted():
    ds = read_dataset(pydicom_file("monochrome1"))
    thumb = _png(_thumbs(dataset_thumbnail(ds))[0])[..., 0].astype(float)
    from dicom_widgets._compat import decode_frame

    stored = decode_frame(ds, 0).astype(float)
    from PIL import Image

    small = np.asarray(
        Image.fromarray(stored).resize((thumb.shape[1], thumb.shape[0]), Image.Resampling.BILINEAR)
    )
    # Brighter stored values display darker.
    assert np.corrcoef(small.ravel(), thumb.ravel())[0, 1] < -0.5
