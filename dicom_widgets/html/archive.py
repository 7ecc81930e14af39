"""HTML of an archive QA report: counts per finding, then the series that have findings."""

from __future__ import annotations

from typing import Any

from ._core import badge, collapsible_section, id_scope, note, table, tag, wrap
from .series import findings_table

__all__ = ["archive_report_html"]


def archive_report_html(report: Any, *, max_series: int = 200) -> str:
    """An :class:`~dicom_widgets.series.ArchiveReport` as escaped HTML with a text fallback.

    Examples
    --------
    >>> from dicom_widgets.series import ArchiveReport, Finding, ReportRow
    >>> row = ReportRow("1.2.3", "P<1>", "CT", "head", Finding("warning", "gap", "a gap"))
    >>> html = archive_report_html(ArchiveReport([row], n_series=1, n_files=10))
    >>> "P&lt;1&gt;" in html and "gap" in html
    True
    """
    text = repr(report)
    with id_scope(text):
        counts = report.counts()
        summary = table(
            [[badge(sev, sev), code, str(n)] for (sev, code), n in counts.items()],
            headers=["Severity", "Finding", "Count"],
        )
        by_series: dict[str, list[Any]] = {}
        labels: dict[str, Any] = {}
        for row in report.rows:
            by_series.setdefault(row.key, []).append(row.finding)
            labels[row.key] = row
        sections = []
        for key in list(by_series)[:max_series]:
            row = labels[key]
            title = (
                " · ".join(
                    p for p in (row.patient_id, row.modality, row.series_description, key) if p
                )
                if key
                else "Files of the scan"
            )
            findings = by_series[key]
            sections.append(
                collapsible_section(title, findings_table(findings), count=len(findings))
            )
        if len(by_series) > max_series:
            sections.append(note(f"… {len(by_series) - max_series} more series with findings"))
        body = tag(
            "div",
            tag(
                "div",
                tag("div", "dicom_widgets.ArchiveReport", class_="dw-obj-type"),
                tag(
                    "div",
                    f"{report.n_series} series, {report.n_files} files, "
                    f"{len(report.rows)} finding(s) in {report.series_with_findings} series",
                    class_="dw-title",
                ),
                tag("div", report.source, class_="dw-muted") if report.source else None,
                class_="dw-header",
            ),
            summary if counts else note("no findings"),
            sections,
        )
        return str(wrap(body, text))
