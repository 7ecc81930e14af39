"""Explore DICOM data inside Jupyter.

dicom-widgets loads series correctly (grouped, sorted by geometry, decoded lazily,
with QA findings), shows them in a slider viewer, explores tags, previews
PS3.15 de-identification and renders rich HTML reprs.

Examples
--------
>>> import dicom_widgets as dw
>>> from dicom_widgets.data import pydicom_file
>>> series = dw.load_series(pydicom_file("ct_small"))  # doctest: +SKIP
>>> dw.SeriesViewer(series)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    DecodeError,
    DicomReadError,
    DicomWidgetsError,
    DicomWidgetsWarning,
    GeometryError,
    MissingDependencyError,
    SeriesSelectionError,
    UnsafeOutputError,
)

__version__ = "0.1.0"

# Public names, imported on first use so that `import dicom_widgets` stays fast and the
# pure core can be used from scripts without importing ipywidgets or matplotlib.
_LAZY: dict[str, str] = {
    "scan": "dicom_widgets.series",
    "load_series": "dicom_widgets.series",
    "Series": "dicom_widgets.series",
    "SeriesCatalog": "dicom_widgets.series",
    "archive_report": "dicom_widgets.series",
    "Finding": "dicom_widgets.series",
    "load_segmentation": "dicom_widgets.segmentation",
    "write_seg": "dicom_widgets.segmentation",
    "Segmentation": "dicom_widgets.segmentation",
    "to_display": "dicom_widgets.display",
    "PRESETS": "dicom_widgets.display",
    "SeriesViewer": "dicom_widgets.widgets.viewer",
    "link": "dicom_widgets.widgets.viewer",
    "TagExplorer": "dicom_widgets.widgets.tag_explorer",
    "compare": "dicom_widgets.tags",
    "Measurement": "dicom_widgets.measurements",
    "load_measurements": "dicom_widgets.measurements.sr",
    "AnonymizationPreview": "dicom_widgets.widgets.anonymization",
    "DicomWebBrowser": "dicom_widgets.widgets.dicomweb_browser",
    "enable_reprs": "dicom_widgets._ipython",
    "disable_reprs": "dicom_widgets._ipython",
    "load_ipython_extension": "dicom_widgets._ipython",
    "unload_ipython_extension": "dicom_widgets._ipython",
}
_SUBMODULES = {
    "data",
    "deid",
    "dicomweb",
    "display",
    "series",
    "segmentation",
    "tags",
    "html",
    "widgets",
    "measurements",
}

__all__ = [
    *_LAZY,
    "DicomWidgetsError",
    "DicomReadError",
    "DecodeError",
    "MissingDependencyError",
    "SeriesSelectionError",
    "GeometryError",
    "UnsafeOutputError",
    "DicomWidgetsWarning",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"dicom_widgets.{name}")
    raise AttributeError(f"module 'dicom_widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
