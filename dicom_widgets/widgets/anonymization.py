"""AnonymizationPreview: see exactly what de-identification will do, then export.

A thin composition of stock ipywidgets (and an ipympl figure) around :mod:`dicom_widgets.deid`:

- an instance selector (files that cannot be read are listed as failed, with the reason);
- one checkbox per profile option and a text field of per-tag overrides
  (``PatientSex=keep, (0010,1010)=remove, StudyDescription="Teaching case"``); any change
  recomputes the diff at once;
- the diff of the selected instance: every element a rule acted on, with its tag path through
  sequences, action, the rule or option that fired and the value before → after, colour and
  symbol coded, with filters (changed only / all / warnings only), a search box and paging;
- the engine's warnings beyond the table, each with what the user can do;
- a pixel preview, original beside anonymized, where rectangles drawn with the mouse (or given
  with :meth:`AnonymizationPreview.add_region`) are blanked in every frame and every instance
  of the same geometry on export;
- burned-in text found by OCR (:func:`~dicom_widgets.deid.text_regions.find_text_regions`),
  proposed as numbered boxes on the image, one checkbox each (checked: blanked on export;
  PHI is checked by default), so a reviewer accepts or rejects each; the report records both;
- export to an output folder with a progress bar, then the report and its verification.

State lives in traitlets (the ten option names, ``overrides_text``, ``instance``, ``frame``,
``view``, ``query``, ``page``, ``regions``, ``output_folder``), so tests and notebooks drive the
widget by setting traits, without a browser.

Examples
--------
>>> from dicom_widgets.data import ct_phantom
>>> preview = AnonymizationPreview(ct_phantom(n_slices=1, size=16)[0], canvas="image")
>>> preview.change_for("PatientSex").action
'Z'
>>> preview.retain_patient_characteristics = True
>>> preview.change_for("PatientSex").action
'K'
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np
import traitlets
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset

from ..deid import (
    OPTION_CODES,
    OPTION_NAMES,
    AnonymizationResult,
    Change,
    DeidContext,
    Profile,
    anonymize,
)
from ..deid._checks import check_output_folder, why_not_anonymized
from ..deid.profile import parse_overrides
from ..deid.text_regions import TextDetection, TextRegion, TextRegionPlan, find_text_regions
from ..errors import DicomWidgetsError, UnsafeOutputError
from ..html import anonymization as H
from ..html import note, tag, wrap

if TYPE_CHECKING:
    from matplotlib.backend_bases import MouseEvent

    from ..deid.batch import Report

__all__ = ["AnonymizationPreview", "parse_overrides"]

Region = tuple[int, int, int, int]

# The patient's own identifiers (what deid.identifying_values collects): keeping one is never
# "de-identified", whatever the table says.
_PATIENT_IDENTIFIERS = frozenset(
    {
        0x00100010,  # PatientName
        0x00100020,  # PatientID
        0x00100030,  # PatientBirthDate
        0x00101000,  # OtherPatientIDs
        0x00101001,  # OtherPatientNames
        0x00101005,  # PatientBirthName
        0x00101060,  # PatientMotherBirthName
        0x00101040,  # PatientAddress
        0x00102154,  # PatientTelephoneNumbers
        0x00080050,  # AccessionNumber
        0x00101090,  # MedicalRecordLocator
    }
)
_VIEWS = ("changed", "all", "warnings")


# ----------------------------------------------------------------------------- sources
@dataclass
class _Item:
    """One instance of the source: a file or an in-memory dataset."""

    label: str
    path: str | None = None
    dataset: Dataset | None = None
    error: str | None = None  # cannot be read
    anon_error: str | None = None  # cannot be anonymized with the current profile
    skip: str | None = None  # readable, but the batch writer will not export it (why)
    rows: int | None = None
    cols: int | None = None


def _check_header(ds: Dataset) -> str | None:
    """Why the engine would not anonymize this header (``None``: fine)."""
    return why_not_anonymized(ds)


def _read_header(path: str) -> tuple[Dataset | None, str | None]:
    """The header of ``path`` (no pixels), or ``None`` and why it cannot be read."""
    from .._compat import read_dataset

    try:
        return read_dataset(path, stop_before_pixels=True), None
    except Exception as exc:  # noqa: BLE001 - retried without the Part 10 header below
        first = f"unreadable: {type(exc).__name__}: {exc}"[:300]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # garbage read with force=True warns on every tag
            ds = read_dataset(path, stop_before_pixels=True, force=True)
            # Files without a preamble are fine; any bytes "read" with force are not: require
            # at least one standard element.
            known = any(t >> 16 >= 0x0008 and keyword_for_tag(t) for t in ds.keys())
    except Exception:  # noqa: BLE001 - reported in the selector, the rest goes on
        return None, first
    if not known:
        return None, "unreadable: not a DICOM file"
    return ds, None


_PALETTE_KEYWORDS = (
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
)


def _native_copy(ds: Dataset, arr: np.ndarray, photometric: str) -> Dataset:
    """A small dataset holding ``arr`` (frames, rows, cols[, samples]) as native pixel data.

    It carries only the Image Pixel attributes of ``ds``, with the photometric interpretation
    of the decoded values (pydicom 3 decodes YBR to RGB; 2.4 keeps full-resolution YBR).
    """
    from pydicom.dataset import FileMetaDataset

    work = Dataset()
    work.file_meta = FileMetaDataset()
    work.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    frames = arr.shape[0]
    samples = arr.shape[3] if arr.ndim == 4 else 1
    work.Rows, work.Columns = int(arr.shape[1]), int(arr.shape[2])
    work.SamplesPerPixel = samples
    work.PhotometricInterpretation = "YBR_FULL" if photometric == "YBR_FULL_422" else photometric
    if samples > 1:
        work.PlanarConfiguration = 0
    bits = arr.dtype.itemsize * 8
    work.BitsAllocated = bits
    stored = int(ds.get("BitsStored", bits) or bits)
    work.BitsStored = min(stored, bits)
    work.HighBit = work.BitsStored - 1
    work.PixelRepresentation = 1 if arr.dtype.kind == "i" else 0
    if frames > 1:
        work.NumberOfFrames = frames
    for keyword in _PALETTE_KEYWORDS:
        if keyword in ds:
            work[keyword] = copy.deepcopy(ds[keyword])
    data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    if len(data) % 2:
        data += b"\x00"
    work.PixelData = data
    work["PixelData"].VR = "OB" if bits <= 8 else "OW"
    return work


def _geometry(ds: Dataset) -> tuple[int | None, int | None]:
    """(rows, columns) of an image, ``(None, None)`` without (valid) pixel geometry."""
    try:
        if "PixelData" in ds or ("Rows" in ds and "Columns" in ds):
            return int(ds.Rows), int(ds.Columns)
    except Exception:  # noqa: BLE001 - invalid values (e.g. IS '1A'): no pixel preview
        pass
    return None, None


def _items_from(source: Any) -> tuple[list[_Item], list[Path]]:
    """The instances of ``source`` and the folders that must never receive output."""
    folders: list[Path] = []
    root: str | None = None
    if isinstance(source, Dataset):
        sources: list[Any] = [source]
    elif isinstance(source, (str, os.PathLike)):
        path = Path(os.fspath(source)).expanduser()
        if path.is_dir():
            folders.append(path.resolve())
            root = str(path)
            sources = sorted(str(p) for p in path.rglob("*") if p.is_file())
            if not sources:
                raise ValueError(f"the folder {path} holds no files")
        elif path.exists():
            sources = [str(path)]
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    elif hasattr(source, "files") and hasattr(source, "dataset"):  # a dicom_widgets Series
        files = list(source.files)
        if not files and hasattr(source, "instances"):  # a DICOMweb series: whole instances
            sources = list(source.instances())
        else:
            sources = files if files else [source.dataset(i) for i in range(len(source))]
    else:
        sources = list(source)
        if not sources:
            raise ValueError("AnonymizationPreview needs at least one dataset or file")
    items: list[_Item] = []
    for i, src in enumerate(sources):
        if isinstance(src, Dataset):
            name = str(getattr(src, "filename", "") or "")
            if name and os.path.isfile(name):
                folders.append(Path(name).resolve().parent)
            label = f"dataset {i}" + (f": {os.path.basename(name)}" if name else "")
            items.append(_Item(label, dataset=src, skip=_check_header(src)))
        else:
            if not isinstance(src, (str, os.PathLike)):
                raise TypeError(
                    f"AnonymizationPreview takes Datasets, paths, a folder or a Series; got "
                    f"{type(src).__name__} (for a SeriesCatalog pass one series: catalog[i])"
                )
            path = os.fspath(src)
            folders.append(Path(path).resolve().parent)
            # Headers only (no pixel data): failed files are marked before anyone selects them.
            header, reason = _read_header(path)
            # Inside a folder source: the path relative to it (same names in sub-folders).
            label = os.path.relpath(path, root) if root is not None else os.path.basename(path)
            item = _Item(label or path, path=path, error=reason)
            if header is not None:
                item.skip = _check_header(header)
                item.rows, item.cols = _geometry(header)
            items.append(item)
    return items, folders


# ----------------------------------------------------------------------------- the widget
class AnonymizationPreview(widgets.VBox):
    """Preview PS3.15 de-identification of a dataset, file, series or folder, then export it.

    Parameters
    ----------
    source : Dataset, path, Series, folder, or list of Datasets / paths
        What to de-identify. A folder is searched recursively; every file is an instance
        (files that cannot be read are listed as failed with the reason).
    profile : "basic" or Profile
        Starting profile: the Basic Profile, or a :class:`~dicom_widgets.deid.Profile` whose
        options and overrides fill the controls.
    overrides : str or mapping, optional
        Initial overrides (text as typed in the field, or a mapping as for ``Profile``).
    key : bytes, str or DeidContext, optional
        The de-identification key (UID remapping, date shifts); the preview and the export use
        the same context, so the UIDs shown are the UIDs written.
    page_size : int
        Rows per page of the diff.
    canvas : {"auto", "ipympl", "image"}
        Pixel preview on an interactive ipympl canvas (draw rectangles with the mouse) or as a
        static image (rectangles only through :meth:`add_region`).
    output_folder : str
        Initial text of the output folder field.
    detect_text : bool or {"detect", "all-text"}
        Sets :attr:`text_mode`: OCR each shown instance for burned-in text and propose its
        PHI (``True`` / ``"detect"``) or all its text for blanking; export does the same for
        instances never shown. Needs Tesseract (the message says what to install).
    **options : bool
        Profile options by name (see :data:`dicom_widgets.deid.OPTION_NAMES`).

    Attributes
    ----------
    result : AnonymizationResult or None
        The anonymization of the selected instance (``None`` when it failed, see ``error``).
    error : str or None
        Why the selected instance could not be read or anonymized.
    report : Report or None
        The last export's report.
    context : DeidContext
        Key and UID/date maps shared by preview and export.
    option_boxes : dict of str to ipywidgets.Checkbox
    overrides_box : ipywidgets.Text
    instance_select : ipywidgets.Dropdown
    diff : ipywidgets.HTML
        The current page of the diff.
    warnings_panel : ipywidgets.HTML
    figure : matplotlib.figure.Figure
        Original (left) and anonymized (right) pixels.
    selector : matplotlib.widgets.RectangleSelector or None
        Draws regions on the original image (ipympl canvas only).
    detect_button : ipywidgets.Button
        OCRs the shown instance (:meth:`detect_text`).
    region_boxes : ipywidgets.VBox
        One checkbox per proposed text region of the shown instance: checked = blank it.
    text_status : ipywidgets.HTML
    export_button : ipywidgets.Button
    progress : ipywidgets.IntProgress
    export_output : ipywidgets.HTML
        Report summary and verification, or the refusal message.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> preview = AnonymizationPreview(ct_phantom(n_slices=1, size=16)[0], retain_uids=True, canvas="image")
    >>> preview.change_for("SOPInstanceUID").action
    'K'
    >>> preview.overrides_text = 'StudyDescription="Teaching case"'
    >>> preview.result.dataset.StudyDescription
    'Teaching case'
    """

    # The ten options of PS3.15 Table E.1-1 (checked against deid.OPTION_NAMES in the tests).
    retain_safe_private = traitlets.Bool(False, help="Retain Safe Private Option")
    retain_uids = traitlets.Bool(False, help="Retain UIDs Option")
    retain_device_identity = traitlets.Bool(False, help="Retain Device Identity Option")
    retain_institution_identity = traitlets.Bool(False, help="Retain Institution Identity Option")
    retain_patient_characteristics = traitlets.Bool(
        False, help="Retain Patient Characteristics Option"
    )
    retain_longitudinal_full_dates = traitlets.Bool(
        False, help="Retain Longitudinal Full Dates Option"
    )
    retain_longitudinal_modified_dates = traitlets.Bool(
        False, help="Retain Longitudinal Modified Dates Option"
    )
    clean_descriptors = traitlets.Bool(False, help="Clean Descriptors Option")
    clean_structured_content = traitlets.Bool(False, help="Clean Structured Content Option")
    clean_graphics = traitlets.Bool(False, help="Clean Graphics Option")

    overrides_text = traitlets.Unicode("", help="Per-tag overrides, e.g. PatientSex=keep.")
    override_error = traitlets.Unicode(
        "", help="Why some overrides could not be used ('' when fine)."
    )
    instance = traitlets.Int(0, help="Index of the previewed instance.")
    frame = traitlets.Int(0, help="Frame shown in the pixel preview.")
    view = traitlets.Enum(_VIEWS, "changed", help="Diff filter: changed / all / warnings.")
    query = traitlets.Unicode("", help="Search in paths, keywords, tags, rules and values.")
    page = traitlets.Int(0, help="Page of the diff (0-based).")
    page_size = traitlets.Int(50, help="Rows per diff page.")
    regions = traitlets.List(help="Rectangles (row0, col0, row1, col1), end exclusive, to blank.")
    text_mode = traitlets.Enum(
        ("detect", "all-text"),
        None,
        allow_none=True,
        help="Burned-in text: OCR each shown instance and propose its PHI ('detect') or all "
        "its text ('all-text') for blanking; export does the same for instances not shown. "
        "None: only on request (detect_text()).",
    )
    text_regions = traitlets.Tuple(
        help="Burned-in text regions (deid.TextRegion) proposed for the shown instance, "
        "with the reviewer's decisions."
    )
    text_message = traitlets.Unicode(
        "", help="What the last text detection found, or why it failed."
    )
    output_folder = traitlets.Unicode("", help="Export target folder.")
    export_message = traitlets.Unicode("", help="Plain text of the last export outcome or refusal.")

    def __init__(
        self,
        source: Any,
        profile: str | Profile | None = "basic",
        *,
        overrides: str | Mapping[Any, Any] | None = None,
        key: bytes | str | DeidContext | None = None,
        page_size: int = 50,
        canvas: str = "auto",
        output_folder: str = "",
        detect_text: bool | str = False,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - set(OPTION_NAMES))
        if unknown:
            raise TypeError(
                f"unknown profile option(s) {unknown}; the options are {list(OPTION_NAMES)}"
            )
        if isinstance(profile, Profile):
            start = dict.fromkeys(profile.enabled_options(), True)
            base_overrides: dict[Any, Any] = {
                t: (o.action if o.action != "replace" else ("replace", o.value))
                for t, o in profile.overrides.items()  # type: ignore[union-attr]
            }
            self._safe_private = profile.safe_private
        elif profile in (None, "basic"):
            start, base_overrides, self._safe_private = {}, {}, ()
        else:
            raise ValueError(f"profile must be 'basic' or a Profile, got {profile!r}")
        start.update({k: bool(v) for k, v in options.items()})

        self._items, self._source_folders = _items_from(source)
        self.context = key if isinstance(key, DeidContext) else DeidContext(key)
        self.result: AnonymizationResult | None = None
        self.error: str | None = None
        self.report: Report | None = None
        self._overrides: dict[Any, Any] = dict(base_overrides)
        self._text_overrides: dict[str, Any] = {}
        self._datasets: dict[int, Dataset] = {}
        self._pixels: dict[tuple[Any, ...], tuple[np.ndarray, str]] = {}
        self._region_geometry: tuple[int, int] | None = None
        # Proposed text regions per instance (with decisions), kept while browsing.
        self._text_found: dict[int, tuple[TextRegion, ...]] = {}
        self._visible: list[Change] = []
        self._hold = True
        super().__init__()
        self.add_class("dw-anonymization-preview")
        self.page_size = int(page_size)
        self.output_folder = output_folder
        for name, value in start.items():
            self.set_trait(name, value)
        if isinstance(overrides, str):
            self.overrides_text = overrides
        elif overrides:
            self._overrides.update(dict(overrides))

        self._build_controls()
        self._build_figure(canvas)
        self._layout()
        self.observe(self._on_option, names=list(OPTION_NAMES))
        self.observe(self._on_overrides, names="overrides_text")
        self.observe(self._on_instance, names="instance")
        self.observe(self._on_filter, names=["view", "query"])
        self.observe(self._on_page, names=["page", "page_size"])
        self.observe(self._on_frame, names="frame")
        self.observe(self._on_regions, names="regions")
        self.observe(self._on_text_regions, names="text_regions")
        if detect_text:
            self.text_mode = "detect" if detect_text is True else str(detect_text)
        self._hold = False
        self._parse_text_overrides()
        self._select(self.instance)

    # ------------------------------------------------------------------ construction
    def _build_controls(self) -> None:
        self.instance_select = widgets.Dropdown(
            options=self._instance_options(), value=0, description="instance",
            layout=widgets.Layout(width="520px"),
        )  # fmt: skip
        self.instance_select.layout.display = None if len(self._items) > 1 else "none"
        traitlets.link((self, "instance"), (self.instance_select, "value"))
        self.option_boxes: dict[str, widgets.Checkbox] = {}
        for name in OPTION_NAMES:
            box = widgets.Checkbox(
                value=bool(getattr(self, name)),
                description=name,
                tooltip=f"{OPTION_CODES[name][1]} (DCM {OPTION_CODES[name][0]})",
                indent=False,
                layout=widgets.Layout(width="auto"),
            )
            traitlets.link((box, "value"), (self, name))
            self.option_boxes[name] = box
        self.overrides_box = widgets.Text(
            value=self.overrides_text,
            placeholder='PatientSex=keep, (0010,1010)=remove, StudyDescription="Teaching case"',
            description="overrides",
            continuous_update=False,
            layout=widgets.Layout(width="100%"),
        )
        traitlets.link((self.overrides_box, "value"), (self, "overrides_text"))
        self.override_message = widgets.HTML()
        self.profile_label = widgets.HTML()
        self.counts = widgets.HTML()
        self.view_buttons = widgets.ToggleButtons(
            options=[("changed only", "changed"), ("all", "all"), ("warnings only", "warnings")],
            value=self.view,
            style={"button_width": "120px"},
        )
        traitlets.link((self.view_buttons, "value"), (self, "view"))
        self.search_box = widgets.Text(
            placeholder="search path, keyword, tag, rule, value…",
            continuous_update=True,
            layout=widgets.Layout(width="320px"),
        )
        traitlets.link((self.search_box, "value"), (self, "query"))
        self.prev_button = widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px"))
        self.next_button = widgets.Button(description="next ▶", layout=widgets.Layout(width="80px"))
        self.prev_button.on_click(lambda _: self.set_trait("page", max(0, self.page - 1)))
        self.next_button.on_click(lambda _: self.set_trait("page", self.page + 1))
        self.page_label = widgets.Label()
        self.diff = widgets.HTML(layout=widgets.Layout(max_height="640px", overflow="auto"))
        self.warnings_panel = widgets.HTML()
        self.frame_slider = widgets.IntSlider(
            value=0, min=0, max=0, description="frame", continuous_update=False
        )
        traitlets.link((self.frame_slider, "value"), (self, "frame"))
        self.clear_button = widgets.Button(description="clear regions", icon="eraser")
        self.clear_button.on_click(lambda _: self.clear_regions())
        self.region_label = widgets.HTML()
        self._build_text_controls()
        self.output_box = widgets.Text(
            value=self.output_folder,
            placeholder="/path/to/new/output/folder (outside the sources)",
            description="output",
            layout=widgets.Layout(width="520px"),
        )
        traitlets.link((self.output_box, "value"), (self, "output_folder"))
        self.export_button = widgets.Button(
            description="Export", icon="download", button_style="primary"
        )
        self.export_button.on_click(lambda _: self.export())
        self.progress = widgets.IntProgress(value=0, min=0, max=max(1, len(self._items)))
        self.progress.layout.display = "none"
        self.export_output = widgets.HTML()

    def _build_figure(self, canvas: str) -> None:
        from matplotlib.figure import Figure

        self._mode = _canvas_mode(canvas)
        self.figure = Figure(figsize=(8, 4), dpi=90)
        self.ax_original, self.ax_anonymized = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.01, right=0.99, top=0.93, bottom=0.01, wspace=0.04)
        self._image_widget: widgets.Image | None = None
        self.selector = None
        if self._mode == "ipympl":
            from ._viewer_render import import_ipympl_backend

            # Not `from ipympl.backend_nbagg import ...`: importing ipympl switches the
            # user's pyplot backend, which the helper puts back.
            backend = import_ipympl_backend()
            Canvas, FigureManager = backend.Canvas, backend.FigureManager
            self.canvas = Canvas(self.figure)
            with warnings.catch_warnings():
                # ipympl's toolbar passes matplotlib's arguments on to traitlets (harmless).
                warnings.simplefilter("ignore", DeprecationWarning)
                FigureManager(self.canvas, id(self.figure))
            self.canvas.header_visible = False
            self.canvas.footer_visible = False
            self.canvas.toolbar_position = "left"
            self._pixel_view: widgets.Widget = self.canvas
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            self.canvas = FigureCanvasAgg(self.figure)
            self._image_widget = widgets.Image(format="png")
            self._pixel_view = self._image_widget
        from matplotlib.widgets import RectangleSelector

        # The selector works on any canvas that delivers mouse events (ipympl in a notebook;
        # matplotlib's event API in tests); with the static image it stays idle.
        self.selector = RectangleSelector(
            self.ax_original,
            self._on_rectangle,
            useblit=False,
            button=[1],
            minspanx=1,
            minspany=1,
            spancoords="data",
            interactive=False,
            props={"edgecolor": "red", "facecolor": "red", "alpha": 0.2, "fill": True},
        )

    def _layout(self) -> None:
        options_grid = widgets.GridBox(
            list(self.option_boxes.values()),
            layout=widgets.Layout(
                grid_template_columns="repeat(3, max-content)", grid_gap="0 16px"
            ),
        )
        changes_tab = widgets.VBox(
            [
                widgets.HBox([self.view_buttons, self.search_box]),
                self.counts,
                self.diff,
                widgets.HBox([self.prev_button, self.page_label, self.next_button]),
            ]
        )
        pixels_tab = widgets.VBox(
            [
                widgets.HTML(
                    str(
                        note(
                            "Drag rectangles on the left image to blank burned-in text; they "
                            "apply to every frame and every instance of the same size on export."
                        )
                    )
                ),
                self._pixel_view,
                widgets.HBox([self.frame_slider, self.clear_button]),
                self.region_label,
                widgets.HBox([self.detect_button, self.text_status]),
                self.region_boxes,
            ]
        )
        export_tab = widgets.VBox(
            [
                widgets.HBox([self.output_box, self.export_button]),
                self.progress,
                self.export_output,
            ]
        )
        self.tabs = widgets.Tab(
            children=[changes_tab, widgets.VBox([self.warnings_panel]), pixels_tab, export_tab]
        )
        for i, title in enumerate(["Changes", "Warnings", "Pixels", "Export"]):
            self.tabs.set_title(i, title)
        self.children = [
            self.instance_select,
            self.profile_label,
            options_grid,
            self.overrides_box,
            self.override_message,
            self.tabs,
        ]

    def _instance_options(self) -> list[tuple[str, int]]:
        n = len(self._items)
        out = []
        for i, item in enumerate(self._items):
            label = f"{i + 1}/{n}  {item.label}"
            if item.error or item.anon_error:
                label = f"✖ {label} — failed: {item.error or item.anon_error}"
            elif item.skip:
                label = f"⚠ {label} — export fails: {item.skip}"
            out.append((label[:200], i))
        return out

    def _refresh_selector(self) -> None:
        current = self.instance
        self.instance_select.options = self._instance_options()
        self.instance_select.value = current

    # ------------------------------------------------------------------ profile
    @property
    def profile(self) -> Profile:
        """The profile in force: the checked options and the valid overrides."""
        options = {name: bool(getattr(self, name)) for name in OPTION_NAMES}
        overrides = dict(self._overrides)
        overrides.update(self._text_overrides)
        return Profile(**options, overrides=overrides, safe_private=self._safe_private)

    @property
    def pixel_regions(self) -> dict[tuple[int, int], list[Region]] | None:
        """What export passes as ``pixel_regions``: the rectangles keyed by image geometry."""
        if not self.regions or self._region_geometry is None:
            return None
        return {self._region_geometry: [tuple(r) for r in self.regions]}

    def _on_option(self, change: dict[str, Any]) -> None:
        # The two longitudinal options exclude each other: switching one on turns the other off.
        pair = ("retain_longitudinal_full_dates", "retain_longitudinal_modified_dates")
        if change["new"] and change["name"] in pair:
            other = pair[1 - pair.index(change["name"])]
            if getattr(self, other):
                self._hold, held = True, self._hold
                self.set_trait(other, False)
                self._hold = held
        if not self._hold:
            self._recompute()

    @property
    def override_warnings(self) -> list[str]:
        """Overrides that keep or replace what the Basic Profile removes (identifying risk)."""
        from ..deid import rule_for
        from ..tags import format_tag

        out = []
        for tag_value, override in self.profile.overrides.items():  # type: ignore[union-attr]
            if override.action not in ("keep", "replace"):
                continue
            rule = rule_for(int(tag_value))
            name = keyword_for_tag(int(tag_value)) or format_tag(int(tag_value))
            if int(tag_value) in _PATIENT_IDENTIFIERS:
                out.append(
                    f"{name}={override.action}: keeps the patient's own identifier in the output; "
                    "the copy is not de-identified"
                )
            elif rule is not None and rule.basic != "K":
                out.append(
                    f"{name}={override.action}: the Basic Profile would act on it ({rule.basic}); "
                    "make sure the value identifies no one"
                )
        return out

    def _parse_text_overrides(self) -> None:
        parsed, errors = parse_overrides(self.overrides_text)
        self._text_overrides = parsed
        self.override_error = "\n".join(errors)
        warnings_ = self.override_warnings
        parts = []
        if errors:
            parts.append(note("Some overrides were not applied:", kind="error"))
            parts.append(tag("ul", [tag("li", e) for e in errors]))
        if warnings_:
            parts.append(note("Check these overrides:", kind="warning"))
            parts.append(tag("ul", [tag("li", w) for w in warnings_]))
        text = "\n".join(errors + warnings_)
        self.override_message.value = str(wrap(tag("div", parts), text)) if parts else ""

    def _on_overrides(self, change: dict[str, Any]) -> None:
        self._parse_text_overrides()
        if not self._hold:
            self._recompute()

    # ------------------------------------------------------------------ instances
    def _dataset(self, i: int) -> Dataset:
        item = self._items[i]
        if item.dataset is not None:
            return item.dataset
        if i not in self._datasets:
            from .._compat import ensure_transfer_syntax, read_dataset

            header, reason = _read_header(item.path)  # type: ignore[arg-type]
            if header is None:
                raise DicomWidgetsError(reason or "unreadable")
            # Large values (pixel data) stay in the file until decoded: every option toggle
            # deep-copies the dataset in the engine, which must stay cheap for long cines.
            ds = read_dataset(item.path, force=True, defer_size="1 MB")  # type: ignore[arg-type]
            ensure_transfer_syntax(ds)
            # Keep only the shown instance (and its neighbour) in memory.
            for old in list(self._datasets)[:-1]:
                self._datasets.pop(old, None)
            self._datasets[i] = ds
        return self._datasets[i]

    def _select(self, i: int) -> None:
        item = self._items[i]
        self.error = item.error
        self.result = None
        if item.error is None:
            try:
                ds = self._dataset(i)
                item.rows, item.cols = _geometry(ds)
            except Exception as exc:  # noqa: BLE001 - shown as failed, the rest goes on
                item.error = str(exc)[:300] or type(exc).__name__
                self.error = item.error
                self._refresh_selector()
        n_frames = self._n_frames(i) if self.error is None else 1
        self.frame_slider.max = max(0, n_frames - 1)
        self.frame_slider.layout.display = None if n_frames > 1 else "none"
        if self.frame >= n_frames:
            self.frame = 0
        self._show_text_regions(i)
        self._recompute()
        self._draw_pixels()

    @traitlets.validate("instance")
    def _valid_instance(self, proposal: dict[str, Any]) -> int:
        index = int(proposal["value"])
        if not 0 <= index < len(self._items):
            raise IndexError(f"instance {index} out of range (0..{len(self._items) - 1})")
        return index

    def _on_instance(self, change: dict[str, Any]) -> None:
        self._hold = True
        self.page = 0
        self._hold = False
        self._select(self.instance)

    @property
    def n_instances(self) -> int:
        """Number of instances (files or datasets), failed ones included."""
        return len(self._items)

    @property
    def failed(self) -> dict[int, str]:
        """Instances known to fail, as ``{index: reason}``."""
        return {
            i: (it.error or it.anon_error)  # type: ignore[misc]
            for i, it in enumerate(self._items)
            if it.error or it.anon_error
        }

    def instance_labels(self) -> list[str]:
        """The labels of the instance selector (failed ones marked with the reason)."""
        return [label for label, _ in self._instance_options()]

    # ------------------------------------------------------------------ diff
    def _recompute(self) -> None:
        if self._hold:
            return
        self.result = None
        item = self._items[self.instance]
        if item.error is None:
            try:
                ds = self._dataset(self.instance)
                cleaned = bool(self._regions_for(item)) or bool(self._accepted_text_boxes())
                self.result = anonymize(
                    ds, self.profile, context=self.context, pixel_cleaned=cleaned
                )
                self.error = None
                if item.anon_error is not None:
                    item.anon_error = None
                    self._refresh_selector()
            except Exception as exc:  # noqa: BLE001 - an anonymization failure is shown, not raised
                # Depends on the profile (an override, an option): retried on the next change.
                item.anon_error = f"cannot be anonymized: {type(exc).__name__}: {exc}"[:300]
                self.error = item.anon_error
                self._refresh_selector()
        self._render_profile()
        self._render_diff()
        self._render_warnings()

    def _render_profile(self) -> None:
        profile = self.profile
        parts = [tag("span", profile.describe())]
        if self.result is not None:
            parts.append(tag("span", f"  PS3.15 {self.result.edition}", class_="dw-muted"))
        self.profile_label.value = str(wrap(tag("div", parts), profile.describe()))

    def _filtered(self) -> list[Change]:
        if self.result is None:
            return []
        changes = self.result.changes
        if self.view == "changed":
            changes = [c for c in changes if _shown_as_change(c)]
        elif self.view == "warnings":
            paths = {w.path for w in self.result.warnings if w.path}
            changes = [
                c
                for c in changes
                if c.path in paths
                or c.keyword in paths
                or any(c.path.startswith(p + ".") or c.path.startswith(p + "[") for p in paths)
            ]
        query = self.query.strip().casefold()
        if query:
            changes = [c for c in changes if query in _haystack(c)]
        return changes

    @property
    def visible_changes(self) -> list[Change]:
        """The changes the current filter and search let through (all pages)."""
        return list(self._visible)

    @property
    def n_pages(self) -> int:
        """Number of diff pages for the current filter."""
        return max(1, math.ceil(len(self._visible) / max(1, self.page_size)))

    def _render_diff(self) -> None:
        if self._hold:
            return
        self._visible = self._filtered()
        if self.page >= self.n_pages:
            self._hold = True
            self.page = self.n_pages - 1
            self._hold = False
        if self.result is None:
            message = self.error or "nothing to show"
            self.counts.value = ""
            self.diff.value = str(
                wrap(tag("div", note(f"This instance failed: {message}", kind="error")), message)
            )
            self.page_label.value = ""
            return
        counted = [c for c in self.result.changes if _shown_as_change(c)]
        self.counts.value = str(
            wrap(
                tag(
                    "div",
                    H.counts_html(counted),
                    tag(
                        "div",
                        "Patient Identity Removed: ",
                        "YES" if self.result.identity_removed else "NO",
                        f" · {len(self.result.unresolved_warnings)} unresolved warning(s)",
                        class_="dw-muted",
                    ),
                    note(f"Export will not write this file: {skip}", kind="warning")
                    if (skip := self._items[self.instance].skip)
                    else None,
                ),
                ", ".join(f"{k}: {v}" for k, v in H.category_counts(counted).items()),
            )
        )
        start = self.page * self.page_size
        stop = start + self.page_size
        # In the "warnings only" view, the warnings themselves head the related changes.
        head = H.warnings_html(self.result.warnings) if self.view == "warnings" else None
        if self._visible:
            body = tag(
                "div",
                head,
                H.changes_table(self._visible, start=start, stop=stop),
                H.action_legend(),
            )
        else:
            body = tag("div", head, note("no element matches this filter"))
        self.diff.value = str(wrap(body, H.changes_text(self._visible[start:stop])))
        n = len(self._visible)
        self.page_label.value = (
            f"rows {min(start + 1, n)}–{min(stop, n)} of {n} · page {self.page + 1}/{self.n_pages}"
        )
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.n_pages - 1

    def _render_warnings(self) -> None:
        if self.result is None:
            self.warnings_panel.value = ""
            return
        warnings = self.result.warnings
        self.warnings_panel.value = str(
            wrap(
                tag("div", H.warnings_html(warnings)),
                "\n".join(f"{w.kind} {w.path}: {w.message}" for w in warnings) or "no warnings",
            )
        )
        n = len(self.result.unresolved_warnings)
        self.tabs.set_title(1, f"Warnings ({n})" if n else "Warnings")

    def _on_filter(self, change: dict[str, Any]) -> None:
        self.page = 0
        self._render_diff()

    def _on_page(self, change: dict[str, Any]) -> None:
        if self.page < 0:
            self.page = 0
            return
        self._render_diff()

    def change_for(self, path_or_keyword: str) -> Change | None:
        """The change recorded for an element (by path, or keyword at top level), or ``None``."""
        if self.result is None:
            return None
        for c in self.result.changes:
            if c.path == path_or_keyword:
                return c
        for c in self.result.changes:
            if c.keyword == path_or_keyword or c.tag_str == path_or_keyword.upper():
                return c
        return None

    # ------------------------------------------------------------------ pixels
    def _n_frames(self, i: int) -> int:
        try:
            ds = self._dataset(i)
        except Exception:  # noqa: BLE001 - an unreadable instance is reported by _select
            return 1
        if "PixelData" not in ds:
            return 1
        try:
            return max(1, int(ds.get("NumberOfFrames", 1) or 1))
        except (TypeError, ValueError):  # invalid IS value: treat as one frame
            return 1

    def _regions_for(self, item: _Item) -> list[Region]:
        if not self.regions or self._region_geometry is None:
            return []
        if (item.rows, item.cols) != self._region_geometry:
            return []
        return [tuple(r) for r in self.regions]  # type: ignore[misc]

    def add_region(self, region: Sequence[int]) -> None:
        """Mark a rectangle ``(row0, col0, row1, col1)`` (end exclusive) to blank on export.

        Regions apply to every frame of every instance with the geometry (rows, columns) of the
        instance shown when the first region was added.
        """
        r0, c0, r1, c1 = (int(v) for v in region)
        r0, r1 = sorted((r0, r1))
        c0, c1 = sorted((c0, c1))
        item = self._items[self.instance]
        if item.rows is None or item.cols is None:
            raise ValueError("the shown instance has no pixel data to mark")
        r0, r1 = max(0, r0), min(item.rows, r1)
        c0, c1 = max(0, c0), min(item.cols, c1)
        if r1 <= r0 or c1 <= c0:
            raise ValueError(
                f"region {tuple(region)} does not overlap the {item.rows}x{item.cols} image"
            )
        if self._region_geometry not in (None, (item.rows, item.cols)):
            raise ValueError(
                f"regions were drawn on {self._region_geometry[0]}x{self._region_geometry[1]} "
                f"images; clear them before marking this {item.rows}x{item.cols} image"
            )
        self._region_geometry = (item.rows, item.cols)
        self.regions = [*self.regions, (r0, c0, r1, c1)]

    def clear_regions(self) -> None:
        """Forget every rectangle."""
        self.regions = []

    @traitlets.validate("regions")
    def _valid_regions(self, proposal: dict[str, Any]) -> list[Region]:
        out = []
        for region in proposal["value"]:
            values = tuple(int(v) for v in region)
            if len(values) != 4:
                raise traitlets.TraitError(f"a region is (row0, col0, row1, col1), got {region!r}")
            out.append(values)
        return out  # type: ignore[return-value]

    def _on_regions(self, change: dict[str, Any]) -> None:
        if not self.regions:
            self._region_geometry = None
        elif self._region_geometry is None:
            # Regions set directly on the trait belong to the geometry of the shown instance.
            item = self._items[self.instance]
            if item.rows is not None and item.cols is not None:
                self._region_geometry = (item.rows, item.cols)
        self._recompute()  # regions resolve the burned-in annotation warning
        self._draw_pixels()

    def _on_rectangle(self, press: MouseEvent, release: MouseEvent) -> None:
        # Pixel j covers [j - 0.5, j + 0.5] in imshow's data coordinates: take every pixel whose
        # centre lies inside the dragged rectangle.
        if None in (press.xdata, press.ydata, release.xdata, release.ydata):
            return
        x0, x1 = sorted((press.xdata, release.xdata))
        y0, y1 = sorted((press.ydata, release.ydata))
        region = (math.ceil(y0), math.ceil(x0), math.floor(y1) + 1, math.floor(x1) + 1)
        try:
            self.add_region(region)
        except ValueError as exc:
            self.region_label.value = str(wrap(tag("div", note(str(exc), kind="error")), str(exc)))

    def _frame_images(self) -> tuple[np.ndarray | None, np.ndarray | None, str]:
        """Original and anonymized display frames (uint8) of the shown instance and frame."""
        from ..display import resolve_window, to_display

        item = self._items[self.instance]
        if item.error is not None:
            return None, None, item.error
        ds = self._dataset(self.instance)
        if "PixelData" not in ds:
            return None, None, "no pixel data"
        frame = min(self.frame, self._n_frames(self.instance) - 1)
        try:
            first, photometric = self._original_frame(ds, frame)
            regions = self._regions_for(item) + self._accepted_text_boxes()
            if regions:
                cleaned_arr, cleaned_pi = self._decoded(ds, "cleaned", regions)
                second = cleaned_arr[frame]
            else:
                second, cleaned_pi = first, photometric
        except BaseException as exc:  # noqa: BLE001 - shown in the pane
            # Rust decoders (pyo3) raise PanicException, a BaseException, on corrupt data.
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            return None, None, f"pixel data cannot be decoded: {type(exc).__name__}: {exc}"
        try:
            if first.ndim == 2 and photometric != "PALETTE COLOR":
                from .._compat import apply_modality_lut

                first = apply_modality_lut(first, ds)
                second = apply_modality_lut(second, ds)
                window = resolve_window(None, first, ds=ds, frame_index=frame)
                return (
                    to_display(first, window, photometric=photometric, ds=ds),
                    to_display(second, window, photometric=cleaned_pi, ds=ds),
                    "",
                )
            return (
                to_display(first, photometric=photometric, ds=ds),
                to_display(second, photometric=cleaned_pi, ds=ds),
                "",
            )
        except Exception as exc:  # noqa: BLE001 - a broken palette or LUT: shown in the pane
            return None, None, f"pixel data cannot be displayed: {type(exc).__name__}: {exc}"

    def _original_frame(self, ds: Dataset, frame: int) -> tuple[np.ndarray, str]:
        from .._compat import IS_PYDICOM3, decode_frame, decoded_photometric

        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if IS_PYDICOM3 and frames > 1:
            # One frame at a time: a long cine is not decoded to show one frame.
            key = ("frame", self.instance, frame)
            cached = self._pixels.get(key)
            if cached is None:
                stale = [k for k in self._pixels if k[0] == "frame"]
                for old in stale[:-4]:  # keep a few neighbours for frame scrubbing
                    self._pixels.pop(old, None)
                cached = (np.asarray(decode_frame(ds, frame)), decoded_photometric(ds))
                self._pixels[key] = cached
            return cached
        arr, photometric = self._decoded(ds, "original")
        return arr[frame], photometric

    def _decoded(
        self, ds: Dataset, which: str, regions: Sequence[Region] = ()
    ) -> tuple[np.ndarray, str]:
        from .._compat import decode_pixels, decoded_photometric

        key = (which, self.instance, tuple(regions))
        cached = self._pixels.get(key)
        if cached is not None:
            return cached
        if which == "original":
            arr = np.asarray(decode_pixels(ds))
            photometric = decoded_photometric(ds)
        else:
            # The engine's own pixel cleaning, so that what is previewed is what export writes;
            # run on a native copy of the decoded original (cached), so that redrawing a
            # rectangle on a long compressed cine does not decode it again.
            from ..deid.batch import clean_pixels

            work = _native_copy(ds, *self._decoded(ds, "original"))
            clean_pixels(work, list(regions))
            arr = np.asarray(decode_pixels(work))
            photometric = decoded_photometric(work)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        if frames == 1:
            arr = arr[np.newaxis]
        if samples == 1 and arr.ndim == 4:  # pragma: no cover - defensive
            arr = arr[..., 0]
        # Cache per instance: drop entries of other instances and stale cleaned versions.
        for old in list(self._pixels):
            if isinstance(old, tuple) and (
                old[1] != self.instance or (old[0] == which == "cleaned")
            ):
                self._pixels.pop(old, None)
        self._pixels[key] = (arr, photometric)
        return arr, photometric

    def _draw_pixels(self) -> None:
        if self._hold:
            return
        first, second, message = self._frame_images()
        for ax, img, title in (
            (self.ax_original, first, "original"),
            (self.ax_anonymized, second, "anonymized"),
        ):
            ax.clear()
            ax.set_axis_off()
            if img is None:
                ax.text(
                    0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes
                )
                continue
            ax.imshow(
                img,
                cmap="gray" if img.ndim == 2 else None,
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
            ax.set_title(title, fontsize=9)
            from matplotlib.patches import Rectangle

            self._draw_text_regions(ax)
            for r0, c0, r1, c1 in self._regions_for(self._items[self.instance]):
                ax.add_patch(
                    Rectangle(
                        (c0 - 0.5, r0 - 0.5),
                        c1 - c0,
                        r1 - r0,
                        fill=False,
                        edgecolor="red",
                        linewidth=1,
                    )
                )
        n = len(self.regions)
        geometry = (
            f" on {self._region_geometry[0]}x{self._region_geometry[1]} images"
            if self._region_geometry
            else ""
        )
        text = (
            f"{n} region(s) to blank{geometry}: {list(self.regions)}" if n else "no region marked"
        )
        self.region_label.value = str(wrap(tag("div", tag("span", text, class_="dw-muted")), text))
        self._flush_figure()

    def _flush_figure(self) -> None:
        if self._mode == "ipympl":
            self.canvas.draw_idle()
        else:
            import io

            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png")
            assert self._image_widget is not None
            self._image_widget.value = buffer.getvalue()

    def _on_frame(self, change: dict[str, Any]) -> None:
        self._draw_pixels()

    def pixels(self, frame: int | None = None, *, anonymized: bool = True) -> np.ndarray:
        """Decoded pixel values of the shown instance (one frame), after the marked regions.

        These are the stored values the export writes (with ``anonymized=True``), computed by
        the engine's own :func:`~dicom_widgets.deid.batch.clean_pixels`.

        Parameters
        ----------
        frame : int, optional
            Default: the shown frame.
        anonymized : bool
            ``False`` for the original values.
        """
        ds = self._dataset(self.instance)
        index = self.frame if frame is None else int(frame)
        regions = self._regions_for(self._items[self.instance]) + self._accepted_text_boxes()
        if anonymized and regions:
            return self._decoded(ds, "cleaned", regions)[0][index]
        return self._original_frame(ds, index)[0]

    def display_frames(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The original and anonymized display images (uint8) of the shown frame."""
        first, second, _ = self._frame_images()
        return first, second

    # ------------------------------------------------------------------ burned-in text
    def _build_text_controls(self) -> None:
        self.detect_button = widgets.Button(
            description="Detect text", icon="search", tooltip="OCR this instance (Tesseract)"
        )
        self.detect_button.on_click(lambda _: self._detect_shown())
        self.text_status = widgets.HTML()
        # One checkbox per proposed region: checked = blank it on export.
        self.region_boxes = widgets.VBox()
        self.region_boxes.add_class("dw-text-regions")

    def _source_key(self, i: int) -> str:
        """The name the batch gives instance ``i`` (the key of TextRegionPlan.reviewed)."""
        item = self._items[i]
        if item.path is None:
            return f"<dataset {i}>"
        return str(Path(item.path).expanduser().resolve())

    def detect_text(self) -> TextDetection:
        """OCR the shown instance and propose its text regions (see :attr:`text_regions`).

        Every region starts undecided: :attr:`text_mode` (``"detect"`` when unset) says
        which are blanked; :meth:`accept_region` and :meth:`reject_region` decide.

        Returns
        -------
        TextDetection

        Raises
        ------
        MissingDependencyError
            Tesseract is not installed (the message says what to install).
        """
        detection = find_text_regions(
            self._dataset(self.instance), label=self._items[self.instance].label
        )
        self._text_found[self.instance] = detection.regions
        self.text_message = detection.describe()
        self.text_regions = detection.regions
        return detection

    def _detect_shown(self) -> None:
        try:
            self.detect_text()
        except (DicomWidgetsError, OSError, ValueError) as exc:
            self.text_message = f"text detection failed: {exc}"
        self._render_text_status()

    def _show_text_regions(self, i: int) -> None:
        """Show instance ``i``'s proposals, detecting them first when text_mode asks."""
        found = self._text_found.get(i)
        if found is None and self.text_mode is not None and self._items[i].error is None:
            self._detect_shown()
            return
        self.text_regions = found or ()
        self._render_text_status()

    def _decide(self, index: int, accepted: bool) -> None:
        regions = list(self.text_regions)
        if not 0 <= index < len(regions):
            raise IndexError(f"no text region {index} (there are {len(regions)})")
        regions[index] = regions[index].decided(accepted)
        self.text_regions = tuple(regions)

    def accept_region(self, index: int) -> None:
        """Blank proposed text region ``index`` of the shown instance on export."""
        self._decide(index, True)

    def reject_region(self, index: int) -> None:
        """Keep proposed text region ``index`` of the shown instance (recorded in the report)."""
        self._decide(index, False)

    def _on_text_regions(self, change: dict[str, Any]) -> None:
        if self.text_regions or self.instance in self._text_found:
            self._text_found[self.instance] = tuple(self.text_regions)
        self._render_text_status()
        self._recompute()  # accepted regions resolve the burned-in annotation warning
        self._draw_pixels()

    def _text_mode_for_blanking(self) -> str:
        return self.text_mode or "detect"

    def _accepted_text_boxes(self) -> list[Region]:
        mode = self._text_mode_for_blanking()
        return [tuple(r.box) for r in self.text_regions if r.blanked_by(mode)]  # type: ignore[misc]

    def _render_text_status(self) -> None:
        mode = self._text_mode_for_blanking()
        regions = self.text_regions
        boxes = list(self.region_boxes.children)
        if [b.region_box for b in boxes] != [r.box for r in regions]:  # type: ignore[attr-defined]
            boxes = []
            for i, region in enumerate(regions):
                box = widgets.Checkbox(indent=False, layout=widgets.Layout(width="auto"))
                box.add_class("dw-text-region")
                box.region_box = region.box  # type: ignore[attr-defined]
                box.observe(lambda ch, i=i: self._decide(i, bool(ch["new"])), names="value")
                boxes.append(box)
            self.region_boxes.children = boxes
        for i, (box, region) in enumerate(zip(boxes, regions)):
            what = ", ".join(region.matches) or "no header value"
            state = (
                ""
                if region.accepted is None
                else " (accepted)"
                if region.accepted
                else " (rejected)"
            )
            box.description = (
                f"{i + 1}: {what} · {region.text[:40]!r} ({region.confidence:.0f}%){state}"
            )
            box.value = region.blanked_by(mode)
        message = self.text_message
        if regions:
            blanked = sum(r.blanked_by(mode) for r in regions)
            message = (
                f"{len(regions)} text region(s) found, {blanked} to blank (checked); "
                "uncheck one to keep it"
            )
        self.text_status.value = (
            str(wrap(tag("div", tag("span", message, class_="dw-muted")), message))
            if message
            else ""
        )

    def _draw_text_regions(self, ax: Any) -> None:
        from matplotlib.patches import Rectangle

        mode = self._text_mode_for_blanking()
        for i, region in enumerate(self.text_regions):
            r0, c0, r1, c1 = region.box
            blanked = region.blanked_by(mode)
            ax.add_patch(
                Rectangle(
                    (c0 - 0.5, r0 - 0.5),
                    c1 - c0,
                    r1 - r0,
                    fill=False,
                    edgecolor="orange" if blanked else "deepskyblue",
                    linestyle="-" if blanked else "--",
                    linewidth=1,
                )
            )
            ax.text(
                c0, r0 - 1, str(i + 1), color="orange" if blanked else "deepskyblue", fontsize=7
            )

    @property
    def text_plan(self) -> TextRegionPlan | None:
        """What export passes as ``text_regions``: the reviewed regions of every instance
        detected here, and :attr:`text_mode` for the others (``None``: nothing to do)."""
        # Undecided regions stay undecided: the plan's mode (the same as here) decides them,
        # and the report counts as rejected only what the reviewer rejected.
        reviewed = {self._source_key(i): regions for i, regions in self._text_found.items()}
        if not reviewed and self.text_mode is None:
            return None
        return TextRegionPlan(self.text_mode, reviewed)

    # ------------------------------------------------------------------ export
    def export(
        self,
        out_dir: str | os.PathLike[str] | None = None,
        *,
        overwrite: bool = False,
        into_existing: bool = False,
    ) -> Report | None:
        """De-identify every instance into ``out_dir`` (default: the output field) and verify.

        Unsafe targets are refused with the message shown in the widget (and in
        :attr:`export_message`), and nothing is written: the source folder, a folder inside it
        or containing it, a path that is a file, and -- unless ``into_existing`` -- a folder
        that already holds files (copies made with another key would mix with these).

        Parameters
        ----------
        out_dir : path, optional
            The output folder (created); default: the text of the output field.
        overwrite : bool
            Replace output files of the same name (otherwise they are reported as ``exists``).
        into_existing : bool
            Allow a folder that already holds files (for example to continue a batch with the
            same ``key``).

        Returns
        -------
        Report or None
            The engine's report (also :attr:`report`), ``None`` when the export was refused.
        """
        target = os.fspath(out_dir) if out_dir is not None else self.output_folder.strip()
        if out_dir is not None:
            self.output_folder = target
        self.export_button.disabled = True
        try:
            if not target:
                raise UnsafeOutputError("choose an output folder (outside the source folders)")
            report = self._run_export(target, overwrite=overwrite, into_existing=into_existing)
        except (DicomWidgetsError, OSError, ValueError) as exc:
            self.report = None
            self.export_message = f"Export refused: {exc}"
            self.export_output.value = str(
                wrap(tag("div", note(self.export_message, kind="error")), self.export_message)
            )
            return None
        finally:
            self.export_button.disabled = False
        self.report = report
        self._show_report(report)
        return report

    def _run_export(self, target: str, *, overwrite: bool, into_existing: bool) -> Report:
        from ..deid import anonymize_files

        out = Path(target).expanduser().resolve()
        # The engine refuses a target inside a source folder; the widget also refuses one that
        # contains the sources, and checks the folder of a folder source as a whole.
        check_output_folder(out, self._source_folders, require_empty=not into_existing)
        n = len(self._items)
        self.progress.max = max(1, n)
        self.progress.value = 0
        self.progress.layout.display = None
        self.progress.bar_style = ""

        def progress(done: int, total: int) -> None:
            self.progress.max = max(1, total)
            self.progress.value = min(done, total)

        # One engine call (its own process pool for large batches) with the preview's context,
        # so the UIDs written are the UIDs previewed.
        report = anonymize_files(
            [item.path if item.path is not None else item.dataset for item in self._items],
            out,
            profile=self.profile,
            key=self.context,
            progress=progress,
            overwrite=overwrite,
            pixel_regions=self.pixel_regions,
            text_regions=self.text_plan,
        )
        for outcome, item in zip(report.outcomes, self._items):
            if item.path is None:
                outcome.source = item.label
            if outcome.status in ("error", "verification_failed") and not item.error:
                item.skip = outcome.message or outcome.status
        self.progress.value = self.progress.max
        self._refresh_selector()
        self.progress.bar_style = "success" if report.ok else "warning"
        return report

    def _show_report(self, report: Report) -> None:
        verification = report.verification
        if verification is not None and verification.ok:
            verdict = "no identifying values found"
        elif verification is None:
            verdict = "not verified"
        else:
            verdict = f"{len(verification.hits)} identifying value(s) found"
        counts = ", ".join(f"{k}: {v}" for k, v in report.counts().items())
        self.export_message = f"Exported to {report.out_dir} ({counts}); verification: {verdict}"
        failed = [o for o in report.outcomes if o.status not in ("written", "skipped")]
        body = [H.report_summary_html(report)]
        if failed or len(report.outcomes) <= 50:
            body.append(H.outcomes_table(report))
        self.export_output.value = str(wrap(tag("div", body), report._repr_text()))

    # ------------------------------------------------------------------ reprs
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None and self.result is not None:
            # Static fallback: what changed, for notebooks rendered without a kernel.
            bundle["text/html"] = H.anonymization_result_html(self.result)
        return bundle

    def __repr__(self) -> str:
        return (
            f"<AnonymizationPreview {len(self._items)} instance(s), {self.profile.describe()}, "
            f"{len(self.regions)} region(s)>"
        )


def _shown_as_change(change: Change) -> bool:
    # "changed only" also lists what an option or override kept: that is what the user decided.
    return change.changed or H.change_category(change) == "kept_option"


def _haystack(change: Change) -> str:
    label = H.CATEGORIES[H.change_category(change)][0]
    parts = (
        change.path,
        change.keyword,
        change.tag_str,
        change.rule,
        change.action,
        label,
        change.before or "",
        change.after or "",
        change.note,
    )
    return "\n".join(parts).casefold()


def _canvas_mode(canvas: str) -> str:
    from ._viewer_render import choose_canvas

    return choose_canvas(
        canvas,
        needs="drawing rectangles",
        instead="canvas='image' and preview.add_region(...)",
    )
