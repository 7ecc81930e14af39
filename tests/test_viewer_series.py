"""SeriesViewer on DICOM: phantoms and pydicom's real files, through dicom_widgets.series."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("dicom_widgets.series")

import dicom_widgets as dw  # noqa: E402
from dicom_widgets.data import (  # noqa: E402
    ct_phantom,
    mr_multiframe_phantom,
    mr_phantom,
    pydicom_file,
    write_series,
)
from dicom_widgets.display import to_display  # noqa: E402
from dicom_widgets.widgets.viewer import SeriesViewer, link  # noqa: E402


def _load(source, **kwargs):
    return dw.load_series(source, progress=False, **kwargs)


def _file(name):
    """A pydicom test file, skipping when this environment does not ship it (pydicom 2.4 venv)."""
    try:
        return pydicom_file(name)
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def _mouse(viewer, kind, row, col, **extra):
    x, y = viewer.ax.transData.transform((col, row))
    height = viewer.canvas.get_renderer().height
    message = {
        "type": kind,
        "x": float(x),
        "y": float(height - y),
        "button": 0,
        "buttons": 0,
        "modifiers": [],
    }
    message.update(extra)
    viewer.canvas._handle_message(viewer.canvas, message, [])


@pytest.fixture(scope="module")
def ct_series():
    return _load(ct_phantom(n_slices=12, size=64))


def test_ct_phantom_file_window_presets_and_hu(ct_series):
    v = SeriesViewer(ct_series)
    assert v.preset == "file:0" and (v.window_center, v.window_width) == (40.0, 80.0)
    assert v.index == 6
    expected = to_display(ct_series.frame(6), (40, 80))
    assert np.array_equal(v.displayed, expected)
    v.preset = "bone"
    assert np.array_equal(v.displayed, to_display(ct_series.frame(6), "bone"))
    v.preset = "file:1"  # the phantom carries a second (bone) window
    assert "file:1" in v.annotations["bottom_right"]
    v.index = 2
    assert np.array_equal(v.displayed, to_display(ct_series.frame(2), "bone"))
    # Hover readout: HU and stored value (intercept -1024).
    _mouse(v, "motion_notify", 32, 32)
    hu = float(ct_series.frame(2)[32, 32])
    stored = int(ct_series.raw_frame(2)[32, 32])
    assert f"value {hu:g} HU" in v.readout and f"stored {stored}" in v.readout
    assert stored - 1024 == pytest.approx(hu)
    assert "mm" in v.readout


def test_hide_identifiers_removes_name_id_and_dates(ct_series):
    v = SeriesViewer(ct_series)
    ds = ct_series.dataset(0)
    shown = v.annotations["top_left"]
    assert str(ds.PatientName) in shown and str(ds.PatientID) in shown
    before = v.snapshot()
    v.hide_identifiers = True
    hidden = "\n".join(v.annotations.values())
    for value in (str(ds.PatientName), str(ds.PatientID), str(ds.StudyDate)):
        assert value not in hidden
    assert v.snapshot() != before  # the picture changed too, not only the text


def test_opening_1000_slices_decodes_only_the_shown_frame():
    series = _load(ct_phantom(n_slices=1000, size=8, slice_thickness=1.0), prefetch=False)
    v = SeriesViewer(series, window="brain")
    assert v.index == 500
    cached = [k for k in range(len(series)) if series.is_cached(k)]
    assert cached == [500]
    v.index = 501
    assert [k for k in range(len(series)) if series.is_cached(k)] == [500, 501]


def test_oblique_mr_reformats_nearest_plane_and_aspect():
    series = _load(mr_phantom(n_slices=10, size=48, orientation="oblique"))
    v = SeriesViewer(series)
    assert set(v.controls.view_buttons.options) == {
        "acquired",
        "axial",
        "coronal",
        "sagittal",
        "ortho",
    }
    acquired = v.displayed.copy()
    v.view = "axial"
    assert "nearest plane" in v.annotations["top_right"]
    assert v.displayed.shape != acquired.shape or not np.array_equal(v.displayed, acquired)
    row, col, slc = series.spacing
    assert v.ax.get_aspect() in (
        pytest.approx(row / col),
        pytest.approx(slc / col),
        pytest.approx(row / slc),
        pytest.approx(slc / row),
        pytest.approx(col / slc),
    )
    v.view = "ortho"
    assert len(v.axes) == 3


def test_multiframe_4d_time_slider():
    series = _load(mr_multiframe_phantom(n_slices=4, size=32, n_timepoints=2))
    v = SeriesViewer(series)
    assert series.n_times == 2 and v.controls.time_row.layout.display != "none"
    t0 = v.image.get_array().copy()
    v.time = 1
    assert not np.array_equal(t0, v.image.get_array())
    assert np.array_equal(
        v.displayed, to_display(series.frame(v.index, time=1), (v.window_center, v.window_width))
    )
    v.cine.tick()  # cine over time
    assert v.time == 0


def test_decode_failure_shows_placeholder_and_rest_works(tmp_path):
    datasets = ct_phantom(n_slices=5, size=32)
    bad = datasets[2]
    bad.PixelData = bad.PixelData[:100]  # truncated pixel data: this frame cannot be decoded
    write_series(datasets, tmp_path, shuffle=False)
    series = _load(tmp_path)
    v = SeriesViewer(series, window="brain", index=0)
    good = v.displayed.copy()
    v.index = 2
    assert "could not be decoded" in v.status
    assert v.panes[0].placeholder.get_visible()
    assert (v.displayed == 40).all()  # placeholder grey
    v.index = 3
    assert v.status == "" and not v.panes[0].placeholder.get_visible()
    assert np.array_equal(v.displayed, to_display(series.frame(3), "brain"))
    v.index = 0
    assert np.array_equal(v.displayed, good)  # the frames around the broken one are intact


def test_no_pixel_data_points_to_tag_explorer():
    from dicom_widgets.errors import DicomWidgetsError

    for name in ("sr", "rtplan"):
        with pytest.raises(DicomWidgetsError, match="TagExplorer"):
            SeriesViewer(pydicom_file(name))


def test_empty_series_error():
    with pytest.raises(Exception, match="(?i)empty|no .*image|no .*series"):
        SeriesViewer([])


@pytest.mark.parametrize(
    "name", ["ct_small", "mr_small", "monochrome1", "multiframe", "modality_lut", "voi_lut"]
)
def test_real_grey_files_display_like_the_display_pipeline(name):
    series = _load(_file(name))
    v = SeriesViewer(series)
    frame = series.frame(v.index)
    ds = series.dataset(v.index)
    if v.preset == "file":
        expected = to_display(frame, None, ds=ds, photometric=series.photometric)
        assert v.annotations["bottom_right"] == "VOI LUT (file)"
    else:
        expected = to_display(
            frame, (v.window_center, v.window_width), photometric=series.photometric
        )
    assert np.array_equal(v.displayed, expected)
    png = Image.open(io.BytesIO(v.snapshot()))
    assert png.size[0] > 0
    if name == "monochrome1":
        # MONOCHROME1: low values bright. The lowest pixel must be displayed at least as bright
        # as the highest one.
        lo, hi = (
            np.unravel_index(np.argmin(frame), frame.shape),
            np.unravel_index(np.argmax(frame), frame.shape),
        )
        assert v.displayed[lo] >= v.displayed[hi]
    if name == "multiframe":
        assert v.n_slices == 10
        v.index = 9
        assert np.array_equal(
            v.displayed, to_display(series.frame(9), (v.window_center, v.window_width))
        )


@pytest.mark.parametrize("name", ["rgb", "palette", "ybr", "us_cine"])
def test_real_colour_files(name):
    series = _load(_file(name))
    v = SeriesViewer(series)
    assert v.source.is_color
    assert np.array_equal(
        v.displayed, to_display(series.frame(v.index), photometric=series.photometric)
    )
    assert v.displayed.ndim == 3
    if name == "us_cine":
        start = v.index
        before = v.displayed.copy()
        v.cine.tick()
        assert v.index == start + 1
        assert not np.array_equal(before, v.displayed)


def test_dicom_overlay_plane_drawn_and_toggled():
    path = _file("overlay")
    import pydicom

    overlay = pydicom.dcmread(path).overlay_array(0x6000).astype(bool)
    v = SeriesViewer(_load(path))
    rgba = v.image.get_array()
    assert (rgba[overlay][:, :3] == (255, 255, 0)).all()
    v.show_overlays = False
    assert np.array_equal(
        v.displayed, to_display(v.source.values(0), (v.window_center, v.window_width))
    )


def test_link_two_series_by_patient_position():
    thin = _load(ct_phantom(n_slices=24, size=32, slice_thickness=2.0))
    thick = _load(ct_phantom(n_slices=8, size=32, slice_thickness=6.0, seed=5))
    a, b = SeriesViewer(thin), SeriesViewer(thick)
    link(a, b)
    for k in (0, 5, 11, 23):
        a.index = k
        za = thin.positions[k][2]
        zb = thick.positions[b.index][2]
        assert abs(za - zb) <= 3.0 + 1e-6  # nearest thick slice (6 mm apart)


def test_paths_and_folders_are_loaded(ct_folder):
    v = SeriesViewer(ct_folder)
    assert v.source.n_slices == 24 and v.source.modality == "CT"
    single = SeriesViewer(str(_file("ct_small")))
    assert single.displayed.shape == (128, 128)
    assert single.n_slices == 1


def test_ortho_on_dicom_and_link_keeps_anatomy(ct_series):
    v = SeriesViewer(ct_series, view="ortho")
    assert [p.plane.view for p in v.panes] == ["axial", "coronal", "sagittal"]
    axial = v.panes[0].image.get_array()
    frame = to_display(ct_series.frame(v.model.cursor[0]), (v.window_center, v.window_width))
    assert np.array_equal(axial[..., 0], frame)
    # Coronal pane: top row is the most superior slice.
    volume = np.stack([ct_series.frame(k) for k in range(len(ct_series))])
    coronal = v.panes[1].image.get_array()[..., 0]
    expected = to_display(volume[::-1, v.model.cursor[1], :], (v.window_center, v.window_width))
    assert np.array_equal(coronal, expected)


def test_cine_uses_the_files_frame_rate_and_frame_label():
    series = _load(_file("us_cine"))
    v = SeriesViewer(series)
    assert v.fps == pytest.approx(1000 / 33.333, abs=0.01)  # FrameTime 33.333 ms
    assert v.controls.slider.description == "Frame"
    ct = SeriesViewer(_load(ct_phantom(n_slices=3, size=16)))
    assert ct.controls.slider.description == "Slice" and ct.fps == 10.0


@pytest.mark.slow
def test_every_pydicom_file_displays_or_explains(pydicom_files):
    """Each real test file either shows an image (possibly a decode placeholder) or raises a
    DicomWidgetsError that says why; nothing crashes with an unrelated exception."""
    import warnings

    from dicom_widgets.errors import DicomWidgetsError

    shown = explained = 0
    for path in pydicom_files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                series = _load(path)
            except DicomWidgetsError:
                continue  # load_series' own clear errors are tested with the series
            try:
                viewer = SeriesViewer(series, size=64)
            except DicomWidgetsError as exc:
                assert str(exc)
                explained += 1
                continue
        png = viewer.snapshot()
        assert png.startswith(b"\x89PNG")
        if viewer.status:
            assert "could not be decoded" in viewer.status
        viewer.close()
        shown += 1
    assert shown > 100 and explained > 10


def test_non_uniform_series_disables_reformats_with_reason_but_shows_positions():
    datasets = ct_phantom(n_slices=6, size=16)
    x, y, z = (float(v) for v in datasets[3].ImagePositionPatient)
    datasets[3].ImagePositionPatient = [x, y, z + 1.5]  # uneven gap
    series = _load(datasets)
    v = SeriesViewer(series)
    assert not series.is_uniform
    assert list(v.controls.view_buttons.options) == ["acquired"]
    assert "equally spaced" in v.controls.view_reason.value
    from dicom_widgets.errors import GeometryError

    with pytest.raises(GeometryError, match="equally spaced"):
        v.view = "coronal"
    v.index = 3
    assert f"Pos: {z + 1.5:.1f} mm" in v.annotations["bottom_left"]


def test_link_non_uniform_series_by_slice_position():
    uneven = ct_phantom(n_slices=6, size=16, slice_thickness=4.0)
    x, y, z = (float(v) for v in uneven[5].ImagePositionPatient)
    uneven[5].ImagePositionPatient = [x, y, z + 8.0]  # last slice far away: not uniform
    a = SeriesViewer(_load(uneven))
    b = SeriesViewer(_load(ct_phantom(n_slices=12, size=16, slice_thickness=2.0, seed=7)))
    link(a, b)
    a.index = 5
    za = float(a.source.position(5)[2])
    zb = float(b.source.position(b.index)[2])
    # nearest available slice of b (b covers less than a's last, shifted slice)
    assert b.index == int(np.argmin([abs(float(b.source.position(k)[2]) - za) for k in range(12)]))
    assert abs(za - zb) == min(abs(float(b.source.position(k)[2]) - za) for k in range(12))


def test_link_dicom_with_numpy_volume_falls_back_to_index():
    series = _load(ct_phantom(n_slices=24, size=16, slice_thickness=2.0))
    volume = np.stack([series.frame(k) for k in range(len(series))])
    dicom_viewer = SeriesViewer(series)
    numpy_viewer = SeriesViewer(volume, spacing=(2.0, 12.5, 12.5))  # spacing, but no patient origin
    link(dicom_viewer, numpy_viewer)
    dicom_viewer.index = 20
    assert numpy_viewer.index == 20
    numpy_viewer.index = 3
    assert dicom_viewer.index == 3
