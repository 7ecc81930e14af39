"""A tiny scripted HTTP server on 127.0.0.1 for DICOMweb failure modes Orthanc will not produce.

It plays a hostile or broken server (BulkDataURIs at another origin, redirects, 5xx, slow
answers, bad JSON) and records every request it receives, headers included, so tests can
prove where credentials went. It is a real socket server (``http.server``), not a mock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]
Route = Callable[["Received"], Answer]


@dataclass
class Received:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class FakeServer:
    """Serve ``routes`` (path prefix -> function of the request) on a free port of 127.0.0.1.

    The longest matching prefix wins; unknown paths get 404. ``received`` lists every request.
    """

    routes: dict[str, Route] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Received(self.command, self.path, dict(self.headers.items()), body)
                owner.received.append(request)
                matches = [p for p in owner.routes if self.path.startswith(p)]
                if owner.delay:
                    time.sleep(owner.delay)
                if matches:
                    status, headers, payload = owner.routes[max(matches, key=len)](request)
                else:
                    status, headers, payload = 404, {}, b'{"error": "not found"}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's naming

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def json_answer(body: bytes, status: int = 200) -> Answer:
    """A DICOM JSON answer."""
    return status, {"Content-Type": "application/dicom+json"}, body


def multipart_answer(content: bytes, part_type: str) -> Answer:
    """A one-part ``multipart/related`` answer."""
    boundary = "fake-boundary-1234"
    body = (
        f"--{boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    outer = part_type.split(";")[0]
    return (
        200,
        {"Content-Type": f'multipart/related; type="{outer}"; boundary={boundary}'},
        body,
    )
