"""A fast reader of a SEG's Per-frame Functional Groups: the few values placement needs.

A 100-segment SEG has thousands of frames, and pydicom builds a Dataset for every item
of every nested sequence before a value can be read (about a millisecond per frame).
Placement needs three things per frame: Image Position (Patient), Referenced Segment
Number and the source image references. This module walks the sequence's bytes
(explicit VR little endian, the encoding of nearly every SEG) with ``struct`` and picks
those out; anything else returns ``None`` and the caller reads the items with pydicom.
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = ["read_per_frame"]

_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_POSITION = 0x00200032  # in Plane Position Sequence (0020,9113)
_SEGMENT = 0x0062000B  # in Segment Identification Sequence (0062,000A)
_SOP = 0x00081155  # in Source Image Sequence (0008,2112)
_FRAME_NUMBER = 0x00081160
_CONTEXT = {
    _POSITION: 0x00209113,
    _SEGMENT: 0x0062000A,
    _SOP: 0x00082112,
    _FRAME_NUMBER: 0x00082112,
}
_SOURCE_IMAGES = 0x00082112


class _Unsupported(Exception):
    pass


def _walk(buf: bytes, pos: int, end: int, context: int, frame: dict, in_sequence: bool) -> int:
    """Walk elements from ``pos`` to ``end`` (or a delimiter); fill ``frame``; return the end."""
    unpack = struct.unpack_from
    while pos + 8 <= end:
        group, element = unpack("<HH", buf, pos)
        tag = (group << 16) | element
        if group == 0xFFFE:
            (length,) = unpack("<I", buf, pos + 4)
            pos += 8
            if tag == _ITEM:
                if context == _SOURCE_IMAGES:
                    frame["refs"].append(["", 1])
                stop = end if length == _UNDEFINED else pos + length
                after = _walk(buf, pos, stop, context, frame, False)
                pos = after if length == _UNDEFINED else stop
                continue
            if tag == _ITEM_END and not in_sequence:
                return pos
            if tag == _SEQ_END and in_sequence:
                return pos
            raise _Unsupported(f"unexpected delimiter {tag:08X}")
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            (length,) = unpack("<I", buf, pos + 8)
            pos += 12
        elif vr.isalpha() and vr.isupper():
            (length,) = unpack("<H", buf, pos + 6)
            pos += 8
        else:
            raise _Unsupported("not explicit VR")
        if vr == b"SQ":
            stop = end if length == _UNDEFINED else pos + length
            after = _walk(buf, pos, stop, tag, frame, True)
            pos = after if length == _UNDEFINED else stop
            continue
        if length == _UNDEFINED:
            raise _Unsupported("undefined length value")
        if tag in _CONTEXT and _CONTEXT[tag] == context:
            value = buf[pos : pos + length]
            if tag == _POSITION:
                frame["position"] = value
            elif tag == _SEGMENT and length >= 2:
                frame["segment"] = unpack("<H", value)[0]
            elif tag == _SOP and frame["refs"]:
                frame["refs"][-1][0] = value.rstrip(b"\0 ").decode("ascii", "replace")
            elif tag == _FRAME_NUMBER and frame["refs"]:
                frame["refs"][-1][1] = value
        pos += length
    return pos


def _position(value: bytes | None) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.array([float(v) for v in value.decode("ascii").strip("\0 ").split("\\")], float)
    except (UnicodeDecodeError, ValueError):
        return None
    return arr if arr.shape == (3,) and np.all(np.isfinite(arr)) else None


def _frame_numbers(value: object) -> list[int]:
    if isinstance(value, int):
        return [value]
    try:
        text = bytes(value).decode("ascii").strip("\0 ")  # type: ignore[call-overload]
        return [int(v) for v in text.split("\\") if v.strip()] or [1]
    except (TypeError, ValueError, UnicodeDecodeError):
        return [1]


def read_per_frame(
    buf: bytes, n_frames: int
) -> list[tuple[int | None, np.ndarray | None, list[tuple[str, int]]]] | None:
    """(segment number, position, [(SOP instance, 0-based frame)]) of each frame, or None.

    ``buf`` is the value of Per-frame Functional Groups Sequence, explicit VR little
    endian. ``None`` means "not understood here": read the items with pydicom instead.
    """
    frames: list[tuple[int | None, np.ndarray | None, list[tuple[str, int]]]] = []
    pos = 0
    end = len(buf)
    unpack = struct.unpack_from
    try:
        while pos + 8 <= end and len(frames) < n_frames:
            group, element = unpack("<HH", buf, pos)
            tag = (group << 16) | element
            (length,) = unpack("<I", buf, pos + 4)
            pos += 8
            if tag == _SEQ_END:
                break
            if tag != _ITEM:
                return None
            frame: dict = {"position": None, "segment": None, "refs": []}
            stop = end if length == _UNDEFINED else pos + length
            after = _walk(buf, pos, stop, 0, frame, False)
            pos = after if length == _UNDEFINED else stop
            refs = []
            for uid, numbers in frame["refs"]:
                if uid:
                    refs.extend((uid, max(0, n - 1)) for n in _frame_numbers(numbers))
            frames.append((frame["segment"], _position(frame["position"]), refs))
    except (_Unsupported, struct.error):
        return None
    return frames if len(frames) == n_frames else None
