"""HTML of de-identification results: the change list (diff), batch reports and verification.

The engine (:mod:`dicom_widgets.deid`) calls these lazily from the ``_repr_html_`` of
``AnonymizationResult``, ``Report`` and ``VerificationReport``; the AnonymizationPreview
widget renders the same functions into its panes. Everything is built with
:mod:`dicom_widgets.html._core` helpers, so every DICOM value (names, private values, paths)
is escaped; nothing here formats a value into markup by hand.

Colour and symbol coding of the applied actions (see :data:`CATEGORIES`): a symbol as well as a
colour, so the coding survives colour-blindness, dark themes and plain-text rendering.

Examples
--------
>>> from dicom_widgets.data import ct_phantom
>>> from dicom_widgets.deid import anonymize
>>> html = anonymization_result_html(anonymize(ct_phantom(n_slices=1, size=8)[0]))
>>> "PatientName" in html and "removed" in html
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._core import Markup, badge, collapsible_section, id_scope, note, table, tag, wrap

if TYPE_CHECKING:  # pragma: no cover
    from ..deid import AnonymizationResult, Change, DeidWarning
    from ..deid.batch import Report
    from ..deid.verification import VerificationReport

__all__ = [
    "CATEGORIES",
    "WARNING_ADVICE",
    "change_category",
    "warning_advice",
    "category_counts",
    "action_legend",
    "counts_html",
    "changes_table",
    "changes_text",
    "warnings_html",
    "anonymization_result_html",
    "anonymization_report_html",
    "verification_report_html",
]

#: category -> (label, symbol, CSS colour). Colours are the stylesheet's variables.
CATEGORIES: dict[str, tuple[str, str, str]] = {
    "removed": ("removed", "✖", "var(--dw-error-color, #d32f2f)"),
    "emptied": ("emptied", "∅", "var(--dw-warn-color, #f57c00)"),
    "dummy": ("dummy value", "◇", "var(--dw-info-color, #1976d2)"),
    "sequence_replaced": (
        "sequence replaced (one dummy item)",
        "⧉",
        "var(--dw-info-color, #1976d2)",
    ),
    "uid": ("UID remapped", "⇄", "var(--dw-info-color, #1976d2)"),
    "date_shifted": ("date shifted", "↷", "var(--dw-info-color, #1976d2)"),
    "cleaned": ("cleaned", "✎", "var(--dw-warn-color, #f57c00)"),
    "replaced": ("replaced (override)", "≔", "var(--dw-warn-color, #f57c00)"),
    "kept_option": ("kept by option", "✔", "var(--dw-ok-color, #388e3c)"),
    "kept": ("kept", "=", "var(--dw-font-color2, #777)"),
    "added": ("marker added", "✚", "var(--dw-ok-color, #388e3c)"),
}

_DATE_VRS = frozenset({"DA", "DT", "TM"})

#: What the user can do about each kind of engine warning.
WARNING_ADVICE: dict[str, str] = {
    "phi_in_text": (
        "Check the redacted text; to drop the element altogether add an override "
        "such as '{element}=remove'."
    ),
    "burned_in_annotation": (
        "Look at the pixels: mark the text with rectangles in the pixel preview (or pass "
        "pixel_regions=...) so that export blanks it; if there is no text, set "
        "'BurnedInAnnotation=\"NO\"' only after checking every frame."
    ),
    "overlay": (
        "Overlays can draw names over the image: blank the area in the pixel preview, or "
        "remove the overlay group with an override such as '(6000,3000)=remove'."
    ),
    "graphics": (
        "Graphic annotations may contain text: enable clean_graphics or remove them with "
        "an override."
    ),
    "icon_image": (
        "The icon image is a thumbnail that may show burned-in text: remove it with "
        "'IconImageSequence=remove'."
    ),
    "original_attributes": (
        "Original Attributes Sequence keeps former values: remove it with "
        "'OriginalAttributesSequence=remove'."
    ),
    "invalid_value": (
        "The value could not be interpreted; check the original file or override the element."
    ),
    "uid_with_identifier": (
        "The UID seems to embed an identifier (MRN, date); keep retain_uids off so that it is "
        "remapped."
    ),
    "kept_private": (
        "A private element was kept as 'safe': make sure your vendor documentation agrees, or "
        "turn retain_safe_private off."
    ),
}
_DEFAULT_ADVICE = 'Review the element; an override (keep / remove / empty / "value") settles it.'


def change_category(change: Change) -> str:
    """The display category of one change (a key of :data:`CATEGORIES`).

    Examples
    --------
    >>> from dicom_widgets.deid import Change
    >>> change_category(Change("PatientName", 0x00100010, "PatientName", "PN", "X", "X", "basic", "A", None))
    'removed'
    """
    action = change.action
    if action == "X":
        return "removed"
    if action == "Z":
        return "emptied"
    if action == "D":
        # D on a sequence: its items are gone, one dummy item stands in (PS3.15 E.1.1).
        return "sequence_replaced" if change.vr == "SQ" else "dummy"
    if action == "U":
        return "uid"
    if action == "R":
        return "replaced"
    if action == "A":
        return "added"
    if action == "C":
        return "date_shifted" if change.vr in _DATE_VRS else "cleaned"
    if action == "K":
        # Kept because an option or override says so (the Basic Profile alone would act).
        return "kept_option" if change.rule not in ("basic", "") else "kept"
    return "cleaned"


def warning_advice(kind: str, path: str = "") -> str:
    """What the user can do about a warning of ``kind`` found at ``path``.

    Examples
    --------
    >>> warning_advice("phi_in_text", "RequestAttributesSequence[0].RequestedProcedureDescription")
    "Check the redacted text; to drop the element altogether add an override such as 'RequestedProcedureDescription=remove'."
    """
    # Overrides act on a tag wherever it occurs: name the element by its last path component.
    element = re.sub(r"\[\d+\]$", "", path.rpartition(".")[2]) if path else ""
    text = WARNING_ADVICE.get(kind, _DEFAULT_ADVICE)
    return text.replace("{element}", element or "ImageComments")


def category_counts(changes: Iterable[Change]) -> dict[str, int]:
    """Number of changes per category, in :data:`CATEGORIES` order (zero counts left out)."""
    counts: dict[str, int] = {}
    for change in changes:
        cat = change_category(change)
        counts[cat] = counts.get(cat, 0) + 1
    return {cat: counts[cat] for cat in CATEGORIES if cat in counts}


def _category_label(category: str, count: int | None = None) -> Markup:
    label, symbol, colour = CATEGORIES[category]
    text = label if count is None else f"{label}: {count}"
    return tag(
        "span",
        tag("span", symbol, aria_hidden="true"),
        " ",
        text,
        style=f"color: {colour}; font-weight: 600; white-space: nowrap",
        title=label,
        data_dw_category=category,
    )


def action_legend() -> Markup:
    """The symbols and colours of every category (one line)."""
    return tag(
        "div",
        [tag("span", _category_label(cat), style="margin-right: 10px") for cat in CATEGORIES],
        class_="dw-muted",
        style="font-size: 11px",
    )


def counts_html(changes: Iterable[Change]) -> Markup:
    """Counts per action category, as coloured labels (the header of a diff)."""
    counts = category_counts(changes)
    if not counts:
        return tag("div", note("no element changed"))
    return tag(
        "div",
        [
            tag("span", _category_label(cat, n), style="margin-right: 12px")
            for cat, n in counts.items()
        ],
        class_="dw-action-counts",
    )


def _value(value: str | None) -> Markup:
    if value is None:
        return tag("span", "(absent)", class_="dw-muted")
    if value == "":
        return tag("span", "(empty)", class_="dw-muted")
    return tag("span", value, class_="dw-value")


def _path_cell(change: Change) -> Markup:
    # Show the nesting: parent path muted, leaf name in bold, indented by sequence depth;
    # the tag on a second line.
    path = change.path
    parent, _, leaf = path.rpartition(".")
    depth = path.count("[")
    return tag(
        "div",
        tag("span", parent + " › ", class_="dw-muted") if parent else None,
        tag("b", leaf or path),
        tag("div", change.tag_str, " ", change.vr, class_="dw-muted", style="font-size: 11px"),
        style=f"padding-left: {12 * depth}px",
        data_dw_path=path,
    )


def _rule_cell(change: Change) -> Markup:
    cls = "dw-muted" if change.rule == "basic" else None
    return tag(
        "span",
        tag("span", change.rule, class_=cls),
        tag("span", f" ({change.table_code})", class_="dw-muted") if change.table_code else None,
        tag("div", change.note, class_="dw-muted", style="font-size: 11px")
        if change.note
        else None,
    )


def changes_table(
    changes: Sequence[Change],
    *,
    start: int = 0,
    stop: int | None = None,
) -> Markup:
    """A table of changes (rows ``start:stop``), with a context row where the parent path changes.

    Columns: action (symbol, label and code); path (nested paths in context) with tag and VR;
    the rule or option that fired, the table's code and how a compound code was resolved;
    value before → after.
    """
    shown = list(changes)[start:stop]
    rows: list[list[Any]] = []
    parent_seen: str | None = None
    for change in shown:
        parent = change.path.rpartition(".")[0]
        if parent and parent != parent_seen and "[" in parent:
            # A context row: the sequence item these nested changes live in.
            rows.append(["", tag("span", "in ", tag("code", parent), class_="dw-muted"), "", ""])
        parent_seen = parent
        cat = change_category(change)
        rows.append(
            [
                tag(
                    "span",
                    _category_label(cat),
                    tag("span", f" {change.action}", class_="dw-muted"),
                ),
                _path_cell(change),
                _rule_cell(change),
                tag(
                    "span",
                    _value(change.before),
                    tag("span", " → ", class_="dw-muted"),
                    _value(change.after),
                ),
            ]
        )
    # Built cell by cell (not with table()) to give the columns widths: long UIDs and paths
    # wrap anywhere, the action label never wraps.
    head = tag("thead", tag("tr", [tag("th", h) for h in _CHANGE_HEADERS]))
    body = tag(
        "tbody",
        [
            tag(
                "tr",
                [tag("td", cell, class_=c, style=st) for cell, (c, st) in zip(row, _CHANGE_CELLS)],
            )
            for row in rows
        ],
    )
    return tag("table", head, body, class_="dw-table dw-anon-changes")


_CHANGE_HEADERS = ("Action", "Element", "Rule", "Before → after")
_WRAP = "white-space: normal; word-break: break-all; overflow-wrap: anywhere"
_CHANGE_CELLS = (
    (None, "white-space: nowrap"),
    (None, "max-width: 280px; white-space: normal; overflow-wrap: break-word"),
    (None, "max-width: 220px; white-space: normal"),
    ("dw-value", f"min-width: 200px; max-width: 420px; {_WRAP}"),
)


def changes_text(changes: Iterable[Change]) -> str:
    """Plain-text change list (the ``<pre>`` fallback)."""
    lines = []
    for c in changes:
        label, symbol, _ = CATEGORIES[change_category(c)]
        lines.append(f"{symbol} {c.action} {c.path} [{c.rule}] {c.before!r} -> {c.after!r}")
    return "\n".join(lines)


def warnings_html(warnings: Sequence[DeidWarning]) -> Markup:
    """The engine's beyond-the-table warnings, each with what the user can do."""
    if not warnings:
        return tag("div", badge("no warnings", "ok"))
    items = []
    for w in warnings:
        severity = "ok" if w.resolved else "warning"
        items.append(
            tag(
                "li",
                badge("resolved" if w.resolved else "unresolved", severity),
                tag("b", w.kind),
                tag("code", f" {w.path}") if w.path else None,
                ": ",
                w.message,
                tag("div", "What you can do: ", warning_advice(w.kind, w.path), class_="dw-muted"),
                data_dw_warning=w.kind,
            )
        )
    return tag("ul", items, class_="dw-summary")


def _header(kind: str, title: str, *extra: Any) -> Markup:
    return tag(
        "div",
        tag("span", kind, class_="dw-obj-type"),
        " ",
        tag("span", title, class_="dw-title"),
        *extra,
        class_="dw-header",
    )


def anonymization_result_html(
    result: AnonymizationResult,
    *,
    changed_only: bool = True,
    max_rows: int = 500,
) -> str:
    """Static HTML of one anonymization: counts, warnings, and the change list.

    Parameters
    ----------
    result : AnonymizationResult
    changed_only : bool
        Leave out rules that kept a value unchanged.
    max_rows : int
        At most this many rows in the table (the rest is counted, not shown).

    Returns
    -------
    str
        Self-contained HTML (scoped stylesheet and a text fallback).
    """
    changes = [c for c in result.changes if c.changed or not changed_only]
    text = result._repr_text() if hasattr(result, "_repr_text") else repr(result)
    unresolved = len(result.unresolved_warnings)
    with id_scope(text):
        body = [
            _header(
                "AnonymizationResult",
                result.profile.describe(),
                tag("span", f"  PS3.15 {result.edition}", class_="dw-muted"),
            ),
            tag(
                "div",
                "Patient Identity Removed: ",
                badge("YES", "ok") if result.identity_removed else badge("NO", "warning"),
                tag("span", f" {unresolved} unresolved warning(s)", class_="dw-muted")
                if unresolved
                else None,
                tag("span", f"; dates shifted by {result.date_offset_days} days", class_="dw-muted")
                if result.date_offset_days is not None
                else None,
            ),
            counts_html(changes),
            collapsible_section(
                "Warnings",
                warnings_html(result.warnings),
                open=bool(unresolved),
                count=len(result.warnings),
            ),
            collapsible_section(
                "Changes",
                tag(
                    "div",
                    changes_table(changes, stop=max_rows),
                    tag(
                        "div",
                        f"… {len(changes) - max_rows} more changes not shown",
                        class_="dw-truncated",
                    )
                    if len(changes) > max_rows
                    else None,
                    action_legend(),
                ),
                open=True,
                count=len(changes),
            ),
        ]
        return str(wrap(tag("div", body), text))


_STATUS_SEVERITY = {
    "written": "ok",
    "skipped": "info",
    "exists": "warning",
    "error": "error",
    "verification_failed": "error",
}


def _verification_body(report: VerificationReport | None) -> Markup:
    if report is None:
        return tag("div", badge("not verified", "warning"))
    if report.ok:
        return tag(
            "div",
            badge("verified", "ok"),
            f"no identifying values found ({report.files_checked} file(s) checked, "
            f"{report.needles_checked} identifying values searched)",
            data_dw_verification="ok",
        )
    rows = [
        [h.file, tag("code", h.path), h.kind, h.masked, tag("code", h.source), h.encoding, h.offset]
        for h in report.hits
    ]
    parts = [
        tag(
            "div",
            badge(f"{len(report.hits)} hit(s)", "error"),
            "identifying values of the originals were found in the output",
            data_dw_verification="hits",
        )
    ]
    if rows:
        parts.append(
            table(
                rows,
                headers=[
                    "File",
                    "Path",
                    "Kind",
                    "Value (masked)",
                    "Original path",
                    "Encoding",
                    "Offset",
                ],
            )
        )
    if report.errors:
        parts.append(tag("ul", [tag("li", note(e, kind="error")) for e in report.errors]))
    return tag("div", parts)


def verification_report_html(report: VerificationReport) -> str:
    """Static HTML of a verification: hits listed, or a clear "no identifying values found"."""
    text = report._repr_text() if hasattr(report, "_repr_text") else repr(report)
    with id_scope(text):
        body = [_header("VerificationReport", "OK" if report.ok else "identifying values found")]
        body.append(_verification_body(report))
        return str(wrap(tag("div", body), text))


def report_summary_html(report: Report) -> Markup:
    """Counts per status, pixel cleaning and verification of a batch report (no file table)."""
    counts = report.counts()
    cleaned = sum(1 for o in report.outcomes if o.pixel_cleaned)
    items = [
        tag(
            "li",
            [
                badge(f"{status}: {n}", _STATUS_SEVERITY.get(status, "info"))
                for status, n in counts.items()
            ]
            or note("no files"),
        ),
        tag("li", tag("span", "Output folder: ", class_="dw-key"), tag("code", report.out_dir)),
        tag(
            "li",
            tag("span", "Profile: ", class_="dw-key"),
            report.profile.describe(),
            tag("span", f"  PS3.15 {report.edition}", class_="dw-muted"),
        ),
        tag(
            "li", tag("span", "UIDs remapped: ", class_="dw-key"), str(len(report.context.uid_map))
        ),
    ]
    if cleaned:
        items.append(
            tag(
                "li",
                badge("pixels cleaned", "info"),
                f"pixel data cleaned in {cleaned} file(s): decoded, blanked and written "
                "uncompressed (Explicit VR Little Endian)",
            )
        )
    texts = [o.text_regions for o in report.outcomes if getattr(o, "text_regions", None)]
    if texts:
        unverified = sum(1 for t in texts if not t.verified)
        rejected = sum(len(t.rejected) for t in texts)
        items.append(
            tag(
                "li",
                badge("burned-in text", "warning" if unverified else "info"),
                f"{len(texts)} file(s) checked: {sum(len(t.blanked) for t in texts)} text "
                f"region(s) blanked, {sum(len(t.kept) for t in texts)} kept"
                + (f" ({rejected} rejected by the reviewer)" if rejected else ""),
                note(f"{unverified} file(s) NOT verified (OCR failed or timed out)", kind="error")
                if unverified
                else None,
            )
        )
    items.append(
        tag(
            "li",
            tag("span", "Verification: ", class_="dw-key"),
            _verification_body(report.verification),
        )
    )
    return tag("ul", items, class_="dw-summary")


def _text_cell(outcome: Any) -> Markup | str:
    """What was done about an outcome's burned-in text (counts only: the text may be PHI)."""
    text = getattr(outcome, "text_regions", None)
    if text is None:
        return ""
    parts = [f"{len(text.blanked)} blanked"]
    if text.rejected:
        parts.append(f"{len(text.rejected)} rejected")
    if len(text.kept) > len(text.rejected):
        parts.append(f"{len(text.kept) - len(text.rejected)} kept")
    cell = ", ".join(parts)
    if not text.verified:
        return tag("span", badge("not verified", "error"), f" {cell}", title=text.problem)
    return tag("span", cell, title=text.describe())


def outcomes_table(report: Report, *, max_rows: int = 1000) -> Markup:
    """One row per source file, files not written first: status, reason, source, output..."""
    # Problems first: in a long batch the one failed file must not hide below the fold.
    ordered = sorted(report.outcomes, key=lambda o: (o.status in ("written", "skipped"), o.index))
    rows = []
    for o in ordered[:max_rows]:
        unresolved = len(o.unresolved)
        output = (
            tag("span", os.path.basename(o.output), title=o.output)
            if o.output
            else tag("span", "—", class_="dw-muted")
        )
        rows.append(
            [
                badge(o.status, _STATUS_SEVERITY.get(o.status, "info")),
                tag("span", o.message, style="white-space: normal") if o.message else "",
                o.source,
                output,
                o.n_changes,
                tag("span", f"{len(o.warnings)} ({unresolved} unresolved)") if o.warnings else "0",
                "yes" if o.pixel_cleaned else "",
                _text_cell(o),
            ]
        )
    extra = (
        tag("div", f"… {len(report.outcomes) - max_rows} more files", class_="dw-truncated")
        if len(report.outcomes) > max_rows
        else None
    )
    return tag(
        "div",
        table(
            rows,
            headers=[
                "Status",
                "Reason / note",
                "Source",
                "Output (in the output folder)",
                "Changes",
                "Warnings",
                "Pixels cleaned",
                "Burned-in text",
            ],
            class_="dw-anon-outcomes",
        ),
        extra,
    )


def anonymization_report_html(report: Report) -> str:
    """Static HTML of a batch report: summary, verification, and every file's outcome."""
    text = report._repr_text() if hasattr(report, "_repr_text") else repr(report)
    with id_scope(text):
        failed = [o for o in report.outcomes if o.status not in ("written", "skipped")]
        body = [
            _header(
                "Report",
                f"{len(report.outcomes)} file(s) de-identified"
                if not failed
                else f"{len(report.outcomes)} file(s), {len(failed)} not written",
            ),
            report_summary_html(report),
            collapsible_section(
                "Files",
                outcomes_table(report),
                open=bool(failed) or len(report.outcomes) <= 20,
                count=len(report.outcomes),
            ),
        ]
        return str(wrap(tag("div", body), text))
