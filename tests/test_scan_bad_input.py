"""Bad input in an archive becomes catalog rows and findings, never a failed scan; the
archive QA report lists every series' findings with counts, as escaped HTML too."""

from __future__ import annotations

import os
import warnings
from html.parser import HTMLParser

import pytest

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, write_series


@pytest.fixture()
def messy(tmp_path):
    root = tmp_path / "archive"
    good = write_series(ct_phantom(n_slices=40, size=16, seed=21), root / "good", shuffle=False)
    gappy = write_series(ct_phantom(n_slices=10, size=16, seed=22), root / "gappy", shuffle=False)
    gappy[4].unlink()  # a missing slice: a gap
    (root / "notes.txt").write_text("<script>alert(1)</script> not DICOM")
    (root / "cut.dcm").write_bytes(good[0].read_bytes()[:300])  # truncated inside the header
    os.mkfifo(root / "pipe.dcm")
    os.symlink(root / "missing.dcm", root / "dangling.dcm")
    return root, good


def _status(catalog, name):
    df = catalog.to_dataframe("files")
    rows = df[df["path"].str.endswith(os.sep + name)]
    assert len(rows) == 1, (name, list(df["path"]))
    return rows.iloc[0]["status"], rows.iloc[0]["reason"]


def test_unreadable_and_odd_entries_are_catalog_rows_and_findings(messy):
    pytest.importorskip("pandas")
    root, _ = messy
    catalog = dw.scan(root, progress=False)
    assert [e.n_instances for e in catalog.entries if e.n_instances == 40]
    assert _status(catalog, "notes.txt")[0] == "non-dicom"
    assert _status(catalog, "cut.dcm")[0] == "error"
    status, reason = _status(catalog, "pipe.dcm")
    assert status == "error" and "pipe" in reason
    status, reason = _status(catalog, "dangling.dcm")
    assert status == "error" and "dangling" in reason
    unreadable = {os.path.basename(p) for f in catalog.findings for p in f.paths}
    assert {"cut.dcm", "pipe.dcm", "dangling.dcm", "notes.txt"} <= unreadable


def test_files_vanishing_mid_scan_are_reported(messy):
    root, good = messy
    victims = good[-3:]  # read in a later chunk than the first

    def delete_after_first_chunk(done: int, total: int) -> None:
        for path in victims:
            if path.exists():
                path.unlink()

    catalog = dw.scan(root, progress=delete_after_first_chunk)
    reasons = dict(catalog.errors)
    for path in victims:
        assert "cannot read" in reasons[str(path)]
    assert any(e.n_instances == 37 for e in catalog.entries)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_reported(messy):
    root, good = messy
    good[5].chmod(0)
    try:
        catalog = dw.scan(root, progress=False)
    finally:
        good[5].chmod(0o644)
    assert "ermission" in dict(catalog.errors)[str(good[5])]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_archive_report_counts_every_series_finding(messy, tmp_path):
    pd = pytest.importorskip("pandas")
    root, good = messy
    # A duplicate position (an exact copy of a slice) and mixed geometry (a bigger slice).
    (root / "good" / "copy.dcm").write_bytes(good[7].read_bytes())
    write_series(ct_phantom(n_slices=1, size=24, seed=21), tmp_path / "big")
    big = next((tmp_path / "big").iterdir())
    big.rename(root / "good" / "big.dcm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        catalog = dw.scan(root, progress=False)
        report = dw.archive_report(catalog, progress=False)
        on_processes = dw.archive_report(catalog, progress=False, executor="processes")
    df = report.to_dataframe()
    assert isinstance(df, pd.DataFrame)
    codes = set(df["code"])
    assert {"gap", "split", "unreadable", "non-dicom"} <= codes
    assert "duplicate-instance" in codes, codes
    counts = report.counts()
    assert sum(counts.values()) == len(df)
    assert counts[("error", "unreadable")] >= 3
    assert on_processes.to_dataframe().equals(df)
    html = report._repr_html_()
    assert "<script>alert" not in html
    parsed = _Text()
    parsed.feed(html)
    assert "script" not in parsed.tags and "table" in parsed.tags
    text = "".join(parsed.text)
    assert "gap" in text and f"{report.n_series} series" in text
