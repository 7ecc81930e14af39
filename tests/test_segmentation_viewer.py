"""Segmentations in the viewer with linked viewers, ortho panes and the browser frame cache.

The frame cache is exact only if every frame the browser holds is, byte for byte, what
the kernel would render for that slice now. With segmentations this means: a legend
toggle starts a new generation (the browser drops every older frame), and every frame
sent afterwards equals the frame of a fresh viewer that never showed the hidden segment.
Checked on the real ipympl canvas, without a browser (``tests/browser/`` paints).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ipympl")
pytest.importorskip("anywidget")

import dicom_widgets as dw  # noqa: E402
from dicom_widgets.data import ct_phantom  # noqa: E402
from dicom_widgets.view import ViewModel  # noqa: E402
from dicom_widgets.view.layers import blend_labels  # noqa: E402
from dicom_widgets.view.segmentation_layer import (  # noqa: E402
    SegmentationLayer,
    labelled_box,
    outline_of,
)
from dicom_widgets.widgets._viewer_render import SendRecorder  # noqa: E402
from dicom_widgets.widgets._viewer_segmentation import SegmentLegend  # noqa: E402

NAMES = {1: "liver", 2: "spleen"}


class _CacheFrames:
    """What a viewer sends to its browser cache: (generation, index) -> PNG bytes, in order."""

    def __init__(self, viewer: dw.SeriesViewer) -> None:
        self.by_key: dict[tuple[int, int], bytes] = {}
        self.order: list[tuple[int, int]] = []
        cache = viewer.frame_cache.widget
        original = cache.send_frame

        def send_frame(generation: int, index: int, png: bytes) -> None:
            self.by_key[(generation, index)] = bytes(png)
            self.order.append((generation, index))
            original(generation, index, png)

        cache.send_frame = send_frame


@pytest.fixture(scope="module")
def datasets():
    return ct_phantom(n_slices=12, size=64, noise=10.0, seed=3)


@pytest.fixture(scope="module")
def series(datasets):
    return dw.load_series(datasets, progress=False)


def _labels(shape: tuple[int, int, int]) -> np.ndarray:
    labels = np.zeros(shape, np.uint8)
    labels[2:10, 10:30, 12:34] = 1
    labels[4:9, 36:52, 30:56] = 2
    labels[:, 0:6, 58:64] = 2  # touches the picture's corner: its outline is the border
    return labels


def _viewer(series, labels, **kwargs) -> dw.SeriesViewer:
    viewer = dw.SeriesViewer(series, window="abdomen", size=160, index=5, **kwargs.pop("at", {}))
    seg = dw.load_segmentation(labels, series, labels=NAMES)
    viewer.add_segmentation(seg, alpha=0.5, **kwargs)
    return viewer


def _frame_at(viewer: dw.SeriesViewer, index: int) -> bytes:
    """The PNG the canvas sends when the viewer steps to ``index`` (a fresh server render)."""
    if viewer.index == index:
        viewer.index = index + 1 if index + 1 < viewer.n_slices else index - 1
    sent = SendRecorder(viewer.canvas)
    try:
        viewer.index = index
        return sent.last
    finally:
        sent.close()


def test_drawing_on_the_labelled_box_equals_drawing_on_the_whole_slice(series):
    labels = _labels(series.shape)
    seg = dw.load_segmentation(labels, series, labels=NAMES)
    model = ViewModel(series, index=5, window="abdomen")
    plain = model.render().copy()
    model.add_layer(SegmentationLayer("seg", seg, opacity=0.5, outline=True))
    shown = model.render()
    # The reference: blend and outline over the whole slice.
    expected = plain.copy()
    table = np.zeros((3, 3), np.float32)
    for segment in seg.segments:
        table[segment.number] = segment.color
    blend_labels(expected, labels[5], table, 0.5)
    edge = outline_of(labels[5])
    expected[..., :3][edge] = table[labels[5][edge]].astype(np.uint8)
    np.testing.assert_array_equal(shown, expected)
    assert labelled_box(np.zeros((4, 4), np.uint8)) is None


def test_linked_viewers_both_show_the_overlay_at_the_linked_slice(datasets, series):
    thick = dw.load_series(datasets[::2], progress=False)  # every other slice, same anatomy
    labels = _labels(series.shape)
    a = _viewer(series, labels)
    b = _viewer(thick, labels[::2])
    try:
        dw.link(a, b)
        b_frames = _CacheFrames(b)
        b.prefetch()
        generation = b.frame_cache.generation
        sent = SendRecorder(b.canvas)
        a.index = 8  # z of slice 8 is slice 4 of the thick series
        assert b.index == 4
        for viewer, source, slice_labels in ((a, series, labels[8]), (b, thick, labels[::2][4])):
            shown = viewer.displayed
            np.testing.assert_array_equal(shown, viewer.model.render()[..., :3])
            plain = ViewModel(source, index=viewer.index, window="abdomen").render()
            changed = (shown != plain[..., :3]).any(axis=2)
            # Exactly the labelled pixels change (fills and outlines), nothing else.
            np.testing.assert_array_equal(changed, slice_labels > 0)
        # The linked viewer's step was a cache hit: the bytes its browser already had.
        assert b.frame_cache.generation == generation
        assert sent.last == b_frames.by_key[(generation, 4)]
    finally:
        a.close()
        b.close()


def test_a_legend_toggle_drops_every_cached_frame_and_new_ones_are_fresh(series):
    labels = _labels(series.shape)
    viewer = _viewer(series, labels)
    fresh = _viewer(series, labels, segments=[2])  # never showed the liver
    try:
        frames = _CacheFrames(viewer)
        viewer.prefetch()
        old = viewer.frame_cache.generation
        assert {(old, j) for j in (4, 6, 7)} <= set(frames.by_key)
        (legend,) = [c for c in viewer.children if isinstance(c, SegmentLegend)]
        since = len(frames.order)
        legend.checkboxes[1].value = False  # the user unticks "liver"
        new = viewer.frame_cache.generation
        assert new > old
        # The frame on screen is sent again at once, under the new generation...
        assert frames.order[since] == (new, 5)
        viewer.prefetch()
        assert frames.by_key[(new, 6)] != frames.by_key[(old, 6)]
        # ...and nothing of the old generation is sent after the toggle.
        assert all(g == new for g, _ in frames.order[since:])
        for index in (5, 6, 7, 4, 2):
            assert frames.by_key[(new, index)] == _frame_at(fresh, index), index
            # Stepping there now sends the same bytes: the browser's copy is exact.
            assert _frame_at(viewer, index) == frames.by_key[(new, index)]
        legend.checkboxes[1].value = True
        assert viewer.frame_cache.generation > new
    finally:
        viewer.close()
        fresh.close()


def test_ortho_viewer_shows_the_overlay_in_every_pane_and_caches_exactly(series):
    labels = _labels(series.shape)
    viewer = _viewer(series, labels, at={"view": "ortho"})
    try:
        model = viewer.model
        with viewer._draw_lock:  # noqa: SLF001 - the lock the viewer's own controls take
            model.set_cursor((5, 20, 20))  # inside the liver: every pane cuts it
        plain_model = ViewModel(series, view="ortho", window="abdomen")
        plain_model.set_cursor((5, 20, 20))
        for pane in range(3):
            frame = model.frame(pane, index=model.pane(pane).index)
            inside = frame.pane.cut(labels) == 1
            assert inside.any(), f"pane {pane} does not cut the liver"
            plain = plain_model.frame(pane, index=frame.pane.index)
            assert (frame.rgba[inside][:, :3] != plain.rgba[inside][:, :3]).any(axis=1).all()
        frames = _CacheFrames(viewer)
        viewer.prefetch(4)
        generation = viewer.frame_cache.generation
        index = next(j for g, j in frames.by_key if g == generation and j != viewer.index)
        assert _frame_at(viewer, index) == frames.by_key[(generation, index)]
    finally:
        viewer.close()
