"""Sequences whose action is D become dummy sequences (one item, nothing original), removed and
replaced sequences' text is verified, and a dataset holding every Table E.1-1 attribute keeps
no original value anywhere."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from test_deid_table import USABLE

from dicom_widgets._compat import write_dataset
from dicom_widgets.deid import DeidContext, Profile, _iod, anonymize, verify
from dicom_widgets.deid._iod import DUMMY_ITEMS
from dicom_widgets.deid._tables import rules
from dicom_widgets.html import anonymization as H

CT = "1.2.840.10008.5.1.4.1.1.2"
SR = "1.2.840.10008.5.1.4.1.1.88.11"
KEY = "0123456789abcdef0123456789abcdef"
HOLDER = "DerivationCodeSequence"  # not in Table E.1-1: its items are walked by the rules


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "99LOCAL"
    item.CodeMeaning = meaning
    return item


def _dataset(sop_class: str = CT) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.9.9999.1"
    ds.PatientID = "PID-1"
    return ds


def _sq_rows() -> list[tuple[int, str, str]]:
    """(tag, keyword, basic code) of every SQ-valued row of Table E.1-1 (this pydicom's dictionary)."""
    out = []
    for tag, rule in rules().items():
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr == "SQ":
            out.append((tag, keyword_for_tag(tag), rule.basic))
    return out


SQ_ROWS = _sq_rows()
D_ROWS = [row for row in SQ_ROWS if row[2] == "D"]
COMPOUND_D_ROWS = [row for row in SQ_ROWS if "/" in row[2] and "D" in row[2].split("/")]


def test_every_sq_row_that_can_resolve_to_d_has_an_item_template():
    assert {k for _, k, _ in D_ROWS} == {
        "FlowIdentifierSequence",
        "PersonIdentificationCodeSequence",
        "VerifyingObserverSequence",
        "ContentSequence",
        "GraphicAnnotationSequence",
    }
    assert {k for _, k, _ in COMPOUND_D_ROWS} == {
        "InstitutionCodeSequence",
        "OperatorIdentificationSequence",
        "ReferencedPerformedProcedureStepSequence",
        "WaveformAnnotationSequence",
    }
    for _, keyword, _ in D_ROWS + COMPOUND_D_ROWS:
        assert keyword in DUMMY_ITEMS, keyword


def _badge() -> Sequence:
    return Sequence([_code("BADGE-778812", "Dr Alice Smith, badge 778812")])


def test_the_issue_example_person_identification_code_sequence(tmp_path):
    ds = _dataset()
    ds.PersonIdentificationCodeSequence = _badge()
    holder = Dataset()
    holder.PersonIdentificationCodeSequence = _badge()
    setattr(ds, HOLDER, Sequence([holder]))
    result = anonymize(ds, Profile(), context=DeidContext(KEY))
    out = result.dataset
    for seq in (
        out.PersonIdentificationCodeSequence,
        out[HOLDER][0].PersonIdentificationCodeSequence,
    ):
        assert len(seq) == 1
        assert (seq[0].CodeValue, seq[0].CodingSchemeDesignator, seq[0].CodeMeaning) == (
            "ANONYMIZED",
            "99DEID",
            "ANONYMIZED",
        )
    buffer = io.BytesIO()
    out.file_meta = FileMetaDataset()
    out.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    write_dataset(out, buffer)
    assert b"778812" not in buffer.getvalue() and b"Alice" not in buffer.getvalue()
    changes = {c.path: c for c in result.changes}
    for path in (
        "PersonIdentificationCodeSequence",
        f"{HOLDER}[0].PersonIdentificationCodeSequence",
    ):
        change = changes[path]
        assert change.action == "D" and change.changed
        assert "dummy sequence" in change.note and "Code Sequence Macro" in change.note
        assert H.change_category(change) == "sequence_replaced"
        assert "Dr Alice Smith, badge 778812" in change.removed_values
        assert "Dr Alice Smith" not in repr(change)  # the removed text is not shown
    # Nothing under the original items was walked: their elements have no change rows.
    assert not [p for p in changes if p.startswith("PersonIdentificationCodeSequence[")]
    assert result.identity_removed
    html = H.anonymization_result_html(result)
    assert "sequence replaced" in html and "778812" not in html


def _original_item(tag: int) -> Dataset:
    item = _code(f"CV{tag:08X}", f"Meaning {tag:08X}")
    item.add_new(0x0040A123, "PN", f"Smith{tag:08X}^Alice")  # Person Name
    inner = Dataset()
    inner.add_new(0x0040A160, "UT", f"Deep text {tag:08X}")  # Text Value
    item.add_new(0x0040A730, "SQ", Sequence([inner]))  # nested Content Sequence
    return item


def _texts(ds: Dataset) -> list[str]:
    out = []
    for elem in ds.iterall():
        if elem.VR != "SQ" and isinstance(elem.value, str):
            out.append(elem.value)
    return out


@pytest.mark.parametrize("tag,keyword,code", D_ROWS, ids=[r[1] for r in D_ROWS])
def test_d_sequences_become_one_dummy_item_top_level_and_nested(tag, keyword, code):
    sop_class = SR if keyword == "ContentSequence" else CT
    ds = _dataset(sop_class)
    ds.add_new(tag, "SQ", Sequence([_original_item(tag), _original_item(tag)]))
    holder = Dataset()
    holder.add_new(tag, "SQ", Sequence([_original_item(tag)]))
    setattr(ds, HOLDER, Sequence([holder]))
    result = anonymize(ds, Profile(), context=DeidContext(KEY))
    template, _ = DUMMY_ITEMS[keyword]
    for where in (result.dataset, result.dataset[HOLDER][0]):
        seq = where[tag].value
        assert len(seq) == 1  # D: never an empty sequence (that would be Z)
        assert set(seq[0].keys()) == set(template("2.25.1").keys())
        assert not [t for t in _texts(seq[0]) if f"{tag:08X}" in t]
    assert all(f"{tag:08X}" not in t for t in _texts(result.dataset))


@pytest.mark.parametrize(
    "option,keyword",
    [
        ("clean_structured_content", "ContentSequence"),
        ("clean_graphics", "GraphicAnnotationSequence"),
    ],
)
def test_option_columns_still_clean_what_they_cover(option, keyword):
    ds = _dataset(SR if keyword == "ContentSequence" else CT)
    ds.PatientName = "Smith^Alice"
    item = _code("CV1", "Seen by Alice Smith")
    setattr(ds, keyword, Sequence([item, _code("CV2", "Plain")]))
    result = anonymize(ds, Profile(**{option: True}), context=DeidContext(KEY))
    seq = result.dataset[keyword].value
    change = next(c for c in result.changes if c.path == keyword)
    assert change.action == "C" and change.rule == option
    assert len(seq) == 2  # C keeps the items and cleans them
    assert seq[1].CodeMeaning == "Plain"
    assert "Alice" not in str(seq[0].CodeMeaning) and "Smith" not in str(seq[0].CodeMeaning)


@pytest.mark.parametrize("tag,keyword,code", COMPOUND_D_ROWS, ids=[r[1] for r in COMPOUND_D_ROWS])
def test_compound_codes_resolving_to_d_give_a_dummy_sequence(monkeypatch, tag, keyword, code):
    # These are Type 3 in every IOD the engine knows (-> X); where an IOD requires one
    # (Type 1), D applies: the same dummy sequence, at the top level and nested.
    monkeypatch.setitem(_iod.REQUIREMENTS, keyword, lambda where: 1)
    ds = _dataset()
    ds.add_new(tag, "SQ", Sequence([_original_item(tag)]))
    holder = Dataset()
    holder.add_new(tag, "SQ", Sequence([_original_item(tag)]))
    setattr(ds, HOLDER, Sequence([holder]))
    result = anonymize(ds, Profile(), context=DeidContext(KEY))
    for path, where in (
        (keyword, result.dataset),
        (f"{HOLDER}[0].{keyword}", result.dataset[HOLDER][0]),
    ):
        change = next(c for c in result.changes if c.path == path)
        assert change.action == "D" and f"{code} -> D" in change.note
        assert len(where[tag].value) == 1
    assert all(f"{tag:08X}" not in t for t in _texts(result.dataset))
    monkeypatch.undo()
    again = anonymize(ds, Profile(), context=DeidContext(KEY)).dataset
    assert tag not in again and tag not in again[HOLDER][0]  # Type 3: removed


def _bytes(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    write_dataset(ds, buffer)
    return buffer.getvalue()


def test_verification_searches_the_text_of_removed_and_replaced_sequences():
    ds = _dataset()
    ds.PersonIdentificationCodeSequence = _badge()  # D: replaced
    other = Dataset()
    other.PatientID = "OTHER-99881"
    other.IssuerOfPatientID = "Elsewhere Clinic"
    ds.OtherPatientIDsSequence = Sequence([other])  # X: removed
    ds.StudyID = "S1"  # Z: emptied (a place the engine writes)
    result = anonymize(ds, Profile(), context=DeidContext(KEY))
    assert verify([ds], [_bytes(result.dataset)], profile=Profile()).ok
    # A leak planted where the engine wrote: inside the dummy item, and in a dummy value.
    leaked = result.dataset
    leaked.PersonIdentificationCodeSequence[0].CodeMeaning = "Dr Alice Smith, badge 778812"
    leaked.StudyID = "Elsewhere Clinic"
    report = verify([ds], [_bytes(leaked)], profile=Profile())
    found = {(h.path, h.kind) for h in report.hits}
    assert ("PersonIdentificationCodeSequence[0].CodeMeaning", "removed") in found, report.hits
    assert ("StudyID", "removed") in found, report.hits


def _token(tag: int, vr: str, index: int):
    """A value for the row of ``tag`` valid for its VR and, where the VR allows, unique to it."""
    day = dt.date(1950, 1, 1) + dt.timedelta(days=index)
    hex_ = f"{tag:08X}"
    return {
        "AE": f"AE{hex_}",
        "AS": f"{index % 100:03d}Y",
        "CS": f"CS{hex_}",
        "DA": day.strftime("%Y%m%d"),
        "DT": day.strftime("%Y%m%d") + "101010",
        "TM": f"{index % 24:02d}{index % 60:02d}07",
        "DS": str(1000 + index),
        "IS": str(1000 + index),
        "LO": f"Secret {hex_}",
        "SH": f"Secret{hex_}",
        "ST": f"Secret text {hex_}",
        "LT": f"Secret long text {hex_}",
        "UT": f"Secret unlimited {hex_}",
        "UC": f"Secret UC {hex_}",
        "PN": f"Doe{hex_}^John{hex_}",
        "UI": f"1.2.826.0.1.3680043.9.9999.{tag}",
        "UR": f"http://example.org/{hex_}",
        "US": 7,
        "SS": -7,
        "UL": 7,
        "SL": -7,
        "FL": 1.5,
        "FD": 2.5,
        "SV": 7,
        "UV": 7,
        "AT": 0x00100010,
        "OB": f"OB{hex_}".encode(),
        "OW": f"OW{hex_}".encode(),
        "UN": f"UN{hex_}".encode(),
    }[vr]


def _fill(ds: Dataset) -> dict[int, object]:
    originals: dict[int, object] = {}
    for index, (tag, vr, _row) in enumerate(USABLE):
        if vr == "SQ":
            ds.add_new(tag, "SQ", Sequence([_original_item(tag)]))
        else:
            originals[tag] = _token(tag, vr, index)
            ds.add_new(tag, vr, originals[tag])
    return originals


def test_every_table_attribute_top_level_and_nested_keeps_no_original_value():
    ds = Dataset()
    originals = _fill(ds)
    ds.SOPClassUID = CT  # a real IOD for the compound codes to be resolved by
    holder = Dataset()
    _fill(holder)
    setattr(ds, HOLDER, Sequence([holder]))
    result = anonymize(ds, Profile(), context=DeidContext(KEY))
    out = result.dataset
    data = _bytes(out)
    assert len(USABLE) >= 600
    letters = 0
    for tag, vr, _row in USABLE:
        hex_ = f"{tag:08X}"
        # Every row's own text (its sequence items' included) is nowhere in the output file.
        if vr == "SQ":
            needles = [f"CV{hex_}", f"Meaning {hex_}", f"Smith{hex_}", f"Deep text {hex_}"]
        elif vr in ("AE", "CS", "LO", "SH", "ST", "LT", "UT", "UC", "UR"):
            needles = [str(originals[tag])]
        elif vr == "PN":
            needles = [f"Doe{hex_}", f"John{hex_}"]
        elif vr in ("OB", "OW", "UN"):
            needles = [originals[tag].decode()]
        else:
            needles = []
        for needle in needles:
            assert needle.encode() not in data, (needle, keyword_for_tag(tag), vr)
            letters += 1
        if vr == "UI" and tag != 0x00080016:
            assert str(originals[tag]).encode() not in data, keyword_for_tag(tag)
        for where in (out, out[HOLDER][0]):
            if tag not in where or vr == "SQ":
                continue
            value = where[tag].value
            if tag == 0x00080016:
                continue  # SOP Class UID: names the IOD, kept by the standard (not in the table)
            if value in (None, "", b"", []):
                continue
            if vr in ("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"):
                continue  # a dummy number may equal the original number: nothing identifies
            assert str(value) != str(originals[tag]), (keyword_for_tag(tag), value)
    assert letters > 400
    # The D sequences are there, as one dummy item each, at both levels.
    for where in (out, out[HOLDER][0]):
        for tag, keyword, _code in D_ROWS:
            if tag in where:
                assert len(where[tag].value) == 1, keyword
    assert "VerifyingObserverSequence" in out and "FlowIdentifierSequence" in out[HOLDER][0]
