"""An archive's QA in one table: every series' findings, and the files that could not be read.

Opening a series sorts it by geometry and finds gaps, duplicate positions, mixed
geometry, missing files; :func:`archive_report` does that for every series of a catalog
(in chunks of series, on the same executors as :func:`~dicom_widgets.scan`) without
keeping the series open, and adds the scan's unreadable and non-DICOM files.
"""

from __future__ import annotations

import concurrent.futures as cf
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._executors import ChunkFailure, progress_bar, run_chunks
from ._findings import SEVERITIES, Finding

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from ._scan import SeriesCatalog, SeriesInfo, _StackSource

__all__ = ["ArchiveReport", "archive_report", "ReportRow"]

_SERIES_PER_CHUNK = 8


@dataclass(frozen=True)
class ReportRow:
    """One finding of the archive: the series it concerns (empty for scan-level ones)."""

    key: str
    patient_id: str
    modality: str
    series_description: str
    finding: Finding


@dataclass
class ArchiveReport:
    """Every finding of an archive (see :func:`archive_report`).

    Attributes
    ----------
    rows : list of ReportRow
        One per finding, series by series in catalog order, then the scan's own.
    n_series, n_files : int
        Series and DICOM files in the catalog.
    source : str
    """

    rows: list[ReportRow]
    n_series: int
    n_files: int
    source: str = ""
    series_with_findings: int = field(default=0)

    @property
    def findings(self) -> list[Finding]:
        return [r.finding for r in self.rows]

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of findings per (severity, code), most severe first."""
        order = {s: k for k, s in enumerate(reversed(SEVERITIES))}
        counted = Counter((r.finding.severity, r.finding.code) for r in self.rows)
        return dict(sorted(counted.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])))

    def to_dataframe(self) -> Any:
        """One row per finding: series key, patient, modality, severity, code, message, files."""
        from ._export import require

        pd = require("pandas")
        columns = [
            "key", "patient_id", "modality", "series_description", "severity", "code",
            "message", "n_files", "paths",
        ]  # fmt: skip
        return pd.DataFrame(
            [
                (
                    r.key,
                    r.patient_id,
                    r.modality,
                    r.series_description,
                    r.finding.severity,
                    r.finding.code,
                    r.finding.message,
                    len(r.finding.paths),
                    r.finding.paths,
                )  # fmt: skip
                for r in self.rows
            ],
            columns=columns,
        )

    def __repr__(self) -> str:
        counts = ", ".join(f"{sev} {code}: {n}" for (sev, code), n in self.counts().items())
        return (
            f"<ArchiveReport of {self.source!r}: {self.n_series} series, {self.n_files} files, "
            f"{len(self.rows)} finding(s) in {self.series_with_findings} series"
            f"{'; ' + counts if counts else ''}>"
        )

    def _repr_html_(self) -> str:
        from ..html.archive import archive_report_html

        return archive_report_html(self)


def _chunk_findings(
    items: Sequence[tuple[str, list[Finding], _StackSource]],
) -> list[list[Finding]]:
    """Open each series (headers read again, nothing decoded) and return its findings."""
    from ._series import Series

    out = []
    for key, known, source in items:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the findings say it; nobody reads warnings here
            refs, headers, read_findings = source.load()
            series = Series(
                refs,
                key=key,
                findings=[*known, *read_findings],
                prefetch=False,
                header=headers[0] if headers else None,
            )
        try:
            out.append(list(series.findings))
        finally:
            series.close()
    return out


def archive_report(
    catalog: SeriesCatalog,
    *,
    executor: str | cf.Executor | Client | None = None,
    progress: bool | Callable[[int, int], Any] = True,
) -> ArchiveReport:
    """Collect the findings of every series of ``catalog`` and of its scan.

    Parameters
    ----------
    catalog : SeriesCatalog
        From :func:`~dicom_widgets.scan`.
    executor : None, "processes", concurrent.futures.Executor or dask.distributed.Client
        Where series are opened (their headers are read again), as for ``scan``.
    progress : bool or callable
        A progress bar over series, or ``progress(done, total)``.

    Returns
    -------
    ArchiveReport
        ``to_dataframe()`` has one row per finding; its HTML repr counts them.

    Examples
    --------
    >>> import tempfile
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom, write_series
    >>> folder = tempfile.mkdtemp()
    >>> paths = write_series(ct_phantom(n_slices=6, size=16), folder)
    >>> _ = [p.unlink() for p in sorted(paths)[2:3]]  # a missing slice: a gap
    >>> report = archive_report(dw.scan(folder, progress=False), progress=False)
    >>> [code for (severity, code) in report.counts()]
    ['gap']
    """
    entries: list[SeriesInfo] = list(catalog.entries)
    items = []
    for entry in entries:
        source = entry._source
        if source is not None:
            source = source.detached()
        items.append((entry.key, list(entry.findings), source))
    chunks = [(items[s : s + _SERIES_PER_CHUNK],) for s in range(0, len(items), _SERIES_PER_CHUNK)]
    # In-memory datasets stay in this process (they are not files a worker could read).
    local = executor is None or any(source is None or source.memory for _, _, source in items)
    bar = progress_bar(progress, len(items), desc="Checking series", unit="series", min_total=20)
    try:
        results = run_chunks(
            _chunk_findings,
            chunks,
            None if local else executor,
            sizes=[len(c[0]) for c in chunks],
            bar=bar,
        )
    finally:
        bar.close()
    rows: list[ReportRow] = []
    with_findings = 0
    for (chunk,), result in zip(chunks, results):
        if isinstance(result, ChunkFailure):
            result = [
                [Finding("error", "check-failed", f"could not check this series: {result.reason}")]
                for _ in chunk
            ]
        for (key, _, _), found in zip(chunk, result):
            entry = catalog.info(key)
            with_findings += bool(found)
            rows.extend(
                ReportRow(key, entry.patient_id, entry.modality, entry.series_description, f)
                for f in found
            )
    for finding in catalog.findings:
        if finding.code != "split":  # already listed with its series
            rows.append(ReportRow("", "", "", "", finding))
    return ArchiveReport(rows, len(entries), catalog.n_files, catalog.source, with_findings)
