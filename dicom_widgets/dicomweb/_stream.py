"""Prefetch a whole DICOMweb series with one request: its instances, parsed as they arrive.

Per-frame requests cost the server a file parse and the client an HTTP round trip each;
one WADO-RS series request (``multipart/related; type="application/dicom"``) sends every
instance as stored, back to back. :class:`SeriesStream` reads that answer in a background
thread, cuts it into instances as they arrive (only the one being received is held) and
hands each to a callback, which decodes its frame into the series' bounded cache. It stops
at the first problem (broken answer, part over the size bound, closed by the series): the
frames it did not bring are fetched one by one as before.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable

import numpy as np

from .._compat import as_text, safe_get
from ..errors import DicomWebError
from ..series import FrameRef, _fastheader
from ._frames import INSTANCE_ACCEPT
from ._multipart import iter_parts
from ._session import DicomWebSession

__all__ = ["SeriesStream", "instance_frame", "disagreement"]

_CHUNK = 1 << 20


class SeriesStream:
    """Every instance of one series, from one WADO-RS request, handed to ``deliver``.

    Parameters
    ----------
    session : DicomWebSession
        Bound to the server's origin.
    path : str
        The series' WADO-RS path (``studies/{study}/series/{series}``).
    deliver : callable
        Called in the stream's thread with the bytes of each instance (a DICOM file).
    max_part_bytes : int
        The largest instance accepted; a larger one ends the stream.

    Attributes
    ----------
    delivered : int
        Instances handed over so far.
    error : str or None
        Why the stream ended early (a message without secrets), if it did.

    Examples
    --------
    >>> stream = SeriesStream(session, "studies/1.2/series/1.2.3", print, max_part_bytes=2**30)  # doctest: +SKIP
    >>> stream.start().wait(); stream.delivered  # doctest: +SKIP
    300
    """

    def __init__(
        self,
        session: DicomWebSession,
        path: str,
        deliver: Callable[[bytes], None],
        *,
        max_part_bytes: int,
    ) -> None:
        self.session = session
        self.path = path
        self.deliver = deliver
        self.max_part_bytes = int(max_part_bytes)
        self.delivered = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._response_lock = threading.Lock()
        self._response: object | None = None
        self._thread = threading.Thread(target=self._run, name="dicomweb-series", daemon=True)

    @property
    def running(self) -> bool:
        """Whether the stream has started and not ended yet."""
        return self._thread.is_alive() and not self._done.is_set()

    def start(self) -> SeriesStream:
        """Start reading in a background thread."""
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream has ended; whether it has."""
        return self._done.wait(timeout)

    def close(self) -> None:
        """Stop reading (the connection is closed) and wait briefly for the thread."""
        self._stop.set()
        with self._response_lock:
            response = self._response
        if response is not None:
            response.close()  # type: ignore[attr-defined]
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        where = self.session.shown(self.session.url(self.path))
        try:
            response = self.session.request(
                "GET",
                self.path,
                accept=INSTANCE_ACCEPT,
                what="the instances of the series",
                pixels=True,
                stream=True,
            )
            with self._response_lock:
                self._response = response
            try:
                parts = iter_parts(
                    response.iter_content(_CHUNK),
                    response.headers.get("Content-Type", ""),
                    where=where,
                    max_part_bytes=self.max_part_bytes,
                )
                for part in parts:
                    if self._stop.is_set():
                        break
                    if part.media_type == "application/dicom":
                        self.deliver(part.content)
                        self.delivered += 1
            finally:
                response.close()
        except DicomWebError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken stream only ends the prefetch
            if not self._stop.is_set():
                self.error = f"{where}: {type(exc).__name__}: {self.session.redact(exc)}"
        finally:
            self._done.set()


# Besides the FrameRef's own fields, these must agree for the pixels to read the same.
_PIXEL_KEYWORDS = ("BitsStored", "PixelRepresentation", "PlanarConfiguration")
_NATIVE_LITTLE = frozenset({"1.2.840.10008.1.2.1", "1.2.840.10008.1.2"})


def instance_frame(content: bytes) -> tuple[FrameRef, memoryview] | None:
    """The frame reference and pixel bytes of a streamed single-frame native instance.

    Read by the same fast header reader as a local file (:mod:`dicom_widgets.series._fastheader`),
    so the instance is described exactly as it would be from disk. ``None`` for anything that
    reader leaves to pydicom, and for compressed pixel data: those frames are fetched alone.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.dicomweb._multipart import instance_bytes
    >>> ref, pixels = instance_frame(instance_bytes(ct_phantom(n_slices=1, size=8)[0]))
    >>> ref.rows, len(pixels)
    (8, 128)
    """
    if len(content) < 140 or content[128:132] != b"DICM":
        return None
    try:
        meta, pos = _fastheader._meta(content)
        syntax = _fastheader._text(meta.get(0x00020010, b""))
        if syntax not in _NATIVE_LITTLE:
            return None
        explicit = syntax != "1.2.840.10008.1.2"
        found, at = _fastheader._parse(content, pos, explicit)
        if at is None:
            return None
        start, _tag, _vr, _head, length = _fastheader._element_header(content, at, explicit)
    except (_fastheader._Refuse, _fastheader._NeedMore, struct.error):
        return None
    if length == 0xFFFFFFFF or start + length > len(content):
        return None
    built = _fastheader._build("", found, at, syntax, explicit, 0)
    if built is None or not built[1]:
        return None
    return built[1][0], memoryview(content)[start : start + length]


def disagreement(ref: FrameRef, other: FrameRef) -> str:
    """What ``other`` (a streamed instance) says differently from ``ref`` (the metadata).

    Compared: the pixel module, position, orientation and rescale (numbers within 1e-4);
    ``""`` when they agree.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.series._frames import frames_from_header
    >>> ds = ct_phantom(n_slices=1, size=8)[0]
    >>> ref = next(frames_from_header(ds, None))
    >>> disagreement(ref, ref)
    ''
    >>> ds.RescaleSlope = 2
    >>> disagreement(ref, next(frames_from_header(ds, None)))
    'slope 2 (metadata 1)'
    """
    out = []
    for name in ("rows", "cols", "samples", "bits_allocated", "photometric", "slope", "intercept"):
        mine, theirs = getattr(ref, name), getattr(other, name)
        if isinstance(mine, float) and abs(mine - float(theirs)) <= 1e-4:
            continue
        if mine != theirs:
            out.append(
                f"{name} {theirs:{'g' if isinstance(theirs, float) else ''}} "
                f"(metadata {mine:{'g' if isinstance(mine, float) else ''}})"
            )
    for name in ("position", "orientation"):
        mine, theirs = getattr(ref, name), getattr(other, name)
        if (mine is None) != (theirs is None) or (
            mine is not None and float(np.max(np.abs(mine - theirs))) > 1e-4
        ):
            out.append(f"{name} {_shown(theirs)} (metadata {_shown(mine)})")
    for keyword in _PIXEL_KEYWORDS:
        mine, theirs = (
            as_text(safe_get(ref.header, keyword)),
            as_text(safe_get(other.header, keyword)),
        )
        if mine != theirs:
            out.append(f"{keyword} {theirs!r} (metadata {mine!r})")
    return "; ".join(out)


def _shown(values: np.ndarray | None) -> str:
    return "none" if values is None else " ".join(f"{v:g}" for v in values)
