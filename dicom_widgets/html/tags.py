"""HTML for the tag explorer (element tables, detail pane, varies table) and for a Diff.

Everything is built with :mod:`dicom_widgets.html._core` (``tag``/``table``/``wrap``),
so every DICOM value is escaped; nothing here formats a value into markup by hand.

Examples
--------
>>> from pydicom.dataset import Dataset
>>> from dicom_widgets.tags import flatten
>>> ds = Dataset(); ds.PatientName = "<script>alert(1)</script>"
>>> html = rows_table(flatten(ds))
>>> "<script>" in html, "&lt;script&gt;" in html
(False, True)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from ._core import Markup, badge, note, tag, wrap

if TYPE_CHECKING:  # pragma: no cover
    from ..tags import Diff, ElementRow, Variation

__all__ = [
    "rows_table",
    "explorer_html",
    "detail_html",
    "varies_html",
    "diff_html",
    "diff_text",
    "rows_text",
]

_INDENT_PX = 14
_SELECTED_STYLE = "outline: 2px solid var(--dw-info-color); font-weight: 600"
_KIND_LABELS = {"removed": "only in {a}", "added": "only in {b}", "changed": "changed"}
_KIND_SEVERITY = {"removed": "error", "added": "ok", "changed": "warning"}


def _invalid_marker(row: ElementRow) -> Markup | None:
    if row.problem is None:
        return None
    label = "UN" if row.problem.startswith("VR UN") else "invalid"
    return tag("span", label, class_="dw-invalid-label", title=row.problem)


def _keyword_cell(row: ElementRow) -> Markup:
    cls = "dw-private" if row.is_private else None
    style = f"padding-left: {4 + _INDENT_PX * row.depth}px"
    if row.kind == "item":
        return tag("span", tag("span", row.label, class_="dw-muted"), style=style)
    prefix = "▸ " if row.is_sequence else None
    return tag("span", prefix, tag("span", row.label, class_=cls, title=row.name), style=style)


def _value_cell(row: ElementRow) -> Markup:
    marker = _invalid_marker(row)
    value_cls = "dw-invalid" if row.problem else ("dw-muted" if row.kind == "item" else None)
    extra = None
    if row.is_sequence and row.items_shown < row.item_count:
        extra = tag(
            "span", f" ({row.item_count - row.items_shown} not shown)", class_="dw-truncated"
        )
    summary = row.summary
    if not summary and row.kind == "element" and not row.is_sequence:
        # An empty value is information (type 2 attributes): say so instead of a blank.
        return tag("span", marker, tag("span", "(empty)", class_="dw-muted"))
    return tag("span", marker, tag("span", summary, class_=value_cls, title=row.problem), extra)


def rows_table(
    rows: Sequence[ElementRow],
    *,
    selected: int | None = None,
    hits: Collection[int] = (),
    varying: Collection[str] = (),
    group_headers: Sequence[tuple[int, str]] = (),
    show_path: bool = False,
) -> Markup:
    """An HTML table of element rows (one page; it never pages by itself).

    Parameters
    ----------
    rows : sequence of ElementRow
        The rows to show, already filtered and paged.
    selected : int, optional
        ``row.index`` of the selected row (outlined).
    hits : collection of int
        Row indices that matched a search (bold); others shown are context (parents).
    varying : collection of str
        Paths of elements that vary across the series (marked "varies").
    group_headers : sequence of (position, title)
        Insert a heading row before ``rows[position]`` (group by module).
    show_path : bool
        Add a column with the full path.

    Returns
    -------
    Markup
        A ``<table class="dw-table dw-tags">`` (put it inside :func:`wrap` for styling).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import flatten
    >>> ds = Dataset(); ds.PatientName = "<script>"
    >>> "&lt;script&gt;" in rows_table(flatten(ds))
    True
    """
    headers = ["Tag", "Keyword", "VR", "VM", "Value"] + (["Path"] if show_path else [])
    ncols = len(headers)
    headings = dict(group_headers)
    hit_set = set(hits)
    vary_set = set(varying)
    body = []
    for pos, row in enumerate(rows):
        if pos in headings:
            body.append(tag("tr", tag("th", headings[pos], colspan=str(ncols))))
        style = None
        if row.index == selected:
            style = _SELECTED_STYLE
        elif hit_set and row.index in hit_set:
            style = "font-weight: 600"
        value = _value_cell(row)
        if row.path in vary_set:
            value = tag("span", badge("varies", "info"), value)
        cells = [
            tag("td", row.tag_text if row.kind == "element" else "", class_="dw-tag"),
            tag("td", _keyword_cell(row)),
            tag("td", row.vr, class_="dw-vr"),
            tag("td", str(row.vm) if row.kind == "element" else "", class_="dw-vm"),
            # Summaries are already short: one line per row keeps the table scannable.
            tag("td", value, class_="dw-value", style="white-space: nowrap"),
        ]
        if show_path:
            cells.append(tag("td", row.path, class_="dw-tag"))
        body.append(
            tag("tr", cells, style=style, data_dw_index=str(row.index), data_dw_path=row.path)
        )
    head = tag("thead", tag("tr", [tag("th", h) for h in headers]))
    return tag("table", head, tag("tbody", body), class_="dw-table dw-tags")


def rows_text(rows: Sequence[ElementRow]) -> str:
    """Plain-text lines for rows (the ``<pre>`` fallback), like ``str(ds)``.

    Parameters
    ----------
    rows : sequence of ElementRow
        Rows from :func:`dicom_widgets.tags.flatten`.

    Returns
    -------
    str
        One line a row, indented by depth.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import flatten
    >>> ds = Dataset(); ds.PatientName = "A^B"
    >>> "A^B" in rows_text(flatten(ds))
    True
    """
    lines = []
    for row in rows:
        indent = "  " * row.depth
        if row.kind == "item":
            lines.append(f"{indent}-- {row.label} ({row.summary})")
            continue
        mark = "  [INVALID]" if row.problem else ""
        lines.append(f"{indent}{row.tag_text} {row.label:<30} {row.vr:<2} {row.summary}{mark}")
    return "\n".join(lines)


def explorer_html(
    rows: Sequence[ElementRow],
    *,
    status: str = "",
    selected: int | None = None,
    hits: Collection[int] = (),
    varying: Collection[str] = (),
    group_headers: Sequence[tuple[int, str]] = (),
    include_style: bool = True,
) -> Markup:
    """One page of the explorer: a status line and the rows table, wrapped and styled.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import flatten
    >>> ds = Dataset(); ds.Modality = "CT"
    >>> "Modality" in explorer_html(flatten(ds), status="1 element")
    True
    """
    body = tag(
        "div",
        tag("div", status, class_="dw-muted") if status else None,
        rows_table(
            rows, selected=selected, hits=hits, varying=varying, group_headers=group_headers
        ),
        note("no matching elements") if not rows else None,
    )
    return wrap(body, rows_text(rows), include_style=include_style)


def detail_html(
    row: ElementRow | None, *, max_chars: int = 20_000, include_style: bool = True
) -> Markup:
    """The detail pane: full value, tag, VR and VM meanings, path, private creator and problems.

    The Python expression is shown too (a copyable ``Text`` widget sits beside it in the explorer).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import flatten
    >>> ds = Dataset(); ds.PatientName = "Doe^John"
    >>> "Person Name" in detail_html(flatten(ds)[0])
    True
    """
    from ..tags import module_of, vm_meaning, vr_meaning

    if row is None:
        return wrap(
            note("select an element to see its full value"),
            "select an element",
            include_style=include_style,
        )
    items: list[tuple[str, object]] = [
        ("Tag", row.tag_text),
        ("Keyword", row.keyword or row.label),
        ("Name", row.name),
        ("Path", row.path),
    ]
    if row.kind == "element":
        items.append(("VR", f"{row.vr} — {vr_meaning(row.vr)}"))
        items.append(("VM", f"{row.vm} — {vm_meaning(row.vm)}"))
        dictionary_vm = _dictionary_vm(row.tag)
        if dictionary_vm:
            items.append(("Allowed VM", f"{dictionary_vm} — {vm_meaning(dictionary_vm)}"))
    if row.kind == "element":
        items.append(("Module", module_of(row)))
    if row.is_private:
        items.append(("Private creator", row.private_creator or "(none)"))
    if row.is_sequence:
        items.append(("Items", f"{row.item_count} (showing {row.items_shown})"))
    items.append(("Python", tag("code", row.expression)))
    if row.private_expression:
        items.append(("Python (by creator)", tag("code", row.private_expression)))
    if row.problem:
        items.append(("Problem", tag("span", row.problem, class_="dw-invalid")))
    lis = [tag("li", tag("span", f"{k}:", class_="dw-key"), v) for k, v in items]
    full = row.full_value_text(max_chars)
    value_block = tag(
        "pre",
        full,
        class_="dw-value",
        style="white-space: pre-wrap; max-height: 300px; overflow: auto",
    )
    raw_block = None
    if row.raw_value is not None:
        raw_hex = " ".join(f"{b:02X}" for b in row.raw_value[:256])
        more = f" … ({len(row.raw_value):,} bytes)" if len(row.raw_value) > 256 else ""
        raw_block = tag(
            "div", tag("span", "Raw bytes:", class_="dw-key"), tag("code", raw_hex + more)
        )
    body = tag(
        "div",
        tag("div", tag("span", row.label, class_="dw-title"), class_="dw-header"),
        tag("ul", lis, class_="dw-summary"),
        value_block,
        raw_block,
        # Widget containers default to nowrap: long paths and expressions must wrap here.
        style="white-space: normal; overflow-wrap: anywhere",
    )
    text = f"{row.tag_text} {row.label} {row.vr}\n{row.expression}\n{full}"
    return wrap(body, text, include_style=include_style)


def _dictionary_vm(tag_value: int) -> str | None:
    from pydicom.datadict import dictionary_VM

    try:
        return str(dictionary_VM(tag_value))
    except KeyError:  # not in the dictionary (private, unknown)
        return None


def varies_html(
    variations: Sequence[Variation],
    n_instances: int,
    *,
    over: str = "instances",
    include_style: bool = True,
) -> Markup:
    """A table of the elements that vary across a series: distinct count and first/last values.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.tags import varies
    >>> "SliceLocation" in varies_html(varies(ct_phantom(n_slices=3, size=8)), 3)
    True
    """
    rows = []
    for v in variations:
        first = next((s for s in v.summaries if s is not None), "")
        last = next((s for s in reversed(v.summaries) if s is not None), "")
        kind = "numeric" if v.numeric is not None else ""
        rows.append(
            tag(
                "tr",
                tag("td", f"({v.tag >> 16:04X},{v.tag & 0xFFFF:04X})", class_="dw-tag"),
                tag(
                    "td",
                    tag(
                        "span", v.label, class_="dw-private" if v.is_private else None, title=v.name
                    ),
                ),
                tag("td", v.vr, class_="dw-vr"),
                tag(
                    "td",
                    f"{v.distinct} / {n_instances}"
                    + (f" ({v.missing} missing)" if v.missing else ""),
                ),
                tag("td", first, class_="dw-value"),
                tag("td", last, class_="dw-value"),
                tag("td", kind, class_="dw-muted"),
            )
        )
    head = tag(
        "thead",
        tag(
            "tr", [tag("th", h) for h in ("Tag", "Element", "VR", "Distinct", "First", "Last", "")]
        ),
    )
    table = tag("table", head, tag("tbody", rows), class_="dw-table dw-varies")
    status = f"{len(variations)} elements vary across {n_instances} {over or 'instances'}"
    body = tag(
        "div",
        tag("div", status, class_="dw-muted"),
        table if variations else note("nothing varies"),
    )
    text = status + "\n" + "\n".join(f"{v.label}: {v.distinct} distinct" for v in variations)
    return wrap(body, text, include_style=include_style)


def diff_text(diff: Diff, max_rows: int = 1000) -> str:
    """Plain text of a diff (the ``<pre>`` fallback and ``str``).

    Parameters
    ----------
    diff : Diff
        From :func:`dicom_widgets.tags.compare`.
    max_rows : int
        Changes listed; a line counts the rest.

    Returns
    -------
    str
        A count line, then ``-`` removed, ``+`` added, ``~`` changed.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import compare
    >>> a = Dataset(); a.PatientName = "A"
    >>> b = Dataset(); b.PatientName = "B"
    >>> print(diff_text(compare(a, b)).splitlines()[1])
    ~ PatientName: A → B
    """
    counts = diff.counts()
    lines = [
        f"Diff {diff.label_a} → {diff.label_b}: {counts['changed']} changed, "
        f"{counts['removed']} only in {diff.label_a}, {counts['added']} only in {diff.label_b}"
    ]
    for c in list(diff)[:max_rows]:
        sign = {"removed": "-", "added": "+", "changed": "~"}[c.kind]
        if c.kind == "changed":
            lines.append(f"{sign} {c.path}: {c.before} → {c.after}")
        else:
            lines.append(f"{sign} {c.path}: {c.before if c.kind == 'removed' else c.after}")
    if len(diff) > max_rows:
        lines.append(f"… {len(diff) - max_rows} more")
    return "\n".join(lines)


def diff_table(diff: Diff, max_rows: int = 1000) -> Markup:
    """The diff as a table (kind badge, tag, path, VR, before → after).

    Parameters
    ----------
    diff : Diff
        From :func:`dicom_widgets.tags.compare`.
    max_rows : int
        Changes shown; a row counts the rest.

    Returns
    -------
    Markup
        An escaped ``<table>``.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import compare
    >>> a = Dataset(); a.PatientName = "<b>"
    >>> "&lt;b&gt;" in diff_table(compare(a, Dataset()))
    True
    """
    rows = []
    for c in list(diff)[:max_rows]:
        kind = _KIND_LABELS[c.kind].format(a=diff.label_a, b=diff.label_b)
        vr = c.vr_a or c.vr_b or ""
        if c.vr_a and c.vr_b and c.vr_a != c.vr_b:
            vr = f"{c.vr_a}→{c.vr_b}"
        indent = f"padding-left: {4 + _INDENT_PX * c.depth}px"
        rows.append(
            tag(
                "tr",
                tag("td", badge(kind, _KIND_SEVERITY[c.kind])),
                tag("td", f"({c.tag >> 16:04X},{c.tag & 0xFFFF:04X})", class_="dw-tag"),
                tag(
                    "td",
                    tag(
                        "span",
                        c.path,
                        class_="dw-private" if c.is_private else None,
                        title=c.name,
                        style=indent,
                    ),
                ),
                tag("td", vr, class_="dw-vr"),
                tag("td", c.before if c.before is not None else "", class_="dw-value"),
                tag("td", "→" if c.kind == "changed" else "", class_="dw-muted"),
                tag("td", c.after if c.after is not None else "", class_="dw-value"),
                data_dw_kind=c.kind,
                data_dw_path=c.path,
            )
        )
    headers = ("", "Tag", "Path", "VR", diff.label_a, "", diff.label_b)
    head = tag("thead", tag("tr", [tag("th", h) for h in headers]))
    more = None
    if len(diff) > max_rows:
        more = tag("div", f"… {len(diff) - max_rows} more changes not shown", class_="dw-truncated")
    return tag("div", tag("table", head, tag("tbody", rows), class_="dw-table dw-diff"), more)


def diff_html(diff: Diff, max_rows: int = 1000, *, include_style: bool = True) -> Markup:
    """The full HTML repr of a :class:`~dicom_widgets.tags.Diff` (header, counts, table).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> from dicom_widgets.tags import compare
    >>> a = Dataset(); a.PatientName = "<b>A</b>"
    >>> b = Dataset(); b.PatientName = "B"
    >>> html = diff_html(compare(a, b))
    >>> "&lt;b&gt;A&lt;/b&gt;" in html and "<b>A</b>" not in html
    True
    """
    counts = diff.counts()
    header = tag(
        "div",
        tag("div", "Diff", class_="dw-obj-type"),
        tag("div", f"{diff.label_a} → {diff.label_b}", class_="dw-title"),
        tag(
            "ul",
            tag("li", badge(f"{counts['changed']} changed", "warning")),
            tag("li", badge(f"{counts['removed']} only in {diff.label_a}", "error")),
            tag("li", badge(f"{counts['added']} only in {diff.label_b}", "ok")),
            class_="dw-summary",
        ),
        class_="dw-header",
    )
    body = tag("div", header, diff_table(diff, max_rows) if len(diff) else note("no differences"))
    return wrap(body, diff_text(diff, max_rows), include_style=include_style)
