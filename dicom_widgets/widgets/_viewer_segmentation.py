"""The viewer's segmentation legend: one checkbox and colour swatch per segment.

Each checkbox shows or hides its segment in a
:class:`~dicom_widgets.view.segmentation_layer.SegmentationLayer`; the layer tells the
model, which redraws (and the browser frame cache learns that every picture is new).
Segment labels are text from the file: a checkbox description is shown as text, and
the swatch is built by :mod:`dicom_widgets.html`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from ..html import tag
from ..view.segmentation_layer import SegmentationLayer

__all__ = ["SegmentLegend"]


def _swatch(color: tuple[int, int, int]) -> widgets.HTML:
    r, g, b = (max(0, min(255, int(v))) for v in color)
    html = tag(
        "span",
        style=(
            "display:inline-block;width:12px;height:12px;margin-top:6px;"
            f"border:1px solid #888;background:#{r:02x}{g:02x}{b:02x}"
        ),
    )
    return widgets.HTML(str(html), layout=widgets.Layout(width="16px"))


class SegmentLegend(widgets.VBox):
    """Checkboxes that show and hide the segments of one layer.

    Attributes
    ----------
    layer : SegmentationLayer
    checkboxes : dict
        Segment number -> its ``ipywidgets.Checkbox``.
    """

    def __init__(self, layer: SegmentationLayer, *, max_segments: int = 200) -> None:
        self.layer = layer
        self.checkboxes: dict[int, widgets.Checkbox] = {}
        rows = []
        hidden = set(layer.hidden)
        for segment in layer.segmentation.segments[:max_segments]:
            box = widgets.Checkbox(
                value=segment.number not in hidden,
                description=segment.label or f"Segment {segment.number}",
                indent=False,
                layout=widgets.Layout(width="auto"),
            )
            box.add_class("dw-segment-toggle")
            box.observe(self._toggled(segment.number), names="value")
            self.checkboxes[segment.number] = box
            rows.append(widgets.HBox([_swatch(segment.color), box]))
        title = widgets.Label(f"{layer.name}: {len(layer.segmentation.segments)} segment(s)")
        super().__init__(
            [title, widgets.Box(rows, layout=widgets.Layout(flex_flow="row wrap"))],
            layout=widgets.Layout(max_height="160px", overflow="auto"),
        )
        self.add_class("dw-segment-legend")
        layer.observe(self._from_layer, names="hidden")

    def _toggled(self, number: int) -> Any:
        def on_change(change: Mapping[str, Any]) -> None:
            self.layer.set_segment_visible(number, bool(change["new"]))

        return on_change

    def _from_layer(self, change: Mapping[str, Any]) -> None:
        hidden = set(change["new"])
        for number, box in self.checkboxes.items():
            wanted = number not in hidden
            if box.value != wanted:
                box.value = wanted


def add_segmentation_layer(
    viewer: Any,
    seg_or_path: Any,
    *,
    alpha: float,
    outline: bool,
    segments: Any,
    name: str | None,
) -> SegmentationLayer:
    """:meth:`SeriesViewer.add_segmentation`: load, add the layer, show its legend."""
    from ..segmentation import Segmentation, load_segmentation

    seg = seg_or_path
    if not isinstance(seg, Segmentation):
        series = getattr(viewer.source, "series", None)
        if series is None:
            raise ValueError(
                "this viewer shows an array, not a series: pass a Segmentation (or use add_overlay)"
            )
        seg = load_segmentation(seg_or_path, series)
    existing = [layer for layer in viewer.model.layers if isinstance(layer, SegmentationLayer)]
    name = name or f"{seg.modality or 'segmentation'} {len(existing) + 1}"
    layer = SegmentationLayer(name, seg, opacity=alpha, outline=outline, segments=segments)
    with viewer._draw_lock:  # noqa: SLF001 - the viewer's own lock around model changes
        viewer.model.add_layer(layer)
    legend = SegmentLegend(layer)
    children = list(viewer.children)
    at = children.index(viewer.controls.readout_label)
    viewer.children = [*children[:at], legend, *children[at:]]
    return layer
