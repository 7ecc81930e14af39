"""Describe one element's value: the short summary, the full text and what is wrong with it.

Used by :class:`~dicom_widgets.tags.rows.ElementRow` (on first access of its summary or
problem) and by the walker for pixel data, which it describes without loading.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from .._compat import is_multi_value, safe_get
from .dictionary import PIXEL_DATA_TAGS, TEXT_VRS, _vr_text, format_tag

if TYPE_CHECKING:
    from .rows import ElementRow

__all__ = ["value_summary"]


def _value_of(elem: DataElement) -> tuple[object, str | None]:
    """``(elem.value, None)``, or ``(None, why)`` when pydicom cannot give the value.

    pydicom converts raw values on access and reads deferred ones from the file, so this
    is where a bad value surfaces; every view of a row reads the value through here.
    """
    try:
        return elem.value, None
    except Exception as exc:  # noqa: BLE001 - converters raise many types; OSError when deferred
        return None, str(exc)


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


def _scalar_text(value: object) -> str:
    if isinstance(value, BaseTag):
        return format_tag(int(value))
    if type(value) is float:
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return _hex_preview(value)
    return str(value)


def _pixel_summary(elem: DataElement, context: Dataset | None, root: Dataset | None) -> str:
    value, error = _value_of(elem)
    if error is not None:
        return f"pixel data (unreadable: {error})"
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
    value, error = _value_of(elem)
    if error is not None:
        return f"(unreadable: {error})"
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
    if is_multi_value(value):
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
    value, error = _value_of(elem)
    if error is not None:
        return f"(unreadable: {error})"
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
    if is_multi_value(value):
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
        value, _ = _value_of(elem)
        if isinstance(value, (bytes, bytearray)):
            problems.append(f"undecodable {vr} value kept as bytes")
        else:
            values = value if is_multi_value(value) else [value]
            if any(isinstance(v, str) and "\ufffd" in v for v in values):
                problems.append("undecodable characters (replaced by �)")
            elif vr in {"IS", "DS", "UI", "DA", "TM", "CS", "AS"} and validate:
                problem = _validate(vr, value)
                if problem:
                    problems.append(problem)
    if not problems:
        return None
    return "; ".join(problems)


def _validate(vr: str, value: object) -> str | None:
    # The validators only see strings: a value pydicom already converted to int/float
    # (IS/DS) is valid by construction.
    values = value if is_multi_value(value) else [value]
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
    except ValueError as exc:
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).split("\n")[0]
    return re.sub(r"\s*Please see <[^>]*> for allowed values.*", "", text).strip()


def _vm_of(value: object) -> int:
    # Same rule as DataElement.VM, without the property's overhead on 10,000s of rows.
    cls = value.__class__
    if cls is str or cls is bytes:  # most values: no isinstance against MultiValue's ABC
        return 1 if value else 0
    if value is None or (isinstance(value, (str, bytes)) and not value):
        return 0
    if isinstance(value, (int, float)):  # numbers, DSfloat and IS: before the ABC check
        return 1
    if is_multi_value(value):
        return len(value)  # type: ignore[arg-type]
    return 1
