"""SeriesViewer: a slice viewer widget for DICOM series and numpy volumes.

The viewer is an ipywidgets ``VBox`` of controls around a matplotlib figure shown with
ipympl's canvas. State lives in traitlets (``index``, ``time``, ``window_center``,
``window_width``, ``preset``, ``cmap``, ``invert``, ``view``, ``playing``, ``fps``,
``loop``, ``show_annotations``, ``hide_identifiers``...), so code and other widgets can
drive it, and every change updates the image artists in place.

Speed: each slice change costs a few milliseconds of kernel time (see
:mod:`dicom_widgets.widgets._viewer_render` and ``benchmarks/bench_viewer.py``): the
series' integer lookup table and the colormap are composed into one table, the image
is blitted over a cached background, and the frame is sent as a fast lossless PNG.

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
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from matplotlib import colormaps
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .. import display as _display
from ..errors import DecodeError, DicomWidgetsError, GeometryError, MissingDependencyError
from ..view.planes import Plane as _Plane
from ..view.planes import plane_for as _plane_for
from ._viewer_render import FastImage, RasterCache, choose_canvas, frame_to_png, make_canvas
from ._viewer_source import Source, as_source, require_uniform

try:  # the browser-side frame cache needs anywidget (a dependency; optional in practice)
    from ._frame_cache import FrameCache
except ImportError:  # pragma: no cover - exercised without anywidget
    FrameCache = None  # type: ignore[assignment, misc]

#: Slices prefetched into the browser's frame cache: ahead in the direction of travel, behind.
PREFETCH_AHEAD = 10
PREFETCH_BEHIND = 4

__all__ = ["SeriesViewer", "link", "ViewerLink", "VIEWS"]

#: Views a viewer can show. Reformats need equally spaced parallel slices.
VIEWS = ("acquired", "axial", "coronal", "sagittal", "ortho")

#: Colormaps offered for grey data (any matplotlib name is accepted by the ``cmap`` trait).
CMAPS = ("gray", "bone", "viridis", "magma", "inferno", "hot", "jet", "gist_heat", "turbo")

_TEXT_COLOR = "#e8e8e8"  # grey text keeps grey frames encodable as 1-byte PNGs
_PLACEHOLDER_GREY = 40
_DICOM_OVERLAY_COLOR = (255, 255, 0)
_DEFAULT_OVERLAY_COLORS = [
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


@dataclass
class _Overlay:
    name: str
    labels: np.ndarray  # (times?, slices, rows, cols) integer labels
    alpha: float
    colors: dict[int, tuple[float, float, float]]
    names: dict[int, str] = field(default_factory=dict)
    visible: bool = True


@dataclass
class _Pane:
    plane: _Plane
    ax: Any
    image: FastImage
    hline: Line2D
    vline: Line2D
    label: Any
    placeholder: Any
    shape: tuple[int, int] = (0, 0)


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

    index = traitlets.Int(0, help="Slice index in the current view (main pane in ortho).")
    time = traitlets.Int(0, help="Time point / stack index of 4-D data.")
    window_center = traitlets.Float(0.0, help="Window centre in modality units.")
    window_width = traitlets.Float(1.0, help="Window width in modality units.")
    preset = traitlets.Unicode(
        "custom", help="'file', 'file:N', 'auto', a preset name or 'custom'."
    )
    cmap = traitlets.Unicode("gray", help="Matplotlib colormap for grey data.")
    invert = traitlets.Bool(False, help="Invert the grey scale.")
    view = traitlets.Unicode("acquired", help="One of VIEWS.")
    playing = traitlets.Bool(False, help="Cine playback running.")
    fps = traitlets.Float(10.0, help="Cine frames per second.")
    loop = traitlets.Bool(True, help="Restart at the first frame when cine reaches the end.")
    show_annotations = traitlets.Bool(True, help="Corner annotations on the image.")
    hide_identifiers = traitlets.Bool(False, help="Remove patient name/ID/dates from the display.")
    show_overlays = traitlets.Bool(True, help="Show label overlays and DICOM overlay planes.")
    crosshair = traitlets.Bool(True, help="Crosshair in the ortho view.")
    readout = traitlets.Unicode("", help="Value under the mouse (text).")
    status = traitlets.Unicode("", help="Messages: why a view is unavailable, decode errors...")

    def __init__(
        self,
        source: Any,
        *,
        window: Any = None,
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
        src = as_source(source, spacing, rgb)
        self.source: Source = src
        self._size_px = int(size)
        self._mode = _canvas_mode(canvas)
        self._luts: dict[Any, np.ndarray] = {}
        self._volumes: dict[Any, np.ndarray] = {}
        self._overlays: list[_Overlay] = []
        self._dicom_overlay_cache: dict[tuple[int, int], np.ndarray | None] = {}
        self._bg: Any = None
        self._bg_key: Any = None
        self._syncing = False
        self._drag: tuple[float, float, float, float] | None = None
        self._timer: Any = None
        self._voi_lut: Any = None
        self._legend: Any = None
        self._links: list[ViewerLink] = []
        self._cursor = [src.n_slices // 2, src.rows // 2, src.cols // 2]
        self._active = 0
        self._panes: list[_Pane] = []
        self._raster_cache = RasterCache()
        self._last_display: list[np.ndarray] = []
        # Browser-side frame cache (ipympl canvas only): frames of the current look
        # ("generation") by slice index, and the idle-time prefetch of neighbours.
        self._frame_cache: Any = None
        self._frame_link: Any = None
        self._frame_gen = 0
        self._frame_look: Any = None
        self._frames_sent: set[int] = set()
        self._index_only = False
        self._in_render = False
        self._draw_lock: Any = threading.RLock()
        self._frame_layout: Any = None
        self._shown_png: bytes | None = None
        self._direction = 1
        self._prefetch_scheduled = False
        self._hold = True  # no rendering until construction is finished
        super().__init__(**kwargs)
        self.add_class("dw-series-viewer")

        self.figure = Figure(figsize=(size / 100, size / 100), dpi=100, facecolor="black")
        if self._mode == "ipympl":
            self.canvas = make_canvas(self.figure)
            self.canvas.capture_scroll = True
            self.canvas.toolbar_visible = "fade-in-fade-out"
            # Right side: the top-left corner carries the (longer) patient/series annotation.
            self.canvas.toolbar_position = "right"
            self._image_widget = None
            display_widget = self.canvas
            self._draw_lock = self.canvas.draw_lock
            if frame_cache and FrameCache is not None:
                self._frame_cache = FrameCache()
                self._frame_cache.on_ready = self._on_cache_ready
                self.canvas.frame_listener = self._on_frame
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self.canvas = FigureCanvasAgg(self.figure)
            self._image_widget = widgets.Image(format="png")
            display_widget = self._image_widget
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.canvas.mpl_connect("scroll_event", self._on_scroll)
        self.canvas.mpl_connect("key_press_event", self._on_key)
        self.canvas.mpl_connect("button_press_event", self._on_press)
        self.canvas.mpl_connect("button_release_event", self._on_release)
        self.canvas.mpl_connect("motion_notify_event", self._on_motion)
        self.canvas.mpl_connect("figure_leave_event", lambda event: self.set_trait("readout", ""))

        self._build_controls()
        self.children = [
            self._nav_row,
            self._time_row,
            self._window_row,
            self._view_row,
            display_widget,
            *([self._frame_cache] if self._frame_cache is not None else []),
            self._readout_label,
            self._status_label,
        ]

        if src.n_times < 2:
            self._time_row.layout.display = "none"

        # Initial state (validators run; rendering waits for _hold to drop).
        self.cmap = cmap
        if view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
        self._setup_panes("acquired")
        if view != "acquired":
            self.view = view
        self.time = time
        if index is not None:
            self.index = index
        else:
            self.index = self._n_index() // 2
        # Setting the trait to its current value (0) fires no change: sync the cursor here.
        self._cursor[self._panes[self._active].plane.normal_axis] = self.index
        self._init_window(window)
        fps = src.cine_fps()
        if fps is not None:
            self.fps = round(fps, 2)  # the acquisition's own frame rate (ultrasound cine)
        self._hold = False
        if self._frame_cache is not None:
            # In the browser, the slider moves the cache's index with no kernel round trip.
            # Linked only now: the link copies the slider's value when the browser creates
            # it, and that value must already be the initial slice.
            self._frame_cache.index = self.index
            self._frame_link = widgets.jsdlink(
                (self._slider, "value"), (self._frame_cache, "index")
            )
        self._update_counter()
        self.refresh()

    # ------------------------------------------------------------------ public API
    @property
    def ax(self) -> Any:
        """The main pane's axes (the only one outside the ortho view)."""
        return self._panes[self._active].ax

    @property
    def axes(self) -> list[Any]:
        """The axes of every pane (three in the ortho view)."""
        return [p.ax for p in self._panes]

    @property
    def image(self) -> FastImage:
        """The main pane's image artist (``get_array()`` is the RGBA frame on screen)."""
        return self._panes[self._active].image

    @property
    def n_slices(self) -> int:
        """Number of slices along the current view's normal (slider length)."""
        return self._n_index()

    @property
    def displayed(self) -> np.ndarray:
        """The displayed frame of the main pane: (rows, cols) uint8 grey or (rows, cols, 3) RGB.

        Grey when the colormap is ``gray`` and no coloured overlay is on it, before the
        annotations are drawn.
        """
        with self._draw_lock:  # not a prefetched slice's frame
            rgba = self._last_display[self._active]
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
                for name, text in self._corner_texts.items()
            }

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
        if "_status_label" not in self.__dict__:
            # Construction failed part-way (ipywidgets calls close() from __del__).
            if "_model_id" in self.__dict__ or getattr(self, "comm", None) is not None:
                super().close()
            return
        self.playing = False
        for handle in list(self._links):
            handle.unlink()
        self._volumes.clear()
        self._luts.clear()
        for child in (
            *self._nav_row.children,
            *self._time_row.children,
            *self._window_row.children,
            *self._view_row.children,
            self._readout_label,
            self._status_label,
        ):
            child.close()
        if self._frame_cache is not None:
            self._frame_link.close()
            self._frame_cache.close()
            self.canvas.frame_listener = None
            self._frame_cache = None  # a prefetch still scheduled finds nothing to do
        if self._mode == "ipympl":
            toolbar = getattr(self.canvas, "toolbar", None)
            if toolbar is not None:
                toolbar.close()
            self.canvas.close()
        elif self._image_widget is not None:
            self._image_widget.close()
        super().close()

    def step(self, n: int = 1) -> None:
        """Move ``n`` slices (negative: backwards), clamped to the series.

        Examples
        --------
        >>> viewer.step(5); viewer.step(-1)  # doctest: +SKIP
        """
        self.index = int(np.clip(self.index + n, 0, self._n_index() - 1))

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
        src = self.source
        arr = np.asarray(mask)
        expected = (src.n_slices, src.rows, src.cols)
        if arr.shape == expected:
            arr = arr[None]
        elif arr.shape == (src.n_times, *expected):
            pass
        elif arr.shape == (src.rows, src.cols) and src.n_slices == 1:
            arr = arr[None, None]
        else:
            extra = (
                f" or (times, slices, rows, cols) = {(src.n_times, *expected)}"
                if src.n_times > 1
                else ""
            )
            raise ValueError(
                f"overlay shape {arr.shape} does not match the series: expected "
                f"(slices, rows, cols) = {expected}{extra}"
            )
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)
        elif arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
                raise ValueError(
                    "overlay values must be integer labels (0 = background) or booleans; "
                    "threshold a probability map first, e.g. mask > 0.5"
                )
            arr = arr.astype(np.int32)
        elif arr.dtype.kind not in "iu":
            raise ValueError(f"overlay must hold integer labels or booleans, not {arr.dtype}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
        present = [int(v) for v in np.unique(arr) if v != 0]
        name = name or f"overlay {len(self._overlays) + 1}"
        if any(o.name == name for o in self._overlays):
            raise ValueError(f"an overlay named {name!r} exists already; remove it first")
        overlay = _Overlay(
            name,
            arr,
            float(alpha),
            _overlay_colors(present, colors),
            {k: str(v) for k, v in (labels or {}).items()},
        )
        self._overlays.append(overlay)
        self._update_legend()
        self._render()
        return name

    def remove_overlay(self, name: str | None = None) -> None:
        """Remove the overlay called ``name`` (all overlays when None)."""
        if name is None:
            self._overlays.clear()
        else:
            kept = [o for o in self._overlays if o.name != name]
            if len(kept) == len(self._overlays):
                known = ", ".join(o.name for o in self._overlays) or "none"
                raise KeyError(f"no overlay named {name!r} (overlays: {known})")
            self._overlays = kept
        self._update_legend()
        self._render()

    @property
    def overlays(self) -> list[str]:
        """Names of the label overlays, in drawing order."""
        return [o.name for o in self._overlays]

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
        from .._io import atomic_write, atomic_write_bytes

        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".gif", ".mp4"):
            raise ValueError(
                f"save_animation writes .gif or .mp4 files, not {ext or 'no extension'!r}"
            )
        ffmpeg = shutil.which("ffmpeg")
        if ext == ".mp4" and ffmpeg is None:
            raise MissingDependencyError(
                "saving MP4 needs the ffmpeg program on PATH (e.g. apt-get install ffmpeg or "
                "conda install ffmpeg); save a .gif instead, which only needs Pillow"
            )
        axis = axis or self._play_axis()
        n = self._axis_len(axis)
        stop = n if stop is None else min(int(stop), n)
        if not 0 <= start < stop:
            raise IndexError(f"expected 0 <= start < stop <= {n}, got start={start}, stop={stop}")
        fps = float(fps or self.fps)
        frames = []
        keep = getattr(self, axis)
        try:
            for k in range(start, stop):
                self._hold = True
                setattr(self, axis, k)
                self._hold = False
                self._render(send=False)
                frames.append(np.asarray(self.canvas.get_renderer().buffer_rgba())[..., :3].copy())
        finally:
            self._hold = True
            setattr(self, axis, keep)
            self._hold = False
            self._render()
        if ext == ".gif":
            import io

            from PIL import Image

            images = [Image.fromarray(f) for f in frames]
            buf = io.BytesIO()
            images[0].save(
                buf,
                format="GIF",
                save_all=True,
                append_images=images[1:],
                duration=max(int(round(1000 / fps)), 20),
                loop=0,
            )
            atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)
        else:
            import subprocess
            import tempfile

            height, width = frames[0].shape[:2]
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out.mp4")
                cmd = [
                    ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
                    "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", out,
                ]  # fmt: skip
                proc = subprocess.run(
                    cmd, input=b"".join(f.tobytes() for f in frames), capture_output=True
                )
                if proc.returncode != 0:
                    raise DicomWidgetsError(
                        f"ffmpeg failed writing {path}: {proc.stderr.decode(errors='replace')}"
                    )
                with open(out, "rb") as fh:
                    data = fh.read()
            atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)
        return path

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Widget view plus a PNG (and an ``<img>``) of the current view for static renderers."""
        import base64

        data = super()._repr_mimebundle_(**kwargs) or {}
        try:
            png = self.snapshot()
        except Exception:  # a broken frame must not make the widget undisplayable
            return data
        b64 = base64.b64encode(png).decode("ascii")
        data["image/png"] = b64
        from ..html import tag, wrap

        width = int(self.figure.get_figwidth() * self.figure.dpi)
        # Built with dicom_widgets.html (escaped attributes), the only place that makes HTML.
        image = tag(
            "img", src=f"data:image/png;base64,{b64}", width=width, alt="SeriesViewer snapshot"
        )
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

    # ------------------------------------------------------------------ controls
    def _build_controls(self) -> None:
        src = self.source
        compact = widgets.Layout(width="auto")
        # Frames without geometry (cine loops, multi-frame captures) are not "slices".
        what = "Slice" if src.affine is not None else "Frame"
        self._slider = widgets.IntSlider(
            0, 0, max(self._n_index() - 1, 0), description=what, continuous_update=True,
            readout=False, layout=widgets.Layout(width="320px"),
        )  # fmt: skip
        self._counter = widgets.Label("", layout=widgets.Layout(min_width="190px"))
        self._play_button = widgets.ToggleButton(
            False,
            description="Play",
            icon="play",
            tooltip="Cine (kernel-side timer)",
            layout=compact,
        )
        self._fps_box = widgets.BoundedFloatText(
            10.0, min=0.5, max=120, step=1, description="fps", layout=widgets.Layout(width="130px")
        )
        self._loop_box = widgets.Checkbox(True, description="loop", indent=False, layout=compact)
        self._nav_row = widgets.HBox(
            [self._slider, self._counter, self._play_button, self._fps_box, self._loop_box]
        )
        self._time_slider = widgets.IntSlider(
            0, 0, max(src.n_times - 1, 0), description="Time", continuous_update=True,
            layout=widgets.Layout(width="320px"),
        )  # fmt: skip
        self._time_row = widgets.HBox([self._time_slider])

        self._preset_dropdown = widgets.Dropdown(
            options=self._preset_options(),
            description="Window",
            layout=widgets.Layout(width="260px"),
        )
        self._center_box = widgets.FloatText(
            0.0, description="C", layout=widgets.Layout(width="140px")
        )
        # Bounded so that typing 0 or a negative width is refused in the browser already.
        self._width_box = widgets.BoundedFloatText(
            1.0, min=1e-6, max=1e9, description="W", layout=widgets.Layout(width="140px")
        )
        self._auto_button = widgets.Button(
            description="Auto", tooltip="Window from this slice's percentiles", layout=compact
        )
        self._auto_button.on_click(lambda _: self.auto_window())
        self._invert_box = widgets.Checkbox(
            False, description="invert", indent=False, layout=compact
        )
        cmaps = list(CMAPS)
        self._cmap_dropdown = widgets.Dropdown(
            options=cmaps, value="gray", description="cmap", layout=widgets.Layout(width="170px")
        )
        if src.is_color or src.modality.upper() == "CT":
            self._cmap_dropdown.layout.display = "none"
        window_controls = [
            self._preset_dropdown,
            self._center_box,
            self._width_box,
            self._auto_button,
            self._invert_box,
            self._cmap_dropdown,
        ]
        if src.is_color:
            window_controls = [widgets.Label("colour image: window does not apply")]
        self._window_row = widgets.HBox(window_controls)

        views = [v for v in VIEWS if self._view_available(v) is None]
        self._view_buttons = widgets.ToggleButtons(
            options=views, value="acquired", style={"button_width": "82px"}
        )
        reasons = {v: self._view_available(v) for v in VIEWS if self._view_available(v)}
        why = ""
        if reasons:
            why = "reformats unavailable: " + next(iter(reasons.values()))
        self._view_reason = widgets.Label(why)
        self._annot_box = widgets.Checkbox(
            True, description="annotations", indent=False, layout=compact
        )
        self._hide_box = widgets.Checkbox(
            False, description="hide identifiers", indent=False, layout=compact
        )
        self._overlay_box = widgets.Checkbox(
            True, description="overlays", indent=False, layout=compact
        )
        self._view_row = widgets.HBox(
            [
                self._view_buttons,
                self._annot_box,
                self._hide_box,
                self._overlay_box,
                self._view_reason,
            ]
        )
        self._readout_label = widgets.Label("")
        self._readout_label.add_class("dw-readout")
        self._status_label = widgets.Label("")
        self._status_label.add_class("dw-status")

        # Two-way links: controls <-> traits (Python-side, so they work without a browser too).
        traitlets.link((self._slider, "value"), (self, "index"))
        traitlets.link((self._time_slider, "value"), (self, "time"))
        traitlets.link((self._play_button, "value"), (self, "playing"))
        traitlets.link((self._fps_box, "value"), (self, "fps"))
        traitlets.link((self._loop_box, "value"), (self, "loop"))
        traitlets.link((self._center_box, "value"), (self, "window_center"))
        traitlets.link((self._width_box, "value"), (self, "window_width"))
        traitlets.link((self._invert_box, "value"), (self, "invert"))
        traitlets.link((self._annot_box, "value"), (self, "show_annotations"))
        traitlets.link((self._hide_box, "value"), (self, "hide_identifiers"))
        traitlets.link((self._overlay_box, "value"), (self, "show_overlays"))
        traitlets.link((self._view_buttons, "value"), (self, "view"))
        traitlets.dlink((self, "readout"), (self._readout_label, "value"))
        traitlets.dlink((self, "status"), (self._status_label, "value"))
        self._preset_dropdown.observe(self._on_preset_dropdown, "value")
        self._cmap_dropdown.observe(self._on_cmap_dropdown, "value")

    def _preset_options(self) -> list[tuple[str, str]]:
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

    def _on_preset_dropdown(self, change: Mapping[str, Any]) -> None:
        if change["new"] != self.preset:
            self.preset = change["new"]

    def _on_cmap_dropdown(self, change: Mapping[str, Any]) -> None:
        self.cmap = change["new"]

    # ------------------------------------------------------------------ validation
    @traitlets.validate("index")
    def _valid_index(self, proposal: Mapping[str, Any]) -> int:
        value = int(proposal["value"])
        n = self._n_index()
        if not 0 <= value < n:
            raise traitlets.TraitError(
                f"index {value} is out of range: the {self.view} view has {n} slice(s), "
                f"expected 0..{n - 1}"
            )
        return value

    @traitlets.validate("time")
    def _valid_time(self, proposal: Mapping[str, Any]) -> int:
        value = int(proposal["value"])
        n = self.source.n_times
        if not 0 <= value < n:
            raise traitlets.TraitError(
                f"time {value} is out of range: this series has {n} time point(s), expected 0..{n - 1}"
            )
        return value

    @traitlets.validate("view")
    def _valid_view(self, proposal: Mapping[str, Any]) -> str:
        value = str(proposal["value"])
        if value not in VIEWS:
            raise traitlets.TraitError(f"view must be one of {VIEWS}, got {value!r}")
        reason = self._view_available(value)
        if reason:
            raise GeometryError(reason)
        return value

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal: Mapping[str, Any]) -> str:
        value = str(proposal["value"])
        if value not in colormaps:
            raise traitlets.TraitError(f"unknown matplotlib colormap {value!r}")
        return value

    @traitlets.validate("window_width")
    def _valid_width(self, proposal: Mapping[str, Any]) -> float:
        value = float(proposal["value"])
        if not math.isfinite(value) or value <= 0:
            raise traitlets.TraitError(f"window width must be a positive number, got {value!r}")
        return value

    @traitlets.validate("fps")
    def _valid_fps(self, proposal: Mapping[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0 < value <= 120:
            raise traitlets.TraitError(f"fps must be in (0, 120], got {value!r}")
        return value

    @traitlets.validate("preset")
    def _valid_preset(self, proposal: Mapping[str, Any]) -> str:
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
                f"{value!r}: this series has {len(windows)} file window(s), expected file:0..file:{len(windows) - 1}"
            )
        raise traitlets.TraitError(
            f"unknown preset {value!r}: use 'file', 'file:N', 'auto', 'custom' or one of {sorted(_display.PRESETS)}"
        )

    # ------------------------------------------------------------------ observers
    @traitlets.observe("index")
    def _on_index(self, change: Mapping[str, Any]) -> None:
        pane = self._panes[self._active]
        self._move_cursor({pane.plane.normal_axis: int(change["new"])})
        if change["old"] != change["new"]:
            self._direction = 1 if change["new"] > change["old"] else -1
        self._update_counter()
        # Under the lock, the flag belongs to this render: a look change rendering on another
        # thread meanwhile must not see it (its frames would keep the old generation).
        with self._draw_lock:
            self._index_only = True
            try:
                self._render()
            finally:
                self._index_only = False

    @traitlets.observe("time")
    def _on_time(self, change: Mapping[str, Any]) -> None:
        self._update_counter()
        self._render()

    @traitlets.observe("window_center", "window_width")
    def _on_window(self, change: Mapping[str, Any]) -> None:
        if not self._syncing and self.preset != "custom":
            with self._quiet():
                self.preset = "custom"
        self._voi_lut = None if not self._syncing else self._voi_lut
        self._render()

    @traitlets.observe("preset")
    def _on_preset(self, change: Mapping[str, Any]) -> None:
        value = change["new"]
        if self._preset_dropdown.value != value and value in [
            v for _, v in self._preset_dropdown.options
        ]:
            self._preset_dropdown.value = value
        if self._syncing or value == "custom":
            return
        self._apply_preset(value)

    @traitlets.observe("invert", "cmap", "show_overlays", "crosshair")
    def _on_look(self, change: Mapping[str, Any]) -> None:
        if change["name"] == "cmap" and self._cmap_dropdown.value != change["new"]:
            if change["new"] not in self._cmap_dropdown.options:
                self._cmap_dropdown.options = [*self._cmap_dropdown.options, change["new"]]
            self._cmap_dropdown.value = change["new"]
        self._render()

    @traitlets.observe("show_annotations", "hide_identifiers")
    def _on_annotations(self, change: Mapping[str, Any]) -> None:
        self._render()

    @traitlets.observe("view")
    def _on_view(self, change: Mapping[str, Any]) -> None:
        if self._hold and not self._panes:
            return
        self._setup_panes(change["new"])
        pane = self._panes[self._active]
        with self._batch():
            self._retarget(
                int(np.clip(self._cursor[pane.plane.normal_axis], 0, self._n_index() - 1))
            )
        self._update_counter()
        self.refresh()

    @traitlets.observe("playing")
    def _on_playing(self, change: Mapping[str, Any]) -> None:
        self._play_button.icon = "pause" if change["new"] else "play"
        if change["new"]:
            axis = self._play_axis()
            if not self.loop and getattr(self, axis) >= self._axis_len(axis) - 1:
                setattr(self, axis, 0)  # Play at the end of a non-looping cine starts over
            if self._timer is None:
                self._timer = self._new_timer()
                self._timer.add_callback(self._tick)
            self._timer.interval = int(1000 / self.fps)
            self._timer.start()
        elif self._timer is not None:
            self._timer.stop()

    @traitlets.observe("fps")
    def _on_fps(self, change: Mapping[str, Any]) -> None:
        if self._timer is not None:
            self._timer.interval = int(1000 / change["new"])

    def _tick(self) -> None:
        """One cine step (the play timer's callback; tests call it directly)."""
        axis = self._play_axis()
        n = self._axis_len(axis)
        nxt = getattr(self, axis) + 1
        if nxt >= n:
            if not self.loop:
                self.playing = False
                return
            nxt = 0
        setattr(self, axis, nxt)

    def _new_timer(self) -> Any:
        if self._mode == "ipympl":
            return self.canvas.new_timer(interval=int(1000 / self.fps))
        from matplotlib.backends.backend_webagg_core import TimerTornado

        return TimerTornado(interval=int(1000 / self.fps))

    def _play_axis(self) -> str:
        return "time" if self.source.n_times > 1 else "index"

    def _axis_len(self, axis: str) -> int:
        if axis == "time":
            return self.source.n_times
        if axis == "index":
            return self._n_index()
        raise ValueError(f"axis must be 'index' or 'time', got {axis!r}")

    # ------------------------------------------------------------------ window
    def _init_window(self, window: Any) -> None:
        src = self.source
        if src.is_color:
            return
        if window is None or (isinstance(window, str) and window.lower() == "file"):
            windows = src.file_windows()
            ds = src.dataset(0)
            if ds is not None and ds.get("VOILUTSequence"):
                self.preset = "file"
                return
            if windows:
                self.preset = "file:0"
                return
            default = src.default_window()
            if isinstance(default, _display.Window):
                # Keep the name when the series chose a preset or the automatic window.
                name = (default.explanation or "").strip().lower()
                known = name in _display.PRESETS or name == "auto"
                self._set_window(default.center, default.width, name if known else "custom")
                return
            if src.modality.upper() == "CT":
                self.preset = "abdomen"
                return
            self.preset = "auto"
            return
        if isinstance(window, str):
            self.preset = window
            return
        if isinstance(window, _display.Window):
            self._set_window(window.center, window.width)
            return
        try:
            center, width = (float(v) for v in window)
        except (TypeError, ValueError):
            raise ValueError(
                f"window must be (center, width), a preset name, 'auto' or None, not {window!r}"
            ) from None
        self._set_window(center, width)

    def _set_window(self, center: float, width: float, preset: str = "custom") -> None:
        if width <= 0 or not math.isfinite(width) or not math.isfinite(center):
            raise ValueError(
                f"window width must be a positive finite number, got ({center}, {width})"
            )
        with self._quiet(), self._batch():
            self.window_center = float(center)
            self.window_width = float(width)
            self.preset = preset
        self._render()

    def _apply_preset(self, value: str) -> None:
        src = self.source
        if value == "auto":
            self.auto_window()
            return
        if value == "file":
            from ..display import voi_lut_from_dataset

            lut = voi_lut_from_dataset(src.dataset(0))
            if lut is not None:
                self._voi_lut = lut
                center = lut.first_mapped + lut.data.size / 2
                with self._quiet(), self._batch():
                    self.window_center, self.window_width = (
                        float(center),
                        float(max(lut.data.size, 1)),
                    )
                self._render()
                return
            windows = src.file_windows()
            if not windows:
                self.auto_window()
                return
            value = "file:0"
        if value.startswith("file:"):
            w = src.file_windows()[int(value[5:])]
            self._voi_lut = None
            self._set_window(w.center, w.width, value)
            return
        center, width = _display.PRESETS[value]
        self._voi_lut = None
        self._set_window(center, width, value)

    def auto_window(self) -> tuple[float, float]:
        """Set the window from the 0.5/99.5 percentiles of the main pane's current plane.

        Returns
        -------
        (float, float)
            The new (center, width).

        Examples
        --------
        >>> viewer.auto_window()  # doctest: +SKIP
        (412.5, 815.0)
        """
        values = self._plane_values(self._panes[self._active])
        if values is None:
            return (self.window_center, self.window_width)
        w = _display.auto_window(values)
        self._voi_lut = None
        self._set_window(w.center, w.width, "auto")
        return (w.center, w.width)

    def _window_spec(self) -> Any:
        if self._voi_lut is not None and self.preset == "file":
            return self._voi_lut
        return _display.Window(self.window_center, self.window_width)

    class _QuietContext:
        def __init__(self, viewer: SeriesViewer) -> None:
            self.viewer = viewer

        def __enter__(self) -> None:
            self.previous = self.viewer._syncing
            self.viewer._syncing = True

        def __exit__(self, *exc: Any) -> None:
            self.viewer._syncing = self.previous

    def _quiet(self) -> SeriesViewer._QuietContext:
        return SeriesViewer._QuietContext(self)

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Change several traits with one redraw at the end (the caller renders)."""
        previous = self._hold
        self._hold = True
        try:
            yield
        finally:
            self._hold = previous

    # ------------------------------------------------------------------ geometry / panes
    def _view_available(self, view: str) -> str | None:
        """None when ``view`` can be shown, else the reason it cannot."""
        try:
            require_uniform(self.source, view)
        except GeometryError as exc:
            return str(exc)
        return None

    def _vol_shape(self) -> tuple[int, int, int]:
        src = self.source
        return (src.n_slices, src.rows, src.cols)

    def _n_index(self) -> int:
        if not self._panes:
            return self.source.n_slices
        return self._vol_shape()[self._panes[self._active].plane.normal_axis]

    def _setup_panes(self, view: str) -> None:
        fig = self.figure
        for pane in self._panes:
            pane.ax.remove()
        self._panes = []
        affine = self.source.affine
        names = ["axial", "coronal", "sagittal"] if view == "ortho" else [view]
        size = self._size_px
        if view == "ortho":
            fig.set_size_inches(3 * size * 0.6 / 100, size * 0.6 / 100, forward=True)
        else:
            fig.set_size_inches(size / 100, size / 100, forward=True)
        for k, name in enumerate(names):
            ax = fig.add_axes([k / len(names), 0.0, 1.0 / len(names), 1.0])
            ax.set_axis_off()
            ax.set_facecolor("black")
            plane = _plane_for(name, affine)
            image = FastImage(ax, interpolation="nearest", origin="upper", animated=True)
            image.set_data(np.zeros((2, 2, 4), np.uint8))
            ax.add_image(image)
            hline = ax.axhline(0, color="#00c8ff", lw=0.8, animated=True, visible=False)
            vline = ax.axvline(0, color="#00c8ff", lw=0.8, animated=True, visible=False)
            label = ax.text(0.02, 0.98, "", transform=ax.transAxes, color=_TEXT_COLOR, fontsize=8, va="top", animated=True, visible=False)  # fmt: skip
            placeholder = ax.text(0.5, 0.5, "", transform=ax.transAxes, color="#ff8080", fontsize=9, ha="center", va="center", wrap=True, animated=True, visible=False)  # fmt: skip
            self._panes.append(_Pane(plane, ax, image, hline, vline, label, placeholder))
        self._active = 0
        main = self._panes[0].ax
        text = dict(transform=main.transAxes, color=_TEXT_COLOR, fontsize=9, animated=True)
        self._corner_texts = {
            "top_left": main.text(0.01, 0.99, "", va="top", ha="left", **text),
            "top_right": main.text(0.99, 0.99, "", va="top", ha="right", **text),
            "bottom_left": main.text(0.01, 0.01, "", va="bottom", ha="left", **text),
            "bottom_right": main.text(0.99, 0.01, "", va="bottom", ha="right", **text),
        }
        self._legend = None
        self._update_legend()
        self._bg = None

    def _aspect(self, plane: _Plane) -> float:
        spacing = self.source.spacing
        if spacing is None:
            return 1.0
        per_axis = (spacing[2], spacing[0], spacing[1])  # slice, row, col
        return float(per_axis[plane.down_axis] / per_axis[plane.right_axis])

    def _volume(self, *, stored: bool) -> np.ndarray:
        key = (self.time, stored)
        if key not in self._volumes:
            # Reformats need every slice: decode them all once per time point (and say so).
            self._volumes.clear()
            previous = self.status
            if self.source.n_slices > 50:
                self.status = f"decoding {self.source.n_slices} slices for the {self.view} view…"
            try:
                self._volumes[key] = self.source.volume(self.time, stored=stored)
            finally:
                self.status = previous
        return self._volumes[key]

    def _use_stored(self) -> bool:
        src = self.source
        if src.is_color or src.stored_dtype is None:
            return False
        if getattr(src, "has_modality_lut", lambda: False)():
            return False
        if self.view != "acquired" and self._uniform_rescale() is None:
            # Per-slice rescale (e.g. PET): reformats go through modality values instead.
            return False
        return True

    def _uniform_rescale(self) -> tuple[float, float] | None:
        """The rescale shared by every slice of the current time point, or None."""
        key = ("rescale", self.time)
        if key not in self._luts:
            pairs = {self.source.rescale(k, self.time) for k in range(self.source.n_slices)}
            self._luts[key] = next(iter(pairs)) if len(pairs) == 1 else None
        return self._luts[key]

    def _plane_index(self, pane: _Pane) -> int:
        return int(self._cursor[pane.plane.normal_axis])

    def _plane_data(self, pane: _Pane, *, stored: bool) -> np.ndarray:
        """The pane's current plane (stored or modality values); raises DecodeError."""
        k = self._plane_index(pane)
        if pane.plane.view == "acquired":
            src = self.source
            return src.stored(k, self.time) if stored else src.values(k, self.time)
        volume = self._volume(stored=stored)
        return pane.plane.cut(volume, k)

    def _plane_values(self, pane: _Pane) -> np.ndarray | None:
        try:
            return np.asarray(self._plane_data(pane, stored=False))
        except DecodeError:
            return None

    # ------------------------------------------------------------------ pixels
    def _cmap_table(self) -> np.ndarray:
        key = ("cmap", self.cmap)
        table = self._luts.get(key)
        if table is None:
            cmap = colormaps[self.cmap]
            if cmap.N != 256:
                cmap = cmap.resampled(256)
            # Integer input indexes the colormap's table; rounding (not bytes=True's truncation)
            # keeps "gray" an exact identity.
            rgba = np.rint(cmap(np.arange(256)) * 255).astype(np.uint8)
            rgba[:, 3] = 255
            table = np.ascontiguousarray(rgba).view(np.uint32).reshape(256)
            self._luts[key] = table
        return table

    def _composed_lut(self, slope: float, intercept: float) -> np.ndarray:
        """Stored value bit pattern -> packed RGBA, composing the series' window LUT and the colormap."""
        spec = self._window_spec()
        key = (
            "lut",
            self.source.stored_dtype.str,
            slope,
            intercept,
            _spec_key(spec),
            self.invert,
            self.cmap,
            self.source.photometric,
        )
        table = self._luts.get(key)
        if table is None:
            lut = _display.make_lut(
                self.source.stored_dtype,
                spec,
                slope=slope,
                intercept=intercept,
                photometric=self.source.photometric,
                invert=self.invert,
            )
            table = np.take(self._cmap_table(), lut.table)
            if len(self._luts) > 32:
                self._luts.clear()
            self._luts[key] = table
        return table

    def _rgba(self, pane: _Pane) -> tuple[np.ndarray, str | None]:
        """Display RGBA (rows, cols, 4) uint8 of a pane, or a placeholder and its reason."""
        src = self.source
        try:
            if self._use_stored():
                stored = np.asarray(self._plane_data(pane, stored=True))
                if pane.plane.view == "acquired":
                    slope, intercept = src.rescale(self._plane_index(pane), self.time)
                else:
                    slope, intercept = self._uniform_rescale() or (1.0, 0.0)
                table = self._composed_lut(slope, intercept)
                index = stored.view(np.uint8 if stored.dtype.itemsize == 1 else np.uint16)
                packed = np.take(table, index)
            else:
                values = np.asarray(self._plane_data(pane, stored=False))
                if src.is_color or values.ndim == 3:
                    rgb = _display.to_display(values, photometric=src.photometric)
                    packed = np.empty(rgb.shape[:2], np.uint32)
                    view = packed.view(np.uint8).reshape(*rgb.shape[:2], 4)
                    view[..., :3] = rgb
                    view[..., 3] = 255
                else:
                    u8 = _display.to_display(
                        values, self._window_spec(), photometric=src.photometric, invert=self.invert
                    )
                    packed = np.take(self._cmap_table(), u8)
        except DecodeError as exc:
            k = self._plane_index(pane)
            shape = self._plane_shape(pane)
            grey = np.full((*shape, 4), _PLACEHOLDER_GREY, np.uint8)
            grey[..., 3] = 255
            return grey, f"frame {k} could not be decoded: {exc}"
        rgba = packed.view(np.uint8).reshape(*packed.shape, 4)
        if self.show_overlays:
            rgba = self._blend_overlays(pane, rgba)
        return rgba, None

    def _plane_shape(self, pane: _Pane) -> tuple[int, int]:
        shape = self._vol_shape()
        return (max(shape[pane.plane.down_axis], 1), max(shape[pane.plane.right_axis], 1))

    def _blend_overlays(self, pane: _Pane, rgba: np.ndarray) -> np.ndarray:
        layers: list[tuple[np.ndarray, np.ndarray, float]] = []
        k = self._plane_index(pane)
        for overlay in self._overlays:
            if not overlay.visible:
                continue
            volume = overlay.labels[min(self.time, overlay.labels.shape[0] - 1)]
            labels = pane.plane.cut(volume, k)
            if labels.any():
                top = int(labels.max())
                table = np.zeros((top + 1, 3), np.float32)
                for value, color in overlay.colors.items():
                    if 0 < value <= top:
                        table[value] = np.asarray(color[:3], np.float32) * 255
                layers.append((labels, table, overlay.alpha))
        if pane.plane.view == "acquired":
            planes = self._dicom_overlay(k)
            if planes is not None and planes.any():
                table = np.array([[0, 0, 0], _DICOM_OVERLAY_COLOR], np.float32)
                layers.append((planes.astype(np.uint8), table, 1.0))
        if not layers:
            return rgba
        out = rgba.copy()
        for labels, table, alpha in layers:
            if labels.shape != out.shape[:2]:
                continue
            hit = labels > 0
            base = out[hit][:, :3].astype(np.float32)
            colour = table[labels[hit]]
            out[..., :3][hit] = np.rint(base * (1 - alpha) + colour * alpha).astype(np.uint8)
        return out

    def _dicom_overlay(self, index: int) -> np.ndarray | None:
        """Union of the DICOM overlay planes (60xx,3000) of slice ``index`` (cached)."""
        key = (index, self.time)
        if key in self._dicom_overlay_cache:
            return self._dicom_overlay_cache[key]
        result = None
        ds = self.source.dataset(index, self.time)
        if ds is not None:
            for group in range(0x6000, 0x6020, 2):
                if (group, 0x3000) not in ds:
                    continue
                try:
                    arr = np.asarray(ds.overlay_array(group))
                except Exception as exc:  # a malformed overlay must not hide the image
                    warnings.warn(f"overlay group {group:04X} unreadable: {exc}", stacklevel=2)
                    continue
                if arr.ndim == 3:
                    arr = arr[min(index, arr.shape[0] - 1)]
                if arr.shape != (self.source.rows, self.source.cols):
                    # Overlay Origin can place smaller planes; pad them into the frame.
                    full = np.zeros((self.source.rows, self.source.cols), bool)
                    origin = ds.get((group, 0x0050))
                    r0, c0 = (
                        (int(origin.value[0]) - 1, int(origin.value[1]) - 1)
                        if origin is not None
                        else (0, 0)
                    )
                    rs, cs = max(r0, 0), max(c0, 0)
                    sub = arr[: full.shape[0] - rs, : full.shape[1] - cs]
                    full[rs : rs + sub.shape[0], cs : cs + sub.shape[1]] = sub.astype(bool)
                    arr = full
                result = arr.astype(bool) if result is None else (result | arr.astype(bool))
        if len(self._dicom_overlay_cache) > 64:
            self._dicom_overlay_cache.clear()
        self._dicom_overlay_cache[key] = result
        return result

    # ------------------------------------------------------------------ drawing
    def _update_pane(self, pane: _Pane) -> None:
        rgba, problem = self._rgba(pane)
        rows, cols = rgba.shape[:2]
        if (rows, cols) != pane.shape:
            pane.shape = (rows, cols)
            pane.image.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
            pane.ax.set_xlim(-0.5, cols - 0.5)
            pane.ax.set_ylim(rows - 0.5, -0.5)
            pane.ax.set_aspect(self._aspect(pane.plane))
            self._bg = None
        pane.image._A = rgba  # validated shape/dtype; skip set_data's copy and checks
        pane.image._imcache = None
        pane.image.stale = True
        if problem:
            pane.placeholder.set_text(textwrap.fill(problem, 48))
            pane.placeholder.set_visible(True)
        else:
            pane.placeholder.set_visible(False)
        self._problems.append(problem)
        show_cross = self.view == "ortho" and self.crosshair
        if show_cross:
            row, col = pane.plane.screen(self._cursor, self._vol_shape())
            pane.hline.set_ydata([row, row])
            pane.vline.set_xdata([col, col])
        pane.hline.set_visible(show_cross)
        pane.vline.set_visible(show_cross)
        if self.view == "ortho" and pane is not self._panes[0]:
            # The first pane carries the corner annotations; its name goes top right there.
            pane.label.set_text(
                f"{pane.plane.view} {self._plane_index(pane) + 1}/{self._vol_shape()[pane.plane.normal_axis]}"
            )
            pane.label.set_visible(True)
        else:
            pane.label.set_visible(False)
        if len(self._last_display) <= self._panes.index(pane):
            self._last_display.append(rgba)
        else:
            self._last_display[self._panes.index(pane)] = rgba

    def _update_annotations(self) -> None:
        texts = self._corner_texts
        visible = self.show_annotations
        for text in texts.values():
            text.set_visible(visible)
        if not visible:
            return
        src = self.source
        pane = self._panes[self._active]
        top_left = []
        if not self.hide_identifiers:
            ids = src.identifiers()
            for key in ("PatientName", "PatientID", "StudyDate"):
                if ids.get(key):
                    top_left.append(ids[key])
        if src.description:
            top_left.append(src.description)
        texts["top_left"].set_text("\n".join(top_left))
        view = pane.plane.view if self.view != "ortho" else "ortho"
        note = " (nearest plane)" if pane.plane.oblique else ""
        if self.view == "ortho":
            first = self._panes[0]
            n_first = self._vol_shape()[first.plane.normal_axis]
            view = f"{first.plane.view} {self._plane_index(first) + 1}/{n_first}"
        texts["top_right"].set_text(f"{src.modality or ''} {view}{note}".strip())
        prefix = f"{pane.plane.view}: " if self.view == "ortho" else "Im: "
        bottom_left = [f"{prefix}{self._plane_index(pane) + 1}/{self._n_index()}"]
        if src.n_times > 1:
            bottom_left.append(f"T: {self.time + 1}/{src.n_times}")
        mm = self._position_mm()
        if mm is not None:
            bottom_left.append(f"Pos: {mm:.1f} mm")
        texts["bottom_left"].set_text("\n".join(bottom_left))
        if src.is_color:
            texts["bottom_right"].set_text("")
        elif self._voi_lut is not None and self.preset == "file":
            texts["bottom_right"].set_text("VOI LUT (file)")
        else:
            name = "" if self.preset == "custom" else f" ({self.preset})"
            texts["bottom_right"].set_text(
                f"W: {self.window_width:g} L: {self.window_center:g}{name}"
            )

    def _position_mm(self) -> float | None:
        """Position of the main pane's slice along its normal, in mm."""
        src = self.source
        if hasattr(src, "has_spacing") and not src.has_spacing:
            return None
        pane = self._panes[self._active]
        voxel = np.array(self._cursor, float)
        if pane.plane.view == "acquired":
            # Per-slice positions work for non-uniform series too (no affine needed).
            pos, normal = src.position(int(voxel[0])), src.normal()
            if pos is not None and normal is not None:
                return float(pos @ normal)
        if src.affine is None:
            return None
        point = src.affine @ np.array([voxel[2], voxel[1], voxel[0], 1.0])
        axis_dirs = {0: 2, 1: 1, 2: 0}
        direction = src.affine[:3, axis_dirs[pane.plane.normal_axis]]
        direction = direction / (np.linalg.norm(direction) or 1.0)
        # Report the patient coordinate of the plane's nearest patient axis (e.g. z for axial).
        axis = int(np.argmax(np.abs(direction)))
        return float(point[axis])

    def _update_counter(self) -> None:
        if not self._panes:
            return
        text = f"{self.index + 1} / {self._n_index()}"
        mm = self._position_mm()
        if mm is not None:
            text += f"  ·  {mm:.1f} mm"
        if self.source.n_times > 1:
            text += f"  ·  t {self.time + 1}/{self.source.n_times}"
        self._counter.value = text

    def _update_legend(self) -> None:
        if self._legend is not None:
            self._legend.remove()
            self._legend = None
        entries = []
        for overlay in self._overlays:
            for value, color in sorted(overlay.colors.items()):
                label = overlay.names.get(value, f"{overlay.name}: label {value}")
                entries.append(
                    Patch(
                        facecolor=color,
                        edgecolor="none",
                        alpha=max(overlay.alpha, 0.6),
                        label=label,
                    )
                )
        if entries and self._panes:
            ax = self._panes[0].ax
            self._legend = ax.legend(
                handles=entries,
                loc="lower center",
                fontsize=7,
                framealpha=0.6,
                ncols=min(len(entries), 4),
            )
            self._legend.set_animated(True)
        self._bg = None

    @property
    def legend_labels(self) -> list[str]:
        """Texts of the overlay legend (empty without overlays)."""
        if self._legend is None:
            return []
        return [t.get_text() for t in self._legend.get_texts()]

    def _animated_artists(self) -> list[Any]:
        mine: list[Any] = []
        for pane in self._panes:
            mine.append(pane.image)
            mine += _user_artists(pane.ax, self)
            mine += [pane.hline, pane.vline, pane.label, pane.placeholder]
        mine += list(self._corner_texts.values())
        if self._legend is not None and self.show_overlays:
            mine.append(self._legend)
        return mine

    def _own_artists(self) -> set[int]:
        own: set[int] = set()
        for pane in self._panes:
            own.update(
                id(a) for a in (pane.image, pane.hline, pane.vline, pane.label, pane.placeholder)
            )
        own.update(id(t) for t in self._corner_texts.values())
        return own

    def _on_draw(self, event: Any) -> None:
        """After a full draw (first display, resize, zoom): cache the background, draw our artists."""
        canvas = self.canvas
        renderer = canvas.get_renderer()
        if event is not None and getattr(event, "renderer", renderer) is not renderer:
            # savefig with another renderer: draw the animated artists into the saved figure.
            for artist in self._animated_artists():
                if artist.get_visible():
                    artist.draw(event.renderer)
            return
        self._bg = canvas.copy_from_bbox(self.figure.bbox)
        self._bg_key = self._layout_key(renderer)
        self._draw_animated(renderer)

    def _layout_key(self, renderer: Any) -> tuple[Any, ...]:
        """What the cached background depends on: the renderer object and every pane's place.

        A new renderer (figure resized, dpi changed by a HiDPI browser, savefig) starts
        cleared, and axes move when the figure is resized or the aspect is re-applied; a
        background from before either would paint a stale or transparent frame.
        """
        return (
            id(renderer),
            renderer.width,
            renderer.height,
            tuple(tuple(np.round(p.ax.bbox.bounds, 3)) for p in self._panes),
        )

    def _draw_animated(self, renderer: Any) -> None:
        static = self._static_artists()
        for artist in self._animated_artists():
            if not artist.get_visible():
                continue
            key = static.get(id(artist))
            if key is not None:
                self._raster_cache.draw(artist, renderer, key)
            else:
                artist.draw(renderer)

    def _static_artists(self) -> dict[int, Any]:
        """Annotations that rarely change, keyed for :class:`RasterCache` (text + place)."""
        out: dict[int, Any] = {}
        texts = list(self._corner_texts.items())
        texts += [(f"pane{k}", p.label) for k, p in enumerate(self._panes)]
        for name, text in texts:
            if name == "bottom_left":
                continue  # changes with every slice: drawn directly
            bounds = tuple(text.axes.bbox.bounds) if text.axes is not None else ()
            out[id(text)] = (name, text.get_text(), bounds)
        if self._legend is not None:
            labels = tuple(t.get_text() for t in self._legend.get_texts())
            out[id(self._legend)] = ("legend", labels, tuple(self._legend.axes.bbox.bounds))
        return out

    def _render(self, send: bool = True) -> None:
        """Update the artists from the traits, then blit (or fully draw) and send the frame."""
        if self._hold or not self._panes:
            return
        with self._draw_lock:
            self._render_locked(send)
        if send:
            self._schedule_prefetch()

    def _render_locked(self, send: bool) -> None:
        if hasattr(self.source, "probe_index"):
            self.source.probe_index = int(self._cursor[0])
        self._update_artists()
        problems = [p for p in self._problems if p]
        status = "; ".join(problems)
        if status != self.status:
            self.status = status
        canvas = self.canvas
        renderer = canvas.get_renderer()
        self._in_render = True
        try:
            if self._bg is None or self._bg_key != self._layout_key(renderer):
                if self._mode == "ipympl" and not send:
                    from matplotlib.backends.backend_agg import FigureCanvasAgg

                    FigureCanvasAgg.draw(canvas)  # draws (and fires draw_event) without sending
                else:
                    canvas.draw()
            else:
                canvas.restore_region(self._bg)
                self._draw_animated(renderer)
                if send and self._mode == "ipympl":
                    canvas.blit(self.figure.bbox)
        finally:
            self._in_render = False
        if send and self._mode == "image":
            self._image_widget.value = frame_to_png(np.asarray(renderer.buffer_rgba()))[0]

    # ------------------------------------------------------------------ browser frame cache
    def _on_frame(self, png: bytes) -> None:
        """Every frame ipympl sends also goes to the browser's cache, under its generation.

        A frame from a slice change keeps the generation; one the viewer draws for any other
        reason (window, colormap, overlays, pane, ...) starts a new one, which drops the
        cached frames. Frames ipympl draws by itself (first display, refresh requests,
        resize, toolbar zoom and pan) start one only when the picture or the layout changed.
        """
        cache = self._frame_cache
        if cache is None or not self._panes:
            return
        # Artists the user added count too (drawn on every frame even without refresh()).
        user = tuple(id(a) for p in self._panes for a in _user_artists(p.ax, self))
        look = (self.view, self._active, self.time, user)
        renderer = self.canvas.get_renderer()
        layout = (
            renderer.width,
            renderer.height,
            tuple((p.ax.get_xlim(), p.ax.get_ylim()) for p in self._panes),
        )
        if self._in_render:
            new_look = not self._index_only or look != self._frame_look
        else:
            new_look = look != self._frame_look or layout != self._frame_layout
            if not new_look and png == self._shown_png:
                return  # the same picture again: the browser has it
            new_look = True
        self._shown_png = png
        if new_look:
            self._frame_gen += 1
            self._frame_look = look
            self._frame_layout = layout
            self._frames_sent = set()
        index = self._plane_index(self._panes[self._active])
        if index in self._frames_sent:
            return  # prefetched: the browser has these very bytes already
        cache.send_frame(self._frame_gen, index, png)
        self._frames_sent.add(index)

    def _on_cache_ready(self) -> None:
        """A browser model of the cache appeared (first display, page reload): fill it."""
        cache = self._frame_cache
        if cache is None:
            return
        with self._draw_lock:
            self._frames_sent = set()
            if self._shown_png is not None and self._panes:
                index = self._plane_index(self._panes[self._active])
                cache.send_frame(self._frame_gen, index, self._shown_png)
                self._frames_sent.add(index)
        self._schedule_prefetch()

    def _prefetch_order(self) -> list[int]:
        """Slices to cache next, nearest first, favouring the direction of travel."""
        here = self._plane_index(self._panes[self._active])
        n = self._n_index()
        ahead = [here + self._direction * k for k in range(1, PREFETCH_AHEAD + 1)]
        behind = [here - self._direction * k for k in range(1, PREFETCH_BEHIND + 1)]
        # Interleave: two ahead for each one behind.
        order: list[int] = []
        while ahead or behind:
            order += ahead[:2] + behind[:1]
            ahead, behind = ahead[2:], behind[1:]
        return [j for j in order if 0 <= j < n and j not in self._frames_sent]

    def _schedule_prefetch(self) -> None:
        """Render neighbouring slices for the browser's cache when the kernel is idle.

        One frame per event-loop turn, so a slider message waiting behind it is handled
        within one frame's time. Without a running event loop (scripts, unit tests) nothing
        is scheduled; :meth:`prefetch` does the same work on demand.
        """
        if self._frame_cache is None or self._prefetch_scheduled or self._hold:
            return
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._prefetch_scheduled = True
        loop.call_soon(self._prefetch_step)

    def _prefetch_step(self) -> None:
        self._prefetch_scheduled = False
        if self._frame_cache is None or self.playing:
            return  # cine renders every frame anyway
        if self.prefetch(1):
            self._schedule_prefetch()

    def prefetch(self, n: int = PREFETCH_AHEAD + PREFETCH_BEHIND) -> int:
        """Send up to ``n`` neighbouring slices to the browser's frame cache now.

        The viewer does this by itself in idle time when it runs in a kernel; call it to
        warm the cache from a script. Returns the number of frames sent.
        """
        if self._frame_cache is None or not self._panes:
            return 0
        # Rendering, the generation it belongs to and the send go together under the canvas
        # lock: a render on another thread (widget messages run on a kernel subshell) could
        # otherwise start a new generation between them. Busy canvas: try again later.
        if not self._draw_lock.acquire(blocking=False):
            return 0
        try:
            here = self._plane_index(self._panes[self._active])
            # Frames far from here were dropped by the browser (it keeps ``capacity`` nearest).
            keep = self._frame_cache.capacity // 2
            self._frames_sent = {j for j in self._frames_sent if abs(j - here) <= keep}
            # Never inside another draw of this thread (a nested call would undo its state).
            if self._in_render or getattr(self.canvas, "drawing", 0):
                return 0
            sent = 0
            for j in self._prefetch_order()[:n]:
                generation = self._frame_gen
                png = self._render_offscreen(j)
                if png is None:
                    break
                self._frame_cache.send_frame(generation, j, png)
                self._frames_sent.add(j)
                sent += 1
            return sent
        finally:
            self._draw_lock.release()

    def _move_cursor(self, coordinates: Mapping[int, int]) -> None:
        """Set cursor coordinates (axis -> voxel index) under the canvas lock.

        A prefetch on another thread points the cursor at other slices while it renders and
        then puts back the cursor it saved: a move made meanwhile would be undone, and the
        next render would show the old slice (the slider says 15, the canvas shows 14).
        """
        with self._draw_lock:
            for axis, value in coordinates.items():
                self._cursor[axis] = int(value)

    def _update_artists(self) -> None:
        """Point every pane's artists and the annotations at the cursor (no drawing)."""
        self._problems: list[str | None] = []
        for pane in self._panes:
            self._update_pane(pane)
        self._update_annotations()

    def _render_offscreen(self, index: int) -> bytes | None:
        """The PNG the canvas would send for slice ``index``, leaving the canvas as it was.

        The caller holds the canvas lock (see :meth:`prefetch`).
        """
        if self._hold or not self._panes or self._frame_look is None:
            return None
        canvas = self.canvas
        renderer = canvas.get_renderer()
        if self._bg is None or self._bg_key != self._layout_key(renderer):
            return None  # the next real draw renews the background first
        pane = self._panes[self._active]
        axis = pane.plane.normal_axis
        buffer = np.asarray(renderer.buffer_rgba())
        saved_pixels = buffer.copy()
        saved_cursor = list(self._cursor)
        saved_display = list(self._last_display)
        saved_problems = getattr(self, "_problems", [])
        try:
            self._cursor[axis] = int(index)
            self._update_artists()
            canvas.restore_region(self._bg)
            self._draw_animated(renderer)
            png, _ = frame_to_png(np.asarray(renderer.buffer_rgba()))
        finally:
            # Put the artists back on the slice on screen, and its pixels in the buffer.
            self._cursor = saved_cursor
            self._update_artists()
            self._problems = saved_problems
            self._last_display = saved_display
            buffer[...] = saved_pixels
        return png

    # ------------------------------------------------------------------ mouse and keys
    def _pane_at(self, event: Any) -> _Pane | None:
        for pane in self._panes:
            if event.inaxes is pane.ax:
                return pane
        return None

    def _on_scroll(self, event: Any) -> None:
        pane = self._pane_at(event)
        if pane is None:
            return
        changed = self._activate(pane)
        before = self.index
        # Wheel towards the user (negative step) moves forward, as in clinical viewers.
        self.step(-int(np.sign(event.step)) or 1)
        if changed and self.index == before:
            self._render()  # clamped at an end: still show the newly active pane's labels

    def _on_key(self, event: Any) -> None:
        moves = {"up": 1, "right": 1, "down": -1, "left": -1, "pageup": 10, "pagedown": -10}
        if event.key in moves:
            self.step(moves[event.key])
        elif event.key == "home":
            self.index = 0
        elif event.key == "end":
            self.index = self._n_index() - 1
        elif event.key == " ":
            self.playing = not self.playing

    def _activate(self, pane: _Pane) -> bool:
        """Make ``pane`` the slider's pane (no redraw: the caller draws). True if it changed."""
        k = self._panes.index(pane)
        if k == self._active:
            return False
        self._active = k
        with self._batch():
            self._retarget(self._plane_index(pane))
        return True

    def _retarget(self, index: int) -> None:
        """Point the slider and ``index`` at a new range without the slider clamping the cursor."""
        n = self._n_index()
        self._slider.max = max(n - 1, self._slider.value, index)
        if index != self.index:
            self.index = index
        else:
            self._update_counter()
        self._slider.max = n - 1

    def _toolbar_busy(self) -> bool:
        toolbar = getattr(self.canvas, "toolbar", None)
        return bool(toolbar is not None and getattr(toolbar, "mode", ""))

    def _on_press(self, event: Any) -> None:
        pane = self._pane_at(event)
        if pane is None or self._toolbar_busy():
            return
        if event.button == 3 and not self.source.is_color:
            self._drag = (event.x, event.y, self.window_center, self.window_width)
            return
        if event.button == 1 and event.xdata is not None:
            if self._activate(pane) and self.view != "ortho":
                self._render()
            if self.view == "ortho":
                row, col = int(round(event.ydata)), int(round(event.xdata))
                rows, cols = pane.shape
                row, col = int(np.clip(row, 0, rows - 1)), int(np.clip(col, 0, cols - 1))
                voxel = pane.plane.voxel(self._plane_index(pane), row, col, self._vol_shape())
                self._move_cursor(dict(enumerate(voxel)))
                self._render()

    def _on_release(self, event: Any) -> None:
        self._drag = None

    def _on_motion(self, event: Any) -> None:
        if self._drag is not None:
            x0, y0, c0, w0 = self._drag
            # Width scales geometrically (128 px doubles it), so the same gesture works for
            # HU (width 1000s) and for float maps (width 0.1) and never reaches zero; the centre
            # moves by a width-proportional amount per pixel.
            width = w0 * 2.0 ** ((event.x - x0) / 128.0)
            center = c0 + (y0 - event.y) * w0 / 256.0
            self.drag_window(center, width)
            return
        pane = self._pane_at(event)
        if pane is None or event.xdata is None:
            if self.readout:
                self.readout = ""
            return
        self.readout = self.value_at(pane, event.ydata, event.xdata)

    def drag_window(self, center: float, width: float) -> None:
        """Set centre and width at once (one redraw), as right-button dragging does."""
        with self._quiet(), self._batch():
            self.window_center = float(center)
            self.window_width = float(width)
            self.preset = "custom"
        self._voi_lut = None
        self._render()

    def _format_value(self, value: Any, stored: int | None) -> str:
        if np.ndim(value):
            return "RGB " + ", ".join(str(int(v)) for v in value)
        unit = " HU" if self.source.modality.upper() == "CT" else ""
        text = f"value {float(value):g}{unit}"
        return text if stored is None else f"{text}  |  stored {stored}"

    def value_at(self, pane: _Pane | int, row: float, col: float) -> str:
        """Readout text for screen position (row, col) of ``pane``: position, mm, value, stored."""
        if isinstance(pane, int):
            pane = self._panes[pane]
        rows, cols = pane.shape
        r, c = int(round(row)), int(round(col))
        if not (0 <= r < rows and 0 <= c < cols):
            return ""
        with self._draw_lock:  # the slice on screen, not one a prefetch is rendering
            plane_index = self._plane_index(pane)
        k, vr, vc = pane.plane.voxel(plane_index, r, c, self._vol_shape())
        parts = [f"slice {k}  row {vr}  col {vc}"]
        src = self.source
        if src.affine is not None and not (hasattr(src, "has_spacing") and not src.has_spacing):
            x, y, z = (src.affine @ np.array([vc, vr, k, 1.0]))[:3]
            parts.append(f"({x:.1f}, {y:.1f}, {z:.1f}) mm")
        try:
            if pane.plane.view != "acquired":
                # Reformats: read from the volume already in memory, not slice by slice.
                stored_path = self._use_stored()
                raw = self._volume(stored=stored_path)[k, vr, vc]
                if stored_path:
                    slope, intercept = self._uniform_rescale() or (1.0, 0.0)
                    value, stored_value = raw * slope + intercept, int(raw)
                else:
                    value, stored_value = raw, None
                parts.append(self._format_value(value, stored_value))
                return "  |  ".join(parts)
            values = src.values(k, self.time)
            value = values[vr, vc]
            stored = None if np.ndim(value) else src.stored(k, self.time)
            parts.append(self._format_value(value, None if stored is None else int(stored[vr, vc])))
        except DecodeError as exc:
            parts.append(f"not decodable: {exc}")
        return "  |  ".join(parts)


def _spec_key(spec: Any) -> Any:
    if isinstance(spec, _display.Window):
        return ("w", spec.center, spec.width, spec.function)
    return ("voi", id(spec))


def _user_artists(ax: Any, viewer: SeriesViewer) -> list[Any]:
    """Artists the user added to ``ax`` (drawn again above the blitted image)."""
    own = viewer._own_artists()
    out = []
    for group in (ax.images, ax.collections, ax.patches, ax.lines, ax.texts):
        for artist in group:
            if id(artist) not in own and artist.get_visible() and not artist.get_animated():
                out.append(artist)
    return out


def _overlay_colors(present: list[int], colors: Any) -> dict[int, tuple[float, float, float]]:
    if colors is None:
        return {v: _DEFAULT_OVERLAY_COLORS[(v - 1) % len(_DEFAULT_OVERLAY_COLORS)] for v in present}
    if isinstance(colors, Mapping):
        out = {}
        for v in present:
            if v not in colors:
                raise ValueError(f"colors has no entry for label {v} (labels present: {present})")
            out[v] = to_rgba(colors[v])[:3]
        return out
    if isinstance(colors, str) or (
        isinstance(colors, (tuple, list))
        and len(colors) in (3, 4)
        and all(isinstance(c, (int, float)) for c in colors)
    ):
        rgb = to_rgba(colors)[:3]
        return dict.fromkeys(present, rgb)
    seq = list(colors)
    if not seq:
        raise ValueError("colors must not be empty")
    return {v: to_rgba(seq[(v - 1) % len(seq)])[:3] for v in present}


def _canvas_mode(canvas: str) -> str:
    return choose_canvas(
        canvas,
        needs="the interactive viewer canvas",
        instead="SeriesViewer(..., canvas='image')",
        env_var="DICOM_WIDGETS_VIEWER_CANVAS",
    )


# ---------------------------------------------------------------------- linking
class ViewerLink:
    """Keeps viewers on the same position (and optionally window). Returned by :func:`link`."""

    def __init__(self, viewers: Sequence[SeriesViewer], window: bool = False) -> None:
        if len(viewers) < 2:
            raise ValueError("link needs at least two viewers")
        self.viewers = list(viewers)
        self.window = window
        self._busy = False
        self._handlers: list[tuple[SeriesViewer, Callable[..., None], list[str]]] = []
        for viewer in self.viewers:
            names = ["index", "time"] + (
                ["window_center", "window_width", "invert"] if window else []
            )

            def handler(change: Any, viewer: SeriesViewer = viewer) -> None:
                self._sync(viewer, change["name"])

            viewer.observe(handler, names)
            self._handlers.append((viewer, handler, names))
            viewer._links.append(self)
        self._sync(self.viewers[0], "index")
        if window:
            self._sync(self.viewers[0], "window_center")

    def unlink(self) -> None:
        """Stop syncing."""
        for viewer, handler, names in self._handlers:
            viewer.unobserve(handler, names)
            if self in viewer._links:
                viewer._links.remove(self)
        self._handlers = []

    def _sync(self, origin: SeriesViewer, name: str) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            for other in self.viewers:
                if other is origin:
                    continue
                if name in ("window_center", "window_width", "invert"):
                    if not (origin.source.is_color or other.source.is_color):
                        other.drag_window(origin.window_center, origin.window_width)
                        other.invert = origin.invert
                elif name == "time":
                    other.time = min(origin.time, other.source.n_times - 1)
                else:
                    other.index = _matching_index(origin, other)
        finally:
            self._busy = False


def _world_center(viewer: SeriesViewer) -> np.ndarray | None:
    """Patient position (LPS mm) of the main pane's current slice at the cursor, or None."""
    src = viewer.source
    if hasattr(src, "has_spacing") and not src.has_spacing:
        return None
    k, r, c = viewer._cursor
    pane = viewer._panes[viewer._active]
    if pane.plane.view == "acquired":
        p0 = src.position(int(k))
        if p0 is not None:
            if src.affine is None:
                return p0  # non-uniform series: the slice's own position
            return p0 + src.affine[:3, 0] * c + src.affine[:3, 1] * r
    if src.affine is None:
        return None
    return (src.affine @ np.array([c, r, k, 1.0]))[:3]


def _matching_index(origin: SeriesViewer, other: SeriesViewer) -> int:
    """Index in ``other`` nearest to ``origin``'s slice: by patient position, else by index."""
    n = other._n_index()
    point = _world_center(origin)
    src = other.source
    same_space = origin.source.coordinate_space == src.coordinate_space
    if same_space and point is not None and _world_center(other) is not None:
        pane = other._panes[other._active]
        axis = pane.plane.normal_axis
        normal = src.normal()
        if pane.plane.view == "acquired" and normal is not None:
            positions = [src.position(k) for k in range(src.n_slices)]
            if all(p is not None for p in positions):
                dist = [abs(float((p - point) @ normal)) for p in positions]
                return int(np.argmin(dist))
        if src.affine is not None:
            inv = np.linalg.inv(src.affine)
            c, r, k = (inv @ np.append(point, 1.0))[:3]
            return int(np.clip(round((k, r, c)[axis]), 0, n - 1))
    return int(np.clip(origin.index, 0, n - 1))


def link(*viewers: SeriesViewer, window: bool = False) -> ViewerLink:
    """Keep viewers on the same slice (and optionally the same window).

    Position is matched by patient coordinate when the viewers share a coordinate space (DICOM
    series with positions, or numpy volumes with a ``spacing``), so a thin and a thick series, or
    original and resampled, stay on the same anatomy; otherwise (e.g. a DICOM series and a numpy
    array, which has no patient origin) by index.

    Parameters
    ----------
    viewers : SeriesViewer
        Two or more viewers.
    window : bool
        Also sync window centre/width and invert.

    Returns
    -------
    ViewerLink
        Call ``.unlink()`` to stop.

    Examples
    --------
    >>> a, b = SeriesViewer(original), SeriesViewer(processed)  # doctest: +SKIP
    >>> dw.link(a, b, window=True)  # doctest: +SKIP
    >>> widgets.HBox([a, b])  # doctest: +SKIP
    """
    return ViewerLink(viewers, window=window)
