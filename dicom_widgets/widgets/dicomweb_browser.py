"""DicomWebBrowser: search a DICOMweb server, pick a study and a series, view it.

A thin composition of stock ipywidgets around :mod:`dicom_widgets.dicomweb`:

- search fields for patient ID, patient name (``*`` and ``?`` wildcards), study date
  (``20240101`` or a range ``20240101-20241231``) and modality, and a Search button;
- a table of the matching studies: click a row to list its series;
- a table of the series: click a row to open it lazily in a
  :class:`~dicom_widgets.SeriesViewer` below (frames come over the network as you scroll).

Cells are ``Label`` widgets (text, never HTML), so names sent by the server cannot inject
markup. State lives in traitlets (``patient_id``, ``patient_name``, ``study_date``,
``modality``, ``study_uid``, ``series_uid``, ``status``), so code and tests drive it
without a browser.

Examples
--------
>>> import dicom_widgets as dw
>>> browser = dw.DicomWebBrowser("http://127.0.0.1:8042/dicom-web", auth=("user", "pw"))  # doctest: +SKIP
>>> browser.patient_name = "DOE*"  # doctest: +SKIP
>>> browser.search()  # doctest: +SKIP
>>> browser.open_study(0); browser.open_series(0)  # doctest: +SKIP
>>> browser.viewer.index = 10  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as W
import traitlets as T

from ..dicomweb import DicomWebCatalog, DicomWebSeries, DicomWebSource, connect
from ..errors import DicomWidgetsError

__all__ = ["DicomWebBrowser"]

_STUDY_COLUMNS = (
    ("PatientName", "Patient", "18%"),
    ("PatientID", "ID", "14%"),
    ("StudyDate", "Date", "10%"),
    ("ModalitiesInStudy", "Modalities", "10%"),
    ("StudyDescription", "Study", "30%"),
    ("NumberOfStudyRelatedSeries", "Series", "8%"),
)
_SERIES_COLUMNS = (
    ("SeriesNumber", "#", "8%"),
    ("Modality", "Modality", "10%"),
    ("SeriesDescription", "Description", "50%"),
    ("NumberOfSeriesRelatedInstances", "Instances", "12%"),
)
_ROW_LIMIT = 200


def _label(text: str, width: str, bold: bool = False) -> W.Label:
    label = W.Label(str(text), layout=W.Layout(width=width, overflow="hidden"))
    if bold:
        label.style.font_weight = "bold"
    return label


class DicomWebBrowser(W.VBox):
    """Search a DICOMweb server and open a series in the viewer with a click.

    Parameters
    ----------
    source : DicomWebSource or str
        A connected source, or the DICOMweb root URL (then ``auth``/``headers`` apply).
    auth, headers
        As for :func:`dicom_widgets.dicomweb.connect` (ignored when ``source`` is a source).
    viewer_options : mapping, optional
        Keyword arguments for the :class:`~dicom_widgets.SeriesViewer` that opens a series.
    search_now : bool
        Run an empty search (all studies, up to 200) when the widget is built.

    Attributes
    ----------
    studies, series_catalog : DicomWebCatalog or None
        The last study search and the series of the chosen study.
    series : DicomWebSeries or None
        The opened series; :attr:`viewer` shows it.

    Examples
    --------
    >>> browser = DicomWebBrowser(source, search_now=False)  # doctest: +SKIP
    >>> browser.modality = "CT"; browser.search()  # doctest: +SKIP
    """

    patient_id = T.Unicode("", help="PatientID filter (wildcards * and ?).")
    patient_name = T.Unicode("", help="PatientName filter (wildcards * and ?).")
    study_date = T.Unicode("", help="StudyDate: YYYYMMDD or a range YYYYMMDD-YYYYMMDD.")
    modality = T.Unicode("", help="Modality in study (CT, MR...).")
    study_uid = T.Unicode("", help="The chosen study ('' for none).")
    series_uid = T.Unicode("", help="The opened series ('' for none).")
    status = T.Unicode("", help="What happened last (results or the error), as plain text.")

    def __init__(
        self,
        source: DicomWebSource | str,
        *,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        viewer_options: Mapping[str, Any] | None = None,
        search_now: bool = True,
    ) -> None:
        self.source = (
            source
            if isinstance(source, DicomWebSource)
            else connect(str(source), auth=auth, headers=headers)
        )
        self.viewer_options = dict(viewer_options or {})
        self.studies: DicomWebCatalog | None = None
        self.series_catalog: DicomWebCatalog | None = None
        self.series: DicomWebSeries | None = None
        self.viewer: Any = None

        text = {"layout": W.Layout(width="auto", flex="1 1 0")}
        self.patient_id_box = W.Text(placeholder="patient ID", **text)
        self.patient_name_box = W.Text(placeholder="patient name (DOE*)", **text)
        self.date_box = W.Text(placeholder="date 20240101-20241231", **text)
        self.modality_box = W.Text(placeholder="modality (CT)", **text)
        for box, name in (
            (self.patient_id_box, "patient_id"),
            (self.patient_name_box, "patient_name"),
            (self.date_box, "study_date"),
            (self.modality_box, "modality"),
        ):
            T.link((box, "value"), (self, name))
        self.search_button = W.Button(description="Search", icon="search", button_style="primary")
        self.search_button.on_click(lambda _b: self.search())
        self.status_label = W.Label("")
        T.dlink((self, "status"), (self.status_label, "value"))
        self.study_table = W.VBox(layout=W.Layout(max_height="260px", overflow="auto"))
        self.study_table.add_class("dw-dicomweb-studies")
        self.series_table = W.VBox(layout=W.Layout(max_height="200px", overflow="auto"))
        self.series_table.add_class("dw-dicomweb-series")
        self.viewer_box = W.VBox()
        title = W.HTML(value="<b>DICOMweb</b>")
        where = W.Label(self.source.url)
        super().__init__(
            [
                W.HBox([title, where]),
                W.HBox(
                    [
                        self.patient_id_box,
                        self.patient_name_box,
                        self.date_box,
                        self.modality_box,
                        self.search_button,
                    ]
                ),
                self.status_label,
                self.study_table,
                self.series_table,
                self.viewer_box,
            ]
        )
        self.add_class("dw-dicomweb-browser")
        if search_now:
            self.search()

    def __repr__(self) -> str:
        n = None if self.studies is None else len(self.studies)
        found = "no search yet" if n is None else f"{n} stud{'y' if n == 1 else 'ies'} found"
        return f"<DicomWebBrowser {self.source.url}: {found}>"

    # ------------------------------------------------------------------ actions
    def filters(self) -> dict[str, str]:
        """The QIDO-RS filters of the current fields."""
        out = {
            "PatientID": self.patient_id.strip(),
            "PatientName": self.patient_name.strip(),
            "StudyDate": self.study_date.strip(),
            "ModalitiesInStudy": self.modality.strip().upper(),
        }
        return {k: v for k, v in out.items() if v}

    def search(self) -> DicomWebCatalog | None:
        """Search studies with the current fields and show them (errors go to :attr:`status`)."""
        try:
            studies = self.source.studies(**self.filters(), limit=_ROW_LIMIT)
        except (DicomWidgetsError, ValueError) as exc:
            self.status = f"Search failed: {exc}"
            return None
        self.studies = studies
        self.series_catalog = None
        self.series_table.children = ()
        self.study_uid = ""
        self.study_table.children = self._table(studies, _STUDY_COLUMNS, self.open_study)
        self.status = f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found"
        return studies

    def open_study(self, which: int | str) -> DicomWebCatalog | None:
        """List the series of a study of the last search (its row index or its UID)."""
        if self.studies is None:
            raise ValueError("search first")
        uid = self._uid(self.studies, which)
        try:
            series = self.source.series(uid)
        except DicomWidgetsError as exc:
            self.status = f"Cannot list the series: {exc}"
            return None
        self.study_uid = uid
        self.series_catalog = series
        self.series_table.children = self._table(series, _SERIES_COLUMNS, self.open_series)
        self.status = f"{len(series)} series in the study"
        return series

    def open_series(self, which: int | str) -> DicomWebSeries | None:
        """Open a series of the chosen study (row index or UID) in the viewer, lazily."""
        if self.series_catalog is None:
            raise ValueError("open a study first")
        uid = self._uid(self.series_catalog, which)
        try:
            series = self.source.load_series(self.study_uid, uid)
        except DicomWidgetsError as exc:
            self.status = f"Cannot open the series: {exc}"
            return None
        from .viewer import SeriesViewer

        if self.series is not None:
            self.series.close()
        self.series = series
        self.viewer = SeriesViewer(series, **self.viewer_options)
        self.viewer_box.children = (self.viewer,)
        self.series_uid = uid
        self.status = f"opened {len(series)} slices ({series.description or 'no description'})"
        return series

    # ---------------------------------------------------------------- internals
    @staticmethod
    def _uid(catalog: DicomWebCatalog, which: int | str) -> str:
        uids = catalog.uids()
        if isinstance(which, int):
            return uids[which]
        if which not in uids:
            raise ValueError(f"{which!r} is not in the list")
        return which

    def _table(
        self, catalog: DicomWebCatalog, columns: tuple[tuple[str, str, str], ...], action: Any
    ) -> tuple[W.Widget, ...]:
        head = W.HBox(
            [_label("", "70px")] + [_label(title, width, bold=True) for _, title, width in columns]
        )
        rows: list[W.Widget] = [head]
        for index, row in enumerate(catalog.rows[:_ROW_LIMIT]):
            button = W.Button(description="Open", layout=W.Layout(width="70px"))
            button.add_class("dw-dicomweb-open")
            button.on_click(lambda _b, index=index: action(index))
            cells = [_label(row.get(key, ""), width) for key, _, width in columns]
            line = W.HBox([button, *cells])
            line.add_class("dw-dicomweb-row")
            rows.append(line)
        if not catalog.rows:
            rows.append(W.Label("nothing matched"))
        return tuple(rows)
