"""The fast drawing path of :class:`~dicom_widgets.widgets.viewer.SeriesViewer`.

What ipympl does on a redraw (ipympl 0.10 / matplotlib 3.x, ``backend_webagg_core``):
``draw_idle`` sends a "draw" request to the browser, the browser answers "draw", the
kernel re-renders the *whole figure* with Agg (about 12 ms for a 512x512 image plus
axes), then ``get_diff_image`` compares the RGBA buffer with the previous one and
encodes the changed pixels as an RGBA PNG with Pillow's default zlib level (about
30-40 ms for a 512x512 CT slice), and ``send_binary`` ships it; as long as the
front-end has not said "initialized" it encodes a second PNG for ``_data_url``.

This module keeps the ipympl front-end and its protocol (a binary PNG per frame,
``image_mode`` "full"/"diff") and makes each step cheap:

* **Blitting.** The figure background (figure and axes patches, ticks, anything the
  user drew) is rendered once and cached; a slice change restores it and draws only
  the viewer's animated artists (image, overlays, crosshair, annotations), then calls
  ``canvas.blit``, which goes straight to ``refresh_all`` without the draw round trip.
* **No resampling work in matplotlib.** :class:`FastImage` takes pre-coloured RGBA
  ``uint8`` data (the viewer applies the series' windowing LUT and a colormap LUT) and
  resamples it with nearest-neighbour index arrays: a slicing view at 1:1, one
  ``take`` otherwise (about 1 ms instead of 5-8 ms).
* **A cheaper lossless encoding.** :func:`encode_png` writes the PNG itself: the
  smallest colour type that holds the frame exactly (grey, RGB or RGBA), no PNG
  filter and zlib level 1. Sent as a "full" frame, because a diff frame must be RGBA
  and for a slice change nearly every image pixel changes anyway.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import time
import warnings
import zlib
from typing import Any

import numpy as np
from matplotlib.image import AxesImage
from matplotlib.transforms import Bbox, TransformedBbox

__all__ = [
    "FastImage",
    "RasterCache",
    "SendRecorder",
    "choose_canvas",
    "encode_png",
    "frame_to_png",
    "import_ipympl_backend",
    "make_canvas",
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF)
    )


def encode_png(pixels: np.ndarray, level: int = 1) -> bytes:
    """Encode an image as PNG, fast: filter type 0 and zlib ``level`` (1 by default).

    Parameters
    ----------
    pixels : numpy.ndarray
        ``uint8`` array of shape (rows, cols) (grey), (rows, cols, 1), (rows, cols, 3)
        (RGB) or (rows, cols, 4) (RGBA).
    level : int
        zlib compression level, 0-9. Level 1 is several times faster than Pillow's
        default (6) for a few percent more bytes.

    Returns
    -------
    bytes
        A complete PNG file.

    Examples
    --------
    >>> png = encode_png(np.zeros((2, 3), dtype=np.uint8))
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        raise TypeError(f"encode_png needs uint8 pixels, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        color_type, channels = 0, 1
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        channels = arr.shape[2]
        color_type = 2 if channels == 3 else 6
    else:
        raise ValueError(f"expected (rows, cols[, 1|3|4]) pixels, got shape {arr.shape}")
    rows, cols = arr.shape[:2]
    # One filter byte (0 = None) in front of every row; filtering costs more time than it
    # saves bytes on medical images that are already mostly smooth or flat.
    raw = np.zeros((rows, 1 + cols * channels), dtype=np.uint8)
    raw[:, 1:] = arr.reshape(rows, cols * channels)
    header = struct.pack(">IIBBBBB", cols, rows, 8, color_type, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw.data, level)),
            _chunk(b"IEND", b""),
        )
    )


def frame_to_png(rgba: np.ndarray, level: int = 1) -> tuple[bytes, bool]:
    """Encode a rendered RGBA frame with the smallest exact PNG colour type.

    Returns ``(png, opaque)``; ``opaque`` is False when some pixel is transparent (the
    frame was then encoded as RGBA).
    """
    alpha = rgba[:, :, 3]
    if alpha.min() != 255:
        return encode_png(rgba, level), False
    red, green, blue = rgba[:, :, 0], rgba[:, :, 1], rgba[:, :, 2]
    if np.array_equal(red, green) and np.array_equal(green, blue):
        return encode_png(red, level), True
    return encode_png(rgba[:, :, :3], level), True


class FastImage(AxesImage):
    """An ``AxesImage`` for pre-coloured RGBA ``uint8`` data with nearest-neighbour sampling.

    Matplotlib's general path resamples every channel through Agg and runs the norm and
    colormap on every draw. The viewer already holds display-ready RGBA pixels, so this
    subclass only picks source pixels with integer index arrays (cached per geometry),
    which is exact for nearest-neighbour display. Any other data (a 2-D array, floats,
    another interpolation) falls back to matplotlib's own code.
    """

    _index_cache: tuple[Any, Any] | None = None

    def _fast_ok(self) -> bool:
        A = self._A
        return (
            A is not None
            and A.ndim == 3
            and A.shape[2] == 4
            and A.dtype == np.uint8
            and self.get_interpolation() in ("nearest", "none")
            and self.get_transform().is_affine
        )

    def make_image(self, renderer: Any, magnification: float = 1.0, unsampled: bool = False):
        if unsampled or not self._fast_ok():
            return super().make_image(renderer, magnification, unsampled)
        A = self._A
        x1, x2, y1, y2 = self.get_extent()
        bbox = Bbox(np.array([[x1, y1], [x2, y2]]))
        trans = self.get_transform()
        out_bbox = TransformedBbox(bbox, trans)
        clip = (
            (self.get_clip_box() or self.axes.bbox)
            if self.get_clip_on()
            else self.get_figure(root=True).bbox
        )
        clipped = Bbox.intersection(out_bbox, clip)
        if clipped is None:
            return None, 0, 0, None
        ext = clipped.extents * magnification
        # Same pixel-border rounding as matplotlib's _make_image.
        x0 = np.floor(ext[0] + 0.5)
        y0 = np.ceil(ext[1] - 0.5 - 1e-8)
        xe = np.floor(ext[2] + 0.5 + 1e-8)
        ye = np.ceil(ext[3] - 0.5)
        width, height = int(xe - x0), int(ye - y0)
        if width <= 0 or height <= 0:
            return None, 0, 0, None
        matrix = trans.get_matrix()
        if abs(matrix[0, 1]) > 1e-12 or abs(matrix[1, 0]) > 1e-12:
            return super().make_image(renderer, magnification, unsampled)
        key = (
            A.shape[:2],
            (x1, x2, y1, y2),
            tuple(matrix.ravel()),
            (x0, y0, width, height),
            magnification,
            self.origin,
        )
        cache = self._index_cache
        if cache is None or cache[0] != key:
            # Centres of the output pixels, in display space, mapped back to data space.
            xs = (x0 + np.arange(width) + 0.5) / magnification
            ys = (y0 + np.arange(height) + 0.5) / magnification
            inv = trans.inverted()
            data_x = inv.transform(np.column_stack([xs, np.full(width, ys[0])]))[:, 0]
            data_y = inv.transform(np.column_stack([np.full(height, xs[0]), ys]))[:, 1]
            n_rows, n_cols = A.shape[:2]
            # Extent (x1, x2, y1, y2) spans the array's columns and rows.
            cols = np.floor((data_x - x1) / (x2 - x1) * n_cols).astype(np.intp)
            frac_y = (data_y - y1) / (y2 - y1)
            rows_from_bottom = np.floor(frac_y * n_rows).astype(np.intp)
            rows = rows_from_bottom if self.origin == "lower" else n_rows - 1 - rows_from_bottom
            np.clip(cols, 0, n_cols - 1, out=cols)
            np.clip(rows, 0, n_rows - 1, out=rows)
            # Output row 0 is the bottom of the picture: Agg's draw_image flips it.
            col_slice = _as_slice(cols)
            row_slice = _as_slice(rows)
            self._index_cache = cache = (key, (rows, cols, row_slice, col_slice))
        rows, cols, row_slice, col_slice = cache[1]
        packed = A.view(np.uint32).reshape(A.shape[:2])
        if row_slice is not None and col_slice is not None:
            out = packed[row_slice, col_slice]
        else:
            picked = packed[row_slice] if row_slice is not None else packed.take(rows, axis=0)
            out = picked[:, col_slice] if col_slice is not None else picked.take(cols, axis=1)
        out = np.ascontiguousarray(out).view(np.uint8).reshape(height, width, 4)
        alpha = self._get_scalar_alpha()
        if alpha < 1.0:
            out = out.copy()
            out[:, :, 3] = (out[:, :, 3] * alpha).astype(np.uint8)
        return out, x0 / magnification, y0 / magnification, None


def _as_slice(index: np.ndarray) -> slice | None:
    """A slice equal to ``index`` when it is a unit-step range (the 1:1 case), else None."""
    if index.size == 0:
        return None
    start = int(index[0])
    if np.array_equal(index, np.arange(start, start + index.size)):
        return slice(start, start + index.size)
    return None


class SendRecorder:
    """Record what a canvas sends to the front-end: sizes, times, the last PNG.

    Wraps ``canvas.send_binary`` (the last step of ipympl's refresh path) without
    changing what is sent. Used by the benchmark and tests.
    """

    def __init__(self, canvas: Any) -> None:
        self.canvas = canvas
        self.frames: list[bytes] = []
        #: ``time.perf_counter()`` and ``time.process_time()`` after each send.
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self._original = canvas.send_binary

        def send_binary(data: bytes) -> None:
            self._original(data)
            self.times.append(time.perf_counter())
            self.cpu_times.append(time.process_time())
            self.frames.append(bytes(data))

        canvas.send_binary = send_binary

    @property
    def last(self) -> bytes | None:
        return self.frames[-1] if self.frames else None

    def close(self) -> None:
        self.canvas.send_binary = self._original


def import_ipympl_backend() -> Any:
    """Import ``ipympl.backend_nbagg`` without switching the user's matplotlib backend.

    ``import ipympl`` calls ``matplotlib.use("module://ipympl.backend_nbagg")`` when
    matplotlib is already imported, which would turn every later ``plt.show()`` of the
    notebook into an ipympl widget. The viewer only needs ipympl's canvas class, so the
    previous backend is put back.
    """
    import sys

    import matplotlib

    if "ipympl" in sys.modules:
        import ipympl.backend_nbagg as module

        return module
    previous = dict.__getitem__(matplotlib.rcParams, "backend")
    try:
        import ipympl.backend_nbagg as module
    finally:
        if dict.__getitem__(matplotlib.rcParams, "backend") != previous:
            from matplotlib import rcsetup

            if previous is rcsetup._auto_backend_sentinel or "matplotlib.pyplot" not in sys.modules:
                dict.__setitem__(matplotlib.rcParams, "backend", previous)
                if "matplotlib.pyplot" in sys.modules:
                    sys.modules["matplotlib.pyplot"].switch_backend(previous)
            else:
                matplotlib.use(previous)
    return module


def choose_canvas(canvas: str, *, needs: str, instead: str, env_var: str | None = None) -> str:
    """Resolve a widget's ``canvas`` argument to ``"ipympl"`` or ``"image"``.

    Parameters
    ----------
    canvas : {"auto", "ipympl", "image"}
        ``"auto"`` takes ipympl when it imports (or the value of ``env_var`` when set).
    needs, instead : str
        What needs ipympl and what to use instead, for the error when ``"ipympl"`` is asked
        for and cannot be imported.
    env_var : str, optional
        An environment variable that overrides ``"auto"``.
    """
    choice = canvas
    if choice == "auto" and env_var:
        choice = os.environ.get(env_var, "auto").strip().lower() or "auto"
    if choice not in ("auto", "ipympl", "image"):
        raise ValueError(f"canvas must be 'auto', 'ipympl' or 'image', got {canvas!r}")
    if choice == "image":
        return "image"
    try:
        import_ipympl_backend()
    except Exception as exc:  # noqa: BLE001 - any import failure means: no ipympl here
        if choice == "ipympl":
            from ..errors import MissingDependencyError

            raise MissingDependencyError(
                f"{needs} needs ipympl ({exc}); pip install ipympl, or use {instead}"
            ) from exc
        return "image"
    return "ipympl"


def _canvas_class() -> type:
    """An ipympl ``Canvas`` subclass with a cheaper :meth:`get_diff_image`."""
    Canvas = import_ipympl_backend().Canvas

    class ViewerCanvas(Canvas):
        """ipympl's canvas, sending each frame as a fast lossless PNG (see module docs)."""

        #: bytes of the last frame sent, for diagnostics.
        last_frame_bytes = 0
        #: Called with every frame's PNG (the viewer's browser-side frame cache).
        frame_listener: Any = None
        #: Held by everything that draws on or reads the Agg buffer: ipympl handles some
        #: front-end messages (a "draw" request) while the viewer may be rendering, so
        #: drawing is serialised (re-entrant for the viewer's own nested calls).
        draw_lock: Any = None
        #: Depth of draws in progress in the thread holding the lock.
        drawing = 0

        @contextlib.contextmanager
        def _drawing(self) -> Any:
            with self.draw_lock:
                self.drawing += 1
                try:
                    yield
                finally:
                    self.drawing -= 1

        def draw(self) -> None:
            with self._drawing():
                super().draw()

        def blit(self, bbox: Any = None) -> None:
            with self._drawing():
                super().blit(bbox)

        def get_diff_image(self) -> bytes | None:
            with self.draw_lock:
                return self._encode_frame()

        def _encode_frame(self) -> bytes | None:
            if not self._png_is_old:
                return None
            pixels = np.asarray(self.get_renderer().buffer_rgba())
            png, _ = frame_to_png(pixels)
            # The front-end clears and repaints on "full" frames, so no diff (and no copy of
            # the previous buffer) is needed.
            self.set_image_mode("full")
            self._force_full = False
            self._png_is_old = False
            self._last_png = png
            self.last_frame_bytes = len(png)
            if self.frame_listener is not None:
                self.frame_listener(png)
            return png

        def send_binary(self, data: bytes) -> None:
            if self.syncing_data_url:
                # Until the front-end says "initialized" (and forever under nbconvert), ipympl
                # keeps a data URL of the figure for static rendering: reuse our PNG instead
                # of encoding a second one with Pillow.
                import base64

                self._data_url = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            self.send({"data": '{"type": "binary"}'}, buffers=[data])

    return ViewerCanvas


_CANVAS_CLASS: type | None = None


def make_canvas(figure: Any) -> Any:
    """Attach an ipympl canvas (and manager with toolbar) to ``figure`` and return the canvas."""
    global _CANVAS_CLASS
    if _CANVAS_CLASS is None:
        _CANVAS_CLASS = _canvas_class()
    FigureManager = import_ipympl_backend().FigureManager

    canvas = _CANVAS_CLASS(figure)
    canvas.draw_lock = threading.RLock()
    with warnings.catch_warnings():
        # ipympl 0.10's Toolbar passes the canvas on to traitlets, which warns about it.
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*Toolbar")
        FigureManager(canvas, id(figure))
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.toolbar_position = "left"
    return canvas


class RasterCache:
    """Draw slowly-changing artists (corner texts, legend) from cached RGBA patches.

    Text rendering (FreeType layout and glyphs) is the largest cost of a blitted frame
    after the image itself. Most annotations stay the same from slice to slice, so each
    one is rasterised once on a transparent offscreen renderer and then composited
    with a single ``draw_image`` until its key (text, position, size, dpi) changes.
    """

    def __init__(self) -> None:
        self._patches: dict[int, tuple[Any, np.ndarray | None, int, int]] = {}

    def clear(self) -> None:
        self._patches.clear()

    def draw(self, artist: Any, renderer: Any, key: Any) -> None:
        """Draw ``artist`` on ``renderer``, from the cache when ``key`` is unchanged."""
        full_key = (key, renderer.width, renderer.height, renderer.dpi)
        cached = self._patches.get(id(artist))
        if cached is None or cached[0] != full_key:
            cached = (full_key, *self._rasterise(artist, renderer))
            self._patches[id(artist)] = cached
        _, patch, x0, y0 = cached
        if patch is not None:
            gc = renderer.new_gc()
            renderer.draw_image(gc, x0, y0, patch)
            gc.restore()

    @staticmethod
    def _rasterise(artist: Any, renderer: Any) -> tuple[np.ndarray | None, int, int]:
        from matplotlib.backends.backend_agg import RendererAgg

        width, height = int(renderer.width), int(renderer.height)
        offscreen = RendererAgg(width, height, renderer.dpi)
        artist.draw(offscreen)
        bbox = artist.get_window_extent(offscreen)
        x0 = max(int(np.floor(bbox.x0)) - 2, 0)
        x1 = min(int(np.ceil(bbox.x1)) + 2, width)
        y0 = max(int(np.floor(bbox.y0)) - 2, 0)
        y1 = min(int(np.ceil(bbox.y1)) + 2, height)
        if x1 <= x0 or y1 <= y0:
            return None, 0, 0
        pixels = np.asarray(offscreen.buffer_rgba())
        # Buffer rows run top-down; display y runs bottom-up.
        patch = pixels[height - y1 : height - y0, x0:x1]
        if not patch[..., 3].any():
            return None, 0, 0
        # Agg's draw_image wants the patch as it appears, bottom row last.
        return np.ascontiguousarray(patch[::-1]), x0, y0
