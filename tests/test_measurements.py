"""Distances, angles and ROI statistics on a non-square, anisotropic series with known values.

Expected values are computed independently of the Plane mapping: from the slices'
ImagePositionPatient and the pixel spacing written into the files, and from brute-force
masks over every pixel centre.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from matplotlib.path import Path as MplPath
from measure_series import (
    COL_MM,
    COLS,
    ROW_MM,
    ROWS,
    SLICE_MM,
    known_series,
    known_volume,
)

import dicom_widgets as dw
from dicom_widgets.data import pydicom_file
from dicom_widgets.errors import MeasurementError
from dicom_widgets.measurements import (
    Measurement,
    measure,
    measurements_dataframe,
    roi_mask,
    roi_statistics,
)
from dicom_widgets.view import plane_for


@pytest.fixture(scope="module")
def series():
    return known_series()


@pytest.fixture(scope="module")
def volume(series):
    return series.volume()


def _patient_of_voxel(series, k, r, c):
    """LPS of voxel (k, r, c) straight from the slice's header (not through the affine)."""
    position = series.positions[k]
    return position + c * COL_MM * np.array([1.0, 0, 0]) + r * ROW_MM * np.array([0, 1.0, 0])


def _on(series, view, kind, points, index, volume=None, **kwargs):
    affine = series.affine()
    plane = plane_for(view, affine)
    values = None if volume is None else plane.cut(volume, index)
    return measure(
        kind,
        points,
        plane=plane,
        index=index,
        shape=volume.shape if volume is not None else (12, ROWS, COLS),
        affine=affine,
        values=values,
        **kwargs,
    )


def test_the_known_series_is_non_square_and_anisotropic(series, volume):
    assert volume.shape == (12, ROWS, COLS) and ROWS != COLS
    assert series.spacing == pytest.approx((ROW_MM, COL_MM, SLICE_MM))
    np.testing.assert_array_equal(volume, known_volume())


# ---------------------------------------------------------------------------- distances
@pytest.mark.parametrize(
    "points", [((0, 0), (0, 10)), ((0, 0), (10, 0)), ((3, 7), (31, 50)), ((2.5, 3.25), (20, 1))]
)
def test_distance_is_exact_on_the_acquired_plane(series, points):
    m = _on(series, "acquired", "distance", points, 4)
    (r0, c0), (r1, c1) = points
    expected = math.hypot((r1 - r0) * ROW_MM, (c1 - c0) * COL_MM)
    assert m.value == pytest.approx(expected, abs=1e-9)
    assert m.unit == "mm" and m.kind == "distance"
    np.testing.assert_allclose(m.points[0], _patient_of_voxel(series, 4, r0, c0), atol=1e-9)


@pytest.mark.parametrize("points", [((0, 0), (0, 10)), ((0, 0), (11, 0)), ((1, 3), (9, 40))])
def test_distance_is_exact_on_the_coronal_plane(series, points):
    """Coronal screen rows are slices (2.5 mm, superior at the top), columns are 0.5 mm."""
    index = 17  # the array row the coronal pane shows
    m = _on(series, "coronal", "distance", points, index)
    (r0, c0), (r1, c1) = points
    expected = math.hypot((r1 - r0) * SLICE_MM, (c1 - c0) * COL_MM)
    assert m.value == pytest.approx(expected, abs=1e-9)
    # Screen row 0 is the most superior slice: the last one.
    top = _patient_of_voxel(series, 11 - r0, index, c0)
    np.testing.assert_allclose(m.points[0], top, atol=1e-9)


def test_distance_on_the_sagittal_plane_uses_rows_and_slices(series):
    m = _on(series, "sagittal", "distance", ((0, 0), (4, 30)), 20)
    assert m.value == pytest.approx(math.hypot(4 * SLICE_MM, 30 * ROW_MM), abs=1e-9)


def test_distance_on_an_oblique_plane_follows_its_orientation():
    angle = np.deg2rad(25.0)
    row_cos = np.array([np.cos(angle), np.sin(angle), 0.0])
    col_cos = np.array([0.0, 0.0, -1.0])
    affine = np.eye(4)
    affine[:3, 0] = row_cos * 0.6
    affine[:3, 1] = col_cos * 0.9
    affine[:3, 2] = np.cross(row_cos, col_cos) * 3.0
    shape = (5, 30, 40)
    for view in ("acquired", "axial", "coronal", "sagittal"):
        plane = plane_for(view, affine)
        rows, cols = plane.screen_shape(shape)
        m = measure(
            "distance",
            [(0, 0), (rows - 1, cols - 1)],
            plane=plane,
            index=0,
            shape=shape,
            affine=affine,
        )
        down, right = plane.pixel_spacing(affine)
        # Screen rows and columns of these panes are perpendicular voxel axes.
        assert m.value == pytest.approx(math.hypot((rows - 1) * down, (cols - 1) * right))


# ------------------------------------------------------------------------------- angles
def _planar_angle(points, down_mm, right_mm):
    (ra, ca), (rv, cv), (rb, cb) = points
    a = np.array([(ra - rv) * down_mm, (ca - cv) * right_mm])
    b = np.array([(rb - rv) * down_mm, (cb - cv) * right_mm])
    return math.degrees(math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))


@pytest.mark.parametrize(
    ("view", "spacing"),
    [("acquired", (ROW_MM, COL_MM)), ("coronal", (SLICE_MM, COL_MM))],
)
@pytest.mark.parametrize(
    "points", [((0, 5), (0, 0), (5, 0)), ((2, 2), (6, 6), (2, 10)), ((1, 1), (5, 20), (9, 21))]
)
def test_angle_is_exact_on_acquired_and_coronal_planes(series, view, spacing, points):
    m = _on(series, view, "angle", points, 8)
    assert m.unit == "deg"
    assert m.value == pytest.approx(_planar_angle(points, *spacing), abs=1e-9)


def test_a_right_angle_on_anisotropic_pixels_is_90_degrees(series):
    # Pixels are 0.7 x 0.5 mm: on screen a square's corner, in the patient still 90 degrees.
    assert _on(series, "acquired", "angle", ((0, 9), (0, 0), (7, 0)), 0).value == pytest.approx(90)
    # A screen diagonal is not 45 degrees on anisotropic pixels.
    diagonal = _on(series, "acquired", "angle", ((0, 10), (0, 0), (10, 10)), 0).value
    assert diagonal == pytest.approx(math.degrees(math.atan2(ROW_MM, COL_MM)))


def test_a_degenerate_angle_is_nan_with_a_reason(series):
    m = _on(series, "acquired", "angle", ((3, 3), (3, 3), (8, 1)), 0)
    assert math.isnan(m.value) and "zero length" in m.reason


# ---------------------------------------------------------------------------- ROI stats
def _brute_ellipse(shape, r0, c0, r1, c1):
    rc, cc, a, b = (r0 + r1) / 2, (c0 + c1) / 2, abs(r1 - r0) / 2, abs(c1 - c0) / 2
    rr, col = np.mgrid[: shape[0], : shape[1]]
    return ((rr - rc) / a) ** 2 + ((col - cc) / b) ** 2 <= 1 + 1e-9


def _brute_polygon(shape, vertices):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    centres = np.column_stack([cc.ravel(), rr.ravel()])
    path = MplPath(np.asarray(vertices, float)[:, ::-1])
    # matplotlib's contains_points leaves boundary centres to chance: test both sides.
    inside = path.contains_points(centres, radius=1e-6) | path.contains_points(
        centres, radius=-1e-6
    )
    return inside.reshape(shape)


def test_roi_means_equal_the_known_values_on_the_acquired_plane(series, volume):
    water = _on(series, "acquired", "ellipse", [(5, 8), (18, 28)], 2, volume, unit="HU")
    assert water.stats["mean"] == 0.0 and water.stats["std"] == 0.0
    assert water.value == 0.0 and water.unit == "HU"
    bone = _on(series, "acquired", "rectangle", [(25, 35), (34, 50)], 5, volume)
    assert (bone.stats["mean"], bone.stats["min"], bone.stats["max"]) == (1000.0, 1000.0, 1000.0)
    assert bone.stats["n_pixels"] == 10 * 16
    air = _on(series, "acquired", "polygon", [(22, 2), (38, 2), (38, 20)], 5, volume)
    assert air.stats["mean"] == -1000.0 and air.stats["median"] == -1000.0
    assert not (water.reason or bone.reason or air.reason)


def test_roi_statistics_straddling_regions_match_a_brute_force_mask(series, volume):
    picture = volume[5]
    ellipse = _on(series, "acquired", "ellipse", [(2.3, 4.1), (33.7, 45.2)], 5, volume)
    mask = _brute_ellipse(picture.shape, 2.3, 4.1, 33.7, 45.2)
    inside = picture[mask].astype(float)
    assert ellipse.stats["n_pixels"] == mask.sum()
    for key, expected in [
        ("mean", inside.mean()),
        ("std", inside.std()),
        ("median", np.median(inside)),
        ("min", inside.min()),
        ("max", inside.max()),
    ]:
        assert ellipse.stats[key] == pytest.approx(expected, abs=1e-9), key
    vertices = [(1, 1), (30, 5.5), (38.2, 40), (12, 53), (20, 25)]
    polygon = _on(series, "acquired", "polygon", vertices, 5, volume)
    mask = _brute_polygon(picture.shape, vertices)
    assert polygon.stats["n_pixels"] == mask.sum()
    assert polygon.stats["mean"] == pytest.approx(picture[mask].astype(float).mean(), abs=1e-9)


def test_polygon_outline_through_pixel_centres_includes_them():
    square = roi_mask("polygon", [(2, 3), (2, 7), (5, 7), (5, 3)], (10, 10))
    rect = roi_mask("rectangle", [(2, 3), (5, 7)], (10, 10))
    assert square.n_pixels == rect.n_pixels == 4 * 5
    np.testing.assert_array_equal(square.full((10, 10)), rect.full((10, 10)))


def test_roi_means_on_the_coronal_plane(series, volume):
    plane = plane_for("coronal", series.affine())
    # Coronal index 28 is array row 28 (inside the bone's rows 24..35): bone in slices 3..8,
    # which are screen rows 3..8 counted from the top (slice 11 is row 0).
    bone = _on(series, "coronal", "rectangle", [(11 - 8, 36), (11 - 3, 50)], 28, volume)
    assert bone.stats["mean"] == 1000.0 and bone.stats["n_pixels"] == 6 * 15
    area = (5 * SLICE_MM) * (14 * COL_MM)
    assert bone.stats["area_mm2"] == pytest.approx(area)
    water = _on(series, "coronal", "ellipse", [(1, 7), (10, 28)], 10, volume)
    assert water.stats["mean"] == 0.0
    assert plane.cut(volume, 10)[1:11, 7:29].min() == 0


def test_roi_area_is_the_outline_area_in_mm2(series, volume):
    ellipse = _on(series, "acquired", "ellipse", [(5, 8), (15, 28)], 2, volume)
    assert ellipse.stats["area_mm2"] == pytest.approx(math.pi * 5 * ROW_MM * 10 * COL_MM)
    triangle = _on(series, "acquired", "polygon", [(0, 0), (10, 0), (0, 20)], 2, volume)
    assert triangle.stats["area_mm2"] == pytest.approx(0.5 * 10 * ROW_MM * 20 * COL_MM)


@pytest.mark.parametrize(
    ("kind", "points"),
    [
        ("ellipse", [(5, 5), (5, 20)]),
        ("rectangle", [(5, 5), (12, 5)]),
        ("polygon", [(1, 1), (5, 5), (9, 9)]),
        ("ellipse", [(4, 4), (4, 4)]),
    ],
)
def test_a_zero_area_roi_gives_nan_statistics_with_a_reason(series, volume, kind, points):
    m = _on(series, "acquired", kind, points, 0, volume)
    assert math.isnan(m.value) and math.isnan(m.stats["mean"]) and math.isnan(m.stats["std"])
    assert m.stats["n_pixels"] == 0 and m.stats["area_mm2"] == 0.0
    assert "zero area" in m.reason


def test_a_tiny_roi_between_pixel_centres_says_so(volume):
    stats, reason = roi_statistics("ellipse", [(2.1, 2.1), (2.4, 2.4)], volume[0], (1, 1))
    assert math.isnan(stats["mean"]) and "no pixel centre" in reason


def test_points_outside_the_image_are_refused_or_clipped(series, volume):
    with pytest.raises(MeasurementError, match=r"outside the 40x56 image.*clip=True"):
        _on(series, "acquired", "distance", [(0, 0), (45, 10)], 0)
    clipped = _on(series, "acquired", "distance", [(0, 0), (45, 10)], 0, clip=True)
    assert clipped.value == pytest.approx(math.hypot(39.5 * ROW_MM, 10 * COL_MM))
    roi = _on(series, "acquired", "rectangle", [(-30, -30), (100, 100)], 0, volume, clip=True)
    assert roi.stats["n_pixels"] == ROWS * COLS
    # The pixel edge (-0.5) is inside the picture.
    assert _on(series, "acquired", "distance", [(-0.5, -0.5), (0, 0)], 0).value > 0


def test_bad_input_gets_a_measurement_error(series, volume):
    with pytest.raises(MeasurementError, match="kind must be one of"):
        _on(series, "acquired", "circle", [(0, 0), (1, 1)], 0)
    with pytest.raises(MeasurementError, match="needs 3 points"):
        _on(series, "acquired", "angle", [(0, 0), (1, 1)], 0)
    with pytest.raises(MeasurementError, match="needs the plane's values"):
        _on(series, "acquired", "ellipse", [(0, 0), (5, 5)], 0)
    with pytest.raises(MeasurementError, match="do not match"):
        measure(
            "ellipse",
            [(0, 0), (5, 5)],
            plane=plane_for("acquired", series.affine()),
            index=0,
            shape=volume.shape,
            affine=series.affine(),
            values=volume[0].T,
        )
    with pytest.raises(MeasurementError, match="plane index 40"):
        _on(series, "acquired", "distance", [(0, 0), (1, 1)], 40)
    with pytest.raises(MeasurementError, match="finite"):
        _on(series, "acquired", "distance", [(0, 0), (np.nan, 1)], 0)


# ----------------------------------------------------- patient coordinates and JSON
def test_a_measurement_is_placed_on_the_right_plane_of_every_pane(series, volume):
    affine = series.affine()
    shape = volume.shape
    # A distance along screen row 17 of acquired slice 4...
    m = _on(series, "acquired", "distance", [(17, 5), (17, 40)], 4)
    axial = m.on_plane(plane_for("acquired", affine), shape, affine)
    assert axial.index == 4
    np.testing.assert_allclose(axial.points, [(17, 5), (17, 40)], atol=1e-9)
    # ...lies in coronal plane 17 too, on the row of slice 4 (screen row 11 - 4).
    coronal = m.on_plane(plane_for("coronal", affine), shape, affine)
    assert coronal.index == 17
    np.testing.assert_allclose(coronal.points, [(7, 5), (7, 40)], atol=1e-9)
    # It crosses many sagittal planes: not shown there.
    assert m.on_plane(plane_for("sagittal", affine), shape, affine) is None
    # Another slice of the same pane does not show it; on_plane picks the slice itself.
    roi = _on(series, "coronal", "ellipse", [(1, 7), (10, 28)], 10, volume)
    assert roi.on_plane(plane_for("coronal", affine), shape, affine).index == 10
    assert roi.on_plane(plane_for("axial", affine), shape, affine) is None


def test_json_round_trip_keeps_everything(series, volume):
    m = _on(
        series,
        "coronal",
        "ellipse",
        [(1, 7), (10, 28)],
        10,
        volume,
        label="water",
        unit="HU",
        frame_of_reference_uid=series.dataset(0).FrameOfReferenceUID,
        referenced_sop_instance_uids=["1.2.3", "1.2.4"],
    )
    text = m.to_json()
    json.loads(text)  # plain JSON
    back = Measurement.from_json(text)
    assert back.to_dict() == m.to_dict()
    assert back.plane == m.plane and back.view == "coronal" and back.index == 10
    np.testing.assert_array_equal(back.points, m.points)
    zero = _on(series, "acquired", "rectangle", [(5, 5), (5, 9)], 0, volume)
    assert "null" in zero.to_json() and math.isnan(Measurement.from_json(zero.to_json()).value)
    with pytest.raises(MeasurementError, match="not a measurement"):
        Measurement.from_json("[1, 2]")
    with pytest.raises(MeasurementError, match="not a measurement"):
        Measurement.from_json('{"kind": "distance"}')


def test_measurements_dataframe_has_a_row_per_measurement(series, volume):
    pytest.importorskip("pandas")
    ms = [
        _on(series, "acquired", "distance", [(0, 0), (0, 10)], 0, label="d"),
        _on(series, "acquired", "rectangle", [(25, 35), (34, 50)], 5, volume, label="bone"),
    ]
    frame = measurements_dataframe(ms)
    assert list(frame["label"]) == ["d", "bone"]
    assert frame.loc[0, "value"] == pytest.approx(5.0)
    assert frame.loc[1, "mean"] == 1000.0 and frame.loc[1, "n_pixels"] == 160
    assert math.isnan(frame.loc[0, "mean"])
    assert "1000.0 ± 0.0" in ms[1].text() and ms[0].text() == "5.0 mm"


def test_roi_masks_cover_the_bounding_box_only():
    """A small ROI on a big image works on its box (the timings: bench_measurements.py)."""
    found = roi_mask("ellipse", [(100, 100), (110, 130)], (2048, 2048))
    assert (found.rows, found.cols) == (slice(100, 111), slice(100, 131))
    assert found.mask.shape == (11, 31)
    edge = roi_mask("rectangle", [(-5, -5), (3, 4)], (2048, 2048))
    assert edge.mask.shape == (4, 5) and edge.n_pixels == 20


# ------------------------------------------------------------------------- real files
def test_measurements_on_pydicom_ct_small():
    series = dw.load_series(pydicom_file("ct_small"), progress=False)
    affine = series.affine()
    plane = plane_for("acquired", affine)
    row_mm, col_mm = (float(v) for v in series.dataset(0).PixelSpacing)
    shape = (1, *series.frame(0).shape)
    d = measure("distance", [(10, 10), (10, 110)], plane=plane, index=0, shape=shape, affine=affine)
    assert d.value == pytest.approx(100 * col_mm)
    values = series.frame(0)
    roi = measure(
        "rectangle",
        [(40, 40), (80, 90)],
        plane=plane,
        index=0,
        shape=shape,
        affine=affine,
        values=values,
    )
    assert roi.stats["mean"] == pytest.approx(float(values[40:81, 40:91].astype(float).mean()))
    assert roi.stats["area_mm2"] == pytest.approx(40 * row_mm * 50 * col_mm)


def test_measurements_on_a_real_ct_series_of_four_slices():
    folder = pydicom_file("dicomdir").parent / "77654033" / "CT2"
    series = dw.load_series(folder, progress=False)
    assert len(series) == 4  # 16x16 pixels of 0.49 mm; a gap of 200 mm after the first slice
    affine = series.affine()
    volume = series.volume()
    coronal = plane_for("coronal", affine)
    index = volume.shape[1] // 2
    rows, cols = coronal.screen_shape(volume.shape)
    d = measure(
        "distance",
        [(0, 0), (rows - 1, 0)],
        plane=coronal,
        index=index,
        shape=volume.shape,
        affine=affine,
    )
    # From the first to the last slice along the normal.
    span = abs(float((series.positions[-1] - series.positions[0]) @ series.slice_normal))
    assert d.value == pytest.approx(span, rel=1e-6)
    roi = measure(
        "rectangle",
        [(0, 2), (rows - 1, cols - 3)],
        plane=coronal,
        index=index,
        shape=volume.shape,
        affine=affine,
        values=coronal.cut(volume, index),
    )
    assert roi.stats["mean"] == pytest.approx(
        float(coronal.cut(volume, index)[:, 2 : cols - 2].astype(float).mean())
    )
