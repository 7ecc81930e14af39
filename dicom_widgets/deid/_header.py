"""Read a file's header (up to its pixel data) from its bytes, as pydicom's ``dcmread`` does.

The batch parses every header it de-identifies. pydicom's reader spends most of its time
per element on the file object (two reads and a seek), on decoding the VR and on its stop
callback. For the common case (a Part 10 file, little endian, implicit or explicit VR,
every element of defined length before the pixel data) :func:`read_header` walks the
bytes with one ``struct`` call per element and builds the very dataset ``dcmread(...,
stop_before_pixels=True)`` builds: the same raw elements (tag, VR, length, value, offset),
the same file meta, the same encodings and attributes. Anything
else (no preamble, big endian, deflate, a private transfer syntax, a command group, an
undefined length, an unknown VR, an encoding other than the declared one, a file cut
short) returns ``None`` with the reason, and the caller reads the file with pydicom.
``tests/test_deid_header.py`` compares the two readers on every file pydicom ships.
"""

from __future__ import annotations

import io
import struct
import warnings

from pydicom.charset import default_encoding
from pydicom.dataelem import RawDataElement, empty_value_for_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag

from .._compat import IS_PYDICOM3

__all__ = ["read_header", "FALLBACKS", "HeaderContinues"]

_IMPLICIT_LE, _EXPLICIT_LE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"
# Read whole by pydicom: big endian, deflated (re-encoded), and a private syntax's encoding.
_PYDICOM_SYNTAXES = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})  # dcmread's stop_before_pixels
_IMPLICIT = struct.Struct("<HHL")
_EXPLICIT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<L")

#: Why files went to pydicom's reader, counted per reason (this process).
FALLBACKS: dict[str, int] = {}


class _Fallback(Exception):
    """The header is not one :func:`read_header` reads exactly as pydicom does."""


class _CutShort(_Fallback):
    """The bytes end inside the header."""


class HeaderContinues(Exception):
    """The header goes on past the bytes given (only the start of the file was read)."""


def _vrs() -> tuple[dict[bytes, str], frozenset[str]]:
    """Every VR by its two bytes, and those with a 4-byte length (pydicom's own lists)."""
    from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR

    return {vr.value.encode(): vr.value for vr in VR}, frozenset(
        str(vr.value) for vr in EXPLICIT_VR_LENGTH_32
    )


_VR_NAMES, _LONG_VRS = _vrs()


def read_header(data: bytes, *, whole: bool = True) -> tuple[Dataset, int] | None:
    """The header of the Part 10 file ``data`` and the offset where it stops (the pixel
    data element, or the end), as ``dcmread(io.BytesIO(data), stop_before_pixels=True)``
    returns them; ``None`` (reason counted in :data:`FALLBACKS`) when pydicom must read it.

    ``whole=False``: ``data`` is only the file's start (the caller reads the file whole if
    this gives ``None``, so nothing is counted), and a header running past it raises
    :class:`HeaderContinues`.

    Examples
    --------
    >>> import io, tempfile
    >>> from dicom_widgets.data import ct_phantom, write_series
    >>> [path] = write_series(ct_phantom(n_slices=1, size=8), tempfile.mkdtemp())
    >>> found = read_header(open(path, "rb").read())
    >>> if found is not None:  # (pydicom 2.4: None, pydicom reads every header)
    ...     ds, stop = found
    ...     assert ds.Modality == "CT" and open(path, "rb").read()[stop:stop + 2].hex() == "e07f"
    """
    try:
        return _read(data)
    except _Fallback as reason:
        if not whole and isinstance(reason, _CutShort):
            raise HeaderContinues(str(reason)) from None
        if whole:
            FALLBACKS[str(reason)] = FALLBACKS.get(str(reason), 0) + 1
        return None


def _read(data: bytes) -> tuple[Dataset, int]:
    """:func:`read_header`'s steps: pydicom's own preamble and file meta, then the body."""
    if not IS_PYDICOM3:
        raise _Fallback("pydicom 2.4")  # its datasets track the read encoding differently
    if data[128:132] != b"DICM":
        raise _Fallback("no Part 10 preamble")
    from pydicom.dataelem import convert_raw_data_element  # pydicom 3

    file_meta, start = _file_meta(data)
    if start >= len(data):
        raise _CutShort("no dataset")  # pydicom then assumes implicit VR whatever the syntax
    if data[start : start + 2] == b"\x00\x00":
        raise _Fallback("command group")
    syntax = file_meta.get("TransferSyntaxUID")  # converted, as read_partial does
    implicit = _body_encoding(syntax, data, start)
    elements, stop = _elements(data, start, implicit)
    dataset = Dataset(elements, parent_encoding="iso8859")
    charset = elements.get(0x00080005)
    encoding = (
        _encodings(convert_raw_data_element(charset).value) if charset is not None else "iso8859"
    )
    dataset.set_original_encoding(implicit, True, encoding)
    fp = io.BytesIO(data)
    fp.seek(stop)
    ds = FileDataset(fp, dataset, data[:128], file_meta, implicit, True)
    ds.set_original_encoding(implicit, True, dataset._character_set)
    return ds, stop


def _file_meta(data: bytes) -> tuple[FileMetaDataset, int]:
    """The file meta group after the preamble and where it ends, as pydicom's
    ``_read_file_meta_info`` reads it: raw elements (explicit VR little endian) up to the
    first element of another group, the first of them converted, as is the group length
    (pydicom checks them). Anything pydicom would warn about or retry goes to pydicom."""
    elements, end = _elements(data, 132, False, meta=True)
    file_meta = FileMetaDataset(elements)
    file_meta.set_original_encoding(False, True, default_encoding)
    if elements:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                file_meta[next(iter(elements))]  # pydicom's test of the interpretation
                if 0x00020000 in elements:
                    file_meta.FileMetaInformationGroupLength  # noqa: B018 - converted, as there
            except Exception as exc:  # noqa: BLE001 - pydicom retries or raises: its call
                raise _Fallback(f"file meta: {type(exc).__name__}") from None
        if caught:
            raise _Fallback("file meta warning")  # pydicom's reader says it, the batch judges it
    return file_meta, end


def _encodings(value: object) -> object:
    from pydicom.charset import convert_encodings

    return convert_encodings(value)  # type: ignore[arg-type]


def _body_encoding(syntax: object, data: bytes, start: int) -> bool:
    """Implicit VR (True/False) of the body, as ``read_partial`` decides it from the
    transfer syntax and ``read_dataset`` checks on the first element."""
    from pydicom.uid import PrivateTransferSyntaxes

    if syntax is None:
        raise _Fallback("no transfer syntax")  # pydicom guesses from the first element
    if syntax in _PYDICOM_SYNTAXES or syntax in PrivateTransferSyntaxes:
        raise _Fallback(f"transfer syntax {syntax}")
    implicit = syntax == _IMPLICIT_LE
    if len(data) >= start + 6:
        vr = data[start + 4 : start + 6]
        found_implicit = not (0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B)
        if found_implicit != implicit:
            raise _Fallback("encoding differs from the transfer syntax")
    return implicit


def _elements(
    data: bytes, pos: int, implicit: bool, *, meta: bool = False
) -> tuple[dict[BaseTag, RawDataElement], int]:
    """The raw elements from ``pos`` up to the pixel data (or the end), each as
    ``data_element_generator`` yields it, and where they stop; with ``meta``, up to the
    first element outside group 0002 (which must follow)."""
    elements: dict[BaseTag, RawDataElement] = {}
    end = len(data)
    unpack = _IMPLICIT.unpack_from if implicit else _EXPLICIT.unpack_from
    vr_names, long_vrs = _VR_NAMES, _LONG_VRS
    while pos + 8 <= end:
        if implicit:
            group, element, length = unpack(data, pos)
            vr, value_at = None, pos + 8
        else:
            group, element, raw_vr, length = unpack(data, pos)
            if meta and group != 2:
                return elements, pos  # the body, in whatever encoding
            vr = vr_names.get(raw_vr)
            if vr is None:
                raise _Fallback("unknown VR")
            value_at = pos + 8
            if vr in long_vrs:
                if value_at + 4 > end:
                    raise _CutShort("cut short")
                length = _LONG.unpack_from(data, value_at)[0]
                value_at += 4
        tag = group << 16 | element
        if tag in _PIXEL_TAGS:
            return elements, pos
        if length == 0xFFFFFFFF or tag == 0xFFFEE00D:
            raise _Fallback("undefined length")
        pos = value_at + length
        if pos > end:
            raise _CutShort("cut short")
        value = data[value_at:pos] if length else empty_value_for_VR(vr, raw=True)
        key = BaseTag(tag)
        elements[key] = RawDataElement(key, vr, length, value, value_at, implicit, True)
    if pos != end or meta:
        raise _CutShort("cut short")  # (a file that is all file meta: pydicom's call)
    return elements, pos
