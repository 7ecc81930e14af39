"""The segmentation layer of the view model and the viewer's segment legend."""

from __future__ import annotations

import numpy as np
import pytest
from segmentation_fixtures import build_rtstruct, non_square_ct

import dicom_widgets as dw
from dicom_widgets.view import ViewModel
from dicom_widgets.view.segmentation_layer import SegmentationLayer, outline_of
from dicom_widgets.widgets._viewer_segmentation import SegmentLegend


@pytest.fixture()
def ct():
    return non_square_ct(n_slices=6, rows=40, cols=52)


@pytest.fixture()
def series(ct):
    return dw.load_series(ct, progress=False)


def _labels(shape):
    labels = np.zeros(shape, np.uint8)
    labels[2:4, 5:20, 5:25] = 1
    labels[3, 22:35, 30:45] = 2
    labels[3, 10:15, 10:15] = 3  # inside segment 1's box: an overlap in the picture
    return labels


def test_layer_fills_outlines_hides_and_reads_out(series):
    labels = _labels(series.shape)
    seg = dw.load_segmentation(labels, series, labels={1: "liver", 2: "spleen", 3: "cyst"})
    model = ViewModel(series, index=3)
    plain = model.render().copy()
    layer = model.add_layer(SegmentationLayer("seg", seg, opacity=1.0, outline=False))
    shown = model.render()
    assert tuple(shown[25, 35, :3]) == seg.segment("spleen").color
    assert tuple(shown[12, 12, :3]) == seg.segment("cyst").color
    assert "spleen" in model.readout(None, 25, 35)
    assert [e.label for e in model.legend()] == ["liver", "spleen", "cyst"]
    layer.set_segment_visible("spleen", False)
    hidden = model.render()
    np.testing.assert_array_equal(hidden[25, 35], plain[25, 35])
    assert "spleen" not in model.readout(None, 25, 35)
    assert [e.label for e in model.legend()] == ["liver", "cyst"]
    layer.opacity, layer.outline = 0.0, True
    edges = model.render()
    assert tuple(edges[5, 10, :3]) == seg.segment("liver").color  # the box's top edge
    np.testing.assert_array_equal(edges[10, 8], plain[10, 8])  # inside, transparent


def test_reformat_uses_the_label_volume(series):
    labels = _labels(series.shape)
    seg = dw.load_segmentation(labels, series)
    model = ViewModel(series, view="coronal")
    layer = model.add_layer(SegmentationLayer("seg", seg, opacity=1.0, outline=False))
    frame = model.frame(index=12)  # a coronal plane through all three segments
    expected = frame.pane.cut(labels)
    colours = np.array([(0, 0, 0)] + [s.color for s in seg.segments], np.uint8)
    hit = expected > 0
    assert hit.any()
    np.testing.assert_array_equal(frame.rgba[hit][:, :3], colours[expected[hit]])
    assert layer.segmentation is seg


def test_rt_contours_are_lines_on_the_acquired_plane_and_fills_on_reformats(tmp_path, ct, series):
    from dicom_widgets import _compat

    z = float(ct[2].ImagePositionPatient[2])
    t = np.linspace(0, 2 * np.pi, 30, endpoint=False)
    ring = np.stack([10 * np.cos(t) - 20, 10 * np.sin(t) - 10, np.full(30, z)], 1)
    rt = build_rtstruct(ct, {1: ("GTV", [("CLOSED_PLANAR", ring)])}, colors={1: (0, 255, 0)})
    path = tmp_path / "rt.dcm"
    _compat.write_dataset(rt, path)
    seg = dw.load_segmentation(path, series)
    model = ViewModel(series, index=2)
    plain = model.render().copy()
    model.add_layer(SegmentationLayer("rt", seg, opacity=0.5))
    np.testing.assert_array_equal(model.render(), plain)  # no fill on the acquired plane
    (line,) = model.items()
    assert line.closed and line.color == (0.0, 1.0, 0.0) and len(line.points) == 30
    model.view = "coronal"
    assert model.items() == []


def test_layer_refuses_another_grid(series):
    other = dw.load_series(non_square_ct(n_slices=4, rows=40, cols=52), progress=False)
    seg = dw.load_segmentation(np.ones(other.shape, bool), other)
    with pytest.raises(ValueError, match="not the series'"):
        ViewModel(series).add_layer(SegmentationLayer("seg", seg))


def test_outline_of_marks_borders():
    labels = np.zeros((6, 6), np.uint8)
    labels[1:5, 1:5] = 2
    edge = outline_of(labels)
    assert edge[1, 1] and edge[4, 3] and not edge[2, 2] and not edge[0, 0]


def test_viewer_add_segmentation_legend_toggles(series):
    pytest.importorskip("ipywidgets")
    labels = _labels(series.shape)
    seg = dw.load_segmentation(labels, series, labels={1: "<b>liver</b>", 2: "spleen"})
    viewer = dw.SeriesViewer(series, index=3)
    try:
        before = viewer.snapshot()
        layer = viewer.add_segmentation(seg, alpha=0.5)
        shown = viewer.snapshot()
        assert shown != before
        assert viewer.legend_labels[:2] == ["<b>liver</b>", "spleen"]
        (legend,) = [c for c in viewer.children if isinstance(c, SegmentLegend)]
        legend.checkboxes[1].value = False
        assert layer.hidden == [1] and viewer.snapshot() != shown
        layer.set_segment_visible(1, True)
        assert legend.checkboxes[1].value is True
    finally:
        viewer.close()


def test_ortho_panes_each_show_the_segment(series):
    labels = np.zeros(series.shape, np.uint8)
    labels[1:5, 10:30, 10:40] = 1
    seg = dw.load_segmentation(labels, series)
    model = ViewModel(series, view="ortho")
    model.add_layer(SegmentationLayer("seg", seg, opacity=1.0, outline=False))
    colour = np.array(seg.segments[0].color, np.uint8)
    for pane in range(3):
        frame = model.frame(pane, index=model.pane(pane).index)
        expected = frame.pane.cut(labels) > 0
        assert expected.any(), f"pane {pane} does not cut the segment"
        assert np.all(frame.rgba[expected][:, :3] == colour)
