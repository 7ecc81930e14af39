"""TagExplorer: search, browse and understand every element of a dataset or series.

A thin composition of stock ipywidgets around :mod:`dicom_widgets.tags`:

- a debounced search box (keyword, name words, tag in any spelling, VR, values);
- filters: private elements on/off, group by module, only elements varying across the series;
- a paged HTML table (only the visible page is rendered) and a ``Select`` of the page's rows;
- a detail pane with the full value, VR and VM meanings and the copyable Python expression;
- a "Varies" tab listing elements that differ between instances, with a small plot of
  numeric ones against slice index;
- an instance slider when the source has several instances.

State lives in traitlets (``query``, ``page``, ``selected``, ``instance``, ``show_private``,
``group_by_module``, ``only_varying``), so tests and other code drive it by setting traits.

Examples
--------
>>> from dicom_widgets.data import ct_phantom
>>> explorer = TagExplorer(ct_phantom(n_slices=4, size=16))
>>> explorer.query = "slice location"
>>> explorer.selected_row.keyword
'SliceLocation'
>>> explorer.expression.value
'ds.SliceLocation'
"""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import traitlets
from pydicom.dataset import Dataset

from .. import tags as core
from ..html.tags import detail_html, diff_html, explorer_html, varies_html

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TagExplorer", "DiffView"]

# Checkboxes are 300 px wide by default: far apart in one row.
_AUTO_WIDTH = {"width": "auto"}
_MODULE_ORDER = {name: i for i, name in enumerate(["File Meta Information", *core.MODULE_KEYWORDS])}


class _Source:
    """Uniform access to the instances of whatever was passed to the explorer."""

    def __init__(self, source: Any) -> None:
        self._datasets: list[Dataset] | None = None
        self._series: Any = None
        self._paths: list[str] | None = None
        self.title = ""
        if isinstance(source, Dataset):
            self._datasets = [source]
            self.title = str(getattr(source, "filename", "") or "dataset")
        elif isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if os.path.isdir(path):
                from ..series import load_series

                self._series = load_series(path, progress=False)
            else:
                self._paths = [path]
            self.title = path
        elif hasattr(source, "dataset") and hasattr(source, "__len__"):
            self._series = source
            self.title = str(getattr(source, "description", "") or type(source).__name__)
        else:
            items = list(source)
            if not items:
                raise ValueError("TagExplorer needs at least one dataset")
            if all(isinstance(d, Dataset) for d in items):
                self._datasets = items
            else:
                self._paths = [os.fspath(p) for p in items]
            self.title = f"{len(items)} instances"
        self._cache: dict[int, Dataset] = {}

    def __len__(self) -> int:
        if self._datasets is not None:
            return len(self._datasets)
        if self._paths is not None:
            return len(self._paths)
        return len(self._series)

    def dataset(self, i: int) -> Dataset:
        if self._datasets is not None:
            return self._datasets[i]
        if self._paths is not None:
            if i not in self._cache:
                from .._compat import read_dataset
                from ..errors import DicomReadError

                path = self._paths[i]
                try:
                    # Pixel data stays on disk (summarised from its length). Without
                    # force, a non-DICOM file is refused instead of shown as garbage.
                    self._cache[i] = read_dataset(path, defer_size="256 KB")
                except FileNotFoundError as exc:
                    raise DicomReadError(path, "file not found") from exc
                except Exception as exc:  # noqa: BLE001 - pydicom's parse errors have many types
                    try:  # DICOM without the Part 10 header (pydicom's no_meta.dcm...)
                        ds = read_dataset(path, force=True, defer_size="256 KB")
                    except Exception:  # noqa: BLE001 - not DICOM at all: said below
                        ds = None
                    if ds is None or not len(ds):
                        raise DicomReadError(path, f"not readable as DICOM ({exc})") from exc
                    self._cache[i] = ds
            return self._cache[i]
        return self._series.dataset(i)


class TagExplorer(widgets.VBox):
    """Explore the elements of a dataset, a file, a series or a list of datasets.

    Parameters
    ----------
    source : Dataset, path, Series or list of Dataset/paths
        What to explore. A ``Series`` (anything with ``dataset(i)`` and ``len``) or a
        list gives an instance slider and the "Varies" tab.
    page_size : int
        Rows per page of the table.
    debounce : float
        Seconds to wait after the last keystroke before searching (0: search on every
        keystroke). Outside a running event loop (scripts, tests) the search is immediate.
    max_items_per_sequence : int, optional
        Items of each sequence flattened per instance (``None``: all).

    Attributes
    ----------
    search_box : ipywidgets.Text
        The search field (``continuous_update=True``; debounced into :attr:`query`).
    table : ipywidgets.HTML
        The current page.
    row_select : ipywidgets.Select
        Rows of the current page; choosing one sets :attr:`selected`.
    detail : ipywidgets.HTML
        Full value, VR/VM meaning and path of the selected row.
    expression : ipywidgets.Text
        Python expression of the selected element (select and copy).
    tabs : ipywidgets.Tab
        "Elements" and "Varies".

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> explorer = TagExplorer(pydicom_file("ct_small"))
    >>> explorer.query = "0010,0010"
    >>> explorer.n_hits, explorer.expression.value
    (1, 'ds.PatientName')
    """

    query = traitlets.Unicode("", help="Applied search query (the box's text after the debounce).")
    instance = traitlets.Int(0, help="Index of the shown instance.")
    show_private = traitlets.Bool(True, help="Show private elements.")
    group_by_module = traitlets.Bool(False, help="Group top-level elements by module.")
    only_varying = traitlets.Bool(False, help="Show only elements that vary across instances.")
    max_depth = traitlets.Int(-1, help="Deepest sequence level shown when not searching (-1: all).")
    page = traitlets.Int(0, help="Current page (0-based).")
    page_size = traitlets.Int(50, help="Rows per page.")
    selected = traitlets.Int(-1, help="Index (ElementRow.index) of the selected row, -1 for none.")
    n_visible = traitlets.Int(
        0, read_only=True, help="Rows matching filters and search (with context)."
    )
    n_hits = traitlets.Int(0, read_only=True, help="Rows matching the search itself.")

    def __init__(
        self,
        source: Any,
        *,
        page_size: int = 50,
        debounce: float = 0.3,
        max_items_per_sequence: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._source = _Source(source)
        self._debounce = float(debounce)
        self._timer: asyncio.TimerHandle | None = None
        self._flatten_options = {"max_items_per_sequence": max_items_per_sequence}
        self._indexes: OrderedDict[int, core.TagIndex] = OrderedDict()
        self._variations: list[core.Variation] | None = None
        self._visible: list[int] = []
        self._hits: set[int] = set()
        self._headers: list[tuple[int, str]] = []
        self._quiet = True  # no rendering until the children exist
        self._quiet_select = False

        self._build_controls(len(self._source))
        super().__init__([self.instance_slider, self._build_tabs()], **kwargs)
        self.page_size = page_size
        self.varying_box.disabled = not self.varies_over
        self._quiet = False
        self._link_controls()
        self._refresh()

    def _build_controls(self, n: int) -> None:
        """Create the controls (public attributes: users restyle or rearrange them)."""
        self.search_box = widgets.Text(
            placeholder="search: keyword, name, tag (0010,0010), VR, value…",
            continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self.private_box = widgets.Checkbox(
            value=True, description="private", indent=False, layout=_AUTO_WIDTH
        )
        self.module_box = widgets.Checkbox(
            value=False, description="group by module", indent=False, layout=_AUTO_WIDTH
        )
        self.depth_choice = widgets.Dropdown(
            options=[
                ("all levels", -1),
                ("top level", 0),
                ("1 level deep", 1),
                ("2 levels deep", 2),
            ],
            value=-1,
            description="show",
            layout=widgets.Layout(width="190px"),
            style={"description_width": "40px"},
        )
        self.varying_box = widgets.Checkbox(
            value=False, description="only varying", indent=False, layout=_AUTO_WIDTH
        )
        self.instance_slider = widgets.IntSlider(
            value=0, min=0, max=max(n - 1, 0), description="instance", continuous_update=False
        )
        self.instance_slider.layout.display = None if n > 1 else "none"
        self.status = widgets.HTML()
        self.table = widgets.HTML(layout=widgets.Layout(max_height="600px", overflow="auto"))
        self.prev_button = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
        self.prev_hit_button = widgets.Button(
            description="▲ hit", tooltip="previous match", layout=widgets.Layout(width="64px")
        )
        self.next_hit_button = widgets.Button(
            description="▼ hit", tooltip="next match", layout=widgets.Layout(width="64px")
        )
        self.page_label = widgets.Label()
        self.row_select = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="100%"))
        self.detail = widgets.HTML(layout=widgets.Layout(overflow="auto"))
        self.expression = widgets.Text(description="Python", layout=widgets.Layout(width="100%"))
        self.varies_table = widgets.HTML()
        self.plot_choice = widgets.Dropdown(options=[], description="plot")
        self.plot = widgets.Image(format="png", layout=widgets.Layout(width="480px"))
        self.varies_status = widgets.HTML()

    def _build_tabs(self) -> widgets.Tab:
        """Arrange the controls into the "Elements" and "Varies" tabs."""
        controls = widgets.HBox(
            [
                self.search_box,
                self.prev_hit_button,
                self.next_hit_button,
                self.private_box,
                self.module_box,
                self.varying_box,
                self.depth_choice,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        pager = widgets.HBox([self.prev_button, self.page_label, self.next_button])
        side = widgets.VBox(
            [self.row_select, self.expression, self.detail],
            layout=widgets.Layout(flex="3 1 0%", min_width="320px"),
        )
        elements = widgets.VBox(
            [
                controls,
                self.status,
                widgets.HBox(
                    [
                        widgets.VBox(
                            [self.table, pager], layout=widgets.Layout(flex="5 1 0%", min_width="0")
                        ),
                        side,
                    ]
                ),
            ]
        )
        varies_box = widgets.VBox(
            [self.varies_status, self.plot_choice, self.plot, self.varies_table]
        )
        self.tabs = widgets.Tab(children=[elements, varies_box])
        self.tabs.set_title(0, "Elements")
        self.tabs.set_title(1, "Varies")
        return self.tabs

    def _link_controls(self) -> None:
        """Bind the controls to the traits: the traits are the state, the controls views."""
        for name, control in (
            ("show_private", self.private_box),
            ("group_by_module", self.module_box),
            ("only_varying", self.varying_box),
            ("instance", self.instance_slider),
        ):
            traitlets.link((self, name), (control, "value"))
        # Not a link: a depth set in code may first have to join the menu, and changing
        # a Dropdown's options resets its value, which a link would write back.
        self.depth_choice.observe(lambda ch: setattr(self, "max_depth", ch["new"]), "value")
        # The box is debounced into the query; a query set in code shows in the box.
        self.search_box.observe(self._on_typing, "value")
        traitlets.dlink((self, "query"), (self.search_box, "value"))
        self.prev_button.on_click(lambda _: setattr(self, "page", self.page - 1))
        self.next_button.on_click(lambda _: setattr(self, "page", self.page + 1))
        self.prev_hit_button.on_click(lambda _: self.goto_hit(-1))
        self.next_hit_button.on_click(lambda _: self.goto_hit(+1))
        self.row_select.observe(self._on_select, "value")
        self.plot_choice.observe(lambda _: self._render_plot(), "value")
        self.tabs.observe(self._on_tab, "selected_index")

    # ------------------------------------------------------------------ data

    @property
    def index(self) -> core.TagIndex:
        """The flattened rows (and search index) of the shown instance, cached per instance."""
        i = self.instance
        found = self._indexes.get(i)
        if found is None:
            found = core.TagIndex(self._source.dataset(i), **self._flatten_options)
            # Build the search text now, as part of showing the instance, so that the first
            # keystroke costs what every other one does (~10 ms for 26,000 rows).
            found.blobs  # noqa: B018 - property with a side effect (the cache)
            self._indexes[i] = found
            while len(self._indexes) > 8:  # bounded: a long series must not keep every header
                self._indexes.popitem(last=False)
        else:
            self._indexes.move_to_end(i)
        return found

    @property
    def rows(self) -> list[core.ElementRow]:
        """All rows of the shown instance."""
        return self.index.rows

    @property
    def visible_rows(self) -> list[core.ElementRow]:
        """Rows passing the filters and the search, in display order (all pages)."""
        rows = self.rows
        return [rows[i] for i in self._visible]

    @property
    def page_rows(self) -> list[core.ElementRow]:
        """Rows of the current page."""
        start = self.page * self.page_size
        return self.visible_rows[start : start + self.page_size]

    @property
    def selected_row(self) -> core.ElementRow | None:
        """The selected row, or ``None``."""
        if 0 <= self.selected < len(self.rows):
            return self.rows[self.selected]
        return None

    @property
    def n_pages(self) -> int:
        """Number of pages."""
        return max(1, -(-len(self._visible) // max(self.page_size, 1)))

    @property
    def varies_over(self) -> str:
        """What the "Varies" view compares: ``"instances"``, ``"frames"`` (per-frame
        functional groups of one multi-frame dataset) or ``""`` (nothing to compare)."""
        if len(self._source) > 1:
            return "instances"
        frames = self._source.dataset(0).get(core.PER_FRAME)
        return "frames" if frames is not None and len(frames) > 1 else ""

    @property
    def n_compared(self) -> int:
        """Number of instances (or frames) the "Varies" view compares."""
        over = self.varies_over
        if over == "frames":
            return len(self._source.dataset(0).get(core.PER_FRAME))
        return len(self._source) if over else 0

    @property
    def variations(self) -> list[core.Variation]:
        """Elements varying across instances, or across frames of one multi-frame dataset."""
        if self._variations is None:
            over = self.varies_over
            if over == "instances":
                n = len(self._source)
                self._variations = core.varies([self._source.dataset(i) for i in range(n)])
            elif over == "frames":
                self._variations = core.varies_frames(self._source.dataset(0))
            else:
                self._variations = []
        return self._variations

    def to_dataframe(self, visible_only: bool = False) -> pd.DataFrame:
        """The shown instance's elements as a pandas DataFrame (see :func:`dicom_widgets.tags.to_dataframe`).

        Parameters
        ----------
        visible_only : bool
            Only the rows passing the current filters and search.
        """
        return core.to_dataframe(self.visible_rows if visible_only else self.rows)

    # ------------------------------------------------------------------ events

    def _on_typing(self, change: dict) -> None:
        text = change["new"]
        if self._debounce <= 0:
            self.query = text
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No event loop (scripts, tests): nothing can fire later, so search now.
            self.query = text
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(self._debounce, self._apply_typed)

    def _apply_typed(self) -> None:
        self._timer = None
        self.query = self.search_box.value

    def refresh(self) -> None:
        """Re-read the datasets (after editing them in code) and redraw, keeping the view."""
        keep = self.selected_row.path if self.selected_row is not None else None
        self._indexes.clear()
        self._variations = None
        self._refresh(keep_path=keep)
        if self.tabs.selected_index == 1:
            self._render_varies()

    def goto_hit(self, step: int = 1) -> None:
        """Select the next (``step=1``) or previous (``-1``) search match, wrapping around."""
        hits = [i for i in self._visible if i in self._hits]
        if not hits:
            return
        if self.selected in hits:
            target = hits[(hits.index(self.selected) + step) % len(hits)]
        else:
            after = [i for i in hits if self._visible.index(i) > self._position(self.selected)]
            target = (after[0] if after else hits[0]) if step > 0 else hits[-1]
        self.selected = target

    def _position(self, index: int) -> int:
        try:
            return self._visible.index(index)
        except ValueError:
            return -1

    def flush(self) -> None:
        """Apply a pending (debounced) search now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.query = self.search_box.value

    @traitlets.observe(
        "query", "show_private", "group_by_module", "only_varying", "instance", "max_depth"
    )
    def _on_filters(self, change: dict) -> None:
        if change["name"] == "max_depth":
            self._offer_depth(change["new"])
            self.depth_choice.value = change["new"]
        keep = self.selected_row.path if self.selected_row is not None else None
        self._refresh(keep_path=keep, first_hit=change["name"] == "query")

    def _offer_depth(self, depth: int) -> None:
        # A depth set in code that the menu lacks joins it.
        if depth not in [v for _, v in self.depth_choice.options]:
            self.depth_choice.options = [
                *self.depth_choice.options,
                (f"{depth} levels deep", depth),
            ]

    @traitlets.validate("max_depth")
    def _valid_depth(self, proposal: dict) -> int:
        return max(-1, int(proposal["value"]))

    @traitlets.validate("instance")
    def _valid_instance(self, proposal: dict) -> int:
        return min(max(int(proposal["value"]), 0), max(len(self._source) - 1, 0))

    @traitlets.validate("page")
    def _valid_page(self, proposal: dict) -> int:
        return min(max(int(proposal["value"]), 0), self.n_pages - 1)

    @traitlets.validate("page_size")
    def _valid_page_size(self, proposal: dict) -> int:
        return max(5, int(proposal["value"]))

    @traitlets.observe("page", "page_size")
    def _on_page(self, change: dict) -> None:
        if self._quiet:
            return
        if change["name"] == "page_size":
            self.page = self.page  # re-clamp
        self._render_page()

    @traitlets.observe("selected")
    def _on_selected(self, change: dict) -> None:
        if self._quiet:
            return
        row = self.selected_row
        if row is not None and row.index in self._visible:
            # Bring the selected row's page into view.
            position = self._visible.index(row.index)
            target = position // self.page_size
            if target != self.page:
                self.page = target
                return  # _on_page re-rendered everything including the detail
        self._render_page()

    def _on_select(self, change: dict) -> None:
        if self._quiet_select:
            return
        if change["new"] is not None and change["new"] != self.selected:
            self.selected = change["new"]

    def _on_tab(self, change: dict) -> None:
        if change["new"] == 1:
            self._render_varies()

    # ------------------------------------------------------------------ rendering

    def _refresh(self, keep_path: str | None = None, first_hit: bool = False) -> None:
        index = self.index
        rows = index.rows
        result = index.search(self.query)
        visible = result.visible
        hits = result.hits if self.query.strip() else []
        if not self.show_private:
            hidden = _under_private(rows)
            visible = [i for i in visible if not hidden[i]]
            hits = [i for i in hits if not hidden[i]]
        if self.only_varying and self.varies_over:
            varying_paths = {v.path for v in self.variations}
            keep = {r.index for r in rows if _frame_path(r.path) in varying_paths}
            for i in list(keep):
                keep.update(index.ancestors(i))
            visible = [i for i in visible if i in keep]
            hits = [i for i in hits if i in keep]
        if self.max_depth >= 0 and not self.query.strip():
            # Collapsed view; a search still reaches (and shows) matches at any depth.
            visible = [i for i in visible if rows[i].depth <= self.max_depth]
        headers: list[tuple[int, str]] = []
        if self.group_by_module:
            visible, headers = _group_by_module(rows, visible)
        self._visible = visible
        self._hits = set(hits)
        self._headers = headers
        self.set_trait("n_visible", len(visible))
        self.set_trait("n_hits", len(hits))
        selected = -1
        if keep_path is not None:
            found = index.by_path(keep_path)
            if found is not None and found.index in set(visible):
                selected = found.index
        if first_hit and hits:
            selected = _best_hit(rows, hits, self.query)
        target = visible.index(selected) // self.page_size if selected >= 0 else 0
        # Set page and selection without each observer re-rendering, then render once.
        self._quiet = True
        try:
            self.page = target
            self.selected = selected
        finally:
            self._quiet = False
        self._render_page()

    def _render_page(self) -> None:
        page_rows = self.page_rows
        start = self.page * self.page_size
        page_headers = [
            (pos - start, title)
            for pos, title in self._headers
            if start <= pos < start + self.page_size
        ]
        n = len(self._visible)
        query = self.query.strip()
        if query:
            matches = "1 match" if self.n_hits == 1 else f"{self.n_hits} matches"
            status = f"{matches} for “{query}” ({n} rows with their parents)"
        else:
            status = f"{n} rows"
        if len(self._source) > 1:
            status += f" · instance {self.instance + 1} of {len(self._source)}"
        self.status.value = ""
        self.table.value = explorer_html(
            page_rows,
            status=status,
            selected=self.selected,
            hits=self._hits,
            varying=self._varying_paths(),
            group_headers=page_headers,
        )
        last = min(start + self.page_size, n)
        self.page_label.value = (
            f"rows {start + 1 if n else 0}–{last} of {n} · page {self.page + 1}/{self.n_pages}"
        )
        self.prev_hit_button.disabled = self.next_hit_button.disabled = len(self._hits) < 1
        self.prev_button.disabled = self.page <= 0
        self.next_button.disabled = self.page >= self.n_pages - 1
        options = [(_option_label(r), r.index) for r in page_rows]
        values = {v for _, v in options}
        self._quiet_select = True  # options changing reset the value: not a user choice
        try:
            if self.row_select.options != tuple(options):
                self.row_select.value = None
                self.row_select.options = options
            self.row_select.value = self.selected if self.selected in values else None
        finally:
            self._quiet_select = False
        row = self.selected_row
        self.detail.value = detail_html(row)
        self.expression.value = row.expression if row is not None else ""

    def _varying_paths(self) -> set[str]:
        if self._variations is None:
            return set()
        paths = {v.path for v in self._variations}
        if self.varies_over != "frames":
            return paths
        # Per-frame variations are named with [*]: mark the rows of every frame.
        return {r.path for r in self.page_rows if _frame_path(r.path) in paths}

    def _render_varies(self) -> None:
        n = self.n_compared
        if not n:
            self.varies_status.value = "<i>one instance: nothing can vary</i>"
            self.varies_table.value = ""
            self.plot_choice.options = []
            return
        variations = self.variations
        self.varies_table.value = varies_html(variations, n, over=self.varies_over)
        numeric = [(v.label, i) for i, v in enumerate(variations) if v.numeric is not None]
        self.varies_status.value = ""
        previous = self.plot_choice.value
        self.plot_choice.options = numeric
        if numeric:
            values = [i for _, i in numeric]
            by_label = dict(numeric)
            preferred = next(
                (
                    by_label[k]
                    for k in ("SliceLocation", "InstanceNumber", "ImagePositionPatient")
                    if k in by_label
                ),
                values[0],
            )
            self.plot_choice.value = previous if previous in values else preferred
        self._render_plot()

    def _render_plot(self) -> None:
        choice = self.plot_choice.value
        if choice is None or self._variations is None or choice >= len(self._variations):
            self.plot.value = b""
            return
        index_name = "frame index" if self.varies_over == "frames" else "slice index"
        self.plot.value = variation_png(self._variations[choice], xlabel=index_name)

    # ------------------------------------------------------------------ reprs
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            # Static fallback: the current page, for notebooks rendered without a kernel;
            # a stable text/plain instead of ipywidgets' dump of the children.
            bundle["text/html"] = self.table.value
            bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        text = f"<TagExplorer {len(self._source)} instance(s), {self.n_visible} rows shown"
        if self.query.strip():
            text += f", query={self.query.strip()!r} ({self.n_hits} hits)"
        return text + ">"


_FRAME_PREFIX = re.compile(rf"^{core.PER_FRAME}\[\d+\]")


def _frame_path(path: str) -> str:
    """``PerFrameFunctionalGroupsSequence[7].X`` -> ``PerFrameFunctionalGroupsSequence[*].X``."""
    return _FRAME_PREFIX.sub(f"{core.PER_FRAME}[*]", path, count=1)


def _best_hit(rows: Sequence[core.ElementRow], hits: Sequence[int], query: str) -> int:
    """The match to select first: an exact keyword or name match beats row order."""
    wanted = core.normalize_text(query).replace(" ", "").replace("'", "")
    for i in hits:
        row = rows[i]
        if core.normalize_text(row.keyword) == wanted:
            return i
        if core.normalize_text(row.name).replace(" ", "").replace("'", "") == wanted:
            return i
    return hits[0]


def _under_private(rows: Sequence[core.ElementRow]) -> list[bool]:
    out = [False] * len(rows)
    for row in rows:
        out[row.index] = row.is_private or (row.parent is not None and out[row.parent])
    return out


def _group_by_module(
    rows: Sequence[core.ElementRow], visible: list[int]
) -> tuple[list[int], list[tuple[int, str]]]:
    """Reorder visible rows so top-level subtrees of one module are together; headings."""
    groups: dict[str, list[int]] = {}
    top_of: dict[int, int] = {}
    for i in visible:
        row = rows[i]
        top = i if row.parent is None else top_of.get(row.parent, row.parent)
        top_of[i] = top
        groups.setdefault(core.module_of(rows[top]), []).append(i)
    order = sorted(
        groups, key=lambda m: (_MODULE_ORDER.get(m, len(_MODULE_ORDER)), m.startswith("Private"), m)
    )
    out: list[int] = []
    headers: list[tuple[int, str]] = []
    for module in order:
        headers.append(
            (len(out), f"{module} ({sum(rows[i].parent is None for i in groups[module])})")
        )
        out.extend(groups[module])
    return out, headers


def _option_label(row: core.ElementRow) -> str:
    indent = "  " * row.depth
    if row.kind == "item":
        return f"{indent}– {row.label}"
    summary = row.summary if len(row.summary) <= 50 else row.summary[:49] + "…"
    mark = " ⚠" if row.problem else ""
    return f"{indent}{row.tag_text} {row.label}: {summary}{mark}"


def variation_png(
    variation: core.Variation,
    *,
    width: float = 4.8,
    height: float = 2.4,
    xlabel: str = "slice index",
) -> bytes:
    """A small PNG plot of a numeric varying element against slice (or frame) index.

    Uses matplotlib's object API (no pyplot), so no figure is left open.

    Parameters
    ----------
    variation : Variation
        One of :func:`dicom_widgets.tags.varies`; ``numeric`` must be set.
    width, height : float
        Figure size in inches.
    xlabel : str
        Label of the horizontal axis.

    Returns
    -------
    bytes
        The PNG file.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.tags import varies
    >>> found = {v.keyword: v for v in varies(ct_phantom(n_slices=3, size=16))}
    >>> variation_png(found["SliceLocation"])[:4]
    b'\x89PNG'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    values = variation.numeric
    if values is None:
        return b""
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = range(len(values))
    if values.ndim == 1:
        ax.plot(x, values, marker="o", markersize=3)
    else:
        for k in range(values.shape[1]):
            ax.plot(x, values[:, k], marker="o", markersize=3, label=f"[{k}]")
        ax.legend(fontsize=7)
    unit = " (s)" if variation.vr == "TM" else ""
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(variation.label + unit, fontsize=8)
    ax.set_title(variation.name, fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class DiffView(widgets.VBox):
    """Widget view of a :class:`~dicom_widgets.tags.Diff` with filters.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.tags import compare
    >>> s = ct_phantom(n_slices=2, size=8)
    >>> view = DiffView(compare(s[0], s[1]))
    >>> view.kinds = ("added",)
    >>> len(view.shown)
    0
    """

    kinds = traitlets.Tuple(("removed", "added", "changed"), help="Kinds of changes shown.")
    show_private = traitlets.Bool(True)
    query = traitlets.Unicode("")

    def __init__(self, diff: core.Diff, *, max_rows: int = 500, **kwargs: Any) -> None:
        self.diff = diff
        self.max_rows = max_rows
        counts = diff.counts()
        self._boxes = {
            "changed": widgets.Checkbox(
                value=True, description=f"changed ({counts['changed']})", indent=False
            ),
            "removed": widgets.Checkbox(
                value=True,
                description=f"only in {diff.label_a} ({counts['removed']})",
                indent=False,
            ),
            "added": widgets.Checkbox(
                value=True, description=f"only in {diff.label_b} ({counts['added']})", indent=False
            ),
        }
        self.private_box = widgets.Checkbox(value=True, description="private", indent=False)
        self.search_box = widgets.Text(
            placeholder="filter: keyword, tag, value…", continuous_update=False
        )
        self.table = widgets.HTML()
        for box in self._boxes.values():
            box.observe(self._on_boxes, "value")
        self.private_box.observe(lambda ch: setattr(self, "show_private", ch["new"]), "value")
        self.search_box.observe(lambda ch: setattr(self, "query", ch["new"]), "value")
        controls = widgets.HBox([*self._boxes.values(), self.private_box, self.search_box])
        super().__init__([controls, self.table], **kwargs)
        self._render()

    @property
    def shown(self) -> core.Diff:
        """The filtered diff currently displayed."""
        return self.diff.filter(
            kinds=self.kinds, include_private=self.show_private, query=self.query
        )

    def _on_boxes(self, _: dict) -> None:
        self.kinds = tuple(k for k, box in self._boxes.items() if box.value)

    @traitlets.observe("kinds", "show_private", "query")
    def _on_change(self, _: dict) -> None:
        for kind, box in self._boxes.items():
            box.value = kind in self.kinds
        self.private_box.value = self.show_private
        self.search_box.value = self.query
        self._render()

    def _render(self) -> None:
        self.table.value = diff_html(self.shown, self.max_rows)
