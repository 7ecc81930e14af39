"""Read one frame of native (uncompressed) multi-frame pixel data straight from the file.

A frame of an uncompressed multi-frame file is a fixed-size slice of the Pixel Data
value: seeking to it reads a few hundred kilobytes instead of re-parsing the header
(functional groups can be thousands of elements) or loading every frame.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from .._compat import as_text, safe_get
from ._frames import LITTLE_ENDIAN_NATIVE, FrameRef, native_pixel_extent

__all__ = ["read_native_frame"]


def _int(ds: Dataset, keyword: str, default: int) -> int:
    try:
        return int(safe_get(ds, keyword, default))
    except (TypeError, ValueError):
        return default


def read_native_frame(ref: FrameRef) -> np.ndarray | None:
    """Frame ``ref.frame`` of a little-endian native file, or ``None`` to use pydicom.

    Only the simple, unambiguous layouts are read here (8/16/32-bit, no 4:2:2, no
    signed data narrower than its container); anything else returns ``None``.
    """
    ds = ref.header
    offset = getattr(ds, "_dw_pixel_offset", None)
    if ref.path is None or not isinstance(offset, int):
        return None
    syntax = as_text(safe_get(getattr(ds, "file_meta", None), "TransferSyntaxUID"))
    bits = ref.bits_allocated
    if syntax not in LITTLE_ENDIAN_NATIVE or bits not in (8, 16, 32):
        return None
    if ref.photometric == "YBR_FULL_422" or not (ref.rows and ref.cols):
        return None
    signed = _int(ds, "PixelRepresentation", 0) == 1
    if signed and _int(ds, "BitsStored", bits) != bits:
        return None  # pydicom sign-extends these; let it
    frame_bytes = ref.rows * ref.cols * ref.samples * bits // 8
    extent = native_pixel_extent(ref.path, offset)
    if extent is None or (ref.frame + 1) * frame_bytes > extent[1]:
        return None  # encapsulated or truncated: pydicom explains it better
    with open(ref.path, "rb") as handle:
        handle.seek(extent[0] + ref.frame * frame_bytes)
        buf = handle.read(frame_bytes)
    if len(buf) != frame_bytes:
        return None
    arr = np.frombuffer(buf, dtype=np.dtype(f"<{'i' if signed else 'u'}{bits // 8}"))
    if ref.samples == 1:
        return arr.reshape(ref.rows, ref.cols)
    if _int(ds, "PlanarConfiguration", 0) == 1:
        return arr.reshape(ref.samples, ref.rows, ref.cols).transpose(1, 2, 0)
    return arr.reshape(ref.rows, ref.cols, ref.samples)
