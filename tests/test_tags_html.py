"""HTML of the tag explorer and of a Diff: escaped, well-formed, complete."""

from __future__ import annotations

import warnings

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from test_html_checks import assert_safe, text_of

from dicom_widgets._compat import read_dataset
from dicom_widgets.data import ct_phantom, pydicom_file
from dicom_widgets.html.tags import (
    detail_html,
    diff_html,
    diff_text,
    explorer_html,
    rows_table,
    varies_html,
)
from dicom_widgets.tags import compare, flatten, varies

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</td></tr></table><script>x</script>",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "' onmouseover='alert(1)",
]


def hostile_dataset() -> Dataset:
    ds = Dataset()
    ds.PatientName = PAYLOADS[0]
    ds.StudyDescription = PAYLOADS[1]
    ds.SeriesDescription = PAYLOADS[2]
    ds.add_new(0x00090010, "LO", PAYLOADS[3])  # private creator used in labels and titles
    ds.add_new(0x00091001, "LO", PAYLOADS[4])
    ds.add_new(0x00091002, "UT", PAYLOADS[5] * 50)
    item = Dataset()
    item.CodeMeaning = PAYLOADS[0]
    ds.ConceptNameCodeSequence = Sequence([item])
    # an undecodable raw value that becomes a marked row
    ds._dict[Tag(0x00081090)] = RawDataElement(
        Tag(0x00081090), "LO", 9, b"<b>\xff\xfe</b>", 0, False, True
    )
    return ds


def test_rows_and_explorer_html_escape_payloads():
    ds = hostile_dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = flatten(ds)
    html = explorer_html(rows, status=PAYLOADS[0])
    assert_safe(html)
    text = text_of(html)
    for payload in PAYLOADS[:4]:
        assert payload in text  # shown as text, not markup
    assert "private: " + PAYLOADS[3] in text
    raw = next(r for r in rows if r.keyword == "ManufacturerModelName")
    assert "without Specific Character Set" in raw.problem
    assert raw.raw_value == b"<b>\xff\xfe</b>"
    assert_safe(rows_table(rows, selected=rows[3].index, hits={rows[3].index}, show_path=True))


def test_detail_html_escapes_every_row():
    ds = hostile_dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = flatten(ds)
    for row in rows:
        html = detail_html(row)
        assert_safe(html)
        assert row.expression in text_of(html)
    private = next(r for r in rows if r.tag == 0x00091001)
    text = text_of(detail_html(private))
    assert private.private_expression in text and PAYLOADS[3] in text


def test_marked_rows_have_labels_and_titles():
    rows = flatten(read_dataset(pydicom_file("bad_vr")))
    html = rows_table(rows)
    parsed = assert_safe(html)
    invalid_titles = [
        a.get("title")
        for n, a in parsed.starts
        if n == "span" and a.get("class") == "dw-invalid-label"
    ]
    assert len(invalid_titles) == 2 and all("Invalid value" in t for t in invalid_titles)
    un_rows = flatten(read_dataset(pydicom_file("explicit_un")))
    assert ">UN<" in rows_table(un_rows)


def test_group_headers_and_varies_marks():
    rows = flatten(read_dataset(pydicom_file("ct_small")))
    html = rows_table(rows[:10], group_headers=[(0, "<b>Module</b>")], varying={rows[2].path})
    assert_safe(html)
    assert "&lt;b&gt;Module&lt;/b&gt;" in html
    assert "varies" in text_of(html)


def test_varies_html():
    datasets = ct_phantom(n_slices=3, size=8)
    datasets[1].SeriesDescription = PAYLOADS[0]
    html = varies_html(varies(datasets), 3)
    assert_safe(html)
    assert "SeriesDescription" in html and PAYLOADS[0] not in html
    assert "3 / 3" in text_of(html)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_diff_html_escapes(payload):
    a = Dataset()
    a.PatientName = "A"
    a.StudyDescription = payload
    b = Dataset()
    b.PatientName = payload
    b.add_new(0x00090010, "LO", payload)
    b.add_new(0x00091001, "LO", payload)
    diff = compare(a, b, label_a=payload, label_b="after")
    html = diff_html(diff)
    assert_safe(html)
    assert payload in text_of(html)
    assert diff._repr_html_() == html
    assert "changed" in diff_text(diff)


def test_diff_html_known_changes_and_truncation():
    a = read_dataset(pydicom_file("rtplan"), force=True)
    b = read_dataset(pydicom_file("rtplan"), force=True)
    b.BeamSequence[0].BeamName = "new name"
    del b.RTPlanLabel
    html = diff_html(compare(a, b, label_a="plan", label_b="edited"))
    assert_safe(html)
    text = text_of(html)
    assert "BeamSequence[0].BeamName" in text and "new name" in text
    assert "only in plan" in text and "RTPlanLabel" in text
    many = compare(read_dataset(pydicom_file("ct_small")), read_dataset(pydicom_file("mr_small")))
    short = diff_html(many, max_rows=5)
    assert_safe(short)
    assert f"{len(many) - 5} more changes not shown" in text_of(short)
    assert "no differences" in text_of(diff_html(compare(a, a)))
