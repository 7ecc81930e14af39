"""HTML and text reprs of a :class:`~dicom_widgets.segmentation.Segmentation`.

A segment table (colour swatch, number, label, kind, description, voxels, volume,
slices) and the geometry findings. Every label and description is text from the file
and is escaped by :func:`~dicom_widgets.html.tag` like every other value. Objects are
used through their documented attributes only.

Examples
--------
>>> import numpy as np
>>> import dicom_widgets as dw
>>> from dicom_widgets.data import ct_phantom
>>> from dicom_widgets.html.segmentation import segmentation_html
>>> series = dw.load_series(ct_phantom(n_slices=2, size=8), progress=False)
>>> seg = dw.load_segmentation(np.ones(series.shape, bool), series, labels={1: "<b>x</b>"})
>>> "&lt;b&gt;x&lt;/b&gt;" in segmentation_html(seg)
True
"""

from __future__ import annotations

from typing import Any

from ._core import Markup, collapsible_section, note, rendered, tag
from .series import findings_table

__all__ = ["segmentation_html", "segmentation_text", "segment_table"]

#: Above this many (segment, slice) frames the repr lists segments without decoding them.
MAX_FRAMES_FOR_VOLUMES = 4000


def _hex(color: Any) -> str:
    try:
        r, g, b = (max(0, min(255, int(v))) for v in color)
    except (TypeError, ValueError):
        return "#808080"
    return f"#{r:02x}{g:02x}{b:02x}"


def _swatch(color: Any) -> Markup:
    # Inline style: the shared stylesheet is embedded in every stored notebook output.
    return tag(
        "span",
        class_="dw-swatch",
        style=(
            "display:inline-block;width:0.9em;height:0.9em;vertical-align:middle;"
            f"border:1px solid var(--dw-border-color);background:{_hex(color)}"
        ),
    )


def segment_table(seg: Any, *, max_rows: int = 200) -> Markup:
    """The segment table: swatch, number, label, kind, description, voxels, mL, slices.

    Volumes are computed (masks decoded slice by slice) unless the segmentation holds
    more than :data:`MAX_FRAMES_FOR_VOLUMES` frames; then a note points to
    ``to_dataframe()``.
    """
    segments = list(seg.segments)
    stats: dict[int, dict[str, Any]] = {}
    extra = None
    if getattr(seg, "n_slice_frames", 0) <= MAX_FRAMES_FOR_VOLUMES:
        try:
            stats = {row["number"]: row for row in seg.statistics(values=False)}
        except Exception as exc:  # noqa: BLE001 - a repr never fails because one slice does
            extra = note(f"volumes unavailable: {type(exc).__name__}: {exc}", kind="warning")
    else:
        extra = note("large segmentation: volumes are computed by seg.to_dataframe()")
    rows = []
    for segment in segments[:max_rows]:
        row = stats.get(segment.number)
        slices = seg.slices(segment.number)
        span = f"{slices[0]}–{slices[-1]}" if slices else "—"
        rows.append(
            tag(
                "tr",
                tag("td", _swatch(segment.color)),
                tag("td", str(segment.number)),
                tag("td", segment.label, class_="dw-value"),
                tag("td", segment.kind, class_="dw-vr"),
                tag("td", segment.description or segment.property_type, class_="dw-value dw-muted"),
                tag("td", f"{row['voxels']:,}" if row else "—"),
                tag("td", f"{row['volume_ml']:.3g}" if row else "—"),
                tag("td", span),
            )
        )
    head = tag(
        "thead",
        tag(
            "tr",
            [
                tag("th", h)
                for h in ("", "#", "Label", "Kind", "Description", "Voxels", "mL", "Slices")
            ],
        ),
    )
    table = tag("table", head, tag("tbody", rows), class_="dw-table")
    more = (
        note(f"... and {len(segments) - max_rows} more segments")
        if len(segments) > max_rows
        else None
    )
    return Markup(table + (more or "") + (extra or ""))


def segmentation_text(seg: Any) -> str:
    """Plain-text summary (the ``<pre>`` fallback)."""
    lines = [repr(seg)]
    for segment in list(seg.segments)[:30]:
        lines.append(f"  {segment.number:>4}  {segment.label}  ({segment.kind})")
    for finding in list(seg.findings)[:10]:
        lines.append(f"  {finding}")
    return "\n".join(lines)


def segmentation_html(seg: Any) -> str:
    """Render a segmentation: a summary line, the segment table and its findings.

    Returns
    -------
    str
        HTML with the stylesheet, the rich part and a ``<pre>`` text fallback.
    """

    def build() -> list[Markup]:
        findings = list(seg.findings)
        shape = " × ".join(str(n) for n in seg.shape)
        target = getattr(seg.grid, "series_uid", "") or "its own frame grid"
        summary = tag(
            "div",
            tag("b", f"{seg.modality} segmentation"),
            f" · {len(seg.segments)} segment(s) on {target} · {shape}",
            tag("div", seg.path, class_="dw-muted") if seg.path else None,
        )
        body = [summary, segment_table(seg)]
        if findings:
            body.append(
                collapsible_section(
                    "Findings", findings_table(findings), count=len(findings), open=True
                )
            )
        return body

    return rendered("segmentation", segmentation_text(seg), build)
