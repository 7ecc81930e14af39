"""Tests of the pure tag core: flatten, summaries, search, expressions, varies, compare."""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_widgets._compat import read_dataset
from dicom_widgets.data import charset_files, ct_phantom, mr_multiframe_phantom, pydicom_file
from dicom_widgets.tags import (
    TagIndex,
    compare,
    evaluate_expression,
    flatten,
    format_tag,
    iter_rows,
    module_of,
    parse_tag,
    search,
    to_dataframe,
    value_summary,
    varies,
    vm_meaning,
    vr_meaning,
)


def read(name: str) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_dataset(pydicom_file(name), force=True)


def assert_expression_reaches_value(row, ds) -> None:
    value = evaluate_expression(row.expression, ds)
    expected = row.element.value
    assert value is expected or value == expected, row.expression
    # The generated text is real Python: eval gives the same object.
    assert eval(row.expression, {}, {"ds": ds}) == expected  # noqa: S307 - our own generated text
    if row.private_expression:
        assert evaluate_expression(row.private_expression, ds) == expected
        assert eval(row.private_expression, {}, {"ds": ds}) == expected  # noqa: S307


# ---------------------------------------------------------------------------- flatten


def test_flatten_top_level_rows_of_ct_small():
    ds = read("ct_small")
    rows = flatten(ds)
    assert [r.index for r in rows] == list(range(len(rows)))
    by_kw = {r.keyword: r for r in rows if r.keyword}
    name = by_kw["PatientName"]
    assert (name.tag, name.tag_text, name.vr, name.vm, name.depth) == (
        0x00100010,
        "(0010,0010)",
        "PN",
        1,
        0,
    )
    assert name.path == "PatientName" and name.expression == "ds.PatientName"
    assert name.summary == str(ds.PatientName)
    assert name.problem is None and not name.is_private
    # file meta first, reached through ds.file_meta
    assert rows[0].in_file_meta and rows[0].expression.startswith("ds.file_meta.")
    ts = by_kw["TransferSyntaxUID"]
    assert evaluate_expression(ts.expression, ds) == ds.file_meta.TransferSyntaxUID
    # multi-valued values are summarised, not dumped
    assert by_kw["ImagePositionPatient"].vm == 3
    assert by_kw["ImagePositionPatient"].summary.startswith("[")


def test_pixel_data_is_never_dumped():
    ds = read("ct_small")
    row = next(r for r in flatten(ds) if r.tag == 0x7FE00010)
    assert row.summary.startswith("Pixel Data: ")
    assert f"{len(ds.PixelData):,} bytes" in row.summary
    assert "128×128" in row.summary
    assert "Little Endian" in row.summary
    assert len(row.summary) < 200
    enc = read("jpeg2000")
    jrow = next(r for r in flatten(enc) if r.tag == 0x7FE00010)
    assert "JPEG 2000" in jrow.summary


def test_value_summary_kinds():
    long_text = "x" * 500
    s = value_summary(pydicom.DataElement(0x00204000, "LT", long_text), max_chars=40)
    assert s.endswith("(500 chars)") and len(s) < 60
    b = value_summary(pydicom.DataElement(0x00291010, "OB", bytes(range(256))))
    assert b.startswith("00 01 02") and "(256 bytes)" in b
    arr = value_summary(pydicom.DataElement(0x30040010, "DS", [str(i) for i in range(100)]))
    assert "(100 values)" in arr
    seq = value_summary(pydicom.DataElement(0x00081140, "SQ", Sequence([Dataset(), Dataset()])))
    assert seq == "2 items"
    text = value_summary(pydicom.DataElement(0x00204000, "LT", "line1\nline2"))
    assert "\n" not in text and "⏎" in text


def test_nested_sequences_paths_and_expressions_enhanced_ct():
    ds = read("enhanced_ct")
    rows = flatten(ds)
    paths = {r.path: r for r in rows}
    spacing = paths["SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing"]
    assert (
        spacing.expression
        == "ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing"
    )
    assert spacing.depth == 2
    assert (
        evaluate_expression(spacing.expression, ds)
        == ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing
    )
    # parents chain: element -> item -> sequence -> item -> sequence
    chain = []
    parent = spacing.parent
    while parent is not None:
        chain.append(rows[parent].path)
        parent = rows[parent].parent
    assert chain == [
        "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]",
        "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence",
        "SharedFunctionalGroupsSequence[0]",
        "SharedFunctionalGroupsSequence",
    ]
    seq = paths["PerFrameFunctionalGroupsSequence"]
    assert seq.is_sequence and seq.item_count == ds.NumberOfFrames
    for row in rows:
        if row.kind == "element" and row.element is not None:
            assert_expression_reaches_value(row, ds)


def test_max_items_and_depth_limit():
    ds = read("enhanced_ct")
    rows = flatten(ds, max_items_per_sequence=1)
    per_frame = next(r for r in rows if r.keyword == "PerFrameFunctionalGroupsSequence")
    assert per_frame.items_shown == 1 and per_frame.item_count == 2
    assert not any(r.path.startswith("PerFrameFunctionalGroupsSequence[1]") for r in rows)
    shallow = flatten(ds, max_depth=0)
    assert max(r.depth for r in shallow) == 0
    no_items = flatten(ds, include_items=False)
    assert all(r.kind == "element" for r in no_items)
    child = next(
        r for r in no_items if r.path == "SharedFunctionalGroupsSequence[0].PixelMeasuresSequence"
    )
    assert no_items[child.parent].path == "SharedFunctionalGroupsSequence"


@pytest.mark.parametrize("name", ["sr", "rtstruct", "rtplan"])
def test_deep_structured_files_expressions(name):
    ds = read(name)
    rows = flatten(ds)
    assert max(r.depth for r in rows) >= 2
    for row in rows:
        if row.kind == "element" and row.element is not None:
            assert_expression_reaches_value(row, ds)
        if row.kind == "item":
            assert isinstance(evaluate_expression(row.expression, ds), Dataset)


# ---------------------------------------------------------------------------- private & invalid


def test_private_elements_explicit_un():
    ds = read("explicit_un")
    rows = flatten(ds)
    creator = next(r for r in rows if r.tag == 0x00130010)
    assert creator.label == "private creator" and creator.is_private
    data = next(r for r in rows if r.tag == 0x00131010)
    assert data.label == "private: CTP" and data.private_creator == "CTP"
    assert data.vr == "UN" and data.problem and "UN" in data.problem
    assert data.expression == "ds[0x0013, 0x1010].value"
    assert data.private_expression == "ds.private_block(0x0013, 'CTP')[0x10].value"
    assert data.path == "(0013,1010)"
    assert_expression_reaches_value(data, ds)
    assert "50 61 6E" in data.summary  # hex preview of b"Pancreas-CT"


def test_private_sequence_files():
    ds = read("private_sequence")
    rows = flatten(ds)
    data = next(r for r in rows if r.tag == 0x3F031001)
    assert data.private_creator == "aaabbbccc MEDICAL SYSTEMS"
    assert_expression_reaches_value(data, ds)
    nested = read("nested_private_sequence")
    nrows = flatten(nested)
    deep = [r for r in nrows if r.depth == 2 and r.kind == "element"]
    assert deep and deep[0].path == "(0001,0001)[0].(0001,0001)[0].(0001,0001)"
    assert (
        deep[0].expression
        == "ds[0x0001, 0x0001].value[0][0x0001, 0x0001].value[0][0x0001, 0x0001].value"
    )
    for row in nrows:
        if row.kind == "element":
            assert_expression_reaches_value(row, nested)
    # group 0001 is not a legal private group: marked, not raised
    assert all(r.problem for r in nrows if r.kind == "element" and r.tag >> 16 == 1)


def test_un_sequence_inside_private():
    ds = read("un_sequence")
    rows = flatten(ds)
    assert any(r.path.endswith("ReferencedSOPInstanceUID") and r.depth >= 2 for r in rows)
    for row in rows:
        if row.kind == "element" and row.element is not None:
            assert_expression_reaches_value(row, ds)


def test_bad_vr_values_are_marked_not_raised():
    ds = read("bad_vr")
    rows = flatten(ds)
    frames = next(r for r in rows if r.keyword == "NumberOfFrames")
    assert frames.problem and "1A" in frames.problem
    assert frames.summary == "1A"
    uid = next(r for r in rows if r.path == "ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID")
    assert uid.problem
    assert sum(r.problem is not None for r in rows) == 2


def test_private_without_creator_and_malformed_creator():
    ds = Dataset()
    ds.add_new(0x00091001, "LO", "orphan")  # no (0009,0010) creator
    ds.add_new(0x00110010, "LO", ["A", "B"])  # creator with two values
    ds.add_new(0x00111001, "LO", "child")
    ds.add_new(0x00130010, "LO", "")  # empty creator
    ds.add_new(0x00131001, "LO", "child2")
    rows = {r.tag: r for r in flatten(ds)}
    assert rows[0x00091001].problem == "private tag without private creator"
    assert rows[0x00091001].label == "private (no creator)"
    assert "malformed private creator" in rows[0x00111001].problem
    assert "malformed private creator" in rows[0x00131001].problem
    for row in rows.values():
        assert_expression_reaches_value(row, ds)


def test_undecodable_text_is_marked():
    # Latin-1 bytes declared as ASCII-only ISO_IR 6 with a multi-byte charset mismatch.
    raw = Dataset()
    raw.SpecificCharacterSet = "ISO_IR 192"  # UTF-8
    raw.PatientName = b"Caf\xe9^Bad"  # not valid UTF-8
    raw.file_meta = pydicom.dataset.FileMetaDataset()
    raw.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    raw.file_meta.MediaStorageSOPClassUID = raw.SOPClassUID = (
        pydicom.uid.SecondaryCaptureImageStorage
    )
    raw.file_meta.MediaStorageSOPInstanceUID = raw.SOPInstanceUID = pydicom.uid.generate_uid()
    import io

    from dicom_widgets._compat import write_dataset

    buf = io.BytesIO()
    write_dataset(raw, buf)
    buf.seek(0)
    ds = pydicom.dcmread(buf)
    rows = flatten(ds)
    name = next(r for r in rows if r.keyword == "PatientName")
    assert name.problem is not None
    assert name.raw_value == b"Caf\xe9^Bad"


def test_charset_files_flatten_and_search():
    files = charset_files()
    assert len(files) > 10
    for path in files:
        ds = pydicom.dcmread(path)
        rows = flatten(ds)
        name = next((r for r in rows if r.keyword == "PatientName"), None)
        if name is not None and name.problem is None:
            assert name.summary == str(evaluate_expression(name.expression, ds))[:80]

    def charset_ds(name):
        return pydicom.dcmread(next(p for p in files if p.name == name))

    index = TagIndex(charset_ds("chrH31.dcm"))  # Yamada^Tarou=山田^太郎=やまだ^たろう
    assert [index.rows[i].keyword for i in index.search("山田").hits] == ["PatientName"]
    assert [index.rows[i].keyword for i in index.search("yamada tarou").hits] == ["PatientName"]
    assert "PatientName" in [r.keyword for r in search(charset_ds("chrJapMulti.dcm"), "たろう")]
    german = charset_ds("chrGerm.dcm")  # Äneas^Rüdiger
    assert [r.keyword for r in search(german, "RÜDIGER")] == ["PatientName"]
    assert [r.keyword for r in search(german, "äneas")] == ["PatientName"]
    # NFKC: full-width Latin letters typed in a Japanese IME still match
    assert [r.keyword for r in search(german, "ＲＵＤ")] == []  # no accent folding: Ü is not U
    assert [r.keyword for r in search(german, "ｒüｄｉｇｅｒ")] == ["PatientName"]
    assert [r.keyword for r in search(charset_ds("chrGreek.dcm"), "ΔΙΟΝΥΣΙΟΣ")] == ["PatientName"]
    assert "PatientName" in [r.keyword for r in search(charset_ds("chrKoreanMulti.dcm"), "김희중")]


def test_every_pydicom_file_flattens(pydicom_files):
    n_ok = 0
    for path in pydicom_files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path, force=True, defer_size="1 MB")
        except Exception:
            continue  # unreadable files are the loader's business
        rows = flatten(ds)
        n_ok += 1
        for row in rows:
            assert isinstance(row.summary, str)
            assert len(row.summary) < 400
    assert n_ok > 100


# ---------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    "query", ["0010,0010", "(0010,0010)", "00100010", "0x00100010", "(0010, 0010)", "tag:0010,0010"]
)
def test_search_tag_spellings(query):
    ds = read("ct_small")
    assert [r.keyword for r in search(ds, query)] == ["PatientName"]


def test_search_keyword_name_words_vr_value():
    ds = read("ct_small")
    index = TagIndex(ds)
    assert "SliceThickness" in [index.rows[i].keyword for i in index.search("slice thick").hits]
    assert "SliceThickness" in [index.rows[i].keyword for i in index.search("SLICETHICKNESS").hits]
    assert [index.rows[i].keyword for i in index.search("patient's name").hits] == ["PatientName"]
    pn = {index.rows[i].keyword for i in index.search("vr:PN").hits}
    assert pn == {r.keyword for r in index.rows if r.vr == "PN"}
    assert {index.rows[i].vr for i in index.search("PN").hits} >= {"PN"}
    value_hits = {index.rows[i].keyword for i in index.search(str(ds.PatientID)).hits}
    assert "PatientID" in value_hits
    assert index.search("").hits == list(range(len(index.rows)))
    assert index.search("no-such-thing-xyz").hits == []


def test_search_nested_hits_with_parents():
    ds = read("rtplan")
    index = TagIndex(ds)
    result = index.search("BeamName")
    assert result.hits
    for i in result.hits:
        row = index.rows[i]
        assert row.keyword == "BeamName"
        assert row.path.startswith("BeamSequence[")
        for parent in index.ancestors(i):
            assert parent in result.visible
    assert set(result.hits) <= set(result.visible)
    assert result.visible == sorted(result.visible)
    first = index.rows[result.hits[0]]
    assert [index.rows[p].path for p in index.ancestors(first.index)] == [
        "BeamSequence",
        "BeamSequence[0]",
    ]


def test_search_private_creator():
    ds = read("explicit_un")
    assert {r.tag for r in search(ds, "creator:CTP")} == {0x00131010, 0x00131013}
    assert 0x00131010 in {r.tag for r in search(ds, "ctp")}


def test_parse_and_format_tag():
    assert parse_tag("0x0019,0x100c") == 0x0019100C
    assert parse_tag("(7fe0|0010)") == 0x7FE00010
    assert parse_tag("hello") is None and parse_tag("0010") is None
    assert format_tag(0x0019100C) == "(0019,100C)"


def test_meanings_and_modules():
    assert vr_meaning("PN").startswith("Person Name")
    assert vm_meaning("1-n") == "one or more values"
    assert vm_meaning(0) == "empty (no value)"
    rows = flatten(read("ct_small"))
    modules = {r.keyword: module_of(r) for r in rows if r.keyword}
    assert modules["PatientName"] == "Patient"
    assert modules["PixelSpacing"] == "Image Plane"
    assert modules["TransferSyntaxUID"] == "File Meta Information"
    priv = next(r for r in rows if r.is_private and r.private_creator)
    assert module_of(priv).startswith("Private: ")


# ---------------------------------------------------------------------------- varies


def test_varies_on_ct_phantom():
    datasets = ct_phantom(n_slices=6, size=16)
    found = {v.path: v for v in varies(datasets)}
    for keyword in ("SliceLocation", "InstanceNumber", "ImagePositionPatient", "SOPInstanceUID"):
        assert keyword in found, keyword
    assert "PatientName" not in found and "Rows" not in found
    inst = found["InstanceNumber"]
    assert inst.distinct == 6 and inst.missing == 0
    np.testing.assert_array_equal(inst.numeric, np.arange(1, 7))
    loc = found["SliceLocation"]
    expected = [float(ds.SliceLocation) for ds in datasets]
    np.testing.assert_allclose(loc.numeric, expected)
    assert found["ImagePositionPatient"].numeric.shape == (6, 3)
    assert found["SOPInstanceUID"].numeric is None


def test_varies_time_and_missing_elements():
    datasets = ct_phantom(n_slices=3, size=8)
    for i, ds in enumerate(datasets):
        ds.AcquisitionTime = f"1200{i:02d}.5"
    del datasets[1].WindowCenter
    found = {v.path: v for v in varies(datasets)}
    acq = found["AcquisitionTime"]
    np.testing.assert_allclose(acq.numeric, [43200.5, 43201.5, 43202.5])
    wc = found["WindowCenter"]
    assert wc.missing == 1 and wc.summaries[1] is None


def test_varies_per_frame_sequences_multiframe():
    ds = mr_multiframe_phantom()
    first = ds.PerFrameFunctionalGroupsSequence[0]
    assert first  # phantom has per-frame groups
    # Two instances of the same phantom with one per-frame value changed.
    other = mr_multiframe_phantom()
    pos_path = None
    for row in flatten(other):
        if row.keyword == "ImagePositionPatient" and row.path.startswith(
            "PerFrameFunctionalGroupsSequence[0]"
        ):
            pos_path = row.path
            evaluate_expression(row.expression.rsplit(".", 1)[0], other).ImagePositionPatient = [
                9,
                9,
                9,
            ]
    assert pos_path
    found = {v.path for v in varies([ds, other])}
    assert pos_path in found


# ---------------------------------------------------------------------------- compare


def test_compare_known_differences():
    a = read("ct_small")
    b = read("ct_small")
    b.PatientName = "Other^Name"
    del b.StudyDate
    b.ProtocolName = "added protocol"
    b.ImagePositionPatient = [0, 0, 0]
    diff = compare(a, b, label_a="orig", label_b="edit")
    kinds = {(c.kind, c.path) for c in diff}
    assert kinds == {
        ("changed", "PatientName"),
        ("removed", "StudyDate"),
        ("added", "ProtocolName"),
        ("changed", "ImagePositionPatient"),
    }
    change = next(c for c in diff.changed if c.keyword == "PatientName")
    assert change.before == str(a.PatientName) and change.after == "Other^Name"
    assert diff.counts() == {"removed": 1, "added": 1, "changed": 2}
    assert [c.path for c in diff.only_in_a] == ["StudyDate"]
    assert [c.path for c in diff.filter(kinds=["added"])] == ["ProtocolName"]
    assert [c.path for c in diff.filter(query="other^")] == ["PatientName"]
    assert [c.path for c in diff.filter(query="(0010,0010)")] == ["PatientName"]
    assert not compare(a, read("ct_small"))
    html = diff._repr_html_()
    assert "Other^Name" in html and "only in orig" in html
    assert "2 changed" in repr(diff)


def test_compare_recursive_into_sequences():
    a = read("rtplan")
    b = read("rtplan")
    b.BeamSequence[0].BeamName = "Changed beam"
    b.BeamSequence[0].ControlPointSequence[0].GantryAngle = "33"
    del b.FractionGroupSequence[0].ReferencedBeamSequence[0].BeamMeterset
    diff = compare(a, b)
    paths = {(c.kind, c.path) for c in diff}
    assert ("changed", "BeamSequence[0].BeamName") in paths
    assert ("changed", "BeamSequence[0].ControlPointSequence[0].GantryAngle") in paths
    assert ("removed", "FractionGroupSequence[0].ReferencedBeamSequence[0].BeamMeterset") in paths
    assert len(diff) == 3
    assert all(c.depth >= 1 for c in diff)
    assert len(diff.filter(max_depth=1)) == 1


def test_compare_item_count_and_private_filter():
    a = read("rtplan")
    b = read("rtplan")
    b.BeamSequence.append(Dataset())
    b.BeamSequence[-1].BeamName = "extra"
    b.add_new(0x00090010, "LO", "ACME")
    b.add_new(0x00091001, "LO", "secret")
    diff = compare(a, b)
    n = len(a.BeamSequence)
    assert ("changed", "BeamSequence") in {(c.kind, c.path) for c in diff}
    assert ("added", f"BeamSequence[{n}].BeamName") in {(c.kind, c.path) for c in diff}
    assert any(c.is_private for c in diff)
    assert not any(c.is_private for c in diff.filter(include_private=False))
    assert not any(c.is_private for c in compare(a, b, include_private=False))


def test_compare_phantom_slices_and_ignore():
    s = ct_phantom(n_slices=2, size=8)
    diff = compare(s, [s[1]], ignore_varying=False)  # a list: its first dataset
    assert {"SliceLocation", "InstanceNumber", "SOPInstanceUID"} <= {
        c.keyword for c in diff.changed
    }
    ignored = compare(s[0], s[1], ignore=["SOPInstanceUID", "MediaStorageSOPInstanceUID"])
    assert "SOPInstanceUID" not in {c.keyword for c in ignored}


def test_to_dataframe():
    ds = read("ct_small")
    df = to_dataframe(ds)
    assert list(df.columns[:7]) == ["path", "tag", "keyword", "name", "VR", "VM", "value"]
    row = df[df.keyword == "PatientName"].iloc[0]
    assert row.tag == "(0010,0010)" and row.VR == "PN"
    assert len(df) == sum(r.kind == "element" for r in flatten(ds))
    diff = compare(ds, read("mr_small"))
    ddf = diff.to_dataframe()
    assert len(ddf) == len(diff) and set(ddf.kind) <= {"added", "removed", "changed"}


def test_iter_rows_is_lazy_and_equal_to_flatten():
    ds = read("bad_vr")
    lazy = list(iter_rows(ds))
    eager = flatten(ds)
    assert [(r.path, r.summary, r.problem) for r in lazy] == [
        (r.path, r.summary, r.problem) for r in eager
    ]
    big = read("enhanced_ct")
    gen = iter_rows(big)
    first = [next(gen) for _ in range(3)]
    assert [r.index for r in first] == [0, 1, 2]
    gen.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in iter_rows(read("ct_small")):
            warnings.warn("consumer warning", UserWarning, stacklevel=1)
    assert any("consumer warning" in str(w.message) for w in caught)


def test_deferred_pixel_data_not_loaded():
    ds = pydicom.dcmread(pydicom_file("ct_small"), defer_size="1 KB")
    row = next(r for r in flatten(ds) if r.tag == 0x7FE00010)
    assert "32,768 bytes" in row.summary and "not loaded" in row.summary
    from pydicom.dataelem import RawDataElement

    assert isinstance(ds._dict[0x7FE00010], RawDataElement)
    assert ds._dict[0x7FE00010].value is None  # still deferred


def test_varies_frames_of_enhanced_ct_and_phantom():
    from dicom_widgets.tags import varies_frames

    ds = mr_multiframe_phantom()
    found = {v.path: v for v in varies_frames(ds)}
    path = "PerFrameFunctionalGroupsSequence[*].PlanePositionSequence[0].ImagePositionPatient"
    assert path in found
    variation = found[path]
    n = len(ds.PerFrameFunctionalGroupsSequence)
    assert variation.numeric.shape == (n, 3)
    for i in (0, n - 1):
        expr = variation.expression.replace("[i]", f"[{i}]")
        assert [float(x) for x in evaluate_expression(expr, ds)] == variation.numeric[i].tolist()
    assert varies_frames(read("ct_small")) == []
    enhanced = {v.keyword for v in varies_frames(read("enhanced_ct"))}
    assert "ImagePositionPatient" in enhanced or "InStackPositionNumber" in enhanced


@pytest.mark.parametrize(
    "module",
    ["dicom_widgets.tags", "dicom_widgets.html.tags", "dicom_widgets.widgets.tag_explorer"],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_compare_two_series_ignores_what_varies_within():
    a = ct_phantom(n_slices=4, size=8)
    b = ct_phantom(n_slices=4, size=8)
    for ds in b:
        ds.SeriesDescription = "other protocol"
        ds.SliceThickness = "5"
    diff = compare(a, b, label_a="s1", label_b="s2")
    keywords = {c.keyword for c in diff}
    assert {"SeriesDescription", "SliceThickness"} <= keywords
    assert not keywords & {
        "SOPInstanceUID",
        "SliceLocation",
        "InstanceNumber",
        "ImagePositionPatient",
    }
    assert "SliceLocation" not in {c.keyword for c in compare(a, b[1:])}
    raw = compare(a, b[1:], ignore_varying=False)  # first instances: slices 0 and 1
    assert "SliceLocation" in {c.keyword for c in raw}


def test_module_table_keywords_exist_and_are_unique():
    from pydicom.datadict import tag_for_keyword

    from dicom_widgets.tags import MODULE_KEYWORDS

    seen: dict[str, str] = {}
    for module, keywords in MODULE_KEYWORDS.items():
        for keyword in keywords:
            assert tag_for_keyword(keyword) is not None, (module, keyword)
            assert keyword not in seen, (keyword, seen.get(keyword), module)
            seen[keyword] = module
