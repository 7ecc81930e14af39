"""How a pane cuts a (slice, row, col) volume, and where its pixels lie in the patient.

This is the one place that maps **screen pixel -> voxel -> patient mm** (DICOM LPS). The
viewer, label layers, measurements and slabs all go through it, so a distance measured on
a coronal reformat and a contour drawn on the acquired plane agree about where a pixel is.

Reformats here are exact re-orderings of the acquired voxels (no resampling): a pane steps
through one array axis and shows the other two, possibly flipped so that the standard
radiological orientation holds (patient's left on the right of axial and coronal images,
anterior on the left of sagittal ones). On an oblique acquisition the nearest standard
plane is used and :attr:`Plane.oblique` says so.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.view.planes import plane_for
>>> affine = np.diag([0.5, 0.7, 2.0, 1.0])  # 0.5 mm columns, 0.7 mm rows, 2 mm slices
>>> plane = plane_for("coronal", affine)
>>> plane.pixel_spacing(affine)  # (mm per screen row, mm per screen column)
(2.0, 0.5)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Plane",
    "plane_for",
    "PLANE_DIRECTIONS",
    "PLANE_VIEWS",
    "patient_to_voxels",
    "voxels_to_patient",
]

#: Screen directions of the standard planes in patient LPS coordinates: (normal, right, down).
#: Radiological convention: the patient's left on the right of an axial/coronal image;
#: sagittal shows anterior on the left.
PLANE_DIRECTIONS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "axial": ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    "coronal": ((0, 1, 0), (1, 0, 0), (0, 0, -1)),
    "sagittal": ((1, 0, 0), (0, 1, 0), (0, 0, -1)),
}

#: The single-pane views a plane can be made for.
PLANE_VIEWS = ("acquired", "axial", "coronal", "sagittal")


@dataclass(frozen=True)
class Plane:
    """How one pane cuts the (slice, row, col) volume and lays it on screen.

    Parameters
    ----------
    view
        ``"acquired"``, ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    normal_axis
        The array axis the pane steps through (its "slice" index).
    down_axis, right_axis
        The array axes along screen rows and screen columns.
    flip_down, flip_right
        Whether screen rows / columns run against those array axes.
    oblique
        True when the acquisition is tilted against the standard plane by more than about
        8 degrees, so the pane shows the nearest standard plane.

    Examples
    --------
    >>> plane = plane_for("sagittal", np.eye(4))
    >>> plane.normal_axis, plane.screen_shape((10, 20, 30)), plane.cut(np.zeros((10, 20, 30)), 3).shape
    (2, (10, 20), (10, 20))
    """

    view: str
    normal_axis: int
    down_axis: int
    right_axis: int
    flip_down: bool = False
    flip_right: bool = False
    oblique: bool = False

    # -- array <-> screen ------------------------------------------------------------
    def n_positions(self, shape: Sequence[int]) -> int:
        """How many planes this pane can step through in a volume of ``shape``."""
        return int(shape[self.normal_axis])

    def screen_shape(self, shape: Sequence[int]) -> tuple[int, int]:
        """(rows, cols) of the pane's picture for a volume of ``shape`` (slices, rows, cols)."""
        return int(shape[self.down_axis]), int(shape[self.right_axis])

    def cut(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The pane's picture of plane ``index`` of ``volume`` (a view where possible).

        ``volume`` may carry trailing axes (RGB samples): only the first three are cut.
        """
        plane = np.take(volume, index, axis=self.normal_axis)
        # Remaining axes keep their order; put down_axis first.
        remaining = [a for a in (0, 1, 2) if a != self.normal_axis]
        if remaining.index(self.down_axis) != 0:
            plane = plane.swapaxes(0, 1)
        if self.flip_down:
            plane = plane[::-1]
        if self.flip_right:
            plane = plane[:, ::-1]
        return plane

    def voxel(self, index: int, row: int, col: int, shape: Sequence[int]) -> tuple[int, int, int]:
        """(slice, row, col) array index of screen pixel (row, col) of plane ``index``."""
        out = [0, 0, 0]
        out[self.normal_axis] = index
        out[self.down_axis] = shape[self.down_axis] - 1 - row if self.flip_down else row
        out[self.right_axis] = shape[self.right_axis] - 1 - col if self.flip_right else col
        return out[0], out[1], out[2]

    def screen(self, voxel: Sequence[float], shape: Sequence[int]) -> tuple[float, float]:
        """Screen (row, col) of a (slice, row, col) voxel position in this pane."""
        row = voxel[self.down_axis]
        col = voxel[self.right_axis]
        if self.flip_down:
            row = shape[self.down_axis] - 1 - row
        if self.flip_right:
            col = shape[self.right_axis] - 1 - col
        return row, col

    def voxels(
        self, index: float, rows: np.ndarray, cols: np.ndarray, shape: Sequence[int]
    ) -> np.ndarray:
        """Fractional (slice, row, col) voxel coordinates of screen points, shape (N, 3).

        Screen coordinates are pixel centres: (0, 0) is the centre of the top-left pixel,
        so sub-pixel points (a measurement's handle) map to fractional voxels.
        """
        rows = np.asarray(rows, dtype=float).ravel()
        cols = np.asarray(cols, dtype=float).ravel()
        out = np.empty((rows.size, 3))
        out[:, self.normal_axis] = index
        out[:, self.down_axis] = (shape[self.down_axis] - 1 - rows) if self.flip_down else rows
        out[:, self.right_axis] = (shape[self.right_axis] - 1 - cols) if self.flip_right else cols
        return out

    # -- voxel <-> patient -----------------------------------------------------------
    def patient(
        self,
        index: float,
        rows: np.ndarray,
        cols: np.ndarray,
        shape: Sequence[int],
        affine: np.ndarray,
    ) -> np.ndarray:
        """Patient coordinates (mm, LPS) of screen points of plane ``index``, shape (N, 3).

        ``affine`` is :meth:`dicom_widgets.Series.affine`: it maps ``(col, row, slice, 1)``
        to LPS, so it honours anisotropic spacing, oblique orientation and gantry tilt.
        """
        voxels = self.voxels(index, rows, cols, shape)
        return voxels_to_patient(voxels, affine)

    def from_patient(
        self, points: np.ndarray, shape: Sequence[int], affine: np.ndarray
    ) -> np.ndarray:
        """(plane index, row, col) of patient points in this pane, fractional, shape (N, 3).

        The inverse of :meth:`patient`: a point measured on one plane lands on the right
        plane index and pixel of any other pane of the same volume.
        """
        voxels = patient_to_voxels(points, affine)
        out = np.empty_like(voxels)
        out[:, 0] = voxels[:, self.normal_axis]
        down = voxels[:, self.down_axis]
        right = voxels[:, self.right_axis]
        out[:, 1] = (shape[self.down_axis] - 1 - down) if self.flip_down else down
        out[:, 2] = (shape[self.right_axis] - 1 - right) if self.flip_right else right
        return out

    def steps(self, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Patient-space vectors (mm) of one screen row down, one column right, one plane on."""
        # Affine columns are (col, row, slice); array axes are (slice, row, col).
        axis_vectors = [affine[:3, 2], affine[:3, 1], affine[:3, 0]]
        down = axis_vectors[self.down_axis] * (-1.0 if self.flip_down else 1.0)
        right = axis_vectors[self.right_axis] * (-1.0 if self.flip_right else 1.0)
        return (
            np.asarray(down, float),
            np.asarray(right, float),
            np.asarray(axis_vectors[self.normal_axis], float),
        )

    def pixel_spacing(self, affine: np.ndarray) -> tuple[float, float]:
        """(mm per screen row, mm per screen column) of this pane."""
        down, right, _ = self.steps(affine)
        return float(np.linalg.norm(down)), float(np.linalg.norm(right))

    def plane_spacing(self, affine: np.ndarray) -> float:
        """Distance in mm between consecutive planes of this pane (along its normal)."""
        down, right, normal = self.steps(affine)
        unit = np.cross(down, right)
        norm = np.linalg.norm(unit)
        if norm == 0:
            return float(np.linalg.norm(normal))
        # The perpendicular distance, so a gantry tilt does not inflate it.
        return float(abs(normal @ unit) / norm)


def voxels_to_patient(voxels: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Patient coordinates (mm) of fractional (slice, row, col) voxels, shape (N, 3).

    Examples
    --------
    >>> affine = np.diag([0.5, 0.5, 2.0, 1.0]); affine[:3, 3] = (-10, -10, 40)
    >>> voxels_to_patient([[1, 2, 4]], affine).tolist()  # slice 1, row 2, column 4
    [[-8.0, -9.0, 42.0]]
    """
    voxels = np.atleast_2d(np.asarray(voxels, dtype=float))
    col_row_slice = voxels[:, ::-1]
    return col_row_slice @ affine[:3, :3].T + affine[:3, 3]


def patient_to_voxels(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Fractional (slice, row, col) voxels of patient points (mm), shape (N, 3).

    Examples
    --------
    >>> affine = np.diag([0.5, 0.5, 2.0, 1.0]); affine[:3, 3] = (-10, -10, 40)
    >>> patient_to_voxels([[-8.0, -9.0, 42.0]], affine).tolist()
    [[1.0, 2.0, 4.0]]
    """
    points = np.atleast_2d(np.asarray(points, dtype=float))
    col_row_slice = np.linalg.solve(affine[:3, :3], (points - affine[:3, 3]).T).T
    return col_row_slice[:, ::-1]


def plane_for(view: str, affine: np.ndarray | None) -> Plane:
    """The :class:`Plane` that shows ``view`` of a volume with this ``affine``.

    Parameters
    ----------
    view
        One of :data:`PLANE_VIEWS`.
    affine
        :meth:`dicom_widgets.Series.affine`, or None for data without geometry (then every
        view is the acquired one).

    Raises
    ------
    ValueError
        For an unknown view.

    Examples
    --------
    >>> plane_for("coronal", np.eye(4)).normal_axis  # steps through the array's rows
    1
    >>> plane_for("coronal", None).view  # no geometry: the acquired plane
    'acquired'
    """
    if view not in PLANE_VIEWS:
        raise ValueError(f"view must be one of {PLANE_VIEWS}, not {view!r}")
    if view == "acquired" or affine is None:
        return Plane("acquired", 0, 1, 2)
    # Direction of each array axis (slice, row, col) in patient space: affine columns are
    # (col, row, slice).
    dirs = [affine[:3, 2], affine[:3, 1], affine[:3, 0]]
    dirs = [d / (np.linalg.norm(d) or 1.0) for d in dirs]
    normal, right, down = (np.asarray(v, float) for v in PLANE_DIRECTIONS[view])
    dots = [abs(float(d @ normal)) for d in dirs]
    normal_axis = int(np.argmax(dots))
    rest = [a for a in (0, 1, 2) if a != normal_axis]
    right_axis = max(rest, key=lambda a: abs(float(dirs[a] @ right)))
    down_axis = rest[0] if rest[1] == right_axis else rest[1]
    return Plane(
        view,
        normal_axis,
        down_axis,
        right_axis,
        flip_down=float(dirs[down_axis] @ down) < 0,
        flip_right=float(dirs[right_axis] @ right) < 0,
        oblique=max(dots) < 0.99,
    )
