"""The voxel grid a label is placed on: a series' slices, or a SEG's own frames.

A :class:`Grid` is what placement needs to know about the target and nothing more: its
shape, its affine (the series' :meth:`~dicom_widgets.Series.affine`), the SOP instance
(and frame) of each slice, and its Frame of Reference. Patient <-> voxel mapping goes
through :mod:`dicom_widgets.view.planes`, the package's one implementation of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._compat import safe_get
from ..errors import GeometryError
from ..view.planes import patient_to_voxels, voxels_to_patient

__all__ = ["Grid", "grid_of_series"]


@dataclass
class Grid:
    """Shape, geometry and instance references of the volume labels are placed on.

    Attributes
    ----------
    shape : tuple of int
        (slices, rows, cols).
    affine : numpy.ndarray or None
        4x4 voxel ``(col, row, slice, 1)`` -> patient LPS mm; ``None`` without geometry.
    sop_uids : list of str
        SOPInstanceUID of each slice ("" when unknown).
    frames : list of int
        Frame number (0-based) of each slice inside its instance (multi-frame sources).
    frame_of_reference : str
        FrameOfReferenceUID ("" when unknown).
    series_uid : str
        SeriesInstanceUID of the series ("" for a SEG's own grid).

    Examples
    --------
    >>> import numpy as np
    >>> grid = Grid((2, 4, 4), np.eye(4))
    >>> grid.slice_of_point([1.0, 2.0, 1.0])
    (1.0, 2.0, 1.0)
    """

    shape: tuple[int, int, int]
    affine: np.ndarray | None
    sop_uids: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    frame_of_reference: str = ""
    series_uid: str = ""

    def __post_init__(self) -> None:
        self._slice_spacing = self._compute_slice_spacing()
        self._slice_by_ref: dict[tuple[str, int], int] = {}
        for k, uid in enumerate(self.sop_uids):
            frame = self.frames[k] if k < len(self.frames) else 0
            if uid:
                self._slice_by_ref.setdefault((uid, frame), k)

    @property
    def slice_spacing(self) -> float:
        """Distance between slices in mm along the slice normal (1.0 without geometry)."""
        return self._slice_spacing

    def _compute_slice_spacing(self) -> float:
        if self.affine is None:
            return 1.0
        row, col, step = self.affine[:3, 1], self.affine[:3, 0], self.affine[:3, 2]
        normal = np.cross(col, row)
        norm = float(np.linalg.norm(normal))
        if norm == 0:
            return float(np.linalg.norm(step)) or 1.0
        return abs(float(step @ normal)) / norm or 1.0

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in mm^3 (1.0 without geometry)."""
        if self.affine is None:
            return 1.0
        return abs(float(np.linalg.det(self.affine[:3, :3]))) or 1.0

    def slice_of_reference(self, sop_uid: str, frame: int = 0) -> int | None:
        """Slice index of the instance ``sop_uid`` (and its 0-based ``frame``), if present."""
        return self._slice_by_ref.get((sop_uid, frame))

    def has_instance(self, sop_uid: str) -> bool:
        """Whether any slice comes from the instance ``sop_uid``."""
        return any(uid == sop_uid for uid, _ in self._slice_by_ref)

    def slice_of_point(self, point: object) -> tuple[float, float, float]:
        """Fractional (slice, row, col) of one patient point (mm)."""
        if self.affine is None:
            raise GeometryError("the series has no geometry: labels cannot be placed by position")
        k, r, c = patient_to_voxels(np.asarray(point, float), self.affine)[0]
        return float(k), float(r), float(c)

    def to_voxels(self, points: np.ndarray) -> np.ndarray:
        """Fractional (slice, row, col) of patient points, shape (N, 3)."""
        if self.affine is None:
            raise GeometryError("the series has no geometry: labels cannot be placed by position")
        return patient_to_voxels(points, self.affine)

    def to_patient(self, voxels: np.ndarray) -> np.ndarray:
        """Patient mm of fractional (slice, row, col) voxels, shape (N, 3)."""
        if self.affine is None:
            raise GeometryError("the series has no geometry")
        return voxels_to_patient(voxels, self.affine)


def grid_of_series(series: object) -> Grid:
    """The :class:`Grid` of a :class:`~dicom_widgets.Series` (time point 0).

    A series without geometry gets ``affine=None``: labels can then be placed by
    instance references only.
    """
    n = len(series)  # type: ignore[arg-type]
    if not n:
        raise GeometryError(f"series {getattr(series, 'key', '')} has no image frames")
    first = series.frame_ref(0)  # type: ignore[attr-defined]
    try:
        affine: np.ndarray | None = series.affine()  # type: ignore[attr-defined]
    except GeometryError:
        affine = None
    refs = [series.frame_ref(k) for k in range(n)]  # type: ignore[attr-defined]
    header = series.header  # type: ignore[attr-defined]
    frame_of_reference = str(safe_get(header, "FrameOfReferenceUID", "") or "")
    return Grid(
        shape=(n, int(first.rows), int(first.cols)),
        affine=affine,
        sop_uids=[ref.sop_uid for ref in refs],
        frames=[ref.frame if ref.n_frames > 1 else 0 for ref in refs],
        frame_of_reference=frame_of_reference,
        series_uid=str(getattr(series, "series_uid", "") or ""),
    )
