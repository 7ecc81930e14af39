"""Moving and resizing measurements: hit-tests, drags, live re-measuring, undo, the mouse.

The geometry (dicom_widgets.measurements.edit) is tested on plain points; the layer on the
known non-square, anisotropic series (0.7 x 0.5 mm pixels, 2.5 mm slices) on acquired,
coronal and oblique planes; the viewer with mouse events through ipympl's own handler.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from measure_series import (
    BONE,
    COL_MM,
    ROW_MM,
    SLICE_MM,
    drag,
    known_datasets,
    known_series,
    mouse,
    send,
)

import dicom_widgets as dw
from dicom_widgets.errors import MeasurementError
from dicom_widgets.measurements.edit import Hit, drag_points, handles, hit_test
from dicom_widgets.view import ViewModel, plane_for
from dicom_widgets.view.measurement_layer import measurement_layer_of
from dicom_widgets.widgets.viewer import SeriesViewer


@pytest.fixture(scope="module")
def series():
    return known_series()


# ------------------------------------------------------------------ geometry: hit-tests
RULER = np.array([[10.0, 10.0], [10.0, 30.0]])
BOX = np.array([[20.0, 20.0], [20.0, 40.0], [30.0, 40.0], [30.0, 20.0]])


def test_a_press_near_an_end_point_grabs_that_handle():
    hit = hit_test([("r", "distance", RULER)], (11.0, 29.0))
    assert hit == Hit("r", "handle", 1, pytest.approx(math.sqrt(2)))
    assert hit_test([("r", "distance", RULER)], (10.0, 20.0)) == Hit("r", "body", -1, 0.0)
    assert hit_test([("r", "distance", RULER)], (18.0, 20.0)) is None


def test_the_tolerance_is_in_display_pixels_so_zoom_and_aspect_count():
    placed = [("r", "distance", RULER)]
    # 2 screen rows off the end: 8 display px at 4 px per row (missed), 2 px at 1 px per row.
    assert hit_test(placed, (12.0, 30.0), scale=(4.0, 1.0)) is None
    assert hit_test(placed, (12.0, 30.0), scale=(1.0, 1.0)).handle == 1
    # 5 columns off: 5 px at 1 px per column, 15 px at 3.
    assert hit_test(placed, (10.0, 35.0), scale=(1.0, 1.0)).part == "handle"
    assert hit_test(placed, (10.0, 35.0), scale=(1.0, 3.0)) is None
    assert hit_test(placed, (10.0, 35.0), tolerance_px=4.0) is None


def test_handles_win_over_bodies_and_the_smallest_roi_wins_inside():
    big = np.array([[0.0, 0.0], [0.0, 60.0], [60.0, 60.0], [60.0, 0.0]])
    placed = [("big", "rectangle", big), ("box", "rectangle", BOX), ("r", "distance", RULER)]
    # At 2 display px per pixel, the box's middle is 10 px from its handles: its body.
    assert hit_test(placed, (25.0, 30.0), scale=(2, 2)) == Hit("box", "body", -1, 0.0)
    assert hit_test(placed, (45.0, 45.0)).uid == "big"
    assert hit_test(placed, (20.5, 40.5)) == Hit("box", "handle", 1, pytest.approx(math.sqrt(0.5)))
    assert hit_test(placed, (25.0, 40.0)).handle == 5  # the middle of the right edge
    # Near the ruler (a line) inside the big ROI: the ruler's body.
    assert hit_test(placed, (12.0, 20.0)) == Hit("r", "body", -1, 2.0)


def test_an_ellipse_has_box_corners_and_axis_ends_as_handles():
    ellipse = np.array([[25.0, 20.0], [25.0, 40.0], [20.0, 30.0], [30.0, 30.0]])  # major first
    grips = handles("ellipse", ellipse)
    np.testing.assert_allclose(grips[:4], [[20, 20], [20, 40], [30, 40], [30, 20]])
    np.testing.assert_allclose(grips[4:], [[20, 30], [25, 40], [30, 30], [25, 20]])
    assert hit_test([("e", "ellipse", ellipse)], (25.0, 30.0), scale=(2, 2)).part == "body"
    assert hit_test([("e", "ellipse", ellipse)], (25.0, 30.0)).handle == 4  # 5 px from the top
    assert hit_test([("e", "ellipse", ellipse)], (21.5, 21.5)).handle == 0


# ---------------------------------------------------------------------- geometry: drags
def test_dragging_end_points_vertices_and_bodies():
    shape = (64, 64)
    moved = drag_points("distance", RULER, Hit("r", "handle", 0), (5.0, -4.0), shape)
    np.testing.assert_allclose(moved, [[15, 6], [10, 30]])
    angle = np.array([[0.0, 10.0], [10.0, 10.0], [10.0, 20.0]])
    np.testing.assert_allclose(
        drag_points("angle", angle, Hit("a", "handle", 1), (0, -3), shape)[1], [10, 7]
    )
    body = drag_points("distance", RULER, Hit("r", "body"), (3.0, 2.0), shape)
    np.testing.assert_allclose(body, RULER + [3, 2])
    # A move is kept inside the image (the shape does not change at the edge).
    at_edge = drag_points("distance", RULER, Hit("r", "body"), (-50.0, 100.0), shape)
    np.testing.assert_allclose(at_edge, [[-0.5, 43.5], [-0.5, 63.5]])
    with pytest.raises(MeasurementError, match="no handle 2"):
        drag_points("distance", RULER, Hit("r", "handle", 2), (0, 0), shape)


def test_a_rectangle_corner_keeps_the_opposite_corner_and_an_edge_moves_alone():
    shape = (64, 64)
    corner = drag_points("rectangle", BOX, Hit("b", "handle", 2), (4.0, 6.0), shape)
    np.testing.assert_allclose(corner, [[20, 20], [20, 46], [34, 46], [34, 20]])
    edge = drag_points("rectangle", BOX, Hit("b", "handle", 4), (-3.0, 9.0), shape)  # top
    np.testing.assert_allclose(edge, [[17, 20], [17, 40], [30, 40], [30, 20]])
    # A tilted rectangle stays a rectangle: the drag splits along its own edges.
    c, s = math.cos(0.4), math.sin(0.4)
    tilted = np.array(
        [[0.0, 0.0], [10 * s, 10 * c], [10 * s - 5 * c, 10 * c + 5 * s], [-5 * c, 5 * s]]
    )
    tilted += 30
    out = drag_points("rectangle", tilted, Hit("t", "handle", 0), (2.0, -1.0), shape)
    np.testing.assert_allclose(out[2], tilted[2])
    for k in range(4):
        a, b, d = out[k], out[(k + 1) % 4], out[(k + 3) % 4]
        assert (b - a) @ (d - a) == pytest.approx(0.0, abs=1e-9)


def test_an_ellipse_resizes_from_an_axis_end_or_a_box_corner():
    shape = (64, 64)
    ellipse = np.array([[25.0, 20.0], [25.0, 40.0], [20.0, 30.0], [30.0, 30.0]])
    # The right axis end (handle 5) moves right by 6: the left end stays, the centre moves 3.
    wider = drag_points("ellipse", ellipse, Hit("e", "handle", 5), (1.0, 6.0), shape)
    np.testing.assert_allclose(wider, [[25, 20], [25, 46], [20, 33], [30, 33]])
    # The top-left corner (handle 0) down-right by (4, 4): the bottom-right corner stays.
    smaller = drag_points("ellipse", ellipse, Hit("e", "handle", 0), (4.0, 4.0), shape)
    np.testing.assert_allclose(smaller, [[27, 24], [27, 40], [24, 32], [30, 32]])
    # Made taller than wide: the longer axis (in mm) comes first, as DICOM's ELLIPSE wants.
    tall = drag_points("ellipse", ellipse, Hit("e", "handle", 6), (30.0, 0.0), shape)
    np.testing.assert_allclose(tall, [[20, 30], [60, 30], [40, 20], [40, 40]])
    # Same pixels, but rows of 0.2 mm: the 40-row axis is 8 mm, the 20-column one 20 mm.
    thin = drag_points(
        "ellipse", ellipse, Hit("e", "handle", 6), (30.0, 0.0), shape, spacing=(0.2, 1.0)
    )
    np.testing.assert_allclose(thin, [[40, 20], [40, 40], [20, 30], [60, 30]])


# ------------------------------------------------------------- the layer: live values
def test_dragging_a_ruler_end_remeasures_it_exactly_and_undo_puts_it_back(series):
    model = ViewModel(series, index=4)
    layer = measurement_layer_of(model)
    ruler = layer.measure("distance", [(5, 5), (5, 25)], label="ruler")
    other = layer.measure("distance", [(30, 5), (30, 15)], label="other")
    hit = layer.hit(5.3, 24.6)
    assert (hit.uid, hit.part, hit.handle) == (ruler.uid, "handle", 1)
    edit = layer.begin_edit(hit, (5.3, 24.6))
    live = edit.move(15.3, 44.6)  # 10 rows down, 20 columns right
    assert live.value == pytest.approx(math.hypot(10 * ROW_MM, 40 * COL_MM))
    assert (live.uid, live.label) == (ruler.uid, "ruler")
    assert [m.uid for m in layer.measurements] == [ruler.uid, other.uid]  # same place
    done = edit.finish()
    assert layer.get("ruler") is done and "ruler: " in model.items()[1].text
    restored = layer.undo()
    assert restored.value == pytest.approx(20 * COL_MM) and layer.get("ruler") is restored
    assert layer.undo() is None  # one edit, undone
    layer.visible = False
    assert layer.hit(5.3, 24.6) is None  # hidden measurements are not grabbed


def test_dragging_on_the_coronal_plane_uses_its_slice_spacing(series):
    model = ViewModel(series, view="coronal", index=10)
    layer = measurement_layer_of(model)
    m = layer.measure("distance", [(2, 10), (2, 30)])
    edit = layer.begin_edit(layer.hit(2, 10), (2, 10))
    # Coronal rows are slices (2.5 mm), columns 0.5 mm.
    assert edit.move(6, 10).value == pytest.approx(math.hypot(4 * SLICE_MM, 20 * COL_MM))
    # The move stays on this plane: the patient y of both points is row 10's.
    assert np.allclose(layer.get(m.uid).points[:, 1], layer.get(m.uid).points[0, 1])
    edit.cancel()
    assert layer.get(m.uid) is m


def _oblique_series():
    """The known series tilted 25 degrees about z, with 0.9 x 0.6 mm pixels and 3 mm slices."""
    angle = np.deg2rad(25.0)
    row_cos = np.array([np.cos(angle), np.sin(angle), 0.0])
    col_cos = np.array([0.0, 0.0, -1.0])
    normal = np.cross(row_cos, col_cos)
    datasets = known_datasets()
    for k, ds in enumerate(datasets):
        ds.ImageOrientationPatient = [float(v) for v in (*row_cos, *col_cos)]
        ds.ImagePositionPatient = [float(v) for v in 3.0 * k * normal]
        ds.PixelSpacing = [0.9, 0.6]
        ds.SliceThickness = 3.0
        del ds.SliceLocation
    return dw.load_series(datasets, progress=False)


def test_dragging_on_an_oblique_anisotropic_volume_is_exact():
    oblique = _oblique_series()
    affine = oblique.affine()
    for view in ("acquired", "coronal", "sagittal"):
        model = ViewModel(oblique, view=view, index=2)
        layer = measurement_layer_of(model)
        m = layer.measure("distance", [(1, 1), (1, 5)])
        edit = layer.begin_edit(layer.hit(1, 5), (1, 5))
        moved = edit.move(3, 7)
        down, right = plane_for(view, affine).pixel_spacing(affine)
        # The pane's screen rows and columns are perpendicular voxel axes.
        assert moved.value == pytest.approx(math.hypot(2 * down, 6 * right)), view
        assert moved.plane.oblique == (view != "acquired")
        assert np.linalg.norm(moved.points[1] - m.points[1]) == pytest.approx(
            math.hypot(2 * down, 2 * right)
        )


def test_moving_an_roi_body_recomputes_its_statistics(series):
    model = ViewModel(series, index=4)
    layer = measurement_layer_of(model)
    roi = layer.measure("ellipse", [(7, 10), (15, 24)], label="roi")  # in the water box
    assert roi.stats["mean"] == 0.0
    edit = layer.begin_edit(layer.hit(11, 17, scale=(3, 3)), (11, 17))
    assert edit.hit.part == "body"
    moved = edit.move(11 + 19, 17 + 26)  # into the bone box (rows 24-35, cols 34-51)
    assert moved.stats["mean"] == 1000.0 and moved.stats["n_pixels"] == roi.stats["n_pixels"]
    assert moved.stats["area_mm2"] == pytest.approx(roi.stats["area_mm2"])


def test_an_roi_moved_on_a_slab_is_measured_on_the_projected_values(series):
    # Slice 2 is air where the bone box lies (slices 3..8); a 6 mm MIP (slices 1..3) has it.
    model = ViewModel(series, index=2)
    model.slab, model.slab_thickness = "mip", 6.0
    layer = measurement_layer_of(model)
    box = layer.measure("rectangle", [(30, 5), (34, 15)])
    assert box.stats["mean"] == -1000.0
    edit = layer.begin_edit(layer.hit(32, 10, scale=(4, 4)), (32, 10))
    assert edit.hit.part == "body"
    moved = edit.move(32 - 4, 10 + 30)  # rows 26-30, cols 35-45: in the bone box's rows
    assert BONE[1].start <= 26 and BONE[2].start <= 35 and 45 < BONE[2].stop
    assert moved.stats["mean"] == 1000.0 and moved.slab == "MIP 6 mm"
    model.slab = "none"
    assert layer.get(box.uid).stats["mean"] == 1000.0  # kept as measured on the slab


def test_the_selected_measurement_shows_its_handles(series):
    model = ViewModel(series, index=4)
    layer = measurement_layer_of(model)
    box = layer.measure("rectangle", [(5, 5), (15, 25)])
    assert len(model.items()) == 2  # outline and text
    layer.selected = box.uid
    layer.changed()
    items = model.items()
    squares = [i for i in items[1:-1]]
    assert len(squares) == 8 and all(i.closed and len(i.points) == 4 for i in squares)
    np.testing.assert_allclose(squares[0].points.mean(axis=0), [5, 5])


# ------------------------------------------------------------------ the viewer's mouse
@pytest.fixture
def viewer(series):
    v = SeriesViewer(series, size=256, index=4)
    send(v, type="initialized")
    yield v
    v.close()


def test_the_navigate_tool_drags_a_ruler_end_and_an_roi_body(viewer, series):
    ruler = viewer.measure("distance", [(5, 5), (5, 25)], label="ruler")
    roi = viewer.measure("rectangle", [(6, 8), (16, 24)], label="roi")
    assert viewer.tool == "navigate"
    drag(viewer, (5, 25), (5, 45))
    assert viewer.measurements[0].value == pytest.approx(40 * COL_MM, abs=1e-6)
    assert "20.0 mm" in viewer.measurements_table.html.value
    assert viewer.measurements_table.select.value == ruler.uid  # grabbed: selected
    drag(viewer, (11, 17), (11 + 19, 17 + 26))
    moved = viewer.measurements[1]
    assert moved.uid == roi.uid and moved.stats["mean"] == 1000.0
    assert "1000.0" in viewer.measurements_table.html.value
    assert viewer.measurements_dataframe().loc[1, "mean"] == 1000.0
    # ctrl+z undoes the last edit (the move), then the resize.
    send(viewer, type="key_press", key="ctrl+kz", guiEvent=None)
    assert viewer.measurements[1].stats["mean"] == 0.0
    assert viewer.undo_measurement_edit().value == pytest.approx(20 * COL_MM)
    assert viewer.undo_measurement_edit() is None


def test_a_navigate_press_away_from_measurements_still_navigates(series):
    v = SeriesViewer(series, size=256, view="ortho")
    send(v, type="initialized")
    v.measure("distance", [(2, 2), (2, 10)])
    before = [m.value for m in v.measurements]
    mouse(v, "button_press", 20, 30, buttons=1)
    mouse(v, "button_release", 20, 30)
    assert [m.value for m in v.measurements] == before
    pane = v.model.pane(0)
    assert pane.plane.screen(v.model.cursor, pane.volume_shape) == (20, 30)
    v.close()


def test_an_edited_measurement_goes_to_the_sr_report(viewer, series, tmp_path):
    pytest.importorskip("highdicom")
    viewer.measure("distance", [(5, 5), (5, 25)], label="ruler")
    drag(viewer, (5, 25), (25, 25))
    expected = math.hypot(20 * ROW_MM, 20 * COL_MM)
    target = viewer.save_measurements(tmp_path / "edited.dcm")
    (loaded,) = dw.load_measurements(target, series)
    assert loaded.label == "ruler" and loaded.value == pytest.approx(expected)
