"""Every instantiable row of PS3.15 Table E.1-1 (2026d), under the Basic Profile and each option,
at top level and inside a sequence item."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom_widgets.deid import OPTION_NAMES, DeidContext, Profile, anonymize
from dicom_widgets.deid._tables import OPTION_COLUMNS

TABLE = Path(__file__).parent.parent / "dicom_widgets" / "deid" / "data" / "table_e1_1.csv"
CT = "1.2.840.10008.5.1.4.1.1.2"
KEY = "0123456789abcdef0123456789abcdef"
# A sequence absent from Table E.1-1, to hold the nested copy of each attribute.
HOLDER = "DerivationCodeSequence"


def _rows() -> list[dict[str, str]]:
    with open(TABLE, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _value(vr: str, tag: int):
    return {
        "AE": "STATION1",
        "AS": "045Y",
        "CS": "SECRET",
        "DA": "20200102",
        "DT": "20200102101010.000000+0100",
        "TM": "101010",
        "DS": "12.5",
        "IS": "42",
        "LO": "Secret Value",
        "SH": "Secret",
        "ST": "Secret text",
        "LT": "Secret long text",
        "UT": "Secret unlimited text",
        "UC": "Secret UC",
        "PN": "Doe^John",
        "UI": "1.2.826.0.1.3680043.9.9999.12345",
        "UR": "http://example.org/secret",
        "US": 7,
        "SS": -7,
        "UL": 7,
        "SL": -7,
        "FL": 1.5,
        "FD": 2.5,
        "AT": 0x00100010,
        "OB": b"\x01\x02",
        "OW": b"\x01\x02",
        "UN": b"\x01\x02",
        "SV": 7,
        "UV": 7,
    }.get(vr)


def _instantiable() -> tuple[list[tuple[int, str, dict[str, str]]], list[str]]:
    usable, skipped = [], []
    for row in _rows():
        group, element = row["tag"].split(",")
        if not all(c in "0123456789ABCDEFabcdef" for c in group + element):
            skipped.append(row["tag"])  # repeating groups and private: tested separately below
            continue
        tag = (int(group, 16) << 16) | int(element, 16)
        if tag >> 16 in (0x0000, 0x0002):
            skipped.append(row["tag"])  # command and file meta groups cannot sit in a dataset
            continue
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:
            skipped.append(row["tag"])  # not in this pydicom's dictionary
            continue
        if vr != "SQ" and _value(vr, tag) is None:
            skipped.append(row["tag"])
            continue
        usable.append((tag, vr, row))
    return usable, skipped


USABLE, SKIPPED = _instantiable()
CONFIGS = ["basic", *OPTION_NAMES]


def test_most_rows_are_instantiated():
    rows = _rows()
    # Only the 4 repeating/private patterns, the command/meta rows and tags missing from the
    # installed pydicom dictionary are skipped; the count is printed for the report.
    print(
        f"Table E.1-1: {len(rows)} rows, {len(USABLE)} instantiated, {len(SKIPPED)} skipped: {SKIPPED}"
    )
    assert len(USABLE) + len(SKIPPED) == len(rows)
    assert len(USABLE) >= 600


def _element(ds: Dataset, tag: int, vr: str) -> None:
    if vr == "SQ":
        item = Dataset()
        item.CodeValue = "12345"
        item.CodingSchemeDesignator = "99LOCAL"
        item.CodeMeaning = "Item"
        ds.add_new(tag, "SQ", Sequence([item]))
    else:
        ds.add_new(tag, vr, _value(vr, tag))


def _expected(row: dict[str, str], config: str) -> tuple[str, str]:
    if config != "basic":
        code = row[OPTION_COLUMNS[config]].strip()
        if code:
            return code, config
    return row["basic"].strip(), "basic"


def _check(change, out_item: Dataset, tag: int, vr: str, code: str, original) -> None:
    allowed = set(code.replace("*", "").split("/"))
    assert change.table_code == code
    assert change.action in allowed, (change, code)
    present = tag in out_item
    if change.action == "X":
        assert not present
        return
    assert present
    value = out_item[tag].value
    if change.action == "Z":
        assert (len(value) == 0) if vr == "SQ" else value in ("", None, b"", [])
    elif change.action == "K":
        if vr != "SQ":
            assert value == original
    elif change.action == "D":
        if vr != "SQ":
            assert value not in ("", None, b"")
            if vr not in ("US", "UL", "SS", "SL", "FL", "FD", "SV", "UV", "AT"):
                assert str(value) != str(original)
    elif change.action == "U":
        if vr == "UI":
            assert str(value).startswith("2.25.") and str(value) != original
    elif change.action == "C":
        if vr in ("DA", "DT"):
            assert str(value) != str(original) and str(value)[:2] in ("19", "20")


@pytest.mark.parametrize("config", CONFIGS)
def test_every_row_top_level_and_nested(config):
    profile = Profile(**({config: True} if config != "basic" else {}))
    ctx = DeidContext(KEY)
    checked = 0
    for tag, vr, row in USABLE:
        code, fired = _expected(row, config)
        ds = Dataset()
        ds.SOPClassUID = CT
        ds.PatientID = "PID-1"
        _element(ds, tag, vr)
        holder = Dataset()
        _element(holder, tag, vr)
        setattr(ds, HOLDER, Sequence([holder]))
        original = _value(vr, tag)
        result = anonymize(ds, profile, context=ctx)
        keyword = keyword_for_tag(tag)
        by_path = {c.path: c for c in result.changes}
        top = by_path.get(keyword)
        nested = by_path.get(f"{HOLDER}[0].{keyword}")
        assert top is not None, (row["tag"], keyword, config)
        assert nested is not None, (row["tag"], keyword, config)
        assert top.rule == fired or fired == "basic" and top.rule == "basic"
        _check(top, result.dataset, tag, vr, code, original)
        out_holder = result.dataset[HOLDER].value[0]
        _check(nested, out_holder, tag, vr, code, original)
        # The input is never modified.
        assert ds[tag].value == (original if vr != "SQ" else ds[tag].value)
        checked += 1
    assert checked == len(USABLE)


@pytest.mark.parametrize("config", ["basic", "retain_safe_private"])
def test_private_row_any_vr_explicit_and_un(config):
    profile = Profile(**({config: True} if config != "basic" else {}))
    ds = Dataset()
    ds.SOPClassUID = CT
    block = ds.private_block(0x0009, "DICOM_WIDGETS_PHANTOM", create=True)
    block.add_new(0x01, "LO", "MRN123456")
    block.add_new(0x02, "DS", "1.5")
    ds.add_new(0x00111010, "UN", b"Secret UN value")  # no creator: still private
    item = Dataset()
    item.add_new(0x00131010, "SH", "Nested")
    ds.DerivationCodeSequence = Sequence([item])
    out = anonymize(ds, profile).dataset
    assert 0x00091001 not in out and 0x00111010 not in out
    assert 0x00131010 not in out.DerivationCodeSequence[0]
    if config == "retain_safe_private":
        assert out[0x00091002].value == "1.5" and out[0x00090010].value == "DICOM_WIDGETS_PHANTOM"
    else:
        assert 0x00091002 not in out and 0x00090010 not in out


@pytest.mark.parametrize("clean_graphics", [False, True])
def test_repeating_groups_overlays_and_curves(clean_graphics):
    ds = Dataset()
    ds.SOPClassUID = CT
    for group in (0x6000, 0x6002, 0x601E):
        ds.add_new((group << 16) | 0x0010, "US", 4)
        ds.add_new((group << 16) | 0x0011, "US", 4)
        ds.add_new((group << 16) | 0x0022, "LO", "Overlay by Dr Who")
        ds.add_new((group << 16) | 0x3000, "OW", b"\x00\x01")
        ds.add_new((group << 16) | 0x4000, "LT", "comment")
    ds.add_new(0x50000005, "US", 2)
    ds.add_new(0x50023000, "OW", b"\x00\x01")
    result = anonymize(ds, Profile(clean_graphics=clean_graphics))
    out = result.dataset
    # Curves (50xx,xxxx): X, or C (kept for review) under Clean Graphics.
    assert (0x50023000 in out) is clean_graphics
    for group in (0x6000, 0x6002, 0x601E):
        assert (group << 16) | 0x0022 not in out  # overlay description: free text, removed
        if clean_graphics:
            assert (group << 16) | 0x3000 in out
        else:
            # Overlay Data removed -> the whole Overlay Plane module goes, to stay valid.
            assert not any(t >> 16 == group for t in out.keys())
    if clean_graphics:
        assert not result.identity_removed  # bitmap kept: a person must review it
