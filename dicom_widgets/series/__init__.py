"""Scanning, grouping, geometric sorting and lazy decoding of DICOM series, with QA findings.

The pure core of dicom-widgets: imports numpy and pydicom only (pandas, nibabel and
Pillow lazily for conversions).

Examples
--------
>>> import tempfile
>>> import dicom_widgets as dw
>>> from dicom_widgets.data import ct_phantom, write_series
>>> folder = tempfile.mkdtemp()
>>> _ = write_series(ct_phantom(n_slices=6, size=32), folder)  # shuffled file names
>>> series = dw.load_series(folder, progress=False)
>>> [int(n) for n in series.positions[:, 2]] == sorted(int(n) for n in series.positions[:, 2])
True
"""

from __future__ import annotations

from ._archive_report import ArchiveReport, ReportRow, archive_report
from ._cache import DEFAULT_CACHE_BYTES, FrameCache
from ._findings import SEVERITIES, Finding
from ._frames import FrameRef
from ._scan import SeriesCatalog, SeriesInfo, load_series, read_header, scan
from ._series import CODECS_HINT, Series

__all__ = [
    "scan",
    "load_series",
    "Series",
    "SeriesCatalog",
    "SeriesInfo",
    "archive_report",
    "ArchiveReport",
    "ReportRow",
    "Finding",
    "FrameRef",
    "FrameCache",
    "SEVERITIES",
    "DEFAULT_CACHE_BYTES",
    "CODECS_HINT",
    "read_header",
]
