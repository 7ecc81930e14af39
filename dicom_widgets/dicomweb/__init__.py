"""Open series from a DICOMweb server (PACS, Orthanc, cloud archives) lazily and safely.

Pure core: imports ``requests``, pydicom and numpy, never Jupyter.

- :func:`connect` gives a :class:`DicomWebSource`: ``studies(**filters)`` and
  ``series(study_uid)`` search with QIDO-RS and return a :class:`DicomWebCatalog`
  (``to_dataframe()``, escaped HTML repr).
- ``source.load_series(study, series)``, or ``dicom_widgets.load_series(series_url, auth=...)``,
  reads the headers with one WADO-RS metadata request (JSON, bulk data left out), sorts them
  with the same geometry code as local files, and fetches each frame only when it is looked
  at (WADO-RS frames, decoded here) into the series' bounded cache, prefetching the
  neighbours of the shown slice over a few connections. A frame that fails becomes a finding.
- ``source.anonymize_series(...)`` de-identifies a series into a local folder with
  :func:`dicom_widgets.deid.anonymize_files`; ``stow_to=`` / ``source.store(...)`` store the
  copy on another server (STOW-RS).

Why ``requests`` and not dicomweb-client: dicomweb-client 0.61 needs pydicom >= 3 (this
package supports 2.4 too), and it takes any URL it is given, a BulkDataURI included, with
the session's credentials; here one small session (:class:`DicomWebSession`) decides which
origin the credentials go to (only the configured one: other origins are never requested,
redirects to them are refused), redacts secrets from every message, and retries with
backoff. dicomweb-client serves as the peer in ``benchmarks/bench_dicomweb.py``.

Examples
--------
>>> import dicom_widgets as dw
>>> source = dw.dicomweb.connect("http://127.0.0.1:8042/dicom-web", auth=("user", "secret"))
>>> source
<DicomWebSource http://127.0.0.1:8042/dicom-web auth=basic>
>>> studies = source.studies(PatientName="DOE^*")  # doctest: +SKIP
>>> series = source.load_series(studies.uids()[0], "1.2.3")  # doctest: +SKIP
"""

from __future__ import annotations

from ._frames import RemoteFrameReader, decode_frame_bytes
from ._session import (
    DEFAULT_TIMEOUT,
    BearerAuth,
    DicomWebSession,
    SessionOptions,
    origin_of,
    query_string,
)
from ._source import (
    SERIES_COLUMNS,
    STUDY_COLUMNS,
    DicomWebCatalog,
    DicomWebSeries,
    DicomWebSource,
    connect,
    load_series_url,
    split_series_url,
)

__all__ = [
    "connect",
    "DicomWebSource",
    "DicomWebCatalog",
    "DicomWebSeries",
    "DicomWebSession",
    "SessionOptions",
    "BearerAuth",
    "RemoteFrameReader",
    "load_series_url",
    "split_series_url",
    "decode_frame_bytes",
    "origin_of",
    "query_string",
    "DEFAULT_TIMEOUT",
    "STUDY_COLUMNS",
    "SERIES_COLUMNS",
]
