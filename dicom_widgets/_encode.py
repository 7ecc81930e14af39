"""Encode a dataset as Part 10 bytes, writing still-raw elements without pydicom's per-element work.

A de-identified file is mostly elements the profile keeps: they are still the
:class:`~pydicom.dataelem.RawDataElement` read from the source, and pydicom writes their
bytes unchanged. Its writer still spends several microseconds of Python on each (a buffer
object, a tag object, a VR check), which for a CT slice of seventy elements costs more
than reading the file. :func:`encode_part10` packs those headers with one ``struct`` call
and hands every other element (converted values, sequences, anything unusual) to pydicom's
own ``write_data_element``, so its output is byte-for-byte what :func:`~dicom_widgets._compat.write_dataset`
writes (``tests/test_encode.py`` compares the two on every file pydicom ships).

The fast path is taken on pydicom 3 for little-endian transfer syntaxes (implicit or
explicit VR, not deflated) when the dataset is written in the encoding and character set it
was read with; anything else goes to pydicom's ``dcmwrite`` whole.
"""

from __future__ import annotations

import io
import re
import struct
from copy import copy
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32

from ._compat import IS_PYDICOM3, write_dataset

__all__ = ["encode_part10", "plain_uid", "text_value_bytes"]

_IMPLICIT_HEADER = struct.Struct("<HHI")
_EXPLICIT_SHORT = struct.Struct("<HH2sH")
_EXPLICIT_LONG = struct.Struct("<HH2sHI")


def encode_part10(ds: Dataset) -> memoryview:
    """The Part 10 file of ``ds`` (preamble, file meta, dataset) as bytes.

    Parameters
    ----------
    ds : Dataset
        A dataset with ``file_meta.TransferSyntaxUID`` set.

    Returns
    -------
    memoryview
        The encoded file (a view of the buffer, so the pixel data is not copied again).

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> bytes(encode_part10(ct_phantom(n_slices=1, size=8)[0])[128:132])
    b'DICM'
    """
    buffer = io.BytesIO()
    if not _encode_fast(ds, buffer):
        buffer = io.BytesIO()
        write_dataset(ds, buffer)
    return buffer.getbuffer()


def _fast_encoding(ds: Dataset) -> tuple[bool, list[Any]] | None:
    """(implicit VR, the dataset's tags in order) when the fast path applies to ``ds``."""
    if not IS_PYDICOM3:
        return None  # pydicom 2.4 tracks the read encoding differently: let it write
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if syntax not in (ImplicitVRLittleEndian, ExplicitVRLittleEndian):
        return None
    implicit = syntax == ImplicitVRLittleEndian
    # pydicom re-encodes every element when the encoding or the character set changed.
    if ds.original_encoding != (implicit, True):
        return None
    if ds.original_character_set != ds._character_set:
        return None
    tags = sorted(ds._dict, key=int)  # (int: BaseTag's own comparison is Python code)
    for tag in tags:  # in order: groups 0 and 2 come first
        if tag >> 16 > 2:
            break
        if tag >> 16 in (0, 2):
            return None  # pydicom refuses these: let it say so
    pixel = ds._dict.get(0x7FE00010)
    if pixel is not None and getattr(pixel, "is_undefined_length", False):
        return None  # native syntax with encapsulated pixel data: pydicom's call
    if isinstance(pixel, RawDataElement) and pixel.length == 0xFFFFFFFF:
        return None
    return implicit, tags


def _encode_fast(ds: Dataset, out: io.BytesIO) -> bool:
    found = _fast_encoding(ds)
    if found is None:
        return False
    implicit, tags = found
    from pydicom.dataset import validate_file_meta
    from pydicom.filebase import DicomIO
    from pydicom.filewriter import write_data_element, write_file_meta_info

    # Preamble and file meta exactly as dcmwrite(enforce_file_format=True) writes them: on a
    # copy, with the Media Storage UIDs following the dataset's, validated.
    # dcmwrite deep-copies the file meta; a copy of each element is enough (values are
    # replaced, never changed in place) and costs a tenth.
    # (The copy keeps the encoding the meta was read with, so raw elements stay raw.)
    meta = ds.file_meta
    if not _meta_as_written(ds):
        meta = copy(ds.file_meta)
        meta._dict = {tag: copy(elem) for tag, elem in ds.file_meta._dict.items()}
        for meta_keyword, keyword in (
            ("MediaStorageSOPClassUID", "SOPClassUID"),
            ("MediaStorageSOPInstanceUID", "SOPInstanceUID"),
        ):
            in_meta, in_ds = meta.get(meta_keyword, None), ds.get(keyword, None)
            if in_meta is None or (in_ds and in_ds != in_meta):
                setattr(meta, meta_keyword, in_ds)
        validate_file_meta(meta, enforce_standard=True)
    preamble = getattr(ds, "preamble", None) or b"\x00" * 128
    if len(preamble) != 128:
        return False  # pydicom raises for this: let it
    out.write(preamble)
    out.write(b"DICM")
    fp = DicomIO(out)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    meta_bytes = _meta_bytes(meta)
    if meta_bytes is not None:
        out.write(meta_bytes)
    else:  # an element pydicom must encode: it writes the whole group
        write_file_meta_info(fp, meta, enforce_standard=True)

    fp.is_implicit_VR = implicit
    write = out.write
    encodings: Any = ds.get("SpecificCharacterSet", "iso8859")
    elements = ds._dict
    for tag in tags:
        if not tag & 0xFFFF and tag >> 16 > 6:
            continue  # retired group lengths are not written (PS3.5 7.2), as pydicom does
        elem = elements[tag]
        if type(elem) is DataElement and elem.VR == "SQ":
            encoded = _sequence_bytes(tag, elem, implicit)
            if encoded is None:
                write_data_element(fp, ds.get_item(tag), encodings)
            else:
                write(encoded)
            continue
        parts = _plain_parts(elem, implicit)
        if parts is None:
            write_data_element(fp, ds.get_item(tag), encodings)
            continue
        vr, value = parts
        if implicit:
            write(_IMPLICIT_HEADER.pack(tag >> 16, tag & 0xFFFF, len(value)))
        elif vr in EXPLICIT_VR_LENGTH_32:
            write(_EXPLICIT_LONG.pack(tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(value)))
        else:
            write(_EXPLICIT_SHORT.pack(tag >> 16, tag & 0xFFFF, vr.encode(), len(value)))
        write(value)
    return True


_ITEM_TAG, _ITEM_END, _SEQUENCE_END = b"\xfe\xff\x00\xe0", b"\xfe\xff\x0d\xe0", b"\xfe\xff\xdd\xe0"
_UNDEFINED = b"\xff\xff\xff\xff"


#: Type 1 file meta elements (and Implementation Version Name, Type 3) that pydicom's
#: ``validate_file_meta`` adds or refuses when absent or empty.
_META_REQUIRED = (0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012)


def _meta_as_written(ds: Dataset) -> bool:
    """Whether ``dcmwrite`` writes ``ds.file_meta`` as it is: its Media Storage UIDs hold
    the dataset's SOP Class and Instance UIDs (the same bytes, or the same converted values)
    and ``validate_file_meta`` has nothing to add or refuse. Then no copy is needed."""
    meta = ds.file_meta._dict
    for meta_tag, tag in ((0x00020002, 0x00080016), (0x00020003, 0x00080018)):
        in_meta = _uid_text(meta.get(meta_tag))
        if in_meta is None or in_meta != _uid_text(ds._dict.get(tag)):
            return False
    for tag in _META_REQUIRED:
        elem = meta.get(tag)
        if elem is None or (elem.length == 0 if type(elem) is RawDataElement else elem.is_empty):
            return False
    return 0x00020013 in meta and all(tag >> 16 == 2 for tag in meta)


def _uid_text(elem: Any) -> str | None:
    """The single UID an element holds, raw (:func:`plain_uid`) or converted, as pydicom
    compares it (``None`` for anything else: absent, empty, several values, odd bytes)."""
    if elem is None or type(elem) is RawDataElement:
        return plain_uid(elem)
    value = getattr(elem, "value", None)
    text = value.strip("\0 ") if isinstance(value, str) else None
    return text or None


_PLAIN_UID = re.compile(rb"[0-9.]{1,64}\0?")


def plain_uid(raw: Any) -> str | None:
    """The UID of a raw element holding digits and dots, of even length (as pydicom converts
    it, without its validation and decoding; written back, its bytes are the same);
    ``None`` for anything else (pydicom's to convert).

    Examples
    --------
    >>> from pydicom.dataelem import RawDataElement
    >>> [plain_uid(RawDataElement(0x00080018, "UI", len(b), b, 0, False, True))
    ...  for b in (b"1.2.3\\x00", b"1.23", b" 1.2", b"1.2")]
    ['1.2.3', '1.23', None, None]
    """
    value = getattr(raw, "value", None)
    if isinstance(raw, DataElement) or not isinstance(value, bytes) or len(value) % 2:
        return None
    return value.rstrip(b"\0").decode("ascii") if _PLAIN_UID.fullmatch(value) else None


def _sequence_bytes(tag: int, elem: DataElement, implicit: bool) -> bytes | None:
    """A converted sequence element (header, items, delimiters) as pydicom's
    ``write_sequence`` writes it, when every element of every item is one
    :func:`_plain_parts` writes (the de-identification markers' code sequence, dummy
    items); ``None`` to let pydicom write it."""
    if elem.is_buffered:
        return None
    parts: list[bytes] = []
    for item in elem.value or ():
        body = _item_bytes(item, implicit)
        if body is None:
            return None
        if getattr(item, "is_undefined_length_sequence_item", False):
            parts += (_ITEM_TAG, _UNDEFINED, body, _ITEM_END, b"\x00\x00\x00\x00")
        else:
            parts += (_ITEM_TAG, struct.pack("<I", len(body)), body)
    value = b"".join(parts)
    group, element = tag >> 16, tag & 0xFFFF
    if elem.is_undefined_length:
        header = (
            _IMPLICIT_HEADER.pack(group, element, 0xFFFFFFFF)
            if implicit
            else _EXPLICIT_LONG.pack(group, element, b"SQ", 0, 0xFFFFFFFF)
        )
        return header + value + _SEQUENCE_END + b"\x00\x00\x00\x00"
    if implicit:
        return _IMPLICIT_HEADER.pack(group, element, len(value)) + value
    return _EXPLICIT_LONG.pack(group, element, b"SQ", 0, len(value)) + value


def _item_bytes(item: Any, implicit: bool) -> bytes | None:
    """The elements of a sequence item as pydicom's ``write_dataset`` writes them, or None.

    pydicom converts the raw elements of an item read in another encoding or character set
    (and decodes text in the item's own Specific Character Set): such items are its to write.
    """
    if not isinstance(item, Dataset) or 0x00080005 in item._dict:
        return None
    elements = item._dict
    same_encoding = (
        item.original_encoding == (implicit, True)
        and item.original_character_set == item._character_set
    )
    parts: list[bytes] = []
    for tag in sorted(elements, key=int):
        if not tag & 0xFFFF and tag >> 16 > 6:
            continue  # retired group lengths are not written (PS3.5 7.2)
        elem = elements[tag]
        if type(elem) is DataElement and elem.VR == "SQ":
            nested = _sequence_bytes(tag, elem, implicit)
            if nested is None:
                return None
            parts.append(nested)
            continue
        if not same_encoding and not isinstance(elem, DataElement):
            return None  # pydicom converts it (and may correct its VR)
        found = _plain_parts(elem, implicit)
        if found is None:
            return None
        vr, value = found
        group, element = tag >> 16, tag & 0xFFFF
        if implicit:
            parts.append(_IMPLICIT_HEADER.pack(group, element, len(value)))
        elif vr in EXPLICIT_VR_LENGTH_32:
            parts.append(_EXPLICIT_LONG.pack(group, element, vr.encode(), 0, len(value)))
        else:
            parts.append(_EXPLICIT_SHORT.pack(group, element, vr.encode(), len(value)))
        parts.append(value)
    return b"".join(parts)


def _meta_bytes(meta: Dataset) -> bytes | None:
    """The file meta group as ``write_file_meta_info(enforce_standard=True)`` writes a
    validated one: explicit VR little endian, (0002,0000) first and holding the length of
    the rest; ``None`` when an element needs pydicom's encoding."""
    parts = []
    for tag in sorted(meta._dict, key=int):
        if tag == 0x00020000:
            continue  # recomputed, as pydicom does
        found = _plain_parts(meta._dict[tag], False)
        if found is None:
            return None
        vr, value = found
        if vr in EXPLICIT_VR_LENGTH_32:
            parts.append(_EXPLICIT_LONG.pack(2, tag & 0xFFFF, vr.encode(), 0, len(value)))
        else:
            parts.append(_EXPLICIT_SHORT.pack(2, tag & 0xFFFF, vr.encode(), len(value)))
        parts.append(value)
    body = b"".join(parts)
    return _EXPLICIT_SHORT.pack(2, 0, b"UL", 4) + struct.pack("<I", len(body)) + body


_STRING_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR", "LO", "LT", "SH", "ST", "UC", "UT"}
)
_NUMBER_FORMATS = {"US": "H", "UL": "L", "SS": "h", "SL": "l", "FL": "f", "FD": "d"}
_BYTES_VRS = frozenset({"OB", "OW", "OD", "OF", "OL", "OV", "UN"})


def _plain_parts(elem: Any, implicit: bool) -> tuple[str, bytes] | None:
    """(VR, value bytes) of an element written without pydicom, or None to let pydicom write it.

    A raw element is written as read (as pydicom does); a converted one only when its
    encoding leaves no choice (:func:`_simple_value_bytes`). A short-length VR whose value
    outgrows its 2-byte length field is pydicom's to handle (it writes it as UN, warning).
    """
    if isinstance(elem, RawDataElement):
        value = elem.value
        if not isinstance(value, bytes) or elem.length == 0xFFFFFFFF:
            return None  # deferred, or encapsulated / undefined length
        vr = elem.VR
    elif isinstance(elem, DataElement):
        if elem.is_undefined_length:
            return None
        value = _simple_value_bytes(elem)
        vr = elem.VR
    else:
        return None
    if value is None:
        return None
    if implicit:
        return vr or "", value
    if not isinstance(vr, str) or len(vr) != 2:
        return None
    if vr not in EXPLICIT_VR_LENGTH_32 and len(value) > 0xFFFF:
        return None
    return vr, value


def _simple_value_bytes(elem: DataElement) -> bytes | None:
    """The encoded value of a converted element whose encoding leaves no choice, else None.

    Covers what de-identification leaves behind most: emptied values, ASCII strings and UIDs,
    single numbers, byte values of even length. Person names, decimal and integer strings,
    non-ASCII text, sequences and buffered values go to pydicom, which owns their rules.
    """
    vr = elem.VR
    if not isinstance(vr, str) or len(vr) != 2 or vr == "SQ" or elem.is_buffered:
        return None
    value = elem.value
    if vr in _STRING_VRS or value is None or value == "":
        return text_value_bytes(vr, value)
    if vr != "PN" and _is_empty_list(value):
        return b""
    number = _NUMBER_FORMATS.get(vr)
    if number is not None:
        if type(value) is int and number in "HLhl":
            try:
                return struct.pack("<" + number, value)
            except struct.error:
                return None
        if type(value) is float and number in "fd":
            return struct.pack("<" + number, value)
        return None
    if vr in _BYTES_VRS and type(value) is bytes and not len(value) % 2:
        return value
    return None


def text_value_bytes(vr: str, value: Any) -> bytes | None:
    """The value bytes pydicom writes for ``value`` in a string VR when its encoding leaves
    no choice (ASCII text or UIDs, one or several, padded to even length: UI with NUL,
    the others with a space) and for an empty value of any VR; ``None`` otherwise.

    Examples
    --------
    >>> text_value_bytes("UI", "1.2.3"), text_value_bytes("CS", ["A", "B"])
    (b'1.2.3\\x00', b'A\\\\B ')
    >>> text_value_bytes("US", None), text_value_bytes("US", 7)
    (b'', None)
    """
    if value is None or value == "" or (vr != "PN" and _is_empty_list(value)):
        return b""
    if vr not in _STRING_VRS:
        return None
    if type(value) in (str, UID):
        text = value
    elif isinstance(value, (MultiValue, list, tuple)) and all(type(v) in (str, UID) for v in value):
        text = "\\".join(value)
    else:
        return None
    if not text.isascii():
        return None
    if len(text) % 2:
        text += "\0" if vr == "UI" else " "
    return text.encode("ascii")


def _is_empty_list(value: Any) -> bool:
    return isinstance(value, (MultiValue, list, tuple)) and len(value) == 0
