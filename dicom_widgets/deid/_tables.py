"""PS3.15 Annex E tables (edition 2026d) loaded from the CSV files in ``deid/data``.

The CSV files are copied verbatim from the project's shared copy of the standard's tables;
their provenance is in ``deid/data/README.md``. This module only parses them into
lookup structures: which rule covers a tag, and which code each column gives.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "EDITION",
    "OPTION_COLUMNS",
    "TableRule",
    "ContentItemRule",
    "rules",
    "rule_for",
    "content_item_rules",
    "private_rule",
    "repeating_rules",
    "is_private_group",
    "is_private_creator",
    "is_overlay_group",
    "is_curve_group",
]

#: Edition of PS3.15 the shipped tables come from; recorded in De-identification Method.
EDITION = "2026d"

_DATA = Path(__file__).parent / "data"

#: Option name (as used by :class:`~dicom_widgets.deid.Profile`) -> CSV column of Table E.1-1.
OPTION_COLUMNS: dict[str, str] = {
    "retain_safe_private": "retain_safe_private",
    "retain_uids": "retain_uids",
    "retain_device_identity": "retain_device_id",
    "retain_institution_identity": "retain_institution_id",
    "retain_patient_characteristics": "retain_patient_chars",
    "retain_longitudinal_full_dates": "retain_long_full_dates",
    "retain_longitudinal_modified_dates": "retain_long_modified_dates",
    "clean_descriptors": "clean_desc",
    "clean_structured_content": "clean_struct_cont",
    "clean_graphics": "clean_graph",
}


def is_private_group(group: int) -> bool:
    """Whether ``group`` is private (odd; PS3.5 7.8): the table's ``gggg,eeee`` row."""
    return bool(group & 1)


def is_private_creator(tag: int) -> bool:
    """Whether ``tag`` is a Private Creator Data Element ``(gggg,0010-00FF)`` (PS3.5 7.8.1)."""
    return is_private_group(tag >> 16) and 0x0010 <= (tag & 0xFFFF) <= 0x00FF


def is_overlay_group(group: int) -> bool:
    """Whether ``group`` is an Overlay Plane group ``60xx`` (even 6000-601E; PS3.3 C.9.2)."""
    return 0x6000 <= group <= 0x601E and not group & 1


def is_curve_group(group: int) -> bool:
    """Whether ``group`` is a (retired) Curve group ``50xx`` (even 5000-501E; PS3.3 C.10.2)."""
    return 0x5000 <= group <= 0x501E and not group & 1


def _option_code(options: tuple[tuple[str, str], ...], option: str) -> str:
    """The code an option sets on a table row (``""`` when it sets none)."""
    return next((code for name, code in options if name == option), "")


@dataclass(frozen=True)
class TableRule:
    """One row of Table E.1-1.

    Attributes
    ----------
    pattern : str
        The tag as printed in the standard (``"0010,0010"``, ``"60xx,3000"``, ``"gggg,eeee"``).
    name : str
        The attribute name as printed in the standard.
    basic : str
        The Basic Profile action code (``"X"``, ``"Z/D"``...).
    options : dict
        Option name -> code, only for options that set a code on this row.
    """

    pattern: str
    name: str
    basic: str
    options: tuple[tuple[str, str], ...]

    def code_for(self, option: str) -> str:
        """The code ``option`` sets on this row, or ``""``."""
        return _option_code(self.options, option)


@dataclass(frozen=True)
class ContentItemRule:
    """One row of Table E.3.4-1 (content items acted on by Clean Structured Content)."""

    code_value: str
    coding_scheme: str
    code_meaning: str
    value_type: str
    basic: str
    options: tuple[tuple[str, str], ...]

    def code_for(self, option: str) -> str:
        """The code ``option`` sets on this row, or ``""``."""
        return _option_code(self.options, option)


_E341_COLUMNS = {
    "retain_uids": "retain_uids",
    "retain_device_identity": "retain_device_id",
    "retain_institution_identity": "retain_institution_id",
    "retain_patient_characteristics": "retain_patient_chars",
    "retain_longitudinal_full_dates": "retain_long_full_dates",
    "retain_longitudinal_modified_dates": "retain_long_modified_dates",
    "clean_descriptors": "clean_desc",
}


@lru_cache(maxsize=1)
def _load() -> tuple[dict[int, TableRule], dict[int, TableRule], dict[int, TableRule], TableRule]:
    exact: dict[int, TableRule] = {}
    overlay: dict[int, TableRule] = {}  # element number -> rule, for 60xx,eeee
    curve: dict[int, TableRule] = {}  # 50xx,xxxx uses key -1 (any element)
    private: TableRule | None = None
    with open(_DATA / "table_e1_1.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            options = tuple(
                (name, row[column].strip())
                for name, column in OPTION_COLUMNS.items()
                if row[column].strip()
            )
            rule = TableRule(row["tag"], row["name"], row["basic"].strip(), options)
            group, element = row["tag"].split(",")
            if group.lower() == "gggg":
                private = rule
            elif group.lower().startswith("60") and "x" in group.lower():
                overlay[int(element, 16)] = rule
            elif group.lower().startswith("50") and "x" in group.lower():
                curve[-1] = rule
            else:
                exact[(int(group, 16) << 16) | int(element, 16)] = rule
    assert private is not None, "Table E.1-1 CSV lacks the private attributes row"
    return exact, overlay, curve, private


def rules() -> dict[int, TableRule]:
    """Every exact-tag row of Table E.1-1, keyed by tag (repeating-group rows excluded)."""
    return dict(_load()[0])


def repeating_rules() -> list[TableRule]:
    """The repeating-group rows (``50xx,xxxx``, ``60xx,3000``, ``60xx,4000``)."""
    _, overlay, curve, _ = _load()
    return [*overlay.values(), *curve.values()]


def private_rule() -> TableRule:
    """The ``gggg,eeee`` row (every element of an odd group)."""
    return _load()[3]


def rule_for(tag: int) -> TableRule | None:
    """The Table E.1-1 row covering ``tag``, or ``None`` when the table does not list it.

    Repeating groups: any element of an even group 5000-501E matches ``50xx,xxxx``; elements
    3000 and 4000 of an even group 6000-601E match the overlay rows. Any element of an odd
    group (private) matches ``gggg,eeee``.

    Examples
    --------
    >>> rule_for(0x00100010).basic
    'Z'
    >>> rule_for(0x60023000).pattern
    '60xx,3000'
    """
    exact, overlay, curve, private = _load()
    rule = exact.get(tag)
    if rule is not None:
        return rule
    group = tag >> 16
    if is_private_group(group):
        return private
    if is_overlay_group(group):
        return overlay.get(tag & 0xFFFF)
    if is_curve_group(group):
        return curve.get(-1)
    return None


@lru_cache(maxsize=1)
def content_item_rules() -> dict[tuple[str, str], ContentItemRule]:
    """Table E.3.4-1 keyed by ``(code value, coding scheme designator)``."""
    out: dict[tuple[str, str], ContentItemRule] = {}
    with open(_DATA / "table_e3_4_1.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            options = tuple(
                (name, row[column].strip())
                for name, column in _E341_COLUMNS.items()
                if row.get(column, "").strip()
            )
            out[(row["code_value"].strip(), row["coding_scheme"].strip())] = ContentItemRule(
                row["code_value"].strip(),
                row["coding_scheme"].strip(),
                row["code_meaning"].strip(),
                row["value_type"].strip(),
                row["basic"].strip(),
                options,
            )
    return out
