"""A DICOMweb server as a source of series: QIDO-RS catalogs, lazy WADO-RS series, STOW-RS."""

from __future__ import annotations

import base64
import datetime as _dt
import io
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack
from urllib.parse import urlsplit

import requests
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset

from .._compat import as_text, safe_get
from ..errors import DecodeError, DicomWebError, DicomWebResponseError
from ..series import DEFAULT_CACHE_BYTES, Finding, FrameRef, Series, scan
from ._frames import RemoteFrameReader, _frame_bytes, decode_frame_bytes, fetch_instance
from ._json import SeriesValues, cyclic_gc_paused, dataset_from_json, light_header_from_json
from ._multipart import instance_bytes
from ._session import DicomWebSession, SessionOptions, origin_of
from ._stream import SeriesStream, disagreement, instance_frame

__all__ = [
    "connect",
    "DicomWebSource",
    "DicomWebCatalog",
    "DicomWebSeries",
    "load_series_url",
    "split_series_url",
    "STUDY_COLUMNS",
    "SERIES_COLUMNS",
]

#: Columns of a study catalog: (DICOM keyword, tag) in display order.
STUDY_COLUMNS = (
    "PatientName",
    "PatientID",
    "StudyDate",
    "StudyDescription",
    "ModalitiesInStudy",
    "AccessionNumber",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "StudyInstanceUID",
)
#: Columns of a series catalog.
SERIES_COLUMNS = (
    "PatientName",
    "PatientID",
    "StudyDate",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "NumberOfSeriesRelatedInstances",
    "StudyInstanceUID",
    "SeriesInstanceUID",
)
# QIDO-RS parameters that are not attributes (PS3.18 8.3.4).
_QIDO_PARAMETERS = {"limit", "offset", "fuzzymatching", "includefield"}
# Pixel data is fetched frame by frame; these bulk data are left out of the headers.
_PIXEL_TAGS = {"7FE00010", "7FE00008", "7FE00009"}
# Bulk data worth fetching with the headers: lookup tables a display needs.
_DISPLAY_BULK = {
    "00283006",  # LUT Data (Modality / VOI LUT Sequence items)
    "00281201",  # Red Palette Color Lookup Table Data
    "00281202",
    "00281203",
    "00281221",  # Segmented palette data
    "00281222",
    "00281223",
}


def _hex_tag(tag: object) -> str:
    text = str(tag).upper().replace("(", "").replace(")", "").replace(",", "")
    return text.zfill(8) if text.isalnum() else text


def _text_of(item: Mapping[str, Any], keyword: str) -> str:
    """The value of ``keyword`` in a DICOM JSON object as text (hostile input tolerated)."""
    tag = tag_for_keyword(keyword)
    element = item.get(f"{tag:08X}") if tag is not None else None
    if not isinstance(element, Mapping):
        return ""
    values = element.get("Value")
    if not isinstance(values, list):
        return ""
    out = []
    for value in values:
        if isinstance(value, Mapping):  # a person name: its alphabetic group
            value = value.get("Alphabetic", "")
        if isinstance(value, (dict, list)):
            continue
        out.append(str(value))
    return "\\".join(out)


@dataclass
class DicomWebCatalog(Sequence):
    """The answer of a QIDO-RS search: one row per study or series.

    Rows are plain dicts of text (:attr:`columns`); ``to_dataframe()`` gives a pandas view,
    and the HTML repr escapes every value the server sent.

    Attributes
    ----------
    level : str
        ``"study"`` or ``"series"``.
    rows : list of dict
        One dict per match, keyed by DICOM keyword.
    url : str
        The query that produced it (no credentials).

    Examples
    --------
    >>> studies = source.studies(PatientName="DOE*")  # doctest: +SKIP
    >>> studies.to_dataframe()[["PatientName", "StudyDate"]]  # doctest: +SKIP
    """

    level: str
    rows: list[dict[str, str]]
    url: str = ""
    columns: tuple[str, ...] = ()
    raw: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(self.rows)

    def uids(self) -> list[str]:
        """The StudyInstanceUIDs (study level) or SeriesInstanceUIDs (series level)."""
        key = "StudyInstanceUID" if self.level == "study" else "SeriesInstanceUID"
        return [row.get(key, "") for row in self.rows]

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (one column per keyword of :attr:`columns`).

        Raises
        ------
        MissingDependencyError
            Without pandas (``pip install "dicom-widgets[analysis]"``).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            from ..errors import MissingDependencyError

            raise MissingDependencyError(
                'to_dataframe needs pandas: pip install "dicom-widgets[analysis]"'
            ) from exc
        return pd.DataFrame(self.rows, columns=list(self.columns))

    def __repr__(self) -> str:
        from ..html.dicomweb import catalog_text

        return catalog_text(self)

    def _repr_html_(self) -> str:
        from ..html.dicomweb import dicomweb_catalog_html

        return str(dicomweb_catalog_html(self))


class DicomWebSeries(Series):
    """A :class:`~dicom_widgets.series.Series` whose frames come from a DICOMweb server.

    Everything a local series offers works (viewer, tag explorer, reprs, ``volume()``);
    frames are fetched when first asked for and kept in the same bounded cache. Besides:

    Attributes
    ----------
    url : str
        The series' WADO-RS URL (no credentials).
    source : DicomWebSource
        The server it came from.
    study_uid : str
        Its StudyInstanceUID.

    Examples
    --------
    >>> series = dw.load_series(url, auth=("user", "password"))  # doctest: +SKIP
    >>> series.frame(0).shape, series.requests_made  # doctest: +SKIP
    ((512, 512), 2)
    """

    def __init__(
        self,
        frames: Sequence[FrameRef],
        *,
        source: DicomWebSource,
        reader: RemoteFrameReader,
        notes: Sequence[Finding] = (),
        prefetch_series: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self._json_lock = threading.Lock()
        self._json_headers: OrderedDict[int, Dataset] = OrderedDict()
        self._stream: SeriesStream | None = None
        self._stream_wanted = prefetch_series
        super().__init__(frames, frame_reader=reader, **kwargs)
        self.source = source
        self.study_uid = reader.study_uid
        self._reader = reader
        self.url = source.session.url(f"studies/{reader.study_uid}/series/{reader.series_uid}")
        self._notes = list(notes)

    @property
    def findings(self) -> list[Finding]:
        """QA findings, with what the network source left out or worked around."""
        notes = list(self._reader.notes)
        stream = self._stream
        if stream is not None and stream.error:
            notes.append(
                f"prefetching the whole series in one request stopped ({stream.error}); "
                "the other frames are fetched one by one"
            )
        network = [Finding("info", "dicomweb", note, (self.url,)) for note in notes]
        return [*super().findings, *self._notes, *network]

    # ------------------------------------------------- prefetch of the whole series
    def _schedule_neighbours(self, k: int) -> None:
        # After the first frame shown, the whole series comes in one request when all its
        # frames fit in the series' cache: one answer instead of a request per frame.
        with self._json_lock:
            if self._stream is None and self._prefetch_enabled and self._stream_fits():
                path = f"studies/{self.study_uid}/series/{self._reader.series_uid}"
                session = self.source.session
                self._stream = SeriesStream(
                    session, path, self._take_streamed, max_part_bytes=session.max_answer_bytes
                ).start()
            stream = self._stream
        if stream is None or not stream.running:
            super()._schedule_neighbours(k)

    def _stream_fits(self) -> bool:
        if self._stream_wanted is False or len(self) < 2:
            return False
        self._stream_targets = {
            ref.sop_uid: k for k, ref in enumerate(self._flat) if ref.n_frames == 1
        }
        if len(self._stream_targets) < len(self._flat) / 2:
            return False  # multi-frame instances: frames are fetched one by one
        decoded = sum(_frame_bytes(ref) for ref in self._flat)
        return bool(self._stream_wanted) or decoded <= self._cache.max_bytes

    def _take_streamed(self, content: bytes) -> None:
        """One instance of the series stream: its frame into the cache, if it agrees."""
        quick = instance_frame(content)
        if quick is None:
            return  # compressed, multi-frame or unusual: that frame is fetched alone
        theirs, pixels = quick
        k = self._stream_targets.get(theirs.sop_uid)
        if k is None or k in self._cache:
            return
        ref = self._flat[k]
        differs = disagreement(ref, theirs)
        if differs:  # the metadata's view stays (as for a frame fetched alone); say so
            self._notes.append(
                Finding(
                    "warning",
                    "dicomweb-instance-differs",
                    f"instance {ref.sop_uid} differs from the series metadata: {differs}; "
                    "its frame is read as the metadata describes it",
                    (self.url,),
                )
            )
            return
        syntax = as_text(safe_get(theirs.header.file_meta, "TransferSyntaxUID"))
        self._reader.offer(ref, decode_frame_bytes(ref.header, pixels, syntax))
        try:
            self._decode_into_cache(k)
        except DecodeError:
            pass  # recorded as a finding of that frame, as for a frame fetched alone

    def wait_prefetch(self, timeout: float = 10.0) -> None:
        """Block until the background prefetch (and the series stream) has nothing pending."""
        if self._stream is not None:
            self._stream.wait(timeout)
        super().wait_prefetch(timeout)

    def close(self) -> None:
        """Stop the series stream and the prefetch, and drop the caches."""
        if self._stream is not None:
            self._stream.close()
        super().close()

    def _full_header(self, ds: Dataset) -> Dataset:
        """Every element of a light header's instance, built from its DICOM JSON once asked.

        Loading keeps only what grouping, sorting and display read (as for local files);
        the tag explorer, the anonymizer and ``dataset(i)`` get the whole header here.
        """
        item = getattr(ds, "_dw_json", None)
        if item is None:
            return ds
        key = id(ds)
        with self._json_lock:
            full = self._json_headers.get(key)
        if full is None:
            try:
                full = dataset_from_json(item)
            except Exception as exc:  # noqa: BLE001 - hostile or broken JSON
                raise DicomWebResponseError(
                    f"{self.url}/metadata: the header of instance {as_text(ds.SOPInstanceUID)} "
                    f"is not valid DICOM JSON: {type(exc).__name__}: "
                    f"{self.source.session.redact(exc)}"
                ) from None
            with self._json_lock:
                self._json_headers[key] = full
                while len(self._json_headers) > 16:
                    self._json_headers.popitem(last=False)
        return full

    @property
    def requests_made(self) -> int:
        """HTTP requests sent to the server so far by its session (all series of the source)."""
        return self.source.session.request_count

    def instance(self, index: int = 0, time: int = 0) -> Dataset:
        """The whole instance of slice ``index`` (pixel data included) fetched with WADO-RS.

        Examples
        --------
        >>> series.instance(0).pixel_array.shape  # doctest: +SKIP
        (512, 512)
        """
        return self._reader.instance(self.frame_ref(index, time).sop_uid)

    def instances(self) -> list[Dataset]:
        """Every instance of the series, whole (pixel data included), in slice order.

        Fetched with WADO-RS over :attr:`DicomWebSource.workers` connections; what
        :class:`~dicom_widgets.AnonymizationPreview` previews and exports for this series.

        Examples
        --------
        >>> len(series.instances())  # doctest: +SKIP
        300
        """
        uids = list(
            dict.fromkeys(
                self.frame_ref(i, t).sop_uid for t in range(self.n_times) for i in range(len(self))
            )
        )
        return self.source.fetch_instances(self.study_uid, self.series_uid, uids)

    def anonymize(
        self,
        out_dir: str | os.PathLike[str],
        *,
        stow_to: DicomWebSource | None = None,
        **options: Any,
    ) -> Any:
        """De-identify the series into a local folder (see :meth:`DicomWebSource.anonymize_series`).

        Examples
        --------
        >>> series.anonymize("deidentified", stow_to=research_archive).counts()  # doctest: +SKIP
        {'written': 300}
        """
        return self.source.anonymize_series(
            self.study_uid, self.series_uid, out_dir, stow_to=stow_to, **options
        )

    def __repr__(self) -> str:
        return super().__repr__().replace("<Series ", f"<DicomWebSeries {self.url} ", 1)


class DicomWebSource:
    """A DICOMweb server: search it (QIDO-RS), open series lazily (WADO-RS), store (STOW-RS).

    Build it with :func:`connect`. Credentials go only to the server's origin and never
    appear in reprs, messages or logs.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> source = dw.dicomweb.connect("http://127.0.0.1:8042/dicom-web", auth=("u", "p"))
    >>> source
    <DicomWebSource http://127.0.0.1:8042/dicom-web auth=basic>
    """

    def __init__(self, session: DicomWebSession, *, workers: int = 4) -> None:
        self.session = session
        self.workers = max(1, int(workers))
        session.configure_pool(self.workers + 2)

    @property
    def url(self) -> str:
        """The DICOMweb root URL (no credentials)."""
        return self.session.base_url

    def __repr__(self) -> str:
        return repr(self.session).replace("<DicomWebSession ", "<DicomWebSource ", 1)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.session.close()

    def __enter__(self) -> DicomWebSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- QIDO-RS
    def _query(
        self, filters: Mapping[str, Any], includefield: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """QIDO parameters, and the patterns to check here on the answers.

        Orthanc 1.10 does not percent-decode query values, and matches nothing for a ``^``
        even sent literally: characters other than letters, digits, ``*``, ``?``, ``.``,
        ``-``, ``,``, ``:`` and ``_`` are sent as the single-character wildcard ``?`` and the
        answers are then matched here against the exact pattern, so every server gives
        the same rows.
        """
        out: dict[str, str] = {}
        exact: dict[str, str] = {}
        fields = [f for f in includefield.split(",") if f]
        for name, value in filters.items():
            if value is None or value == "":
                continue
            if name.lower() in _QIDO_PARAMETERS:
                out[name.lower()] = str(value)
                continue
            if tag_for_keyword(name) is None and not _is_hex_tag(name):
                raise ValueError(
                    f"unknown QIDO-RS filter {name!r}: use DICOM keywords (PatientName, "
                    "PatientID, StudyDate, ModalitiesInStudy, ...) or limit/offset/includefield"
                )
            text = _query_value(value)
            sent = _UNSAFE_QUERY_CHARS.sub("?", text)
            if _is_person_name(name) and not sent.endswith("*"):
                sent += "*"  # stored names may carry empty trailing components: "DOE^J^^"
            if sent != text and tag_for_keyword(name) is not None:
                exact[name] = text
                if name not in fields:
                    fields.append(name)
            out[name] = sent
        if "includefield" not in out and fields:
            out["includefield"] = ",".join(fields)
        return out, exact

    def _search(
        self,
        level: str,
        path: str,
        filters: Mapping[str, Any],
        fields: str,
        columns: tuple[str, ...],
    ) -> DicomWebCatalog:
        params, exact = self._query(filters, fields)
        items = self.session.get_json(path, params=params, what=path.rsplit("/", 1)[-1])
        if exact:
            items = [item for item in items if _matches_all(item, exact)]
        return self._catalog(level, items, self.session.url(path, params), columns)

    def studies(self, **filters: Any) -> DicomWebCatalog:
        """Search studies (QIDO-RS ``/studies``).

        Parameters
        ----------
        **filters
            DICOM keywords and values: ``PatientName="DOE*"`` (``*`` and ``?`` are
            wildcards), ``PatientID``, ``StudyDate="20200101-20201231"`` (or a
            :class:`datetime.date`, or a (start, end) pair), ``ModalitiesInStudy="CT"``,
            ``AccessionNumber``...; and ``limit``, ``offset``, ``fuzzymatching``,
            ``includefield``.

        Returns
        -------
        DicomWebCatalog

        Examples
        --------
        >>> source.studies(PatientName="CompressedSamples*", ModalitiesInStudy="CT")  # doctest: +SKIP
        """
        return self._search(
            "study", "studies", filters, "StudyDescription,ModalitiesInStudy", STUDY_COLUMNS
        )

    def series(self, study_uid: str | None = None, **filters: Any) -> DicomWebCatalog:
        """Search the series of one study (or of all studies), QIDO-RS ``/series``.

        Examples
        --------
        >>> source.series(source.studies().uids()[0])  # doctest: +SKIP
        """
        path = f"studies/{_uid(study_uid)}/series" if study_uid else "series"
        fields = "SeriesDescription,PatientName,PatientID,StudyDate"
        return self._search("series", path, filters, fields, SERIES_COLUMNS)

    def _catalog(
        self, level: str, items: list[dict[str, Any]], url: str, columns: tuple[str, ...]
    ) -> DicomWebCatalog:
        rows = [{key: _text_of(item, key) for key in columns} for item in items]
        return DicomWebCatalog(level, rows, self.session.shown(url), columns, items)

    # ---------------------------------------------------------------- WADO-RS
    def metadata(self, study_uid: str, series_uid: str) -> tuple[list[Dataset], list[Finding]]:
        """The headers of a series from one WADO-RS metadata request, and notes about them.

        Pixel data is left out (frames are fetched on demand). Other bulk data: lookup
        tables on the same origin are fetched; the rest is left out; BulkDataURIs on another
        origin are never requested (a finding says so).

        Examples
        --------
        >>> headers, notes = source.metadata(study_uid, series_uid)  # doctest: +SKIP
        >>> "PixelData" in headers[0]  # doctest: +SKIP
        False
        """
        return self._headers(study_uid, series_uid, light=False)

    def _headers(
        self, study_uid: str, series_uid: str, *, light: bool
    ) -> tuple[list[Dataset], list[Finding]]:
        """The series' headers; ``light``: the fast reader's elements only where it can.

        A light header keeps its DICOM JSON object (``_dw_json``), from which
        :meth:`DicomWebSeries.dataset` builds the full header when it is asked for.
        """
        path = f"studies/{_uid(study_uid)}/series/{_uid(series_uid)}/metadata"
        where = self.session.shown(self.session.url(path))
        items = self.session.get_json(path, what=f"metadata of series {series_uid}")
        if not items:
            raise DicomWebError(f"{where}: the series has no instances")
        bulk = _BulkData(self.session)
        with cyclic_gc_paused():
            datasets = self._read_headers(items, bulk, where, light=light)
        return datasets, bulk.findings(where)

    def _read_headers(
        self, items: list[dict[str, Any]], bulk: _BulkData, where: str, *, light: bool
    ) -> list[Dataset]:
        """One Dataset per DICOM JSON object of a series' metadata (see :meth:`_headers`)."""
        shared = SeriesValues()
        datasets = []
        for k, item in enumerate(items):
            try:
                _resolve_bulk_data(item, bulk.fetch)
                quick = light_header_from_json(item, order=k, shared=shared) if light else None
                if quick is not None:
                    object.__setattr__(quick[0], "_dw_json", item)
                datasets.append(quick[0] if quick is not None else dataset_from_json(item))
            except DicomWebError:
                raise
            except Exception as exc:  # noqa: BLE001 - hostile or broken JSON
                raise DicomWebResponseError(
                    f"{where}: instance {k + 1} of the metadata is not valid DICOM JSON: "
                    f"{type(exc).__name__}: {self.session.redact(exc)}"
                ) from None
        return datasets

    def load_series(
        self,
        study_uid: str,
        series_uid: str,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        prefetch: bool = True,
        prefetch_neighbours: int = 8,
        prefetch_series: bool | None = None,
    ) -> DicomWebSeries:
        """Open a series lazily: one metadata request now, frames when they are looked at.

        Headers are grouped and sorted by the same geometry code as local files; frames
        (WADO-RS frames, in their stored transfer syntax, decoded here) go into the
        series' bounded cache, and ``prefetch_neighbours`` frames on each side of the one
        shown are fetched over :attr:`workers` connections.

        Returns
        -------
        DicomWebSeries

        Raises
        ------
        DicomWebNotFoundError
            When the server has no such series.

        Examples
        --------
        >>> series = source.load_series(study_uid, series_uid)  # doctest: +SKIP
        >>> series.frame(0).shape  # doctest: +SKIP
        (512, 512)
        """
        datasets, notes = self._headers(study_uid, series_uid, light=True)
        with cyclic_gc_paused():
            catalog = scan(datasets, progress=False, prefetch=False)
        entries = [e for e in catalog.entries if e.has_pixels]
        main = next((e for e in entries if e.key == series_uid), entries[0] if entries else None)
        reader = RemoteFrameReader(self.session, study_uid, series_uid)
        common: dict[str, Any] = {
            "source": self,
            "reader": reader,
            "cache_bytes": cache_bytes,
            "prefetch": prefetch,
            "prefetch_neighbours": prefetch_neighbours,
            "prefetch_workers": self.workers,
            "prefetch_series": prefetch_series,
        }
        if main is None:  # no image instances (SR, RT plan): a series with a header only
            entry = catalog.entries[0] if catalog.entries else None
            findings = [*(entry.findings if entry else []), *notes]
            return DicomWebSeries([], notes=findings, header=datasets[0], **common)
        return DicomWebSeries(main.frames, key=main.key, notes=[*main.findings, *notes], **common)

    def instance(self, study_uid: str, series_uid: str, sop_uid: str) -> Dataset:
        """One whole instance (pixel data included), as stored.

        Examples
        --------
        >>> source.instance(study_uid, series_uid, sop_uid).SOPInstanceUID == sop_uid  # doctest: +SKIP
        True
        """
        path = f"studies/{_uid(study_uid)}/series/{_uid(series_uid)}/instances/{_uid(sop_uid)}"
        return fetch_instance(self.session, path, sop_uid)

    def fetch_instances(
        self, study_uid: str, series_uid: str, sop_uids: Sequence[str]
    ) -> list[Dataset]:
        """Whole instances (WADO-RS), in the order given, over :attr:`workers` connections.

        Examples
        --------
        >>> uids = source.instances(study_uid, series_uid)  # doctest: +SKIP
        >>> datasets = source.fetch_instances(study_uid, series_uid, uids)  # doctest: +SKIP
        """
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(self.workers, thread_name_prefix="dicomweb-instances") as pool:
            return list(pool.map(lambda uid: self.instance(study_uid, series_uid, uid), sop_uids))

    def instances(self, study_uid: str, series_uid: str) -> list[str]:
        """SOPInstanceUIDs of a series (QIDO-RS ``/instances``).

        Examples
        --------
        >>> len(source.instances(study_uid, series_uid))  # doctest: +SKIP
        300
        """
        path = f"studies/{_uid(study_uid)}/series/{_uid(series_uid)}/instances"
        items = self.session.get_json(path, what=f"instances of series {series_uid}")
        return [_text_of(item, "SOPInstanceUID") for item in items]

    # ------------------------------------------------------ de-identification
    def anonymize_series(
        self,
        study_uid: str,
        series_uid: str,
        out_dir: str | os.PathLike[str],
        *,
        stow_to: DicomWebSource | None = None,
        progress: bool = False,
        **options: Any,
    ) -> Any:
        """De-identify a series into a local folder, optionally storing the copy elsewhere.

        Each instance is fetched whole (WADO-RS) and handed to
        :func:`dicom_widgets.deid.anonymize_files`, which writes ``out_dir`` atomically
        and verifies every output; nothing is written to the server it came from.

        Parameters
        ----------
        out_dir : path
            The folder for the de-identified files.
        stow_to : DicomWebSource, optional
            Another server to store the de-identified copy on (STOW-RS).
        **options
            Passed to :func:`~dicom_widgets.deid.anonymize_files` (``profile``, ``key``...).

        Returns
        -------
        dicom_widgets.deid.Report

        Examples
        --------
        >>> report = source.anonymize_series(study_uid, series_uid, "out")  # doctest: +SKIP
        >>> report.counts()  # doctest: +SKIP
        {'written': 300}
        """
        from ..deid import anonymize_files

        datasets = self.fetch_instances(
            study_uid, series_uid, self.instances(study_uid, series_uid)
        )
        report = anonymize_files(datasets, out_dir, progress=progress, **options)
        if stow_to is not None:
            stow_to.store(report.written)
        return report

    # ---------------------------------------------------------------- STOW-RS
    def store(self, items: Iterable[Dataset | str | os.PathLike[str]]) -> int:
        """Store instances (datasets or files) with one STOW-RS request; the number stored.

        Raises
        ------
        DicomWebResponseError
            When the server reports instances it did not store.

        Examples
        --------
        >>> other = connect("http://127.0.0.1:8043/dicom-web")  # doctest: +SKIP
        >>> other.store(report.written)  # doctest: +SKIP
        300
        """
        boundary = uuid.uuid4().hex
        body = io.BytesIO()
        count = 0
        for item in items:
            body.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            body.write(instance_bytes(item))
            body.write(b"\r\n")
            count += 1
        if not count:
            return 0
        body.write(f"--{boundary}--\r\n".encode())
        response = self.session.request(
            "POST",
            "studies",
            data=body.getvalue(),
            accept="application/dicom+json",
            content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
            what=f"STOW-RS of {count} instance(s)",
        )
        failed = _failed_sops(response)
        if failed:
            raise DicomWebResponseError(
                f"{self.session.shown(self.session.url('studies'))}: the server did not store "
                f"{failed} of {count} instance(s)"
            )
        return count


class _BulkData:
    """What to do with the BulkDataURIs of a series' metadata, and the findings about them."""

    def __init__(self, session: DicomWebSession) -> None:
        self.session = session
        self.foreign: dict[str, set[str]] = {}
        self.left_out: set[str] = set()

    def fetch(self, hex_tag: str, uri: str) -> bytes | None:
        """The bytes of a display lookup table on the origin; ``None`` for anything else."""
        absolute = self.session.url(uri)
        if not self.session.same_origin(absolute):
            self.foreign.setdefault(str(origin_of(absolute)), set()).add(_tag_name(hex_tag))
            return None
        if hex_tag in _DISPLAY_BULK:
            try:
                return self.session.request(
                    "GET", absolute, accept="application/octet-stream", what="bulk data"
                ).content
            except DicomWebError as exc:
                self.left_out.add(f"{_tag_name(hex_tag)} ({exc})")
                return None
        self.left_out.add(_tag_name(hex_tag))
        return None

    def findings(self, where: str) -> list[Finding]:
        """A warning per other origin named, and a note of what was left out."""
        origin = self.session.origin
        notes = [
            Finding(
                "warning",
                "bulkdata-other-origin",
                f"the metadata points bulk data ({', '.join(sorted(tags))}) at another "
                f"origin, {other}; it was not requested, so that the credentials stay with "
                f"{origin} (pixel data is read from {origin})",
                (where,),
            )
            for other, tags in sorted(self.foreign.items())
        ]
        if self.left_out:
            notes.append(
                Finding(
                    "info",
                    "bulkdata-left-out",
                    "bulk data not needed for viewing was left out of the headers: "
                    f"{', '.join(sorted(self.left_out))}",
                    (where,),
                )
            )
        return notes


def _resolve_bulk_data(item: dict[str, Any], fetch: Any, depth: int = 0) -> None:
    """Replace the BulkDataURIs of a DICOM JSON object (and its sequences) before parsing.

    Pixel data goes (frames are fetched on their own); ``fetch(tag, uri)`` decides about
    the rest and returns the bytes (inlined) or ``None`` (the element is left empty). Done
    here rather than with pydicom's ``bulk_data_uri_handler``, which inspects the handler's
    signature once per element.
    """
    if depth > 32:
        raise ValueError("sequences nested more than 32 deep")
    for tag, element in list(item.items()):
        # Keys are 8 hex digits in DICOM JSON; anything else is normalised the slow way.
        # Only group 7FE0 is pixel data: other keys skip the normalisation (100 a header).
        if tag[:1] == "7" or len(tag) != 8:
            if _bulk_tag(tag) in _PIXEL_TAGS:
                del item[tag]
                continue
        if element.__class__ is not dict:
            continue
        if "BulkDataURI" in element:
            hex_tag = _bulk_tag(tag)
            content = fetch(hex_tag, str(element["BulkDataURI"]))
            vr = element.get("vr", "UN")
            if content is None:
                item[tag] = {"vr": vr}
            else:
                item[tag] = {"vr": vr, "InlineBinary": base64.b64encode(content).decode()}
        elif element.get("vr") == "SQ" and isinstance(element.get("Value"), list):
            for sub in element["Value"]:
                if isinstance(sub, dict):
                    _resolve_bulk_data(sub, fetch, depth + 1)


def _bulk_tag(key: str) -> str:
    """A DICOM JSON key as 8 upper-case hex digits (other spellings the slow way)."""
    return key.upper() if len(key) == 8 else _hex_tag(key)


def _failed_sops(response: requests.Response) -> int:
    try:
        body = response.json()
    except ValueError:
        return 0
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return 0
    failed = body.get("00081198", {})
    values = failed.get("Value", []) if isinstance(failed, dict) else []
    return len(values) if isinstance(values, list) else 0


# What Orthanc 1.10 cannot match in a query value (it does not percent-decode, and fails "^").
_UNSAFE_QUERY_CHARS = re.compile(r"[^A-Za-z0-9*?.,:_-]")


def _pattern(text: str) -> re.Pattern[str]:
    """A QIDO matching pattern (``*`` any run, ``?`` one character) as a regex, any case."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _matches_all(item: Mapping[str, Any], exact: Mapping[str, str]) -> bool:
    for keyword, text in exact.items():
        values = _text_of(item, keyword).split("\\")
        pattern = _pattern(text)
        # Trailing empty person-name components ("DOE^JOHN^^") do not count.
        if not any(pattern.fullmatch(v) or pattern.fullmatch(v.rstrip("^")) for v in values):
            return False
    return True


def _is_person_name(keyword: str) -> bool:
    tag = tag_for_keyword(keyword)
    try:
        return tag is not None and dictionary_VR(tag) == "PN"
    except KeyError:
        return False


def _is_hex_tag(name: str) -> bool:
    return len(name) == 8 and all(c in "0123456789abcdefABCDEF" for c in name)


def _tag_name(hex_tag: str) -> str:
    try:
        keyword = keyword_for_tag(int(hex_tag, 16))
    except ValueError:
        keyword = ""
    return keyword or f"({hex_tag[:4]},{hex_tag[4:]})"


def _uid(value: str) -> str:
    """A UID for a URL path: refused when it could change the path."""
    text = str(value).strip()
    if not text or any(c in text for c in "/?#%\\ ") or text in (".", ".."):
        raise ValueError(f"not a DICOM UID: {text!r}")
    return text


def _query_value(value: Any) -> str:
    """A QIDO value: dates as YYYYMMDD, (start, end) pairs as ranges, lists comma-joined."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.strftime("%Y%m%d")
    if isinstance(value, tuple) and len(value) == 2:
        start, end = (_query_value(v) if v is not None else "" for v in value)
        return f"{start}-{end}"
    if isinstance(value, (list, set)):
        return ",".join(_query_value(v) for v in value)
    return str(value)


def connect(
    url: str, *, workers: int = 4, **session_options: Unpack[SessionOptions]
) -> DicomWebSource:
    """Connect to a DICOMweb server (no request is sent until you search or load).

    Parameters
    ----------
    url : str
        The DICOMweb root, e.g. ``"https://pacs.example.org/dicom-web"``.
    workers : int
        Connections used to prefetch frames.
    **session_options
        The keywords of :class:`~dicom_widgets.dicomweb.DicomWebSession`:

        - ``auth``: (user, password), a bearer token string or a ``requests`` auth object;
          sent only to the origin (scheme, host, port) of ``url``;
        - ``headers``: extra headers for the server (API keys); also sent only there,
          never shown;
        - ``session``: a ``requests.Session`` to reuse (proxies, client certificates);
        - ``timeout``: seconds, or (connect, read); default 5 s to connect, 30 s to read;
        - ``retries``, ``backoff``: further tries after 5xx/429 answers and dropped
          connections, with exponential backoff;
        - ``compress_pixels``: let the server gzip pixel data (for slow links);
        - ``max_json_bytes``, ``max_answer_bytes``: the largest answers read.

    Returns
    -------
    DicomWebSource

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> source = dw.dicomweb.connect("http://127.0.0.1:8042/dicom-web", auth="token")
    >>> source
    <DicomWebSource http://127.0.0.1:8042/dicom-web auth=bearer token>
    """
    return DicomWebSource(DicomWebSession(url, **session_options), workers=workers)


def split_series_url(url: str) -> tuple[str, str, str]:
    """(DICOMweb root, StudyInstanceUID, SeriesInstanceUID) of a series URL.

    Examples
    --------
    >>> split_series_url("http://127.0.0.1:8042/dicom-web/studies/1.2/series/1.2.3")
    ('http://127.0.0.1:8042/dicom-web', '1.2', '1.2.3')
    """
    parts = urlsplit(url)
    segments = parts.path.rstrip("/").split("/")
    try:
        at = len(segments) - 1 - segments[::-1].index("studies")
        study, word, series = segments[at + 1], segments[at + 2], segments[at + 3]
    except (ValueError, IndexError):
        study = word = series = ""
    if word != "series" or not study or not series:
        from ._session import _strip_userinfo

        raise ValueError(
            f"not a DICOMweb series URL (…/studies/<study UID>/series/<series UID>): "
            f"{_strip_userinfo(url)!r}"
        )
    root_path = "/".join(segments[:at])
    netloc = parts.netloc
    return f"{parts.scheme}://{netloc}{root_path}", study, series


def load_series_url(
    url: str,
    *,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    prefetch: bool = True,
    workers: int = 4,
    **session_options: Unpack[SessionOptions],
) -> DicomWebSeries:
    """Open the series at a DICOMweb URL (``…/studies/{study}/series/{series}``) lazily.

    ``dicom_widgets.load_series(url, auth=...)`` calls this.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> series = dw.load_series(  # doctest: +SKIP
    ...     "http://127.0.0.1:8042/dicom-web/studies/1.2/series/1.2.3", auth=("user", "pw"))
    """
    root, study, series = split_series_url(url)
    source = connect(root, workers=workers, **session_options)
    return source.load_series(study, series, cache_bytes=cache_bytes, prefetch=prefetch)
