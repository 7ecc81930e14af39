"""A :class:`~dicom_widgets.segmentation.Segmentation` as a viewer layer.

SEG, NIfTI and numpy segments are filled with the layer's opacity and, optionally,
outlined; RT contours are drawn as crisp polylines on the acquired plane (the plane
they were drawn on) and as filled masks on reformats. Each segment can be hidden on
its own (:meth:`SegmentationLayer.set_segment_visible`); the readout names every
visible segment under the cursor. Slices are asked of the segmentation one at a time,
so a 100-segment SEG costs one slice's frames per step, not a full decode.

Examples
--------
>>> import numpy as np
>>> import dicom_widgets as dw
>>> from dicom_widgets.data import ct_phantom
>>> from dicom_widgets.view import ViewModel
>>> series = dw.load_series(ct_phantom(n_slices=3, size=16), progress=False)
>>> labels = np.zeros(series.shape, np.uint8); labels[1, 4:8, 4:8] = 1
>>> seg = dw.load_segmentation(labels, series, labels={1: "lesion"})
>>> model = ViewModel(series, index=1)
>>> layer = model.add_layer(SegmentationLayer("seg", seg, opacity=1.0, outline=False))
>>> tuple(model.render()[5, 5, :3]) == seg.segments[0].color
True
>>> layer.set_segment_visible("lesion", False)
>>> tuple(model.render()[5, 5, :3]) == seg.segments[0].color
False
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import traitlets

from .layers import Layer, LegendEntry, PaneView, Polyline, TextItem, blend_labels

if TYPE_CHECKING:
    from ..segmentation import Segment, Segmentation
    from .model import ViewModel

__all__ = ["SegmentationLayer", "labelled_box", "outline_of"]


def outline_of(labels: np.ndarray) -> np.ndarray:
    """Pixels of a label picture that touch another label (or none) in 4-connectivity."""
    edge = np.zeros(labels.shape, bool)
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    if labels.size:  # the picture's border closes segments cut by it
        edge[[0, -1], :] = True
        edge[:, [0, -1]] = True
    return edge & (labels > 0)


def labelled_box(labels: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns holding labels, one pixel wider where the picture allows; None if empty.

    The margin keeps :func:`outline_of` on the box equal to it on the whole picture: the
    box's border is either unlabelled or the picture's own border.

    Examples
    --------
    >>> labels = np.zeros((6, 8), np.uint8); labels[2:4, 3] = 1
    >>> labelled_box(labels)
    (slice(1, 5, None), slice(2, 5, None))
    """
    rows = np.flatnonzero(labels.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(labels.any(axis=0))
    n_rows, n_cols = labels.shape
    return (
        slice(max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, n_rows)),
        slice(max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, n_cols)),
    )


class SegmentationLayer(Layer):
    """Segments of a :class:`~dicom_widgets.segmentation.Segmentation` over the image.

    Parameters
    ----------
    name : str
        Unique within the model.
    segmentation : Segmentation
        Aligned to the model's series (``dw.load_segmentation(..., series)``).
    opacity : float
        Opacity of the filled segments, 0..1.
    outline : bool
        Draw each segment's outline opaque (SEG / labels; RT contours are lines anyway).
    segments : iterable of int or str, optional
        The segments shown at first (numbers or labels); all by default.
    """

    #: Segment numbers not drawn.
    hidden = traitlets.List(traitlets.Int())
    outline = traitlets.Bool(True)

    def __init__(
        self,
        name: str,
        segmentation: Segmentation,
        *,
        opacity: float = 0.4,
        outline: bool = True,
        segments: Iterable[int | str] | None = None,
        visible: bool = True,
    ) -> None:
        if not 0.0 <= float(opacity) <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {opacity!r}")
        super().__init__(name, visible=visible, opacity=opacity)
        self.segmentation = segmentation
        self.outline = bool(outline)
        numbers = [s.number for s in segmentation.segments]
        shown = (
            set(numbers) if segments is None else {segmentation.segment(s).number for s in segments}
        )
        self.hidden = [n for n in numbers if n not in shown]
        top = max(numbers, default=0)
        self._table = np.zeros((top + 1, 3), np.float32)
        for seg in segmentation.segments:
            self._table[seg.number] = seg.color
        self._slices: OrderedDict[tuple[int, tuple[int, ...]], np.ndarray] = OrderedDict()
        self._volume: np.ndarray | None = None

    # ------------------------------------------------------------------ state
    @property
    def contours_on_acquired(self) -> bool:
        """RT structure sets are drawn as polylines on the acquired plane."""
        return self.segmentation.modality == "RTSTRUCT"

    def shown(self) -> list[Segment]:
        """The segments drawn, in file order."""
        hidden = set(self.hidden)
        return [s for s in self.segmentation.segments if s.number not in hidden]

    def set_segment_visible(self, segment: int | str, visible: bool = True) -> None:
        """Show or hide one segment (by number or label); the model redraws."""
        number = self.segmentation.segment(segment).number
        hidden = [n for n in self.hidden if n != number]
        if not visible:
            hidden.append(number)
        self.hidden = sorted(hidden)

    def attach(self, model: ViewModel) -> None:
        src = model.source
        expected = (src.n_slices, src.rows, src.cols)
        if tuple(self.segmentation.shape) != expected:
            raise ValueError(
                f"the segmentation's grid {tuple(self.segmentation.shape)} is not the series' "
                f"(slices, rows, cols) = {expected}; load it with the viewer's series"
            )
        super().attach(model)

    # ------------------------------------------------------------------ pictures
    def _acquired_labels(self, index: int) -> np.ndarray:
        key = (index, tuple(self.hidden))
        found = self._slices.get(key)
        if found is None:
            seg = self.segmentation
            found = (
                seg.slice_labels(index)
                if not self.hidden
                else seg.slice_labels(index, segments=[s.number for s in self.shown()])
            )
            self._slices[key] = found
            while len(self._slices) > 16:
                self._slices.popitem(last=False)
        else:
            self._slices.move_to_end(key)
        return found

    def _labels(self, pane: PaneView) -> np.ndarray:
        if pane.acquired:
            return self._acquired_labels(pane.index)
        if self._volume is None:
            model = self.model
            if model is not None:
                with model.busy(
                    f"building the {self.name} label volume for the {model.view} view…"
                ):
                    self._volume = self.segmentation.label_volume()
            else:
                self._volume = self.segmentation.label_volume()
        labels = pane.cut(self._volume)
        if self.hidden:
            keep = np.ones(len(self._table), bool)
            keep[[n for n in self.hidden if n < len(keep)]] = False
            labels = np.where(keep[labels], labels, 0)
        return labels

    def draw(self, rgba: np.ndarray, pane: PaneView) -> np.ndarray:
        if not self.shown():
            return rgba
        if pane.acquired and self.contours_on_acquired:
            return rgba  # polylines: see items()
        labels = self._labels(pane)
        box = labelled_box(labels)
        if box is None:
            return rgba
        # Segments cover a small part of a slice: blend and outline only their box (the
        # same pixels, a fraction of the work on every step).
        labels, target = labels[box], rgba[box]
        blend_labels(target, labels, self._table, self.opacity)
        if self.outline:
            edge = outline_of(labels)
            target[..., :3][edge] = self._table[labels[edge]].astype(np.uint8)
        return rgba

    def items(self, pane: PaneView) -> list[Polyline | TextItem]:
        if not (pane.acquired and self.contours_on_acquired):
            return []
        out: list[Polyline | TextItem] = []
        for seg in self.shown():
            color = tuple(float(c) / 255.0 for c in seg.color)
            for line in self.segmentation.contours(seg.number, pane.index):
                out.append(Polyline(line.points, color, width=1.5, closed=line.closed))  # type: ignore[arg-type]
        return out

    def readout(self, pane: PaneView, row: int, col: int) -> str | None:
        k, r, c = pane.plane.voxel(pane.index, row, col, pane.volume_shape)
        seg = self.segmentation
        names = [
            s.label
            for s in self.shown()
            if k in seg.slices(s.number) and seg.slice_mask(s.number, k)[r, c]
        ]
        return ", ".join(names) if names else None

    def legend(self) -> list[LegendEntry]:
        return [
            LegendEntry(
                s.label,
                tuple(float(v) / 255.0 for v in s.color),  # type: ignore[arg-type]
                max(self.opacity, 0.6),
                self.name,
                s.number,
            )
            for s in self.shown()
        ]
