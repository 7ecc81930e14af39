"""Parse ``multipart/related`` answers of WADO-RS (frames, instances) into their parts."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from pydicom.dataset import Dataset

from .._compat import write_dataset
from ..errors import DicomWebResponseError

__all__ = ["Part", "parse_content_type", "split_multipart", "instance_bytes"]


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
    media_type, params = parse_content_type(content_type)
    outer_type = params.get("type", "")
    outer_syntax = params.get("transfer-syntax", "") or _syntax_of(outer_type)
    if not media_type.startswith("multipart/"):
        return [Part(media_type, outer_syntax, body)]
    boundary = params.get("boundary")
    if not boundary:
        raise DicomWebResponseError(f"{where}: multipart answer without a boundary")
    # A delimiter is CRLF + "--" + boundary (RFC 2046); the first may open the body.
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (body if body.startswith(b"\r\n") else b"\r\n" + body).split(delimiter)
    if len(chunks) < 3:
        raise DicomWebResponseError(f"{where}: multipart answer without any complete part")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        chunk = chunk[chunk.find(b"\r\n") + 2 :] if b"\r\n" in chunk else chunk
        if chunk.startswith(b"\r\n"):  # a part without headers
            head, sep, content = b"", b"\r\n", chunk[2:]
        else:
            head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise DicomWebResponseError(f"{where}: a multipart part has no header block")
        headers = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        part_type = headers.get("content-type", outer_type or "application/octet-stream")
        part_media, _ = parse_content_type(part_type)
        parts.append(Part(part_media, _syntax_of(part_type) or outer_syntax, content))
    if not parts:
        raise DicomWebResponseError(f"{where}: multipart answer with no parts")
    return parts


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
