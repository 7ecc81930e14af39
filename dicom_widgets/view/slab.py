"""Thick slabs: maximum, minimum and mean intensity projections on any pane's plane.

A slab of thickness ``t`` mm around plane ``i`` of a pane holds the planes whose centres lie
within ``t / 2`` of plane ``i``'s centre, measured along the pane's normal
(:meth:`Plane.plane_spacing <dicom_widgets.view.Plane.plane_spacing>`), clipped to the volume.
So a 10 mm slab on 1 mm slices holds 11 planes, and a slab thinner than the spacing is the
plane itself.

:func:`project` computes one slab. :class:`SlabProjector` serves a viewer that steps through
the volume: it splits the planes into blocks as wide as the slab and keeps, per block, the
running maximum (minimum, sum) from the block's start and from its end. Any slab then spans
at most two blocks, and its projection is one element-wise operation of a block's suffix and
the next block's prefix (van Herk / Gil-Werman), instead of reducing every plane of the slab
again at each step.

Examples
--------
>>> import numpy as np
>>> from dicom_widgets.view import plane_for
>>> from dicom_widgets.view.slab import project
>>> volume = np.arange(5 * 2 * 3).reshape(5, 2, 3)
>>> affine = np.diag([1.0, 1.0, 2.0, 1.0])  # 2 mm between slices
>>> project(volume, plane_for("acquired", affine), 2, 4.0, "mip", affine).tolist()
[[18, 19, 20], [21, 22, 23]]
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .planes import Plane

__all__ = ["SLAB_MODES", "SlabCache", "SlabProjector", "project", "slab_label", "slab_range"]

#: Slab modes: ``"none"`` shows the plane itself.
SLAB_MODES = ("none", "mip", "minip", "mean")

_NAMES = {"mip": "MIP", "minip": "MinIP", "mean": "Mean"}
# Slice centres exactly thickness/2 away count as inside, despite rounding of the spacing.
_TOLERANCE = 1e-6


def _check_mode(mode: str) -> str:
    if mode not in SLAB_MODES:
        raise ValueError(f"slab mode must be one of {SLAB_MODES}, not {mode!r}")
    return mode


def slab_label(mode: str, thickness_mm: float) -> str:
    """The corner text of a slab: ``"MIP 10 mm"``; empty for ``"none"``.

    Examples
    --------
    >>> slab_label("minip", 7.5)
    'MinIP 7.5 mm'
    """
    if _check_mode(mode) == "none":
        return ""
    return f"{_NAMES[mode]} {thickness_mm:g} mm"


def _half_width(plane: Plane, thickness_mm: float, affine: np.ndarray) -> int:
    """How many planes on each side of the centre plane the slab holds."""
    spacing = plane.plane_spacing(affine)
    if thickness_mm <= 0 or spacing <= 0:
        return 0
    return int(np.floor(thickness_mm / 2.0 / spacing + _TOLERANCE))


def slab_range(
    plane: Plane, index: int, thickness_mm: float, affine: np.ndarray, shape: tuple[int, ...]
) -> range:
    """Plane indices of the slab around ``index`` (clipped to the volume).

    Examples
    --------
    >>> from dicom_widgets.view import plane_for
    >>> affine = np.diag([0.5, 0.5, 1.0, 1.0])
    >>> slab_range(plane_for("acquired", affine), 1, 10.0, affine, (40, 8, 8))
    range(0, 7)
    """
    n = plane.n_positions(shape)
    if not 0 <= index < n:
        raise IndexError(f"plane index {index} out of range for {n} planes")
    half = _half_width(plane, thickness_mm, affine)
    return range(max(0, index - half), min(n, index + half + 1))


def _orient(plane: Plane, reduced: np.ndarray) -> np.ndarray:
    """Lay a projection (the two non-normal axes, in array order) out as the pane shows it."""
    return plane.cut(np.expand_dims(reduced, plane.normal_axis), 0)


def _check_volume(volume: np.ndarray) -> np.ndarray:
    volume = np.asarray(volume)
    if volume.ndim != 3:
        raise ValueError(
            f"a slab needs a grey (slices, rows, cols) volume, got shape {volume.shape}"
        )
    return volume


def project(
    volume: np.ndarray,
    plane: Plane,
    index: int,
    thickness_mm: float,
    mode: str,
    affine: np.ndarray,
) -> np.ndarray:
    """The slab projection of plane ``index`` as the pane shows it (screen rows, cols).

    Parameters
    ----------
    volume
        The grey (slices, rows, cols) volume in modality units.
    plane, index
        The pane's plane and the centre plane of the slab.
    thickness_mm
        Slab thickness; planes whose centres lie within half of it are included.
    mode
        ``"mip"``, ``"minip"``, ``"mean"``, or ``"none"`` for the plane itself.
    affine
        :meth:`dicom_widgets.Series.affine`.

    Returns
    -------
    numpy.ndarray
        MIP and MinIP keep the volume's dtype; the mean is float64 (like ``np.mean``).
    """
    volume = _check_volume(volume)
    if _check_mode(mode) == "none":
        return plane.cut(volume, index)
    planes = slab_range(plane, index, thickness_mm, affine, volume.shape)
    slab = np.take(volume, planes, axis=plane.normal_axis)
    if mode == "mip":
        reduced = slab.max(axis=plane.normal_axis)
    elif mode == "minip":
        reduced = slab.min(axis=plane.normal_axis)
    else:
        reduced = slab.mean(axis=plane.normal_axis)
    return _orient(plane, reduced)


class SlabProjector:
    """Slab projections of one pane, fast to step through the volume.

    Parameters
    ----------
    volume
        The grey (slices, rows, cols) volume (kept by reference; do not modify it).
    plane
        The pane's plane.
    affine
        :meth:`dicom_widgets.Series.affine`.
    thickness_mm, mode
        As in :func:`project`.
    max_blocks
        How many blocks of running reductions to keep. Each holds two arrays of
        ``slab planes x plane size`` values; stepping needs two.

    Examples
    --------
    >>> import numpy as np
    >>> from dicom_widgets.view import plane_for
    >>> volume = np.random.default_rng(0).integers(-1000, 1000, (30, 4, 5)).astype(np.int16)
    >>> affine = np.diag([0.8, 0.8, 1.0, 1.0])
    >>> projector = SlabProjector(volume, plane_for("acquired", affine), affine, 10.0, "mip")
    >>> projector.label, len(projector.planes(12))
    ('MIP 10 mm', 11)
    >>> bool((projector(12) == volume[7:18].max(axis=0)).all())
    True
    """

    def __init__(
        self,
        volume: np.ndarray,
        plane: Plane,
        affine: np.ndarray,
        thickness_mm: float,
        mode: str,
        *,
        max_blocks: int = 4,
    ) -> None:
        self.volume = _check_volume(volume)
        self.plane = plane
        self.affine = np.asarray(affine, dtype=float)
        self.thickness_mm = float(thickness_mm)
        self.mode = _check_mode(mode)
        self._half = _half_width(plane, self.thickness_mm, self.affine)
        self._width = 2 * self._half + 1
        self._n = plane.n_positions(self.volume.shape)
        self._blocks: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._max_blocks = max(2, int(max_blocks))
        self._lock = threading.Lock()
        if mode == "mip":
            self._combine: np.ufunc = np.maximum
        elif mode == "minip":
            self._combine = np.minimum
        else:
            self._combine = np.add
        kind = self.volume.dtype.kind
        # Integer sums are exact in int64, so the mean equals numpy's.
        self._sum_dtype = np.int64 if kind in "iub" else np.float64

    @property
    def label(self) -> str:
        """Corner text: ``"MIP 10 mm"`` (empty for ``"none"``)."""
        return slab_label(self.mode, self.thickness_mm)

    def planes(self, index: int) -> range:
        """Plane indices of the slab around ``index``."""
        return slab_range(self.plane, index, self.thickness_mm, self.affine, self.volume.shape)

    def _take(self, start: int, stop: int) -> np.ndarray:
        block = np.take(self.volume, range(start, stop), axis=self.plane.normal_axis)
        return np.moveaxis(block, self.plane.normal_axis, 0)

    def _block(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(running reduction from the block's start, from its end) of block ``b``."""
        with self._lock:
            found = self._blocks.get(b)
            if found is not None:
                self._blocks.move_to_end(b)
                return found
        planes = self._take(b * self._width, min((b + 1) * self._width, self._n))
        dtype = self._sum_dtype if self.mode == "mean" else planes.dtype
        prefix = np.empty(planes.shape, dtype)
        suffix = np.empty(planes.shape, dtype)
        # One element-wise operation per plane: ufunc.accumulate along the first axis is
        # about 20 times slower here (65 ms for 11 planes of 512x512 int16).
        prefix[0] = planes[0]
        suffix[-1] = planes[-1]
        for i in range(1, len(planes)):
            self._combine(prefix[i - 1], planes[i], out=prefix[i])
            self._combine(suffix[-i], planes[-i - 1], out=suffix[-i - 1])
        with self._lock:
            self._blocks[b] = (prefix, suffix)
            while len(self._blocks) > self._max_blocks:
                self._blocks.popitem(last=False)
        return prefix, suffix

    def _reduce(self, lo: int, hi: int) -> np.ndarray:
        """Reduction over planes lo..hi (inclusive; at most one slab wide)."""
        w = self._width
        b_lo, b_hi = lo // w, hi // w
        if b_lo != b_hi:
            _, suffix = self._block(b_lo)
            prefix, _ = self._block(b_hi)
            return self._combine(suffix[lo - b_lo * w], prefix[hi - b_hi * w])
        block_start, block_end = b_lo * w, min((b_lo + 1) * w, self._n) - 1
        if lo == block_start:
            return self._block(b_lo)[0][hi - block_start]
        if hi == block_end:
            return self._block(b_lo)[1][lo - block_start]
        planes = self._take(lo, hi + 1)  # not reached for a full-width slab; kept exact anyway
        if self.mode == "mean":
            return planes.sum(axis=0, dtype=self._sum_dtype)
        return planes.max(axis=0) if self.mode == "mip" else planes.min(axis=0)

    def __call__(self, index: int) -> np.ndarray:
        """The projection of the slab around plane ``index``, as the pane shows it."""
        if self.mode == "none":
            return self.plane.cut(self.volume, index)
        planes = self.planes(index)
        reduced = self._reduce(planes.start, planes.stop - 1)
        if self.mode == "mean":
            reduced = reduced / float(len(planes))
        else:
            reduced = np.array(reduced)  # a block's row is cached: hand out a copy
        return _orient(self.plane, reduced)

    def clear(self) -> None:
        """Drop the cached blocks."""
        with self._lock:
            self._blocks.clear()


class SlabCache:
    """The :class:`SlabProjector` of each pane, kept while the volume, mode and thickness stay.

    A view model asks it for every slab picture; stepping one pane reuses that pane's
    projector (and its cached blocks), and a new volume (time point), mode or thickness
    starts a new one. At most ``max_projectors`` are kept (three panes in the ortho view).

    Examples
    --------
    >>> import numpy as np
    >>> from dicom_widgets.view import plane_for
    >>> cache = SlabCache()
    >>> volume = np.arange(40 * 4, dtype=np.int16).reshape(40, 2, 2)
    >>> affine = np.eye(4)
    >>> plane = plane_for("acquired", affine)
    >>> cache.project(volume, plane, 20, 4.0, "mip", affine).tolist()
    [[88, 89], [90, 91]]
    """

    def __init__(self, max_projectors: int = 3) -> None:
        self._projectors: OrderedDict[tuple[object, ...], SlabProjector] = OrderedDict()
        self._max = max(1, int(max_projectors))
        self._lock = threading.Lock()

    def project(
        self,
        volume: np.ndarray,
        plane: Plane,
        index: int,
        thickness_mm: float,
        mode: str,
        affine: np.ndarray,
    ) -> np.ndarray:
        """The slab picture of plane ``index`` (see :func:`project`)."""
        key = (id(volume), plane, float(thickness_mm), mode, np.asarray(affine).tobytes())
        with self._lock:
            projector = self._projectors.get(key)
            if projector is not None and projector.volume is volume:
                self._projectors.move_to_end(key)
            else:
                projector = SlabProjector(volume, plane, affine, thickness_mm, mode)
                self._projectors[key] = projector
                while len(self._projectors) > self._max:
                    self._projectors.popitem(last=False)
        return projector(index)

    def clear(self) -> None:
        """Drop every projector."""
        with self._lock:
            self._projectors.clear()
