"""Linked viewers: the same anatomy (and optionally the same window) in several viewers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..view import ViewModel
    from .viewer import SeriesViewer

__all__ = ["ViewerLink", "link"]

_WINDOW_TRAITS = ("window_center", "window_width", "invert")


class ViewerLink:
    """Keeps viewers on the same position (and optionally window). Returned by :func:`link`.

    Examples
    --------
    >>> import numpy as np
    >>> from dicom_widgets import SeriesViewer
    >>> a, b = (SeriesViewer(np.zeros((5, 16, 16)), canvas="image") for _ in range(2))
    >>> sync = ViewerLink([a, b])
    >>> a.index = 4; b.index
    4
    >>> sync.unlink(); a.index = 0; b.index
    4
    """

    def __init__(self, viewers: Sequence[SeriesViewer], window: bool = False) -> None:
        if len(viewers) < 2:
            raise ValueError("link needs at least two viewers")
        self.viewers = list(viewers)
        self.window = window
        self._busy = False
        self._handlers: list[tuple[SeriesViewer, Callable[..., None], list[str]]] = []
        for viewer in self.viewers:
            names = ["index", "time"] + (list(_WINDOW_TRAITS) if window else [])

            def handler(change: dict, viewer: SeriesViewer = viewer) -> None:
                self._sync(viewer, change["name"])

            viewer.observe(handler, names)
            self._handlers.append((viewer, handler, names))
            viewer.links.append(self)
        self._sync(self.viewers[0], "index")
        if window:
            self._sync(self.viewers[0], "window_center")

    def unlink(self) -> None:
        """Stop syncing."""
        for viewer, handler, names in self._handlers:
            viewer.unobserve(handler, names)
            if self in viewer.links:
                viewer.links.remove(self)
        self._handlers = []

    def _sync(self, origin: SeriesViewer, name: str) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            for other in self.viewers:
                if other is origin:
                    continue
                if name in _WINDOW_TRAITS:
                    if not (origin.source.is_color or other.source.is_color):
                        other.drag_window(origin.window_center, origin.window_width)
                        other.invert = origin.invert
                elif name == "time":
                    other.time = min(origin.time, other.source.n_times - 1)
                else:
                    other.index = matching_index(origin.model, other.model)
        finally:
            self._busy = False


def world_center(model: ViewModel) -> np.ndarray | None:
    """Patient position (LPS mm) of the active pane's slice at the cursor, or None."""
    src = model.source
    if hasattr(src, "has_spacing") and not src.has_spacing:
        return None
    k, r, c = model.cursor
    if model.plane().view == "acquired":
        p0 = src.position(int(k))
        if p0 is not None:
            if src.affine is None:
                return p0  # non-uniform series: the slice's own position
            return p0 + src.affine[:3, 0] * c + src.affine[:3, 1] * r
    return model.point


def matching_index(origin: ViewModel, other: ViewModel) -> int:
    """Index in ``other`` nearest to ``origin``'s slice: by patient position, else by index."""
    n = other.n_index()
    point = world_center(origin)
    src = other.source
    same_space = origin.source.coordinate_space == src.coordinate_space
    if same_space and point is not None and world_center(other) is not None:
        plane = other.plane()
        normal = src.normal()
        if plane.view == "acquired" and normal is not None:
            positions = [src.position(k) for k in range(src.n_slices)]
            if all(p is not None for p in positions):
                dist = [abs(float((p - point) @ normal)) for p in positions]
                return int(np.argmin(dist))
        if src.affine is not None:
            inv = np.linalg.inv(src.affine)
            c, r, k = (inv @ np.append(point, 1.0))[:3]
            return int(np.clip(round((k, r, c)[plane.normal_axis]), 0, n - 1))
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
