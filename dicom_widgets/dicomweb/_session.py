"""One small HTTP session for DICOMweb: credentials stay with one origin, secrets never print.

Every request of :mod:`dicom_widgets.dicomweb` goes through :class:`DicomWebSession`, which

- sends requests only to the configured origin (scheme, host, port): an absolute URL of
  another origin (a BulkDataURI, a ``Location``) is refused before any byte is sent, so the
  credentials and headers can never reach it;
- follows redirects itself, only within the origin (``requests`` is called with
  ``allow_redirects=False``);
- retries 5xx answers, 429 and dropped connections a bounded number of times with
  exponential backoff, with bounded connect/read timeouts;
- maps failures to the package's errors (:class:`~dicom_widgets.errors.DicomWebConnectionError`,
  :class:`~dicom_widgets.errors.DicomWebAuthError`, :class:`~dicom_widgets.errors.DicomWebNotFoundError`,
  :class:`~dicom_widgets.errors.DicomWebResponseError`) whose messages name the URL, never a secret;
- redacts the password, token and header values from every message and log line it writes.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from ..errors import (
    DicomWebAuthError,
    DicomWebConnectionError,
    DicomWebError,
    DicomWebNotFoundError,
    DicomWebResponseError,
)
from ._json import cyclic_gc_paused

__all__ = [
    "DicomWebSession",
    "BearerAuth",
    "Auth",
    "DEFAULT_TIMEOUT",
    "MAX_JSON_BYTES",
    "MAX_ANSWER_BYTES",
    "SessionOptions",
    "Origin",
    "origin_of",
    "query_string",
    "decode_json",
]

try:  # the dicomweb extra installs it; the standard library's decoder serves otherwise
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the installation
    _orjson = None

log = logging.getLogger("dicom_widgets.dicomweb")

#: (connect, read) timeouts in seconds: a dead server fails in seconds, not minutes.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: Answers worth another try: the server is overloaded or restarting.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Longest wait between two tries (also caps a server's Retry-After).
MAX_BACKOFF_SECONDS = 4.0
_MAX_REDIRECTS = 5
#: Default bounds of an answer's size (after decompression), see :class:`DicomWebSession`.
MAX_JSON_BYTES = 128 * 1024**2
MAX_ANSWER_BYTES = 1024**3

Auth = tuple[str, str] | str | AuthBase | None


class SessionOptions(TypedDict, total=False):
    """The keywords of :class:`DicomWebSession`, which :func:`~dicom_widgets.dicomweb.connect`
    and :func:`~dicom_widgets.dicomweb.load_series_url` pass on unchanged (documented there).
    """

    auth: Auth
    headers: Mapping[str, str] | None
    session: requests.Session | None
    timeout: float | tuple[float, float]
    retries: int
    backoff: float
    compress_pixels: bool
    max_json_bytes: int
    max_answer_bytes: int


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>``, with a repr that does not show the token.

    Examples
    --------
    >>> BearerAuth("s3cret")
    BearerAuth(token=***)
    """

    def __init__(self, token: str) -> None:
        self._token = str(token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port of a URL (the unit of trust of the web)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def origin_of(url: str) -> Origin:
    """The :class:`Origin` of an absolute URL (default ports filled in).

    Examples
    --------
    >>> str(origin_of("https://PACS.example.org/dicom-web"))
    'https://pacs.example.org:443'
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme, 0)
    return Origin(scheme, (parts.hostname or "").lower(), int(port))


def query_string(params: Mapping[str, object]) -> str:
    """A QIDO query string with ``*``, ``^``, ``?``, ``,`` and ``-`` sent literally.

    Orthanc 1.10 does not percent-decode query values, so ``PatientName=DOE%5E%2A`` would
    match nothing there; these characters are legal in a query anyway (RFC 3986).
    Several values (a list) are joined with commas, as DICOMweb asks.

    Examples
    --------
    >>> query_string({"PatientName": "DOE^J*", "ModalitiesInStudy": ["CT", "MR"]})
    'PatientName=DOE^J*&ModalitiesInStudy=CT,MR'
    """
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            value = ",".join(str(v) for v in value)
        parts.append(f"{quote(str(key), safe='')}={quote(str(value), safe='*^?,-.:_~')}")
    return "&".join(parts)


def _normalise_auth(auth: Auth) -> tuple[AuthBase | None, list[str], str]:
    """The requests auth object, the secrets it holds, and a description without them."""
    if auth is None:
        return None, [], "none"
    if isinstance(auth, (tuple, list)):
        if len(auth) != 2:
            raise TypeError("basic auth is a (user, password) pair")
        user, password = (str(v) for v in auth)
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        return HTTPBasicAuth(user, password), [password, basic], "basic"
    if isinstance(auth, str):
        return BearerAuth(auth), [auth], "bearer token"
    if isinstance(auth, AuthBase):
        return auth, [], type(auth).__name__
    raise TypeError(
        f"auth must be (user, password), a bearer token string or a requests auth object, "
        f"not {type(auth).__name__}"
    )


class DicomWebSession:
    """HTTP for DICOMweb, bound to one origin.

    Parameters
    ----------
    url : str
        The DICOMweb root (``https://host/dicom-web``). User info in it
        (``https://user:pw@host``) is taken as basic auth and removed from the URL.
    auth : (user, password), str, requests.auth.AuthBase, optional
        Basic auth, a bearer token, or any ``requests`` auth object.
    headers : mapping, optional
        Extra headers (API keys...), sent with every request to the origin; their values are
        treated as secrets.
    session : requests.Session, optional
        Reuse a session (proxies, certificates, adapters); requests never leave the origin
        whatever it is configured with.
    timeout : float or (float, float)
        Connect and read timeouts in seconds.
    retries : int
        Further tries after a 5xx/429 answer or a dropped connection.
    backoff : float
        First wait between tries in seconds (doubled each time, at most 4 s).
    compress_pixels : bool
        Let the server gzip frames and instances. Off by default: on a local network the
        compression costs both ends more time than the bytes it saves (measured against
        Orthanc: 2x the frames per second without it); JSON answers are always compressed.
    max_json_bytes : int
        The largest JSON answer (metadata, searches) read, decompressed: a hostile server
        cannot exhaust memory with one (default 128 MiB: the metadata of a 300-slice CT
        is about 2 MB).
    max_answer_bytes : int
        The largest other answer (an instance, a frame, bulk data; default 1 GiB).

    Examples
    --------
    >>> session = DicomWebSession("http://127.0.0.1:8042/dicom-web", auth=("alice", "s3cret"))
    >>> session
    <DicomWebSession http://127.0.0.1:8042/dicom-web auth=basic>
    >>> session.redact("the password is s3cret")
    'the password is ***'
    """

    def __init__(
        self,
        url: str,
        *,
        auth: Auth = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.25,
        compress_pixels: bool = False,
        max_json_bytes: int = MAX_JSON_BYTES,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        parts = urlsplit(str(url).strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise DicomWebError(
                f"not an http(s) URL of a DICOMweb server: {_strip_userinfo(str(url))!r}"
            )
        if parts.username is not None and auth is None:
            from urllib.parse import unquote

            auth = (unquote(parts.username), unquote(parts.password or ""))
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        if ":" in parts.hostname:  # IPv6 literal
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        self.base_url = urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
        self.origin = origin_of(self.base_url)
        self._auth, secrets, self.auth_kind = _normalise_auth(auth)
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        secrets += [v for v in self._headers.values() if v]
        if parts.password:
            secrets.append(parts.password)
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._own_session = session is None
        if session is None:
            session = requests.Session()
            # Environment proxies are looked up once for the origin, not per request (4 ms
            # each), and ~/.netrc never adds credentials of its own.
            session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
            session.trust_env = False
        self._session = session
        if isinstance(timeout, (int, float)):
            timeout = (float(timeout), float(timeout))
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.compress_pixels = bool(compress_pixels)
        self.max_json_bytes = int(max_json_bytes)
        self.max_answer_bytes = int(max_answer_bytes)
        self._count_lock = threading.Lock()
        self.request_count = 0

    # ----------------------------------------------------------------- secrets
    def redact(self, text: object) -> str:
        """``text`` with every secret this session holds replaced by ``***``."""
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, "***")
        return out

    def __repr__(self) -> str:
        extra = f" headers={sorted(self._headers)}" if self._headers else ""
        return f"<DicomWebSession {self.base_url} auth={self.auth_kind}{extra}>"

    def close(self) -> None:
        """Close the underlying ``requests`` session (if this object created it)."""
        if self._own_session:
            self._session.close()

    def configure_pool(self, connections: int) -> None:
        """Keep up to ``connections`` connections open to the origin (for parallel frames)."""
        if not self._own_session:
            return  # a caller's session keeps its own adapters
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=max(1, connections)
        )
        self._session.mount(f"{self.origin.scheme}://", adapter)

    # ------------------------------------------------------------------- URLs
    def url(self, path: str, params: Mapping[str, object] | None = None) -> str:
        """Absolute URL of ``path`` under the DICOMweb root, with a literal query string."""
        if urlsplit(path).scheme:
            full = path
        else:
            full = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            query = query_string(params)
            if query:
                full += ("&" if "?" in full else "?") + query
        return full

    def same_origin(self, url: str) -> bool:
        """Whether an absolute URL belongs to the configured origin."""
        return origin_of(url) == self.origin

    def shown(self, url: str) -> str:
        """A URL as it may appear in a message: no user info, no secrets."""
        return self.redact(_strip_userinfo(url))

    # --------------------------------------------------------------- requests
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        accept: str | None = None,
        data: bytes | None = None,
        content_type: str | None = None,
        what: str = "resource",
        pixels: bool = False,
        max_bytes: int | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request to the origin (with retries) and return the successful answer.

        Parameters
        ----------
        method, path : str
            HTTP method, and a path under the root or an absolute URL of the same origin.
        params : mapping, optional
            Query parameters (sent literally, see :func:`query_string`).
        accept, content_type : str, optional
            ``Accept`` and ``Content-Type`` headers.
        data : bytes, optional
            Request body.
        what : str
            What is asked for, for messages ("study", "series metadata", "frame 3").
        pixels : bool
            The answer is pixel data: uncompressed transfer unless ``compress_pixels``.
        max_bytes : int, optional
            The largest answer accepted (decompressed); default :attr:`max_answer_bytes`.
        stream : bool
            Return before reading the body: the caller reads it (``iter_content``), bounds
            it, and closes the answer.

        Raises
        ------
        DicomWebError
            Refused (another origin), or one of its subclasses for the failure; a
            :class:`~dicom_widgets.errors.DicomWebResponseError` for an answer over
            ``max_bytes`` (read no further than that).
        """
        url = self.url(path, params)
        if not self.same_origin(url):
            raise DicomWebError(
                f"refused to request {what} at {self.shown(url)}: it is not on {self.origin} "
                "(credentials are only ever sent to the configured server)"
            )
        headers = dict(self._headers)
        if accept:
            headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        if pixels and not self.compress_pixels:
            headers["Accept-Encoding"] = "identity"
        response, url, tries = self._send_with_retries(method, url, headers, data, what)
        if response.status_code >= 400:
            self._raise_for(response, url, what, tries)
        if not stream:
            limit = self.max_answer_bytes if max_bytes is None else max_bytes
            self._read_body(response, url, what, limit)
        return response

    def _send_with_retries(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None, what: str
    ) -> tuple[requests.Response, str, int]:
        """The final answer (body not read yet), its URL and the number of tries.

        5xx/429 answers, timeouts and dropped connections are tried again with backoff;
        redirects are followed only within the origin.
        """
        redirects = attempt = 0
        while True:
            try:
                response = self._send(method, url, headers, data)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt < self.retries:
                    self._wait(attempt, None)
                    attempt += 1
                    continue
                raise self._unreachable(exc, url, what, attempt + 1) from None
            except requests.RequestException as exc:
                raise DicomWebError(
                    f"{self.shown(url)}: request for {what} failed: {self._reason(exc)}"
                ) from None
            if response.is_redirect:
                url = self._redirect_target(response, url, what)
                redirects += 1
                if redirects > _MAX_REDIRECTS:
                    raise DicomWebResponseError(f"{self.shown(url)}: too many redirects")
                if response.status_code == 303:
                    method, data = "GET", None
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                retry_after = response.headers.get("Retry-After")
                response.close()
                self._wait(attempt, retry_after)
                attempt += 1
                continue
            return response, url, attempt + 1

    def _unreachable(self, exc: Exception, url: str, what: str, tries: int) -> DicomWebError:
        if isinstance(exc, requests.Timeout):
            return DicomWebConnectionError(
                f"{self.shown(url)}: no answer for {what} within {self.timeout[1]:g} s "
                f"after {tries} tries ({type(exc).__name__})"
            )
        return DicomWebConnectionError(
            f"cannot reach the DICOMweb server at {self.origin} for {what} "
            f"({self.shown(url)}) after {tries} tries: {self._reason(exc)}"
        )

    def _redirect_target(self, response: requests.Response, url: str, what: str) -> str:
        """Where a redirect points; refused when that is another origin."""
        target = urljoin(url, response.headers.get("Location", ""))
        response.close()
        if not self.same_origin(target):
            raise DicomWebError(
                f"{self.shown(url)}: the server redirected {what} to another origin "
                f"({origin_of(target)}); not followed, so that the credentials stay "
                f"with {self.origin}",
                status=response.status_code,
            )
        return target

    def _read_body(self, response: requests.Response, url: str, what: str, limit: int) -> None:
        """Read the answer into ``response.content``, refusing one over ``limit`` bytes.

        Counted after decompression, so a small gzip bomb is refused as well as a large
        answer; nothing past the limit is read.
        """
        declared = response.headers.get("Content-Length", "")
        too_big = declared.isdigit() and int(declared) > limit
        chunks: list[bytes] = []
        size = 0
        if not too_big:
            try:
                for chunk in response.iter_content(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        too_big = True
                        break
                    chunks.append(chunk)
            except requests.RequestException as exc:
                response.close()
                raise DicomWebConnectionError(
                    f"{self.shown(url)}: the answer for {what} broke off: {self._reason(exc)}"
                ) from None
        if too_big:
            response.close()
            setting = (
                "max_json_bytes"
                if "json" in response.headers.get("Content-Type", "")
                else "max_answer_bytes"
            )
            raise DicomWebResponseError(
                f"{self.shown(url)}: the answer for {what} is larger than the limit of "
                f"{limit:,} bytes; if the server is trusted, raise it with "
                f"connect(..., {setting}=...)",
                status=response.status_code,
            )
        # requests keeps a read body here; .content, .text and .json() then use it.
        response._content = b"".join(chunks)
        response._content_consumed = True

    def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        what: str = "resource",
    ) -> list[dict[str, object]]:
        """GET a DICOM JSON answer (a list of objects); 204 and an empty body give ``[]``.

        Raises
        ------
        DicomWebResponseError
            When the body is not a JSON list of objects, or is over :attr:`max_json_bytes`.
        """
        response = self.request(
            "GET",
            path,
            params=params,
            accept="application/dicom+json",
            what=what,
            max_bytes=self.max_json_bytes,
        )
        if response.status_code == 204 or not response.content.strip():
            return []
        try:
            with cyclic_gc_paused():
                body = decode_json(response)
        except ValueError:
            excerpt = self.redact(response.content[:80].decode("utf-8", "replace"))
            raise DicomWebResponseError(
                f"{self.shown(response.url or self.url(path, params))}: the answer for {what} is "
                f"not valid JSON (starts with {excerpt!r})"
            ) from None
        if isinstance(body, dict):  # a single object where a list was promised: accept it
            body = [body]
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise DicomWebResponseError(
                f"{self.shown(self.url(path, params))}: the answer for {what} is JSON but not a "
                f"list of DICOM JSON objects (got {type(body).__name__})"
            )
        return body

    # -------------------------------------------------------------- internals
    def _send(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None
    ) -> requests.Response:
        prepared = self._session.prepare_request(
            requests.Request(method, url, headers=headers, data=data, auth=self._auth)
        )
        # requests re-quotes "^" as %5E; Orthanc 1.10 would then not find "DOE^JOHN".
        prepared.url = url
        with self._count_lock:
            self.request_count += 1
        log.debug("%s %s", method, self.shown(url))
        return self._session.send(
            prepared, timeout=self.timeout, allow_redirects=False, stream=True
        )

    def _wait(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * (2**attempt)
        if retry_after:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        time.sleep(min(delay, MAX_BACKOFF_SECONDS))

    def _reason(self, exc: BaseException) -> str:
        # urllib3 wraps the cause deeply; the innermost message says what happened.
        inner: BaseException | None = exc
        while inner is not None and inner.args and isinstance(inner.args[0], BaseException):
            inner = inner.args[0]
        text = " ".join(str(inner or exc).split())
        return self.redact(text)[:300]

    def _raise_for(self, response: requests.Response, url: str, what: str, tries: int) -> None:
        status = response.status_code
        shown = self.shown(url)
        if status in (401, 403, 404):
            response.close()
        if status in (401, 403):
            verdict = "authentication failed" if status == 401 else "access denied"
            hint = (
                "check the user name and password or token given as auth="
                if self.auth_kind != "none"
                else "the server needs credentials: pass auth=(user, password) or a token"
            )
            raise DicomWebAuthError(
                f"{shown}: {verdict} (HTTP {status}) for {what}; {hint}", status=status
            )
        if status == 404:
            raise DicomWebNotFoundError(
                f"{what} not found on the server: {shown} (HTTP 404)", status=status
            )
        try:  # an error page is read only as far as the excerpt quoted
            excerpt = next(response.iter_content(512), b"")
        except requests.RequestException:
            excerpt = b""
        finally:
            response.close()
        detail = " ".join(excerpt.decode("utf-8", "replace")[:200].split())
        retried = f" after {tries} tries" if status in RETRY_STATUSES else ""
        raise DicomWebResponseError(
            f"{shown}: HTTP {status} {response.reason or ''} for {what}{retried}"
            + (f": {self.redact(detail)}" if detail else ""),
            status=status,
        )


def decode_json(response: requests.Response) -> object:
    """The JSON body of a read answer: with orjson when installed, else the standard library.

    A series' metadata is megabytes of JSON, and decoding it is a good part of the time
    before the first image; orjson (the ``dicomweb`` extra) decodes UTF-8 several times
    faster. What orjson refuses (another Unicode encoding, ``NaN``) goes to requests'
    decoder, so both accept the same answers.

    Raises
    ------
    ValueError
        When the body is not JSON.

    Examples
    --------
    >>> answer = requests.Response()
    >>> answer._content = b'[{"00080060": {"vr": "CS", "Value": ["CT"]}}]'
    >>> decode_json(answer)
    [{'00080060': {'vr': 'CS', 'Value': ['CT']}}]
    """
    if _orjson is not None:
        try:
            return _orjson.loads(response.content)
        except ValueError:
            pass  # the standard decoder says what is wrong, or accepts it
    return response.json()


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
