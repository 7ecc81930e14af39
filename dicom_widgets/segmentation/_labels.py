"""NIfTI label maps and numpy arrays as segmentations of a series.

A numpy array must have the series' (slices, rows, cols) shape. A NIfTI file is placed
through its affine (RAS, converted to DICOM LPS): on the series' own grid its voxels
are simply transposed, otherwise every series voxel takes the label of the nearest
NIfTI voxel, one slice at a time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from ..errors import DicomReadError, GeometryError
from ..series._export import LPS_TO_RAS, require
from ..series._findings import Finding
from ..view.planes import patient_to_voxels, voxels_to_patient
from ._color import default_color
from ._grid import Grid
from ._model import Segment, Segmentation, SliceSource

__all__ = ["labels_from_array", "labels_from_nifti"]


def _segments_for(values: np.ndarray, labels: Mapping[int, str] | None) -> list[Segment]:
    numbers = sorted(int(v) for v in values if v != 0)
    if labels:
        numbers = sorted(set(numbers) | {int(n) for n in labels})
    names = dict(labels or {})
    return [Segment(n, str(names.get(n, f"Label {n}")), default_color(n), "LABEL") for n in numbers]


def _source_from_volume(volume: np.ndarray) -> SliceSource:
    """Slices of a (slices, rows, cols) integer label volume, indexed once."""
    slices: dict[int, list[int]] = {}
    for k in range(volume.shape[0]):
        for value in np.unique(volume[k]):
            if value != 0:
                slices.setdefault(int(value), []).append(k)

    def values(number: int, k: int) -> np.ndarray:
        return volume[k] == number

    def label_slice(k: int) -> np.ndarray:
        return volume[k]

    return SliceSource(slices, values, label_slice=label_slice)


def labels_from_array(
    array: np.ndarray,
    grid: Grid,
    *,
    series: object = None,
    labels: Mapping[int, str] | None = None,
) -> Segmentation:
    """A :class:`Segmentation` of a boolean mask or integer label array shaped like the series."""
    arr = np.asarray(array)
    if arr.shape != grid.shape:
        hint = ""
        if arr.ndim == 3 and arr.shape[::-1] == grid.shape:
            hint = " (it looks like (col, row, slice) order: pass array.transpose(2, 1, 0))"
        raise GeometryError(
            f"the label array has shape {arr.shape} but the series is {grid.shape} "
            f"(slices, rows, cols){hint}"
        )
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    elif arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError("a float label array must hold whole numbers (segment numbers)")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"labels must be a boolean or integer array, not {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError("segment numbers must not be negative")
    source = _source_from_volume(arr)
    segments = _segments_for(np.array(sorted(source.slices)), labels)
    findings = []
    empty = [s for s in segments if s.number not in source.slices]
    if empty:
        names = ", ".join(f"{s.number} {s.label!r}" for s in empty[:8])
        findings.append(
            Finding("info", "empty-segment", f"{len(empty)} label(s) have no voxels: {names}")
        )
    return Segmentation(
        segments,
        grid,
        source,
        findings=findings,
        modality="ARRAY",
        series=series,
        frame_of_reference=grid.frame_of_reference,
    )


def labels_from_nifti(
    path: str | os.PathLike[str],
    grid: Grid,
    *,
    series: object = None,
    labels: Mapping[int, str] | None = None,
) -> Segmentation:
    """A :class:`Segmentation` of a NIfTI label map placed on ``grid`` through its affine."""
    nib = require("nibabel")
    where = os.fspath(path)
    try:
        image = nib.load(where)
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # noqa: BLE001
        raise DicomReadError(
            where, f"cannot be read as NIfTI: {type(exc).__name__}: {exc}"
        ) from exc
    if grid.affine is None:
        raise GeometryError(f"{where}: the series has no geometry to place a NIfTI label map on")
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise GeometryError(
            f"{where}: a label map needs 3 dimensions, this one has shape {data.shape}"
        )
    if data.dtype.kind == "f":
        data = np.rint(data).astype(np.int64)
    affine = LPS_TO_RAS @ np.asarray(
        image.affine, float
    )  # RAS -> LPS (the diagonal is its own inverse)
    findings: list[Finding] = []
    paths = (where,)
    same_grid = data.shape == grid.shape[::-1] and np.allclose(affine, grid.affine, atol=1e-3)
    if same_grid:
        volume = np.ascontiguousarray(np.transpose(data, (2, 1, 0)))
        source = _source_from_volume(volume)
    else:
        findings.append(
            Finding(
                "info",
                "resampled",
                f"the label map's voxel grid (shape {data.shape}, origin "
                f"{np.round(affine[:3, 3], 2).tolist()} mm) is not the series' (origin "
                f"{np.round(grid.affine[:3, 3], 2).tolist()} mm); labels were resampled to "
                "the series by nearest neighbour",
                paths,
            )
        )
        source = _resampled_source(data, affine, grid, findings, paths)
    segments = _segments_for(np.array(sorted(source.slices)), labels)
    return Segmentation(
        segments,
        grid,
        source,
        findings=findings,
        modality="NIFTI",
        path=where,
        series=series,
        frame_of_reference=grid.frame_of_reference,
    )


def _resampled_source(
    data: np.ndarray,
    affine: np.ndarray,
    grid: Grid,
    findings: list[Finding],
    paths: tuple[str, ...],
) -> SliceSource:
    assert grid.affine is not None
    n, rows, cols = grid.shape
    # Where each labelled NIfTI voxel falls in the series: which slices to index, and how
    # many labelled voxels lie outside the series (a misregistered map).
    ijk = np.argwhere(data != 0)
    slices: dict[int, list[int]] = {}
    if ijk.size:
        centres = voxels_to_patient(ijk[:, ::-1].astype(float), affine)  # (k, j, i) order in
        vox = patient_to_voxels(centres, grid.affine)
        k = np.rint(vox[:, 0]).astype(np.int64)
        r = np.rint(vox[:, 1]).astype(np.int64)
        c = np.rint(vox[:, 2]).astype(np.int64)
        inside = (k >= 0) & (k < n) & (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        lost = int((~inside).sum())
        if lost:
            findings.append(
                Finding(
                    "warning",
                    "outside",
                    f"{lost} of {len(ijk)} labelled voxels ({100.0 * lost / len(ijk):.1f}%) lie "
                    "outside the series: the label map may be misregistered",
                    paths,
                )
            )
        values_at = data[tuple(ijk.T)]
        # A label can reach slices between its voxel centres when the map is coarser
        # than the series: include the neighbours along the slice axis.
        step = np.linalg.norm(affine[:3, :3], axis=0).max() / grid.slice_spacing
        reach = int(np.ceil(step / 2))
        for value in np.unique(values_at):
            ks = np.unique(k[(values_at == value) & inside])
            if ks.size:
                near = np.unique(
                    np.clip((ks[:, None] + np.arange(-reach, reach + 1)).ravel(), 0, n - 1)
                )
                slices[int(value)] = near.tolist()
    to_nifti = np.linalg.inv(affine)
    rr, cc = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    cache: dict[int, np.ndarray] = {}

    def label_slice(k: int) -> np.ndarray:
        if k in cache:
            return cache[k]
        vox = np.stack([np.full(rr.size, float(k)), rr.ravel(), cc.ravel()], axis=1)
        patient = voxels_to_patient(vox, grid.affine)
        idx = np.rint(patient @ to_nifti[:3, :3].T + to_nifti[:3, 3]).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < np.array(data.shape)), axis=1)
        out = np.zeros(rows * cols, data.dtype)
        out[ok] = data[idx[ok, 0], idx[ok, 1], idx[ok, 2]]
        result = out.reshape(rows, cols)
        if len(cache) > 8:
            cache.pop(next(iter(cache)))
        cache[k] = result
        return result

    def values(number: int, k: int) -> np.ndarray:
        return label_slice(k) == number

    return SliceSource(slices, values, label_slice=label_slice)


def describe_labels(labels: Mapping[int, str] | None) -> dict[int, str]:
    """Validate a ``{number: name}`` mapping (numbers >= 1)."""
    out: dict[int, str] = {}
    for key, value in (labels or {}).items():
        number = int(key)
        if number < 1:
            raise ValueError(f"segment numbers start at 1, got {key!r}")
        out[number] = str(value)
    return out
