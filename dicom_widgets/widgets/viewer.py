"""SeriesViewer: a slice viewer widget for DICOM series and numpy volumes.

The viewer binds ipywidgets controls and an ipympl canvas to a GUI-free
:class:`~dicom_widgets.view.ViewModel` (``viewer.model``): the model holds the cursor, the
window and the layers and renders every pane's picture; the viewer mirrors the model's
state in its own traits (``index``, ``time``, ``window_center``, ``window_width``,
``preset``, ``cmap``, ``invert``, ``view``, ``show_overlays``), adds what only a widget
has (``playing``, ``fps``, ``loop``, ``show_annotations``, ``hide_identifiers``,
``crosshair``, ``readout``, ``status``), turns mouse and keys into model changes, and
draws the model's pictures with text annotations on the canvas.

Speed: each slice change costs a few milliseconds of kernel time (see
:mod:`dicom_widgets.widgets._viewer_render` and ``benchmarks/bench_viewer.py``): the
series' integer lookup table and the colormap are composed into one table, the image
is blitted over a cached background, and the frame is sent as a fast lossless PNG. The
browser keeps the frames of the neighbouring slices (:mod:`._viewer_frames`).

Fallback: where ipympl is not installed, or with ``canvas="image"`` (for front-ends
without the ipympl extension, e.g. some hosted notebooks), the same figure is rendered
to a core ``ipywidgets.Image``: sliders, presets, play and views work; mouse wheel,
hover readout and drag-to-window need the ipympl canvas. Without any widget manager
(nbconvert, GitHub, nbviewer) the display bundle's PNG of the current view is shown.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets import SeriesViewer
>>> viewer = SeriesViewer(np.random.rand(10, 64, 64), spacing=(2.0, 1.0, 1.0))  # doctest: +SKIP
>>> viewer.index = 5  # doctest: +SKIP
>>> viewer.model.render().shape  # doctest: +SKIP
(64, 64, 4)
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import traitlets
from matplotlib.figure import Figure

from ..measurements import Measurement
from ..view import INDEX_ONLY, MIRRORED_TRAITS, VIEWS, Frame, LabelLayer, ViewModel
from ..view.measurement_layer import measurement_layer_of
from ..view.source import Source
from ._measure_tools import (
    TOOLS,
    MeasurementsTable,
    MeasureTools,
    viewer_add,
    viewer_dataframe,
    viewer_go_to,
    viewer_measure,
    viewer_save,
)
from ._viewer_artists import PaneArtists, ViewerFigure
from ._viewer_cine import Cine
from ._viewer_controls import ViewerControls
from ._viewer_export import check_animation_path, write_animation
from ._viewer_link import ViewerLink, link
from ._viewer_mouse import CanvasEvents
from ._viewer_render import choose_canvas, frame_to_png, make_canvas
from ._viewer_segmentation import SegmentationLayer, add_segmentation_layer

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import DrawEvent
    from matplotlib.image import AxesImage

    from ..display import WindowSpec

try:  # the browser-side frame cache needs anywidget (a dependency; optional in practice)
    from ._viewer_frames import PREFETCH_AHEAD, PREFETCH_BEHIND, FrameCacheBinding
except ImportError:  # pragma: no cover - exercised without anywidget
    FrameCacheBinding = None  # type: ignore[assignment, misc]
    PREFETCH_AHEAD, PREFETCH_BEHIND = 10, 4

__all__ = ["SeriesViewer", "link", "ViewerLink", "VIEWS", "PREFETCH_AHEAD", "PREFETCH_BEHIND"]

#: Traits the viewer shares with its model (set either; the other follows).
MODEL_TRAITS = MIRRORED_TRAITS


class SeriesViewer(widgets.VBox):
    """Scroll, window and inspect a DICOM series or a numpy volume.

    Parameters
    ----------
    source : Series, path, folder, Dataset(s) or numpy.ndarray
        A :class:`~dicom_widgets.series.Series`, anything
        :func:`~dicom_widgets.series.load_series` accepts, or an array of shape (rows, cols),
        (slices, rows, cols), (times, slices, rows, cols), each optionally with a last RGB axis.
    window : (center, width), str or None
        Initial window: ``(center, width)`` in modality units, a preset name from
        :data:`dicom_widgets.display.PRESETS`, ``"auto"``, or ``None``/``"file"`` for the
        file's own window (else a CT preset / automatic window).
    cmap : str
        Matplotlib colormap for grey data.
    view : {"acquired", "axial", "coronal", "sagittal", "ortho"}
        Initial view. Reformats need a geometrically uniform series (otherwise the buttons are
        absent and the reason is shown); they cut the voxel grid along the axis nearest to the
        requested plane without resampling, with the aspect ratio from the spacing, and say
        "nearest plane" when the acquisition is oblique. ``ortho`` shows axial, coronal and
        sagittal panes with a crosshair that follows left clicks.
    spacing : (slice, row, col) mm, optional
        Voxel spacing of a numpy volume (ignored for DICOM sources, which carry geometry).
    rgb : bool, optional
        Whether the last axis of a numpy array holds RGB(A) channels; guessed from a last
        axis of length 3 or 4 by default.
    index, time : int, optional
        Initial slice (default: the middle one) and time point.
    size : int
        Size of the image area in screen pixels (the longer side).
    canvas : {"auto", "ipympl", "image"}
        ``"ipympl"``: interactive matplotlib canvas (wheel, hover, drag). ``"image"``: a plain
        ``ipywidgets.Image`` fallback for front-ends without ipympl. ``"auto"`` (default):
        ipympl when importable, overridable with the environment variable
        ``DICOM_WIDGETS_VIEWER_CANVAS``.
    frame_cache : bool
        With the ipympl canvas: keep the rendered frames of the slices around the current
        one in the browser, so that a slider step repaints at once, without waiting for
        the kernel (see :mod:`dicom_widgets.widgets._frame_cache`). Needs ``anywidget``.
        Turn it off to save bandwidth to a remote kernel.

    Attributes
    ----------
    model : dicom_widgets.view.ViewModel
        The state and pictures behind the widget: ``viewer.displayed`` is
        ``viewer.model.render()`` (before the text annotations); add layers with
        ``viewer.model.add_layer(...)``.
    controls : ViewerControls
        The ipywidgets (sliders, boxes, buttons), each linked to a trait.
    figure : matplotlib.figure.Figure
        The figure; draw on it with matplotlib (``viewer.ax.plot(...)``) then call
        ``viewer.refresh()``.
    ax : matplotlib.axes.Axes
        The main pane's axes.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> viewer = dw.SeriesViewer(dw.load_series(ct_phantom(20, 64)), window="brain")  # doctest: +SKIP
    >>> viewer.index = 10; viewer.preset = "bone"  # doctest: +SKIP
    >>> viewer  # doctest: +SKIP
    """

    # The model's state, declared once, there (type, default, help): set either, the other
    # follows (_mirror_model). In the order of MODEL_TRAITS.
    (
        index,
        time,
        view,
        window_center,
        window_width,
        preset,
        cmap,
        invert,
        show_overlays,
        slab,
        slab_thickness,
    ) = ViewModel.mirrored_traits(MODEL_TRAITS)
    playing = traitlets.Bool(False, help="Cine playback running.")
    fps = traitlets.Float(10.0, help="Cine frames per second.")
    loop = traitlets.Bool(True, help="Restart at the first frame when cine reaches the end.")
    show_annotations = traitlets.Bool(True, help="Corner annotations on the image.")
    hide_identifiers = traitlets.Bool(False, help="Remove patient name/ID/dates from the display.")
    crosshair = traitlets.Bool(True, help="Crosshair in the ortho view.")
    readout = traitlets.Unicode("", help="Value under the mouse (text).")
    status = traitlets.Unicode("", help="Messages: why a view is unavailable, decode errors...")
    tool = traitlets.Unicode("navigate", help="Mouse tool: one of _measure_tools.TOOLS.")

    def __init__(
        self,
        source: object,
        *,
        window: WindowSpec = None,
        cmap: str = "gray",
        view: str = "acquired",
        spacing: Sequence[float] | None = None,
        rgb: bool | None = None,
        index: int | None = None,
        time: int = 0,
        size: int = 512,
        canvas: str = "auto",
        frame_cache: bool = True,
        **kwargs: Any,
    ) -> None:
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        self.canvas_mode = _canvas_mode(canvas)
        self.model = ViewModel(
            source,
            window=window,
            cmap=cmap,
            view=view,
            spacing=spacing,
            rgb=rgb,
            index=index,
            time=time,
        )
        self.source: Source = self.model.source
        self._hold = True  # no rendering until construction is finished
        self._mirroring = 0
        self._index_only = False
        self._in_render = False
        self._bg: Any = None
        self._bg_key: Any = None
        self._last_frames: list[Frame] = []
        self._draw_lock: Any = threading.RLock()
        self.links: list[ViewerLink] = []
        self.frame_cache: FrameCacheBinding | None = None
        self.image_widget: widgets.Image | None = None
        super().__init__(**kwargs)
        self.add_class("dw-series-viewer")
        self.cine = Cine(self)
        self.figure = Figure(figsize=(size / 100, size / 100), dpi=100, facecolor="black")
        display_widget = self._make_canvas(frame_cache)
        self._artists = ViewerFigure(self.figure, self.model, int(size))
        self.controls = ViewerControls(self)
        self.tools = MeasureTools(self)
        self.measurements_table = MeasurementsTable(self)
        self.controls.bind(self)  # the links copy the controls' defaults into the traits...
        self._mirror_model()  # ...which then take the model's state
        self.children = [
            self.controls.nav_row,
            self.controls.time_row,
            self.controls.window_row,
            self.controls.view_row,
            display_widget,
            *([self.frame_cache.widget] if self.frame_cache is not None else []),
            self.controls.readout_label,
            self.controls.status_label,
            self.measurements_table.widget,
        ]
        widgets.link((self.measurements_table.tool, "value"), (self, "tool"))
        widgets.link((self.measurements_table.slab, "value"), (self, "slab"))
        widgets.link((self.measurements_table.thickness, "value"), (self, "slab_thickness"))
        self._artists.setup()
        fps = self.source.cine_fps()
        if fps is not None:
            self.fps = round(fps, 2)  # the acquisition's own frame rate (ultrasound cine)
        self._hold = False
        if self.frame_cache is not None:
            self.frame_cache.start(self.controls.slider)
        self._update_counter()
        self.refresh()

    def _make_canvas(self, frame_cache: bool) -> widgets.Widget:
        """The ipympl canvas (or the Agg canvas behind an ``Image``) and its event hooks."""
        if self.canvas_mode == "ipympl":
            self.canvas = make_canvas(self.figure)
            self.canvas.capture_scroll = True
            self.canvas.toolbar_visible = "fade-in-fade-out"
            # Right side: the top-left corner carries the (longer) patient/series annotation.
            self.canvas.toolbar_position = "right"
            self._draw_lock = self.canvas.draw_lock
            display_widget: widgets.Widget = self.canvas
            if frame_cache and FrameCacheBinding is not None:
                self.frame_cache = FrameCacheBinding(self)
                self.canvas.frame_listener = self.frame_cache.on_frame
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self.canvas = FigureCanvasAgg(self.figure)
            self.image_widget = display_widget = widgets.Image(format="png")
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.events = CanvasEvents(self)
        return display_widget

    # ------------------------------------------------------------------ model binding
    def _mirror_model(self) -> None:
        """Copy the model's state into the traits, then keep both in step."""
        for name in MODEL_TRAITS:
            self._from_model({"name": name})
        self.observe(self._to_model, MODEL_TRAITS)
        self.model.observe(self._from_model, MODEL_TRAITS)
        self.model.observe(lambda change: self.set_trait("status", change["new"]), "status")
        self.model.on_change(self._on_model_change)

    @traitlets.validate(*(n for n in MODEL_TRAITS if n not in ("invert", "show_overlays")))
    def _valid_by_model(self, proposal: Mapping[str, Any]) -> Any:
        return self.model.validate(proposal["trait"].name, proposal["value"])

    def _to_model(self, change: Mapping[str, Any]) -> None:
        if self._mirroring:
            return
        # Under the canvas lock: a prefetch on another thread renders from this state.
        with self._draw_lock:
            setattr(self.model, change["name"], getattr(self, change["name"]))

    def _from_model(self, change: Mapping[str, Any]) -> None:
        name = change["name"]
        value = getattr(self.model, name)  # the latest value, not the change's (nested changes)
        if name == "index" and value > self.controls.slider.max:
            self.controls.slider.max = value  # a new view: widen before the slider clamps
        if getattr(self, name) != value:  # e.g. the viewer's own change coming back
            self._mirroring += 1
            try:
                setattr(self, name, value)
            finally:
                self._mirroring -= 1
        if name == "preset":
            self.controls.show_preset(value)
        elif name == "cmap":
            self.controls.show_cmap(value)

    def _on_model_change(self, names: frozenset[str]) -> None:
        """One model change (a user action): update the panes and controls, draw one frame."""
        if "view" in names:
            self._artists.setup()
            self._bg = None
        if names & {"view", "active"}:
            self.controls.slider.max = self.model.n_index() - 1
        if names & {"layers", "show_overlays", "view"}:
            self._artists.update_legend()
            self._bg = None
        self._update_counter()
        # Under the lock, the flag belongs to this render: a look change rendering on another
        # thread meanwhile must not see it (its frames would keep the old generation).
        with self._draw_lock:
            self._index_only = names <= INDEX_ONLY
            try:
                self._render()
            finally:
                self._index_only = False

    @traitlets.validate("tool")
    def _valid_tool(self, proposal: Mapping[str, Any]) -> str:
        if proposal["value"] not in TOOLS:
            raise traitlets.TraitError(f"tool must be one of {TOOLS}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.observe("tool")
    def _on_tool(self, change: Mapping[str, Any]) -> None:
        self.tools.reset()

    @traitlets.observe("show_annotations", "hide_identifiers", "crosshair")
    def _on_look(self, change: Mapping[str, Any]) -> None:
        self._render()

    @traitlets.observe("playing")
    def _on_playing(self, change: Mapping[str, Any]) -> None:
        self.controls.play_button.icon = "pause" if change["new"] else "play"
        self.cine.play(bool(change["new"]))

    @traitlets.observe("fps")
    def _on_fps(self, change: Mapping[str, Any]) -> None:
        self.cine.set_fps(float(change["new"]))

    @traitlets.validate("fps")
    def _valid_fps(self, proposal: Mapping[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0 < value <= 120:
            raise traitlets.TraitError(f"fps must be in (0, 120], got {value!r}")
        return value

    @contextlib.contextmanager
    def _no_render(self) -> Iterator[None]:
        previous = self._hold
        self._hold = True
        try:
            yield
        finally:
            self._hold = previous

    # ------------------------------------------------------------------ public API
    @property
    def panes(self) -> list[PaneArtists]:
        """The axes and artists of every pane (three in the ortho view)."""
        return list(self._artists.panes)

    @property
    def ax(self) -> Axes:
        """The active pane's axes (the only one outside the ortho view)."""
        return self._artists.panes[self.model.active].ax

    @property
    def axes(self) -> list[Axes]:
        """The axes of every pane (three in the ortho view)."""
        return [p.ax for p in self._artists.panes]

    @property
    def image(self) -> AxesImage:
        """The active pane's image artist (``get_array()`` is the RGBA frame on screen)."""
        return self._artists.panes[self.model.active].image

    @property
    def n_slices(self) -> int:
        """Number of slices along the current view's normal (slider length)."""
        return self.model.n_index()

    @property
    def displayed(self) -> np.ndarray:
        """The displayed frame of the active pane: (rows, cols) uint8 grey or (rows, cols, 3) RGB.

        ``viewer.model.render()`` on screen, before the annotations are drawn; grey when
        all three channels are equal.
        """
        with self._draw_lock:  # not a prefetched slice's frame
            rgba = self._last_frames[self.model.active].rgba
        if np.array_equal(rgba[..., 0], rgba[..., 1]) and np.array_equal(
            rgba[..., 1], rgba[..., 2]
        ):
            return rgba[..., 0]
        return rgba[..., :3]

    @property
    def annotations(self) -> dict[str, str]:
        """The corner annotation texts: ``{"top_left": ..., ...}`` ('' when hidden)."""
        with self._draw_lock:  # a prefetch points the texts at other slices meanwhile
            return {
                name: (text.get_text() if text.get_visible() else "")
                for name, text in self._artists.corner_texts.items()
            }

    @property
    def legend_labels(self) -> list[str]:
        """Texts of the overlay legend (empty without overlays)."""
        legend = self._artists.legend
        return [] if legend is None else [t.get_text() for t in legend.get_texts()]

    def refresh(self) -> None:
        """Redraw the figure (call after drawing your own artists on :attr:`ax`).

        Examples
        --------
        >>> viewer.ax.plot([10, 100], [50, 50], color="red")  # doctest: +SKIP
        >>> viewer.refresh()  # doctest: +SKIP
        """
        self._bg = None
        self._render()

    def close(self) -> None:
        """Stop the cine timer, drop links and caches, and close the widgets and canvas."""
        if "controls" not in self.__dict__:
            # Construction failed part-way (ipywidgets calls close() from __del__).
            if "_model_id" in self.__dict__ or getattr(self, "comm", None) is not None:
                super().close()
            return
        self.playing = False
        for handle in list(self.links):
            handle.unlink()
        self.model.image.clear_caches()
        self.controls.close()
        if self.frame_cache is not None:
            self.frame_cache.close()
            self.canvas.frame_listener = None
            self.frame_cache = None
        if self.canvas_mode == "ipympl":
            toolbar = getattr(self.canvas, "toolbar", None)
            if toolbar is not None:
                toolbar.close()
            self.canvas.close()
        elif self.image_widget is not None:
            self.image_widget.close()
        super().close()

    def step(self, n: int = 1) -> None:
        """Move ``n`` slices (negative: backwards), clamped to the series.

        Examples
        --------
        >>> viewer.step(5); viewer.step(-1)  # doctest: +SKIP
        """
        self.index = int(np.clip(self.index + n, 0, self.model.n_index() - 1))

    def auto_window(self) -> tuple[float, float]:
        """Set the window from the 0.5/99.5 percentiles of the active pane's current plane.

        Returns
        -------
        (float, float)
            The new (center, width).

        Examples
        --------
        >>> viewer.auto_window()  # doctest: +SKIP
        (412.5, 815.0)
        """
        with self._draw_lock:
            return self.model.auto_window()

    def drag_window(self, center: float, width: float) -> None:
        """Set centre and width at once (one redraw), as right-button dragging does."""
        with self._draw_lock:
            self.model.set_window(center, width)

    def add_overlay(
        self,
        mask: np.ndarray,
        *,
        alpha: float = 0.4,
        colors: Any = None,
        labels: Mapping[int, str] | None = None,
        name: str | None = None,
    ) -> str:
        """Blend a label/mask volume over the image (segmentations, ROIs).

        A :class:`~dicom_widgets.view.LabelLayer` added to :attr:`model`.

        Parameters
        ----------
        mask : numpy.ndarray
            Integer labels (0 = transparent) or booleans, shaped like the series:
            (slices, rows, cols), (times, slices, rows, cols) or (rows, cols) for a single image.
        alpha : float
            Opacity of labelled pixels, 0..1.
        colors : colour, sequence of colours or {label: colour}, optional
            Matplotlib colours; by default one tab10-like colour per label.
        labels : {label: name}, optional
            Names shown in the legend (default "label N").
        name : str, optional
            Overlay name (for :meth:`remove_overlay`); default "overlay N".

        Returns
        -------
        str
            The overlay's name.

        Raises
        ------
        ValueError
            If the shape does not match the series, or the labels are not integers.

        Examples
        --------
        >>> viewer.add_overlay(volume > 100, alpha=0.5, colors="red", labels={1: "bone"})  # doctest: +SKIP
        """
        name = name or f"overlay {len(self.overlays) + 1}"
        if name in self.model.layers:
            raise ValueError(f"an overlay named {name!r} exists already; remove it first")
        layer = LabelLayer(name, mask, opacity=alpha, colors=colors, names=labels)
        with self._draw_lock:
            self.model.add_layer(layer)
        return name

    def add_segmentation(
        self,
        seg_or_path: Any,
        *,
        alpha: float = 0.4,
        outline: bool = True,
        segments: Sequence[int | str] | None = None,
        name: str | None = None,
    ) -> SegmentationLayer:
        """Show a SEG, RTSTRUCT, NIfTI or numpy segmentation, placed on this series by geometry.

        A :class:`~dicom_widgets.view.segmentation_layer.SegmentationLayer` and a legend
        of checkboxes (one per segment) below the canvas; RT contours are lines on the
        acquired plane, filled on reformats; the readout names the segments under the
        mouse.

        Parameters
        ----------
        seg_or_path : Segmentation, path or numpy.ndarray
            What :func:`dicom_widgets.load_segmentation` reads (placed on this series).
        alpha : float
            Opacity of the filled segments.
        outline : bool
            Outline each segment.
        segments : sequence of int or str, optional
            The segments shown at first (all by default).
        name : str, optional
            Layer name; default the segmentation's kind and a number.

        Returns
        -------
        SegmentationLayer

        Examples
        --------
        >>> layer = viewer.add_segmentation("seg.dcm", alpha=0.5)  # doctest: +SKIP
        >>> layer.set_segment_visible("Liver", False)  # doctest: +SKIP
        """
        return add_segmentation_layer(
            self, seg_or_path, alpha=alpha, outline=outline, segments=segments, name=name
        )

    def remove_overlay(self, name: str | None = None) -> None:
        """Remove the overlay called ``name`` (all overlays when None)."""
        names = self.overlays
        if name is not None and name not in names:
            known = ", ".join(names) or "none"
            raise KeyError(f"no overlay named {name!r} (overlays: {known})")
        with self._draw_lock, self.model.hold():
            for layer in names if name is None else [name]:
                self.model.remove_layer(layer)

    @property
    def overlays(self) -> list[str]:
        """Names of the label overlays, in drawing order."""
        return [layer.name for layer in self.model.layers if isinstance(layer, LabelLayer)]

    # ------------------------------------------------------------------ measurements
    def measure(
        self,
        kind: str,
        points: Sequence[Sequence[float]] | np.ndarray,
        *,
        pane: int | None = None,
        label: str = "",
        clip: bool = False,
    ) -> Measurement:
        """Measure on the current pane (or ``pane``) from its screen (row, col) points.

        ``kind`` is ``"distance"``, ``"angle"``, ``"ellipse"``, ``"rectangle"`` or
        ``"polygon"`` (see :func:`dicom_widgets.measurements.measure`). The measurement is
        kept (``viewer.measurements``), drawn with its value on every pane it lies on and
        listed in the table; ROI statistics use the values shown (a slab's projection).

        Examples
        --------
        >>> viewer.measure("distance", [(10, 10), (10, 60)]).value  # doctest: +SKIP
        50.0
        """
        return viewer_measure(self, kind, points, pane=pane, label=label, clip=clip)

    @property
    def measurements(self) -> list[Measurement]:
        """The viewer's measurements, oldest first."""
        return measurement_layer_of(self.model).measurements

    def measurements_dataframe(self) -> pd.DataFrame:
        """The measurements as a pandas DataFrame (one row each)."""
        return viewer_dataframe(self)

    def add_measurements(self, measurements: Any) -> list[Measurement]:
        """Show measurements: a list, or the path of a TID 1500 SR (:func:`dw.load_measurements`)."""
        return viewer_add(self, measurements)

    def save_measurements(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the measurements as a DICOM SR Measurement Report (needs highdicom)."""
        return viewer_save(self, path, overwrite)

    def rename_measurement(self, key: str | int, label: str) -> None:
        """Give a measurement (by uid, label or position) a new label."""
        measurement_layer_of(self.model).rename(key, label)
        self.measurements_table.refresh()

    def remove_measurement(self, key: str | int) -> None:
        """Delete a measurement (by uid, label or position)."""
        measurement_layer_of(self.model).remove(key)
        self.measurements_table.refresh()

    def undo_measurement_edit(self) -> Measurement | None:
        """Undo the last move or resize of a measurement (ctrl+z on the image); None if none."""
        return self.tools.undo()

    def go_to_measurement(self, key: str | int) -> None:
        """Show the slice a measurement lies on."""
        viewer_go_to(self, measurement_layer_of(self.model).get(key).uid)

    def snapshot(self, *, level: int = 6) -> bytes:
        """PNG bytes of the current view exactly as shown (annotations included).

        Examples
        --------
        >>> open("slice.png", "wb").write(viewer.snapshot())  # doctest: +SKIP
        """
        self._render(send=False)
        png, _ = frame_to_png(np.asarray(self.canvas.get_renderer().buffer_rgba()), level)
        return png

    def save_animation(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float | None = None,
        axis: str | None = None,
        start: int = 0,
        stop: int | None = None,
        overwrite: bool = False,
    ) -> str:
        """Write the cine of the current view as an animated GIF (Pillow) or MP4 (ffmpeg).

        Parameters
        ----------
        path : path-like
            ``.gif`` or ``.mp4``. Written atomically.
        fps : float, optional
            Frames per second (default: :attr:`fps`).
        axis : {"index", "time"}, optional
            What to animate (default: time for 4-D data, else slices).
        start, stop : int
            Range of frames (stop exclusive; default all).
        overwrite : bool
            Replace an existing file.

        Returns
        -------
        str
            The path written.

        Raises
        ------
        MissingDependencyError
            MP4 asked for but ``ffmpeg`` is not on PATH.

        Examples
        --------
        >>> viewer.save_animation("cine.gif", fps=15)  # doctest: +SKIP
        'cine.gif'
        """
        path, _ = check_animation_path(path)
        axis = axis or self.cine.axis
        n = self.cine.length(axis)
        stop = n if stop is None else min(int(stop), n)
        if not 0 <= start < stop:
            raise IndexError(f"expected 0 <= start < stop <= {n}, got start={start}, stop={stop}")
        frames = []
        keep = getattr(self, axis)
        try:
            for k in range(start, stop):
                with self._no_render():
                    setattr(self, axis, k)
                self._render(send=False)
                frames.append(np.asarray(self.canvas.get_renderer().buffer_rgba())[..., :3].copy())
        finally:
            with self._no_render():
                setattr(self, axis, keep)
            self._render()
        return write_animation(path, frames, float(fps or self.fps), overwrite=overwrite)

    def value_at(self, pane: PaneArtists | int, row: float, col: float) -> str:
        """Readout text for screen position (row, col) of ``pane``: position, mm, value, stored."""
        k = pane if isinstance(pane, int) else self._artists.panes.index(pane)
        return self.model.readout(k, row, col)

    def prefetch(self, n: int = PREFETCH_AHEAD + PREFETCH_BEHIND) -> int:
        """Send up to ``n`` neighbouring slices to the browser's frame cache now.

        The viewer does this by itself in idle time when it runs in a kernel; call it to
        warm the cache from a script. Returns the number of frames sent.
        """
        return 0 if self.frame_cache is None else self.frame_cache.prefetch(n)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Widget view plus a PNG (and an ``<img>``) of the current view for static renderers."""
        import base64

        data = super()._repr_mimebundle_(**kwargs) or {}
        try:
            png = self.snapshot()
        except Exception:  # noqa: BLE001 - a broken frame must not make the widget undisplayable
            return data
        b64 = base64.b64encode(png).decode("ascii")
        data["image/png"] = b64
        from ..html import tag, wrap

        width = int(self.figure.get_figwidth() * self.figure.dpi)
        # Built with dicom_widgets.html (escaped attributes), the only place that makes HTML.
        image = tag(
            "img", src=f"data:image/png;base64,{b64}", width=width, alt="SeriesViewer snapshot"
        )
        items = self.measurements
        if items:  # the static page lists the measurements drawn on the picture
            from ..html.measurements import measurements_table, measurements_text

            body = tag("div", image, measurements_table(items))
            data["text/html"] = str(wrap(body, f"{self!r}\n{measurements_text(items)}"))
        else:
            data["text/html"] = str(wrap(image, repr(self)))
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        src = self.source
        return (
            f"<SeriesViewer {src.modality or 'volume'} {src.n_slices}x{src.rows}x{src.cols}"
            f"{f' x{src.n_times} times' if src.n_times > 1 else ''} view={self.view} "
            f"index={self.index}>"
        )

    # ------------------------------------------------------------------ drawing
    def _update_counter(self) -> None:
        model = self.model
        text = f"{model.index + 1} / {model.n_index()}"
        mm = model.position_mm()
        if mm is not None:
            text += f"  ·  {mm:.1f} mm"
        if self.source.n_times > 1:
            text += f"  ·  t {model.time + 1}/{self.source.n_times}"
        self.controls.counter.value = text

    def _update_artists(
        self, index: int | None = None, frames: list[Frame] | None = None
    ) -> list[Frame]:
        """Point every pane's artists and the annotations at plane ``index`` (no drawing)."""
        model = self.model
        if frames is None:
            frames = [model.frame(k, index=index) for k in range(len(model.planes))]
        for k, frame in enumerate(frames):
            self._artists.update_pane(k, frame, self.crosshair)
        here = frames[model.active].pane.index
        self._artists.update_annotations(self.show_annotations, self.hide_identifiers, here)
        if self._artists.stale_layout:
            self._artists.stale_layout = False
            self._bg = None
        return frames

    def _render(self, send: bool = True) -> None:
        """Update the artists from the model, then blit (or fully draw) and send the frame."""
        if self._hold or not self._artists.panes:
            return
        with self._draw_lock:
            self._render_locked(send)
        if send and self.frame_cache is not None:
            self.frame_cache.schedule()

    def _render_locked(self, send: bool) -> None:
        self._last_frames = self._update_artists()
        status = "; ".join(f.problem for f in self._last_frames if f.problem)
        if status != self.status:
            self.status = status
        canvas = self.canvas
        renderer = canvas.get_renderer()
        self._in_render = True
        try:
            if self._bg is None or self._bg_key != self._artists.layout_key(renderer):
                if self.canvas_mode == "ipympl" and not send:
                    from matplotlib.backends.backend_agg import FigureCanvasAgg

                    FigureCanvasAgg.draw(canvas)  # draws (and fires draw_event) without sending
                else:
                    canvas.draw()
            else:
                canvas.restore_region(self._bg)
                self._artists.draw_animated(renderer, self.show_overlays)
                if send and self.canvas_mode == "ipympl" and not self._browser_shows_step():
                    canvas.blit(self.figure.bbox)
        finally:
            self._in_render = False
        if send and self.image_widget is not None:
            self.image_widget.value = frame_to_png(np.asarray(renderer.buffer_rgba()))[0]

    def _browser_shows_step(self) -> bool:
        """A slice step the browser painted from its frame cache: ipympl's copy can wait."""
        return self._index_only and self.frame_cache is not None and self.frame_cache.defer_canvas()

    def _send_canvas(self) -> None:
        """Send ipympl the picture the canvas holds (a slice step whose send was deferred)."""
        with self._draw_lock:
            if self._hold or not self._artists.panes:
                return
            # The frame cache sees a slice step's frame: same generation, already cached.
            self._in_render, self._index_only = True, True
            try:
                if self._bg is None:
                    self.canvas.draw()
                else:
                    self.canvas.blit(self.figure.bbox)
            finally:
                self._in_render, self._index_only = False, False

    def _on_draw(self, event: DrawEvent | None) -> None:
        """After a full draw (first display, resize, zoom): cache the background, draw our artists."""
        renderer = self.canvas.get_renderer()
        if event is not None and getattr(event, "renderer", renderer) is not renderer:
            # savefig with another renderer: draw the animated artists into the saved figure.
            for artist in self._artists.animated_artists(self.show_overlays):
                if artist.get_visible():
                    artist.draw(event.renderer)
            return
        self._bg = self.canvas.copy_from_bbox(self.figure.bbox)
        self._bg_key = self._artists.layout_key(renderer)
        self._artists.draw_animated(renderer, self.show_overlays)

    def _offscreen_png(self, index: int) -> bytes | None:
        """The PNG the canvas would send for plane ``index``, leaving the canvas as it was.

        The model is not touched (its cursor stays); the caller holds the canvas lock.
        """
        if self._hold or not self._artists.panes or not self._last_frames:
            return None
        renderer = self.canvas.get_renderer()
        if self._bg is None or self._bg_key != self._artists.layout_key(renderer):
            return None  # the next real draw renews the background first
        buffer = np.asarray(renderer.buffer_rgba())
        saved_pixels = buffer.copy()
        try:
            self._update_artists(index=index)
            self.canvas.restore_region(self._bg)
            self._artists.draw_animated(renderer, self.show_overlays)
            png, _ = frame_to_png(np.asarray(renderer.buffer_rgba()))
        finally:
            # Put the artists back on the frames on screen, and their pixels in the buffer.
            self._update_artists(frames=self._last_frames)
            buffer[...] = saved_pixels
        return png

    def _frame_look(self) -> tuple[Any, ...]:
        """What a frame shows besides the slice (the frame cache's generation key)."""
        # Artists the user added count too (drawn on every frame even without refresh()).
        user = tuple(id(a) for p in self._artists.panes for a in self._artists.user_artists(p.ax))
        return (self.model.view, self.model.active, self.model.time, user)

    def _frame_layout(self) -> tuple[Any, ...]:
        renderer = self.canvas.get_renderer()
        return (
            renderer.width,
            renderer.height,
            tuple((p.ax.get_xlim(), p.ax.get_ylim()) for p in self._artists.panes),
        )


def _canvas_mode(canvas: str) -> str:
    return choose_canvas(
        canvas,
        needs="the interactive viewer canvas",
        instead="SeriesViewer(..., canvas='image')",
        env_var="DICOM_WIDGETS_VIEWER_CANVAS",
    )
