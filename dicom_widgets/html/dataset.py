"""HTML and text reprs of a pydicom :class:`~pydicom.dataset.Dataset`.

The rows come from :func:`dicom_widgets.tags.iter_rows` (the one walker of a dataset);
this module only lays them out: a header line, module-like sections (file meta,
patient, study, series, equipment, image, pixel data, other, private) that collapse
with CSS only, sequences nested as collapsible items, and a thumbnail of the first
frame. Big headers are capped (items per sequence, rows, total HTML size) and the
output says so. Nothing here raises on bad data: problems are shown as marks and notes.

Examples
--------
>>> from dicom_widgets.data import pydicom_file
>>> from dicom_widgets._compat import read_dataset
>>> from dicom_widgets.html import dataset_html
>>> html = dataset_html(read_dataset(pydicom_file("ct_small")))
>>> "CT Image Storage" in html and "Patient" in html
True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from .._compat import as_text, safe_get
from ._core import (
    Markup,
    collapsible_section,
    join,
    note,
    rendered,
    tag,
    thumbnail_img,
    wrap,
)

if TYPE_CHECKING:
    from ..tags import ElementRow

__all__ = [
    "DEFAULT_MAX_ITEMS_PER_SEQUENCE",
    "DEFAULT_MAX_ROWS",
    "DEFAULT_MAX_HTML_CHARS",
    "MAX_THUMBNAIL_DECODE_BYTES",
    "SECTIONS",
    "dataset_html",
    "dataset_text",
    "dataset_plain_text",
    "count_elements",
    "dataset_body",
    "dataset_summary",
    "dataset_thumbnail",
    "section_of",
]

#: Items rendered per sequence before a "… N more items" line.
DEFAULT_MAX_ITEMS_PER_SEQUENCE = 10
#: Rows (elements and items) taken from the dataset before rendering stops.
DEFAULT_MAX_ROWS = 5000
#: Size of the rendered rows, in characters, after which the rest is left out.
DEFAULT_MAX_HTML_CHARS = 1_500_000
#: Sections with at most this many rows start open.
OPEN_SECTION_ROWS = 40
#: Lines of the ``<pre>`` text fallback inside the HTML repr.
TEXT_FALLBACK_LINES = 60

#: Section titles, in display order.
SECTIONS: tuple[str, ...] = (
    "File meta",
    "Patient",
    "Study",
    "Series",
    "Equipment",
    "Image",
    "Pixel data",
    "Other",
    "Private",
)

# Which top-level public elements go in which section. Modules overlap in the standard
# (an element can sit in several IODs' modules); this is a reading aid, not a validator.
_STUDY = {
    0x00080020, 0x00080030, 0x00080050, 0x00080051, 0x00080090, 0x00080096, 0x0008009C,
    0x00081030, 0x00081032, 0x00081048, 0x00081049, 0x00081060, 0x00081062, 0x00081080,
    0x00081084, 0x0020000D, 0x00200010, 0x00101010, 0x00101020, 0x00101030, 0x00102180,
    0x001021B0, 0x00321033, 0x00321060, 0x00321064, 0x00400244, 0x00400245, 0x00400253,
    0x00400254, 0x00400275,
}  # fmt: skip
_SERIES = {
    0x00080021, 0x00080031, 0x00080060, 0x0008103E, 0x0008103F, 0x00081050, 0x00081052,
    0x00081070, 0x00081072, 0x00081111, 0x00081250, 0x00180015, 0x00181030, 0x00185100,
    0x0020000E, 0x00200011, 0x00200052, 0x00200060, 0x00201040, 0x00280108, 0x00280109,
}  # fmt: skip
_EQUIPMENT = {
    0x00080070, 0x00080080, 0x00080081, 0x00081010, 0x00081040, 0x00081090, 0x00181000,
    0x00181002, 0x00181008, 0x00181016, 0x00181018, 0x00181019, 0x00181020, 0x00181050,
    0x00181200, 0x00181201, 0x00280120,
}  # fmt: skip
_IMAGE_EXTRA = {
    0x00080008, 0x00080016, 0x00080018, 0x00080022, 0x00080023, 0x0008002A, 0x00080032,
    0x00080033, 0x00082111, 0x00082112,
}  # fmt: skip


def section_of(tag_value: int, *, in_file_meta: bool = False) -> str:
    """Return the section title a top-level element is shown under.

    Parameters
    ----------
    tag_value : int
        The element's tag.
    in_file_meta : bool
        The element belongs to the file meta information (group 0002).

    Returns
    -------
    str
        One of :data:`SECTIONS`.

    Examples
    --------
    >>> section_of(0x00100010), section_of(0x7FE00010), section_of(0x00091001)
    ('Patient', 'Pixel data', 'Private')
    """
    group = tag_value >> 16
    if in_file_meta or group == 0x0002:
        return "File meta"
    if group & 1:
        return "Private"
    if group == 0x7FE0 or (0x6000 <= group <= 0x60FF and (tag_value & 0xFFFF) == 0x3000):
        return "Pixel data"
    if group == 0x0010 and tag_value not in _STUDY:
        return "Patient"
    if tag_value in _STUDY:
        return "Study"
    if tag_value in _SERIES:
        return "Series"
    if tag_value in _EQUIPMENT:
        return "Equipment"
    if tag_value in _IMAGE_EXTRA or group in (0x0018, 0x0020, 0x0028):
        return "Image"
    return "Other"


# ----------------------------------------------------------------------------------------
# header summary


def _text(ds: Dataset | None, keyword: str) -> str | None:
    """A header value as DICOM writes it, ``None`` when absent, empty or unreadable."""
    return as_text(safe_get(ds, keyword, quiet=True)).strip() or None


@dataclass
class _Summary:
    title: str
    kind: str
    lines: list[tuple[str, str]] = field(default_factory=list)


def dataset_summary(ds: Dataset) -> list[tuple[str, str]]:
    """The header facts of a dataset as ``(label, text)`` pairs (no HTML).

    Covers the SOP class, modality, patient, study, series, image size, transfer syntax
    and the number of elements; missing facts are left out.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> dict(dataset_summary(read_dataset(pydicom_file("ct_small"))))["Modality"]
    'CT'
    """
    return _summarise(ds).lines


def _summarise(ds: Dataset) -> _Summary:
    kind = type(ds).__name__
    lines: list[tuple[str, str]] = []
    sop = safe_get(ds, "SOPClassUID", quiet=True)
    sop_name = None
    if sop is not None:
        sop_name = as_text(getattr(sop, "name", None) or sop).strip() or None
    modality = _text(ds, "Modality")
    title_parts = [p for p in (sop_name, modality) if p]
    if sop_name:
        lines.append(("SOP class", sop_name))
    if modality:
        lines.append(("Modality", modality))

    patient = [
        _text(ds, "PatientName"),
        _text(ds, "PatientID") and f"ID {_text(ds, 'PatientID')}",
        _text(ds, "PatientSex"),
        _text(ds, "PatientAge") or _text(ds, "PatientBirthDate"),
    ]
    if any(patient):
        lines.append(("Patient", " · ".join(p for p in patient if p)))
    study = [
        _text(ds, "StudyDate"),
        _text(ds, "StudyDescription"),
        _text(ds, "AccessionNumber") and f"accession {_text(ds, 'AccessionNumber')}",
    ]
    if any(study):
        lines.append(("Study", " · ".join(s for s in study if s)))
    series = [
        _text(ds, "SeriesNumber") and f"#{_text(ds, 'SeriesNumber')}",
        _text(ds, "SeriesDescription"),
        _text(ds, "InstanceNumber") and f"instance {_text(ds, 'InstanceNumber')}",
    ]
    if any(series):
        lines.append(("Series", " · ".join(s for s in series if s)))

    rows, cols = safe_get(ds, "Rows", quiet=True), safe_get(ds, "Columns", quiet=True)
    if rows is not None and cols is not None:
        size = f"{rows} × {cols}"
        frames = _text(ds, "NumberOfFrames")
        if frames and frames not in ("1", "0"):
            size += f" × {frames} frames"
        spp = safe_get(ds, "SamplesPerPixel", quiet=True)
        photometric = _text(ds, "PhotometricInterpretation")
        extra = [p for p in (photometric, spp not in (None, 1) and f"{spp} samples") if p]
        if extra:
            size += f" ({', '.join(str(e) for e in extra)})"
        lines.append(("Image", size))
        title_parts.append(f"{rows}×{cols}")
    meta = getattr(ds, "file_meta", None)
    syntax = None
    if meta is not None:
        ts = safe_get(meta, "TransferSyntaxUID", quiet=True)
        if ts is not None:
            syntax = as_text(getattr(ts, "name", None) or ts).strip() or None
    if syntax:
        lines.append(("Transfer syntax", syntax))
        title_parts.append(syntax)
    filename = getattr(ds, "filename", None)
    if isinstance(filename, str) and filename:
        lines.append(("File", filename))
    lines.append(("Elements", f"{len(ds)} top-level"))
    title = " · ".join(title_parts) if title_parts else "DICOM dataset"
    return _Summary(title=title, kind=kind, lines=lines)


# ----------------------------------------------------------------------------------------
# thumbnail


#: A thumbnail is skipped (with a note) when getting its frame would decode more than this.
MAX_THUMBNAIL_DECODE_BYTES = 256 * 1024 * 1024


def _decode_cost(ds: Dataset) -> int:
    """Bytes decoded to get frame 0: one frame on pydicom 3, every frame on pydicom 2.4."""
    from .._compat import IS_PYDICOM3

    def number(keyword: str, default: int) -> int:
        try:
            return int(safe_get(ds, keyword, quiet=True) or default)
        except (TypeError, ValueError):
            return default

    frame = (
        number("Rows", 0)
        * number("Columns", 0)
        * number("SamplesPerPixel", 1)
        * max(1, number("BitsAllocated", 8) // 8)
    )
    return frame if IS_PYDICOM3 else frame * max(1, number("NumberOfFrames", 1))


def dataset_thumbnail(ds: Dataset, max_size: int = 128) -> Markup:
    """A windowed thumbnail ``<img>`` of the first frame, or a note saying why there is none.

    The frame is decoded, converted to modality units and windowed by
    :func:`dicom_widgets.display.to_display` (the file's window, else automatic).

    Parameters
    ----------
    ds : Dataset
        A dataset with Pixel Data.
    max_size : int
        Longest side of the thumbnail.

    Returns
    -------
    Markup
        ``<img>`` or a ``dw-note`` element; empty when the dataset has no pixel data.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> dataset_thumbnail(ct_phantom(n_slices=1, size=16)[0]).startswith("<img")
    True
    """
    if not any(t in ds for t in (0x7FE00010, 0x7FE00008, 0x7FE00009)):
        return Markup("")
    cost = _decode_cost(ds)
    if cost > MAX_THUMBNAIL_DECODE_BYTES:
        # A repr must stay quick: a whole-slide image or a long cine on pydicom 2.4
        # (which decodes every frame to get one) is not decoded for a thumbnail.
        return note(
            f"No thumbnail: the first frame would decode {cost / 2**20:,.0f} MB of pixel data",
            kind="info",
        )
    try:
        image = _first_frame_display(ds)
    except BaseException as exc:  # decoding is best effort: say why, never raise
        # Rust decoders (pylibjpeg-rle via pyo3) raise PanicException, a BaseException,
        # on corrupt data: it must become a note too. Only real interrupts propagate.
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        reason = str(exc).strip().split("\n")[0][:200] or type(exc).__name__
        return note(f"No thumbnail: pixel data could not be decoded ({reason})", kind="warning")
    return thumbnail_img(image, max_size=max_size, alt="first frame", title="first frame")


def _first_frame_display(ds: Dataset) -> Any:
    import numpy as np

    from .._compat import apply_modality_lut, decode_frame, decoded_photometric
    from ..display import to_display

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = np.asarray(decode_frame(ds, 0))
        # What the decoder returned (pydicom 3 converts YBR to RGB, 2.4 does not).
        photometric = decoded_photometric(ds) or "MONOCHROME2"
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        if samples == 1 and photometric != "PALETTE COLOR":
            frame = np.asarray(apply_modality_lut(frame, ds), dtype=np.float64)
        return to_display(frame, None, photometric=photometric, ds=ds)


# ----------------------------------------------------------------------------------------
# rows


class _Budget:
    """Counts rendered characters and rows left out once the limit is reached."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.skipped = 0

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


_COLUMNS = ("Tag", "Keyword", "VR", "VM", "Value")


def _collect_rows(
    ds: Dataset, max_items: int | None, max_rows: int | None, max_chars: int
) -> tuple[list[ElementRow], bool]:
    from ..tags import iter_rows

    rows: list[ElementRow] = []
    truncated = False
    iterator = iter_rows(ds, max_items_per_sequence=max_items, max_chars=max_chars)
    try:
        for row in iterator:
            if max_rows is not None and len(rows) >= max_rows:
                truncated = True
                break
            rows.append(row)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return rows, truncated


def _value_cell(row: ElementRow) -> Markup:
    summary = row.summary
    if row.problem:
        return tag(
            "td",
            tag("span", "invalid", class_="dw-invalid-label"),
            tag("span", summary, class_="dw-invalid", title=row.problem),
            class_="dw-value",
        )
    return tag("td", summary, class_="dw-value", title=None)


def _keyword_title(row: ElementRow) -> str:
    # The column is fixed-width (long labels end in an ellipsis): the tooltip has it all.
    name = row.name or ""
    return f"{row.label}: {name}" if name and name != row.label else row.label


def _keyword_cell(row: ElementRow) -> Markup:
    cls = "dw-keyword dw-private" if row.is_private else "dw-keyword"
    return tag("td", row.label, class_=cls, title=_keyword_title(row))


def _render_rows(
    rows: Sequence[ElementRow],
    children: dict[int, list[ElementRow]],
    budget: _Budget,
    max_items: int | None,
) -> Markup:
    trs: list[Markup] = []
    for row in rows:
        if budget.exhausted:
            budget.skipped += 1 + _count_descendants(row, children)
            continue
        if row.is_sequence and row.item_count:
            # One full-width row: deep nesting then indents by a few pixels per level
            # instead of by the width of the tag/keyword/VR/VM columns.
            trs.append(_sequence_row(row, children, budget, max_items))
            continue
        value = (
            tag("td", "empty sequence (0 items)", class_="dw-value dw-muted")
            if row.is_sequence
            else _value_cell(row)
        )
        tr = tag(
            "tr",
            tag("td", row.tag_text, class_="dw-tag"),
            _keyword_cell(row),
            tag("td", row.vr, class_="dw-vr"),
            tag("td", row.vm, class_="dw-vm"),
            value,
            class_="dw-invalid-row" if row.problem else None,
        )
        budget.used += len(tr)
        trs.append(tr)
    if not trs:
        return Markup("")
    head = tag("thead", tag("tr", [tag("th", c) for c in _COLUMNS]))
    return tag("table", head, tag("tbody", trs), class_="dw-table dw-elements")


def _count_descendants(row: ElementRow, children: dict[int, list[ElementRow]]) -> int:
    total = 0
    stack = list(children.get(row.index, ()))
    while stack:
        child = stack.pop()
        total += 1
        stack.extend(children.get(child.index, ()))
    return total


def _sequence_row(
    row: ElementRow, children: dict[int, list[ElementRow]], budget: _Budget, max_items: int | None
) -> Markup:
    n = row.item_count
    parts: list[Markup] = []
    if row.problem:
        parts.append(note(row.problem, kind="error"))
    for item in children.get(row.index, []):
        if budget.exhausted:
            budget.skipped += 1 + _count_descendants(item, children)
            continue
        elements = children.get(item.index, [])
        body = _render_rows(elements, children, budget, max_items)
        if not elements:
            body = note(item.problem or "empty item")
        parts.append(
            collapsible_section(item.label.capitalize(), body, count=item.summary, class_="dw-item")
        )
        budget.used += 200  # the item's own markup
    hidden = n - row.items_shown
    if hidden > 0:
        cap = f"; at most {max_items} items per sequence are shown" if max_items else ""
        parts.append(
            tag(
                "div",
                f"… {hidden} more item{'s' if hidden != 1 else ''}{cap}",
                class_="dw-truncated",
            )
        )
    # The label mimics the table's columns, so a sequence lines up with its siblings.
    keyword_class = "dw-c-keyword dw-private" if row.is_private else "dw-c-keyword"
    title = [
        tag("span", row.tag_text, class_="dw-c-tag"),
        tag("span", row.label, class_=keyword_class, title=_keyword_title(row)),
        tag("span", row.vr, class_="dw-c-vr"),
        tag("span", row.vm, class_="dw-c-vm"),
        tag("span", f"{n} item" if n == 1 else f"{n} items", class_="dw-c-value"),
    ]
    section = collapsible_section(title, parts, class_="dw-sequence")
    return tag(
        "tr",
        tag("td", section, colspan=5, class_="dw-nested"),
        class_="dw-invalid-row" if row.problem else None,
    )


# ----------------------------------------------------------------------------------------
# public entry points


def dataset_body(
    ds: Dataset,
    *,
    max_items_per_sequence: int | None = DEFAULT_MAX_ITEMS_PER_SEQUENCE,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    max_html_chars: int = DEFAULT_MAX_HTML_CHARS,
    max_chars: int = 80,
    thumbnail: bool = True,
    thumbnail_size: int = 128,
    open_sections: Iterable[str] | None = None,
    header: bool = True,
) -> Markup:
    """The rich body of a dataset repr, without the outer wrapper and stylesheet.

    Use it to embed a dataset inside another repr (the series repr does, for its first
    instance); it must end up inside :func:`~dicom_widgets.html.wrap` to be styled.
    Parameters are those of :func:`dataset_html`.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> from dicom_widgets.html import wrap
    >>> ds = Dataset()
    >>> ds.PatientName = "Doe^Jane"
    >>> html = wrap(dataset_body(ds, header=False), "Doe^Jane")
    >>> "Doe^Jane" in html and html.count("<style>") == 1
    True
    """
    rows, truncated = _collect_rows(ds, max_items_per_sequence, max_rows, max_chars)
    return _body_from_rows(
        ds,
        rows,
        truncated,
        max_items_per_sequence=max_items_per_sequence,
        max_rows=max_rows,
        max_html_chars=max_html_chars,
        thumbnail=thumbnail,
        thumbnail_size=thumbnail_size,
        open_sections=open_sections,
        header=header,
    )


def _body_from_rows(
    ds: Dataset,
    rows: list[ElementRow],
    truncated: bool,
    *,
    max_items_per_sequence: int | None,
    max_rows: int | None,
    max_html_chars: int,
    thumbnail: bool,
    thumbnail_size: int,
    open_sections: Iterable[str] | None,
    header: bool,
) -> Markup:
    # The summary reads values after the rows were collected: the walker must be the
    # first to convert raw elements, since conversion warnings become its markers.
    summary = _summarise(ds)
    children: dict[int, list[ElementRow]] = {}
    top: dict[str, list[ElementRow]] = {name: [] for name in SECTIONS}
    for row in rows:
        if row.parent is None:
            top[section_of(row.tag, in_file_meta=row.in_file_meta)].append(row)
        else:
            children.setdefault(row.parent, []).append(row)

    budget = _Budget(max_html_chars)
    opened = set(open_sections) if open_sections is not None else None
    sections: list[Markup] = []
    for name in SECTIONS:
        section_rows = top[name]
        if not section_rows:
            continue
        body = _render_rows(section_rows, children, budget, max_items_per_sequence)
        if opened is not None:
            is_open = name in opened
        else:
            subtree = len(section_rows) + sum(
                _count_descendants(r, children) for r in section_rows if r.is_sequence
            )
            is_open = name not in ("File meta", "Private") and subtree <= OPEN_SECTION_ROWS
        sections.append(
            collapsible_section(
                name, body, open=is_open, count=len(section_rows), class_="dw-top-section"
            )
        )

    notes: list[Markup] = []
    if not rows:
        notes.append(note("empty dataset (no elements)"))
    if truncated:
        notes.append(
            tag(
                "div",
                f"Header truncated: only the first {max_rows:,} elements and items are shown "
                "(use TagExplorer or str(ds) for the whole header).",
                class_="dw-truncated",
            )
        )
    if budget.skipped:
        notes.append(
            tag(
                "div",
                f"Output truncated: {budget.skipped:,} more elements and items are not shown "
                f"(HTML size capped at {max_html_chars:,} characters).",
                class_="dw-truncated",
            )
        )

    parts: list[Markup] = []
    if header:
        parts.append(_header(summary, ds, thumbnail, thumbnail_size))
    parts.extend(notes)
    parts.append(tag("div", sections, class_="dw-sections"))
    return tag("div", parts, class_="dw-dataset")


def _header(summary: _Summary, ds: Dataset, thumbnail: bool, thumbnail_size: int) -> Markup:
    # Each fact in its own <bdi>: an Arabic or Hebrew name must not reorder its neighbours.
    items = [
        tag(
            "li",
            tag("span", label, class_="dw-key"),
            join((tag("bdi", part) for part in text.split(" · ")), sep=" · "),
        )
        for label, text in summary.lines
        if label not in ("SOP class",)
    ]
    info = tag(
        "div",
        tag("div", f"pydicom.{summary.kind}", class_="dw-obj-type"),
        tag("div", summary.title, class_="dw-title"),
        tag("ul", items, class_="dw-summary"),
    )
    thumb = dataset_thumbnail(ds, thumbnail_size) if thumbnail else None
    return tag("div", tag("div", info, thumb or None, class_="dw-row"), class_="dw-header")


#: Datasets with more elements than this (nested ones included) get a short text repr.
PLAIN_TEXT_MAX_ELEMENTS = 2000


def count_elements(ds: Dataset, limit: int | None = None) -> int:
    """Count the elements of ``ds``, nested sequence items included, without converting values.

    Parameters
    ----------
    ds : Dataset
    limit : int, optional
        Stop counting once the count exceeds ``limit`` (the result is then ``limit + 1``),
        so that asking "is this header big?" stays cheap on huge headers.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName = "A"
    >>> count_elements(ds)
    1
    """
    count = 0
    stack = [ds]
    while stack:
        current = stack.pop()
        for tag_value in list(current.keys()):
            count += 1
            if limit is not None and count > limit:
                return limit + 1
            try:
                # get_item leaves raw elements raw; sequences are parsed when read.
                elem = current.get_item(tag_value)
                value = getattr(elem, "value", None)
            except Exception:  # noqa: BLE001 - pydicom's converters raise many types
                continue
            if isinstance(value, DicomSequence):
                stack.extend(item for item in value if isinstance(item, Dataset))
    return count


def dataset_plain_text(ds: Dataset, *, max_elements: int = PLAIN_TEXT_MAX_ELEMENTS) -> str:
    """``str(ds)`` for ordinary headers; a short summary for huge ones.

    pydicom's text of a Philips enhanced MR header runs to megabytes and takes longer
    than the HTML repr; past ``max_elements`` (nested ones included) the text is
    :func:`dataset_text` plus a line saying how to get everything.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> ds = read_dataset(pydicom_file("ct_small"))
    >>> dataset_plain_text(ds) == str(ds)
    True
    """
    n = count_elements(ds, limit=max_elements)
    if n <= max_elements:
        try:
            return str(ds)
        except Exception as exc:  # pydicom's own text can fail on broken values
            return f"{dataset_text(ds)}\n(str(ds) failed: {type(exc).__name__}: {exc})"
    return (
        f"{dataset_text(ds)}\n"
        f"(more than {max_elements:,} elements including sequence items: "
        "print(ds) shows them all)"
    )


def dataset_text(ds: Dataset, *, max_lines: int = 60) -> str:
    """A short plain-text summary of a dataset (the text fallback of the HTML repr).

    The header facts, then the first top-level elements (tag, keyword, VR, value),
    capped at ``max_lines`` lines with a count of the rest.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> print(dataset_text(read_dataset(pydicom_file("ct_small")), max_lines=3))  # doctest: +ELLIPSIS
    FileDataset: CT Image Storage · CT · 128×128 · Explicit VR Little Endian
    ...
    """
    rows, truncated = _collect_rows(ds, 0, max_lines + 1, 64)
    return _text_from_rows(ds, rows, truncated, max_lines)


def _text_from_rows(ds: Dataset, rows: list[ElementRow], truncated: bool, max_lines: int) -> str:
    summary = _summarise(ds)
    lines = [f"{summary.kind}: {summary.title}"]
    lines.extend(f"  {label}: {text}" for label, text in summary.lines)
    top = [r for r in rows if r.parent is None]
    for row in top[:max_lines]:
        mark = " [invalid]" if row.problem else ""
        lines.append(f"{row.tag_text} {row.label[:32]:<32} {row.vr:<2} {row.summary}{mark}")
    if truncated or len(top) > max_lines:
        lines.append("… (more elements; str(ds) shows them all)")
    return "\n".join(lines)


def dataset_html(
    ds: Dataset,
    *,
    max_items_per_sequence: int | None = DEFAULT_MAX_ITEMS_PER_SEQUENCE,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    max_html_chars: int = DEFAULT_MAX_HTML_CHARS,
    max_chars: int = 80,
    thumbnail: bool = True,
    thumbnail_size: int = 128,
    open_sections: Iterable[str] | None = None,
) -> str:
    """Render a pydicom dataset as a rich, collapsible, escaped HTML repr.

    Parameters
    ----------
    ds : Dataset
        Any pydicom dataset (file dataset, sequence item, dataset built in memory).
    max_items_per_sequence : int or None
        Items rendered per sequence; the rest are counted in a "… N more items" line.
    max_rows : int or None
        Elements and items taken from the dataset before rendering stops (said in the output).
    max_html_chars : int
        Once the rendered rows reach this size, the remaining rows are left out (said in
        the output).
    max_chars : int
        Longest value text before it is shortened (its length is shown).
    thumbnail : bool
        Add a thumbnail of the first frame when there is pixel data (a note when it
        cannot be decoded).
    thumbnail_size : int
        Longest side of the thumbnail, in pixels.
    open_sections : iterable of str, optional
        Titles of the sections to show expanded (default: small public sections).

    Returns
    -------
    str
        HTML: one ``<div class="dw-repr">`` with the stylesheet, a ``<pre>`` text
        fallback and the rich part. Never raises for bad data.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName = "<script>alert(1)</script>"
    >>> "<script>alert" in dataset_html(ds)
    False
    """
    try:
        # One walk of the dataset feeds both the text fallback and the rich body.
        rows, truncated = _collect_rows(ds, max_items_per_sequence, max_rows, max_chars)
    except Exception as exc:  # last resort: a repr must never raise in a notebook
        message = f"Could not render this dataset: {type(exc).__name__}: {exc}"
        return str(wrap(note(message, kind="error"), message))
    try:
        text = _text_from_rows(ds, rows, truncated, TEXT_FALLBACK_LINES)
    except Exception as exc:  # noqa: BLE001 - last resort, as above
        text = f"{type(ds).__name__} (text summary failed: {type(exc).__name__}: {exc})"
    return rendered(
        "dataset",
        text,
        lambda: _body_from_rows(
            ds,
            rows,
            truncated,
            max_items_per_sequence=max_items_per_sequence,
            max_rows=max_rows,
            max_html_chars=max_html_chars,
            thumbnail=thumbnail,
            thumbnail_size=thumbnail_size,
            open_sections=open_sections,
            header=True,
        ),
    )
