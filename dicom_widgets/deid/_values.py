"""Value helpers: dummy values valid for each VR, date/time shifting, text redaction."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

__all__ = ["dummy_value", "shift_da", "shift_dt", "shift_tm", "TEXT_VRS", "redact_text"]

#: VRs holding free text or names, where identifiers can hide.
TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC", "PN", "AE", "CS", "UR"})
NUMERIC_VRS = frozenset({"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})

# Dummy values: short, plainly fake, and valid for the VR's character repertoire and length.
_DUMMY: dict[str, Any] = {
    "AE": "ANONYMOUS",
    "AS": "000Y",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000.000000",
    "TM": "000000.00",
    "DS": "0",
    "IS": "0",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "PN": "ANONYMIZED",
    "UR": "urn:anonymized",
    "AT": 0,
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "UL": 0,
    "US": 0,
    "SV": 0,
    "UV": 0,
}


def dummy_value(vr: str) -> Any:
    """A non-empty value valid for ``vr`` that carries no information.

    Examples
    --------
    >>> dummy_value("DA"), dummy_value("PN"), dummy_value("OB")
    ('19000101', 'ANONYMIZED', b'\\x00\\x00')
    """
    if vr in _DUMMY:
        return _DUMMY[vr]
    if vr in BINARY_VRS:
        return b"\x00\x00" if vr != "OD" else b"\x00" * 8
    if vr in ("OF", "OL"):
        return b"\x00" * 4
    return "ANONYMIZED"


_DA_RE = re.compile(r"^(\d{4})(\d{2})?(\d{2})?$")
_DT_RE = re.compile(
    r"^(?P<date>\d{4}(?:\d{2}(?:\d{2})?)?)(?P<time>\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?"
    r"(?P<tz>[+-]\d{4})?$"
)


def _shift_date_text(text: str, days: int) -> str:
    """Shift one DA value (``YYYY``, ``YYYYMM`` or ``YYYYMMDD``), keeping its precision."""
    match = _DA_RE.match(text)
    if not match:
        # Old ACR-NEMA style dates ("YYYY.MM.DD") are read too, and written as DA.
        legacy = re.match(r"^(\d{4})\.(\d{2})\.(\d{2})$", text)
        if not legacy:
            raise ValueError(f"not a DICOM date: {text!r}")
        text = "".join(legacy.groups())
        match = _DA_RE.match(text)
        assert match
    year = int(match.group(1))
    month = int(match.group(2) or 1)
    day = int(match.group(3) or 1)
    shifted = _dt.date(year, month, day) + _dt.timedelta(days=days)
    full = shifted.strftime("%Y%m%d")
    return full[: len(text)]


def shift_da(value: str, days: int) -> str:
    """Shift a DA value (multi-valued ``\\`` and ranges ``A-B`` included) by ``days``.

    Raises ``ValueError`` for text that is not a date.

    Examples
    --------
    >>> shift_da("20240102", -2)
    '20231231'
    >>> shift_da("20240101-20240201", 1)
    '20240102-20240202'
    """
    out = []
    for part in str(value).split("\\"):
        part = part.strip()
        if not part:
            out.append(part)
            continue
        if "-" in part:
            out.append("-".join(_shift_date_text(p, days) if p else "" for p in part.split("-")))
        else:
            out.append(_shift_date_text(part, days))
    return "\\".join(out)


def _shift_dt_one(text: str, days: int) -> str:
    match = _DT_RE.match(text)
    if not match:
        raise ValueError(f"not a DICOM date-time: {text!r}")
    date_part = _shift_date_text(match.group("date"), days)
    return f"{date_part}{match.group('time') or ''}{match.group('tz') or ''}"


def shift_dt(value: str, days: int) -> str:
    """Shift a DT value by whole ``days``; the time of day and any UTC offset are kept.

    Examples
    --------
    >>> shift_dt("20240102101500.123+0100", -3)
    '20231230101500.123+0100'
    """
    out = []
    for part in str(value).split("\\"):
        part = part.strip()
        if not part:
            out.append(part)
        elif "-" in part[1:] and not re.search(r"[+-]\d{4}$", part):
            # A range (query style) without offsets.
            out.append("-".join(_shift_dt_one(p, days) if p else "" for p in part.split("-")))
        else:
            out.append(_shift_dt_one(part, days))
    return "\\".join(out)


_TM_RE = re.compile(r"^\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?$|^\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")


def shift_tm(value: str, days: int) -> str:
    """A TM value under a whole-day shift: validated and kept (time of day is not identifying
    once the date moved, and keeping it keeps DA/TM pairs and intervals consistent)."""
    for part in str(value).split("\\"):
        part = part.strip()
        if part and not all(_TM_RE.match(p.strip()) for p in part.split("-") if p.strip()):
            raise ValueError(f"not a DICOM time: {part!r}")
    return str(value)


def redact_text(text: str, needles: list[re.Pattern[str]]) -> tuple[str, bool]:
    """Replace every match of ``needles`` in ``text`` by ``"X"`` runs of the same length."""
    changed = False
    for pattern in needles:
        text, count = pattern.subn(lambda m: "X" * len(m.group(0)), text)
        changed = changed or count > 0
    return text, changed
