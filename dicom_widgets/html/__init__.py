"""HTML reprs of datasets, series and catalogs: the only place that builds HTML.

Every value goes through :func:`escape` (directly or via :func:`tag`); the output is
one scoped stylesheet, CSS-only collapsible sections and a ``<pre>`` text fallback.
This package imports neither ipywidgets nor matplotlib.

Examples
--------
>>> from dicom_widgets.html import tag
>>> str(tag("td", "<script>"))
'<td>&lt;script&gt;</td>'
"""

from __future__ import annotations

from ._core import (
    CSS_CLASS,
    Markup,
    badge,
    clean_text,
    collapsible_section,
    escape,
    html_or_pre,
    id_scope,
    join,
    new_id,
    note,
    rendered,
    shorten,
    stylesheet,
    table,
    tag,
    thumbnail_img,
    wrap,
)
from .dataset import (
    count_elements,
    dataset_body,
    dataset_html,
    dataset_plain_text,
    dataset_summary,
    dataset_text,
    dataset_thumbnail,
)
from .series import (
    catalog_html,
    catalog_text,
    findings_table,
    orientation_label,
    series_body,
    series_html,
    series_text,
)

__all__ = [
    # the escaping core
    "CSS_CLASS",
    "Markup",
    "badge",
    "clean_text",
    "collapsible_section",
    "escape",
    "html_or_pre",
    "rendered",
    "id_scope",
    "join",
    "new_id",
    "note",
    "shorten",
    "stylesheet",
    "table",
    "tag",
    "thumbnail_img",
    "wrap",
    # datasets
    "count_elements",
    "dataset_body",
    "dataset_plain_text",
    "dataset_html",
    "dataset_summary",
    "dataset_text",
    "dataset_thumbnail",
    # series and catalogs
    "catalog_html",
    "catalog_text",
    "findings_table",
    "orientation_label",
    "series_body",
    "series_html",
    "series_text",
]
