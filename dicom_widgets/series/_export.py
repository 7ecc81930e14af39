"""Conversions for analysis: DataFrame, NIfTI and PNG frames (optional libraries loaded lazily)."""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io import atomic_write, new_file_mode
from ..errors import DecodeError, GeometryError, MissingDependencyError, UnsafeOutputError

if TYPE_CHECKING:
    from ..display import WindowSpec
    from ._series import Series

__all__ = ["require", "series_dataframe", "write_nifti", "save_pngs", "LPS_TO_RAS"]

#: DICOM patient coordinates (LPS) to NIfTI / nibabel world coordinates (RAS).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

_EXTRAS = {
    "pandas": "analysis",
    "nibabel": "analysis",
    "PIL": "the pillow package",
    "pyarrow": "archive",
    "pyarrow.parquet": "archive",
}


def require(module: str) -> Any:
    """Import an optional library or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(module, "analysis")
        hint = (
            f'pip install "dicom-widgets[{extra}]"'
            if not extra.startswith("the ")
            else f"pip install {extra.split()[1]}"
        )
        raise MissingDependencyError(f"{module} is needed for this feature: {hint}") from exc


def _check_output(series: Series, target: Path) -> None:
    """Refuse to write into the source data (never touch the user's DICOM files)."""
    resolved = target.resolve()
    for source in series.files:
        src = Path(source).resolve()
        if resolved == src or resolved == src.parent or src.parent in resolved.parents:
            raise UnsafeOutputError(
                f"{target} is inside the source data ({src.parent}); choose another location"
            )


def series_dataframe(series: Series) -> Any:
    """Per-frame metadata (see :meth:`Series.to_dataframe`)."""
    pd = require("pandas")
    normal = series.slice_normal
    rows = []
    for t in range(series.n_times):
        for i in range(len(series)):
            ref = series.frame_ref(i, t)
            pos = ref.position if ref.position is not None else np.full(3, np.nan)
            rows.append(
                {
                    "slice": i,
                    "time": t,
                    "path": ref.path or "",
                    "frame": ref.frame,
                    "instance_number": ref.instance_number,
                    "sop_instance_uid": ref.sop_uid,
                    "position_x": float(pos[0]),
                    "position_y": float(pos[1]),
                    "position_z": float(pos[2]),
                    "slice_location": float(np.dot(pos, normal)) if normal is not None else np.nan,
                    "slope": ref.slope,
                    "intercept": ref.intercept,
                    "rows": ref.rows,
                    "columns": ref.cols,
                    "acquisition_seconds": ref.acquisition_seconds,
                    "error": series.frame_error(i, t) or "",
                }
            )
    return pd.DataFrame(rows)


def write_nifti(
    series: Series,
    path: str | os.PathLike[str],
    *,
    time: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``series`` as NIfTI-1 with the RAS affine (see :meth:`Series.to_nifti`)."""
    nib = require("nibabel")
    target = Path(path)
    name = target.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        raise ValueError(f"NIfTI file names end with .nii or .nii.gz, got {target.name!r}")
    if series.is_color:
        raise GeometryError("colour series cannot be written as NIfTI by this function")
    if not series.is_uniform:
        raise GeometryError(
            "the series is not uniformly spaced along one normal (see series.findings); "
            "a NIfTI affine would misplace slices"
        )
    _check_output(series, target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    if time is None and series.n_times > 1:
        volume = series.volume(time=None)  # (t, k, r, c)
        data = np.transpose(volume, (3, 2, 1, 0))  # (c, r, k, t)
    else:
        data = np.transpose(series.volume(time=time or 0), (2, 1, 0))  # (c, r, k)
    affine = LPS_TO_RAS @ series.affine()
    image = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    image.set_qform(affine, code=1)  # scanner-based anatomical coordinates
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if name.endswith(".gz") else ".nii"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix, dir=target.parent)
    os.fchmod(fd, new_file_mode())  # mkstemp's 0o600 would follow the file into place
    os.close(fd)
    try:
        nib.save(image, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def save_pngs(
    series: Series,
    folder: str | os.PathLike[str],
    *,
    window: WindowSpec = None,
    time: int = 0,
    prefix: str = "frame",
    overwrite: bool = False,
) -> list[Path]:
    """Write windowed 8-bit PNGs (see :meth:`Series.save_frames`)."""
    image_mod = require("PIL.Image")
    out_dir = Path(folder)
    _check_output(series, out_dir / "x.png")
    out_dir.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(series))))
    written = []
    for i in range(len(series)):
        try:
            pixels = series.display(i, window, time)
        except DecodeError:
            continue  # recorded in series.findings
        image = image_mod.fromarray(pixels, mode=None)
        target = out_dir / f"{prefix}_{i:0{width}d}.png"
        atomic_write(target, lambda fh, im=image: im.save(fh, format="PNG"), overwrite=overwrite)
        written.append(target)
    return written
