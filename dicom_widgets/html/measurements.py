"""HTML and text tables of measurements (a viewer's table, a static fallback).

Every label comes from the user or from a loaded report and is escaped by
:func:`~dicom_widgets.html.tag` like every other value.

Examples
--------
>>> from dicom_widgets.measurements import Measurement
>>> from dicom_widgets.html.measurements import measurements_table
>>> m = Measurement("distance", [[0, 0, 0], [3, 4, 0]], 5.0, "mm", label="<b>d</b>")
>>> "&lt;b&gt;d&lt;/b&gt;" in measurements_table([m])
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..measurements import Measurement
from ._core import Markup, tag

__all__ = ["measurements_table", "measurements_text", "MEASUREMENT_COLUMNS"]

#: Column headers of the table.
MEASUREMENT_COLUMNS = (
    "label",
    "kind",
    "value",
    "view",
    "slice",
    "mean",
    "SD",
    "min",
    "max",
    "area mm²",
    "pixels",
)


def _number(value: object, digits: int = 1) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(number) else f"{number:.{digits}f}"


def _row(m: Measurement) -> list[object]:
    unit = {"deg": "°"}.get(m.unit, f" {m.unit}" if m.unit else "")
    value = m.reason if (m.reason and math.isnan(m.value)) else f"{_number(m.value)}{unit}"
    stats = m.stats
    where = m.view + (f" ({m.slab})" if m.slab else "")
    return [
        m.label,
        m.kind,
        value,
        where,
        "" if m.index is None else str(m.index + 1),
        _number(stats.get("mean")),
        _number(stats.get("std")),
        _number(stats.get("min")),
        _number(stats.get("max")),
        _number(stats.get("area_mm2")),
        "" if not m.is_roi else str(int(stats.get("n_pixels", 0) or 0)),
    ]


def measurements_table(measurements: Sequence[Measurement], selected: str = "") -> Markup:
    """A ``<table>`` with one row per measurement; the ``selected`` uid's row is marked."""
    rows = []
    for m in measurements:
        cells = [tag("td", cell) for cell in _row(m)]
        rows.append(tag("tr", cells, class_="dw-selected" if m.uid == selected else None))
    if not measurements:
        return tag("p", "No measurements yet: pick a tool and draw on the image.", class_="dw-note")
    head = tag("thead", tag("tr", [tag("th", h) for h in MEASUREMENT_COLUMNS]))
    return tag("table", head, tag("tbody", rows), class_="dw-table dw-measurements")


def measurements_text(measurements: Sequence[Measurement]) -> str:
    """The same table as aligned text (for the ``<pre>`` fallback)."""
    lines = ["  ".join(MEASUREMENT_COLUMNS)]
    lines += ["  ".join(str(cell) for cell in _row(m)) for m in measurements]
    return "\n".join(lines)
