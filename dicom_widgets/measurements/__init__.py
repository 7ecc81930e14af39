"""Measurements on the viewer's planes: distances, angles and ROI statistics, kept as DICOM SR.

Pure core: nothing here imports ipywidgets, IPython or matplotlib. Geometry goes through
:class:`dicom_widgets.view.Plane`, so values are exact on acquired, reformatted, anisotropic
and oblique planes, and a :class:`Measurement` lives in patient coordinates.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.measurements import measure
>>> from dicom_widgets.view import plane_for
>>> affine = np.diag([0.5, 0.7, 2.0, 1.0])
>>> values = np.full((20, 30), -1000.0)
>>> m = measure("ellipse", [(2, 2), (10, 20)], plane=plane_for("acquired", affine),
...             index=0, shape=(4, 20, 30), affine=affine, values=values, unit="HU")
>>> m.stats["mean"], m.unit
(-1000.0, 'HU')
"""

from __future__ import annotations

from ._measure import angle_degrees, distance_mm, measure
from ._measurement import KINDS, Measurement, PanePlacement, measurements_dataframe
from .roi import ROI_KINDS, STAT_KEYS, roi_mask, roi_statistics

__all__ = [
    "KINDS",
    "ROI_KINDS",
    "STAT_KEYS",
    "Measurement",
    "PanePlacement",
    "measure",
    "measurements_dataframe",
    "distance_mm",
    "angle_degrees",
    "roi_mask",
    "roi_statistics",
    "load_measurements",
    "save_measurements",
]


def __getattr__(name: str) -> object:
    # The SR module imports highdicom (when saving) only on first use.
    if name in ("load_measurements", "save_measurements"):
        from . import sr

        return getattr(sr, name)
    raise AttributeError(f"module 'dicom_widgets.measurements' has no attribute {name!r}")
