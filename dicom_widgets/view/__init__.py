"""The viewer's model, GUI-free: planes, cursor, window and layers -> RGBA frames and values.

Nothing here imports ipywidgets, IPython, ipympl, anywidget or ipykernel, so the picture a
viewer shows and the numbers under it can be computed, tested and benchmarked in a plain
Python process (matplotlib is imported lazily, for colormap tables only).

- :class:`ViewModel` (:mod:`.model`): cursor, planes, window, layers; ``render()`` and
  ``values()``.
- :mod:`.layers`: the :class:`Layer` interface and the image, label-volume and DICOM
  overlay-plane layers.
- :mod:`.planes`: screen pixel -> voxel -> patient mm.
- :mod:`.slab`: MIP, MinIP and mean slabs (the model's ``slab`` and ``slab_thickness``).
- :mod:`.source`: numpy volumes and series behind one interface.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.view import ViewModel
>>> ViewModel(np.zeros((3, 16, 16), np.int16)).render().shape
(16, 16, 4)
"""

from .layers import (
    DicomOverlayLayer,
    ImageLayer,
    LabelLayer,
    Layer,
    LayerList,
    LegendEntry,
    PaneView,
    Polyline,
    TextItem,
)
from .model import INDEX_ONLY, MIRRORED_TRAITS, VIEWS, Frame, ViewModel
from .planes import PLANE_VIEWS, Plane, patient_to_voxels, plane_for, voxels_to_patient
from .source import ArraySource, SeriesSource, Source, as_source

__all__ = [
    "ViewModel",
    "Frame",
    "VIEWS",
    "INDEX_ONLY",
    "MIRRORED_TRAITS",
    "Layer",
    "LayerList",
    "ImageLayer",
    "LabelLayer",
    "DicomOverlayLayer",
    "PaneView",
    "Polyline",
    "TextItem",
    "LegendEntry",
    "Plane",
    "plane_for",
    "PLANE_VIEWS",
    "patient_to_voxels",
    "voxels_to_patient",
    "Source",
    "ArraySource",
    "SeriesSource",
    "as_source",
]
