"""The viewer's matplotlib side: one axes per pane, its artists, the annotations and the legend.

:class:`ViewerFigure` points the artists at what the :class:`~dicom_widgets.view.ViewModel`
rendered (images in place, no re-plotting), draws the layers' vector items, and writes the
corner annotations; everything it owns is *animated*, so the viewer blits it over a
cached background (see :mod:`dicom_widgets.widgets._viewer_render`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from ..view import Frame, Plane, Polyline, TextItem, ViewModel
from ..view.model import ORTHO_PANES
from ._viewer_render import FastImage, RasterCache

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.legend import Legend

__all__ = ["PaneArtists", "ViewerFigure"]

TEXT_COLOR = "#e8e8e8"  # grey text keeps grey frames encodable as 1-byte PNGs
CROSSHAIR_COLOR = "#00c8ff"


@dataclass
class PaneArtists:
    """The axes of one pane and the artists the viewer keeps on it."""

    plane: Plane
    ax: Axes
    image: FastImage
    hline: Line2D
    vline: Line2D
    label: Text
    placeholder: Text
    lines: LineCollection
    texts: list[Text] = field(default_factory=list)
    shape: tuple[int, int] = (0, 0)

    def own(self) -> list[Any]:
        return [self.image, self.hline, self.vline, self.label, self.placeholder, self.lines]


class ViewerFigure:
    """The figure's panes, corner texts and legend for one model."""

    def __init__(self, figure: Figure, model: ViewModel, size: int) -> None:
        self.figure = figure
        self.model = model
        self.size = size
        self.panes: list[PaneArtists] = []
        self.corner_texts: dict[str, Text] = {}
        self.legend: Legend | None = None
        self.raster_cache = RasterCache()
        #: Set when the background must be drawn again (layout or artists changed).
        self.stale_layout = True

    # ------------------------------------------------------------------ layout
    def setup(self) -> None:
        """Rebuild the panes for the model's view (1 or 3 axes)."""
        fig = self.figure
        for pane in self.panes:
            pane.ax.remove()
        self.panes = []
        planes = self.model.planes
        scale = 0.6 if len(planes) == len(ORTHO_PANES) and self.model.view == "ortho" else 1.0
        fig.set_size_inches(
            len(planes) * self.size * scale / 100, self.size * scale / 100, forward=True
        )
        for k, plane in enumerate(planes):
            ax = fig.add_axes([k / len(planes), 0.0, 1.0 / len(planes), 1.0])
            ax.set_axis_off()
            ax.set_facecolor("black")
            self.panes.append(_pane_artists(ax, plane))
        main = self.panes[0].ax
        text = dict(transform=main.transAxes, color=TEXT_COLOR, fontsize=9, animated=True)
        self.corner_texts = {
            "top_left": main.text(0.01, 0.99, "", va="top", ha="left", **text),
            "top_right": main.text(0.99, 0.99, "", va="top", ha="right", **text),
            "bottom_left": main.text(0.01, 0.01, "", va="bottom", ha="left", **text),
            "bottom_right": main.text(0.99, 0.01, "", va="bottom", ha="right", **text),
        }
        self.legend = None
        self.update_legend()
        self.stale_layout = True

    def update_legend(self) -> None:
        """The legend of the model's visible layers, on the first pane."""
        if self.legend is not None:
            self.legend.remove()
            self.legend = None
        entries = [
            Patch(facecolor=e.color, edgecolor="none", alpha=e.alpha, label=e.label)
            for e in self.model.legend()
        ]
        if entries and self.panes:
            self.legend = self.panes[0].ax.legend(
                handles=entries,
                loc="lower center",
                fontsize=7,
                framealpha=0.6,
                ncols=min(len(entries), 4),
            )
            self.legend.set_animated(True)
        self.stale_layout = True

    # ------------------------------------------------------------------ updates
    def update_pane(self, k: int, frame: Frame, crosshair: bool) -> None:
        """Point pane ``k``'s artists at a rendered frame (no drawing)."""
        pane = self.panes[k]
        rgba = frame.rgba
        rows, cols = rgba.shape[:2]
        if (rows, cols) != pane.shape:
            pane.shape = (rows, cols)
            pane.image.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
            pane.ax.set_xlim(-0.5, cols - 0.5)
            pane.ax.set_ylim(rows - 0.5, -0.5)
            pane.ax.set_aspect(self.model.aspect(k))
            self.stale_layout = True
        pane.image._A = rgba  # validated shape/dtype; skip set_data's copy and checks
        pane.image._imcache = None
        pane.image.stale = True
        pane.placeholder.set_visible(bool(frame.problem))
        if frame.problem:
            pane.placeholder.set_text(textwrap.fill(frame.problem, 48))
        ortho = self.model.view == "ortho"
        if ortho and crosshair:
            row, col = frame.pane.plane.screen(frame.pane.cursor, frame.pane.volume_shape)
            pane.hline.set_ydata([row, row])
            pane.vline.set_xdata([col, col])
        pane.hline.set_visible(ortho and crosshair)
        pane.vline.set_visible(ortho and crosshair)
        pane.label.set_visible(ortho and k > 0)
        if ortho and k > 0:
            # The first pane carries the corner annotations; its name goes top right there.
            n = frame.pane.volume_shape[pane.plane.normal_axis]
            pane.label.set_text(f"{pane.plane.view} {frame.pane.index + 1}/{n}")
        self._update_items(
            pane, self.model.items(k, index=frame.pane.cursor[self.model.plane().normal_axis])
        )

    def _update_items(self, pane: PaneArtists, items: list[Polyline | TextItem]) -> None:
        lines = [i for i in items if isinstance(i, Polyline)]
        segments = []
        for line in lines:
            points = np.asarray(line.points, float)[:, ::-1]  # (row, col) -> (x, y)
            segments.append(np.vstack([points, points[:1]]) if line.closed else points)
        pane.lines.set_segments(segments)
        pane.lines.set_colors([(*line.color[:3], line.alpha) for line in lines])
        pane.lines.set_linewidths([line.width for line in lines])
        pane.lines.set_visible(bool(lines))
        texts = [i for i in items if isinstance(i, TextItem)]
        while len(pane.texts) < len(texts):
            pane.texts.append(pane.ax.text(0, 0, "", fontsize=8, animated=True, visible=False))
        for artist, item in zip(pane.texts, texts):
            artist.set_position((item.col, item.row))
            artist.set_text(item.text)
            artist.set_color(item.color)
            artist.set_fontsize(item.size)
            artist.set_visible(True)
        for artist in pane.texts[len(texts) :]:
            artist.set_visible(False)

    def update_annotations(self, visible: bool, hide_identifiers: bool, index: int) -> None:
        """The corner texts for the active pane at plane ``index``."""
        texts = self.corner_texts
        for text in texts.values():
            text.set_visible(visible)
        if not visible:
            return
        model = self.model
        src = model.source
        top_left = []
        if not hide_identifiers:
            ids = src.identifiers()
            top_left += [
                ids[key] for key in ("PatientName", "PatientID", "StudyDate") if ids.get(key)
            ]
        if src.description:
            top_left.append(src.description)
        texts["top_left"].set_text("\n".join(top_left))
        plane = model.plane()
        view = plane.view
        if model.view == "ortho":
            first = model.pane(0, index=index)
            view = f"{first.plane.view} {first.index + 1}/{model.n_index(0)}"
        note = " (nearest plane)" if plane.oblique else ""
        texts["top_right"].set_text(f"{src.modality or ''} {view}{note}".strip())
        prefix = f"{plane.view}: " if model.view == "ortho" else "Im: "
        bottom_left = [f"{prefix}{index + 1}/{model.n_index()}"]
        if src.n_times > 1:
            bottom_left.append(f"T: {model.time + 1}/{src.n_times}")
        mm = model.position_mm(index)
        if mm is not None:
            bottom_left.append(f"Pos: {mm:.1f} mm")
        if model.slab_label:
            bottom_left.append(model.slab_label)
        texts["bottom_left"].set_text("\n".join(bottom_left))
        if src.is_color:
            texts["bottom_right"].set_text("")
        elif model.uses_voi_lut:
            texts["bottom_right"].set_text("VOI LUT (file)")
        else:
            name = "" if model.preset == "custom" else f" ({model.preset})"
            texts["bottom_right"].set_text(
                f"W: {model.window_width:g} L: {model.window_center:g}{name}"
            )

    # ------------------------------------------------------------------ drawing
    def own_artists(self) -> set[int]:
        own = {id(a) for pane in self.panes for a in (*pane.own(), *pane.texts)}
        return own | {id(t) for t in self.corner_texts.values()}

    def user_artists(self, ax: Axes) -> list[Any]:
        """Artists the user added to ``ax`` (drawn again above the blitted image)."""
        own = self.own_artists()
        return [
            artist
            for group in (ax.images, ax.collections, ax.patches, ax.lines, ax.texts)
            for artist in group
            if id(artist) not in own and artist.get_visible() and not artist.get_animated()
        ]

    def animated_artists(self, show_legend: bool) -> list[Any]:
        mine: list[Any] = []
        for pane in self.panes:
            mine.append(pane.image)
            mine += self.user_artists(pane.ax)
            mine += [pane.lines, *pane.texts, pane.hline, pane.vline, pane.label, pane.placeholder]
        mine += list(self.corner_texts.values())
        if self.legend is not None and show_legend:
            mine.append(self.legend)
        return mine

    def static_artists(self) -> dict[int, Any]:
        """Annotations that rarely change, keyed for :class:`RasterCache` (text + place)."""
        out: dict[int, Any] = {}
        texts = list(self.corner_texts.items())
        texts += [(f"pane{k}", p.label) for k, p in enumerate(self.panes)]
        for name, text in texts:
            if name == "bottom_left":
                continue  # changes with every slice: drawn directly
            bounds = tuple(text.axes.bbox.bounds) if text.axes is not None else ()
            out[id(text)] = (name, text.get_text(), bounds)
        if self.legend is not None:
            labels = tuple(t.get_text() for t in self.legend.get_texts())
            out[id(self.legend)] = ("legend", labels, tuple(self.legend.axes.bbox.bounds))
        return out

    def draw_animated(self, renderer: Any, show_legend: bool) -> None:
        static = self.static_artists()
        for artist in self.animated_artists(show_legend):
            if not artist.get_visible():
                continue
            key = static.get(id(artist))
            if key is not None:
                self.raster_cache.draw(artist, renderer, key)
            else:
                artist.draw(renderer)

    def layout_key(self, renderer: Any) -> tuple[Any, ...]:
        """What the cached background depends on: the renderer object and every pane's place.

        A new renderer (figure resized, dpi changed by a HiDPI browser, savefig) starts
        cleared, and axes move when the figure is resized or the aspect is re-applied; a
        background from before either would paint a stale or transparent frame.
        """
        return (
            id(renderer),
            renderer.width,
            renderer.height,
            tuple(tuple(np.round(p.ax.bbox.bounds, 3)) for p in self.panes),
        )


def _pane_artists(ax: Axes, plane: Plane) -> PaneArtists:
    image = FastImage(ax, interpolation="nearest", origin="upper", animated=True)
    image.set_data(np.zeros((2, 2, 4), np.uint8))
    ax.add_image(image)
    hline = ax.axhline(0, color=CROSSHAIR_COLOR, lw=0.8, animated=True, visible=False)
    vline = ax.axvline(0, color=CROSSHAIR_COLOR, lw=0.8, animated=True, visible=False)
    label = ax.text(0.02, 0.98, "", transform=ax.transAxes, color=TEXT_COLOR, fontsize=8, va="top", animated=True, visible=False)  # fmt: skip
    placeholder = ax.text(0.5, 0.5, "", transform=ax.transAxes, color="#ff8080", fontsize=9, ha="center", va="center", wrap=True, animated=True, visible=False)  # fmt: skip
    lines = LineCollection([], animated=True, visible=False)
    ax.add_collection(lines, autolim=False)
    return PaneArtists(plane, ax, image, hline, vline, label, placeholder, lines)
