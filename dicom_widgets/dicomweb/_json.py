"""DICOM JSON (PS3.18 F.2) to pydicom Datasets, fast: values are decoded only when read.

``Dataset.from_json`` builds and validates every element at once, a few milliseconds per
CT header: seconds for a 300-slice series before the first image. Here each element
becomes a pydicom ``RawDataElement`` holding its value encoded as Explicit VR Little
Endian bytes, so pydicom converts it on first access, as it does for a file read from
disk; sequences are converted item by item the same way. Strings are stored as UTF-8
and the dataset's Specific Character Set says so (``ISO_IR 192``): JSON is Unicode
whatever character set the original file declared.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from ..series import FrameRef
from ..series._fastheader import _REFUSED_TAGS, WANTED, _build

__all__ = ["dataset_from_json", "light_header_from_json"]

_STRUCT = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
_BINARY = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_NUMBER_TEXT = {"DS", "IS"}
_CHARSET_TAG = 0x00080005
_MAX_DEPTH = 32


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):  # a person name: its three component groups
        groups = [str(value.get(k, "") or "") for k in ("Alphabetic", "Ideographic", "Phonetic")]
        while groups and not groups[-1]:
            groups.pop()
        return "=".join(groups)
    return str(value)


def _encode(vr: str, values: list[Any]) -> bytes:
    """Explicit VR Little Endian bytes of a value list."""
    if vr in _STRUCT:
        code = _STRUCT[vr]
        return struct.pack(f"<{len(values)}{code}", *(v if v is not None else 0 for v in values))
    if vr == "AT":
        out = b""
        for v in values:
            tag = int(str(v), 16)
            out += struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        return out
    text = "\\".join(_text_value(v) for v in values)
    data = text.encode("utf-8")
    if len(data) % 2:
        data += b"\0" if vr == "UI" else b" "
    return data


def _element(tag: int, element: Mapping[str, Any], depth: int) -> Any:
    vr = element.get("vr", "UN")
    vr = str(getattr(vr, "value", vr))  # pydicom's VR enum, when a dict comes from to_json_dict
    if vr == "SQ":
        items = element.get("Value") or []
        return DataElement(
            tag,
            "SQ",
            Sequence(
                [
                    dataset_from_json(item, depth=depth + 1)
                    for item in items
                    if isinstance(item, Mapping)
                ]
            ),
        )
    if "InlineBinary" in element:
        value = base64.b64decode(str(element["InlineBinary"]))
    else:
        values = element.get("Value")
        if values is None or values == []:
            value = b""
        elif not isinstance(values, list):
            raise ValueError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}): Value is not a list")
        elif vr in _BINARY:
            raise ValueError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}): {vr} values must be binary")
        else:
            value = _encode(vr, values)
    return RawDataElement(tag, vr, len(value), value, 0, False, True)


def dataset_from_json(item: Mapping[str, Any], *, depth: int = 0) -> Dataset:
    """A Dataset from one DICOM JSON object; each value is decoded when first read.

    BulkDataURIs must be resolved beforehand (an element with one is left empty).

    Raises
    ------
    ValueError
        For a malformed object (a tag that is not 8 hex digits, a value that is not a list).

    Examples
    --------
    >>> ds = dataset_from_json({"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J"}]},
    ...                         "00280010": {"vr": "US", "Value": [512]}})
    >>> str(ds.PatientName), ds.Rows
    ('Doe^J', 512)
    """
    if depth > _MAX_DEPTH:
        raise ValueError(f"sequences nested more than {_MAX_DEPTH} deep")
    elements: dict[int, Any] = {}
    for key, element in item.items():
        if len(key) != 8:
            raise ValueError(f"{key!r} is not a DICOM JSON tag (8 hex digits)")
        tag = BaseTag(int(key, 16))
        if not isinstance(element, Mapping):
            raise ValueError(f"{key}: element is not an object")
        elements[tag] = _element(tag, element, depth)
    if depth == 0:  # the values are UTF-8 now, whatever the original file's character set was
        charset = BaseTag(_CHARSET_TAG)
        elements[charset] = RawDataElement(charset, "CS", 10, b"ISO_IR 192", 0, False, True)
    ds = Dataset(dict(sorted(elements.items())))
    if hasattr(ds, "set_original_encoding"):  # pydicom 3
        ds.set_original_encoding(False, True, "utf-8")
    else:  # pydicom 2.4 reads raw elements with the dataset's own flags
        ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds


# The elements the local fast header reader keeps, as DICOM JSON keys, and the ones that
# send a header to the full pydicom path (functional groups, LUT sequences, palettes...).
_WANTED_KEYS = {f"{tag:08X}": tag for tag in WANTED if tag != _CHARSET_TAG}
_REFUSED_KEYS = frozenset(f"{tag:08X}" for tag in _REFUSED_TAGS)
_UTF8 = b"ISO_IR 192"


def light_header_from_json(
    item: Mapping[str, Any], *, order: int = 0
) -> tuple[Dataset, list[FrameRef]] | None:
    """The light header and frame reference of a plain single-frame image, or ``None``.

    The same elements and the same :class:`~dicom_widgets.series.FrameRef` as the local fast
    header reader (:mod:`dicom_widgets.series._fastheader`) builds from a file, here from one
    DICOM JSON object: grouping and sorting a DICOMweb series then costs what a folder
    costs, and the full header (every element) is built from ``item`` only when asked for.
    ``None`` for whatever that reader leaves to pydicom (multi-frame, functional groups,
    lookup-table sequences, a wanted element given as binary).

    Examples
    --------
    >>> header, refs = light_header_from_json({
    ...     "00080018": {"vr": "UI", "Value": ["1.2.3"]}, "00280010": {"vr": "US", "Value": [4]},
    ...     "00280011": {"vr": "US", "Value": [4]}, "00200032": {"vr": "DS", "Value": [0, 0, 2.5]}})
    >>> refs[0].sop_uid, refs[0].rows, refs[0].position.tolist(), refs[0].path
    ('1.2.3', 4, [0.0, 0.0, 2.5], None)
    """
    if not _REFUSED_KEYS.isdisjoint(item):
        return None
    found: dict[int, tuple[bytes | None, bytes, int]] = {}
    for key, tag in _WANTED_KEYS.items():
        element = item.get(key)
        if element is None:
            continue
        if not isinstance(element, Mapping):
            return None  # malformed: the full path says what is wrong
        vr = str(element.get("vr", "UN"))
        values = element.get("Value", [])
        if set(element) - {"vr", "Value"} or not isinstance(values, list) or vr in _BINARY:
            return None  # binary, bulk data or malformed
        if vr == "SQ":
            return None
        try:
            found[tag] = (vr.encode("ascii"), _encode(vr, values) if values else b"", 0)
        except (TypeError, ValueError, struct.error, UnicodeEncodeError):
            return None
    found[_CHARSET_TAG] = (b"CS", _UTF8, 0)  # JSON values are Unicode, stored here as UTF-8
    syntax = _first_text(item.get("00020010"))
    built = _build("", found, None, syntax, True, order)
    if built is None:
        return None
    ds, refs = built
    refs = [_in_memory(ref) for ref in refs]
    setattr_ = object.__setattr__
    setattr_(ds, "filename", None)
    setattr_(ds, "_dw_frames", refs)
    if hasattr(ds, "set_original_encoding"):  # pydicom 3
        ds.set_original_encoding(False, True, "utf-8")
    else:  # pydicom 2.4
        ds.is_little_endian, ds.is_implicit_VR = True, False
    return ds, refs


def _first_text(element: Any) -> str:
    if isinstance(element, Mapping) and isinstance(element.get("Value"), list):
        values = element["Value"]
        return str(values[0]) if values else ""
    return ""


def _in_memory(ref: FrameRef) -> FrameRef:
    """``ref`` without a file: its frames come from the frame reader."""
    ref.path = None
    return ref
