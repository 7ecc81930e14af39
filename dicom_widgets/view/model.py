"""ViewModel: the state of a slice viewer and the pictures it makes, without any GUI.

The model holds the cursor (slice index, time point, view and the crosshair voxel, also
as a point in patient millimetres), the window (centre, width, preset, invert, colormap)
and an ordered :class:`~dicom_widgets.view.layers.LayerList`. :meth:`ViewModel.render`
gives the RGBA picture of a pane exactly as the viewer shows it before its text
annotations, and :meth:`ViewModel.values` the numbers under it (modality units, HU for
CT). State lives in traitlets, so a front-end binds with ``observe``; in addition
:meth:`ViewModel.on_change` reports, once per user action, *which* state changed (a
slice step alone, or anything that changes every picture).

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.view import ViewModel
>>> volume = np.arange(4 * 8 * 8, dtype=np.int16).reshape(4, 8, 8)
>>> model = ViewModel(volume, spacing=(2.0, 1.0, 1.0), window=(128, 256))
>>> model.index = 3
>>> model.render().shape
(8, 8, 4)
>>> float(model.values()[0, 0])
192.0
>>> model.view = "coronal"
>>> model.render().shape  # rows are the 4 slices, superior first
(4, 8, 4)
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import traitlets

from .. import display as _display
from ..errors import DecodeError, GeometryError
from .layers import (
    DicomOverlayLayer,
    ImageLayer,
    Layer,
    LayerList,
    LegendEntry,
    PaneView,
    Polyline,
    TextItem,
    placeholder,
)
from .planes import Plane, plane_for
from .slab import SLAB_MODES, SlabCache, slab_label
from .source import SeriesSource, Source, as_source, require_uniform

__all__ = ["ViewModel", "Frame", "VIEWS", "ORTHO_PANES", "INDEX_ONLY", "MIRRORED_TRAITS"]

#: Views a model can show; reformats need equally spaced parallel slices.
VIEWS = ("acquired", "axial", "coronal", "sagittal", "ortho")
#: The planes of the three panes of the ortho view.
ORTHO_PANES = ("axial", "coronal", "sagittal")
#: Names :meth:`ViewModel.on_change` reports for a change of the slice index alone.
INDEX_ONLY = frozenset({"index"})
#: The state a front-end shows as traits of its own (:meth:`ViewModel.mirrored_traits`).
MIRRORED_TRAITS = (
    "index",
    "time",
    "view",
    "window_center",
    "window_width",
    "preset",
    "cmap",
    "invert",
    "show_overlays",
    "slab",
    "slab_thickness",
)


@dataclass(frozen=True)
class Frame:
    """A rendered pane: its RGBA pixels, its cut and why it is a placeholder (or None).

    Examples
    --------
    >>> frame = ViewModel(np.zeros((2, 8, 8), np.int16)).frame()
    >>> frame.rgba.shape, frame.pane.index, frame.problem
    ((8, 8, 4), 1, None)
    """

    rgba: np.ndarray
    pane: PaneView
    problem: str | None = None


class ViewModel(traitlets.HasTraits):
    """State and pictures of a slice viewer, GUI-free.

    Parameters
    ----------
    source : Series, path, folder, Dataset(s) or numpy.ndarray
        What :class:`~dicom_widgets.SeriesViewer` accepts.
    window : (center, width), str or None
        ``(center, width)`` in modality units, a preset name, ``"auto"``, or ``None`` /
        ``"file"`` for the file's own window (else a CT preset / the automatic window).
    cmap : str
        Matplotlib colormap for grey data.
    view : str
        One of :data:`VIEWS`.
    spacing, rgb
        For numpy volumes: (slice, row, col) mm, and whether the last axis is RGB.
    index, time : int, optional
        Initial slice (default: the middle one) and time point.

    Attributes
    ----------
    source : Source
        The pixels and geometry behind the model.
    layers : LayerList
        Bottom first: the :class:`~dicom_widgets.view.layers.ImageLayer`, then the
        file's overlay planes (DICOM sources), then what :meth:`add_layer` added.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> model = ViewModel(dw.load_series(ct_phantom(8, 32), progress=False), window="bone")
    >>> model.render().shape, model.window_center, model.window_width
    ((32, 32, 4), 400.0, 1800.0)
    """

    index = traitlets.Int(0, help="Slice index in the current view (the active pane in ortho).")
    time = traitlets.Int(0, help="Time point / stack index of 4-D data.")
    view = traitlets.Unicode("acquired", help="One of VIEWS.")
    active = traitlets.Int(0, help="The pane the index steps (0..2 in the ortho view).")
    window_center = traitlets.Float(0.0, help="Window centre in modality units.")
    window_width = traitlets.Float(1.0, help="Window width in modality units.")
    preset = traitlets.Unicode(
        "custom", help="'file', 'file:N', 'auto', a preset name or 'custom'."
    )
    cmap = traitlets.Unicode("gray", help="Matplotlib colormap for grey data.")
    invert = traitlets.Bool(False, help="Invert the grey scale.")
    show_overlays = traitlets.Bool(
        True, help="Draw the layers above the image (labels, DICOM overlay planes)."
    )
    slab = traitlets.Unicode("none", help="Thick slab: 'none', 'mip', 'minip' or 'mean'.")
    slab_thickness = traitlets.Float(10.0, help="Slab thickness in mm (see view.slab).")
    status = traitlets.Unicode("", help="What the model is busy with (decoding a volume).")

    @classmethod
    def mirrored_traits(
        cls, names: Sequence[str] = MIRRORED_TRAITS
    ) -> tuple[traitlets.TraitType, ...]:
        """Fresh copies of the traits ``names`` (type, default and help), in that order.

        A front-end that mirrors the model's state declares its traits with these, so the
        model's declaration is the only one (``SeriesViewer`` does).

        Examples
        --------
        >>> class Front(traitlets.HasTraits):
        ...     index, cmap = ViewModel.mirrored_traits(("index", "cmap"))
        >>> Front().cmap, Front.index.help == ViewModel.index.help
        ('gray', True)
        """
        copies = []
        for name in names:
            trait = copy.copy(cls.class_traits()[name])
            trait.metadata = dict(trait.metadata)  # the copy's help is its own
            copies.append(trait)
        return tuple(copies)

    def __init__(
        self,
        source: object,
        *,
        window: _display.WindowSpec = None,
        cmap: str = "gray",
        view: str = "acquired",
        spacing: Sequence[float] | None = None,
        rgb: bool | None = None,
        index: int | None = None,
        time: int = 0,
    ) -> None:
        super().__init__()
        self.source: Source = as_source(source, spacing, rgb)
        src = self.source
        self._cursor = [src.n_slices // 2, src.rows // 2, src.cols // 2]
        self._planes = [plane_for("acquired", src.affine)]
        self._listeners: list[Callable[[frozenset[str]], None]] = []
        self._batch = threading.local()  # depth and pending names of the current hold()
        self._voi_lut: _display.VOILUT | None = None
        self._window_quiet = False
        self.slabs = SlabCache()
        self.layers = LayerList()
        self.image = ImageLayer()
        self._attach(self.image, None)
        if isinstance(src, SeriesSource):
            self._attach(DicomOverlayLayer(), None)
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        with self.hold():
            self.cmap = cmap
            if view != "acquired":
                self.view = view
            self.time = time
            self.index = self.n_index() // 2 if index is None else index
            self._cursor[self.plane().normal_axis] = self.index
            if hasattr(src, "probe_index"):
                src.probe_index = int(self._cursor[0])  # decode the slice shown first
            self._init_window(window)
            self._batch.pending.clear()  # nobody listens yet

    # ------------------------------------------------------------------ events
    def on_change(self, callback: Callable[[frozenset[str]], None]) -> None:
        """Call ``callback(names)`` once per change of state, after all it implied.

        ``names`` are the traits and parts that changed (``"index"``, ``"window_center"``,
        ``"cursor"``, ``"layers"``...). A preset change that sets centre and width is one
        call; :data:`INDEX_ONLY` means only the slice moved, so every other picture stays
        valid (the viewer's frame cache keeps its frames).
        """
        self._listeners.append(callback)

    def remove_on_change(self, callback: Callable[[frozenset[str]], None]) -> None:
        """Stop calling ``callback``."""
        self._listeners = [c for c in self._listeners if c is not callback]

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Group changes: listeners hear of them once, when the outermost block ends.

        Batches are per thread: a change made on another thread meanwhile is its own.
        """
        batch = self._batch
        batch.depth = getattr(batch, "depth", 0) + 1
        if batch.depth == 1:
            batch.pending = set()
        try:
            yield
        finally:
            batch.depth -= 1
            if batch.depth == 0 and batch.pending:
                names = frozenset(batch.pending)
                batch.pending = set()
                for callback in list(self._listeners):
                    callback(names)

    def notify_change(self, change: traitlets.Bunch) -> None:  # type: ignore[override]
        # Observers run inside the hold, so what they change in turn is part of this change.
        with self.hold():
            if change["name"] != "status":
                self._batch.pending.add(change["name"])
            super().notify_change(change)

    def _changed(self, name: str) -> None:
        with self.hold():
            self._batch.pending.add(name)

    # ------------------------------------------------------------------ validation
    def validate(self, name: str, value: object) -> object:
        """Validate ``value`` for trait ``name`` as setting it would (raises the same errors)."""
        trait = getattr(type(self), name)  # the TraitType (traits() builds a dict per call)
        return trait._validate(self, value)

    @traitlets.validate("index")
    def _valid_index(self, proposal: Mapping[str, object]) -> int:
        value = int(proposal["value"])  # type: ignore[call-overload]
        n = self.n_index()
        if not 0 <= value < n:
            raise traitlets.TraitError(
                f"index {value} is out of range: the {self.view} view has {n} slice(s), "
                f"expected 0..{n - 1}"
            )
        return value

    @traitlets.validate("time")
    def _valid_time(self, proposal: Mapping[str, object]) -> int:
        value = int(proposal["value"])  # type: ignore[call-overload]
        n = self.source.n_times
        if not 0 <= value < n:
            raise traitlets.TraitError(
                f"time {value} is out of range: this series has {n} time point(s), "
                f"expected 0..{n - 1}"
            )
        return value

    @traitlets.validate("view")
    def _valid_view(self, proposal: Mapping[str, object]) -> str:
        value = str(proposal["value"])
        if value not in VIEWS:
            raise traitlets.TraitError(f"view must be one of {VIEWS}, got {value!r}")
        reason = self.view_unavailable(value)
        if reason:
            raise GeometryError(reason)
        return value

    @traitlets.validate("active")
    def _valid_active(self, proposal: Mapping[str, object]) -> int:
        value = int(proposal["value"])  # type: ignore[call-overload]
        if not 0 <= value < len(self._planes):
            raise traitlets.TraitError(
                f"active pane {value} is out of range: the {self.view} view has "
                f"{len(self._planes)} pane(s)"
            )
        return value

    @traitlets.validate("slab")
    def _valid_slab(self, proposal: Mapping[str, object]) -> str:
        value = str(proposal["value"]).lower()
        if value not in SLAB_MODES:
            raise traitlets.TraitError(f"slab must be one of {SLAB_MODES}, got {value!r}")
        if value != "none" and self.source.is_color:
            raise traitlets.TraitError("slabs need grey data; this series is colour")
        if value != "none" and self.source.n_slices > 1 and not self.source.uniform:
            # Slab planes are counted in slice steps: a gap would make the slab too thick.
            raise GeometryError(
                f"a slab needs equally spaced parallel slices: {self.source.uniform_reason}"
            )
        return value

    @traitlets.validate("slab_thickness")
    def _valid_slab_thickness(self, proposal: Mapping[str, object]) -> float:
        value = float(proposal["value"])  # type: ignore[arg-type]
        if not math.isfinite(value) or value < 0:
            raise traitlets.TraitError(f"slab thickness must be >= 0 mm, got {value!r}")
        return value

    @property
    def slab_label(self) -> str:
        """The slab as the corner text says it (``"MIP 10 mm"``), or ``""``."""
        return slab_label(self.slab, self.slab_thickness)

    def slab_plane(self, pane: PaneView, volume: np.ndarray) -> np.ndarray:
        """The slab projection of ``pane``'s plane of ``volume`` (its stored or modality values)."""
        affine = pane.affine if pane.affine is not None else np.eye(4)
        return self.slabs.project(
            volume, pane.plane, pane.index, self.slab_thickness, self.slab, affine
        )

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal: Mapping[str, object]) -> str:
        from matplotlib import colormaps

        value = str(proposal["value"])
        if value not in colormaps:
            raise traitlets.TraitError(f"unknown matplotlib colormap {value!r}")
        return value

    @traitlets.validate("window_width")
    def _valid_width(self, proposal: Mapping[str, object]) -> float:
        value = float(proposal["value"])  # type: ignore[arg-type]
        if not math.isfinite(value) or value <= 0:
            raise traitlets.TraitError(f"window width must be a positive number, got {value!r}")
        return value

    @traitlets.validate("preset")
    def _valid_preset(self, proposal: Mapping[str, object]) -> str:
        value = str(proposal["value"])
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        if key in ("custom", "auto", "file") or key in _display.PRESETS:
            return key
        if key.startswith("file:"):
            windows = self.source.file_windows()
            try:
                k = int(key[5:])
            except ValueError:
                k = -1
            if 0 <= k < len(windows):
                return key
            raise traitlets.TraitError(
                f"{value!r}: this series has {len(windows)} file window(s), "
                f"expected file:0..file:{len(windows) - 1}"
            )
        raise traitlets.TraitError(
            f"unknown preset {value!r}: use 'file', 'file:N', 'auto', 'custom' or one of "
            f"{sorted(_display.PRESETS)}"
        )

    # ------------------------------------------------------------------ cursor and planes
    @property
    def planes(self) -> list[Plane]:
        """The plane of every pane of the current view (three in the ortho view)."""
        return list(self._planes)

    def plane(self, pane: int | None = None) -> Plane:
        """The plane of ``pane`` (default: the active one)."""
        return self._planes[self.active if pane is None else pane]

    @property
    def volume_shape(self) -> tuple[int, int, int]:
        """(slices, rows, cols) of the source."""
        src = self.source
        return (src.n_slices, src.rows, src.cols)

    def n_index(self, pane: int | None = None) -> int:
        """How many planes ``pane`` (default: the active one) steps through."""
        return self.volume_shape[self.plane(pane).normal_axis]

    @property
    def cursor(self) -> tuple[int, int, int]:
        """The crosshair voxel (slice, row, col); the active pane's plane holds ``index``."""
        return (int(self._cursor[0]), int(self._cursor[1]), int(self._cursor[2]))

    def set_cursor(self, voxel: Sequence[int]) -> None:
        """Move the crosshair to a voxel (slice, row, col), clamped to the volume."""
        clamped = [int(np.clip(int(v), 0, n - 1)) for v, n in zip(voxel, self.volume_shape)]
        with self.hold():
            if clamped != self._cursor:
                moved_off_axis = any(
                    a != b
                    for axis, (a, b) in enumerate(zip(clamped, self._cursor))
                    if axis != self.plane().normal_axis
                )
                self._cursor = clamped
                if moved_off_axis:
                    self._changed("cursor")
            self.index = self._cursor[self.plane().normal_axis]

    @property
    def point(self) -> np.ndarray | None:
        """The crosshair in patient coordinates (mm, LPS), or None without geometry."""
        if self.source.affine is None:
            return None
        from .planes import voxels_to_patient

        return voxels_to_patient(np.array([self._cursor], float), self.source.affine)[0]

    def set_point(self, point: Sequence[float]) -> None:
        """Move the crosshair to the voxel nearest to a patient point (mm, LPS)."""
        if self.source.affine is None:
            raise GeometryError("this volume has no geometry: no patient coordinates")
        from .planes import patient_to_voxels

        voxel = patient_to_voxels(np.asarray(point, float), self.source.affine)[0]
        self.set_cursor([int(round(v)) for v in voxel])

    def pane(self, pane: int | None = None, *, index: int | None = None) -> PaneView:
        """What ``pane`` cuts now, or at plane ``index`` of the active pane's axis."""
        k = self.active if pane is None else pane
        plane = self._planes[k]
        cursor = list(self._cursor)
        if index is not None:
            cursor[self.plane().normal_axis] = int(index)
        return PaneView(
            plane,
            int(cursor[plane.normal_axis]),
            self.time,
            self.volume_shape,
            self.source.affine,
            (cursor[0], cursor[1], cursor[2]),
        )

    def step(self, n: int = 1) -> None:
        """Move ``n`` slices (negative: backwards), clamped to the series."""
        self.index = int(np.clip(self.index + n, 0, self.n_index() - 1))

    def view_unavailable(self, view: str) -> str | None:
        """None when ``view`` can be shown, else the reason it cannot."""
        try:
            require_uniform(self.source, view)
        except GeometryError as exc:
            return str(exc)
        return None

    @property
    def available_views(self) -> list[str]:
        """The views this source can show."""
        return [v for v in VIEWS if self.view_unavailable(v) is None]

    @traitlets.observe("view")
    def _on_view(self, change: Mapping[str, object]) -> None:
        names = ORTHO_PANES if change["new"] == "ortho" else (str(change["new"]),)
        self._planes = [plane_for(name, self.source.affine) for name in names]
        with self.hold():
            self.set_trait("active", 0)
            self._retarget()

    @traitlets.observe("active")
    def _on_active(self, change: Mapping[str, object]) -> None:
        self._retarget()

    def _retarget(self) -> None:
        axis = self.plane().normal_axis
        index = int(np.clip(self._cursor[axis], 0, self.n_index() - 1))
        self._cursor[axis] = index
        self.index = index

    @traitlets.observe("index")
    def _on_index(self, change: Mapping[str, object]) -> None:
        self._cursor[self.plane().normal_axis] = int(change["new"])  # type: ignore[call-overload]

    def aspect(self, pane: int | None = None) -> float:
        """Height / width of a pixel of ``pane`` on screen (from the spacing)."""
        spacing = self.source.spacing
        if spacing is None:
            return 1.0
        plane = self.plane(pane)
        per_axis = (spacing[2], spacing[0], spacing[1])  # slice, row, col
        return float(per_axis[plane.down_axis] / per_axis[plane.right_axis])

    def position_mm(self, index: int | None = None) -> float | None:
        """Position of the active pane's plane along its normal, in mm (None without geometry)."""
        src = self.source
        if hasattr(src, "has_spacing") and not src.has_spacing:
            return None
        plane = self.plane()
        voxel = np.array(self.pane(index=index).cursor, float)
        if plane.view == "acquired":
            # Per-slice positions work for non-uniform series too (no affine needed).
            pos, normal = src.position(int(voxel[0])), src.normal()
            if pos is not None and normal is not None:
                return float(pos @ normal)
        if src.affine is None:
            return None
        point = src.affine @ np.array([voxel[2], voxel[1], voxel[0], 1.0])
        direction = src.affine[:3, 2 - plane.normal_axis]
        direction = direction / (np.linalg.norm(direction) or 1.0)
        # The patient coordinate of the plane's nearest patient axis (e.g. z for axial).
        return float(point[int(np.argmax(np.abs(direction)))])

    @contextlib.contextmanager
    def busy(self, message: str) -> Iterator[None]:
        """Show ``message`` in :attr:`status` while a long step runs (long series only)."""
        previous = self.status
        if self.source.n_slices > 50:
            self.status = message
        try:
            yield
        finally:
            self.status = previous

    # ------------------------------------------------------------------ window
    @traitlets.observe("window_center", "window_width")
    def _on_window(self, change: Mapping[str, object]) -> None:
        if not self._window_quiet:
            self._voi_lut = None
            if self.preset != "custom":
                with self._quiet():
                    self.preset = "custom"

    @traitlets.observe("preset")
    def _on_preset(self, change: Mapping[str, object]) -> None:
        if not self._window_quiet and change["new"] != "custom":
            self.apply_preset(str(change["new"]))

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        previous = self._window_quiet
        self._window_quiet = True
        try:
            yield
        finally:
            self._window_quiet = previous

    def set_window(self, center: float, width: float, preset: str = "custom") -> None:
        """Set centre, width and the preset name they came from, as one change."""
        if width <= 0 or not math.isfinite(width) or not math.isfinite(center):
            raise ValueError(
                f"window width must be a positive finite number, got ({center}, {width})"
            )
        with self.hold(), self._quiet():
            self.window_center = float(center)
            self.window_width = float(width)
            self.preset = preset
            if preset != "file":
                self._voi_lut = None

    def window_spec(self) -> _display.Window | _display.VOILUT:
        """What windows the image now: the file's VOI LUT (preset "file") or the window."""
        if self._voi_lut is not None and self.preset == "file":
            return self._voi_lut
        return _display.Window(self.window_center, self.window_width)

    @property
    def uses_voi_lut(self) -> bool:
        """Whether the file's VOI LUT Sequence (not a window) maps the values."""
        return self._voi_lut is not None and self.preset == "file"

    def apply_preset(self, value: str) -> None:
        """Window by a preset: a name of :data:`~dicom_widgets.display.PRESETS`, 'auto',
        'file' (the VOI LUT, else the first file window) or 'file:N'."""
        src = self.source
        if value == "auto":
            self.auto_window()
            return
        if value == "file":
            lut = _display.voi_lut_from_dataset(src.dataset(0))
            if lut is not None:
                with self.hold(), self._quiet():
                    self._voi_lut = lut
                    self.window_center = float(lut.first_mapped + lut.data.size / 2)
                    self.window_width = float(max(lut.data.size, 1))
                    self.preset = "file"
                self._changed("window")  # the LUT itself is part of the look
                return
            if not src.file_windows():
                self.auto_window()
                return
            value = "file:0"
        if value.startswith("file:"):
            w = src.file_windows()[int(value[5:])]
            self.set_window(w.center, w.width, value)
            return
        center, width = _display.PRESETS[value]
        self.set_window(center, width, value)

    def auto_window(self) -> tuple[float, float]:
        """Window from the 0.5/99.5 percentiles of the active pane's plane; (center, width)."""
        try:
            values = self.values()
        except DecodeError:
            return (self.window_center, self.window_width)
        w = _display.auto_window(values)
        self.set_window(w.center, w.width, "auto")
        return (w.center, w.width)

    def preset_options(self) -> list[tuple[str, str]]:
        """(label, preset) pairs a front-end offers: file windows, auto, CT presets, custom."""
        src = self.source
        options: list[tuple[str, str]] = []
        if src.is_color:
            return [("colour", "custom")]
        for k, w in enumerate(src.file_windows()):
            label = f"file: {w.center:g}/{w.width:g}" + (
                f" {w.explanation}" if w.explanation else ""
            )
            options.append((label, f"file:{k}"))
        ds = src.dataset(0)
        if ds is not None and ds.get("VOILUTSequence"):
            options.insert(0, ("file VOI LUT", "file"))
        options.append(("auto", "auto"))
        if src.modality.upper() in ("CT", "") or not options:
            options += [(name, name) for name in _display.PRESETS if name != "soft_tissue"]
        options.append(("custom", "custom"))
        return options

    def _init_window(self, window: _display.WindowSpec) -> None:
        src = self.source
        if src.is_color:
            return
        if window is None or (isinstance(window, str) and window.lower() == "file"):
            self._init_file_window()
        elif isinstance(window, str):
            self.preset = window
        elif isinstance(window, _display.Window):
            self.set_window(window.center, window.width)
        else:
            self.set_window(*_display._center_width(window))

    def _init_file_window(self) -> None:
        src = self.source
        ds = src.dataset(0)
        if ds is not None and ds.get("VOILUTSequence"):
            self.preset = "file"
        elif src.file_windows():
            self.preset = "file:0"
        elif isinstance(default := src.default_window(), _display.Window):
            # Keep the name when the series chose a preset or the automatic window.
            name = (default.explanation or "").strip().lower()
            known = name in _display.PRESETS or name == "auto"
            self.set_window(default.center, default.width, name if known else "custom")
        elif src.modality.upper() == "CT":
            self.preset = "abdomen"
        else:
            self.preset = "auto"

    # ------------------------------------------------------------------ layers
    def add_layer(self, layer: Layer, *, position: int | None = None) -> Layer:
        """Add ``layer`` on top (or at ``position``) and redraw; returns it.

        Raises
        ------
        ValueError
            A layer of that name exists, or the layer does not fit the source.
        """
        if position is not None and position < 1:
            raise ValueError("position 0 is the image layer's; layers go above it")
        self._attach(layer, position)
        self._changed("layers")
        return layer

    def remove_layer(self, layer: Layer | str) -> None:
        """Remove a layer (or the layer of that name) and redraw."""
        found = self.layers[layer] if isinstance(layer, str) else layer
        if found is self.image:
            raise ValueError("the image layer cannot be removed")
        if found not in self.layers:
            raise KeyError(f"{found!r} is not a layer of this model")
        found.unobserve(self._on_layer_change)
        self.layers._remove(found)
        self._changed("layers")

    def _attach(self, layer: Layer, position: int | None) -> None:
        if layer.name in self.layers:
            raise ValueError(f"a layer named {layer.name!r} exists already; remove it first")
        layer.attach(self)
        self.layers._insert(layer, position)
        layer.observe(self._on_layer_change)

    def _on_layer_change(self, change: Mapping[str, object]) -> None:
        self._changed("layers")

    def _drawn_layers(self) -> list[Layer]:
        return [
            layer
            for layer in self.layers
            if layer is not self.image and layer.visible and self.show_overlays
        ]

    def legend(self) -> list[LegendEntry]:
        """The legend entries of the visible layers, bottom layer first."""
        return [entry for layer in self._drawn_layers() for entry in layer.legend()]

    def items(
        self, pane: int | None = None, *, index: int | None = None
    ) -> list[Polyline | TextItem]:
        """The vector items of the visible layers for ``pane``, bottom layer first."""
        view = self.pane(pane, index=index)
        return [item for layer in self._drawn_layers() for item in layer.items(view)]

    # ------------------------------------------------------------------ pictures and values
    def frame(self, pane: int | None = None, *, index: int | None = None) -> Frame:
        """:meth:`render` with its cut and, for an undecodable plane, the reason."""
        view = self.pane(pane, index=index)
        if hasattr(self.source, "probe_index"):
            self.source.probe_index = view.cursor[0]  # learn the stored dtype from this slice
        try:
            rgba = self.image.draw(None, view)
        except DecodeError as exc:
            return Frame(
                placeholder(view.screen_shape),
                view,
                f"frame {view.index} could not be decoded: {exc}",
            )
        for layer in self._drawn_layers():
            rgba = layer.draw(rgba, view)
        return Frame(rgba, view)

    def render(self, pane: int | None = None, *, index: int | None = None) -> np.ndarray:
        """The picture of ``pane`` (default: the active one): (rows, cols, 4) ``uint8`` RGBA.

        Exactly what the viewer shows before its text annotations. ``index`` renders
        another plane of the active pane's axis without moving the cursor.
        """
        return self.frame(pane, index=index).rgba

    def values(self, pane: int | None = None, *, index: int | None = None) -> np.ndarray:
        """Modality values (HU for CT) of the displayed plane of ``pane``; raises DecodeError."""
        return self.projected_values(self.pane(pane, index=index))

    def projected_values(self, pane: PaneView) -> np.ndarray:
        """The values the image layer shows for a cut (the hook for slab projections)."""
        return self.image.values(pane)

    def readout(self, pane: int | None, row: float, col: float) -> str:
        """Text for screen position (row, col) of ``pane``: voxel, mm, value, stored, layers."""
        view = self.pane(pane)
        rows, cols = view.screen_shape
        r, c = int(round(row)), int(round(col))
        if not (0 <= r < rows and 0 <= c < cols):
            return ""
        k, vr, vc = view.plane.voxel(view.index, r, c, self.volume_shape)
        parts = [f"slice {k}  row {vr}  col {vc}"]
        if self.slab != "none":
            try:
                projected = float(self.values(pane)[r, c])
                unit = " HU" if self.source.modality.upper() == "CT" else ""
                parts.append(f"{self.slab_label}: {projected:g}{unit}")
            except DecodeError as exc:
                parts.append(f"{self.slab_label}: not decodable: {exc}")
        src = self.source
        if src.affine is not None and not (hasattr(src, "has_spacing") and not src.has_spacing):
            x, y, z = (src.affine @ np.array([vc, vr, k, 1.0]))[:3]
            parts.append(f"({x:.1f}, {y:.1f}, {z:.1f}) mm")
        try:
            value, stored = self.image.value_at(view, (k, vr, vc))
            parts.append(self._format_value(value, stored))
        except DecodeError as exc:
            parts.append(f"not decodable: {exc}")
            return "  |  ".join(parts)
        for layer in self._drawn_layers():
            text = layer.readout(view, r, c)
            if text:
                parts.append(text)
        return "  |  ".join(parts)

    def _format_value(self, value: object, stored: int | None) -> str:
        if np.ndim(value):
            return "RGB " + ", ".join(str(int(v)) for v in value)  # type: ignore[union-attr]
        unit = " HU" if self.source.modality.upper() == "CT" else ""
        text = f"value {float(value):g}{unit}"  # type: ignore[arg-type]
        return text if stored is None else f"{text}  |  stored {stored}"

    def __repr__(self) -> str:
        src = self.source
        return (
            f"<ViewModel {src.modality or 'volume'} {src.n_slices}x{src.rows}x{src.cols}"
            f"{f' x{src.n_times} times' if src.n_times > 1 else ''} view={self.view} "
            f"index={self.index} layers={self.layers.names}>"
        )
