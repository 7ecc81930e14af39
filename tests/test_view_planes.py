"""The one screen pixel -> voxel -> patient mm mapping, on oblique and anisotropic data."""

from __future__ import annotations

import numpy as np
import pytest

from dicom_widgets.view.planes import (
    PLANE_VIEWS,
    patient_to_voxels,
    plane_for,
    voxels_to_patient,
)


def _affine(row_cos, col_cos, spacing_rc, slice_step, origin):
    """A Series-style affine: columns (col, row, slice) as Series.affine documents."""
    out = np.eye(4)
    out[:3, 0] = np.asarray(row_cos, float) * spacing_rc[1]
    out[:3, 1] = np.asarray(col_cos, float) * spacing_rc[0]
    out[:3, 2] = slice_step
    out[:3, 3] = origin
    return out


AXIAL_ANISO = _affine((1, 0, 0), (0, 1, 0), (0.7, 0.5), (0, 0, 2.5), (-10, 20, 30))


def _oblique():
    angle = np.deg2rad(20)
    row_cos = np.array([np.cos(angle), np.sin(angle), 0.0])
    col_cos = np.array([0.0, 0.0, -1.0])  # a coronal-ish, tilted acquisition
    normal = np.cross(row_cos, col_cos)
    return _affine(row_cos, col_cos, (0.8, 0.6), normal * 3.0, (5, -7, 11))


OBLIQUE = _oblique()


@pytest.mark.parametrize("affine", [AXIAL_ANISO, OBLIQUE], ids=["anisotropic", "oblique"])
@pytest.mark.parametrize("view", PLANE_VIEWS)
def test_screen_points_map_to_the_voxels_they_show(affine, view):
    shape = (7, 11, 13)
    volume = np.arange(np.prod(shape)).reshape(shape)
    plane = plane_for(view, affine)
    rows, cols = plane.screen_shape(shape)
    index = plane.n_positions(shape) // 2
    picture = plane.cut(volume, index)
    assert picture.shape == (rows, cols)
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    voxels = plane.voxels(index, rr, cc, shape).astype(int)
    assert np.array_equal(volume[tuple(voxels.T)].reshape(rows, cols), picture)
    for r, c in [(0, 0), (rows - 1, cols - 1), (rows // 2, 1)]:
        assert tuple(voxels.reshape(rows, cols, 3)[r, c]) == plane.voxel(index, r, c, shape)
        assert plane.screen(plane.voxel(index, r, c, shape), shape) == (r, c)


@pytest.mark.parametrize("affine", [AXIAL_ANISO, OBLIQUE], ids=["anisotropic", "oblique"])
@pytest.mark.parametrize("view", PLANE_VIEWS)
def test_patient_coordinates_round_trip_and_follow_the_affine(affine, view):
    shape = (7, 11, 13)
    plane = plane_for(view, affine)
    rows = np.array([0.0, 2.5, 10.0])
    cols = np.array([0.0, 4.25, 6.0])
    points = plane.patient(3, rows, cols, shape, affine)
    voxels = plane.voxels(3, rows, cols, shape)
    expected = [affine @ [v[2], v[1], v[0], 1.0] for v in voxels]
    assert np.allclose(points, np.array(expected)[:, :3])
    back = plane.from_patient(points, shape, affine)
    assert np.allclose(back, np.column_stack([[3, 3, 3], rows, cols]))
    assert np.allclose(patient_to_voxels(voxels_to_patient(voxels, affine), affine), voxels)


def test_pixel_spacing_of_anisotropic_reformats():
    acquired = plane_for("acquired", AXIAL_ANISO)
    assert acquired.pixel_spacing(AXIAL_ANISO) == pytest.approx((0.7, 0.5))
    assert acquired.plane_spacing(AXIAL_ANISO) == pytest.approx(2.5)
    coronal = plane_for("coronal", AXIAL_ANISO)
    assert coronal.pixel_spacing(AXIAL_ANISO) == pytest.approx((2.5, 0.5))
    assert coronal.plane_spacing(AXIAL_ANISO) == pytest.approx(0.7)
    sagittal = plane_for("sagittal", AXIAL_ANISO)
    assert sagittal.pixel_spacing(AXIAL_ANISO) == pytest.approx((2.5, 0.7))


def test_radiological_orientation_of_an_axial_acquisition():
    plane = plane_for("coronal", AXIAL_ANISO)
    shape = (7, 11, 13)
    top = plane.patient(0, [0], [0], shape, AXIAL_ANISO)[0]
    bottom = plane.patient(0, [6], [0], shape, AXIAL_ANISO)[0]
    right = plane.patient(0, [0], [12], shape, AXIAL_ANISO)[0]
    assert top[2] > bottom[2]  # superior at the top
    assert right[0] > top[0]  # patient's left (+x in LPS) on the right of the screen
    assert not plane.oblique
    # The oblique series is tilted 20 degrees about the patient's z axis: its slices are
    # 20 degrees off coronal, while axial reformats step along an exact voxel axis.
    assert plane_for("coronal", OBLIQUE).oblique
    assert not plane_for("axial", OBLIQUE).oblique


def test_unknown_view_is_refused():
    with pytest.raises(ValueError, match="view must be one of"):
        plane_for("ortho", AXIAL_ANISO)
