"""Parse ``multipart/related`` answers of WADO-RS (frames, instances) into their parts."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from pydicom.dataset import Dataset

from .._compat import write_dataset
from ..errors import DicomWebResponseError

__all__ = ["Part", "parse_content_type", "split_multipart", "iter_parts", "instance_bytes"]


@dataclass(frozen=True)
class Part:
    """One body part: its media type, its transfer syntax parameter (if any) and its bytes."""

    media_type: str
    transfer_syntax: str
    content: bytes


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Media type (lower case) and parameters of a Content-Type header.

    Examples
    --------
    >>> parse_content_type('multipart/related; type="application/octet-stream"; boundary=x')
    ('multipart/related', {'type': 'application/octet-stream', 'boundary': 'x'})
    """
    message = Message()
    message["Content-Type"] = value or "application/octet-stream"
    params = {k.lower(): v for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params


def _syntax_of(media_type_with_params: str) -> str:
    # The transfer syntax is a parameter of the part's type, and Orthanc nests it inside the
    # multipart's quoted type=... ("application/octet-stream; transfer-syntax=1.2.840...").
    _, params = parse_content_type(media_type_with_params)
    return params.get("transfer-syntax", "")


def split_multipart(body: bytes, content_type: str, *, where: str = "answer") -> list[Part]:
    """The parts of a ``multipart/related`` body (a single-part answer gives one part).

    Parameters
    ----------
    body : bytes
        The whole answer.
    content_type : str
        Its Content-Type header (gives the boundary, and the type of the parts).
    where : str
        What the answer is, for messages.

    Raises
    ------
    DicomWebResponseError
        When the body does not follow its declared boundary.

    Examples
    --------
    >>> body = b"--b\\r\\nContent-Type: application/octet-stream\\r\\n\\r\\nabc\\r\\n--b--"
    >>> split_multipart(body, "multipart/related; boundary=b")[0].content
    b'abc'
    """
    layout = _Layout(content_type, where)
    if layout.delimiter is None:
        return [Part(layout.media_type, layout.syntax, body)]
    chunks = (body if body.startswith(b"\r\n") else b"\r\n" + body).split(layout.delimiter)
    if len(chunks) < 3:
        raise DicomWebResponseError(f"{where}: multipart answer without any complete part")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        part = layout.part(chunk)
        if part is None:
            break  # the closing delimiter
        parts.append(part)
    if not parts:
        raise DicomWebResponseError(f"{where}: multipart answer with no parts")
    return parts


def iter_parts(
    chunks: Iterable[bytes], content_type: str, *, where: str, max_part_bytes: int
) -> Iterator[Part]:
    """The parts of a ``multipart/related`` answer, each as soon as it has arrived.

    For a long answer (a whole series' instances): only the part being received is held.

    Raises
    ------
    DicomWebResponseError
        When the answer is not multipart, or a part is over ``max_part_bytes``.

    Examples
    --------
    >>> body = b"--b\\r\\n\\r\\none\\r\\n--b\\r\\n\\r\\ntwo\\r\\n--b--"
    >>> [p.content for p in iter_parts([body[:9], body[9:]], "multipart/related; boundary=b",
    ...                                where="x", max_part_bytes=100)]
    [b'one', b'two']
    """
    layout = _Layout(content_type, where)
    delimiter = layout.delimiter
    if delimiter is None:
        raise DicomWebResponseError(f"{where}: the answer is {layout.media_type}, not multipart")
    buffer = bytearray(b"\r\n")  # the first delimiter may open the body
    opened = False
    searched = 0
    for chunk in chunks:
        buffer += chunk
        while (at := buffer.find(delimiter, searched)) >= 0:
            part = layout.part(buffer, at) if opened else None
            if opened and part is None:
                return
            del buffer[: at + len(delimiter)]
            searched = 0
            if part is not None:
                yield part
            opened = True
        if buffer.startswith(b"--") and opened:
            return  # the closing delimiter
        if len(buffer) > max_part_bytes:
            raise DicomWebResponseError(
                f"{where}: a part of the answer is larger than the limit of "
                f"{max_part_bytes:,} bytes"
            )
        searched = max(0, len(buffer) - len(delimiter))


class _Layout:
    """The boundary and default types of a multipart answer, and how to cut its parts."""

    def __init__(self, content_type: str, where: str) -> None:
        self.media_type, params = parse_content_type(content_type)
        self.outer_type = params.get("type", "")
        self.syntax = params.get("transfer-syntax", "") or _syntax_of(self.outer_type)
        self.where = where
        self.delimiter: bytes | None = None
        if self.media_type.startswith("multipart/"):
            boundary = params.get("boundary")
            if not boundary:
                raise DicomWebResponseError(f"{where}: multipart answer without a boundary")
            # A delimiter is CRLF + "--" + boundary (RFC 2046).
            self.delimiter = b"\r\n--" + boundary.encode("latin-1")

    def part(self, data: bytes | bytearray, end: int | None = None) -> Part | None:
        """The part in ``data[:end]``, just after a delimiter (``None`` after the closing one).

        The content is copied once, whatever ``data`` is (a part of a long stream).
        """
        end = len(data) if end is None else end
        if data.startswith(b"--", 0, end):
            return None
        first = data.find(b"\r\n", 0, end)  # the rest of the delimiter's line
        begin = first + 2 if first >= 0 else 0
        if data.startswith(b"\r\n", begin, end):  # a part without headers
            head, content_start = b"", begin + 2
        else:
            head_end = data.find(b"\r\n\r\n", begin, end)
            if head_end < 0:
                raise DicomWebResponseError(f"{self.where}: a multipart part has no header block")
            head, content_start = bytes(data[begin:head_end]), head_end + 4
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        part_type = headers.get("content-type", self.outer_type or "application/octet-stream")
        part_media, _ = parse_content_type(part_type)
        with memoryview(data) as view:
            content = bytes(view[content_start:end])
        return Part(part_media, _syntax_of(part_type) or self.syntax, content)


def instance_bytes(item: Dataset | str | os.PathLike[str]) -> bytes:
    """The bytes of a DICOM instance to send: a dataset encoded as a file, or a file's bytes.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> instance_bytes(ct_phantom(n_slices=1, size=8)[0])[128:132]
    b'DICM'
    """
    if isinstance(item, Dataset):
        buffer = io.BytesIO()
        write_dataset(item, buffer)
        return buffer.getvalue()
    return Path(item).read_bytes()
