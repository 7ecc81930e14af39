"""A synthetic CT series with known values for the measurement tests: non-square, anisotropic.

12 slices of 40 rows x 56 columns; 0.7 mm between rows, 0.5 mm between columns, 2.5 mm
between slices. Air (-1000 HU) everywhere except a water box (0 HU) and a bone box (1000 HU)
that runs through slices 3..8, so ROIs inside either have an exact mean.
"""

from __future__ import annotations

import numpy as np

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom

N_SLICES, ROWS, COLS = 12, 40, 56
ROW_MM, COL_MM, SLICE_MM = 0.7, 0.5, 2.5
ORIGIN = np.array([-14.0, -11.0, 30.0])
#: (slices, rows, cols) boxes of known value, as (slice range, row range, col range).
WATER = (slice(0, 12), slice(4, 20), slice(6, 30))
BONE = (slice(3, 9), slice(24, 36), slice(34, 52))


def known_volume() -> np.ndarray:
    """The HU volume the series stores, (slices, rows, cols)."""
    volume = np.full((N_SLICES, ROWS, COLS), -1000, dtype=np.int16)
    volume[WATER] = 0
    volume[BONE] = 1000
    # A gradient column so a slab's max, min and mean differ from slice to slice.
    k, r = np.meshgrid(np.arange(N_SLICES), np.arange(ROWS), indexing="ij")
    volume[:, :, 54] = (k * 37 + r * 11) % 500 - 250
    return volume


def known_datasets() -> list:
    """The series as pydicom datasets (real CT Image Storage headers from ct_phantom)."""
    volume = known_volume()
    datasets = ct_phantom(n_slices=N_SLICES, size=16)
    for k, ds in enumerate(datasets):
        ds.Rows, ds.Columns = ROWS, COLS
        ds.PixelSpacing = [ROW_MM, COL_MM]
        ds.SliceThickness = SLICE_MM
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [float(v) for v in ORIGIN + [0, 0, k * SLICE_MM]]
        ds.SliceLocation = float(ORIGIN[2] + k * SLICE_MM)
        ds.PixelData = (volume[k].astype(np.int32) + 1024).astype(np.int16).tobytes()
    return datasets


def known_series() -> dw.Series:
    """The series loaded (in memory), geometry sorted."""
    return dw.load_series(known_datasets(), progress=False)


# -- mouse events for a viewer, through ipympl's own message handler (no browser) --------
def send(viewer, **message) -> None:
    """Deliver a front-end message to the viewer's canvas, as the browser would."""
    viewer.canvas._handle_message(viewer.canvas, message, [])


def mouse(viewer, kind: str, row: float, col: float, pane: int = 0, button=0, buttons=0) -> None:
    """A mouse event (``"button_press"``, ``"motion_notify"``...) at screen (row, col)."""
    x, y = viewer.axes[pane].transData.transform((col, row))
    height = viewer.canvas.get_renderer().height
    send(viewer, type=kind, x=float(x), y=float(height - y), button=button, buttons=buttons, modifiers=[])  # fmt: skip


def drag(viewer, start, end, steps: int = 4, pane: int = 0) -> None:
    """Press at ``start``, move to ``end`` in ``steps`` and release there."""
    mouse(viewer, "button_press", *start, pane=pane, buttons=1)
    for t in np.linspace(0, 1, steps)[1:]:
        point = np.asarray(start) + t * (np.asarray(end) - np.asarray(start))
        mouse(viewer, "motion_notify", *point, pane=pane, buttons=1)
    mouse(viewer, "button_release", *end, pane=pane)
