"""Escaping, a small element builder and the one scoped stylesheet.

This module is the single boundary where text becomes HTML. Everything else in
``dicom_widgets`` builds HTML by calling :func:`tag` (which escapes text children and
attribute values) or composing :class:`Markup` values returned by the helpers here;
nothing concatenates raw DICOM values into HTML strings.

The design follows xarray's HTML repr: sections collapse with a hidden checkbox and
a ``<label>`` (CSS only, no JavaScript), colours come from CSS variables that fall
back to JupyterLab's theme variables, and every output carries a ``<pre>`` text
fallback that shows where the stylesheet is stripped.

Examples
--------
>>> from dicom_widgets.html import tag, escape, wrap
>>> str(tag("b", "<script>alert(1)</script>", class_="x"))
'<b class="x">&lt;script&gt;alert(1)&lt;/script&gt;</b>'
>>> escape('a & "b"')
Markup('a &amp; &quot;b&quot;')
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import html as _html
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

__all__ = [
    "Markup",
    "escape",
    "clean_text",
    "tag",
    "join",
    "collapsible_section",
    "table",
    "wrap",
    "html_or_pre",
    "rendered",
    "stylesheet",
    "thumbnail_img",
    "note",
    "badge",
    "shorten",
    "id_scope",
    "new_id",
    "CSS_CLASS",
]

T = TypeVar("T")

#: The class of the outermost element of every repr; every CSS rule is scoped under it.
CSS_CLASS = "dw-repr"


class Markup(str):
    """A string that is already safe HTML (it is never escaped again).

    Only this module's helpers should create ``Markup`` from text they built; wrapping
    untrusted text in ``Markup`` directly defeats the escaping, so use :func:`escape`.
    Objects with an ``__html__`` method (Jinja/MarkupSafe convention) are treated the same.

    Examples
    --------
    >>> Markup("<b>x</b>") + "<i>"
    Markup('<b>x</b>&lt;i&gt;')
    """

    __slots__ = ()

    def __html__(self) -> Markup:
        return self

    def __add__(self, other: object) -> Markup:
        return Markup(str.__add__(self, escape(other)))

    def __radd__(self, other: object) -> Markup:
        return Markup(str.__add__(escape(other), self))

    def __repr__(self) -> str:
        return f"Markup({str.__repr__(self)})"

    def _repr_html_(self) -> str:
        return str(self)


# C0/C1 controls (except tab, newline, carriage return) and lone surrogates (what
# pydicom leaves behind for undecodable bytes with some error handlers) are not valid
# in HTML documents; they are shown as visible escapes instead of being dropped.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _visible_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean_text(text: str) -> str:
    """Replace control characters and lone surrogates by visible ``\\xNN`` escapes.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        Text that is valid in an HTML document (still needs :func:`escape`).

    Examples
    --------
    >>> clean_text("a\\x00b")
    'a\\\\x00b'
    """
    if _UNSAFE_CHARS.search(text) is None:
        return text
    return _UNSAFE_CHARS.sub(_visible_escape, text)


def escape(value: object) -> Markup:
    """Escape any value for use as HTML text or as a quoted attribute value.

    ``Markup`` (or anything with ``__html__``) passes through unchanged; ``None`` becomes
    the empty string; anything else is converted with ``str`` (``repr`` if ``str`` fails),
    cleaned of control characters, and escaped (``& < > " '``).

    Parameters
    ----------
    value : object

    Returns
    -------
    Markup

    Examples
    --------
    >>> escape("<img src=x onerror=alert(1)>")
    Markup('&lt;img src=x onerror=alert(1)&gt;')
    """
    cls = type(value)
    if cls is Markup:
        return value  # type: ignore[return-value]
    if cls is str:
        return Markup(_escape_text(value))  # type: ignore[arg-type]
    if value is None:
        return Markup("")
    html_method = getattr(value, "__html__", None)
    if html_method is not None and callable(html_method):
        return Markup(html_method())
    if isinstance(value, str):
        text = str.__str__(value)
    else:
        try:
            text = str(value)
        except Exception:  # a broken __str__ must never break a repr
            try:
                text = repr(value)
            except Exception:  # noqa: BLE001 - nor a broken __repr__
                text = f"<unprintable {type(value).__name__}>"
    return Markup(_escape_text(text))


def _escape_text(text: str) -> str:
    if _UNSAFE_CHARS.search(text) is not None:
        text = _UNSAFE_CHARS.sub(_visible_escape, text)
    return _html.escape(text, quote=True)


def join(parts: Iterable[object], sep: object = "") -> Markup:
    """Join parts (each escaped unless already :class:`Markup`) with ``sep``.

    Examples
    --------
    >>> join(["<a>", Markup("<br>")], sep=", ")
    Markup('&lt;a&gt;, <br>')
    """
    return Markup(str(escape(sep)).join(str(escape(part)) for part in parts))


# --- the element builder -------------------------------------------------------------

_TAG_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_ATTR_NAME = re.compile(r"^[a-z][a-z0-9\-]*$")
_VOID_ELEMENTS = frozenset({"br", "hr", "img", "input", "wbr", "col"})
# Elements that execute code or load other documents are never built here.
_FORBIDDEN_ELEMENTS = frozenset(
    {"script", "iframe", "object", "embed", "frame", "frameset", "base", "link", "meta", "form"}
)
_URL_ATTRIBUTES = frozenset({"src", "href", "action", "formaction", "srcset", "poster"})
_SAFE_URL = re.compile(r"^(#[A-Za-z0-9_\-]*|data:image/png;base64,[A-Za-z0-9+/=]*|https?://\S*)$")


@lru_cache(maxsize=256)
def _attr_name(name: str) -> str:
    # Python keywords take a trailing underscore (class_, for_); other underscores
    # become hyphens (data_dw_path -> data-dw-path, aria_label -> aria-label).
    name = name.rstrip("_").replace("_", "-").lower()
    if not _ATTR_NAME.match(name):
        raise ValueError(f"invalid HTML attribute name {name!r}")
    if name.startswith("on"):
        raise ValueError(f"event-handler attributes are not allowed: {name!r}")
    return name


def _attr_fragment(name: str, text: str) -> str:
    if name in _URL_ATTRIBUTES and not _SAFE_URL.match(text):
        raise ValueError(f"unsafe URL in attribute {name!r}: {text[:40]!r}")
    return f' {name}="{_escape_text(text)}"'


# Short attribute values repeat a lot (CSS classes, dictionary names): their escaped
# fragment is cached. Long ones (data URIs of thumbnails) are not, to bound memory.
_cached_attr_fragment = lru_cache(maxsize=4096)(_attr_fragment)
_CACHED_ATTR_CHARS = 200


def _attr_value_text(value: object) -> str:
    cls = type(value)
    if cls is str:
        return value  # type: ignore[return-value]
    if cls is Markup:
        # Markup is already escaped HTML; as an attribute it is used as its text.
        return _html.unescape(str.__str__(value))  # type: ignore[arg-type]
    return _html.unescape(str(escape(value)))


def _children(children: Iterable[object], out: list[str]) -> None:
    for child in children:
        cls = type(child)
        if cls is Markup:
            out.append(child)  # type: ignore[arg-type]
        elif cls is str:
            out.append(_escape_text(child))  # type: ignore[arg-type]
        elif child is None or child is False:
            continue
        elif cls is list or cls is tuple or isinstance(child, Iterator):
            _children(child, out)  # type: ignore[arg-type]
        else:
            out.append(escape(child))


@lru_cache(maxsize=64)
def _check_tag_name(name: str) -> str:
    if not _TAG_NAME.match(name) or name in _FORBIDDEN_ELEMENTS:
        raise ValueError(f"element {name!r} is not allowed")
    return name


def tag(name: str, *children: object, **attrs: object) -> Markup:
    """Build one HTML element; text children and attribute values are escaped.

    Parameters
    ----------
    name : str
        Lower-case element name. ``script``, ``iframe``, ``object`` and the like are refused.
    *children : object
        Text (escaped), :class:`Markup` (kept), ``None``/``False`` (skipped), or lists,
        tuples and generators of those (flattened).
    **attrs : object
        Attributes. ``class_``/``for_`` give ``class``/``for``; other underscores become
        hyphens. ``True`` writes a bare attribute, ``None``/``False`` omits it. ``on*``
        event handlers are refused, and URL attributes (``src``, ``href``) accept only
        ``#fragment``, ``http(s)://`` and ``data:image/png;base64`` values.

    Returns
    -------
    Markup

    Raises
    ------
    ValueError
        For a forbidden element or attribute, or an unsafe URL.

    Examples
    --------
    >>> tag("td", "a<b", class_="dw-value", title='say "hi"')
    Markup('<td class="dw-value" title="say &quot;hi&quot;">a&lt;b</td>')
    >>> tag("input", type="checkbox", checked=True, disabled=None)
    Markup('<input type="checkbox" checked>')
    """
    _check_tag_name(name)
    parts = ["<", name]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = _attr_name(key)
        if value is True:
            parts.append(f" {attr}")
        else:
            text = _attr_value_text(value)
            if len(text) <= _CACHED_ATTR_CHARS:
                parts.append(_cached_attr_fragment(attr, text))
            else:
                parts.append(_attr_fragment(attr, text))
    parts.append(">")
    if name in _VOID_ELEMENTS:
        if children:
            raise ValueError(f"void element <{name}> takes no children")
        return Markup("".join(parts))
    _children(children, parts)
    parts.append(f"</{name}>")
    return Markup("".join(parts))


# --- ids for checkbox/label pairs ----------------------------------------------------

# Ids must be unique within a page (several outputs share one document in JupyterLab)
# yet deterministic, so that nbval can compare stored outputs. Each render opens a
# scope whose prefix hashes the repr's text and a per-process render number.
_RENDERS = itertools.count(1)
_GLOBAL_IDS = itertools.count(1)
_SCOPE: contextvars.ContextVar[tuple[str, Iterator[int]] | None] = contextvars.ContextVar(
    "dw_id_scope", default=None
)


@contextlib.contextmanager
def id_scope(seed: str = "") -> Iterator[str]:
    """Give the element ids created inside the block a common, deterministic prefix.

    Parameters
    ----------
    seed : str
        Text that identifies the rendered object (its text repr, say).

    Yields
    ------
    str
        The prefix in use.

    Examples
    --------
    >>> with id_scope("CT_small") as prefix:
    ...     new_id().startswith(prefix)
    True
    """
    current = _SCOPE.get()
    if current is not None:  # nested renders share the outer scope
        yield current[0]
        return
    digest = hashlib.sha1(f"{seed}\x00{next(_RENDERS)}".encode("utf-8", "replace")).hexdigest()
    prefix = f"dw-{digest[:10]}"
    token = _SCOPE.set((prefix, itertools.count(1)))
    try:
        yield prefix
    finally:
        _SCOPE.reset(token)


def new_id() -> str:
    """Return a fresh element id (inside :func:`id_scope` if one is open).

    Examples
    --------
    >>> with id_scope("x"):
    ...     first, second = new_id(), new_id()
    >>> first != second
    True
    """
    current = _SCOPE.get()
    if current is None:
        return f"dw-g{next(_GLOBAL_IDS)}"
    prefix, counter = current
    return f"{prefix}-{next(counter)}"


# --- building blocks -------------------------------------------------------------------


def collapsible_section(
    title: object,
    body: object,
    *,
    open: bool = False,  # noqa: A002 - mirrors the HTML attribute and <details open>
    count: int | str | None = None,
    class_: str | None = None,
) -> Markup:
    """A section that opens and closes with CSS only (hidden checkbox + label).

    Parameters
    ----------
    title : str or Markup
        The clickable summary line.
    body : str or Markup
        The content shown when open (text is escaped).
    open : bool
        Start expanded.
    count : int or str, optional
        Shown in parentheses after the title (e.g. the number of elements or items).
    class_ : str, optional
        Extra CSS class of the outer ``<div>``.

    Returns
    -------
    Markup

    Examples
    --------
    >>> html = collapsible_section("Patient", "<none>", count=3)
    >>> 'type="checkbox"' in html and "&lt;none&gt;" in html
    True
    """
    ident = new_id()
    classes = "dw-section" if not class_ else f"dw-section {class_}"
    label = tag(
        "label",
        title,
        tag("span", f"({count})", class_="dw-count") if count is not None else None,
        for_=ident,
        class_="dw-section-summary",
        title="expand/collapse",
    )
    return tag(
        "div",
        tag("input", id=ident, class_="dw-section-in", type="checkbox", checked=bool(open)),
        label,
        tag("div", body, class_="dw-section-details"),
        class_=classes,
    )


def table(
    rows: Iterable[Sequence[object]],
    headers: Sequence[object] | None = None,
    *,
    class_: str | None = None,
    cell_classes: Sequence[str | None] | None = None,
) -> Markup:
    """A ``<table>`` of escaped cells.

    Parameters
    ----------
    rows : iterable of sequences
        One sequence of cells per row (text escaped, :class:`Markup` kept).
    headers : sequence, optional
        Column headers.
    class_ : str, optional
        Extra CSS class (``dw-table`` is always set).
    cell_classes : sequence of str, optional
        A CSS class per column.

    Returns
    -------
    Markup

    Examples
    --------
    >>> html = table([["(0010,0010)", "Doe^<John>"]], headers=["Tag", "Value"])
    >>> "<td>Doe^&lt;John&gt;</td>" in html
    True
    """
    classes = "dw-table" if not class_ else f"dw-table {class_}"
    head = None
    if headers is not None:
        head = tag("thead", tag("tr", [tag("th", h) for h in headers]))
    body_rows = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = cell_classes[i] if cell_classes is not None and i < len(cell_classes) else None
            cells.append(tag("td", cell, class_=cls))
        body_rows.append(tag("tr", cells))
    return tag("table", head, tag("tbody", body_rows), class_=classes)


@lru_cache(maxsize=1)
def _css_text() -> str:
    return resources.files("dicom_widgets.html").joinpath("style.css").read_text("utf-8")


def stylesheet() -> Markup:
    """The scoped ``<style>`` element (every rule under ``.dw-repr``).

    Include it once per output; :func:`wrap` does so.

    Examples
    --------
    >>> css = stylesheet()
    >>> css.startswith("<style>") and ".dw-repr" in css
    True
    """
    # The CSS is a constant of this package, not data: it is safe as is.
    return Markup(f"<style>{_css_text()}</style>")


def wrap(
    body_html: object,
    text_fallback: str,
    *,
    include_style: bool = True,
    class_: str | None = None,
) -> Markup:
    """Wrap a rich repr body into the outer element, with the stylesheet and a text fallback.

    The ``<pre>`` fallback is hidden by the stylesheet; the rich part is hidden by an
    inline style that the stylesheet overrides. So where the ``<style>`` is stripped
    (GitHub's notebook viewer, some sanitizers) readers see the text, not raw tables.

    Parameters
    ----------
    body_html : Markup
        The rich body (text is escaped).
    text_fallback : str
        Plain text shown where CSS is unavailable (escaped).
    include_style : bool
        Add the ``<style>`` element (turn off when nesting inside another :func:`wrap`).
    class_ : str, optional
        Extra CSS class of the outer ``<div>``.

    Returns
    -------
    Markup

    Examples
    --------
    >>> out = wrap(tag("b", "rich"), "plain <text>")
    >>> out.startswith('<div class="dw-repr">') and "plain &lt;text&gt;" in out
    True
    """
    classes = CSS_CLASS if not class_ else f"{CSS_CLASS} {class_}"
    return tag(
        "div",
        stylesheet() if include_style else None,
        tag("pre", text_fallback, class_="dw-text-repr-fallback"),
        tag("div", body_html, class_="dw-wrap", style="display:none"),
        class_=classes,
    )


def html_or_pre(render: Callable[[T], object], obj: T) -> str:
    """``str(render(obj))``, or ``repr(obj)`` escaped in a ``<pre>`` when rendering fails.

    What every ``_repr_html_`` of the core returns: a repr must never raise in a
    notebook, and the text repr still says what the object is.

    Parameters
    ----------
    render : callable
        Builds the HTML of ``obj`` (``series_html``, ``catalog_html``...).
    obj : object
        What to show.

    Returns
    -------
    str
        HTML.

    Examples
    --------
    >>> def broken(obj):
    ...     raise ValueError("no")
    >>> html_or_pre(broken, "<b>")
    '<pre>&#x27;&lt;b&gt;&#x27;</pre>'
    """
    try:
        return str(render(obj))
    except Exception:  # noqa: BLE001 - a repr must never raise; any failure falls back
        return str(tag("pre", repr(obj)))


def rendered(what: str, text: str, build: Callable[[], object]) -> str:
    """The repr of a ``what``: ``build()`` wrapped with ``text`` as its ``<pre>`` fallback.

    When ``build`` fails, an error note stands in for the rich part; the text fallback
    and the stylesheet are still there. Ids made while building derive from ``text``, so
    the same object renders the same HTML.

    Parameters
    ----------
    what : str
        What is shown, for the error note (``"series"``).
    text : str
        The plain-text repr.
    build : callable
        Builds the rich part.

    Returns
    -------
    str
        HTML.

    Examples
    --------
    >>> html = rendered("thing", "a thing", lambda: tag("b", "A"))
    >>> "<b>A</b>" in html and "a thing" in html
    True
    >>> "Could not render this thing" in rendered("thing", "a thing", lambda: 1 / 0)
    True
    """
    with id_scope(text):
        try:
            body = build()
        except Exception as exc:  # noqa: BLE001 - a repr must never raise in a notebook
            body = note(f"Could not render this {what}: {type(exc).__name__}: {exc}", kind="error")
    return str(wrap(body, text))


def note(text: object, *, kind: str = "info") -> Markup:
    """An inline note (``kind``: ``"info"``, ``"warning"`` or ``"error"``).

    Examples
    --------
    >>> note("pixel data could not be decoded", kind="warning")
    Markup('<div class="dw-note dw-note-warning">pixel data could not be decoded</div>')
    """
    if kind not in {"info", "warning", "error"}:
        kind = "info"
    return tag("div", text, class_=f"dw-note dw-note-{kind}")


_SEVERITIES = {"info", "warning", "error", "ok"}


def badge(text: object, severity: str = "info") -> Markup:
    """A small coloured label for a severity (``info``, ``warning``, ``error``, ``ok``).

    Unknown severities are shown with the ``info`` colour; ``critical`` counts as ``error``.

    Examples
    --------
    >>> badge("warning", "warning")
    Markup('<span class="dw-badge dw-sev-warning">warning</span>')
    """
    sev = str(severity).lower()
    if sev in {"critical", "fatal"}:
        sev = "error"
    elif sev in {"warn"}:
        sev = "warning"
    if sev not in _SEVERITIES:
        sev = "info"
    return tag("span", text, class_=f"dw-badge dw-sev-{sev}")


def shorten(text: str, limit: int = 120) -> tuple[str, bool]:
    """Cut ``text`` to its first line and at most ``limit`` characters.

    Returns
    -------
    (str, bool)
        The shortened text (with ``…`` when cut) and whether it was cut.

    Examples
    --------
    >>> shorten("a" * 10, limit=4)
    ('aaaa…', True)
    >>> shorten("one\\ntwo")
    ('one…', True)
    """
    first, newline, _ = text.partition("\n")
    cut = bool(newline) or len(first) > limit
    if len(first) > limit:
        first = first[:limit]
    return (first + "…" if cut else first), cut


def thumbnail_img(
    image: Any,
    max_size: int = 128,
    *,
    alt: str = "",
    title: str | None = None,
) -> Markup:
    """Encode a ``uint8`` image as an ``<img>`` with a PNG data URI.

    Parameters
    ----------
    image : numpy.ndarray
        ``uint8`` array of shape ``(rows, cols)`` (grey), ``(rows, cols, 3)`` (RGB)
        or ``(rows, cols, 4)`` (RGBA), e.g. from :func:`dicom_widgets.display.to_display`.
    max_size : int
        Longest side of the thumbnail in pixels (the aspect ratio is kept).
    alt, title : str
        Alternative text and tooltip (escaped).

    Returns
    -------
    Markup

    Raises
    ------
    TypeError
        When ``image`` is not a ``uint8`` array of a supported shape.

    Examples
    --------
    >>> import numpy as np
    >>> thumbnail_img(np.zeros((4, 8), np.uint8), alt="x").startswith('<img class="dw-thumb"')
    True
    """
    import numpy as np
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise TypeError(f"thumbnail_img needs a uint8 array, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or 0 in arr.shape:
        raise TypeError(f"thumbnail_img needs a (rows, cols[, 3|4]) image, got shape {arr.shape}")
    img = Image.fromarray(np.ascontiguousarray(arr))
    size = max(1, int(max_size))
    # Upscale tiny images a little too, so an 8x8 icon is visible; keep the aspect ratio.
    scale = size / max(img.size)
    new_size = (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale)))
    if new_size != img.size:
        resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST
        img = img.resize(new_size, resample)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return tag(
        "img",
        class_="dw-thumb",
        src=f"data:image/png;base64,{data}",
        alt=alt,
        title=title if title is not None else (alt or None),
        width=new_size[0],
        height=new_size[1],
    )
