"""The view model without widgets: state, pictures, values, layers and change events."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import traitlets

from dicom_widgets.data import ct_phantom, pydicom_file
from dicom_widgets.display import overlay_mask, to_display, windows_from_dataset
from dicom_widgets.errors import GeometryError
from dicom_widgets.series import load_series
from dicom_widgets.view import (
    INDEX_ONLY,
    DicomOverlayLayer,
    LabelLayer,
    Layer,
    LegendEntry,
    Polyline,
    TextItem,
    ViewModel,
)


def _volume(n: int = 12, rows: int = 40, cols: int = 48) -> np.ndarray:
    k, r, c = np.meshgrid(np.arange(n), np.arange(rows), np.arange(cols), indexing="ij")
    return (k * 100 + r * 3 + c - 500).astype(np.int16)


@pytest.fixture(scope="module")
def ct_series():
    return load_series(ct_phantom(n_slices=10, size=48), progress=False)


@pytest.fixture
def model() -> ViewModel:
    return ViewModel(_volume(), spacing=(3.0, 1.0, 0.5), window=(0, 1000))


class Changes:
    """Record what a model reports through on_change."""

    def __init__(self, model: ViewModel) -> None:
        self.calls: list[frozenset[str]] = []
        model.on_change(self.calls.append)


def test_the_model_imports_and_renders_without_any_jupyter_package():
    """ipywidgets, IPython, ipympl, anywidget and ipykernel cannot be imported here."""
    code = textwrap.dedent(
        """
        import sys

        BLOCKED = ("ipywidgets", "IPython", "ipympl", "anywidget", "ipykernel", "dicom_widgets.widgets")

        class Block:
            def find_spec(self, name, path=None, target=None):
                if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                    raise ImportError(f"{name} is blocked in this test")
                return None

        sys.meta_path.insert(0, Block())
        import dicom_widgets as dw
        from dicom_widgets.data import ct_phantom
        from dicom_widgets.display import to_display
        from dicom_widgets.view import ViewModel

        series = dw.load_series(ct_phantom(n_slices=6, size=32), progress=False)
        model = ViewModel(series)
        frame = model.render()
        assert frame.shape == (32, 32, 4) and frame.dtype.name == "uint8"
        expected = to_display(series.frame(3), (model.window_center, model.window_width))
        assert (frame[..., 0] == expected).all()
        model.view = "coronal"
        assert model.render().shape == (6, 32, 4)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED[:-1])
        assert not loaded, loaded
        print("ok", model.preset)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ok", "file:0"]


# ---------------------------------------------------------------------- pictures and values
def test_render_is_the_windowed_plane_and_values_are_modality_units(model):
    vol = _volume()
    model.index = 4
    rgba = model.render()
    assert rgba.shape == (40, 48, 4) and rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., 0], to_display(vol[4].astype(float), (0, 1000)))
    assert (rgba[..., 3] == 255).all()
    assert np.array_equal(model.values(), vol[4])
    # Another plane without moving the cursor.
    assert np.array_equal(model.values(index=7), vol[7]) and model.index == 4


def test_ct_values_are_hounsfield_units(ct_series):
    model = ViewModel(ct_series)
    assert model.preset == "file:0"
    assert np.array_equal(model.values(), ct_series.frame(5))
    assert model.readout(None, 10, 20).count("HU") == 1
    model.preset = "bone"
    assert np.array_equal(model.render()[..., 0], to_display(ct_series.frame(5), "bone"))


def test_views_cut_the_volume_and_keep_the_cursor(model):
    vol = _volume()
    model.set_cursor((3, 7, 20))
    model.view = "coronal"
    assert model.index == 7 and model.n_index() == 40
    assert np.array_equal(
        model.render()[..., 0], to_display(vol[::-1, 7, :].astype(float), (0, 1000))
    )
    assert model.aspect() == pytest.approx(3.0 / 0.5)
    model.view = "sagittal"
    assert model.index == 20
    assert np.array_equal(model.values(), vol[::-1, :, 20])
    model.view = "ortho"
    assert [p.view for p in model.planes] == ["axial", "coronal", "sagittal"]
    assert model.index == 3 and model.cursor == (3, 7, 20)
    model.active = 2
    assert model.index == 20 and model.n_index() == 48
    assert model.render(1).shape == (12, 48, 4)


def test_cursor_and_patient_point_round_trip(model):
    model.set_cursor((2, 10, 30))
    assert model.point.tolist() == [15.0, 10.0, 6.0]  # col * 0.5, row * 1, slice * 3 mm
    model.set_point([5.1, 20.2, 27.4])
    assert model.cursor == (9, 20, 10) and model.index == 9
    model.set_cursor((99, -5, 3))  # clamped
    assert model.cursor == (11, 0, 3)


def test_validation_says_what_was_expected(model):
    with pytest.raises(traitlets.TraitError, match=r"expected 0\.\.11"):
        model.index = 12
    with pytest.raises(traitlets.TraitError, match="unknown preset"):
        model.preset = "nonsense"
    with pytest.raises(traitlets.TraitError, match="positive"):
        model.window_width = 0
    flat = ViewModel(np.zeros((1, 8, 8), np.int16))
    with pytest.raises(GeometryError, match="at least 2 slices"):
        flat.view = "axial"
    assert flat.available_views == ["acquired"]


def test_window_presets_auto_and_custom(model):
    model.preset = "bone"
    assert (model.window_center, model.window_width) == (400.0, 1800.0)
    model.window_width = 300.0
    assert model.preset == "custom"
    center, width = model.auto_window()
    assert model.preset == "auto" and (model.window_center, model.window_width) == (center, width)
    model.set_window(10, 20)
    assert (model.window_center, model.window_width, model.preset) == (10, 20, "custom")


def test_file_voi_lut_is_the_window_spec():
    model = ViewModel(load_series(pydicom_file("voi_lut"), progress=False))
    assert model.preset == "file" and model.uses_voi_lut
    model.preset = "auto"
    assert not model.uses_voi_lut


# ---------------------------------------------------------------------- events
def test_one_change_per_action_and_index_only_steps(model):
    changes = Changes(model)
    model.index = 5
    assert changes.calls == [INDEX_ONLY]
    model.preset = "bone"  # centre, width and preset: one change
    assert len(changes.calls) == 2 and {"window_center", "preset"} <= changes.calls[1]
    model.view = "ortho"
    assert len(changes.calls) == 3 and "view" in changes.calls[2]
    model.set_cursor((5, 3, 3))  # a crosshair move: every pane's picture changes
    assert "cursor" in changes.calls[3]
    model.step(1)
    assert changes.calls[4] == INDEX_ONLY
    with model.hold():
        model.invert = True
        model.cmap = "bone"
    assert changes.calls[5] == {"invert", "cmap"}


# ---------------------------------------------------------------------- layers
class Marker(Layer):
    """Paints one column red on every plane and outlines the slice number's row."""

    def draw(self, rgba, pane):
        rgba[:, pane.index, :3] = (255, 0, 0)
        return rgba

    def items(self, pane):
        row = float(pane.index)
        return [
            Polyline(np.array([[row, 0.0], [row, 10.0]]), (0.0, 1.0, 0.0), width=2.0),
            TextItem(row, 12.0, f"plane {pane.index}"),
        ]

    def readout(self, pane, row, col):
        return "marked" if col == pane.index else None

    def legend(self):
        return [LegendEntry("marker", (1.0, 0.0, 0.0), layer=self.name)]


def test_a_custom_layer_draws_reads_out_and_gives_items_and_legend(model):
    changes = Changes(model)
    marker = model.add_layer(Marker("marker"))
    assert changes.calls == [{"layers"}]
    assert model.layers.names == ["image", "marker"] and model.layers["marker"] is marker
    model.index = 3
    assert tuple(model.render()[5, 3, :3]) == (255, 0, 0)
    assert "marked" in model.readout(None, 5, 3) and "marked" not in model.readout(None, 5, 4)
    polyline, text = model.items()
    assert polyline.points[0].tolist() == [3.0, 0.0] and text.text == "plane 3"
    assert model.items(index=8)[1].text == "plane 8"
    assert [e.label for e in model.legend()] == ["marker"]
    marker.visible = False  # a layer's trait change redraws
    assert changes.calls[-1] == {"layers"}
    assert tuple(model.render()[5, 3, :3]) != (255, 0, 0) and model.items() == []
    marker.visible = True
    model.show_overlays = False
    assert model.legend() == []
    model.show_overlays = True
    marker.changed()
    assert changes.calls[-1] == {"layers"}
    model.remove_layer("marker")
    assert model.layers.names == ["image"]
    with pytest.raises(ValueError, match="image layer"):
        model.remove_layer("image")
    with pytest.raises(KeyError, match="no layer named"):
        model.remove_layer("marker")


def test_label_layer_blends_follows_reformats_and_names_labels(model):
    mask = np.zeros((12, 40, 48), np.uint8)
    mask[:, 5:10, 5:10] = 1
    mask[0, 20, :] = 2
    layer = model.add_layer(
        LabelLayer("roi", mask, opacity=1.0, colors={1: "red", 2: "lime"}, names={1: "tumour"})
    )
    assert tuple(model.render()[7, 7, :3]) == (255, 0, 0)
    assert "tumour" in model.readout(None, 7, 7)
    assert [e.label for e in model.legend()] == ["tumour", "roi: label 2"]
    model.view = "coronal"
    model.index = 20
    assert (model.render()[-1, :, 1] == 255).all()  # slice 0 is the bottom row of coronal
    layer.opacity = 0.0
    assert not (model.render()[-1, :, 1] == 255).all()
    with pytest.raises(ValueError, match="does not match the series"):
        model.add_layer(LabelLayer("bad", np.zeros((12, 40, 47), np.uint8)))
    with pytest.raises(ValueError, match="integer labels"):
        LabelLayer("float", np.full((12, 40, 48), 0.5))


def test_dicom_overlay_planes_are_a_layer_read_by_the_core():
    import pydicom

    path = pydicom_file("overlay")
    ds = pydicom.dcmread(path)
    expected = ds.overlay_array(0x6000).astype(bool)
    assert np.array_equal(overlay_mask(ds), expected)
    model = ViewModel(load_series(path, progress=False))
    assert isinstance(model.layers["DICOM overlays"], DicomOverlayLayer)
    assert (model.render()[expected][:, :3] == (255, 255, 0)).all()
    model.layers["DICOM overlays"].visible = False
    assert not (model.render()[expected][:, :3] == (255, 255, 0)).all()
    assert overlay_mask(pydicom.dcmread(pydicom_file("ct_small"))) is None


def test_overlay_planes_smaller_than_the_image_are_placed_at_their_origin():
    import pydicom

    ds = pydicom.dcmread(pydicom_file("overlay"))
    plane = ds.overlay_array(0x6000).astype(bool)
    ds[0x6000, 0x0050].value = [11, 21]  # 1-based row, column
    mask = overlay_mask(ds, shape=(plane.shape[0] + 30, plane.shape[1] + 40))
    assert np.array_equal(mask[10 : 10 + plane.shape[0], 20 : 20 + plane.shape[1]], plane)
    assert not mask[:10].any() and not mask[:, :20].any()


def test_windows_from_dataset_lists_every_file_window():
    ds = ct_phantom(1, 8)[0]
    windows = windows_from_dataset(ds)
    assert [(w.center, w.width, w.explanation) for w in windows] == [
        (40.0, 80.0, "BRAIN"),
        (400.0, 1800.0, "BONE"),
    ]
    ds.WindowWidth = [80, -5]  # an unusable second pair is left out
    assert len(windows_from_dataset(ds)) == 1
    del ds.WindowCenter
    assert windows_from_dataset(ds) == [] and windows_from_dataset(None) == []


def test_enhanced_files_give_their_frame_windows():
    series = load_series(pydicom_file("enhanced_ct"), progress=False)
    ds = series.dataset(0)
    windows = windows_from_dataset(ds, 0)
    assert windows and all(w.width > 0 for w in windows)
    assert ViewModel(series).source.file_windows() == windows_from_dataset(ds)
