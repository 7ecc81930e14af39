"""A fast header reader for the common case: classic single-frame little-endian images.

Opening a folder costs one header read per file, so header reading decides how soon
the first image appears. pydicom parses and later converts every element; this
reader walks the element stream with ``struct`` and keeps only the elements the
loader needs (as pydicom ``RawDataElement`` objects, converted lazily by pydicom if
anyone reads them), then builds the :class:`FrameRef` directly from the bytes.

Anything unusual — no preamble, big endian, deflated, multi-frame, LUT sequences,
functional groups, a header larger than :data:`MAX_HEADER` — returns ``None`` and the
caller reads the file with pydicom as before. The full header stays available through
``Series.dataset(i)``, which reads it with pydicom on demand.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag

from ._frames import FrameRef, _seconds

__all__ = ["read_fast", "MAX_HEADER", "WANTED"]

#: Headers larger than this are left to pydicom.
MAX_HEADER = 1 << 20
_CHUNK = 16384
_PIXEL_DATA = 0x7FE00010
_LONG_VRS = {
    b"OB",
    b"OW",
    b"OF",
    b"SQ",
    b"UT",
    b"UN",
    b"UC",
    b"UR",
    b"OD",
    b"OL",
    b"OV",
    b"SV",
    b"UV",
}
_UNDEFINED = 0xFFFFFFFF
_IMPLICIT_LE = "1.2.840.10008.1.2"
_REFUSED_SYNTAXES = {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}  # big endian, deflated

#: Elements kept in the light header, with their VR (needed for implicit VR files).
WANTED: dict[int, str] = {
    0x00080005: "CS",  # SpecificCharacterSet
    0x00080008: "CS",  # ImageType
    0x00080016: "UI",  # SOPClassUID
    0x00080018: "UI",  # SOPInstanceUID
    0x00080020: "DA",  # StudyDate
    0x00080021: "DA",  # SeriesDate
    0x00080030: "TM",  # StudyTime
    0x00080032: "TM",  # AcquisitionTime
    0x00080033: "TM",  # ContentTime
    0x00080060: "CS",  # Modality
    0x00080070: "LO",  # Manufacturer
    0x00081030: "LO",  # StudyDescription
    0x0008103E: "LO",  # SeriesDescription
    0x00100010: "PN",  # PatientName
    0x00100020: "LO",  # PatientID
    0x00180015: "CS",  # BodyPartExamined
    0x00180050: "DS",  # SliceThickness
    0x00180086: "IS",  # EchoNumbers
    0x00180088: "DS",  # SpacingBetweenSlices
    0x00181060: "DS",  # TriggerTime
    0x00181164: "DS",  # ImagerPixelSpacing
    0x0020000D: "UI",  # StudyInstanceUID
    0x0020000E: "UI",  # SeriesInstanceUID
    0x00200010: "SH",  # StudyID
    0x00200011: "IS",  # SeriesNumber
    0x00200012: "IS",  # AcquisitionNumber
    0x00200013: "IS",  # InstanceNumber
    0x00200032: "DS",  # ImagePositionPatient
    0x00200037: "DS",  # ImageOrientationPatient
    0x00200052: "UI",  # FrameOfReferenceUID
    0x00200100: "IS",  # TemporalPositionIdentifier
    0x00201041: "DS",  # SliceLocation
    0x00280002: "US",  # SamplesPerPixel
    0x00280004: "CS",  # PhotometricInterpretation
    0x00280006: "US",  # PlanarConfiguration
    0x00280008: "IS",  # NumberOfFrames
    0x00280010: "US",  # Rows
    0x00280011: "US",  # Columns
    0x00280030: "DS",  # PixelSpacing
    0x00280100: "US",  # BitsAllocated
    0x00280101: "US",  # BitsStored
    0x00280102: "US",  # HighBit
    0x00280103: "US",  # PixelRepresentation
    0x00281050: "DS",  # WindowCenter
    0x00281051: "DS",  # WindowWidth
    0x00281052: "DS",  # RescaleIntercept
    0x00281053: "DS",  # RescaleSlope
    0x00281054: "LO",  # RescaleType
    0x00281055: "LO",  # WindowCenterWidthExplanation
    0x00281056: "CS",  # VOILUTFunction
}

# Elements whose presence needs the full pydicom path (LUTs, palettes, functional groups...).
_REFUSED_TAGS = {
    0x00283000,  # ModalityLUTSequence
    0x00283010,  # VOILUTSequence
    0x00281101,  # Red Palette Color LUT Descriptor
    0x00281201,  # Red Palette Color LUT Data
    0x00281221,  # Segmented Red Palette Color LUT Data
    0x52009229,  # SharedFunctionalGroupsSequence
    0x52009230,  # PerFrameFunctionalGroupsSequence
    0x00189087,  # DiffusionBValue (kept simple: pydicom path)
    0x3004000C,  # GridFrameOffsetVector (RT Dose frame positions: pydicom path)
    0x7FE00008,  # Float Pixel Data
    0x7FE00009,  # Double Float Pixel Data
}


class _NeedMore(Exception):
    """The buffer ended inside an element."""


class _Refuse(Exception):
    """The file needs the full pydicom reader."""


def _skip_undefined(buf: bytes, pos: int, explicit: bool) -> int:
    """Skip an undefined-length sequence (or UN) starting at its first item; return the end."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _NeedMore
        group, elem, length = struct.unpack_from("<HHL", buf, pos)
        if group != 0xFFFE:
            raise _Refuse  # malformed: let pydicom decide
        pos += 8
        if elem == 0xE0DD:  # sequence delimiter
            return pos
        if elem != 0xE000:
            raise _Refuse
        if length != _UNDEFINED:
            pos += length
            continue
        pos = _skip_item(buf, pos, explicit)


def _skip_item(buf: bytes, pos: int, explicit: bool) -> int:
    """Skip the elements of an undefined-length item up to and including its delimiter."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise _NeedMore
        group, elem = struct.unpack_from("<HH", buf, pos)
        if group == 0xFFFE and elem == 0xE00D:
            return pos + 8
        pos, _tag, _vr, _start, _length = _element_header(buf, pos, explicit)
        if _length == _UNDEFINED:
            pos = _skip_undefined(buf, pos, explicit)
        else:
            pos += _length


def _element_header(
    buf: bytes, pos: int, explicit: bool
) -> tuple[int, int, bytes | None, int, int]:
    """Parse one element header: ``(value_start, tag, vr, header_start, length)``."""
    if pos + 8 > len(buf):
        raise _NeedMore
    group, elem = struct.unpack_from("<HH", buf, pos)
    tag = (group << 16) | elem
    if group == 0xFFFE:  # item tags are always implicit
        (length,) = struct.unpack_from("<L", buf, pos + 4)
        return pos + 8, tag, None, pos, length
    if explicit:
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(buf):
                raise _NeedMore
            (length,) = struct.unpack_from("<L", buf, pos + 8)
            return pos + 12, tag, vr, pos, length
        if not (vr.isalpha() and vr.isupper()):
            raise _Refuse  # not a VR: probably implicit data despite the syntax
        (length,) = struct.unpack_from("<H", buf, pos + 6)
        return pos + 8, tag, vr, pos, length
    (length,) = struct.unpack_from("<L", buf, pos + 4)
    return pos + 8, tag, None, pos, length


_EXPLICIT_SHORT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHL")
_U32 = struct.Struct("<L")
_SHORT_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT",
    b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
}  # fmt: skip


def _parse(
    buf: bytes, pos: int, explicit: bool
) -> tuple[dict[int, tuple[bytes | None, bytes, int]], int | None]:
    # The hot loop of opening a folder: one struct call per element, no helper calls.
    found: dict[int, tuple[bytes | None, bytes, int]] = {}
    n = len(buf)
    explicit_short, implicit, u32 = _EXPLICIT_SHORT, _IMPLICIT, _U32
    long_vrs, short_vrs, wanted, refused = _LONG_VRS, _SHORT_VRS, WANTED, _REFUSED_TAGS
    while pos + 12 <= n:
        vr: bytes | None
        if explicit:
            group, elem, vr, length = explicit_short.unpack_from(buf, pos)
            if group == 0xFFFE:
                raise _Refuse
            if vr in long_vrs:
                length = u32.unpack_from(buf, pos + 8)[0]
                start = pos + 12
            elif vr in short_vrs:
                start = pos + 8
            else:
                raise _Refuse  # not a VR we know: let pydicom decide
        else:
            group, elem, length = implicit.unpack_from(buf, pos)
            vr = None
            start = pos + 8
        tag = (group << 16) | elem
        if tag == _PIXEL_DATA:
            return found, pos
        if tag > _PIXEL_DATA:
            return found, None
        if tag in refused:
            raise _Refuse
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, start, explicit)
            continue
        end = start + length
        if tag in wanted:
            if end > n:
                raise _NeedMore
            found[tag] = (vr, buf[start:end], start)
        pos = end
    # Fewer than 12 bytes left: finish carefully (a short last element, or more to read).
    return _parse_slow(buf, pos, explicit, found)


def _parse_slow(
    buf: bytes, pos: int, explicit: bool, found: dict[int, tuple[bytes | None, bytes, int]]
) -> tuple[dict[int, tuple[bytes | None, bytes, int]], int | None]:
    n = len(buf)
    while pos < n:
        start, tag, vr, _hdr, length = _element_header(buf, pos, explicit)
        if tag == _PIXEL_DATA:
            return found, pos
        if tag > _PIXEL_DATA:
            return found, None
        if tag in _REFUSED_TAGS:
            raise _Refuse
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, start, explicit)
            continue
        end = start + length
        if tag in WANTED:
            if end > n:
                raise _NeedMore
            found[tag] = (vr, buf[start:end], start)
        pos = end
    raise _NeedMore


def _meta(buf: bytes) -> tuple[dict[int, bytes], int]:
    pos = 132
    meta: dict[int, bytes] = {}
    while pos + 8 <= len(buf):
        group = struct.unpack_from("<H", buf, pos)[0]
        if group != 0x0002:
            return meta, pos
        try:
            start, tag, _vr, _hdr, length = _element_header(buf, pos, True)
        except _NeedMore:  # cut inside the file meta: pydicom reports it properly
            raise _Refuse from None
        if length == _UNDEFINED or start + length > len(buf):
            raise _Refuse
        meta[tag] = buf[start : start + length]
        pos = start + length
    raise _Refuse


# Created once: building BaseTag objects and decoding VRs per element per file adds up.
_TAGS: dict[int, BaseTag] = {tag: BaseTag(tag) for tag in WANTED}
_VR_TEXT: dict[bytes, str] = {vr: vr.decode("ascii") for vr in _LONG_VRS | _SHORT_VRS}
_META_BY_SYNTAX: dict[str, FileMetaDataset] = {}


def _file_meta(syntax: str) -> FileMetaDataset:
    """One shared file meta per transfer syntax (light headers are internal and read-only)."""
    meta = _META_BY_SYNTAX.get(syntax)
    if meta is None:
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = syntax
        _META_BY_SYNTAX[syntax] = meta
    return meta


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\x00 ").decode("ascii", "replace").strip()


def _floats(raw: bytes | None, n: int) -> np.ndarray | None:
    if raw is None:
        return None
    try:
        values = [float(v) for v in raw.rstrip(b"\x00 ").split(b"\\")]
    except ValueError:
        return None
    arr = np.array(values, dtype=np.float64)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        return None
    return arr


def _number(raw: bytes | None, default: float | None = None) -> float | None:
    if raw is None:
        return default
    text = raw.rstrip(b"\x00 ").split(b"\\")[0].strip()
    try:
        return float(text)
    except ValueError:
        return default


def _us(raw: bytes | None, vr: bytes | None) -> int | None:
    if raw is None:
        return None
    if vr is not None and vr != b"US":
        try:
            return int(_text(raw))
        except ValueError:
            return None
    if len(raw) < 2:
        return None
    return struct.unpack_from("<H", raw, 0)[0]


def read_fast(
    path: str | os.PathLike[str], *, order: int = 0
) -> tuple[Dataset, list[FrameRef]] | None:
    """Read a light header and its frame reference, or ``None`` to use pydicom.

    Returns
    -------
    (Dataset, list of FrameRef) or None
        The light header (only :data:`WANTED` elements, raw until accessed, with
        ``file_meta``) and one :class:`FrameRef` (none for files without pixel data).
    """
    try:
        with open(path, "rb") as handle:
            buf = handle.read(_CHUNK)
            if len(buf) < 140 or buf[128:132] != b"DICM":
                return None
            meta, pos = _meta(buf)
            syntax = _text(meta.get(0x00020010, b""))
            sop_class_meta = _text(meta.get(0x00020002, b""))
            if (
                not syntax
                or syntax in _REFUSED_SYNTAXES
                or sop_class_meta == "1.2.840.10008.1.3.10"
            ):
                return None
            explicit = syntax != _IMPLICIT_LE
            while True:
                try:
                    found, pixel_offset = _parse(buf, pos, explicit)
                    break
                except _NeedMore:
                    more = handle.read(max(len(buf), _CHUNK))
                    if not more or len(buf) >= MAX_HEADER:
                        if not more:
                            # End of file inside the header: pydicom reports it properly.
                            return None
                        return None
                    buf += more
    except (_Refuse, _NeedMore, struct.error, OSError):
        return None
    return _build(path, found, pixel_offset, syntax, explicit, order)


#: The top-level elements that tell time points apart, by tag: _frames._classic_temporal's
#: but DiffusionBValue, whose files this reader refuses (_REFUSED_TAGS).
_TEMPORAL = (
    (0x00200100, "TemporalPositionIdentifier"),
    (0x00181060, "TriggerTime"),
    (0x00180086, "EchoNumbers"),
    (0x00200012, "AcquisitionNumber"),
)


def _light_dataset(
    path: str | os.PathLike[str],
    found: dict[int, tuple[bytes | None, bytes, int]],
    pixel_offset: int | None,
    syntax: str,
    explicit: bool,
) -> Dataset:
    """A dataset of the raw elements found, marked light (``Series.dataset()`` reads the rest)."""
    elements: dict[BaseTag, Any] = {}
    implicit = not explicit
    for tag, (vr, value, start) in found.items():
        btag = _TAGS[tag]
        vr_text = None if vr is None else _VR_TEXT.get(vr) or vr.decode("ascii")
        elements[btag] = RawDataElement(btag, vr_text, len(value), value, start, implicit, True)
    ds = Dataset(elements)
    # Plain attribute sets: pydicom's Dataset.__setattr__ checks keywords, too slow per file.
    setattr_ = object.__setattr__
    setattr_(ds, "file_meta", _file_meta(syntax))
    setattr_(ds, "filename", os.fspath(path))
    setattr_(ds, "_dw_pixel_offset", pixel_offset)
    setattr_(ds, "_dw_light", True)  # only the WANTED elements: Series.dataset() reads the rest
    return ds


def _build(
    path: str | os.PathLike[str],
    found: dict[int, tuple[bytes | None, bytes, int]],
    pixel_offset: int | None,
    syntax: str,
    explicit: bool,
    order: int,
) -> tuple[Dataset, list[FrameRef]] | None:
    def raw(tag: int) -> bytes | None:
        item = found.get(tag)
        return None if item is None else item[1]

    frames = _number(raw(0x00280008), 1.0) or 1.0
    if frames > 1:
        return None  # multi-frame: functional groups and per-frame logic live in the pydicom path
    ds = _light_dataset(path, found, pixel_offset, syntax, explicit)
    setattr_ = object.__setattr__  # see _light_dataset
    rows = _us(raw(0x00280010), found.get(0x00280010, (None,))[0])
    cols = _us(raw(0x00280011), found.get(0x00280011, (None,))[0])
    sop_class = _text(raw(0x00080016) or b"")
    series_uid = _text(raw(0x0020000E) or b"")
    setattr_(ds, "_dw_series_uid", series_uid)
    from ._frames import _NON_IMAGE_SOP_PREFIXES

    if not rows or not cols or sop_class.startswith(_NON_IMAGE_SOP_PREFIXES):
        setattr_(ds, "_dw_frames", [])
        return ds, []
    samples = _us(raw(0x00280002), found.get(0x00280002, (None,))[0]) or 1
    bits = _us(raw(0x00280100), found.get(0x00280100, (None,))[0]) or 0
    spacing = _floats(raw(0x00280030), 2)
    if spacing is None:
        spacing = _floats(raw(0x00181164), 2)
    slope = _number(raw(0x00281053), 1.0) or 1.0
    intercept = _number(raw(0x00281052), 0.0) or 0.0
    if not np.isfinite(slope) or slope == 0:
        slope = 1.0
    if not np.isfinite(intercept):
        intercept = 0.0
    instance = _number(raw(0x00200013))
    acq_raw = raw(0x00080032) or raw(0x00080033)
    acq = _seconds(_text(acq_raw)) if acq_raw else None
    temporal = {key: v for tag, key in _TEMPORAL if (v := _number(raw(tag))) is not None}
    if acq is not None:
        temporal["AcquisitionTime"] = acq
    ref = FrameRef(
        path=os.fspath(path),
        header=ds,
        frame=0,
        n_frames=1,
        position=_floats(raw(0x00200032), 3),
        orientation=_floats(raw(0x00200037), 6),
        pixel_spacing=None if spacing is None else (float(spacing[0]), float(spacing[1])),
        slope=float(slope),
        intercept=float(intercept),
        rows=rows,
        cols=cols,
        samples=samples,
        bits_allocated=bits,
        photometric=_text(raw(0x00280004) or b"").upper(),
        instance_number=None if instance is None else int(instance),
        sop_uid=_text(raw(0x00080018) or b""),
        series_uid=series_uid,
        acquisition_seconds=acq,
        temporal=temporal,
        order=order * 100000,
    )
    setattr_(ds, "_dw_frames", [ref])
    return ds, [ref]
