"""SeriesViewer driven without a browser: traits, canvas messages and what is sent.

Everything here runs the real ipywidgets / ipympl objects with no kernel attached
(messages go nowhere); front-end events are delivered through the canvas's own
message handler, exactly as the browser's messages would be.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import traitlets
from PIL import Image

from dicom_widgets.display import to_display
from dicom_widgets.errors import GeometryError, MissingDependencyError
from dicom_widgets.view import Layer, Polyline
from dicom_widgets.widgets._viewer_render import FastImage, SendRecorder, encode_png, frame_to_png
from dicom_widgets.widgets.viewer import SeriesViewer, link


def _volume(n: int = 12, rows: int = 40, cols: int = 48) -> np.ndarray:
    """int16 'HU' volume where each slice has its own constant offset (easy to tell apart)."""
    k, r, c = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    return (k * 100 + r * 3 + c - 500).astype(np.int16)


def _send(viewer: SeriesViewer, **message) -> None:
    """Deliver a front-end message to the viewer's ipympl canvas."""
    viewer.canvas._handle_message(viewer.canvas, message, [])


def _mouse(viewer: SeriesViewer, kind: str, row: float, col: float, pane: int = 0, **extra) -> None:
    """A mouse event at data position (row, col) of a pane, in front-end coordinates."""
    ax = viewer.axes[pane]
    x, y = ax.transData.transform((col, row))
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
    _send(viewer, **message)


def _grey(viewer: SeriesViewer) -> np.ndarray:
    arr = viewer.image.get_array()
    assert arr.dtype == np.uint8 and arr.shape[2] == 4
    return arr[..., 0]


@pytest.fixture
def vol() -> np.ndarray:
    return _volume()


@pytest.fixture
def viewer(vol) -> SeriesViewer:
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000), size=256)
    _send(v, type="initialized")
    return v


# ---------------------------------------------------------------------- rendering basics
def test_encode_png_roundtrip_all_colour_types():
    rng = np.random.default_rng(0)
    for shape in [(7, 5), (7, 5, 3), (7, 5, 4)]:
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
        back = np.asarray(Image.open(io.BytesIO(encode_png(arr))))
        assert np.array_equal(back, arr)
    with pytest.raises(TypeError, match="uint8"):
        encode_png(np.zeros((2, 2), np.int16))


def test_frame_to_png_picks_grey_rgb_rgba():
    rgba = np.full((4, 4, 4), 255, np.uint8)
    png, opaque = frame_to_png(rgba)
    assert opaque and Image.open(io.BytesIO(png)).mode == "L"
    rgba[0, 0, 0] = 10
    assert Image.open(io.BytesIO(frame_to_png(rgba)[0])).mode == "RGB"
    rgba[0, 0, 3] = 0
    png, opaque = frame_to_png(rgba)
    assert not opaque and Image.open(io.BytesIO(png)).mode == "RGBA"


@pytest.mark.parametrize("figsize", [(0.48, 0.4), (0.96, 0.8), (1.44, 1.2)])
def test_fast_image_matches_matplotlib_nearest_at_integer_zoom(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (40, 48, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    results = []
    for fast in (False, True):
        fig = Figure(figsize=figsize, dpi=100)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_axis_off()
        if fast:
            image = FastImage(ax, interpolation="nearest")
            image.set_data(rgba)
            ax.add_image(image)
            ax.set_xlim(-0.5, 47.5)
            ax.set_ylim(39.5, -0.5)
            ax.set_aspect("equal")
        else:
            ax.imshow(rgba, interpolation="nearest")
        canvas.draw()
        results.append(np.asarray(canvas.buffer_rgba()).copy())
    assert np.array_equal(results[0], results[1])


def test_each_slice_change_sends_one_png_of_the_new_slice(viewer, vol):
    recorder = SendRecorder(viewer.canvas)
    viewer.index = 2
    viewer.index = 7
    assert len(recorder.frames) == 2
    sent = np.asarray(Image.open(io.BytesIO(recorder.last)))
    buffer = np.asarray(viewer.canvas.get_renderer().buffer_rgba())
    assert sent.shape[:2] == buffer.shape[:2]
    assert np.array_equal(sent if sent.ndim == 2 else sent[..., 0], buffer[..., 0])
    assert viewer.canvas._image_mode == "full"


# ---------------------------------------------------------------------- navigation
def test_slider_changes_displayed_slice(viewer, vol):
    viewer.controls.slider.value = 3
    assert viewer.index == 3
    expected = to_display(vol[3].astype(float), (0, 1000))
    assert np.array_equal(_grey(viewer), expected)
    viewer.index = 9
    assert np.array_equal(_grey(viewer), to_display(vol[9].astype(float), (0, 1000)))
    assert viewer.annotations["bottom_left"].startswith("Im: 10/12")
    assert "27.0 mm" in viewer.annotations["bottom_left"]  # 9 * 3 mm
    assert "10 / 12" in viewer.controls.counter.value


def test_out_of_range_index_says_what_was_expected(viewer):
    with pytest.raises(traitlets.TraitError, match=r"expected 0\.\.11"):
        viewer.index = 12
    with pytest.raises(traitlets.TraitError, match="time point"):
        viewer.time = 1


def test_empty_and_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        SeriesViewer(np.zeros((0, 4, 4)))
    with pytest.raises(ValueError, match="2-D image"):
        SeriesViewer(np.zeros((2, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="spacing"):
        SeriesViewer(np.zeros((2, 4, 4)), spacing=(1, -1, 1))
    with pytest.raises(ValueError, match="view must be one of"):
        SeriesViewer(np.zeros((2, 4, 4)), view="diagonal")


def test_mouse_wheel_and_keys_step_slices(viewer):
    viewer.index = 5
    _mouse(viewer, "scroll", 10, 10, step=-1)
    assert viewer.index == 6
    _mouse(viewer, "scroll", 10, 10, step=1)
    _mouse(viewer, "scroll", 10, 10, step=1)
    assert viewer.index == 4
    _send(viewer, type="key_press", key="kArrowUp", guiEvent=None)
    assert viewer.index == 5
    _send(viewer, type="key_press", key="kEnd", guiEvent=None)
    assert viewer.index == 11
    _send(viewer, type="key_press", key="kArrowUp", guiEvent=None)  # clamped at the end
    assert viewer.index == 11
    _send(viewer, type="key_press", key="kHome", guiEvent=None)
    assert viewer.index == 0


def test_play_steps_and_loops(viewer):
    viewer.index = 10
    viewer.cine.tick()
    assert viewer.index == 11
    viewer.cine.tick()
    assert viewer.index == 0  # loop
    viewer.loop = False
    viewer.index = 10
    viewer.playing = True
    viewer.cine.tick()
    assert viewer.index == 11 and viewer.playing is True
    viewer.cine.tick()
    assert viewer.index == 11 and viewer.playing is False
    viewer.playing = True  # Play again at the end of a non-looping cine: from the start
    assert viewer.index == 0
    viewer.playing = False
    viewer.fps = 25
    assert viewer.cine.timer.interval == 40
    with pytest.raises(traitlets.TraitError):
        viewer.fps = 0


def test_four_d_time_slider_and_play_over_time():
    vol4 = np.stack([_volume(4, 16, 16), _volume(4, 16, 16) + 2000])
    v = SeriesViewer(vol4, window=(0, 5000))
    assert v.controls.time_row.layout.display != "none"
    before = _grey(v).copy()
    v.controls.time_slider.value = 1
    assert v.time == 1
    assert not np.array_equal(before, _grey(v))
    v.cine.tick()
    assert v.time == 0  # cine runs over time for 4-D data
    assert "T: 1/2" in v.annotations["bottom_left"]


# ---------------------------------------------------------------------- window
def test_presets_window_boxes_and_auto(viewer, vol):
    viewer.index = 4
    viewer.preset = "bone"
    assert (viewer.window_center, viewer.window_width) == (400.0, 1800.0)
    assert np.array_equal(_grey(viewer), to_display(vol[4].astype(float), "bone"))
    assert "(bone)" in viewer.annotations["bottom_right"]
    viewer.controls.width_box.value = 300.0
    assert viewer.preset == "custom" and viewer.window_width == 300.0
    assert np.array_equal(_grey(viewer), to_display(vol[4].astype(float), (400, 300)))
    center, width = viewer.auto_window()
    assert viewer.preset == "auto"
    lo, hi = np.percentile(vol[4], [0.5, 99.5])
    assert center == pytest.approx((lo + hi) / 2) and width == pytest.approx(hi - lo)
    with pytest.raises(traitlets.TraitError, match="unknown preset"):
        viewer.preset = "nonsense"
    with pytest.raises(traitlets.TraitError, match="positive"):
        viewer.window_width = 0


def test_invert_and_colormap(viewer, vol):
    grey = _grey(viewer).copy()
    viewer.invert = True
    assert np.array_equal(_grey(viewer), 255 - grey)
    viewer.invert = False
    viewer.cmap = "viridis"
    rgba = viewer.image.get_array()
    assert not np.array_equal(rgba[..., 0], rgba[..., 1])
    assert viewer.displayed.ndim == 3
    with pytest.raises(traitlets.TraitError, match="colormap"):
        viewer.cmap = "no-such-map"


def test_right_drag_changes_width_horizontally_and_centre_vertically(viewer):
    viewer.drag_window(0, 1000)
    _mouse(viewer, "button_press", 20, 10, button=2, buttons=2)
    _mouse(viewer, "motion_notify", 20, 30, buttons=2)  # to the right: wider
    assert viewer.window_width > 1000 and viewer.window_center == pytest.approx(0)
    width = viewer.window_width
    _mouse(viewer, "motion_notify", 30, 30, buttons=2)  # downwards (screen y down)
    assert viewer.window_width == pytest.approx(width)
    assert viewer.window_center != pytest.approx(0)
    _mouse(viewer, "button_release", 30, 30, button=2)
    assert viewer.preset == "custom"
    c = viewer.window_center
    _mouse(viewer, "motion_notify", 5, 5)
    assert viewer.window_center == c  # released: hovering does not window


def test_hover_readout(viewer, vol):
    viewer.index = 2
    _mouse(viewer, "motion_notify", 10, 20)
    text = viewer.readout
    assert "slice 2  row 10  col 20" in text
    assert f"value {int(vol[2, 10, 20])}" in text
    assert "(20.0, 10.0, 6.0) mm" in text
    assert viewer.controls.readout_label.value == text
    assert "dw-readout" in viewer.controls.readout_label._dom_classes
    assert "dw-status" in viewer.controls.status_label._dom_classes


# ---------------------------------------------------------------------- views
def test_reformat_views_cut_the_volume_with_aspect(vol):
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 0.5), window=(0, 1000))
    v.view = "coronal"
    assert v.n_slices == vol.shape[1]
    v.index = 7
    # Coronal: rows are slices from superior (last) to inferior, columns are columns.
    expected = to_display(vol[::-1, 7, :].astype(float), (0, 1000))
    assert np.array_equal(_grey(v), expected)
    assert v.ax.get_aspect() == pytest.approx(3.0 / 0.5)
    v.view = "sagittal"
    v.index = 5
    expected = to_display(vol[::-1, :, 5].astype(float), (0, 1000))
    assert np.array_equal(_grey(v), expected)
    assert v.ax.get_aspect() == pytest.approx(3.0 / 1.0)
    v.view = "axial"
    assert np.array_equal(_grey(v), to_display(vol[v.index].astype(float), (0, 1000)))


def test_ortho_has_three_panes_and_crosshair_follows_clicks(vol):
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000), view="ortho")
    _send(v, type="initialized")
    assert len(v.axes) == 3
    assert all(p.hline.get_visible() for p in v.panes)
    # Click in the axial pane at row 12, col 30 -> coronal shows row 12, sagittal col 30.
    _mouse(v, "button_press", 12, 30, pane=0, button=0, buttons=1)
    _mouse(v, "button_release", 12, 30, pane=0, button=0)
    k = v.model.cursor[0]
    assert v.model.cursor == (k, 12, 30)
    coronal, sagittal = v.panes[1], v.panes[2]
    assert np.array_equal(
        coronal.image.get_array()[..., 0], to_display(vol[::-1, 12, :].astype(float), (0, 1000))
    )
    assert np.array_equal(
        sagittal.image.get_array()[..., 0], to_display(vol[::-1, :, 30].astype(float), (0, 1000))
    )
    assert v.panes[0].vline.get_xdata()[0] == 30
    # Clicking the coronal pane makes it active: the slider now moves coronal planes.
    _mouse(v, "button_press", 2, 5, pane=1, button=0, buttons=1)
    assert v.model.active == 1 and v.index == 12 and v.n_slices == vol.shape[1]
    assert v.model.cursor == (vol.shape[0] - 1 - 2, 12, 5)


def test_acquired_only_without_geometry_reason_shown():
    v = SeriesViewer(np.zeros((1, 8, 8), np.int16))
    assert "axial" not in v.controls.view_buttons.options
    assert "at least 2 slices" in v.controls.view_reason.value
    with pytest.raises(GeometryError, match="at least 2 slices"):
        v.view = "axial"


# ---------------------------------------------------------------------- overlays
def test_label_overlay_colours_legend_and_errors(viewer, vol):
    mask = np.zeros(vol.shape, np.uint8)
    mask[:, 5:10, 5:10] = 1
    mask[:, 20:25, 20:25] = 2
    before = viewer.image.get_array().copy()
    viewer.add_overlay(mask, alpha=1.0, colors={1: "red", 2: "lime"}, labels={1: "tumour"})
    after = viewer.image.get_array()
    assert tuple(after[7, 7, :3]) == (255, 0, 0)
    assert tuple(after[22, 22, :3]) == (0, 255, 0)
    assert np.array_equal(after[30:, 30:], before[30:, 30:])
    assert viewer.legend_labels == ["tumour", "overlay 1: label 2"]
    viewer.show_overlays = False
    assert np.array_equal(viewer.image.get_array(), before)
    viewer.show_overlays = True
    viewer.remove_overlay("overlay 1")
    assert viewer.overlays == [] and viewer.legend_labels == []
    with pytest.raises(ValueError, match=r"expected \(slices, rows, cols\) = \(12, 40, 48\)"):
        viewer.add_overlay(np.zeros((12, 40, 47), np.uint8))
    with pytest.raises(ValueError, match="integer labels"):
        viewer.add_overlay(np.full(vol.shape, 0.5))
    with pytest.raises(KeyError, match="no overlay"):
        viewer.remove_overlay("missing")


def test_overlay_follows_reformat(vol):
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000), view="coronal")
    mask = np.zeros(vol.shape, bool)
    mask[0, 7, :] = True  # first (inferior) slice, row 7
    v.add_overlay(mask, alpha=1.0, colors="blue")
    v.index = 7
    arr = v.image.get_array()
    assert (arr[-1, :, 2] == 255).all() and (arr[-1, :, 0] == 0).all()  # bottom row of coronal
    blue = (arr[..., 2] == 255) & (arr[..., 0] == 0)
    assert not blue[:-1].all(axis=1).any()


# ---------------------------------------------------------------------- link
def test_link_by_patient_position_and_window():
    thin = _volume(12, 16, 16)
    thick = _volume(4, 16, 16)
    a = SeriesViewer(thin, spacing=(1.0, 1.0, 1.0), window=(0, 1000))
    b = SeriesViewer(thick, spacing=(3.0, 1.0, 1.0), window=(0, 1000))
    handle = link(a, b, window=True)
    a.index = 9  # z = 9 mm -> thick slice 3 (z = 9 mm)
    assert b.index == 3
    a.index = 4  # z = 4 mm -> nearest thick slice 1 (z = 3 mm)
    assert b.index == 1
    b.index = 2  # z = 6 mm
    assert a.index == 6
    a.drag_window(100, 200)
    assert (b.window_center, b.window_width) == (100, 200)
    assert np.array_equal(_grey(b), to_display(thick[2].astype(float), (100, 200)))
    handle.unlink()
    a.index = 0
    assert b.index == 2


def test_link_by_index_without_geometry():
    a = SeriesViewer(_volume(6, 8, 8))
    b = SeriesViewer(_volume(3, 8, 8))
    link(a, b)
    a.index = 5
    assert b.index == 2  # clamped: no geometry, so by index
    a.index = 1
    assert b.index == 1


# ---------------------------------------------------------------------- annotations, static output
def test_annotations_toggle(viewer):
    assert viewer.annotations["bottom_right"].startswith("W: 1000 L: 0")
    viewer.show_annotations = False
    assert set(viewer.annotations.values()) == {""}


def test_snapshot_and_mimebundle(viewer):
    png = viewer.snapshot()
    img = Image.open(io.BytesIO(png))
    assert img.size == (256, 256)
    bundle = viewer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"]
    html = bundle["text/html"]
    assert html.startswith('<div class="dw-repr">') and '<img src="data:image/png;base64,' in html
    assert bundle["image/png"] in html  # the same picture in both
    assert "SeriesViewer" in bundle["text/plain"]


def test_user_artists_stay_visible_above_the_image(viewer):
    before = np.asarray(viewer.canvas.get_renderer().buffer_rgba()).copy()
    viewer.ax.plot([0, 47], [0, 39], color="red", lw=3)
    viewer.refresh()
    viewer.index = 3
    after = np.asarray(viewer.canvas.get_renderer().buffer_rgba())
    red = (after[..., 0] > 200) & (after[..., 1] < 60)
    assert red.sum() > 50 and not ((before[..., 0] > 200) & (before[..., 1] < 60)).any()


def test_save_animation_gif_and_mp4_message(viewer, tmp_path):
    path = viewer.save_animation(tmp_path / "cine.gif", fps=5, stop=4)
    with Image.open(path) as gif:
        assert gif.n_frames == 4
    assert viewer.index == viewer.index  # state restored (no exception)
    import shutil

    if shutil.which("ffmpeg") is None:
        with pytest.raises(MissingDependencyError, match="ffmpeg"):
            viewer.save_animation(tmp_path / "cine.mp4")
    with pytest.raises(ValueError, match=".gif or .mp4"):
        viewer.save_animation(tmp_path / "cine.avi")


def test_image_fallback_canvas_updates_png(vol):
    v = SeriesViewer(vol, window=(0, 1000), canvas="image", size=128)
    assert v.image_widget is not None and v.image_widget in v.children
    first = bytes(v.image_widget.value)
    v.index = 1
    second = bytes(v.image_widget.value)
    assert first != second
    shown = np.asarray(Image.open(io.BytesIO(second)))
    assert shown.shape[:2] == (128, 128)
    with pytest.raises(ValueError, match="canvas must be"):
        SeriesViewer(vol, canvas="svg")


def test_colour_volume():
    rgb = np.zeros((3, 20, 30, 3), np.uint8)
    rgb[1, ..., 0] = 200
    rgb[2, ..., 2] = 150
    v = SeriesViewer(rgb)
    v.index = 1
    assert tuple(v.displayed[5, 5]) == (200, 0, 0)
    v.index = 2
    assert tuple(v.image.get_array()[5, 5, :3]) == (0, 0, 150)
    assert v.annotations["bottom_right"] == ""


def test_savefig_includes_image_and_annotations_at_any_dpi(viewer, vol):
    import matplotlib.pyplot as plt

    for dpi in (100, 50):
        buf = io.BytesIO()
        viewer.figure.savefig(buf, format="png", dpi=dpi)
        saved = np.asarray(Image.open(buf))
        assert saved.shape[0] == int(256 * dpi / 100)
        assert len(np.unique(saved[..., 0])) > 20  # the image, not an empty black figure
    # The viewer keeps working at its own resolution afterwards.
    recorder = SendRecorder(viewer.canvas)
    viewer.index = 1
    assert Image.open(io.BytesIO(recorder.last)).size == (256, 256)
    plt.close("all")


def test_reformat_readout_uses_volume(vol):
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), view="sagittal", window=(0, 1000))
    v.index = 20  # column 20
    text = v.value_at(0, 0, 4)  # top row = last slice; col 4 of the sagittal = row 4
    assert "slice 11  row 4  col 20" in text
    assert f"value {int(vol[11, 4, 20])}" in text and f"stored {int(vol[11, 4, 20])}" in text


def test_public_names_and_composition(vol):
    import ipywidgets as widgets

    import dicom_widgets as dw

    assert dw.SeriesViewer is SeriesViewer and dw.link is link
    v = dw.SeriesViewer(vol)
    box = widgets.HBox([v, dw.SeriesViewer(vol)])
    assert box.children[0] is v
    assert v.figure is v.ax.figure and v.canvas is v.figure.canvas
    assert v.preset == "auto"  # numpy data without a window: automatic


def test_play_timer_runs_in_both_canvas_modes(vol):
    for mode in ("ipympl", "image"):
        v = SeriesViewer(vol, canvas=mode)
        v.playing = True
        assert v.cine.timer is not None and v.controls.play_button.icon == "pause"
        v.playing = False
        assert v.controls.play_button.icon == "play"


def test_close_stops_timer_and_closes_widgets(vol):
    v = SeriesViewer(vol)
    other = SeriesViewer(vol)
    link(v, other)
    v.playing = True
    v.close()
    assert v.playing is False and v.links == [] and other.links == []
    assert v.canvas.comm is None and v.controls.slider.comm is None


def test_float_maps_auto_window_and_drag_never_reaches_zero():
    rng = np.random.default_rng(2)
    maps = (rng.random((3, 32, 32)) * 10).astype(np.float32)  # e.g. a T2* map in ms
    v = SeriesViewer(maps, spacing=(1, 1, 1))
    assert v.preset == "auto" and 9.0 < v.window_width < 10.0
    assert np.array_equal(v.displayed, to_display(maps[1], (v.window_center, v.window_width)))
    _send(v, type="initialized")
    _mouse(v, "button_press", 16, 30, button=2, buttons=2)
    _mouse(v, "motion_notify", 16, 0, buttons=2)  # far to the left: much narrower
    assert 0 < v.window_width < 2.0


def test_cached_annotations_look_like_directly_drawn_ones(vol):
    v = SeriesViewer(vol, spacing=(3, 1, 1), window=(0, 1000), size=256)
    v.add_overlay(np.ones(vol.shape, np.uint8), alpha=0.2, labels={1: "everything"})
    cached = np.asarray(v.canvas.get_renderer().buffer_rgba()).astype(int)
    v._artists.static_artists = lambda: {}  # every artist drawn by matplotlib itself
    v.refresh()
    direct = np.asarray(v.canvas.get_renderer().buffer_rgba()).astype(int)
    text_pixels = (np.abs(direct - cached).max(axis=2) > 0).sum()
    assert np.abs(direct - cached).max() <= 3  # antialiasing rounding only
    assert text_pixels < 0.02 * direct.shape[0] * direct.shape[1]
    # and a changed annotation is re-rasterised, not served stale from the cache
    del v._artists.static_artists
    v.preset = "bone"
    assert "(bone)" in v.annotations["bottom_right"]
    key = v._artists.static_artists()[id(v._artists.corner_texts["bottom_right"])]
    assert "(bone)" in key[1]


def test_rgb_flag_overrides_the_guess():
    narrow = _volume(5, 16, 3)  # a grey volume whose last axis happens to be 3 long
    assert SeriesViewer(narrow).source.is_color
    grey = SeriesViewer(narrow, rgb=False)
    assert not grey.source.is_color and grey.n_slices == 5


def test_benchmark_script_runs(monkeypatch, capsys):
    """The benchmark must keep working (its figures are not asserted: tests never assert timings)."""
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_viewer.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--steps", "2", "--slices", "3", "--size", "64"])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "SeriesViewer step" in out and "speed-up vs naive" in out


def test_one_frame_per_user_action(viewer):
    recorder = SendRecorder(viewer.canvas)
    viewer.preset = "bone"
    assert len(recorder.frames) == 1
    viewer.drag_window(10, 500)
    assert len(recorder.frames) == 2
    viewer.invert = True
    viewer.index = 3
    assert len(recorder.frames) == 4


def test_one_frame_per_view_change_and_ortho_click(vol):
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000))
    _send(v, type="initialized")
    recorder = SendRecorder(v.canvas)
    v.view = "coronal"
    assert len(recorder.frames) == 1
    v.view = "ortho"
    assert len(recorder.frames) == 2
    _mouse(v, "button_press", 3, 4, pane=2, button=0, buttons=1)
    assert len(recorder.frames) == 3 and v.model.active == 2


def test_hidpi_browser_gets_double_resolution_frames(viewer, vol):
    recorder = SendRecorder(viewer.canvas)
    _send(viewer, type="set_device_pixel_ratio", device_pixel_ratio=2)
    viewer.index = 5
    frame = np.asarray(Image.open(io.BytesIO(recorder.last)))
    assert frame.shape[:2] == (512, 512)
    # The image area is the slice magnified 2x more, nearest-neighbour: every value of the
    # displayed slice appears, and nothing else inside the image.
    assert set(np.unique(frame)) >= set(np.unique(viewer.displayed))


def test_initial_index_zero_is_shown(vol):
    v = SeriesViewer(vol, window=(0, 1000), index=0)
    assert v.index == 0 and v.model.cursor[0] == 0
    assert np.array_equal(_grey(v), to_display(vol[0].astype(float), (0, 1000)))
    assert v.annotations["bottom_left"].startswith("Im: 1/12")


@pytest.mark.parametrize(
    ("make", "module"),
    [
        (
            "dw.SeriesViewer(np.zeros((2, 8, 8)), canvas='ipympl')",
            "dicom_widgets.widgets._viewer_render",
        ),
        (
            "dw.AnonymizationPreview(ct_phantom(n_slices=1, size=16)[0], canvas='ipympl')",
            "ipympl.backend_nbagg",
        ),
    ],
    ids=["viewer", "anonymization-preview"],
)
def test_widgets_do_not_switch_the_users_pyplot_backend(make, module):
    """ipympl's __init__ calls matplotlib.use(ipympl) on import; the widgets must undo that."""
    import subprocess
    import sys

    code = (
        "import matplotlib; matplotlib.use('agg'); import matplotlib.pyplot as plt\n"
        "import numpy as np, dicom_widgets as dw\n"
        "from dicom_widgets.data import ct_phantom\n"
        f"w = {make}\n"
        "print(matplotlib.get_backend(), type(w.canvas).__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    backend, canvas_module = out.stdout.split()
    assert backend == "agg" and canvas_module == module


# ---------------------------------------------------------------------- the view model behind it
def test_the_viewer_shows_its_model(vol):
    from dicom_widgets.view import ViewModel

    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000))

    def shown_is_model() -> bool:
        rgba = v.model.render()
        grey = rgba[..., 0] if np.array_equal(rgba[..., 0], rgba[..., 2]) else rgba[..., :3]
        return np.array_equal(v.displayed, grey) and np.array_equal(v.image.get_array(), rgba)

    assert isinstance(v.model, ViewModel) and shown_is_model()
    for change in (
        lambda: setattr(v, "index", 3),
        lambda: setattr(v, "preset", "bone"),
        lambda: setattr(v, "view", "coronal"),
        lambda: setattr(v, "index", 30),
        lambda: setattr(v, "cmap", "viridis"),
        lambda: setattr(v, "view", "ortho"),
    ):
        change()
        assert shown_is_model()
    # The model drives the viewer as well: its traits and picture follow.
    v.model.view = "sagittal"
    v.model.index = 11
    assert (v.view, v.index, v.n_slices) == ("sagittal", 11, 48) and shown_is_model()
    v.model.preset = "lung"
    assert (
        v.preset == "lung" and v.window_width == 1500 and "(lung)" in v.annotations["bottom_right"]
    )


def test_the_viewer_mirrors_every_model_trait_with_the_models_declaration(vol):
    from dicom_widgets.view import MIRRORED_TRAITS, ViewModel

    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000))
    for name in MIRRORED_TRAITS:
        ours, theirs = SeriesViewer.class_traits()[name], ViewModel.class_traits()[name]
        assert type(ours) is type(theirs) and ours.help == theirs.help, name
        assert ours.default_value == theirs.default_value and getattr(v, name) == getattr(
            v.model, name
        ), name
    v.slab_thickness = 4.0
    v.model.show_overlays = False
    assert v.model.slab_thickness == 4.0 and v.show_overlays is False


def test_the_examples_of_the_viewer_link_run():
    import doctest

    from dicom_widgets.widgets import _viewer_link

    result = doctest.testmod(_viewer_link, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


class _Ticks(Layer):
    """A layer with vector items: a green line on row ``index`` of the acquired plane."""

    def items(self, pane):
        row = float(pane.index)
        return [Polyline(np.array([[row, 0.0], [row, 47.0]]), (0.0, 1.0, 0.0), width=2)]


def test_layer_vector_items_are_drawn_and_prefetched_exactly(vol):
    v = SeriesViewer(vol, spacing=(3.0, 1.0, 1.0), window=(0, 1000), size=240, index=2)
    frames: dict[tuple[int, int], bytes] = {}
    cache = v.frame_cache.widget
    original = cache.send_frame

    def send_frame(generation, index, png):
        frames[(generation, index)] = bytes(png)
        original(generation, index, png)

    cache.send_frame = send_frame
    generation = v.frame_cache.generation
    v.model.add_layer(_Ticks("ticks"))
    assert v.frame_cache.generation == generation + 1  # a new layer: a new generation
    buffer = np.asarray(v.canvas.get_renderer().buffer_rgba())
    green = (buffer[..., 1] > 200) & (buffer[..., 0] < 80)
    assert green.sum() > 100
    recorder = SendRecorder(v.canvas)
    assert v.prefetch(4) == 4
    for index in (3, 4, 1):
        v.index = index
        assert recorder.last == frames[(v.frame_cache.generation, index)], index
