"""HTML and text reprs of a :class:`~dicom_widgets.series.Series` and a scan catalog.

A series shows its summary (count, size, spacing, orientation, modality, window), its
QA findings with severity colours, a strip of a few windowed thumbnails across the
stack and, collapsed, the header of its first instance. A catalog shows one row per
series with a thumbnail and its number of findings. Decoding problems become notes,
never exceptions. Objects are used through their documented attributes only (duck
typing), so this module imports nothing from :mod:`dicom_widgets.series`.

Examples
--------
>>> import dicom_widgets as dw
>>> from dicom_widgets.data import ct_phantom
>>> from dicom_widgets.html import series_html
>>> series = dw.load_series(ct_phantom(n_slices=4, size=16), progress=False)
>>> "dw-strip" in series_html(series)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._compat import safe_get
from ._core import (
    Markup,
    badge,
    collapsible_section,
    note,
    rendered,
    tag,
    thumbnail_img,
)

if TYPE_CHECKING:
    from ..display import VOILUT, Window
    from ..series import Finding, Series, SeriesCatalog

__all__ = [
    "series_html",
    "series_text",
    "series_body",
    "catalog_html",
    "catalog_text",
    "orientation_label",
    "findings_table",
]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def _not_interrupt(exc: BaseException) -> None:
    """Re-raise interrupts; let other BaseExceptions be reported like errors.

    Rust decoders (pylibjpeg-rle via pyo3) raise ``PanicException``, a BaseException,
    on corrupt pixel data: a repr must turn it into a note like any decode error.
    """
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0]
    return (text[:200] or type(exc).__name__).strip()


def orientation_label(orientation: Sequence[float] | None) -> str:
    """Name the plane of an ImageOrientationPatient: axial, coronal, sagittal or oblique.

    Parameters
    ----------
    orientation : sequence of 6 floats or None
        Row cosine then column cosine.

    Returns
    -------
    str
        ``"axial"``, ``"coronal"``, ``"sagittal"``, ``"oblique"`` or ``"unknown"``.

    Examples
    --------
    >>> orientation_label([1, 0, 0, 0, 1, 0])
    'axial'
    >>> orientation_label([0, 1, 0, 0, 0, -1])
    'sagittal'
    """
    if orientation is None:
        return "unknown"
    try:
        r = [float(v) for v in list(orientation)[:3]]
        c = [float(v) for v in list(orientation)[3:6]]
    except (TypeError, ValueError):
        return "unknown"
    if len(r) != 3 or len(c) != 3:
        return "unknown"
    normal = (
        r[1] * c[2] - r[2] * c[1],
        r[2] * c[0] - r[0] * c[2],
        r[0] * c[1] - r[1] * c[0],
    )
    size = math.sqrt(sum(v * v for v in normal))
    if not size or not math.isfinite(size):
        return "unknown"
    axis = max(range(3), key=lambda i: abs(normal[i]))
    if abs(normal[axis]) / size < 0.95:  # more than ~18 degrees off every main plane
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _window_text(window: Window | VOILUT | None) -> str | None:
    if window is None:
        return None
    center = getattr(window, "center", None)
    width = getattr(window, "width", None)
    if center is not None and width is not None:
        try:
            text = f"center {_fmt(float(center))}, width {_fmt(float(width))}"
        except (TypeError, ValueError):
            return None
        explanation = getattr(window, "explanation", "") or ""
        function = getattr(window, "function", "") or ""
        extra = [e for e in (explanation, function if function != "LINEAR" else "") if e]
        return text + (f" ({', '.join(extra)})" if extra else "")
    return f"VOI LUT ({type(window).__name__})"


def _series_facts(series: Series) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    modality = safe_get(series, "modality", "")
    if modality:
        facts.append(("Modality", modality))
    patient = safe_get(series, "patient_name", "")
    if patient:
        facts.append(("Patient", patient))
    n = len(series)
    n_times = safe_get(series, "n_times", 1) or 1
    count = f"{n} slice{'s' if n != 1 else ''}"
    if n_times > 1:
        key = safe_get(series, "time_key")
        count += f" × {n_times} time points" + (f" ({key})" if key else "")
    n_files = len(safe_get(series, "files", ()))
    if n_files:
        count += f" from {n_files} file{'s' if n_files != 1 else ''}"
    facts.append(("Count", count))
    shape = tuple(safe_get(series, "shape", ()))
    if shape and n:
        rows, cols = (shape[-3], shape[-2]) if safe_get(series, "is_color") else shape[-2:]
        size = f"{rows} × {cols}"
        photometric = safe_get(series, "photometric", "")
        if photometric:
            size += f" ({photometric})"
        facts.append(("Size", size))
    spacing = safe_get(series, "spacing")
    if spacing and n:
        uniform = safe_get(series, "is_uniform", True)
        text = " × ".join(_fmt(float(v)) for v in spacing) + " mm (row, column, slice)"
        if not uniform:
            text += ", not uniform"
        facts.append(("Spacing", text))
    orientation = safe_get(series, "orientation")
    if orientation is not None:
        cosines = ", ".join(_fmt(float(v)) for v in list(orientation))
        facts.append(("Orientation", f"{orientation_label(orientation)} [{cosines}]"))
    window = _window_text(safe_get(series, "default_window"))
    if window:
        facts.append(("Window", window))
    sort_method = safe_get(series, "sort_method", "")
    if sort_method:
        facts.append(("Sorted by", sort_method))
    uid = safe_get(series, "series_uid", "")
    if uid:
        facts.append(("Series UID", uid))
    return facts


def _thumbnail_indices(n: int, count: int) -> list[int]:
    if n <= 0 or count <= 0:
        return []
    if n <= count:
        return list(range(n))
    return (
        sorted({round(i * (n - 1) / (count - 1)) for i in range(count)}) if count > 1 else [n // 2]
    )


def _slice_figure(series: Series, index: int, size: int) -> Markup:
    caption = tag("div", f"slice {index}")
    try:
        image = series.display(index)
        img = thumbnail_img(image, max_size=size, alt=f"slice {index}")
    except BaseException as exc:  # a frame that does not decode becomes a note, never an error
        _not_interrupt(exc)
        reason = (safe_get(series, "failed") or {}).get((index, 0)) or _short_error(exc)
        img = tag(
            "div",
            f"cannot decode: {reason}",
            class_="dw-note dw-note-warning",
            style=f"width:{int(size)}px",
            title=reason,
        )
    return tag("figure", img, caption, class_="dw-figure")


def _strip(series: Series, n_thumbnails: int, size: int) -> Markup:
    n = len(series)
    figures = [_slice_figure(series, i, size) for i in _thumbnail_indices(n, n_thumbnails)]
    if not figures:
        return note("no image frames")
    return tag("div", figures, class_="dw-strip")


def findings_table(findings: Sequence[Finding], *, max_findings: int = 50) -> Markup:
    """A table of QA findings (severity badge, code, message, files), most severe first.

    Parameters
    ----------
    findings : sequence of Finding
        Objects with ``severity``, ``code``, ``message`` and ``paths``.
    max_findings : int
        Rows shown; a line counts the rest.

    Returns
    -------
    Markup

    Examples
    --------
    >>> from dicom_widgets.series import Finding
    >>> html = findings_table([Finding("warning", "gap", "a <gap>"), Finding("error", "x", "y")])
    >>> html.index("dw-sev-error") < html.index("dw-sev-warning"), "a &lt;gap&gt;" in html
    (True, True)
    """
    ordered = sorted(
        findings, key=lambda f: _SEVERITY_ORDER.get(str(getattr(f, "severity", "")), 3)
    )
    rows = []
    for finding in ordered[:max_findings]:
        severity = str(getattr(finding, "severity", "info"))
        paths = list(getattr(finding, "paths", ()) or ())
        shown = ", ".join(str(p) for p in paths[:3])
        if len(paths) > 3:
            shown += f" and {len(paths) - 3} more"
        rows.append(
            tag(
                "tr",
                tag("td", badge(severity, severity)),
                tag("td", getattr(finding, "code", ""), class_="dw-vr"),
                tag("td", getattr(finding, "message", ""), class_="dw-value"),
                tag("td", shown, class_="dw-value dw-muted"),
            )
        )
    head = tag("thead", tag("tr", [tag("th", h) for h in ("Severity", "Code", "Message", "Files")]))
    parts = [tag("table", head, tag("tbody", rows), class_="dw-table dw-findings")]
    if len(ordered) > max_findings:
        parts.append(
            tag("div", f"… {len(ordered) - max_findings} more findings", class_="dw-truncated")
        )
    return tag("div", parts)


def _severity_counts(findings: Sequence[Finding]) -> Markup:
    counts: dict[str, int] = {}
    for finding in findings:
        sev = str(getattr(finding, "severity", "info"))
        counts[sev] = counts.get(sev, 0) + 1
    if not counts:
        return badge("no findings", "ok")
    ordered = sorted(counts.items(), key=lambda kv: _SEVERITY_ORDER.get(kv[0], 3))
    return tag("span", [badge(f"{n} {sev}", sev) for sev, n in ordered])


def series_body(
    series: Series,
    *,
    n_thumbnails: int = 5,
    thumbnail_size: int = 96,
    header: bool = True,
    max_findings: int = 50,
) -> Markup:
    """The rich body of a series repr (to embed inside :func:`~dicom_widgets.html.wrap`).

    Parameters are those of :func:`series_html`.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> body = series_body(dw.load_series(ct_phantom(n_slices=3, size=16), progress=False))
    >>> body.count("<img") == 3
    True
    """
    # Thumbnails first: frames that fail to decode add findings.
    strip = _strip(series, n_thumbnails, thumbnail_size)
    findings = list(safe_get(series, "findings", []))
    facts = _series_facts(series)
    number = safe_get(series, "series_number", "")
    description = safe_get(series, "description", "")
    modality = safe_get(series, "modality", "")
    title = (
        " · ".join(p for p in (modality, f"#{number}" if number else "", description) if p)
        or "Series"
    )
    head = tag(
        "div",
        tag("div", "dicom_widgets.Series", class_="dw-obj-type"),
        tag("div", title, class_="dw-title"),
        tag("span", " "),
        _severity_counts(findings),
        tag(
            "ul",
            [tag("li", tag("span", k, class_="dw-key"), v) for k, v in facts],
            class_="dw-summary",
        ),
        class_="dw-header",
    )
    sections = [strip]
    if findings:
        sections.append(
            collapsible_section(
                "QA findings",
                findings_table(findings, max_findings=max_findings),
                open=True,
                count=len(findings),
            )
        )
    if header and len(series):
        sections.append(_first_header_section(series))
    return tag("div", head, sections, class_="dw-series")


def _first_header_section(series: Series) -> Markup:
    from .dataset import dataset_body

    try:
        body = dataset_body(series.dataset(0), thumbnail=False, max_rows=2000)
    except Exception as exc:  # noqa: BLE001 - a file gone or unreadable: the rest still shows
        body = note(f"cannot render the header: {_short_error(exc)}", kind="error")
    return collapsible_section("Header of the first instance", body)


def series_text(series: Series) -> str:
    """Plain-text summary of a series (its ``repr`` when available).

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> series_text(dw.load_series(ct_phantom(n_slices=3, size=16), progress=False))[:10]
    '<Series CT'
    """
    try:
        return repr(series)
    except Exception:  # noqa: BLE001 - a duck-typed series' own repr failing; say what we know
        return "\n".join(f"{k}: {v}" for k, v in _series_facts(series))


def series_html(
    series: Series,
    *,
    n_thumbnails: int = 5,
    thumbnail_size: int = 96,
    header: bool = True,
    max_findings: int = 50,
) -> str:
    """Render a series: summary, QA findings, a thumbnail strip and the first header.

    Parameters
    ----------
    series : Series
        A :class:`dicom_widgets.series.Series`.
    n_thumbnails : int
        Thumbnails in the strip (evenly spread over the slices).
    thumbnail_size : int
        Longest side of each thumbnail, in pixels.
    header : bool
        Add the (collapsed) header of the first instance.
    max_findings : int
        Findings listed; a line counts the rest.

    Returns
    -------
    str
        HTML with the stylesheet, the rich part and a ``<pre>`` text fallback.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> html = series_html(dw.load_series(ct_phantom(n_slices=3, size=16), progress=False))
    >>> "Spacing" in html
    True
    """
    return rendered(
        "series",
        series_text(series),
        lambda: series_body(
            series,
            n_thumbnails=n_thumbnails,
            thumbnail_size=thumbnail_size,
            header=header,
            max_findings=max_findings,
        ),
    )


# ----------------------------------------------------------------------------------------
# catalog


def _entries(catalog: SeriesCatalog) -> list[Any]:
    value = safe_get(catalog, "entries")
    if value is not None and not callable(value):
        return list(value)
    return []


def _entry_get(entry: Any, *names: str) -> Any:
    for name in names:
        if isinstance(entry, dict) and name in entry:
            return entry[name]
        value = safe_get(entry, name)
        if value is not None and not callable(value):
            return value
    return None


def _catalog_thumbnail(
    catalog: SeriesCatalog, index: int, size: int
) -> tuple[Markup, list[Finding] | None]:
    """Thumbnail of the middle slice, and the opened series' findings (decode failures too)."""
    try:
        series = catalog[index]
    except Exception as exc:  # noqa: BLE001 - one series that cannot open is one note
        return tag(
            "div", "cannot open", class_="dw-note dw-note-error", title=_short_error(exc)
        ), None
    findings = None
    try:
        n = len(series)
        if not n:
            thumb = note("no frames")
        else:
            image = series.display(n // 2)
            thumb = thumbnail_img(image, max_size=size, alt=f"series {index}, slice {n // 2}")
    except BaseException as exc:  # noqa: BLE001 - pyo3 decoders panic with a BaseException
        _not_interrupt(exc)
        thumb = tag(
            "div", "cannot decode", class_="dw-note dw-note-warning", title=_short_error(exc)
        )
    findings = safe_get(series, "findings")
    return thumb, None if findings is None else list(findings)


def catalog_text(catalog: SeriesCatalog) -> str:
    """Plain-text summary of a catalog (its ``repr`` when available).

    Examples
    --------
    >>> import tempfile
    >>> import dicom_widgets as dw
    >>> catalog_text(dw.scan(tempfile.mkdtemp(), progress=False))[:15]
    '<SeriesCatalog '
    """
    try:
        return repr(catalog)
    except Exception:  # noqa: BLE001 - a duck-typed catalog's own repr failing; count instead
        return f"SeriesCatalog with {len(_entries(catalog))} series"


def catalog_html(
    catalog: SeriesCatalog,
    *,
    thumbnail_size: int = 64,
    max_thumbnails: int = 50,
    max_series: int = 500,
) -> str:
    """Render a scan catalog: one row per series with a thumbnail and its findings count.

    Parameters
    ----------
    catalog : SeriesCatalog
        As returned by :func:`dicom_widgets.scan`.
    thumbnail_size : int
        Longest side of each thumbnail, in pixels.
    max_thumbnails : int
        Rows after this one get no thumbnail (each one decodes a frame).
    max_series : int
        Rows shown; a line counts the rest.

    Returns
    -------
    str
        HTML with the stylesheet, the rich part and a ``<pre>`` text fallback.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom, write_series
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_series(ct_phantom(n_slices=3, size=16), folder / "ct")
    >>> html = catalog_html(dw.scan(folder, progress=False))
    >>> "1 series" in html and html.count("<img") == 1
    True
    """
    return rendered(
        "catalog",
        catalog_text(catalog),
        lambda: _catalog_body(catalog, thumbnail_size, max_thumbnails, max_series),
    )


def _catalog_body(
    catalog: SeriesCatalog, size: int, max_thumbnails: int, max_series: int
) -> Markup:
    entries = _entries(catalog)
    links = {link.key: link for link in safe_get(catalog, "links", [])}
    rows = []
    for i, entry in enumerate(entries[:max_series]):
        thumb: Markup | str = ""
        findings: list[Finding] | None = None
        if _entry_get(entry, "has_pixels") is False:
            thumb = note("no pixels")
        elif i < max_thumbnails:
            thumb, findings = _catalog_thumbnail(catalog, i, size)
        if findings is None:
            findings = list(_entry_get(entry, "findings") or [])
        link = links.get(_entry_get(entry, "key"))
        rows.append(_catalog_row(entry, thumb, findings, link.target if link else None))
    errors = list(safe_get(catalog, "errors", []))
    non_dicom = list(safe_get(catalog, "non_dicom", []))
    parts: list[Markup] = [_catalog_header(catalog, len(entries), errors, non_dicom)]
    if entries:
        parts.append(tag("table", _CATALOG_HEAD, tag("tbody", rows), class_="dw-table dw-catalog"))
    else:
        parts.append(note("no DICOM series found"))
    if len(entries) > max_series:
        parts.append(
            tag("div", f"… {len(entries) - max_series} more series", class_="dw-truncated")
        )
    if len(entries) > max_thumbnails and max_series > max_thumbnails:
        parts.append(note(f"Thumbnails are shown for the first {max_thumbnails} series only."))
    if errors:
        parts.append(_listed("Files that could not be read", [_error_text(e) for e in errors]))
    if non_dicom:
        parts.append(_listed("Not DICOM", [str(p) for p in non_dicom]))
    return tag("div", parts, class_="dw-catalog-wrap")


_CATALOG_COLUMNS = (
    "", "Modality", "#", "Description", "Patient", "Study", "Count", "Size", "Findings", "Key",
)  # fmt: skip
_CATALOG_HEAD = tag("thead", tag("tr", [tag("th", h) for h in _CATALOG_COLUMNS]))


def _catalog_header(
    catalog: SeriesCatalog, n_series: int, errors: list[Any], non_dicom: list[Any]
) -> Markup:
    summary = [f"{n_series} series"]
    if errors:
        summary.append(f"{len(errors)} unreadable")
    if non_dicom:
        summary.append(f"{len(non_dicom)} non-DICOM")
    source = safe_get(catalog, "source", "")
    return tag(
        "div",
        tag("div", "dicom_widgets.SeriesCatalog", class_="dw-obj-type"),
        tag("div", ", ".join(summary), class_="dw-title"),
        tag("div", source, class_="dw-muted") if source else None,
        class_="dw-header",
    )


def _catalog_row(
    entry: Any, thumb: Markup | str, findings: list[Finding], link_target: str | None
) -> Markup:
    """One catalog row: thumbnail, modality, number, description, patient, study, counts."""
    worst = min(
        (_SEVERITY_ORDER.get(str(getattr(f, "severity", "info")), 3) for f in findings),
        default=3,
    )
    severity = {0: "error", 1: "warning", 2: "info"}.get(worst, "ok")
    instances = _entry_get(entry, "n_instances")
    frames = _entry_get(entry, "n_frames")
    count = f"{instances} inst." if instances is not None else ""
    if frames is not None and frames != instances:
        count += f" / {frames} frames"
    rows, cols = _entry_get(entry, "rows"), _entry_get(entry, "cols", "columns")
    study = " · ".join(
        str(p)
        for p in (_entry_get(entry, "study_date"), _entry_get(entry, "study_description"))
        if p
    )
    split = _entry_get(entry, "split_reason")
    description = tag(
        "td",
        _entry_get(entry, "series_description", "description") or "",
        tag("div", f"split: {split}", class_="dw-muted") if split else None,
        tag("div", f"→ {link_target}", class_="dw-muted") if link_target else None,
        class_="dw-value",
    )
    return tag(
        "tr",
        tag("td", thumb),
        tag("td", _entry_get(entry, "modality") or "", class_="dw-vr"),
        tag("td", _entry_get(entry, "series_number") or "", class_="dw-vm"),
        description,
        tag("td", _entry_get(entry, "patient_name") or "", class_="dw-value"),
        tag("td", study, class_="dw-value"),
        tag("td", count),
        tag("td", f"{rows} × {cols}" if rows and cols else ""),
        tag("td", badge(str(len(findings)), severity)),
        tag("td", _entry_get(entry, "key", "series_uid") or "", class_="dw-tag dw-muted"),
    )


def _listed(title: str, items: list[str], limit: int = 50) -> Markup:
    """A collapsed list of the first ``limit`` items, a line counting the rest."""
    shown = [tag("li", item) for item in items[:limit]]
    if len(items) > limit:
        shown.append(tag("li", f"… {len(items) - limit} more"))
    return collapsible_section(title, tag("ul", shown), count=len(items))


def _error_text(error: Any) -> str:
    if isinstance(error, tuple) and len(error) == 2:
        return f"{error[0]}: {error[1]}"
    return str(error)
