"""Thick slabs equal numpy over the slab's planes, on acquired and reformatted planes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from measure_series import COL_MM, ROW_MM, SLICE_MM, known_series

from dicom_widgets.view import plane_for
from dicom_widgets.view.slab import SlabProjector, project, slab_label, slab_range

MODES = {"mip": np.max, "minip": np.min, "mean": np.mean}


@pytest.fixture(scope="module")
def series():
    return known_series()


@pytest.fixture(scope="module")
def noisy(series):
    """The known series' geometry with random HU, so every slab differs."""
    rng = np.random.default_rng(4)
    return rng.integers(-1000, 2000, series.volume().shape).astype(np.int16)


def _expected(volume, plane, index, planes, mode):
    """numpy over the slab's planes, cut the way the pane shows it."""
    slab = np.take(volume, list(planes), axis=plane.normal_axis)
    reduced = MODES[mode](slab, axis=plane.normal_axis)
    return plane.cut(np.expand_dims(reduced, plane.normal_axis), 0)


@pytest.mark.parametrize(
    ("view", "spacing"),
    [("acquired", SLICE_MM), ("coronal", ROW_MM), ("sagittal", COL_MM), ("axial", SLICE_MM)],
)
def test_slab_holds_the_planes_within_half_the_thickness(series, view, spacing):
    affine = series.affine()
    plane = plane_for(view, affine)
    shape = series.volume().shape
    n = plane.n_positions(shape)
    centre = n // 2
    for thickness in (0.0, spacing * 0.99, 2 * spacing, 10.0, 4.9):
        planes = slab_range(plane, centre, thickness, affine, shape)
        offsets = (np.array(planes) - centre) * spacing
        assert np.all(np.abs(offsets) <= thickness / 2 + 1e-9)
        # ...and no plane left out: the next ones are further than half the thickness.
        if planes.start > 0:
            assert (centre - planes.start + 1) * spacing > thickness / 2
        if planes.stop < n:
            assert (planes.stop - centre) * spacing > thickness / 2
    assert len(slab_range(plane, centre, 2 * spacing, affine, shape)) == 3  # boundary included
    assert slab_range(plane, 0, 10.0, affine, shape).start == 0  # clipped at the edge


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("view", ["acquired", "coronal", "sagittal"])
def test_project_and_the_projector_equal_numpy_over_the_slab(series, noisy, mode, view):
    affine = series.affine()
    plane = plane_for(view, affine)
    for thickness in (5.0, 10.0):
        projector = SlabProjector(noisy, plane, affine, thickness, mode)
        n = plane.n_positions(noisy.shape)
        order = [*range(n), *range(n - 1, -1, -1), *np.random.default_rng(1).permutation(n)]
        for index in order:
            planes = slab_range(plane, int(index), thickness, affine, noisy.shape)
            expected = _expected(noisy, plane, index, planes, mode)
            stepped = projector(int(index))
            direct = project(noisy, plane, int(index), thickness, mode, affine)
            assert stepped.shape == direct.shape == plane.screen_shape(noisy.shape)
            if mode == "mean":
                np.testing.assert_allclose(stepped, expected, rtol=0, atol=1e-9)
                np.testing.assert_allclose(direct, expected, rtol=0, atol=1e-9)
            else:
                np.testing.assert_array_equal(stepped, expected)
                np.testing.assert_array_equal(direct, expected)
                assert stepped.dtype == noisy.dtype


def test_float_volumes_and_thin_slabs(series, noisy):
    affine = series.affine()
    plane = plane_for("coronal", affine)
    volume = noisy.astype(np.float32) * np.float32(0.37)
    projector = SlabProjector(volume, plane, affine, 3.0, "mean")
    for index in range(plane.n_positions(volume.shape)):
        planes = slab_range(plane, index, 3.0, affine, volume.shape)
        np.testing.assert_allclose(
            projector(index),
            _expected(volume.astype(np.float64), plane, index, planes, "mean"),
            rtol=1e-12,
        )
    # A slab thinner than the spacing is the plane itself; "none" too.
    thin = SlabProjector(noisy, plane, affine, 0.3, "mip")
    np.testing.assert_array_equal(thin(7), plane.cut(noisy, 7))
    np.testing.assert_array_equal(
        project(noisy, plane, 7, 10.0, "none", affine), plane.cut(noisy, 7)
    )


def test_the_projector_hands_out_copies(series, noisy):
    affine = series.affine()
    projector = SlabProjector(noisy, plane_for("acquired", affine), affine, 10.0, "mip")
    first = projector(0)
    first[:] = 0
    np.testing.assert_array_equal(projector(0), noisy[:3].max(axis=0))


def test_labels_and_bad_input(series, noisy):
    affine = series.affine()
    plane = plane_for("acquired", affine)
    assert slab_label("mip", 10) == "MIP 10 mm" and slab_label("none", 10) == ""
    assert SlabProjector(noisy, plane, affine, 7.5, "mean").label == "Mean 7.5 mm"
    with pytest.raises(ValueError, match="slab mode must be one of"):
        project(noisy, plane, 0, 10, "max", affine)
    with pytest.raises(ValueError, match="grey"):
        SlabProjector(np.zeros((3, 4, 4, 3)), plane, affine, 10, "mip")
    with pytest.raises(IndexError, match="out of range"):
        slab_range(plane, 99, 10, affine, noisy.shape)


def test_the_core_imports_no_widget_library():
    code = (
        "import sys, dicom_widgets.view.slab, dicom_widgets.measurements,"
        " dicom_widgets.measurements.sr, dicom_widgets.view.measurement_layer;"
        "bad = [m for m in ('ipywidgets', 'IPython', 'ipympl', 'anywidget', 'ipykernel',"
        " 'matplotlib', 'highdicom') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name",
    [
        "dicom_widgets.view.slab",
        "dicom_widgets.measurements",
        "dicom_widgets.measurements.roi",
        "dicom_widgets.measurements._measure",
        "dicom_widgets.measurements._measurement",
        "dicom_widgets.view.measurement_layer",
        "dicom_widgets.html.measurements",
    ],
)
def test_docstring_examples_run(name):
    import doctest
    import importlib

    if name.endswith("_measurement"):
        pytest.importorskip("pandas")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
