"""Layers: what a view draws, bottom to top, into the RGBA frame of a pane.

A :class:`~dicom_widgets.view.ViewModel` keeps an ordered :class:`LayerList`. To make a
pane's picture it asks the first layer (the :class:`ImageLayer`, the windowed image) for
the frame and hands that frame to each visible layer above it in turn. A layer knows:

- its ``name``, whether it is ``visible`` and its ``opacity`` (traits: the model redraws
  when they change);
- :meth:`Layer.draw`: paint into the (rows, cols, 4) ``uint8`` frame of a pane, described
  by a :class:`PaneView` (plane, plane index, time point, volume shape, affine);
- :meth:`Layer.readout`: text for the screen pixel under the mouse (a segment's name);
- :meth:`Layer.items`: vector items in screen coordinates (:class:`Polyline`,
  :class:`TextItem`) that a front-end draws itself (the viewer: matplotlib artists), for
  what must stay sharp at any zoom (contours, measurements);
- :meth:`Layer.legend`: :class:`LegendEntry` items for the legend;
- :meth:`Layer.changed`: call it when the layer's data changed, so that the model (and the
  viewer's browser-side frame cache) knows every picture is new.

Screen coordinates are (row, col) of the pane's picture, pixel centres: (0, 0) is the
centre of the top-left pixel. :meth:`PaneView.patient` and :meth:`PaneView.screen` map
them to and from patient millimetres (DICOM LPS), through :mod:`dicom_widgets.view.planes`.

Examples
--------
A layer that outlines the pane and greys out a band of rows:

>>> import numpy as np
>>> from dicom_widgets.view import ViewModel
>>> from dicom_widgets.view.layers import Layer, Polyline
>>> class Band(Layer):
...     def draw(self, rgba, pane):
...         rgba[10:20, :, :3] //= 2  # the frame may be changed in place
...         return rgba
...     def items(self, pane):
...         rows, cols = pane.screen_shape
...         corners = [(0, 0), (0, cols - 1), (rows - 1, cols - 1), (rows - 1, 0)]
...         return [Polyline(np.array(corners, float), (1.0, 0.0, 0.0), closed=True)]
>>> model = ViewModel(np.full((4, 32, 32), 100, np.int16), window=(100, 200))
>>> band = model.add_layer(Band("band"))
>>> int(model.render()[15, 5, 0]), int(model.render()[5, 5, 0])
(64, 128)
>>> band.visible = False
>>> int(model.render()[15, 5, 0])
128
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import traitlets

from .. import display as _display
from .planes import Plane

if TYPE_CHECKING:
    from .model import ViewModel
    from .source import Source

__all__ = [
    "Layer",
    "LayerList",
    "ImageLayer",
    "LabelLayer",
    "DicomOverlayLayer",
    "PaneView",
    "Polyline",
    "TextItem",
    "LegendEntry",
    "blend_labels",
    "label_colors",
    "DEFAULT_LABEL_COLORS",
]

#: Grey of a frame that could not be decoded.
PLACEHOLDER_GREY = 40
#: Colour of DICOM overlay planes (60xx): opaque yellow, as most workstations show them.
DICOM_OVERLAY_COLOR = (255, 255, 0)
#: tab10-like colours given to labels 1, 2, ... when none are asked for.
DEFAULT_LABEL_COLORS: list[tuple[float, float, float]] = [
    (0.12, 0.47, 0.71),
    (1.0, 0.5, 0.05),
    (0.17, 0.63, 0.17),
    (0.84, 0.15, 0.16),
    (0.58, 0.4, 0.74),
    (0.55, 0.34, 0.29),
    (0.89, 0.47, 0.76),
    (0.74, 0.74, 0.13),
    (0.09, 0.75, 0.81),
]

Color = tuple[float, float, float]


@dataclass(frozen=True)
class PaneView:
    """One pane's cut through the volume, as a layer sees it.

    Attributes
    ----------
    plane : Plane
        How the pane cuts the (slice, row, col) volume.
    index : int
        Plane index along ``plane.normal_axis``.
    time : int
        Time point.
    volume_shape : (int, int, int)
        (slices, rows, cols) of the volume.
    affine : numpy.ndarray or None
        Voxel (col, row, slice, 1) -> patient LPS mm; None without geometry.
    cursor : (int, int, int)
        The model's cursor voxel (slice, row, col), with ``index`` on the pane's axis.

    Examples
    --------
    >>> from dicom_widgets.view import ViewModel
    >>> pane = ViewModel(np.zeros((4, 6, 8), np.int16), view="coronal").pane()
    >>> pane.screen_shape, pane.acquired, pane.cut(np.zeros((4, 6, 8))).shape
    ((4, 8), False, (4, 8))
    """

    plane: Plane
    index: int
    time: int
    volume_shape: tuple[int, int, int]
    affine: np.ndarray | None
    cursor: tuple[int, int, int]

    @property
    def screen_shape(self) -> tuple[int, int]:
        """(rows, cols) of the pane's picture."""
        return self.plane.screen_shape(self.volume_shape)

    @property
    def acquired(self) -> bool:
        """Whether the pane shows the acquired slices (no reformat)."""
        return self.plane.view == "acquired"

    def cut(self, volume: np.ndarray) -> np.ndarray:
        """This pane's plane of a (slices, rows, cols[, ...]) array shaped like the volume."""
        return self.plane.cut(volume, self.index)

    def patient(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Patient coordinates (mm) of screen points, shape (N, 3); needs an affine."""
        if self.affine is None:
            raise ValueError("this volume has no geometry (no affine)")
        return self.plane.patient(self.index, rows, cols, self.volume_shape, self.affine)

    def screen(self, points: np.ndarray) -> np.ndarray:
        """(plane offset, row, col) of patient points (mm), shape (N, 3).

        The first column is the signed distance from this pane's plane in plane steps:
        points with ``abs(offset) < 0.5`` lie on it.
        """
        if self.affine is None:
            raise ValueError("this volume has no geometry (no affine)")
        out = self.plane.from_patient(points, self.volume_shape, self.affine)
        out[:, 0] -= self.index
        return out


@dataclass(frozen=True)
class Polyline:
    """A line through screen points (row, col), shape (N, 2), drawn over the picture.

    Examples
    --------
    >>> Polyline(np.array([[0.0, 0.0], [10.0, 10.0]]), (1.0, 0.0, 0.0), width=2).closed
    False
    """

    points: np.ndarray
    color: Color
    width: float = 1.0
    closed: bool = False
    alpha: float = 1.0


@dataclass(frozen=True)
class TextItem:
    """A text at screen position (row, col), drawn over the picture.

    Examples
    --------
    >>> TextItem(5.0, 10.0, "12.3 mm").color
    (1.0, 1.0, 1.0)
    """

    row: float
    col: float
    text: str
    color: Color = (1.0, 1.0, 1.0)
    size: float = 8.0


@dataclass(frozen=True)
class LegendEntry:
    """One legend line: a colour swatch and its label; ``key`` identifies it in its layer.

    Examples
    --------
    >>> LegendEntry("liver", (0.8, 0.2, 0.2), layer="labels", key=1).label
    'liver'
    """

    label: str
    color: Color
    alpha: float = 1.0
    layer: str = ""
    key: int | str | None = None


class Layer(traitlets.HasTraits):
    """Base class of everything a :class:`~dicom_widgets.view.ViewModel` draws.

    Subclasses override what they need: :meth:`draw`, :meth:`readout`, :meth:`items`,
    :meth:`legend`. See the module docstring for an example.

    Parameters
    ----------
    name : str
        Unique within a model.
    visible : bool
    opacity : float
        0..1; how a layer uses it is its own (label layers blend with it).

    Examples
    --------
    >>> layer = Layer("notes", opacity=0.5)
    >>> layer.items(None), layer.legend(), layer
    ([], [], <Layer 'notes'>)
    """

    name = traitlets.Unicode("")
    visible = traitlets.Bool(True)
    opacity = traitlets.Float(1.0)
    #: Bumped by :meth:`changed`; the model redraws when it (or any trait) changes.
    revision = traitlets.Int(0)
    #: Hidden together with the others by the model's ``show_overlays``.
    is_overlay = True

    def __init__(self, name: str, *, visible: bool = True, opacity: float = 1.0) -> None:
        super().__init__(name=name, visible=visible, opacity=opacity)
        self.model: ViewModel | None = None

    @traitlets.validate("opacity")
    def _valid_opacity(self, proposal: Mapping[str, object]) -> float:
        value = float(proposal["value"])  # type: ignore[arg-type]
        if not 0.0 <= value <= 1.0:
            raise traitlets.TraitError(f"opacity must be between 0 and 1, got {value!r}")
        return value

    def attach(self, model: ViewModel) -> None:
        """Called by :meth:`ViewModel.add_layer`; raise ``ValueError`` if the layer does not fit."""
        self.model = model

    def changed(self) -> None:
        """Tell the model that this layer's data changed (every frame is new)."""
        self.revision += 1

    def draw(self, rgba: np.ndarray, pane: PaneView) -> np.ndarray:
        """Paint into ``rgba`` (rows, cols, 4) ``uint8`` (in place or not) and return the frame."""
        return rgba

    def readout(self, pane: PaneView, row: int, col: int) -> str | None:
        """Text about screen pixel (row, col) of ``pane``, or None."""
        return None

    def items(self, pane: PaneView) -> list[Polyline | TextItem]:
        """Vector items of ``pane`` in screen coordinates."""
        return []

    def legend(self) -> list[LegendEntry]:
        """Legend entries (shown while the layer is visible)."""
        return []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}{'' if self.visible else ' hidden'}>"


class LayerList(Sequence[Layer]):
    """The ordered layers of a model, bottom first; look up by position or name.

    Examples
    --------
    >>> from dicom_widgets.view import ViewModel
    >>> layers = ViewModel(np.zeros((2, 8, 8), np.int16)).layers
    >>> layers.names, layers["image"] is layers[0], "labels" in layers
    (['image'], True, False)
    """

    def __init__(self) -> None:
        self._layers: list[Layer] = []

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __getitem__(self, key: int | str) -> Layer:  # type: ignore[override]
        if isinstance(key, str):
            for layer in self._layers:
                if layer.name == key:
                    return layer
            known = ", ".join(repr(layer.name) for layer in self._layers) or "none"
            raise KeyError(f"no layer named {key!r} (layers: {known})")
        return self._layers[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return any(layer.name == key for layer in self._layers)
        return any(layer is key for layer in self._layers)

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self._layers]

    def _insert(self, layer: Layer, position: int | None) -> None:
        if layer.name in self:
            raise ValueError(f"a layer named {layer.name!r} exists already; remove it first")
        if position is None:
            self._layers.append(layer)
        else:
            self._layers.insert(position, layer)

    def _remove(self, layer: Layer) -> None:
        self._layers = [other for other in self._layers if other is not layer]

    def __repr__(self) -> str:
        return f"LayerList({self.names})"


# ---------------------------------------------------------------------- image
class ImageLayer(Layer):
    """The series itself, windowed: the bottom layer of every model.

    Integer data goes through one composed table per (rescale, window, colormap): stored
    value -> packed RGBA, so a slice costs one ``numpy.take``. Float, colour and
    modality-LUT data go through :func:`dicom_widgets.display.to_display`. The window,
    colormap and inversion are the model's.

    Examples
    --------
    >>> from dicom_widgets.view import ViewModel
    >>> model = ViewModel(np.full((2, 8, 8), 100, np.int16), window=(100, 200))
    >>> model.image.draw(None, model.pane())[0, 0].tolist()  # mid-grey, opaque
    [128, 128, 128, 255]
    """

    is_overlay = False

    def __init__(self, name: str = "image") -> None:
        super().__init__(name)
        self._luts: dict[object, object] = {}
        self._volumes: dict[tuple[int, bool], np.ndarray] = {}

    @property
    def source(self) -> Source:
        assert self.model is not None, "the image layer is not attached to a model"
        return self.model.source

    def clear_caches(self) -> None:
        """Drop decoded volumes and lookup tables (they are rebuilt on demand)."""
        self._volumes.clear()
        self._luts.clear()

    # -- data access -----------------------------------------------------------------
    def volume(self, time: int, *, stored: bool) -> np.ndarray:
        """Every slice of ``time`` (for reformats), decoded once per time point."""
        key = (time, stored)
        if key not in self._volumes:
            self._volumes.clear()
            model = self.model
            assert model is not None
            with model.busy(f"decoding {self.source.n_slices} slices for the {model.view} view…"):
                self._volumes[key] = self.source.volume(time, stored=stored)
        return self._volumes[key]

    def uses_stored(self, pane: PaneView) -> bool:
        """Whether the pane is drawn from stored integers through the composed table."""
        src = self.source
        if src.is_color or src.stored_dtype is None:
            return False
        if getattr(src, "has_modality_lut", lambda: False)():
            return False
        slab = self.model is not None and self.model.slab != "none"
        if (not pane.acquired or slab) and self.uniform_rescale(pane.time) is None:
            # Per-slice rescale (e.g. PET): reformats go through modality values instead.
            return False
        if slab and (self.model.slab == "mean" or self.uniform_rescale(pane.time)[0] < 0):
            # A mean is not a stored value; a negative slope swaps maximum and minimum.
            return False
        return True

    def uniform_rescale(self, time: int) -> tuple[float, float] | None:
        """The rescale shared by every slice of ``time``, or None."""
        key = ("rescale", time)
        if key not in self._luts:
            pairs = {self.source.rescale(k, time) for k in range(self.source.n_slices)}
            self._luts[key] = next(iter(pairs)) if len(pairs) == 1 else None
        return self._luts[key]  # type: ignore[return-value]

    def plane_data(self, pane: PaneView, *, stored: bool) -> np.ndarray:
        """The pane's plane (its slab projection when a slab is on), stored or modality values.

        Raises DecodeError.
        """
        model = self.model
        if model is not None and model.slab != "none":
            return model.slab_plane(pane, self.volume(pane.time, stored=stored))
        if pane.acquired:
            src = self.source
            data = (
                src.stored(pane.index, pane.time) if stored else src.values(pane.index, pane.time)
            )
            return np.asarray(data)
        return pane.cut(self.volume(pane.time, stored=stored))

    def values(self, pane: PaneView) -> np.ndarray:
        """Modality values (HU for CT) of the pane's plane; raises DecodeError."""
        return np.asarray(self.plane_data(pane, stored=False))

    def value_at(self, pane: PaneView, voxel: tuple[int, int, int]) -> tuple[object, int | None]:
        """(modality value, stored value or None) of a voxel of the pane's time point."""
        k, row, col = voxel
        src = self.source
        if not pane.acquired:
            # Reformats: read from the volume already in memory, not slice by slice.
            stored_path = self.uses_stored(pane)
            raw = self.volume(pane.time, stored=stored_path)[k, row, col]
            if stored_path:
                slope, intercept = self.uniform_rescale(pane.time) or (1.0, 0.0)
                return raw * slope + intercept, int(raw)
            return raw, None
        value = src.values(k, pane.time)[row, col]
        stored = None if np.ndim(value) else src.stored(k, pane.time)
        return value, None if stored is None else int(stored[row, col])

    # -- pixels ----------------------------------------------------------------------
    def _cmap_table(self, cmap: str) -> np.ndarray:
        key = ("cmap", cmap)
        table = self._luts.get(key)
        if table is None:
            table = colormap_table(cmap)
            self._luts[key] = table
        return table  # type: ignore[return-value]

    def _composed_lut(self, slope: float, intercept: float) -> np.ndarray:
        """Stored value bit pattern -> packed RGBA: the window table, then the colormap."""
        model = self.model
        assert model is not None
        src = self.source
        spec = model.window_spec()
        key = (
            "lut",
            src.stored_dtype.str,  # type: ignore[union-attr]
            slope,
            intercept,
            _spec_key(spec),
            model.invert,
            model.cmap,
            src.photometric,
        )
        table = self._luts.get(key)
        if table is None:
            lut = _display.make_lut(
                src.stored_dtype,  # type: ignore[arg-type]
                spec,
                slope=slope,
                intercept=intercept,
                photometric=src.photometric,
                invert=model.invert,
            )
            table = np.take(self._cmap_table(model.cmap), lut.table)
            if len(self._luts) > 32:
                self._luts.clear()
            self._luts[key] = table
        return table  # type: ignore[return-value]

    def draw(self, rgba: np.ndarray | None, pane: PaneView) -> np.ndarray:
        """The windowed plane as RGBA; raises DecodeError (the model shows a placeholder)."""
        model = self.model
        assert model is not None
        src = self.source
        if self.uses_stored(pane):
            stored = self.plane_data(pane, stored=True)
            if pane.acquired:
                slope, intercept = src.rescale(pane.index, pane.time)
            else:
                slope, intercept = self.uniform_rescale(pane.time) or (1.0, 0.0)
            table = self._composed_lut(slope, intercept)
            index = stored.view(np.uint8 if stored.dtype.itemsize == 1 else np.uint16)
            packed = np.take(table, index)
        else:
            values = model.projected_values(pane)
            if src.is_color or values.ndim == 3:
                rgb = _display.to_display(values, photometric=src.photometric)
                packed = np.empty(rgb.shape[:2], np.uint32)
                view = packed.view(np.uint8).reshape(*rgb.shape[:2], 4)
                view[..., :3] = rgb
                view[..., 3] = 255
            else:
                u8 = _display.to_display(
                    values, model.window_spec(), photometric=src.photometric, invert=model.invert
                )
                packed = np.take(self._cmap_table(model.cmap), u8)
        return packed.view(np.uint8).reshape(*packed.shape, 4)


def colormap_table(name: str) -> np.ndarray:
    """A matplotlib colormap as 256 packed RGBA ``uint32`` values (``gray`` is exact)."""
    from matplotlib import colormaps

    cmap = colormaps[name]
    if cmap.N != 256:
        cmap = cmap.resampled(256)
    # Integer input indexes the colormap's table; rounding (not bytes=True's truncation)
    # keeps "gray" an exact identity.
    rgba = np.rint(cmap(np.arange(256)) * 255).astype(np.uint8)
    rgba[:, 3] = 255
    return np.ascontiguousarray(rgba).view(np.uint32).reshape(256)


def _spec_key(spec: object) -> object:
    if isinstance(spec, _display.Window):
        return ("w", spec.center, spec.width, spec.function)
    return ("voi", id(spec))


def placeholder(shape: tuple[int, int]) -> np.ndarray:
    """The grey frame shown where a plane could not be decoded."""
    grey = np.full((max(shape[0], 1), max(shape[1], 1), 4), PLACEHOLDER_GREY, np.uint8)
    grey[..., 3] = 255
    return grey


# ---------------------------------------------------------------------- labels
def blend_labels(rgba: np.ndarray, labels: np.ndarray, table: np.ndarray, alpha: float) -> None:
    """Blend colours ``table[label]`` (0..255 float RGB) over ``rgba`` where labels > 0, in place.

    Examples
    --------
    >>> rgba = np.zeros((1, 2, 4), np.uint8)
    >>> table = np.array([[0, 0, 0], [255, 0, 0]], np.float32)
    >>> blend_labels(rgba, np.array([[0, 1]]), table, 0.5)
    >>> rgba[0, :, 0].tolist()
    [0, 128]
    """
    if labels.shape != rgba.shape[:2]:
        return
    hit = labels > 0
    base = rgba[hit][:, :3].astype(np.float32)
    colour = table[labels[hit]]
    rgba[..., :3][hit] = np.rint(base * (1 - alpha) + colour * alpha).astype(np.uint8)


def label_colors(present: Sequence[int], colors: object = None) -> dict[int, Color]:
    """One RGB colour (0..1) per label: defaults, one colour, a sequence or {label: colour}.

    Examples
    --------
    >>> label_colors([1, 2], "red")
    {1: (1.0, 0.0, 0.0), 2: (1.0, 0.0, 0.0)}
    >>> label_colors([2], {2: "blue"})
    {2: (0.0, 0.0, 1.0)}
    """
    from matplotlib.colors import to_rgba

    if colors is None:
        return {v: DEFAULT_LABEL_COLORS[(v - 1) % len(DEFAULT_LABEL_COLORS)] for v in present}
    if isinstance(colors, Mapping):
        out = {}
        for v in present:
            if v not in colors:
                raise ValueError(
                    f"colors has no entry for label {v} (labels present: {list(present)})"
                )
            out[v] = to_rgba(colors[v])[:3]
        return out
    if isinstance(colors, str) or (
        isinstance(colors, (tuple, list))
        and len(colors) in (3, 4)
        and all(isinstance(c, (int, float)) for c in colors)
    ):
        rgb = to_rgba(colors)[:3]  # type: ignore[arg-type]
        return dict.fromkeys(present, rgb)
    seq = list(colors)  # type: ignore[call-overload]
    if not seq:
        raise ValueError("colors must not be empty")
    return {v: to_rgba(seq[(v - 1) % len(seq)])[:3] for v in present}


@dataclass
class _LabelTable:
    top: int
    table: np.ndarray = field(repr=False)


class LabelLayer(Layer):
    """A label volume blended over the image (``SeriesViewer.add_overlay``).

    Parameters
    ----------
    name : str
    labels : numpy.ndarray
        Integer labels (0 = transparent) or booleans, shaped (slices, rows, cols),
        (times, slices, rows, cols) or (rows, cols) for a single image.
    opacity : float
        Opacity of labelled pixels, 0..1.
    colors : colour, sequence of colours or {label: colour}, optional
        Matplotlib colours; by default one tab10-like colour per label.
    names : {label: name}, optional
        Names shown in the legend (default "<layer name>: label N") and the readout.

    Examples
    --------
    >>> import numpy as np
    >>> from dicom_widgets.view import ViewModel
    >>> from dicom_widgets.view.layers import LabelLayer
    >>> model = ViewModel(np.zeros((2, 8, 8), np.int16), window=(0, 100))
    >>> mask = np.zeros((2, 8, 8), np.uint8); mask[:, 2:4, 2:4] = 1
    >>> layer = model.add_layer(LabelLayer("roi", mask, colors="red", opacity=1.0))
    >>> model.render()[3, 3, :3].tolist()
    [255, 0, 0]
    """

    def __init__(
        self,
        name: str,
        labels: np.ndarray,
        *,
        opacity: float = 0.4,
        colors: object = None,
        names: Mapping[int, str] | None = None,
        visible: bool = True,
    ) -> None:
        if not 0.0 <= float(opacity) <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {opacity!r}")
        super().__init__(name, visible=visible, opacity=opacity)
        self.labels = _as_labels(labels)
        present = [int(v) for v in np.unique(self.labels) if v != 0]
        self.colors = label_colors(present, colors)
        self.names = {int(k): str(v) for k, v in (names or {}).items()}

    def attach(self, model: ViewModel) -> None:
        src = model.source
        expected = (src.n_slices, src.rows, src.cols)
        arr = self.labels
        if arr.ndim == 2 and arr.shape == (src.rows, src.cols) and src.n_slices == 1:
            arr = arr[None, None]
        elif arr.shape == expected:
            arr = arr[None]
        elif arr.shape != (src.n_times, *expected):
            extra = (
                f" or (times, slices, rows, cols) = {(src.n_times, *expected)}"
                if src.n_times > 1
                else ""
            )
            raise ValueError(
                f"overlay shape {arr.shape} does not match the series: expected "
                f"(slices, rows, cols) = {expected}{extra}"
            )
        self.labels = arr
        super().attach(model)

    def _plane(self, pane: PaneView) -> np.ndarray:
        volume = self.labels[min(pane.time, self.labels.shape[0] - 1)]
        return pane.cut(volume)

    def draw(self, rgba: np.ndarray, pane: PaneView) -> np.ndarray:
        labels = self._plane(pane)
        if not labels.any():
            return rgba
        top = int(labels.max())
        table = np.zeros((top + 1, 3), np.float32)
        for value, color in self.colors.items():
            if 0 < value <= top:
                table[value] = np.asarray(color[:3], np.float32) * 255
        blend_labels(rgba, labels, table, self.opacity)
        return rgba

    def label_name(self, value: int) -> str:
        return self.names.get(value, f"{self.name}: label {value}")

    def readout(self, pane: PaneView, row: int, col: int) -> str | None:
        value = int(self._plane(pane)[row, col])
        return self.label_name(value) if value else None

    def legend(self) -> list[LegendEntry]:
        return [
            LegendEntry(self.label_name(v), c, max(self.opacity, 0.6), self.name, v)
            for v, c in sorted(self.colors.items())
        ]


def _as_labels(mask: np.ndarray) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise ValueError(
                "overlay values must be integer labels (0 = background) or booleans; "
                "threshold a probability map first, e.g. mask > 0.5"
            )
        return arr.astype(np.int32)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"overlay must hold integer labels or booleans, not {arr.dtype}")
    return arr


class DicomOverlayLayer(Layer):
    """The file's own overlay planes (60xx), in opaque yellow, on the acquired plane.

    Read with :func:`dicom_widgets.display.overlay_mask` per slice and time point, cached.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets.view import ViewModel
    >>> model = ViewModel(pydicom_file("overlay"))
    >>> layer = model.layers["DICOM overlays"]
    >>> int(layer.mask(0, 0).sum()) > 0
    True
    """

    def __init__(self, name: str = "DICOM overlays") -> None:
        super().__init__(name)
        self._cache: dict[tuple[int, int], np.ndarray | None] = {}

    def mask(self, index: int, time: int) -> np.ndarray | None:
        """Union of the overlay planes of slice ``index`` at ``time`` (cached), or None."""
        key = (index, time)
        if key not in self._cache:
            assert self.model is not None
            src = self.model.source
            ds = src.dataset(index, time)
            found = _display.overlay_mask(ds, index, (src.rows, src.cols))
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = found
        return self._cache[key]

    def draw(self, rgba: np.ndarray, pane: PaneView) -> np.ndarray:
        if not pane.acquired:
            return rgba
        planes = self.mask(pane.index, pane.time)
        if planes is not None and planes.any():
            table = np.array([[0, 0, 0], DICOM_OVERLAY_COLOR], np.float32)
            blend_labels(rgba, planes.astype(np.uint8), table, self.opacity)
        return rgba
