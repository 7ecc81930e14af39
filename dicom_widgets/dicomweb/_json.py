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
import contextlib
import gc
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from ..series import FrameRef
from ..series._fastheader import _REFUSED_TAGS, WANTED, _build
from ..series._parallel import _TEXT_TAGS

__all__ = ["dataset_from_json", "light_header_from_json", "SeriesValues", "cyclic_gc_paused"]

_STRUCT = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
_BINARY = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
_NUMBER_TEXT = {"DS", "IS"}
_CHARSET_TAG = 0x00080005
_MAX_DEPTH = 32


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a series' metadata is decoded and read.

    Decoding megabytes of DICOM JSON and building a header per instance allocates hundreds
    of thousands of dicts, lists and strings, none of them cyclic garbage; the collector
    would walk them over and over (half the client's CPU time before the first image of a
    300-slice series: 264 ms against 130 ms paused). Reference counting still frees
    everything meanwhile. The collector is switched back on afterwards, unless it was off
    already (or another thread switched it off meanwhile: it is switched back on then too).

    Examples
    --------
    >>> import gc
    >>> with cyclic_gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _text_value(value: Any) -> str:
    # Exact types first: isinstance against the Mapping ABC costs microseconds a value.
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if value.__class__ in (int, float):
        return str(value)
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
_PLAIN_KEYS = frozenset({"vr", "Value"})
_WANTED_ITEMS = tuple(_WANTED_KEYS.items())
# The VRs a light header takes from JSON values, as (text, bytes); binary VRs, sequences
# and unknown VRs go to the full path.
_PLAIN_VRS = {
    vr: (vr, vr.encode("ascii"))
    for vr in (*"AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT AT".split(), *_STRUCT)
}
# What grouping a series reads from every header (series/_parallel.py): the same values
# in every instance of a series, so converted once per series (SeriesValues.share).
_SERIES_LEVEL_TAGS = _TEXT_TAGS


class SeriesValues:
    """What the light headers of one series share, encoded and converted once.

    The instances of a series repeat most header values byte for byte (patient, study,
    series, pixel module); only a few (SOP instance UID, position, instance number) differ.
    Reading a 300-slice series' metadata, each distinct value is encoded to bytes once,
    and each distinct series-level element (the ones grouping reads: patient, study,
    series, modality) is converted by pydicom once and the same read-only element is
    placed in every light header that has those bytes.

    Examples
    --------
    >>> shared = SeriesValues()
    >>> item = {"00080018": {"vr": "UI", "Value": ["1.2.3"]},
    ...         "00280010": {"vr": "US", "Value": [4]}, "00280011": {"vr": "US", "Value": [4]},
    ...         "00080060": {"vr": "CS", "Value": ["CT"]}}
    >>> a, _ = light_header_from_json(item, shared=shared)
    >>> b, _ = light_header_from_json(item, order=1, shared=shared)
    >>> a["Modality"] is b["Modality"], b.Modality
    (True, 'CT')
    """

    def __init__(self) -> None:
        self.encoded: dict[tuple[Any, ...], bytes] = {}
        self.elements: dict[tuple[BaseTag, str | None, bytes], DataElement] = {}

    def encode(self, vr: str, values: list[Any]) -> bytes:
        """``_encode(vr, values)``, once per distinct value list."""
        try:
            # The types are part of the key: 1 == 1.0 == True, but "1" != "1.0".
            key = (vr, tuple(map(type, values)), *values)
            found = self.encoded.get(key)
        except TypeError:  # a person name (a dict): not hashable, encoded each time
            return _encode(vr, values)
        if found is None:
            found = self.encoded[key] = _encode(vr, values)
        return found

    def share(self, ds: Dataset) -> None:
        """Put the series-level elements of ``ds`` converted, one object per distinct value."""
        elements = self.elements
        for tag in _SERIES_LEVEL_TAGS:
            raw = ds.get_item(tag)
            if not isinstance(raw, RawDataElement):
                continue  # absent
            key = (tag, raw.VR, raw.value)
            element = elements.get(key)
            if element is not None:
                ds[tag] = element
                continue
            try:
                elements[key] = ds[tag]  # pydicom converts it here, in ds's character set
            except Exception:  # noqa: BLE001 - unparsable: left raw, read as "" by grouping
                continue


def light_header_from_json(
    item: Mapping[str, Any], *, order: int = 0, shared: SeriesValues | None = None
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
    found = _wanted_elements(item, shared)
    if found is None:
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
    if shared is not None:
        shared.share(ds)
    return ds, refs


def _wanted_elements(
    item: Mapping[str, Any], shared: SeriesValues | None
) -> dict[int, tuple[bytes | None, bytes, int]] | None:
    """The fast reader's elements of ``item`` as (VR, value bytes, 0), or ``None`` to refuse.

    Refused (the full path reads it and says what is wrong): a wanted element that is not
    an object, has bulk data or inline binary, a VR outside :data:`_PLAIN_VRS`, or values
    that cannot be encoded.
    """
    if not _REFUSED_KEYS.isdisjoint(item):
        return None
    encode = shared.encode if shared is not None else _encode
    found: dict[int, tuple[bytes | None, bytes, int]] = {}
    for key, tag in _WANTED_ITEMS:
        element = item.get(key)
        if element is None:
            continue
        if element.__class__ is not dict and not isinstance(element, Mapping):
            return None
        vr = _PLAIN_VRS.get(element.get("vr", "UN"))
        values = element.get("Value", [])
        if vr is None or values.__class__ is not list or not element.keys() <= _PLAIN_KEYS:
            return None
        try:
            found[tag] = (vr[1], encode(vr[0], values) if values else b"", 0)
        except (TypeError, ValueError, struct.error, UnicodeEncodeError):
            return None
    return found


def _first_text(element: Any) -> str:
    if isinstance(element, Mapping) and isinstance(element.get("Value"), list):
        values = element["Value"]
        return str(values[0]) if values else ""
    return ""


def _in_memory(ref: FrameRef) -> FrameRef:
    """``ref`` without a file: its frames come from the frame reader."""
    ref.path = None
    return ref
