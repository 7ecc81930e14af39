"""Measurements and slabs in the view model and the viewer (no browser).

The viewer is driven as in tests/test_viewer.py: real ipywidgets / ipympl objects, mouse
events delivered through the canvas's own message handler.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import traitlets
from measure_series import COL_MM, ROW_MM, known_series
from measure_series import drag as _drag
from measure_series import mouse as _mouse
from measure_series import send as _send

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom
from dicom_widgets.errors import GeometryError, MeasurementError
from dicom_widgets.view import ViewModel
from dicom_widgets.view.measurement_layer import MeasurementLayer, measurement_layer_of, outline
from dicom_widgets.view.slab import slab_range
from dicom_widgets.widgets.viewer import SeriesViewer


@pytest.fixture(scope="module")
def series():
    return known_series()


@pytest.fixture(scope="module")
def volume(series):
    return series.volume()


# ------------------------------------------------------------------------ model: slabs
@pytest.mark.parametrize("mode", ["mip", "minip", "mean"])
@pytest.mark.parametrize("view", ["acquired", "coronal"])
def test_model_values_are_the_slab_projection(series, volume, mode, view):
    model = ViewModel(series, view=view)
    model.slab, model.slab_thickness = mode, 6.0
    plane = model.plane()
    reduce = {"mip": np.max, "minip": np.min, "mean": np.mean}[mode]
    for index in (0, 3, model.n_index() - 1):
        model.index = index
        planes = slab_range(plane, index, 6.0, series.affine(), volume.shape)
        slab = np.take(volume, list(planes), axis=plane.normal_axis)
        expected = plane.cut(
            np.expand_dims(reduce(slab, axis=plane.normal_axis), plane.normal_axis), 0
        )
        np.testing.assert_allclose(model.values(), expected, atol=1e-9)
    assert model.slab_label == f"{ {'mip': 'MIP', 'minip': 'MinIP', 'mean': 'Mean'}[mode] } 6 mm"
    # The picture is the windowed projection, the readout says so.
    rendered = model.render()
    model.slab = "none"
    assert not np.array_equal(rendered, model.render()) or mode == "mean"
    model.slab = mode
    assert f"{model.slab_label}:" in model.readout(None, 1, 54)


def test_model_refuses_bad_slab_settings(series):
    model = ViewModel(series)
    with pytest.raises(traitlets.TraitError, match="slab must be one of"):
        model.slab = "max"
    with pytest.raises(traitlets.TraitError, match=">= 0 mm"):
        model.slab_thickness = -1
    rgb = ViewModel(np.zeros((3, 8, 8, 3), np.uint8))
    with pytest.raises(traitlets.TraitError, match="grey"):
        rgb.slab = "mip"
    datasets = ct_phantom(n_slices=6, size=16)
    del datasets[3]  # a gap: the slab's planes would not be its thickness apart
    gappy = ViewModel(dw.load_series(datasets, progress=False))
    with pytest.raises(GeometryError, match="equally spaced"):
        gappy.slab = "mip"


# ------------------------------------------------------------------ model: measurements
def test_the_measurement_layer_draws_on_every_pane_it_lies_on(series):
    model = ViewModel(series, index=4)
    layer = measurement_layer_of(model)
    assert isinstance(layer, MeasurementLayer) and measurement_layer_of(model) is layer
    m = layer.measure("distance", [(17, 5), (17, 40)], label="row 17")
    assert m.value == pytest.approx(35 * COL_MM)
    items = model.items()
    assert [type(i).__name__ for i in items] == ["Polyline", "TextItem"]
    assert "row 17: 17.5 mm" in items[1].text
    model.index = 5
    assert model.items() == []  # another slice
    model.view = "coronal"
    model.index = 17
    line = model.items()[0]
    np.testing.assert_allclose(line.points, [(7, 5), (7, 40)], atol=1e-9)
    # An ellipse is drawn as a closed curve through its axis end points.
    curve = outline("ellipse", np.array([[0, 0], [0, 4.0], [-1, 2], [1, 2]]))
    assert np.allclose(curve[0], curve[-1]) and curve[:, 1].max() == pytest.approx(4)


def test_roi_statistics_on_a_slab_use_the_projected_values(series, volume):
    model = ViewModel(series, index=6)
    layer = measurement_layer_of(model)
    model.slab, model.slab_thickness = "mip", 10.0
    roi = layer.measure("rectangle", [(0, 54), (39, 54.4)], label="gradient column")
    planes = slab_range(model.plane(), 6, 10.0, series.affine(), volume.shape)
    expected = volume[planes.start : planes.stop, :, 54].max(axis=0)
    assert roi.stats["mean"] == pytest.approx(expected.mean())
    assert roi.slab == "MIP 10 mm"


# -------------------------------------------------------------------------- the viewer
@pytest.fixture
def viewer(series):
    v = SeriesViewer(series, size=256, index=4)
    _send(v, type="initialized")
    yield v
    v.close()


def test_viewer_measure_api_values_table_and_dataframe(viewer):
    d = viewer.measure("distance", [(0, 0), (30, 40)], label="d")
    assert d.value == pytest.approx(math.hypot(30 * ROW_MM, 40 * COL_MM))
    e = viewer.measure("ellipse", [(5, 8), (18, 28)], label="water")
    assert e.stats["mean"] == 0.0 and e.unit == "HU"
    assert [m.label for m in viewer.measurements] == ["d", "water"]
    frame = viewer.measurements_dataframe()
    assert list(frame["label"]) == ["d", "water"] and frame.loc[1, "mean"] == 0.0
    html = viewer.measurements_table.html.value
    assert "water" in html and "0.0 HU" in html and "71.5" in html
    viewer.rename_measurement("water", "<b>CSF</b>")
    assert "&lt;b&gt;CSF&lt;/b&gt;" in viewer.measurements_table.html.value
    viewer.remove_measurement("d")
    assert [m.label for m in viewer.measurements] == ["<b>CSF</b>"]
    # The static fallback lists them under the picture; the snapshot draws them on it.
    bundle = viewer._repr_mimebundle_()
    assert "dw-measurements" in bundle["text/html"] and "CSF" in bundle["text/html"]
    with_it = viewer.snapshot()
    viewer.remove_measurement(0)
    assert viewer.snapshot() != with_it


def test_viewer_slab_traits_corner_text_and_readout(viewer, volume):
    viewer.slab, viewer.slab_thickness = "mip", 5.0
    assert viewer.model.slab == "mip" and viewer.model.slab_thickness == 5.0
    assert "MIP 5 mm" in viewer.annotations["bottom_left"]
    np.testing.assert_array_equal(viewer.model.values(), volume[3:6].max(axis=0))
    viewer.measurements_table.slab.value = "minip"  # the control drives the trait
    assert viewer.slab == "minip" and "MinIP 5 mm" in viewer.annotations["bottom_left"]
    _mouse(viewer, "motion_notify", 3, 54)
    assert "MinIP 5 mm:" in viewer.readout
    with pytest.raises(traitlets.TraitError):
        viewer.slab = "bogus"


def test_go_to_measurement_follows_the_view(viewer):
    m = viewer.measure("distance", [(17, 5), (17, 40)], label="row")
    viewer.index = 9
    viewer.go_to_measurement("row")
    assert viewer.index == 4
    viewer.view = "sagittal"  # the distance crosses many sagittal planes
    viewer.go_to_measurement(m.uid)
    assert viewer.view == "acquired" and viewer.index == 4


def test_mouse_tools_draw_a_distance_and_an_ellipse(viewer):
    viewer.tool = "distance"
    _drag(viewer, (2, 3), (30, 43))
    (d,) = viewer.measurements
    assert d.kind == "distance"
    assert d.value == pytest.approx(math.hypot(28 * ROW_MM, 40 * COL_MM), abs=0.05)
    viewer.tool = "ellipse"
    _drag(viewer, (5, 8), (18, 28))
    e = viewer.measurements[-1]
    assert e.kind == "ellipse" and e.stats["mean"] == 0.0
    assert e.stats["area_mm2"] == pytest.approx(math.pi * 6.5 * ROW_MM * 10 * COL_MM, rel=0.02)
    assert len(viewer.measurements) == 2  # the live previews were replaced, not added
    viewer.tool = "angle"
    _drag(viewer, (0, 20), (0, 0))
    _mouse(viewer, "button_press", 20, 0, buttons=1)
    _mouse(viewer, "button_release", 20, 0)
    a = viewer.measurements[-1]
    assert a.kind == "angle" and a.value == pytest.approx(90.0, abs=0.5)
    viewer.tool = "polygon"
    for point in [(22, 2), (38, 2), (38, 20), (22.5, 2.5)]:
        _mouse(viewer, "button_press", *point, buttons=1)
        _mouse(viewer, "button_release", *point)
    p = viewer.measurements[-1]
    assert p.kind == "polygon" and len(p.points) == 3 and p.stats["mean"] == -1000.0
    assert viewer.measurements_table.select.value == p.uid  # the last one is selected
    viewer.tool = "navigate"
    _drag(viewer, (2, 3), (30, 43))
    assert len(viewer.measurements) == 4


def test_save_and_add_measurements_through_the_viewer(viewer, series, tmp_path):
    pytest.importorskip("highdicom")
    viewer.measure("distance", [(0, 0), (30, 40)], label="d")
    viewer.view = "coronal"
    viewer.index = 28  # through the bone's rows
    viewer.measure("rectangle", [(3, 36), (8, 50)], label="bone")
    target = viewer.save_measurements(tmp_path / "report.dcm")
    other = SeriesViewer(series, size=128)
    loaded = other.add_measurements(target)
    assert [m.label for m in loaded] == ["d", "bone"] and other.measurements == loaded
    assert loaded[1].view == "coronal" and loaded[1].stats["mean"] == 1000.0
    assert dw.load_measurements(target, series)[0].value == pytest.approx(loaded[0].value)
    other.close()


def test_numpy_viewers_measure_but_cannot_save_sr(tmp_path):
    v = SeriesViewer(np.zeros((6, 20, 30), np.int16), spacing=(2.0, 0.5, 0.25), size=128)
    m = v.measure("distance", [(0, 0), (0, 8)])
    assert m.value == pytest.approx(2.0)  # 8 columns of 0.25 mm
    with pytest.raises(MeasurementError, match="needs a DICOM series"):
        v.save_measurements(tmp_path / "a.dcm")
    v.close()
