"""Start a throw-away local Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``) for demos and tests.

The notebook, the tests and the benchmark all need a real DICOMweb server on this machine:
this module starts one on free ports, with its configuration and storage in a temporary
folder, reachable only from 127.0.0.1 (``RemoteAccessAllowed: false``; Orthanc 1.10 has no
bind-address option), optionally with basic authentication, and stops it by its own process
group id. It is a subprocess launcher, nothing more: no Jupyter, no network beyond 127.0.0.1.

Examples
--------
>>> from dicom_widgets.dicomweb.local_orthanc import LocalOrthanc, orthanc_available
>>> if orthanc_available():  # doctest: +SKIP
...     with LocalOrthanc(credentials=("user", "secret")) as server:
...         print(server.dicomweb_url)
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset

from .._process import stop_process_group
from ..errors import DicomWebError
from ._multipart import instance_bytes

__all__ = ["LocalOrthanc", "orthanc_available", "ORTHANC_BINARY", "DICOMWEB_PLUGIN"]

#: Where Debian installs the server and its plugins.
ORTHANC_BINARY = "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
GDCM_PLUGIN = "/usr/share/orthanc/plugins/libOrthancGdcm.so"


def _orthanc_binary() -> str | None:
    found = shutil.which("Orthanc")
    if found:
        return found
    return ORTHANC_BINARY if os.access(ORTHANC_BINARY, os.X_OK) else None


def orthanc_available() -> bool:
    """Whether Orthanc and its DICOMweb plugin are installed (``apt-get install orthanc orthanc-dicomweb``)."""
    return _orthanc_binary() is not None and os.path.isfile(DICOMWEB_PLUGIN)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalOrthanc:
    """A local Orthanc with the DICOMweb plugin, in a temporary folder, on free ports.

    Parameters
    ----------
    credentials : (str, str), optional
        Enable basic authentication with this one user.
    folder : path, optional
        Where configuration, storage and log go (default: a new temporary folder, removed
        on :meth:`stop`).
    gdcm : bool
        Load the GDCM plugin too (JPEG 2000 transcoding), when installed.

    Attributes
    ----------
    http_port : int
        The HTTP port (on 127.0.0.1).
    url : str
        ``http://127.0.0.1:<port>``; :attr:`dicomweb_url` is the DICOMweb root under it.

    Examples
    --------
    >>> server = LocalOrthanc()  # doctest: +SKIP
    >>> server.start().dicomweb_url  # doctest: +SKIP
    'http://127.0.0.1:40123/dicom-web'
    >>> server.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        folder: str | os.PathLike[str] | None = None,
        gdcm: bool = True,
    ) -> None:
        self.credentials = credentials
        self._own_folder = folder is None
        self.folder = Path(folder) if folder is not None else None
        self.gdcm = gdcm and os.path.isfile(GDCM_PLUGIN)
        self.http_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's HTTP root on 127.0.0.1."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root (QIDO/WADO/STOW) of the server."""
        return f"{self.url}/dicom-web"

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        auth = ", basic auth" if self.credentials else ""
        return f"<LocalOrthanc {self.url} ({state}{auth})>"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def _config(self) -> dict[str, object]:
        assert self.folder is not None
        plugins = [DICOMWEB_PLUGIN] + ([GDCM_PLUGIN] if self.gdcm else [])
        config: dict[str, object] = {
            "Name": "dicom-widgets-local",
            "HttpPort": self.http_port,
            "DicomPort": _free_port(),
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            # Orthanc 1.10 listens on every interface: refuse everything but localhost.
            "RemoteAccessAllowed": False,
            "Plugins": plugins,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "HttpTimeout": 30,
            "ConcurrentJobs": 2,
            "HttpThreadsCount": 16,
        }
        if self.credentials:
            user, password = self.credentials
            config["AuthenticationEnabled"] = True
            config["RegisteredUsers"] = {user: password}
        else:
            config["AuthenticationEnabled"] = False
        return config

    def start(self, timeout: float = 30.0) -> LocalOrthanc:
        """Write the configuration, start the server and wait until ``/system`` answers.

        Raises
        ------
        DicomWebError
            When Orthanc is not installed or does not answer within ``timeout`` seconds
            (the message quotes the end of its log).
        """
        binary = _orthanc_binary()
        if binary is None or not os.path.isfile(DICOMWEB_PLUGIN):
            raise DicomWebError(
                "Orthanc with its DICOMweb plugin is not installed: "
                "apt-get install orthanc orthanc-dicomweb orthanc-gdcm"
            )
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="dw-orthanc-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.http_port = _free_port()
        config_path = self.folder / "orthanc.json"
        config_path.write_text(json.dumps(self._config(), indent=2), encoding="utf-8")
        log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115 - kept for the process' life
        try:
            # Its own process group, so stopping it never touches anything else.
            self._process = subprocess.Popen(
                [binary, str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.folder,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise DicomWebError(f"Orthanc exited at start-up; its log ends with:\n{tail}")
            try:
                self.request("GET", "/system", timeout=1.0)
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)  # polling while it opens its database; the condition is above
        tail = self.log_tail()
        self.stop()
        raise DicomWebError(f"Orthanc did not answer within {timeout:.0f} s; log:\n{tail}")

    def log_tail(self, n_chars: int = 3000) -> str:
        """The end of the server's log (for error messages)."""
        if self.folder is None:
            return ""
        try:
            return (self.folder / "orthanc.log").read_text("utf-8", "replace")[-n_chars:]
        except OSError:
            return ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str = "application/octet-stream",
        timeout: float = 30.0,
    ) -> bytes:
        """One HTTP request to the server's REST API (with its credentials), the answer's body."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", content_type)
        if self.credentials:
            token = base64.b64encode(":".join(self.credentials).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - 127.0.0.1
            return answer.read()

    def store(self, items: Iterable[Dataset | str | os.PathLike[str]]) -> int:
        """Store datasets or files with ``POST /instances``; returns how many were stored."""
        count = 0
        for item in items:
            body = instance_bytes(item)
            self.request("POST", "/instances", body, content_type="application/dicom")
            count += 1
        return count

    def stop(self) -> None:
        """Stop the server by its process group id (SIGTERM, then SIGKILL) and remove its folder."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process, timeout=10)  # Orthanc takes 2-4 s to close its database
        if self._own_folder and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> LocalOrthanc:
        return self.start() if not self.running else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
