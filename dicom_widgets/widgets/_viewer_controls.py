"""The viewer's controls: sliders, window boxes, view buttons, linked to its traits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets
import traitlets

if TYPE_CHECKING:
    from .viewer import SeriesViewer

__all__ = ["ViewerControls", "CMAPS"]

#: Colormaps offered for grey data (any matplotlib name is accepted by the ``cmap`` trait).
CMAPS = ("gray", "bone", "viridis", "magma", "inferno", "hot", "jet", "gist_heat", "turbo")

#: (control attribute, viewer trait) pairs kept equal both ways.
_LINKS = (
    ("slider", "index"),
    ("time_slider", "time"),
    ("play_button", "playing"),
    ("fps_box", "fps"),
    ("loop_box", "loop"),
    ("center_box", "window_center"),
    ("width_box", "window_width"),
    ("invert_box", "invert"),
    ("annotations_box", "show_annotations"),
    ("identifiers_box", "hide_identifiers"),
    ("overlays_box", "show_overlays"),
    ("view_buttons", "view"),
)


class ViewerControls:
    """The ipywidgets around a viewer's canvas, each linked to one of its traits.

    Attributes
    ----------
    nav_row, time_row, window_row, view_row : ipywidgets.HBox
        The rows above the canvas.
    slider, time_slider : ipywidgets.IntSlider
    readout_label, status_label : ipywidgets.Label
        Below the canvas.
    """

    def __init__(self, viewer: SeriesViewer) -> None:
        model = viewer.model
        src = model.source
        compact = widgets.Layout(width="auto")
        # Frames without geometry (cine loops, multi-frame captures) are not "slices".
        self.slider = widgets.IntSlider(
            0, 0, max(model.n_index() - 1, 0), description="Slice" if src.affine is not None else "Frame",
            continuous_update=True, readout=False, layout=widgets.Layout(width="320px"),
        )  # fmt: skip
        self.counter = widgets.Label("", layout=widgets.Layout(min_width="190px"))
        self.play_button = widgets.ToggleButton(
            False,
            description="Play",
            icon="play",
            tooltip="Cine (kernel-side timer)",
            layout=compact,
        )
        self.fps_box = widgets.BoundedFloatText(
            10.0, min=0.5, max=120, step=1, description="fps", layout=widgets.Layout(width="130px")
        )
        self.loop_box = widgets.Checkbox(True, description="loop", indent=False, layout=compact)
        self.nav_row = widgets.HBox(
            [self.slider, self.counter, self.play_button, self.fps_box, self.loop_box]
        )
        self.time_slider = widgets.IntSlider(
            0, 0, max(src.n_times - 1, 0), description="Time", continuous_update=True,
            layout=widgets.Layout(width="320px"),
        )  # fmt: skip
        self.time_row = widgets.HBox([self.time_slider])
        if src.n_times < 2:
            self.time_row.layout.display = "none"
        self._build_window_row(viewer, compact)
        self._build_view_row(viewer, compact)
        self.readout_label = widgets.Label("")
        self.readout_label.add_class("dw-readout")
        self.status_label = widgets.Label("")
        self.status_label.add_class("dw-status")

    def _build_window_row(self, viewer: SeriesViewer, compact: widgets.Layout) -> None:
        src = viewer.model.source
        self.preset_dropdown = widgets.Dropdown(
            options=viewer.model.preset_options(),
            description="Window",
            layout=widgets.Layout(width="260px"),
        )
        self.center_box = widgets.FloatText(
            0.0, description="C", layout=widgets.Layout(width="140px")
        )
        # Bounded so that typing 0 or a negative width is refused in the browser already.
        self.width_box = widgets.BoundedFloatText(
            1.0, min=1e-6, max=1e9, description="W", layout=widgets.Layout(width="140px")
        )
        self.auto_button = widgets.Button(
            description="Auto", tooltip="Window from this slice's percentiles", layout=compact
        )
        self.auto_button.on_click(lambda _: viewer.auto_window())
        self.invert_box = widgets.Checkbox(
            False, description="invert", indent=False, layout=compact
        )
        self.cmap_dropdown = widgets.Dropdown(
            options=list(CMAPS),
            value="gray",
            description="cmap",
            layout=widgets.Layout(width="170px"),
        )
        if src.is_color or src.modality.upper() == "CT":
            self.cmap_dropdown.layout.display = "none"
        children: list[widgets.Widget] = [
            self.preset_dropdown,
            self.center_box,
            self.width_box,
            self.auto_button,
            self.invert_box,
            self.cmap_dropdown,
        ]
        if src.is_color:
            children = [widgets.Label("colour image: window does not apply")]
        self.window_row = widgets.HBox(children)

    def _build_view_row(self, viewer: SeriesViewer, compact: widgets.Layout) -> None:
        model = viewer.model
        self.view_buttons = widgets.ToggleButtons(
            options=model.available_views, value="acquired", style={"button_width": "82px"}
        )
        reasons = [r for r in map(model.view_unavailable, ("axial", "ortho")) if r]
        self.view_reason = widgets.Label("reformats unavailable: " + reasons[0] if reasons else "")
        self.annotations_box = widgets.Checkbox(
            True, description="annotations", indent=False, layout=compact
        )
        self.identifiers_box = widgets.Checkbox(
            False, description="hide identifiers", indent=False, layout=compact
        )
        self.overlays_box = widgets.Checkbox(
            True, description="overlays", indent=False, layout=compact
        )
        self.view_row = widgets.HBox(
            [
                self.view_buttons,
                self.annotations_box,
                self.identifiers_box,
                self.overlays_box,
                self.view_reason,
            ]
        )

    def bind(self, viewer: SeriesViewer) -> None:
        """Link the controls to the viewer's traits (Python-side: works without a browser)."""
        for control, name in _LINKS:
            traitlets.link((getattr(self, control), "value"), (viewer, name))
        traitlets.dlink((viewer, "readout"), (self.readout_label, "value"))
        traitlets.dlink((viewer, "status"), (self.status_label, "value"))

        def choose_preset(change: dict) -> None:
            if change["new"] != viewer.preset:
                viewer.preset = change["new"]

        self.preset_dropdown.observe(choose_preset, "value")
        self.cmap_dropdown.observe(lambda change: setattr(viewer, "cmap", change["new"]), "value")

    def show_preset(self, value: str) -> None:
        """Select ``value`` in the preset list when it is one of its entries."""
        if self.preset_dropdown.value != value and value in [
            v for _, v in self.preset_dropdown.options
        ]:
            self.preset_dropdown.value = value

    def show_cmap(self, value: str) -> None:
        """Select ``value`` in the colormap list, adding it when it is not offered."""
        if self.cmap_dropdown.value != value:
            if value not in self.cmap_dropdown.options:
                self.cmap_dropdown.options = [*self.cmap_dropdown.options, value]
            self.cmap_dropdown.value = value

    @property
    def widgets(self) -> list[widgets.Widget]:
        """Every control widget (closed with the viewer)."""
        return [
            *self.nav_row.children,
            *self.time_row.children,
            *self.window_row.children,
            *self.view_row.children,
            self.readout_label,
            self.status_label,
        ]

    def close(self) -> None:
        for child in self.widgets:
            child.close()
        for row in (self.nav_row, self.time_row, self.window_row, self.view_row):
            row.close()
