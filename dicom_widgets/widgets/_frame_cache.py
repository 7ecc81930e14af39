"""Slice frames cached in the browser, so that a slider step repaints without a kernel round trip.

Every slice change of the :class:`~dicom_widgets.widgets.viewer.SeriesViewer` otherwise
travels browser -> server -> kernel (render, encode) -> server -> browser (decode, draw):
about 50 ms on a 2-core machine, of which the kernel's work is a tenth. The
:class:`FrameCache` is a small `anywidget <https://anywidget.dev>`_ that holds a reference
to the slice slider and follows its value *in the browser*: it listens to the slider's model
there, so a step sends the kernel nothing but the slider's own update. The viewer sends
it the frames it renders -- the same PNG bytes ipympl gets -- and, in idle time, the frames
of the neighbouring slices; the front-end decodes them ahead of time and paints the frame of the
new index on a canvas laid over ipympl's in the same animation frame as the key press.

Frames carry a *generation*: the viewer starts a new one whenever anything other than the
slice index changes (window, colormap, overlays, annotations, zoom, size, view), and the
front-end drops older frames, so a cached frame is always the picture the kernel would draw.
Without anywidget (or without ipympl) the viewer simply works without the cache.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anywidget
import ipywidgets as widgets
import traitlets

__all__ = ["FrameCache"]


class FrameCache(anywidget.AnyWidget):
    """The browser-side frame cache of one viewer (see the module docstring).

    Traits
    ------
    slider : ipywidgets.Widget or None
        The viewer's slice slider; its value is the slice shown.
    enabled : bool
        Whether cached frames are painted at all.
    capacity : int
        Decoded frames the browser keeps (the farthest from the slice shown go first).
    """

    _esm = Path(__file__).with_name("_frame_cache.js")
    slider = traitlets.Instance(widgets.Widget, allow_none=True).tag(
        sync=True, **widgets.widget_serialization
    )
    enabled = traitlets.Bool(True).tag(sync=True)
    # 24 decoded 512x512 frames are 24 MB of browser memory (4x that on a HiDPI screen).
    capacity = traitlets.Int(24).tag(sync=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        #: (generation, index) of the frames sent, oldest first (diagnostics and tests).
        self.sent: list[tuple[int, int]] = []
        #: Called when a browser model is ready for frames (those sent before are lost).
        self.on_ready: Callable[[], None] | None = None
        self.on_msg(self._handle_browser_message)

    def _handle_browser_message(self, _: object, content: dict, buffers: list) -> None:
        if isinstance(content, dict) and content.get("type") == "ready" and self.on_ready:
            self.on_ready()

    def send_frame(self, generation: int, index: int, png: bytes) -> None:
        """Send the encoded frame of slice ``index`` in ``generation``."""
        self.send(
            {"type": "frame", "generation": int(generation), "index": int(index)},
            buffers=[png],
        )
        self.sent.append((int(generation), int(index)))
        if len(self.sent) > 4096:
            del self.sent[:2048]
