"""The viewer's model, GUI-free: planes, cursor, window and layers -> RGBA frames and values.

Nothing here imports ipywidgets, IPython, ipympl, anywidget or ipykernel, so the picture a
viewer shows and the numbers under it can be computed, tested and benchmarked in a plain
Python process.
"""

from .planes import PLANE_VIEWS, Plane, patient_to_voxels, plane_for, voxels_to_patient

__all__ = ["Plane", "plane_for", "PLANE_VIEWS", "patient_to_voxels", "voxels_to_patient"]
