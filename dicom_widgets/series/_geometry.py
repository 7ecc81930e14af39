"""Sorting frames into slices (and time points) by geometry, with QA findings.

Frames are ordered by their position projected on the slice normal (the cross
product of the ImageOrientationPatient row and column cosines), which is the
only order that is right for every plane (axial, sagittal, oblique) and every
naming scheme. Without geometry the loader falls back to InstanceNumber, then
acquisition time, then discovery order, and says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._findings import Finding
from ._frames import FrameRef, unit_normal

__all__ = ["Arrangement", "arrange", "GAP_FACTOR", "JITTER"]

#: A step larger than this many median spacings is a gap (a missing slice gives 2.0).
GAP_FACTOR = 1.5
#: Relative deviation from the median spacing tolerated as scanner jitter.
JITTER = 0.05
# Positions closer than this (mm along the normal) are the same slice location.
_SAME_POSITION_MM = 1e-3
# Attributes that tell repeated positions apart (a 4-D series), in order of preference.
_TIME_KEYS = (
    "TemporalPositionIndex",
    "TemporalPositionIdentifier",
    "StackID",
    "TriggerTime",
    "EffectiveEchoTime",
    "EchoNumbers",
    "DiffusionBValue",
    "AcquisitionNumber",
    "AcquisitionTime",
    "NMFrameVectors",  # NM: R-R interval and time slot of a gated reconstruction, ...
    "DimensionIndexValues",  # enhanced files: the frame's indices in the declared dimensions
    "FrameNumber",  # frames of one file at one position (a cine with a position)
)

#: How the keys that are not DICOM keywords are named in findings.
_TIME_KEY_NAMES = {"NMFrameVectors": "the NM frame index vectors (R-R interval, time slot...)"}


@dataclass
class Arrangement:
    """Frames laid out as ``grid[time][slice]`` plus what was learned on the way."""

    grid: list[list[FrameRef]]
    sort_method: str
    time_key: str | None = None
    findings: list[Finding] = field(default_factory=list)
    slice_positions: np.ndarray | None = None  # projections on the normal, time 0
    normal: np.ndarray | None = None
    is_uniform: bool = False
    slice_spacing: float | None = None


def _paths(refs: Sequence[FrameRef]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.label for r in refs))


def _sortable(value: object) -> tuple:
    # Mixed types (numbers, strings, tuples) must still sort deterministically.
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, float(value), "")
    if isinstance(value, tuple):  # several indices (NM frame vectors): numerically, in order
        return (2, 0.0, "", tuple(_sortable(v) for v in value))
    try:
        return (0, float(value), "")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _dedupe_sop(refs: list[FrameRef], findings: list[Finding]) -> list[FrameRef]:
    seen: dict[tuple[str, int], FrameRef] = {}
    kept: list[FrameRef] = []
    dropped: dict[tuple[str, int], list[FrameRef]] = defaultdict(list)
    for ref in refs:
        key = (ref.sop_uid, ref.frame)
        if ref.sop_uid and key in seen:
            dropped[key].append(ref)
            continue
        seen[key] = ref
        kept.append(ref)
    for key, extra in dropped.items():
        findings.append(
            Finding(
                "warning",
                "duplicate-instance",
                f"SOPInstanceUID {key[0]} appears {len(extra) + 1} times; the copies were ignored",
                _paths([seen[key], *extra]),
            )
        )
    return kept


def _time_key(groups: list[list[FrameRef]]) -> str | None:
    """The first attribute whose values tell apart the frames sharing each position."""
    for key in _TIME_KEYS:
        ok = True
        for group in groups:
            values = [r.temporal.get(key) for r in group]
            if any(v is None for v in values) or len({str(v) for v in values}) != len(values):
                ok = False
                break
        if ok:
            return key
    return None


def _frames_in_file_order(groups: list[list[FrameRef]], n_times: int) -> Finding:
    """Frames of one file share positions and only their order tells them apart.

    Rather than keep one and drop the rest, they become time points in frame order: a cine
    with a position (normal, when the file gives a frame time) or a file whose frame
    geometry could not be read (for example a Grid Frame Offset Vector of the wrong length).
    """
    header = groups[0][0].header
    cine = any(key in header for key in ("FrameTime", "FrameTimeVector"))
    return Finding(
        "info" if cine else "warning",
        "frames-in-file-order",
        f"{n_times} frames of one file share each slice position and nothing but their order "
        f"tells them apart; they are shown as {n_times} time points in frame order",
        _paths([g[0] for g in groups]),
    )


def arrange(refs: Sequence[FrameRef], *, jitter: float = JITTER) -> Arrangement:
    """Sort frames into ``grid[time][slice]`` and collect geometry findings.

    Parameters
    ----------
    refs : sequence of FrameRef
        Frames of one stack (same size and orientation, grouped by the scanner).
    jitter : float
        Relative spacing deviation accepted as scanner jitter.

    Returns
    -------
    Arrangement
    """
    findings: list[Finding] = []
    frames = _dedupe_sop(list(refs), findings)
    if not frames:
        return Arrangement([[]], "none", findings=findings)

    method, keys, normal = _sort_keys(frames)
    if method != "geometry" and len(frames) > 1:
        findings.append(_missing_geometry(method, frames))
    groups, group_keys = _group_by_key(frames, keys, method)
    groups, n_times, time_key = _split_times(groups, group_keys, method, findings)
    grid = [[g[t] for g in groups] for t in range(n_times)]
    arrangement = Arrangement(grid, method, time_key, findings, normal=normal)
    if method == "geometry":
        arrangement.slice_positions = np.asarray(group_keys, dtype=np.float64)
        _check_spacing(arrangement, groups, jitter)
    _check_rescale(arrangement, frames)
    return arrangement


def _single_file(frames: Sequence[FrameRef]) -> bool:
    return len({r.path or id(r.header) for r in frames}) == 1


def _sort_keys(frames: list[FrameRef]) -> tuple[str, list[float], np.ndarray | None]:
    """How the frames are sorted (the method's name), their sort keys, and the slice normal."""
    has_geometry = all(r.position is not None and r.orientation is not None for r in frames)
    normal = None
    if has_geometry:
        ori = frames[0].orientation
        assert ori is not None
        normal = unit_normal(ori)
        has_geometry = normal is not None
    if has_geometry:
        return "geometry", [float(np.dot(r.position, normal)) for r in frames], normal  # type: ignore[arg-type]
    if _single_file(frames):
        # One multi-frame file without positions (cine, US, old MR): frame order is the order.
        return "file-order", [float(r.frame) for r in frames], normal
    if all(r.instance_number is not None for r in frames) and len(
        {(r.instance_number, r.frame) for r in frames}
    ) == len(frames):
        keys = [float(r.instance_number) * 100000 + r.frame for r in frames]  # type: ignore[arg-type]
        return "instance-number", keys, normal
    if all(r.acquisition_seconds is not None for r in frames) and len(
        {(r.acquisition_seconds, r.frame) for r in frames}
    ) == len(frames):
        keys = [float(r.acquisition_seconds) * 100000 + r.frame for r in frames]  # type: ignore[arg-type]
        return "acquisition-time", keys, normal
    return "file-order", [float(r.order) for r in frames], normal


def _missing_geometry(method: str, frames: Sequence[FrameRef]) -> Finding:
    severity = "info" if _single_file(frames) and method == "file-order" else "warning"
    what = {
        "instance-number": "InstanceNumber",
        "acquisition-time": "acquisition time",
        "file-order": "frame/file order",
    }[method]
    return Finding(
        severity,
        "missing-geometry",
        f"no usable ImagePositionPatient/ImageOrientationPatient; frames sorted by {what}",
        (),
    )


def _group_by_key(
    frames: list[FrameRef], keys: list[float], method: str
) -> tuple[list[list[FrameRef]], list[float]]:
    """Frames sharing a slice location (within a tolerance for positions), in key order."""
    order = np.argsort(np.asarray(keys), kind="stable")
    groups: list[list[FrameRef]] = []
    group_keys: list[float] = []
    tol = _SAME_POSITION_MM if method == "geometry" else 0.0
    for idx in order:
        if groups and abs(keys[idx] - group_keys[-1]) <= tol:
            groups[-1].append(frames[idx])
        else:
            groups.append([frames[idx]])
            group_keys.append(keys[idx])
    return groups, group_keys


def _split_times(
    groups: list[list[FrameRef]], group_keys: list[float], method: str, findings: list[Finding]
) -> tuple[list[list[FrameRef]], int, str | None]:
    """Frames sharing a location become time points, or duplicates of which one is kept."""
    sizes = {len(g) for g in groups}
    if max(sizes) <= 1:
        return groups, 1, None
    n_times = max(sizes)
    time_key = _time_key(groups) if len(sizes) == 1 else None
    if time_key is not None:
        for g in groups:
            g.sort(key=lambda r: _sortable(r.temporal[time_key]))
        if time_key == "FrameNumber":
            findings.append(_frames_in_file_order(groups, n_times))
        else:
            findings.append(
                Finding(
                    "info",
                    "4d",
                    f"{n_times} frames share each slice position; they are exposed as "
                    f"{n_times} time points (ordered by {_TIME_KEY_NAMES.get(time_key, time_key)})",
                    (),
                )
            )
        return groups, n_times, time_key
    for position, g in zip(group_keys, groups):
        if len(g) < 2:
            continue
        g.sort(key=lambda r: (r.instance_number or 0, r.order))
        where = f"position {position:.3f} mm along the normal"
        if method != "geometry":
            where = f"the same {method.replace('-', ' ')}"
        findings.append(
            Finding(
                "warning",
                "duplicate-position",
                f"{len(g)} frames at {where}; the first was kept, {len(g) - 1} ignored",
                _paths(g),
            )
        )
    return [[g[0]] for g in groups], 1, None


def _median(values: np.ndarray) -> float:
    """The lower median: with a missing slice among few steps ([s, 2s]) it is still s.

    (np.median would also import numpy.ma on first use, ~40 ms, too slow for opening.)
    """
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(ordered[(len(ordered) - 1) // 2])


def _check_spacing(arr: Arrangement, groups: list[list[FrameRef]], jitter: float) -> None:
    pos = arr.slice_positions
    assert pos is not None
    if len(pos) < 2:
        arr.is_uniform = True
        return
    steps = np.diff(pos)
    median = _median(steps)
    arr.slice_spacing = median
    uniform = True
    if len(steps) >= 2 and median > 0:
        for k, step in enumerate(steps):
            if step > GAP_FACTOR * median:
                missing = int(round(step / median)) - 1
                arr.findings.append(
                    Finding(
                        "warning",
                        "gap",
                        f"slice spacing jumps to {step:.3g} mm (median {median:.3g} mm) between "
                        f"slices {k} and {k + 1}: about {max(missing, 1)} slice(s) missing",
                        _paths([groups[k][0], groups[k + 1][0]]),
                    )
                )
                uniform = False
            elif abs(step - median) > jitter * median + 1e-3:
                arr.findings.append(
                    Finding(
                        "warning",
                        "irregular-spacing",
                        f"slice spacing {step:.4g} mm between slices {k} and {k + 1} differs "
                        f"from the median {median:.4g} mm by more than {jitter:.0%}",
                        _paths([groups[k][0], groups[k + 1][0]]),
                    )
                )
                uniform = False
    # Positions should lie on one line along the normal (otherwise gantry tilt / mixed stacks).
    first = groups[0][0]
    spacings = {r.pixel_spacing for g in groups for r in g}
    if len(spacings) > 1:
        arr.findings.append(
            Finding(
                "warning",
                "mixed-pixel-spacing",
                f"pixel spacing varies: {sorted(map(str, spacings))}",
                (),
            )
        )
        uniform = False
    if first.position is not None and len(groups) > 1:
        last = groups[-1][0].position
        assert last is not None and arr.normal is not None
        along = last - first.position
        lateral = along - np.dot(along, arr.normal) * arr.normal
        if float(np.linalg.norm(lateral)) > 0.01 * max(float(np.linalg.norm(along)), 1.0):
            arr.findings.append(
                Finding(
                    "info",
                    "tilted-stack",
                    "slice positions are not along the slice normal (gantry tilt or shear); "
                    "the affine uses the actual step between slices",
                    (),
                )
            )
    arr.is_uniform = uniform


def _check_rescale(arr: Arrangement, frames: list[FrameRef]) -> None:
    pairs = {(r.slope, r.intercept) for r in frames}
    if len(pairs) > 1:
        shown = ", ".join(f"{s:g}/{i:g}" for s, i in sorted(pairs)[:4])
        arr.findings.append(
            Finding(
                "info",
                "mixed-rescale",
                f"RescaleSlope/Intercept differ between frames ({shown}"
                f"{'...' if len(pairs) > 4 else ''}); frame() applies each frame's own values",
                (),
            )
        )
