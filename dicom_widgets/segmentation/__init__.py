"""Segmentations placed on a series by geometry: DICOM SEG, RTSTRUCT, NIfTI and numpy labels.

Pure core: numpy and pydicom (nibabel for NIfTI, highdicom only to *write* SEG).

Examples
--------
>>> import numpy as np
>>> import dicom_widgets as dw
>>> from dicom_widgets.data import ct_phantom
>>> series = dw.load_series(ct_phantom(n_slices=3, size=16), progress=False)
>>> labels = np.zeros(series.shape, np.uint8); labels[1, 2:6, 2:6] = 1
>>> seg = dw.load_segmentation(labels, series, labels={1: "lesion"})
>>> seg.slices("lesion")
[1]
"""

from __future__ import annotations

from ._color import cielab_to_rgb, default_color, rgb_to_cielab
from ._grid import Grid, grid_of_series
from ._links import DerivedLink, derived_links, referenced_series_uids
from ._load import load_segmentation
from ._model import Polyline, Segment, Segmentation, SliceSource
from ._rtstruct import rasterize_polygons
from ._write import write_seg

__all__ = [
    "load_segmentation",
    "write_seg",
    "Segmentation",
    "Segment",
    "Polyline",
    "SliceSource",
    "Grid",
    "grid_of_series",
    "rasterize_polygons",
    "referenced_series_uids",
    "derived_links",
    "DerivedLink",
    "cielab_to_rgb",
    "rgb_to_cielab",
    "default_color",
]
