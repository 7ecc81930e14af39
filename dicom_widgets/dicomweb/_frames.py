"""Frames of a DICOMweb series, fetched on demand (WADO-RS frames) and decoded locally.

:class:`RemoteFrameReader` is the ``frame_reader`` of a :class:`~dicom_widgets.series.Series`
built from WADO-RS metadata: the series keeps its bounded cache, prefetch and findings;
this reader only turns a :class:`~dicom_widgets.series.FrameRef` into stored values.

- It asks for ``transfer-syntax=*`` (the stored encoding: no transcoding on the server) and
  decodes what comes with pydicom (native data directly, compressed data with the installed
  decoders). When the local decoders cannot decode it, it asks once more for Explicit VR
  Little Endian, which the server transcodes, and keeps doing so for that series.
- A server that does not serve frames (4xx on the frames resource) is asked for whole
  instances instead (WADO-RS instance, ``application/dicom``); a multi-frame instance is kept
  for its next frames.
- Two threads asking for the same frame share one request.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from concurrent.futures import Future

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset

from .. import _compat
from ..errors import (
    DicomWebAuthError,
    DicomWebConnectionError,
    DicomWebError,
    DicomWebResponseError,
)
from ..series import FrameRef
from ._multipart import split_multipart
from ._session import DicomWebSession

__all__ = ["RemoteFrameReader", "FRAME_ACCEPT", "NATIVE_FRAME_ACCEPT", "INSTANCE_ACCEPT"]

EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
IMPLICIT_LITTLE = "1.2.840.10008.1.2"
#: The stored encoding of the frame, whatever it is (Orthanc needs an explicit media type).
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
#: Uncompressed frames, transcoded by the server when stored compressed.
NATIVE_FRAME_ACCEPT = (
    f'multipart/related; type="application/octet-stream"; transfer-syntax={EXPLICIT_LITTLE}'
)
#: Whole instances in their stored encoding.
INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'

# Media types of compressed frames (PS3.18 Table 8.7.3-2) -> their usual transfer syntax,
# for servers that give the type without a transfer-syntax parameter.
_MEDIA_SYNTAX = {
    "image/jpeg": "1.2.840.10008.1.2.4.50",
    "image/jls": "1.2.840.10008.1.2.4.80",
    "image/jp2": "1.2.840.10008.1.2.4.90",
    "image/jpx": "1.2.840.10008.1.2.4.92",
    "image/dicom-rle": "1.2.840.10008.1.2.5",
    "image/x-dicom-rle": "1.2.840.10008.1.2.5",
}
# The elements that say how to read pixel values: copied into the small dataset decoded.
_PIXEL_MODULE = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PhotometricInterpretation",
    "PlanarConfiguration",
)
# HTTP statuses of a frame request that mean "no frames here" (bad request, no such
# resource, method or media type not served, not implemented) rather than "not allowed".
_NO_FRAMES_STATUSES = frozenset({400, 404, 405, 406, 415, 501})
# Media types of an answer that can hold a frame.
_FRAME_MEDIA = frozenset({"application/octet-stream", *_MEDIA_SYNTAX})


class _NotFrames(DicomWebResponseError):
    """The server answered a frame request with something else (an HTML page, JSON...)."""


class RemoteFrameReader:
    """Reads frames of one DICOMweb series through a :class:`DicomWebSession`.

    Parameters
    ----------
    session : DicomWebSession
        Bound to the server's origin.
    study_uid, series_uid : str
        The series.
    prefer_native : bool
        Ask the server for uncompressed frames from the start (it transcodes).

    Attributes
    ----------
    frames_supported : bool
        False once the server answered a frame request with "not supported" (then whole
        instances are fetched).
    notes : list of str
        What the reader had to work around (for the series' findings).

    Examples
    --------
    >>> reader = RemoteFrameReader(session, study, series)  # doctest: +SKIP
    >>> reader(series.frame_ref(0)).shape  # doctest: +SKIP
    (512, 512)
    """

    def __init__(
        self,
        session: DicomWebSession,
        study_uid: str,
        series_uid: str,
        *,
        prefer_native: bool = False,
    ) -> None:
        self.session = session
        self.study_uid = study_uid
        self.series_uid = series_uid
        self.prefer_native = prefer_native
        self.frames_supported = True
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, int], Future[np.ndarray]] = {}
        self._instances: OrderedDict[str, Dataset] = OrderedDict()
        self._offered: dict[tuple[str, int], np.ndarray] = {}

    def instance_path(self, sop_uid: str) -> str:
        """The WADO-RS path of an instance of this series."""
        return f"studies/{self.study_uid}/series/{self.series_uid}/instances/{sop_uid}"

    def offer(self, ref: FrameRef, values: np.ndarray) -> None:
        """Stored values of ``ref``'s frame that arrived otherwise (a series stream): the
        next call for it returns them without a request."""
        with self._lock:
            self._offered[(ref.sop_uid, ref.frame)] = values

    def __call__(self, ref: FrameRef) -> np.ndarray:
        """Stored values of ``ref``'s frame (one request, shared with concurrent callers)."""
        key = (ref.sop_uid, ref.frame)
        with self._lock:
            offered = self._offered.pop(key, None)
            if offered is not None:
                return offered
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = Future()
                self._inflight[key] = future
        assert future is not None
        if not owner:
            return future.result()
        try:
            arr = self._read(ref)
        except BaseException as exc:  # whatever stops this read, the waiters on it hear it too
            future.set_exception(exc)
            raise
        else:
            future.set_result(arr)
            return arr
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    # ------------------------------------------------------------------ frames
    def _read(self, ref: FrameRef) -> np.ndarray:
        if not self.frames_supported:
            return self._from_instance(ref)
        try:
            return self._from_frames(ref, NATIVE_FRAME_ACCEPT if self.prefer_native else None)
        except (DicomWebAuthError, DicomWebConnectionError):
            raise
        except DicomWebError as exc:
            if not isinstance(exc, _NotFrames) and exc.status not in _NO_FRAMES_STATUSES:
                raise
            self._note(
                "the server does not serve single frames (WADO-RS frames answered: "
                f"{exc}); whole instances are fetched instead"
            )
            self.frames_supported = False
            return self._from_instance(ref)

    def _from_frames(self, ref: FrameRef, accept: str | None) -> np.ndarray:
        path = f"{self.instance_path(ref.sop_uid)}/frames/{ref.frame + 1}"
        what = f"frame {ref.frame + 1} of instance {ref.sop_uid}"
        response = self.session.request(
            "GET",
            path,
            accept=accept or FRAME_ACCEPT,
            what=what,
            pixels=True,
            max_bytes=2 * _frame_bytes(ref) + (1 << 20),  # compressed frames are smaller
        )
        where = self.session.shown(self.session.url(path))
        parts = split_multipart(
            response.content, response.headers.get("Content-Type", ""), where=where
        )
        part = parts[0]
        if part.media_type == "application/dicom":  # the whole instance instead of a frame
            return _compat.decode_frame(_parse_instance(part.content, where), ref.frame)
        if part.media_type not in _FRAME_MEDIA:
            raise _NotFrames(f"{where}: the answer for {what} is {part.media_type}, not a frame")
        syntax = part.transfer_syntax or _MEDIA_SYNTAX.get(part.media_type, EXPLICIT_LITTLE)
        try:
            return decode_frame_bytes(ref.header, part.content, syntax)
        except Exception:  # any decoder failure (each has its own types): the server may transcode
            if accept is not None or syntax in (EXPLICIT_LITTLE, IMPLICIT_LITTLE):
                raise
            # No local decoder for the stored encoding: let the server transcode from now on.
            self.prefer_native = True
            self._note(
                f"frames stored as {_syntax_name(syntax)} cannot be decoded here; they are "
                "asked for uncompressed (the server transcodes)"
            )
            return self._from_frames(ref, NATIVE_FRAME_ACCEPT)

    def _from_instance(self, ref: FrameRef) -> np.ndarray:
        ds = self.instance(ref.sop_uid)
        return _compat.decode_frame(ds, ref.frame)

    def instance(self, sop_uid: str) -> Dataset:
        """The whole instance (pixel data included), as stored; the last two are kept."""
        with self._lock:
            cached = self._instances.get(sop_uid)
        if cached is not None:
            return cached
        ds = fetch_instance(self.session, self.instance_path(sop_uid), sop_uid)
        with self._lock:
            self._instances[sop_uid] = ds
            while len(self._instances) > 2:
                self._instances.popitem(last=False)
        return ds

    def _note(self, text: str) -> None:
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)


def fetch_instance(session: DicomWebSession, path: str, sop_uid: str) -> Dataset:
    """GET one instance with WADO-RS (``application/dicom``) and parse it.

    Raises
    ------
    DicomWebResponseError
        When the answer is not a DICOM file.
    """
    response = session.request(
        "GET", path, accept=INSTANCE_ACCEPT, what=f"instance {sop_uid}", pixels=True
    )
    where = session.shown(session.url(path))
    parts = split_multipart(response.content, response.headers.get("Content-Type", ""), where=where)
    return _parse_instance(parts[0].content, where)


def _parse_instance(content: bytes, where: str) -> Dataset:
    """A DICOM instance from the bytes of an answer's part."""
    try:
        ds = pydicom.dcmread(io.BytesIO(content), force=True)
    except Exception as exc:  # noqa: BLE001 - a broken answer is the server's fault: say so
        raise DicomWebResponseError(f"{where}: the answer is not a DICOM instance: {exc}") from None
    _compat.ensure_transfer_syntax(ds)
    ds.filename = None  # read from memory: no file behind it (copies would warn about it)
    return ds


def _frame_bytes(ref: FrameRef) -> int:
    """Bytes of one uncompressed frame as ``ref``'s header describes it."""
    bits = max(int(ref.bits_allocated or 16), 1)
    return (int(ref.rows) * int(ref.cols) * max(int(ref.samples), 1) * bits + 7) // 8


def decode_frame_bytes(header: Dataset, content: bytes | memoryview, syntax: str) -> np.ndarray:
    """Stored values of one frame's bytes in ``syntax``, read as ``header`` describes.

    Native 8/16/32-bit single-sample frames are viewed directly; everything else
    (colour, planar, 1-bit, compressed) goes through pydicom's decoders on a small dataset
    made of the header's pixel module, so the result matches decoding the file.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> header = Dataset()
    >>> header.Rows, header.Columns, header.BitsAllocated, header.PixelRepresentation = 2, 2, 16, 1
    >>> decode_frame_bytes(header, np.arange(4, dtype="<i2").tobytes(), EXPLICIT_LITTLE).tolist()
    [[0, 1], [2, 3]]
    """
    rows, cols = int(header.Rows), int(header.Columns)
    samples = int(header.get("SamplesPerPixel", 1) or 1)
    bits = int(header.get("BitsAllocated", 0) or 0)
    signed = int(header.get("PixelRepresentation", 0) or 0) == 1
    try:
        bits_stored = int(header.get("BitsStored", bits) or bits)
    except (TypeError, ValueError):
        bits_stored = bits
    # Like the local native reader: pydicom sign-extends narrow signed data; let it do that.
    simple = samples == 1 and bits in (8, 16, 32) and (not signed or bits_stored == bits)
    if syntax in (EXPLICIT_LITTLE, IMPLICIT_LITTLE) and simple:
        dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
        needed = rows * cols * dtype.itemsize
        if len(content) < needed:
            raise ValueError(
                f"the frame has {len(content)} bytes, the header's {rows}x{cols}x{bits} bits "
                f"need {needed}"
            )
        return np.frombuffer(content, dtype=dtype, count=rows * cols).reshape(rows, cols)
    ds = Dataset()
    for keyword in _PIXEL_MODULE:
        if keyword in header:
            setattr(ds, keyword, header.get(keyword))
    ds.NumberOfFrames = 1
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    if syntax in (EXPLICIT_LITTLE, IMPLICIT_LITTLE):
        ds.PixelData = bytes(content)
    else:
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([bytes(content)])
        ds["PixelData"].is_undefined_length = True
    ds["PixelData"].VR = "OW" if bits > 8 and syntax in (EXPLICIT_LITTLE, IMPLICIT_LITTLE) else "OB"
    if not _compat.IS_PYDICOM3:  # 2.4 reads the byte order from the dataset, 3.x from the syntax
        ds.is_little_endian, ds.is_implicit_VR = True, syntax == IMPLICIT_LITTLE
    arr = _compat.decode_frame(ds, 0)
    return np.asarray(arr)


def _syntax_name(syntax: str) -> str:
    try:
        from pydicom.uid import UID

        return UID(syntax).name or syntax
    except Exception:  # noqa: BLE001
        return syntax
