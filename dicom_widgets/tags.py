"""Flatten a DICOM dataset to element rows, summarise values, search, compare.

This is the pure core behind :class:`~dicom_widgets.widgets.tag_explorer.TagExplorer`
and the HTML repr of a dataset: one implementation of "walk a dataset and describe each
element", used by every view. It imports only pydicom, numpy and the standard library
(pandas lazily for :func:`to_dataframe`).

Each element becomes an :class:`ElementRow` carrying its path through sequences
(``ReferencedImageSequence[0].ReferencedSOPInstanceUID``), a short display summary
(long text truncated, binary shown as a hex preview, arrays summarised, pixel data never
dumped), the Python expression that reaches its value (``ds.PatientName``,
``ds[0x0019, 0x100C].value``) and a marker when the value is invalid or undecodable.
Bad values never raise: they are shown and marked.

Examples
--------
>>> from dicom_widgets.data import pydicom_file
>>> from dicom_widgets._compat import read_dataset
>>> ds = read_dataset(pydicom_file("ct_small"))
>>> rows = flatten(ds)
>>> row = next(r for r in rows if r.keyword == "PatientName")
>>> row.tag_text, row.vr, row.expression
('(0010,0010)', 'PN', 'ds.PatientName')
>>> [r.path for r in search(rows, "0010,0010")]
['PatientName']
"""

from __future__ import annotations

import gc
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from pydicom.datadict import (
    dictionary_description,
    dictionary_has_tag,
    keyword_for_tag,
    private_dictionary_description,
    tag_for_keyword,
)
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from ._compat import safe_get

__all__ = [
    "ElementRow",
    "flatten",
    "iter_rows",
    "value_summary",
    "format_tag",
    "parse_tag",
    "VR_MEANINGS",
    "vr_meaning",
    "vm_meaning",
    "module_of",
    "normalize_text",
    "TagIndex",
    "SearchResult",
    "search",
    "evaluate_expression",
    "Variation",
    "varies",
    "varies_frames",
    "Change",
    "Diff",
    "compare",
    "to_dataframe",
]

PIXEL_DATA_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "OB or OW", "US or OW"})
TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST"})
TEXT_VRS |= {"TM", "UC", "UI", "UR", "UT"}
NUMERIC_VRS = frozenset({"DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"})
ITEM_TAG = 0xFFFEE000

#: Meaning of each value representation (PS3.5 table 6.2-1), shown in the detail pane.
VR_MEANINGS: dict[str, str] = {
    "AE": "Application Entity: up to 16 characters naming a DICOM application",
    "AS": "Age String: nnnD, nnnW, nnnM or nnnY (days, weeks, months, years)",
    "AT": "Attribute Tag: a (group,element) tag pointing to another attribute",
    "CS": "Code String: up to 16 upper-case characters, digits, space or underscore",
    "DA": "Date: YYYYMMDD",
    "DS": "Decimal String: a number written as text, up to 16 characters",
    "DT": "Date Time: YYYYMMDDHHMMSS.FFFFFF&ZZXX",
    "FL": "Floating Point Single: 32-bit IEEE float",
    "FD": "Floating Point Double: 64-bit IEEE float",
    "IS": "Integer String: an integer written as text, up to 12 characters",
    "LO": "Long String: up to 64 characters",
    "LT": "Long Text: up to 10240 characters, may contain line breaks",
    "OB": "Other Byte: a stream of bytes",
    "OD": "Other Double: a stream of 64-bit floats",
    "OF": "Other Float: a stream of 32-bit floats",
    "OL": "Other Long: a stream of 32-bit words",
    "OV": "Other 64-bit Very Long: a stream of 64-bit words",
    "OW": "Other Word: a stream of 16-bit words",
    "PN": "Person Name: family^given^middle^prefix^suffix, with optional ideographic/phonetic groups",
    "SH": "Short String: up to 16 characters",
    "SL": "Signed Long: 32-bit signed integer",
    "SQ": "Sequence of Items: nested datasets",
    "SS": "Signed Short: 16-bit signed integer",
    "ST": "Short Text: up to 1024 characters",
    "SV": "Signed 64-bit Very Long: 64-bit signed integer",
    "TM": "Time: HHMMSS.FFFFFF",
    "UC": "Unlimited Characters: text of any length, no line breaks",
    "UI": "Unique Identifier: dot-separated digits, up to 64 characters",
    "UL": "Unsigned Long: 32-bit unsigned integer",
    "UN": "Unknown: bytes whose VR the reader could not determine (not interpreted)",
    "UR": "Universal Resource Identifier (URI/URL)",
    "US": "Unsigned Short: 16-bit unsigned integer",
    "UT": "Unlimited Text: text of any length, may contain line breaks",
    "UV": "Unsigned 64-bit Very Long: 64-bit unsigned integer",
    "OB or OW": "Other Byte or Other Word, depending on the transfer syntax",
    "US or SS": "Unsigned or Signed Short, depending on Pixel Representation",
    "US or OW": "Unsigned Short or Other Word",
    "US or SS or OW": "Unsigned Short, Signed Short or Other Word",
}


def vr_meaning(vr: str) -> str:
    """Return a one-line explanation of a VR (``"PN"`` -> ``"Person Name: ..."``).

    Examples
    --------
    >>> vr_meaning("DA")
    'Date: YYYYMMDD'
    """
    return VR_MEANINGS.get(vr, f"{vr}: unrecognised value representation" if vr else "unknown VR")


def vm_meaning(vm: int | str) -> str:
    """Explain a value multiplicity: an actual count (int) or a dictionary VM (``"1-n"``).

    Examples
    --------
    >>> vm_meaning(3)
    '3 values'
    >>> vm_meaning("2-2n")
    'an even number of values, at least 2'
    """
    if isinstance(vm, int):
        return {0: "empty (no value)", 1: "1 value"}.get(vm, f"{vm} values")
    text = str(vm)
    if text == "1":
        return "exactly one value"
    if re.fullmatch(r"\d+", text):
        return f"exactly {text} values"
    match = re.fullmatch(r"(\d+)-(\d+)", text)
    if match:
        return f"between {match.group(1)} and {match.group(2)} values"
    match = re.fullmatch(r"(\d+)-n", text)
    if match:
        return "one or more values" if match.group(1) == "1" else f"{match.group(1)} or more values"
    match = re.fullmatch(r"(\d+)-(\d+)n", text)
    if match:
        first, step = match.groups()
        if step == "2":
            return f"an even number of values, at least {first}"
        return f"a multiple of {step} values, at least {first}"
    return f"value multiplicity {text}"


def format_tag(tag: int) -> str:
    """Format a tag as ``(GGGG,EEEE)`` in upper-case hexadecimal.

    Examples
    --------
    >>> format_tag(0x00100010)
    '(0010,0010)'
    """
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


_TAG_PATTERNS = (
    re.compile(r"^\(?\s*(?:0x)?([0-9a-f]{4})\s*[,|\s]\s*(?:0x)?([0-9a-f]{4})\s*\)?$", re.I),
    re.compile(r"^(?:0x)?([0-9a-f]{4})([0-9a-f]{4})$", re.I),
)


def parse_tag(text: str) -> int | None:
    """Parse a tag written in any common spelling; ``None`` when it is not a tag.

    Accepts ``0010,0010``, ``(0010,0010)``, ``(0010, 0010)``, ``00100010``, ``0x00100010``,
    ``0x0010,0x0010`` and ``(0010|0010)``. A keyword is *not* a tag here.

    Examples
    --------
    >>> hex(parse_tag("(0019,100c)"))
    '0x19100c'
    >>> parse_tag("PatientName") is None
    True
    """
    text = text.strip()
    for pattern in _TAG_PATTERNS:
        match = pattern.match(text)
        if match:
            return (int(match.group(1), 16) << 16) | int(match.group(2), 16)
    return None


@dataclass(slots=True)
class ElementRow:
    """One element (or one sequence item) of a flattened dataset.

    Attributes
    ----------
    index : int
        Position of this row in the flattened list.
    parent : int or None
        Index of the enclosing row (the item for an element inside a sequence, the
        sequence for an item), ``None`` at the top level.
    kind : str
        ``"element"`` or ``"item"`` (a sequence item, shown as a header row).
    path : str
        Dotted path through sequences, ``ReferencedImageSequence[0].ReferencedSOPInstanceUID``;
        elements without a usable keyword appear as their tag text ``(0019,100C)``.
    tag : int
        The tag (``0xFFFEE000`` for item rows).
    tag_text : str
        ``(GGGG,EEEE)``.
    keyword : str
        Dictionary keyword; empty for private and unknown elements.
    label : str
        What to show in a keyword column: the keyword, ``"private: <creator>"``,
        ``"private creator"`` or ``"item 0"``.
    name : str
        Dictionary name (private dictionary name when known).
    vr : str
        Value representation as stored.
    vm : int
        Number of values.
    depth : int
        Nesting depth (0 at the top level; an item is one deeper than its sequence).
    is_private : bool
        Odd group.
    private_creator : str or None
        The creator string of a private element's block, when found.
    is_sequence : bool
        VR SQ.
    item_count : int
        Number of items of a sequence (0 otherwise).
    items_shown : int
        How many of those items were flattened (``max_items_per_sequence``).
    summary : str
        Short display text of the value.
    problem : str or None
        Why the value is marked (invalid value, undecodable text, UN, private tag without
        creator, malformed creator...); ``None`` when it is fine.
    raw_value : bytes or None
        The undecoded bytes, kept only for marked elements read from a file.
    expression : str
        Python expression that evaluates to the element's value, given the dataset as ``ds``.
    private_expression : str or None
        For private elements with a creator: ``ds.private_block(0x0019, 'SIEMENS MR HEADER')[0x0C].value``,
        which keeps working when the block is stored at another slot.
    sort_key : tuple of int
        (tag, item, tag, item, ...) along the path, for merging and ordering.
    in_file_meta : bool
        The element belongs to ``ds.file_meta``.
    element : DataElement or None
        The element itself (for the full value); not part of equality or repr.
    """

    index: int
    parent: int | None
    kind: str
    path: str
    tag: int
    tag_text: str
    keyword: str
    label: str
    name: str
    vr: str
    vm: int
    depth: int
    is_private: bool
    private_creator: str | None
    is_sequence: bool
    item_count: int
    items_shown: int
    _summary: str | None = field(repr=False, compare=False)
    _notes: tuple[str, ...] = field(repr=False, compare=False)
    _raw: bytes | None = field(repr=False, compare=False)
    expression: str
    private_expression: str | None
    sort_key: tuple[int, ...]
    in_file_meta: bool = False
    element: DataElement | None = field(default=None, repr=False, compare=False)
    _fmt: tuple[int, int] = field(default=(80, 8), repr=False, compare=False)
    _checked: bool = field(default=False, repr=False, compare=False)
    _problem: str | None = field(default=None, repr=False, compare=False)

    # summary and problem are computed on first access: a 25,000-row header is flattened
    # for counting and searching, but only one page of it is ever displayed at a time.
    @property
    def summary(self) -> str:
        """Short display text of the value (see :func:`value_summary`)."""
        if self._summary is None:
            if self.element is None:
                self._summary = ""
            else:
                try:
                    self._summary = value_summary(
                        self.element, max_chars=self._fmt[0], max_values=self._fmt[1]
                    )
                except Exception as exc:  # never let one element break a table
                    self._summary = f"(cannot summarise: {_first_line(exc)})"
        return self._summary

    @property
    def problem(self) -> str | None:
        """Why the value is marked, or ``None`` when it is fine."""
        if not self._checked:
            problems = list(self._notes)
            if self.element is not None and self.kind == "element":
                try:
                    found = _element_problem(self.element, validate=not self._notes)
                except Exception as exc:  # pragma: no cover - defensive
                    found = f"cannot check value: {_first_line(exc)}"
                if found:
                    problems.append(found)
            if self.summary.startswith("(cannot summarise"):
                problems.append(self.summary)
            self._problem = "; ".join(dict.fromkeys(problems)) or None
            self._checked = True
        return self._problem

    @property
    def raw_value(self) -> bytes | None:
        """The undecoded bytes of a marked element read from a file, else ``None``."""
        return self._raw if self.problem is not None else None

    def __repr__(self) -> str:
        return f"ElementRow({self.path!r}, {self.tag_text}, {self.vr}, {self.summary!r}" + (
            f", problem={self.problem!r})" if self.problem else ")"
        )

    @property
    def is_invalid(self) -> bool:
        """True when the value is marked (see :attr:`problem`)."""
        return self.problem is not None

    @property
    def is_item(self) -> bool:
        """True for a sequence-item header row."""
        return self.kind == "item"

    @property
    def value(self) -> Any:
        """The element's value (``None`` for item rows or unreadable values)."""
        if self.element is None:
            return None
        try:
            return self.element.value
        except Exception:  # a deferred value whose file disappeared, for example
            return None

    def full_value_text(self, max_chars: int = 100_000) -> str:
        """The whole value as text for a detail view (binary as full hex up to ``max_chars``)."""
        if self.kind == "item":
            return self.summary
        return _full_text(self, max_chars)


# ----------------------------------------------------------------------------------------
# value summaries


def _hex_preview(data: bytes, n: int = 16) -> str:
    head = " ".join(f"{b:02X}" for b in data[:n])
    more = " …" if len(data) > n else ""
    return f"{head}{more} ({len(data):,} bytes)"


def _truncate(text: str, max_chars: int) -> str:
    # Line breaks would break a one-line table cell; show them as ⏎.
    flat = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
    if len(flat) <= max_chars:
        return flat
    return f"{flat[: max_chars - 1]}… ({len(text):,} chars)"


def _scalar_text(value: Any) -> str:
    if isinstance(value, BaseTag):
        return format_tag(int(value))
    if type(value) is float:
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return _hex_preview(value)
    return str(value)


def _pixel_summary(elem: DataElement, context: Dataset | None, root: Dataset | None) -> str:
    try:
        value = elem.value
    except Exception as exc:
        return f"pixel data (unreadable: {exc})"
    size = len(value) if isinstance(value, (bytes, bytearray)) else None
    encapsulated = bool(getattr(elem, "is_undefined_length", False))
    return _pixel_text(size, encapsulated, context, root)


def _pixel_text(
    size: int | None, encapsulated: bool, context: Dataset | None, root: Dataset | None
) -> str:
    parts = [f"{size:,} bytes" if size is not None else "pixel data"]
    if context is not None:
        rows, cols = safe_get(context, "Rows"), safe_get(context, "Columns")
        try:
            frames = int(safe_get(context, "NumberOfFrames", 1) or 1)
        except (TypeError, ValueError):
            frames = 1
        spp = safe_get(context, "SamplesPerPixel", 1)
        bits = safe_get(context, "BitsAllocated")
        if rows and cols:
            shape = f"{rows}×{cols}"
            if spp and spp != 1:
                shape += f"×{spp}"
            parts.append(shape)
        if frames != 1:
            parts.append(f"{frames} frames")
        if bits:
            parts.append(f"{bits}-bit")
    syntax = None
    meta = getattr(root, "file_meta", None) if root is not None else None
    if meta is not None:
        ts = meta.get("TransferSyntaxUID")
        if ts:
            syntax = getattr(ts, "name", None) or str(ts)
    if syntax:
        parts.append(str(syntax))
    if encapsulated:
        parts.append("encapsulated")
    return "Pixel Data: " + ", ".join(parts)


def value_summary(
    elem: DataElement,
    *,
    max_chars: int = 80,
    max_values: int = 8,
    context: Dataset | None = None,
    root: Dataset | None = None,
) -> str:
    """Return a short one-line display text for an element's value.

    Long text is truncated with its length, binary is a hex preview with its length,
    multi-valued and numeric arrays show their first values and count, sequences their
    item count, and pixel data only its size, shape and transfer syntax.

    Parameters
    ----------
    elem : DataElement
        A converted element (use ``ds[tag]``, not a raw element).
    max_chars : int
        Longest summary of a text value.
    max_values : int
        Most values shown for a multi-valued element.
    context : Dataset, optional
        The dataset holding ``elem`` (pixel data summaries read Rows/Columns from it).
    root : Dataset, optional
        The top-level dataset (its file meta gives the transfer syntax).

    Examples
    --------
    >>> from pydicom.dataelem import DataElement
    >>> value_summary(DataElement(0x00100010, "PN", "Doe^John"))
    'Doe^John'
    >>> value_summary(DataElement(0x00291010, "OB", bytes(range(40))))
    '00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F … (40 bytes)'
    """
    if elem.tag in PIXEL_DATA_TAGS:
        return _pixel_summary(elem, context, root if root is not None else context)
    try:
        value = elem.value
    except Exception as exc:  # deferred read failures and the like
        return f"(unreadable: {exc})"
    if elem.VR == "SQ" or isinstance(value, DicomSequence):
        n = len(value) if value is not None else 0
        return f"{n} item" if n == 1 else f"{n} items"
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return _hex_preview(bytes(value))
    if isinstance(value, np.ndarray):
        return _array_summary(value, max_values)
    if isinstance(value, str):
        return _truncate(value, max_chars)
    if isinstance(value, (MultiValue, list, tuple)):
        items = list(value)
        shown = ", ".join(_scalar_text(v) for v in items[:max_values])
        if len(items) > max_values:
            text = f"[{shown}, …] ({len(items):,} values)"
        else:
            text = f"[{shown}]"
        return _truncate(text, max(max_chars, 2 * max_chars))
    return _truncate(_scalar_text(value), max_chars)


def _array_summary(arr: np.ndarray, max_values: int) -> str:
    flat = arr.ravel()
    shown = ", ".join(str(v) for v in flat[:max_values].tolist())
    more = ", …" if flat.size > max_values else ""
    return f"[{shown}{more}] ({arr.dtype}, shape {tuple(arr.shape)})"


def _full_text(row: ElementRow, max_chars: int) -> str:
    elem = row.element
    if elem is None:
        return row.summary
    if row.tag in PIXEL_DATA_TAGS:
        return row.summary
    try:
        value = elem.value
    except Exception as exc:
        return f"(unreadable: {exc})"
    if isinstance(value, DicomSequence):
        return row.summary
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        limit = max_chars // 3
        text = " ".join(f"{b:02X}" for b in data[:limit])
        if len(data) > limit:
            text += f" … ({len(data):,} bytes)"
        return text
    if isinstance(value, (MultiValue, list, tuple)):
        text = "\\".join(_scalar_text(v) for v in value)
    else:
        text = _scalar_text(value)
    if len(text) > max_chars:
        text = text[:max_chars] + f"… ({len(text):,} chars)"
    return text


# ----------------------------------------------------------------------------------------
# flattening


def _element_problem(elem: DataElement, *, validate: bool = True) -> str | None:
    """Say why an element's value deserves a marker, or ``None``.

    ``validate=False`` skips the VR syntax check (used when pydicom already warned).
    """
    vr = _vr_text(elem.VR)
    problems: list[str] = []
    if vr == "UN":
        problems.append("VR UN: value not interpreted (unknown VR)")
    if vr in TEXT_VRS:
        try:
            value = elem.value
        except Exception:
            value = None
        if isinstance(value, (bytes, bytearray)):
            problems.append(f"undecodable {vr} value kept as bytes")
        else:
            values = value if isinstance(value, (MultiValue, list)) else [value]
            if any(isinstance(v, str) and "\ufffd" in v for v in values):
                problems.append("undecodable characters (replaced by �)")
            elif vr in {"IS", "DS", "UI", "DA", "TM", "CS", "AS"} and validate:
                problem = _validate(vr, value)
                if problem:
                    problems.append(problem)
    if not problems:
        return None
    return "; ".join(problems)


def _validate(vr: str, value: Any) -> str | None:
    # The validators only see strings: a value pydicom already converted to int/float
    # (IS/DS) is valid by construction.
    values = value if isinstance(value, (MultiValue, list)) else [value]
    for v in values:
        if v is None or v == "":
            continue
        # IS/DS values pydicom converted keep their text in original_string; values it
        # could not convert stay plain str and are checked as such.
        if isinstance(v, str):
            text = v
        else:
            text = getattr(v, "original_string", None) if vr in {"IS", "DS"} else v
        if not isinstance(text, str):
            if vr in {"IS", "DS"}:
                continue
            text = str(text)
        problem = _validate_text(vr, text)
        if problem:
            return problem
    return None


@lru_cache(maxsize=65536)
def _validate_text(vr: str, text: str) -> str | None:
    # Cached: per-frame sequences repeat the same values thousands of times.
    from pydicom.valuerep import validate_value

    try:
        validate_value(vr, text, 2)  # 2 == config.RAISE
    except Exception as exc:
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).split("\n")[0]
    return re.sub(r"\s*Please see <[^>]*> for allowed values.*", "", text).strip()


_ILLEGAL_PRIVATE_GROUPS = frozenset({0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF})


def _private_creator_of(ds: Dataset, tag: int) -> tuple[str | None, str | None]:
    """Return ``(creator, problem)`` for a private data element of ``ds``."""
    group, elem = tag >> 16, tag & 0xFFFF
    if group in _ILLEGAL_PRIVATE_GROUPS:
        return None, f"invalid private tag: group {group:04X} may not be used"
    if elem < 0x0010 and elem != 0:
        return None, "invalid private tag: element below 0x0010 is neither creator nor data"
    if elem < 0x1000:
        return None, None
    creator_tag = (group << 16) | (elem >> 8)
    if creator_tag not in ds:
        return None, "private tag without private creator"
    try:
        value = ds[creator_tag].value
    except Exception:
        return None, "malformed private creator (unreadable)"
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii").strip(" \x00")
        except UnicodeDecodeError:
            return None, "malformed private creator (not text)"
    if isinstance(value, str) and value.strip():
        return value.strip(), None
    if isinstance(value, MultiValue) and len(value) and isinstance(value[0], str):
        return str(value[0]).strip(), "malformed private creator (several values)"
    return None, "malformed private creator"


# VRs whose text is decoded with Specific Character Set (PS3.5 6.1.2.3).
_CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT", "PN"})


def _has_charset(ds: Dataset, root: Dataset) -> bool:
    return "SpecificCharacterSet" in ds or "SpecificCharacterSet" in root


def _vr_text(vr: Any) -> str:
    # pydicom 2.4's VR is a str Enum whose str() is "VR.UN"; pydicom 3 uses plain str.
    if not vr:
        return "UN"
    return str(getattr(vr, "value", vr))


def _identifier(keyword: str) -> bool:
    return bool(keyword) and keyword.isidentifier()


@lru_cache(maxsize=16384)
def _public_info(tag: int) -> tuple[str, str, str, str, bool]:
    """(keyword, name, label, tag_text, keyword usable as attribute) of a public tag, cached."""
    keyword = keyword_for_tag(tag) or ""
    if keyword and tag_for_keyword(keyword) != tag:
        keyword = ""  # repeating groups (60xx overlays): the keyword names group 6000
    try:
        name = dictionary_description(tag) if dictionary_has_tag(tag) else ""
    except Exception:
        name = ""
    if not name:
        name = keyword_for_tag(tag) or "Unknown element"
    label = keyword or ("group length" if tag & 0xFFFF == 0 else "(unknown)")
    return keyword, name, label, format_tag(tag), _identifier(keyword)


@lru_cache(maxsize=16384)
def _private_name(tag: int, creator: str) -> str:
    try:
        return private_dictionary_description(tag, creator)
    except Exception:
        return "Private tag data"


def _vm_of(elem: DataElement) -> int:
    # Same rule as DataElement.VM, without the property's overhead on 10,000s of rows.
    try:
        value = elem.value
    except Exception:
        return 0
    if value is None or (isinstance(value, (str, bytes)) and not value):
        return 0
    if isinstance(value, (MultiValue, list)) and not isinstance(value, DicomSequence):
        return len(value)
    return 1


def iter_rows(
    ds: Dataset,
    *,
    max_items_per_sequence: int | None = None,
    max_depth: int | None = None,
    include_private: bool = True,
    include_items: bool = True,
    include_file_meta: bool = True,
    max_chars: int = 80,
    max_values: int = 8,
    var: str = "ds",
) -> Iterator[ElementRow]:
    """Yield the rows of :func:`flatten` one at a time (same keyword arguments).

    Lazy: stopping early (a repr that shows the first 500 rows) leaves the rest of the
    dataset untouched. Conversion warnings are caught around each step only, so code
    running between two rows sees its own warnings normally.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A"; ds.Modality = "CT"
    >>> next(iter_rows(ds)).keyword  # tag order: (0008,0060) before (0010,0010)
    'Modality'
    """
    opts = (
        max_items_per_sequence,
        max_depth,
        include_private,
        include_items,
        max_chars,
        max_values,
    )
    counter = [0]
    holder: list[list] = [[]]

    def walks() -> Iterator[ElementRow]:
        meta = getattr(ds, "file_meta", None) if include_file_meta else None
        if meta is not None and len(meta):
            yield from _walk(
                meta, ds, None, "", (), f"{var}.file_meta", 0, counter, holder, True, *opts
            )
        yield from _walk(ds, ds, None, "", (), var, 0, counter, holder, False, *opts)

    gen = walks()
    while True:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            holder[0] = caught
            try:
                row = next(gen)
            except StopIteration:
                return
        yield row


def _walk(
    ds: Dataset,
    root: Dataset,
    parent: int | None,
    prefix: str,
    key: tuple[int, ...],
    expr: str,
    depth: int,
    counter: list[int],
    logs: list[list],
    in_meta: bool,
    max_items: int | None,
    max_depth: int | None,
    include_private: bool,
    include_items: bool,
    max_chars: int,
    max_values: int,
) -> Iterator[ElementRow]:
    # The stored (possibly raw, possibly deferred) elements, without conversion or a
    # deferred read (get_item would read deferred values on both pydicom versions).
    stored: dict = getattr(ds, "_dict", None) or {}
    try:
        tags = sorted(stored) if stored else sorted(ds.keys())
    except Exception:  # pragma: no cover - a dataset whose keys cannot even be listed
        return
    creators: dict[int, tuple[str | None, str | None]] = {}
    fmt = (max_chars, max_values)
    for tag in tags:
        tag = int(tag)
        is_private = bool((tag >> 16) & 1)
        if is_private and not include_private:
            continue
        log = logs[0]  # the list the current catch_warnings records into
        n_before = len(log)
        problem_extra: list[str] = []
        raw = stored.get(tag)
        deferred = tag in PIXEL_DATA_TAGS and isinstance(raw, RawDataElement) and raw.value is None
        try:
            # Deferred pixel data (read with defer_size) is described from its length
            # instead of being loaded: megabytes for one line of text. Elements already
            # converted are used as stored (ds[tag] would only return them again).
            if deferred:
                elem = None
            elif isinstance(raw, DataElement):
                elem = raw
            else:
                elem = ds[tag]
        except Exception as exc:
            # pydicom could not convert the raw bytes at all: keep the raw element.
            elem = None
            problem_extra.append(f"cannot decode value: {_first_line(exc)}")
        warned = [_first_line(w.message) for w in log[n_before:]]  # type: ignore[arg-type]
        del log[n_before:]
        raw_bytes = raw.value if isinstance(raw, RawDataElement) else None
        summary: str | None = None
        notes = warned + problem_extra
        if elem is None:
            vr = _vr_text(getattr(raw, "VR", None))
            summary = _hex_preview(raw_bytes) if isinstance(raw_bytes, bytes) else ""
            vm = 1 if raw_bytes else 0
            if deferred and raw is not None:
                undefined = raw.length == 0xFFFFFFFF
                size = None if undefined else raw.length
                summary, vm = _pixel_text(size, undefined, ds, root) + " (not loaded)", 1
        else:
            vr = _vr_text(elem.VR)
            vm = _vm_of(elem)
            if (
                raw_bytes
                and vr in _CHARSET_VRS
                and max(raw_bytes) > 0x7F
                and not _has_charset(ds, root)
            ):
                notes.append(
                    "non-ASCII text without Specific Character Set (decoded as Latin-1 guess)"
                )
            if tag in PIXEL_DATA_TAGS:
                # Needs its dataset (Rows, Columns) and the root's transfer syntax: now.
                summary = value_summary(elem, context=ds, root=root)
        creator: str | None = None
        group_elem = tag & 0xFFFF
        keyword = ""
        if is_private:
            creator_problem = None
            if 0x0010 <= group_elem <= 0x00FF:
                label = "private creator"
                name = "Private Creator"
                if elem is not None and not isinstance(elem.value, (str, bytes)):
                    notes.append("malformed private creator (not a text value)")
            else:
                block = (tag & 0xFFFFFF00) | (
                    group_elem >> 8 if group_elem >= 0x1000 else group_elem
                )
                found = creators.get(block)
                if found is None:
                    found = creators[block] = _private_creator_of(ds, tag)
                creator, creator_problem = found
                if creator_problem:
                    notes.append(creator_problem)
                label = f"private: {creator}" if creator else "private (no creator)"
                name = _private_name(tag, creator) if creator else "Private tag data"
            tag_text = format_tag(tag)
            ident = False
        else:
            keyword, name, label, tag_text, ident = _public_info(tag)
        component = keyword if ident else tag_text
        path = f"{prefix}.{component}" if prefix else component
        if ident:
            expression = f"{expr}.{keyword}"
        else:
            expression = f"{expr}[0x{tag >> 16:04X}, 0x{group_elem:04X}].value"
        private_expression = None
        if creator and group_elem >= 0x1000 and not creator_problem:
            private_expression = f"{expr}.private_block(0x{tag >> 16:04X}, {creator!r})[0x{group_elem & 0xFF:02X}].value"
        value = None
        if elem is not None:
            try:
                value = elem.value
            except Exception:
                value = None
        is_sequence = vr == "SQ" or isinstance(value, DicomSequence)
        item_count = len(value) if is_sequence and value is not None else 0
        shown = item_count if max_items is None else min(item_count, max_items)
        if max_depth is not None and depth >= max_depth:
            shown = 0
        index = counter[0]
        counter[0] += 1
        # Positional arguments: measurably faster than keywords over 25,000 rows.
        yield ElementRow(
            index, parent, "element", path, tag, tag_text, keyword, label, name, vr, vm,
            depth, is_private, creator, is_sequence, item_count, shown,
            summary, tuple(notes), raw_bytes if isinstance(raw_bytes, bytes) else None,
            expression, private_expression, (*key, tag), in_meta, elem, fmt,
        )  # fmt: skip
        if not is_sequence or shown == 0:
            continue
        for i in range(shown):
            item = value[i]
            item_path = f"{path}[{i}]"
            item_expr = f"{expression}[{i}]"
            item_key = (*key, tag, i)
            item_parent = index
            if include_items:
                item_index = counter[0]
                counter[0] += 1
                n = len(item) if isinstance(item, Dataset) else 0
                yield ElementRow(
                    index=item_index,
                    parent=index,
                    kind="item",
                    path=item_path,
                    tag=ITEM_TAG,
                    tag_text=format_tag(ITEM_TAG),
                    keyword="",
                    label=f"item {i}",
                    name=f"Item {i} of {item_count}",
                    vr="",
                    vm=0,
                    depth=depth + 1,
                    is_private=is_private,
                    private_creator=creator,
                    is_sequence=False,
                    item_count=0,
                    items_shown=0,
                    _summary=f"{n} element" if n == 1 else f"{n} elements",
                    _notes=() if isinstance(item, Dataset) else ("item is not a dataset",),
                    _raw=None,
                    expression=item_expr,
                    private_expression=None,
                    sort_key=item_key,
                    in_file_meta=in_meta,
                    element=None,
                )
                item_parent = item_index
            if isinstance(item, Dataset):
                yield from _walk(
                    item, root, item_parent, item_path, item_key, item_expr, depth + 1,
                    counter, logs, in_meta, max_items, max_depth, include_private,
                    include_items, max_chars, max_values,
                )  # fmt: skip


def flatten(
    ds: Dataset,
    *,
    max_items_per_sequence: int | None = None,
    max_depth: int | None = None,
    include_private: bool = True,
    include_items: bool = True,
    include_file_meta: bool = True,
    max_chars: int = 80,
    max_values: int = 8,
    var: str = "ds",
) -> list[ElementRow]:
    """Flatten a dataset (recursively into sequences) to a list of :class:`ElementRow`.

    Parameters
    ----------
    ds : Dataset
        Any pydicom dataset (a file dataset, or one built in memory).
    max_items_per_sequence : int, optional
        Flatten at most this many items of each sequence (the sequence row still
        reports ``item_count``); ``None`` flattens all of them.
    max_depth : int, optional
        Do not descend into sequences deeper than this (0 = top level only).
    include_private : bool
        Include private (odd group) elements.
    include_items : bool
        Emit a header row (``kind == "item"``) for each sequence item.
    include_file_meta : bool
        Include the group 0002 file meta elements (their expressions use ``ds.file_meta``).
    max_chars, max_values : int
        Passed to :func:`value_summary`.
    var : str
        Name of the dataset variable in the generated Python expressions.

    Returns
    -------
    list of ElementRow
        Depth-first, in tag order; ``rows[i].index == i`` and ``parent`` indexes this list.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> rows = flatten(read_dataset(pydicom_file("rtstruct"), force=True), max_items_per_sequence=1)
    >>> any(r.depth > 1 for r in rows)
    True
    """
    counter = [0]
    rows: list[ElementRow] = []
    opts = (
        max_items_per_sequence,
        max_depth,
        include_private,
        include_items,
        max_chars,
        max_values,
    )
    # Tens of thousands of new rows would trigger full garbage collections that scan every
    # live object (the previous rows too): pause the collector while building them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _flatten(ds, rows, counter, include_file_meta, var, opts)
    finally:
        if gc_was_enabled:
            gc.enable()


def _flatten(
    ds: Dataset,
    rows: list[ElementRow],
    counter: list[int],
    include_file_meta: bool,
    var: str,
    opts: tuple,
) -> list[ElementRow]:
    with warnings.catch_warnings(record=True) as log:
        # Conversion warnings (invalid values, undecodable text) become row markers
        # instead of reaching the user once per element.
        warnings.simplefilter("always")
        logs = [log]
        if include_file_meta:
            meta = getattr(ds, "file_meta", None)
            if meta is not None and len(meta):
                rows.extend(
                    _walk(meta, ds, None, "", (), f"{var}.file_meta", 0, counter, logs, True, *opts)
                )
        rows.extend(_walk(ds, ds, None, "", (), var, 0, counter, logs, False, *opts))
    return rows


# ----------------------------------------------------------------------------------------
# modules (for "group by module")

# pydicom ships no module tables, so the common attributes of the modules a user meets
# first are listed here; everything else falls back to a group-level heading.
_MODULE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Patient": tuple(
        """
        PatientName PatientID IssuerOfPatientID PatientBirthDate PatientSex PatientAge
        PatientSize PatientWeight OtherPatientIDs OtherPatientNames EthnicGroup
        PatientComments PatientBirthTime PatientIdentityRemoved DeidentificationMethod
        DeidentificationMethodCodeSequence PatientAddress
        """.split()
    ),
    "General Study": tuple(
        """
        StudyInstanceUID StudyDate StudyTime ReferringPhysicianName StudyID AccessionNumber
        StudyDescription PhysiciansOfRecord NameOfPhysiciansReadingStudy
        ProcedureCodeSequence ReferencedStudySequence
        """.split()
    ),
    "General Series": tuple(
        """
        Modality SeriesInstanceUID SeriesNumber Laterality SeriesDate SeriesTime
        PerformingPhysicianName ProtocolName SeriesDescription OperatorsName
        BodyPartExamined PatientPosition ReferencedPerformedProcedureStepSequence
        PerformedProcedureStepStartDate PerformedProcedureStepStartTime
        PerformedProcedureStepID PerformedProcedureStepDescription
        """.split()
    ),
    "Frame of Reference": tuple(
        """
        FrameOfReferenceUID PositionReferenceIndicator
        """.split()
    ),
    "General Equipment": tuple(
        """
        Manufacturer InstitutionName InstitutionAddress StationName
        InstitutionalDepartmentName ManufacturerModelName DeviceSerialNumber
        SoftwareVersions SpatialResolution DateOfLastCalibration TimeOfLastCalibration
        """.split()
    ),
    "General Image": tuple(
        """
        InstanceNumber PatientOrientation ContentDate ContentTime ImageType
        AcquisitionNumber AcquisitionDate AcquisitionTime AcquisitionDateTime
        ReferencedImageSequence DerivationDescription SourceImageSequence
        ImagesInAcquisition ImageComments BurnedInAnnotation LossyImageCompression
        LossyImageCompressionRatio LossyImageCompressionMethod IrradiationEventUID
        """.split()
    ),
    "Image Plane": tuple(
        """
        PixelSpacing ImageOrientationPatient ImagePositionPatient SliceThickness
        SliceLocation SpacingBetweenSlices
        """.split()
    ),
    "Image Pixel": tuple(
        """
        SamplesPerPixel PhotometricInterpretation Rows Columns BitsAllocated BitsStored
        HighBit PixelRepresentation PixelData PlanarConfiguration PixelAspectRatio
        SmallestImagePixelValue LargestImagePixelValue RedPaletteColorLookupTableDescriptor
        GreenPaletteColorLookupTableDescriptor BluePaletteColorLookupTableDescriptor
        RedPaletteColorLookupTableData GreenPaletteColorLookupTableData
        BluePaletteColorLookupTableData FloatPixelData DoubleFloatPixelData
        PixelPaddingValue
        """.split()
    ),
    "Multi-frame": tuple(
        """
        NumberOfFrames FrameIncrementPointer FrameTime FrameTimeVector
        """.split()
    ),
    "Multi-frame Functional Groups": tuple(
        """
        SharedFunctionalGroupsSequence PerFrameFunctionalGroupsSequence
        DimensionOrganizationSequence DimensionIndexSequence ConcatenationUID
        """.split()
    ),
    "Modality LUT": tuple(
        """
        RescaleIntercept RescaleSlope RescaleType ModalityLUTSequence
        """.split()
    ),
    "VOI LUT": tuple(
        """
        WindowCenter WindowWidth WindowCenterWidthExplanation VOILUTFunction VOILUTSequence
        """.split()
    ),
    "CT Image": tuple(
        """
        KVP DataCollectionDiameter ReconstructionDiameter DistanceSourceToDetector
        DistanceSourceToPatient GantryDetectorTilt TableHeight RotationDirection
        ExposureTime XRayTubeCurrent Exposure FilterType GeneratorPower FocalSpots
        ConvolutionKernel CTDIvol ScanOptions SingleCollimationWidth TotalCollimationWidth
        TableSpeed TableFeedPerRotation SpiralPitchFactor
        """.split()
    ),
    "MR Image": tuple(
        """
        ScanningSequence SequenceVariant MRAcquisitionType SequenceName RepetitionTime
        EchoTime InversionTime NumberOfAverages ImagingFrequency ImagedNucleus EchoNumbers
        MagneticFieldStrength NumberOfPhaseEncodingSteps EchoTrainLength PercentSampling
        PercentPhaseFieldOfView PixelBandwidth ReceiveCoilName TransmitCoilName
        AcquisitionMatrix InPlanePhaseEncodingDirection FlipAngle SAR dBdt
        VariableFlipAngleFlag TriggerTime
        """.split()
    ),
    "Contrast/Bolus": tuple(
        """
        ContrastBolusAgent ContrastBolusRoute ContrastBolusVolume
        """.split()
    ),
    "SOP Common": tuple(
        """
        SOPClassUID SOPInstanceUID SpecificCharacterSet InstanceCreationDate
        InstanceCreationTime InstanceCreatorUID TimezoneOffsetFromUTC
        ContributingEquipmentSequence
        """.split()
    ),
}
_MODULE_OF_KEYWORD = {kw: module for module, kws in _MODULE_KEYWORDS.items() for kw in kws}
_GROUP_NAMES = {
    0x0002: "File Meta Information",
    0x0008: "Identification (group 0008)",
    0x0010: "Patient (group 0010)",
    0x0018: "Acquisition (group 0018)",
    0x0020: "Relationship (group 0020)",
    0x0028: "Image Presentation (group 0028)",
    0x0032: "Study (group 0032)",
    0x0038: "Visit (group 0038)",
    0x0040: "Procedure and Content (group 0040)",
    0x0054: "Nuclear Medicine (group 0054)",
    0x0070: "Presentation State (group 0070)",
    0x0088: "Storage (group 0088)",
    0x3006: "RT Structure Set (group 3006)",
    0x300A: "RT Plan (group 300A)",
    0x300C: "RT Relationship (group 300C)",
    0x3004: "RT Dose (group 3004)",
    0x7FE0: "Pixel Data (group 7FE0)",
}


def module_of(row: ElementRow) -> str:
    """Return the module (or a group heading) a top-level row belongs to.

    The module of a nested row is the module of its top-level ancestor's keyword
    when it is known; private elements are grouped by private creator.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A^B"; ds.SliceThickness = 1
    >>> [module_of(r) for r in flatten(ds)]
    ['Patient', 'Image Plane']
    """
    if row.in_file_meta:
        return "File Meta Information"
    if row.is_private:
        return f"Private: {row.private_creator}" if row.private_creator else "Private"
    top_keyword = row.path.split(".", 1)[0].split("[", 1)[0]
    module = _MODULE_OF_KEYWORD.get(top_keyword)
    if module:
        return module
    group = row.sort_key[0] >> 16 if row.sort_key else row.tag >> 16
    return _GROUP_NAMES.get(group, f"Group {group:04X}")


# ----------------------------------------------------------------------------------------
# search


def normalize_text(text: str) -> str:
    """Normalise text for matching: NFKC (full-width and compatibility forms) then casefold.

    Examples
    --------
    >>> normalize_text("ＭÜＬＬＥＲ") == normalize_text("müller")
    True
    """
    if text.isascii():
        return text.lower()  # same result, without the Unicode tables (most DICOM text)
    return unicodedata.normalize("NFKC", text).casefold()


def _search_value_text(row: ElementRow, limit: int = 2048) -> str:
    elem = row.element
    if elem is None or row.kind != "element" or row.tag in PIXEL_DATA_TAGS or row.is_sequence:
        return ""
    try:
        value = elem.value
    except Exception:
        return ""
    if value is None or isinstance(value, (bytes, bytearray, np.ndarray)):
        return ""
    if isinstance(value, (MultiValue, list, tuple)):
        if len(value) > 64:
            value = list(value)[:64]
        text = "\\".join(_scalar_text(v) for v in value)
    elif isinstance(value, str):
        text = value
    else:
        text = _scalar_text(value)
        # Person names: also the alphabetic form's components separated by spaces.
    if "^" in text:
        text = f"{text} {text.replace('^', ' ')}"
    return text[:limit]


@dataclass
class SearchResult:
    """Rows matching a query, with their ancestors for context.

    Attributes
    ----------
    query : str
        The query as typed.
    hits : list of int
        Indices (into the flattened rows) of the matching rows, in order.
    visible : list of int
        ``hits`` plus every ancestor (enclosing sequences and items) of each hit, in
        row order: what a tree shows with the parents expanded.
    """

    query: str
    hits: list[int]
    visible: list[int]

    def __len__(self) -> int:
        return len(self.hits)


class TagIndex:
    """Flattened rows of one dataset plus a search index over them (built once).

    Parameters
    ----------
    source : Dataset or list of ElementRow
        A dataset (flattened with ``flatten_options``) or rows already flattened.
    **flatten_options
        Passed to :func:`flatten`.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> index = TagIndex(read_dataset(pydicom_file("ct_small")))
    >>> [index.rows[i].keyword for i in index.search("patient's name").hits]
    ['PatientName']
    """

    def __init__(self, source: Dataset | Sequence[ElementRow], **flatten_options: Any) -> None:
        if isinstance(source, Dataset):
            self.rows: list[ElementRow] = flatten(source, **flatten_options)
        else:
            self.rows = list(source)
        self._blobs: list[str] | None = None
        self._by_path: dict[str, ElementRow] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def blobs(self) -> list[str]:
        """Normalised searchable text per row (built on first search)."""
        if self._blobs is None:
            blobs = []
            for row in self.rows:
                hex8 = f"{row.tag:08x}"
                parts = (
                    row.keyword, row.name, row.label, row.tag_text, hex8, f"0x{hex8}",
                    row.vr, row.private_creator or "", _search_value_text(row),
                )  # fmt: skip
                blobs.append(normalize_text("\n".join(parts)))
            self._blobs = blobs
        return self._blobs

    def by_path(self, path: str) -> ElementRow | None:
        """Return the row with this path (``"ReferencedImageSequence[0].ReferencedSOPInstanceUID"``)."""
        if self._by_path is None:
            self._by_path = {row.path: row for row in self.rows}
        return self._by_path.get(path)

    def ancestors(self, index: int) -> list[int]:
        """Indices of the enclosing rows of row ``index``, outermost first."""
        out = []
        parent = self.rows[index].parent
        while parent is not None:
            out.append(parent)
            parent = self.rows[parent].parent
        return out[::-1]

    def search(self, query: str) -> SearchResult:
        """Find rows matching ``query`` (see :func:`search` for the syntax)."""
        hits = self._match(query)
        visible: set[int] = set(hits)
        for i in hits:
            parent = self.rows[i].parent
            while parent is not None and parent not in visible:
                visible.add(parent)
                parent = self.rows[parent].parent
        return SearchResult(query=query, hits=hits, visible=sorted(visible))

    def _match(self, query: str) -> list[int]:
        query = query.strip()
        if not query:
            return list(range(len(self.rows)))
        rows = self.rows
        field_name, _, rest = query.partition(":")
        field_name = field_name.strip().lower()
        if rest and field_name in {"tag", "vr", "keyword", "kw", "name", "value", "creator"}:
            return self._match_field(field_name, rest.strip())
        tag = parse_tag(query)
        if tag is not None:
            return [r.index for r in rows if r.tag == tag]
        tokens = normalize_text(query).split()
        blobs = self.blobs
        hits = [i for i, blob in enumerate(blobs) if all(t in blob for t in tokens)]
        upper = query.upper()
        if upper in VR_MEANINGS and len(upper) == 2:
            # A bare VR ("PN", "SQ") also finds every element of that VR.
            by_vr = {r.index for r in rows if r.vr == upper}
            hits = sorted(by_vr.union(hits))
        return hits

    def _match_field(self, field_name: str, text: str) -> list[int]:
        rows = self.rows
        if field_name == "tag":
            tag = parse_tag(text)
            if tag is not None:
                return [r.index for r in rows if r.tag == tag]
            needle = normalize_text(text).strip("()")
            return [
                r.index for r in rows if needle in r.tag_text.lower() or needle in f"{r.tag:08x}"
            ]
        if field_name == "vr":
            wanted = {v.strip().upper() for v in re.split(r"[,\s]+", text) if v.strip()}
            return [r.index for r in rows if r.vr in wanted]
        needle = normalize_text(text)
        getters: dict[str, Callable[[ElementRow], str]] = {
            "keyword": lambda r: r.keyword,
            "kw": lambda r: r.keyword,
            "name": lambda r: r.name,
            "creator": lambda r: r.private_creator or "",
            "value": _search_value_text,
        }
        get = getters[field_name]
        return [r.index for r in rows if needle in normalize_text(get(r))]


def search(source: Dataset | Sequence[ElementRow] | TagIndex, query: str) -> list[ElementRow]:
    """Return the rows of ``source`` that match ``query``.

    The query is matched case-insensitively (NFKC + casefold, so full-width and accented
    text match) against the keyword, the name, the private creator, the tag in any common
    spelling (``0010,0010``, ``(0010,0010)``, ``00100010``, ``0x00100010``), the VR and the
    value. Several words must all match (``slice thick``). A query that is exactly a tag
    matches that tag only; a bare VR (``PN``) also matches every element of that VR.
    Prefixes restrict the field: ``tag:``, ``vr:``, ``keyword:``, ``name:``, ``value:``,
    ``creator:``.

    Parameters
    ----------
    source : Dataset, rows or TagIndex
        What to search; build a :class:`TagIndex` once to search repeatedly.
    query : str
        The text typed by the user; an empty query returns every row.

    Returns
    -------
    list of ElementRow
        The matching rows (without their ancestors; :meth:`TagIndex.search` gives both).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "Müller^Anna"; ds.SliceThickness = "2.5"
    >>> [r.keyword for r in search(ds, "MÜLLER")]
    ['PatientName']
    >>> [r.keyword for r in search(ds, "0x00180050")]
    ['SliceThickness']
    """
    index = source if isinstance(source, TagIndex) else TagIndex(source)
    return [index.rows[i] for i in index.search(query).hits]


# ----------------------------------------------------------------------------------------
# expressions

_EXPR_TOKEN = re.compile(
    # private_block first: otherwise ".private_block" would match as a plain attribute.
    r"\.private_block\(0x(?P<pgroup>[0-9A-Fa-f]{4}), (?P<creator>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\)"
    r"\[0x(?P<offset>[0-9A-Fa-f]{2})\]\.value"
    r"|\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\[(?P<index>\d+)\]"
    r"|\[0x(?P<group>[0-9A-Fa-f]{4}), 0x(?P<elem>[0-9A-Fa-f]{4})\]\.value"
)


def evaluate_expression(expression: str, ds: Dataset, var: str = "ds") -> Any:
    """Evaluate an expression made by :func:`flatten` against ``ds``, without ``eval``.

    Only the forms :func:`flatten` generates are accepted (attribute access, item indexing,
    ``[0xGGGG, 0xEEEE].value`` and ``.private_block(0xGGGG, 'creator')[0xEE].value``), so
    it is safe on untrusted text; the result is what Python would return.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A^B"
    >>> str(evaluate_expression("ds.PatientName", ds))
    'A^B'
    """
    import ast

    if not expression.startswith(var):
        raise ValueError(f"expression must start with {var!r}: {expression!r}")
    obj: Any = ds
    pos = len(var)
    while pos < len(expression):
        match = _EXPR_TOKEN.match(expression, pos)
        if match is None:
            raise ValueError(f"unsupported expression at {expression[pos:]!r}")
        if match.group("attr"):
            obj = getattr(obj, match.group("attr"))
        elif match.group("index"):
            obj = obj[int(match.group("index"))]
        elif match.group("group"):
            obj = obj[int(match.group("group"), 16), int(match.group("elem"), 16)].value
        else:
            creator = ast.literal_eval(match.group("creator"))
            block = obj.private_block(int(match.group("pgroup"), 16), creator)
            obj = block[int(match.group("offset"), 16)].value
        pos = match.end()
    return obj


# ----------------------------------------------------------------------------------------
# values across a series


def _comparable(row: ElementRow) -> Any:
    """A hashable stand-in for a row's value, for equality across datasets."""
    if row.kind == "item":
        return ("item",)
    if row.is_sequence:
        return ("sequence", row.item_count)
    if row.tag in PIXEL_DATA_TAGS:
        # Hashing megabytes per instance would dominate; compare size and a sample.
        value = row.value
        if isinstance(value, (bytes, bytearray)):
            return ("pixels", len(value), hash(bytes(value[:4096])), hash(bytes(value[-4096:])))
        return ("pixels", row.summary)
    value = row.value
    if value is None and row.element is None:
        return ("raw", row.raw_value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (MultiValue, list, tuple)):
        return tuple(_hashable(v) for v in value)
    return _hashable(value)


def _hashable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    try:
        hash(value)
    except TypeError:
        return str(value)
    # PersonName and friends hash by text; keep them comparable with plain strings.
    return value if isinstance(value, (int, float, str, bytes, tuple)) else str(value)


def _time_seconds(text: str) -> float | None:
    match = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?", text.strip())
    if not match:
        match = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?", text.strip())
        if not match:
            return None
    hours, minutes, seconds, fraction = match.groups()
    total = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def _numeric(row: ElementRow) -> float | list[float] | None:
    """Numeric value of a row for plotting (TM as seconds), ``None`` if not numeric."""
    if row.kind != "element" or row.is_sequence:
        return None
    value = row.value
    if row.vr in NUMERIC_VRS:
        values = value if isinstance(value, (MultiValue, list, tuple)) else [value]
        try:
            out = [float(v) for v in values if v is not None and v != ""]
        except (TypeError, ValueError):
            return None
        if not out:
            return None
        return out[0] if len(out) == 1 else out
    if row.vr == "TM" and isinstance(value, str) and value:
        return _time_seconds(value)
    if row.vr in {"TM", "DT"} and value is not None and not isinstance(value, str):
        seconds = getattr(value, "hour", None)
        if seconds is not None:
            return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return None


@dataclass
class Variation:
    """One element whose value differs between the instances of a series.

    Attributes
    ----------
    path, tag, keyword, name, vr :
        As in :class:`ElementRow`.
    distinct : int
        Number of distinct values (a missing element counts as one value).
    missing : int
        Number of instances without the element.
    summaries : list of str or None
        Display summary per instance (``None`` where missing).
    numeric : numpy.ndarray or None
        Values per instance as floats (NaN where missing); shape ``(n,)`` for one value,
        ``(n, k)`` for k values (ImagePositionPatient); ``None`` when not numeric.
        Times (TM) are seconds since midnight.
    """

    path: str
    tag: int
    keyword: str
    name: str
    vr: str
    is_private: bool
    distinct: int
    missing: int
    summaries: list[str | None]
    numeric: np.ndarray | None
    expression: str = ""

    @property
    def label(self) -> str:
        """Keyword, or path for elements without one."""
        return self.keyword or self.path


def _datasets_of(source: Any) -> list[Dataset]:
    if isinstance(source, Dataset):
        return [source]
    if hasattr(source, "dataset") and hasattr(source, "__len__"):
        return [source.dataset(i) for i in range(len(source))]
    return list(source)


def varies(
    datasets: Any,
    *,
    max_items_per_sequence: int | None = 8,
    include_private: bool = True,
    rows: Sequence[Sequence[ElementRow]] | None = None,
    var: str = "ds",
) -> list[Variation]:
    """List the elements whose value differs between datasets (the instances of a series).

    Parameters
    ----------
    datasets : list of Dataset or Series
        The instances, in slice order (their position is the slice index of the plot);
        a ``Series`` is read with ``series.dataset(i)``.
    max_items_per_sequence : int, optional
        Items of each sequence compared (per-frame sequences can be huge).
    include_private : bool
        Include private elements.
    rows : list of flattened rows per dataset, optional
        Reuse rows already flattened (same order as ``datasets``).
    var : str
        Name of one instance in the expressions of the variations.

    Returns
    -------
    list of Variation
        In row order of the first dataset (then elements found only later). Pixel data
        is left out: it differs between slices by nature.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> found = {v.keyword: v for v in varies(ct_phantom(n_slices=4, size=16))}
    >>> found["InstanceNumber"].numeric.tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    if rows is None:
        dss = _datasets_of(datasets)
        rows = [
            flatten(
                ds,
                max_items_per_sequence=max_items_per_sequence,
                include_private=include_private,
                include_items=False,
                max_chars=60,
                var=var,
            )
            for ds in dss
        ]
    n = len(rows)
    by_path: dict[str, list[ElementRow | None]] = {}
    order: dict[str, tuple[int, ...]] = {}
    for i, flat in enumerate(rows):
        for row in flat:
            if row.kind != "element" or (row.is_private and not include_private):
                continue
            if row.tag in PIXEL_DATA_TAGS:
                continue  # the image always differs between slices: not a header question
            slot = by_path.get(row.path)
            if slot is None:
                slot = by_path[row.path] = [None] * n
                order[row.path] = row.sort_key
            slot[i] = row
    out: list[Variation] = []
    for path in sorted(by_path, key=order.__getitem__):
        slot = by_path[path]
        keys = [None if r is None else _comparable(r) for r in slot]
        distinct = len(set(keys))
        if distinct <= 1:
            continue
        first = next(r for r in slot if r is not None)
        nums = [None if r is None else _numeric(r) for r in slot]
        numeric = _numeric_array(nums)
        out.append(
            Variation(
                path=path,
                tag=first.tag,
                keyword=first.keyword,
                name=first.name,
                vr=first.vr,
                is_private=first.is_private,
                distinct=distinct,
                missing=sum(r is None for r in slot),
                summaries=[None if r is None else r.summary for r in slot],
                numeric=numeric,
                expression=first.expression,
            )
        )
    return out


PER_FRAME = "PerFrameFunctionalGroupsSequence"


def varies_frames(
    ds: Dataset, *, max_items_per_sequence: int | None = 8, include_private: bool = True
) -> list[Variation]:
    """List the per-frame functional group elements that differ between the frames of a multi-frame dataset.

    Each item of ``PerFrameFunctionalGroupsSequence`` is treated as one instance, so
    the numeric values are plotted against frame index. Paths read
    ``PerFrameFunctionalGroupsSequence[*].PlanePositionSequence[0].ImagePositionPatient``
    and expressions use ``i`` for the frame: ``ds.PerFrameFunctionalGroupsSequence[i]...``.

    Examples
    --------
    >>> from dicom_widgets.data import mr_multiframe_phantom
    >>> found = varies_frames(mr_multiframe_phantom())
    >>> any(v.keyword == "ImagePositionPatient" for v in found)
    True
    """
    frames = ds.get(PER_FRAME)
    if not frames or len(frames) < 2:
        return []
    found = varies(
        list(frames),
        max_items_per_sequence=max_items_per_sequence,
        include_private=include_private,
        var=f"ds.{PER_FRAME}[i]",
    )
    for variation in found:
        variation.path = f"{PER_FRAME}[*].{variation.path}"
    return found


def _numeric_array(values: list[float | list[float] | None]) -> np.ndarray | None:
    present = [v for v in values if v is not None]
    if not present or len(present) < len(values) / 2:
        return None
    width = {1 if isinstance(v, float) else len(v) for v in present}
    if len(width) != 1:
        return None
    k = width.pop()
    arr = np.full((len(values), k), np.nan)
    for i, v in enumerate(values):
        if v is not None:
            arr[i] = v
    return arr[:, 0] if k == 1 else arr


# ----------------------------------------------------------------------------------------
# compare


@dataclass
class Change:
    """One difference between two datasets.

    Attributes
    ----------
    kind : str
        ``"removed"`` (only in a), ``"added"`` (only in b) or ``"changed"``.
    path, tag, keyword, name : as in :class:`ElementRow`
    vr_a, vr_b : str or None
        VR on each side (``None`` where absent).
    before, after : str or None
        Display summaries on each side (``None`` where absent).
    row_a, row_b : ElementRow or None
        The rows themselves, for full values.
    """

    kind: str
    path: str
    tag: int
    keyword: str
    name: str
    is_private: bool
    depth: int
    vr_a: str | None
    vr_b: str | None
    before: str | None
    after: str | None
    row_a: ElementRow | None = field(default=None, repr=False, compare=False)
    row_b: ElementRow | None = field(default=None, repr=False, compare=False)
    sort_key: tuple[int, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """Keyword or the private creator label or the tag text."""
        row = self.row_a or self.row_b
        return row.label if row is not None else self.keyword


class Diff:
    """The differences between two datasets, with filters and an HTML/widget view.

    Iterating gives the :class:`Change` objects in tag order (nested paths under their
    sequence). Evaluating a ``Diff`` in a notebook shows an HTML table.

    Attributes
    ----------
    changes : list of Change
    label_a, label_b : str
        Names of the two sides in the views.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> a = Dataset(); a.PatientName = "A"; a.Modality = "CT"
    >>> b = Dataset(); b.PatientName = "B"; b.Rows = 2
    >>> d = compare(a, b)
    >>> [(c.kind, c.path) for c in d]
    [('removed', 'Modality'), ('changed', 'PatientName'), ('added', 'Rows')]
    """

    KINDS = ("removed", "added", "changed")

    def __init__(self, changes: list[Change], label_a: str = "a", label_b: str = "b") -> None:
        self.changes = changes
        self.label_a = label_a
        self.label_b = label_b

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __repr__(self) -> str:
        counts = self.counts()
        return (
            f"<Diff {self.label_a} → {self.label_b}: {counts['changed']} changed, "
            f"{counts['removed']} only in {self.label_a}, {counts['added']} only in {self.label_b}>"
        )

    def counts(self) -> dict[str, int]:
        """Number of changes of each kind."""
        out = dict.fromkeys(self.KINDS, 0)
        for change in self.changes:
            out[change.kind] += 1
        return out

    @property
    def only_in_a(self) -> list[Change]:
        """Elements present only in a."""
        return [c for c in self.changes if c.kind == "removed"]

    @property
    def only_in_b(self) -> list[Change]:
        """Elements present only in b."""
        return [c for c in self.changes if c.kind == "added"]

    @property
    def changed(self) -> list[Change]:
        """Elements present in both with different values."""
        return [c for c in self.changes if c.kind == "changed"]

    def filter(
        self,
        *,
        kinds: Iterable[str] | None = None,
        include_private: bool = True,
        query: str = "",
        max_depth: int | None = None,
        exclude: Iterable[str] = (),
    ) -> Diff:
        """Return a new Diff keeping only some changes.

        Parameters
        ----------
        kinds : iterable of str, optional
            Subset of ``("removed", "added", "changed")``.
        include_private : bool
            Keep private elements.
        query : str
            Keep changes whose path, keyword, name or values contain this text
            (case-insensitive, Unicode-normalised), or whose tag it spells.
        max_depth : int, optional
            Keep changes at most this deep in sequences (0 = top level).
        exclude : iterable of str
            Keywords to drop (``("SOPInstanceUID", "InstanceNumber")``).
        """
        wanted = set(kinds) if kinds is not None else set(self.KINDS)
        excluded = set(exclude)
        tag = parse_tag(query) if query else None
        needle = normalize_text(query.strip()) if query.strip() else ""
        out = []
        for c in self.changes:
            if c.kind not in wanted or (c.is_private and not include_private):
                continue
            if max_depth is not None and c.depth > max_depth:
                continue
            if c.keyword in excluded:
                continue
            if tag is not None and c.tag != tag:
                continue
            if tag is None and needle:
                text = normalize_text(
                    " ".join([c.path, c.keyword, c.name, c.before or "", c.after or ""])
                )
                if needle not in text:
                    continue
            out.append(c)
        return Diff(out, self.label_a, self.label_b)

    def to_dataframe(self) -> Any:
        """The changes as a pandas DataFrame (needs pandas)."""
        pd = _pandas()
        return pd.DataFrame(
            [
                {
                    "kind": c.kind,
                    "path": c.path,
                    "tag": format_tag(c.tag),
                    "keyword": c.keyword,
                    "vr_a": c.vr_a,
                    "vr_b": c.vr_b,
                    "before": c.before,
                    "after": c.after,
                }
                for c in self.changes
            ],
            columns=["kind", "path", "tag", "keyword", "vr_a", "vr_b", "before", "after"],
        )

    def _repr_html_(self) -> str:
        from .html.tags import diff_html

        return diff_html(self)

    def widget(self) -> Any:
        """An ipywidgets view with filters (imports ipywidgets)."""
        from .widgets.tag_explorer import DiffView

        return DiffView(self)


def compare(
    a: Any,
    b: Any,
    *,
    include_private: bool = True,
    max_items_per_sequence: int | None = None,
    ignore: Iterable[str] = (),
    ignore_varying: bool = True,
    label_a: str = "a",
    label_b: str = "b",
) -> Diff:
    """Compare two datasets (or two series) element by element, recursively.

    Elements are matched by path (so items are compared by position in their sequence).
    For a ``Series`` (anything with ``dataset(i)``) or a list of datasets the first
    instances are compared and, with ``ignore_varying``, elements that vary *within*
    either series (SOPInstanceUID, SliceLocation...) are left out: what remains answers
    "why do these two series differ?".

    Parameters
    ----------
    a, b : Dataset, Series or list of Dataset
        The two sides.
    include_private : bool
        Compare private elements too.
    max_items_per_sequence : int, optional
        Items per sequence compared (``None``: all).
    ignore : iterable of str
        Keywords never reported (``("SOPInstanceUID",)``).
    ignore_varying : bool
        For series, skip the elements that vary between the instances of a side.
    label_a, label_b : str
        Names of the sides in the views.

    Returns
    -------
    Diff

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> s = ct_phantom(n_slices=2, size=16)
    >>> "SliceLocation" in [c.keyword for c in compare(s[0], s[1]).changed]
    True
    """
    ds_a, ds_b = _first_dataset(a), _first_dataset(b)
    varying: set[str] = set()
    if ignore_varying:
        for side in (a, b):
            if not isinstance(side, Dataset):
                datasets = _datasets_of(side)
                if len(datasets) > 1:
                    varying.update(
                        v.path for v in varies(datasets, include_private=include_private)
                    )
    options = {
        "max_items_per_sequence": max_items_per_sequence,
        "include_private": include_private,
        "include_items": False,
    }
    rows_a = flatten(ds_a, **options)
    rows_b = flatten(ds_b, **options)
    map_a = {r.path: r for r in rows_a}
    map_b = {r.path: r for r in rows_b}
    ignored = set(ignore)
    changes: list[Change] = []

    def make(kind: str, ra: ElementRow | None, rb: ElementRow | None) -> Change:
        r = ra or rb
        assert r is not None
        return Change(
            kind=kind,
            path=r.path,
            tag=r.tag,
            keyword=r.keyword,
            name=r.name,
            is_private=r.is_private,
            depth=r.depth,
            vr_a=ra.vr if ra else None,
            vr_b=rb.vr if rb else None,
            before=ra.summary if ra else None,
            after=rb.summary if rb else None,
            row_a=ra,
            row_b=rb,
            sort_key=(int(r.in_file_meta is False), *r.sort_key),
        )

    for path, ra in map_a.items():
        if ra.keyword in ignored or path in varying:
            continue
        rb = map_b.get(path)
        if rb is None:
            changes.append(make("removed", ra, None))
        elif ra.is_sequence and rb.is_sequence:
            if ra.item_count != rb.item_count:
                changes.append(make("changed", ra, rb))
        elif ra.vr != rb.vr or _comparable(ra) != _comparable(rb):
            changes.append(make("changed", ra, rb))
    for path, rb in map_b.items():
        if path not in map_a and rb.keyword not in ignored and path not in varying:
            changes.append(make("added", None, rb))
    changes.sort(key=lambda c: c.sort_key)
    return Diff(changes, label_a, label_b)


def _first_dataset(source: Any) -> Dataset:
    if isinstance(source, Dataset):
        return source
    if hasattr(source, "dataset"):
        return source.dataset(0)
    items = list(source)
    if not items:
        raise ValueError("cannot compare an empty list of datasets")
    return items[0]


# ----------------------------------------------------------------------------------------
# dataframe


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is installed in both venvs
        from .errors import MissingDependencyError

        raise MissingDependencyError("to_dataframe needs pandas: pip install pandas") from exc
    return pd


def to_dataframe(source: Dataset | Sequence[ElementRow] | TagIndex, **flatten_options: Any) -> Any:
    """The flattened elements as a pandas DataFrame.

    Columns: ``path, tag, keyword, name, VR, VM, value, private_creator, depth, problem,
    expression`` (``value`` is the display summary). Item header rows are left out.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A^B"
    >>> to_dataframe(ds)[["keyword", "VR", "value"]].values.tolist()
    [['PatientName', 'PN', 'A^B']]
    """
    pd = _pandas()
    if isinstance(source, Dataset):
        rows = flatten(source, **flatten_options)
    elif isinstance(source, TagIndex):
        rows = source.rows
    else:
        rows = list(source)
    columns = ["path", "tag", "keyword", "name", "VR", "VM", "value", "private_creator"]
    columns += ["depth", "problem", "expression"]
    return pd.DataFrame(
        [
            (r.path, r.tag_text, r.keyword, r.name, r.vr, r.vm, r.summary, r.private_creator)
            + (r.depth, r.problem, r.expression)
            for r in rows
            if r.kind == "element"
        ],
        columns=columns,
    )
