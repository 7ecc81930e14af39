"""HTML and text reprs of DICOMweb search results (QIDO-RS catalogs).

Everything in a catalog came from a server and is treated as hostile: every value is
escaped by :func:`~dicom_widgets.html.tag`, and long values are shortened.
"""

from __future__ import annotations

from typing import Any

from ._core import Markup, id_scope, join, note, shorten, table, tag, wrap

__all__ = ["dicomweb_catalog_html", "catalog_text", "CATALOG_MAX_ROWS"]

#: Rows shown in a catalog's HTML; a line counts the rest.
CATALOG_MAX_ROWS = 200

_LABELS = {
    "PatientName": "Patient",
    "PatientID": "ID",
    "StudyDate": "Date",
    "StudyDescription": "Study",
    "ModalitiesInStudy": "Modalities",
    "AccessionNumber": "Accession",
    "NumberOfStudyRelatedSeries": "Series",
    "NumberOfStudyRelatedInstances": "Instances",
    "NumberOfSeriesRelatedInstances": "Instances",
    "StudyInstanceUID": "Study UID",
    "SeriesInstanceUID": "Series UID",
    "SeriesNumber": "#",
    "SeriesDescription": "Description",
    "Modality": "Modality",
}


def column_label(keyword: str) -> str:
    """The short header of a catalog column."""
    return _LABELS.get(keyword, keyword)


def _cell(value: object, limit: int = 64) -> Markup | str:
    text, cut = shorten(str(value), limit)
    return tag("span", text, title=str(value)[:1000]) if cut else text


def catalog_text(catalog: Any) -> str:
    """Plain-text summary of a DICOMweb catalog (its ``repr``).

    Examples
    --------
    >>> from dicom_widgets.dicomweb import DicomWebCatalog
    >>> catalog_text(DicomWebCatalog("study", [], "http://127.0.0.1/dicom-web/studies"))
    '<DicomWebCatalog: 0 studies from http://127.0.0.1/dicom-web/studies>'
    """
    n = len(catalog.rows)
    noun = ("study" if n == 1 else "studies") if catalog.level == "study" else "series"
    lines = [f"<DicomWebCatalog: {n} {noun} from {catalog.url}>"]
    for row in catalog.rows[:20]:
        values = [str(row.get(c, "")) for c in catalog.columns[:6]]
        lines.append("  " + " | ".join(shorten(v, 40)[0] for v in values))
    if n > 20:
        lines.append(f"  ... and {n - 20} more")
    return "\n".join(lines)


def dicomweb_catalog_html(catalog: Any, *, max_rows: int = CATALOG_MAX_ROWS) -> Markup:
    """A QIDO-RS catalog as an escaped table, with a text fallback.

    Examples
    --------
    >>> from dicom_widgets.dicomweb import DicomWebCatalog
    >>> rows = [{"PatientName": "<script>x</script>"}]
    >>> html = dicomweb_catalog_html(DicomWebCatalog("study", rows, "", ("PatientName",)))
    >>> "<script>x" in html, "&lt;script&gt;x" in html
    (False, True)
    """
    text = catalog_text(catalog)
    with id_scope(text):
        rows = catalog.rows
        title = tag(
            "div",
            tag("b", "DICOMweb " + ("studies" if catalog.level == "study" else "series")),
            f" · {len(rows)} found · {catalog.url}",
            class_="dw-header",
        )
        if not rows:
            body = join([title, note("nothing matched this search")])
        else:
            cells = [[_cell(row.get(c, "")) for c in catalog.columns] for row in rows[:max_rows]]
            parts = [title, table(cells, headers=[column_label(c) for c in catalog.columns])]
            if len(rows) > max_rows:
                parts.append(note(f"{len(rows) - max_rows} more rows not shown"))
            body = join(parts)
    return wrap(body, text)
