"""``load_segmentation``: one entry point for SEG, RTSTRUCT, NIfTI and numpy labels."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from .. import _compat
from .._compat import safe_get
from ..errors import DicomReadError, GeometryError, SeriesSelectionError
from ._grid import Grid, grid_of_series
from ._labels import labels_from_array, labels_from_nifti
from ._links import match_series
from ._model import Segmentation
from ._rtstruct import RTSTRUCT_SOP_CLASS, read_rtstruct
from ._seg import LABELMAP_SOP_CLASS, SEG_SOP_CLASS, read_seg

__all__ = ["load_segmentation"]

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def _kind_of(ds: Dataset) -> str:
    modality = str(safe_get(ds, "Modality", "") or "")
    sop = str(safe_get(ds, "SOPClassUID", "") or "")
    if modality == "SEG" or sop in (SEG_SOP_CLASS, LABELMAP_SOP_CLASS):
        return "SEG"
    if modality == "RTSTRUCT" or sop == RTSTRUCT_SOP_CLASS:
        return "RTSTRUCT"
    return modality or "?"


def _find_series(path: Path, header: Dataset) -> Any:
    """The series a SEG/RTSTRUCT references, looked up in the folder it sits in (or None)."""
    from ..series import scan

    catalog = scan(path.parent, recursive=False, progress=False)
    entry, _how = match_series(catalog.entries, header)
    return catalog[entry.key] if entry is not None else None


def _as_series(series: Any) -> Any:
    if series is None or hasattr(series, "frame_ref"):
        return series
    from ..series import load_series

    return load_series(series, progress=False)


def _read_header(path: Path) -> Dataset:
    """The header of a DICOM file (no pixel data), or ``DicomReadError`` naming it."""
    if not path.is_file():
        raise DicomReadError(path, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _compat.read_dataset(path, stop_before_pixels=True, force=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a read error of this file
        raise DicomReadError(path, f"cannot be read as DICOM: {type(exc).__name__}: {exc}") from exc


def load_segmentation(
    source: Any,
    series: Any = None,
    *,
    labels: Mapping[int, str] | None = None,
    strict: bool = True,
    tolerance_mm: float | None = None,
) -> Segmentation:
    """Read a segmentation and place it, voxel by voxel, on a series by geometry.

    Parameters
    ----------
    source : path, Dataset or numpy.ndarray
        A DICOM SEG (BINARY, FRACTIONAL or LABELMAP), an RTSTRUCT, a NIfTI label map
        (``.nii`` / ``.nii.gz``), or a boolean / integer array shaped like the series.
    series : Series or path, optional
        The images to place it on (a :class:`~dicom_widgets.Series` or anything
        :func:`~dicom_widgets.load_series` opens). Without it, the series the SEG or
        RTSTRUCT references is looked up in the file's folder; a SEG whose series is not
        there is placed on its own frame grid.
    labels : dict, optional
        Names of label values for NIfTI and numpy sources (``{1: "liver"}``).
    strict : bool
        Refuse (``GeometryError``) a label in another Frame of Reference; with
        ``strict=False`` it is loaded undrawn, with an error finding.
    tolerance_mm : float, optional
        How far a frame or contour may lie from a slice plane; by default a quarter of
        the slice spacing, at most 0.5 mm.

    Returns
    -------
    Segmentation

    Raises
    ------
    DicomReadError
        When the file cannot be read or is neither SEG nor RTSTRUCT.
    GeometryError
        Another Frame of Reference (``strict``), an array of the wrong shape, or no
        geometry to place contours on.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import pydicom_file
    >>> seg = dw.load_segmentation(pydicom_file("seg"))  # no CT ships: its own grid
    >>> seg.segments[0].label, seg.mask("Liver").shape
    ('Liver', (3, 512, 512))
    """
    if isinstance(source, Segmentation):
        return source
    series = _as_series(series)
    grid: Grid | None = grid_of_series(series) if series is not None else None
    if isinstance(source, np.ndarray):
        if grid is None:
            raise SeriesSelectionError(
                "a numpy label array needs the series it belongs to: series=..."
            )
        return labels_from_array(source, grid, series=series, labels=labels)
    path = None if isinstance(source, Dataset) else Path(os.fspath(source))
    if path is not None and path.name.lower().endswith(_NIFTI_SUFFIXES):
        if grid is None:
            raise SeriesSelectionError(
                f"{path}: a NIfTI label map needs the series to place it on: series=..."
            )
        return labels_from_nifti(path, grid, series=series, labels=labels)
    header = source if path is None else _read_header(path)
    kind = _kind_of(header)
    if kind not in ("SEG", "RTSTRUCT"):
        raise DicomReadError(path or "<dataset>", f"is {kind}, not a SEG or an RTSTRUCT")
    if series is None and path is not None:
        series = _find_series(path, header)
        grid = grid_of_series(series) if series is not None else None
    if kind == "SEG":
        return read_seg(source, grid, series=series, strict=strict, tolerance_mm=tolerance_mm)
    if grid is None:
        raise GeometryError(
            f"{path or '<dataset>'}: the series this RTSTRUCT references is not in its folder; "
            "pass series=... to place its contours"
        )
    return read_rtstruct(source, grid, series=series, strict=strict, tolerance_mm=tolerance_mm)
