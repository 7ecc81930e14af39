"""Bundled sample data: synthetic phantom series and short names for pydicom's test files.

Everything here works offline: the phantoms are generated on the fly and
pydicom's test files ship inside pydicom (and, when installed, ``pydicom-data``).

Examples
--------
>>> from dicom_widgets.data import ct_phantom, write_series, pydicom_file
>>> import tempfile
>>> paths = write_series(ct_phantom(n_slices=5, size=32), tempfile.mkdtemp())
>>> len(paths)
5
>>> pydicom_file("ct_small").name
'CT_small.dcm'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from .._io import write_dataset_atomic
from ._burned_in import FAKE_PATIENTS, BurnedInImage, BurnedInText, burned_in_phantom
from ._phantom import (
    CT_REGIONS,
    HEAD_HALF_SIZE_MM,
    MR_REGIONS,
    REGION_CENTERS_MM,
    Region,
    ct_phantom,
    mr_multiframe_phantom,
    mr_phantom,
    phantom_values_at,
)

__all__ = [
    "CT_REGIONS",
    "MR_REGIONS",
    "REGION_CENTERS_MM",
    "HEAD_HALF_SIZE_MM",
    "Region",
    "ct_phantom",
    "mr_phantom",
    "mr_multiframe_phantom",
    "phantom_values_at",
    "burned_in_phantom",
    "BurnedInImage",
    "BurnedInText",
    "FAKE_PATIENTS",
    "write_series",
    "sample_series_folder",
    "PYDICOM_FILES",
    "pydicom_file",
    "all_pydicom_test_files",
    "charset_files",
]

#: Short names for pydicom's shipped test files (the file names pydicom knows them by).
PYDICOM_FILES: dict[str, str] = {
    "ct_small": "CT_small.dcm",
    "mr_small": "MR_small.dcm",
    "mr_small_bigendian": "MR_small_bigendian.dcm",
    "mr_small_implicit": "MR_small_implicit.dcm",
    "mr_small_rle": "MR_small_RLE.dcm",
    "mr_small_jpeg2000": "MR_small_jp2klossless.dcm",
    "mr_small_jpegls": "MR_small_jpeg_ls_lossless.dcm",
    "mr_truncated": "MR_truncated.dcm",
    "multiframe": "emri_small.dcm",
    "enhanced_ct": "eCT_Supplemental.dcm",
    "rgb": "SC_rgb.dcm",
    "rgb_2frame": "SC_rgb_2frame.dcm",
    "rgb_jpeg": "SC_rgb_jpeg_dcmtk.dcm",
    "ybr": "SC_ybr_full_uncompressed.dcm",
    "ybr_422": "SC_ybr_full_422_uncompressed.dcm",
    "us_rgb": "examples_rgb_color.dcm",
    "us_cine": "examples_ybr_color.dcm",
    "us_cine_3d": "color3d_jpeg_baseline.dcm",
    "palette": "OT-PAL-8-face.dcm",
    "us_palette": "examples_palette.dcm",
    "monochrome1": "6154",
    "overlay": "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "overlay_example": "examples_overlay.dcm",
    "jpeg2000": "JPEG2000.dcm",
    "jpeg_lossless": "JPEG-LL.dcm",
    "jpeg_lossy": "JPEG-lossy.dcm",
    "deflated": "image_dfl.dcm",
    "modality_lut": "mlut_18.dcm",
    "voi_lut": "vlut_04.dcm",
    "rtdose": "rtdose.dcm",
    "rtplan": "rtplan.dcm",
    "rtplan_truncated": "rtplan_truncated.dcm",
    "rtstruct": "rtstruct.dcm",
    "sr": "test-SR.dcm",
    "sr_report": "reportsi.dcm",
    "ecg": "waveform_ecg.dcm",
    "private_sequence": "priv_SQ.dcm",
    "nested_private_sequence": "nested_priv_SQ.dcm",
    "un_sequence": "UN_sequence.dcm",
    "explicit_un": "explicit_VR-UN.dcm",
    "bad_vr": "badVR.dcm",
    "no_meta": "no_meta.dcm",
    "seg": "liver.dcm",
    "dicomdir": "DICOMDIR",
}


def _testdata_file(name: str) -> Path | None:
    from pydicom.data import get_testdata_file

    try:
        found = get_testdata_file(name)
    except Exception:  # pydicom may try (and fail) to download files it does not ship
        return None
    return Path(found) if found else None


def pydicom_file(short_name: str) -> Path:
    """Return the path of one of pydicom's test files by short name (see :data:`PYDICOM_FILES`).

    Parameters
    ----------
    short_name : str
        A key of :data:`PYDICOM_FILES` (``"ct_small"``, ``"rgb"``, ``"dicomdir"``...) or a
        file name pydicom knows (``"CT_small.dcm"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    KeyError
        For an unknown name, listing the known ones.
    FileNotFoundError
        When the file is not installed (some need the ``pydicom-data`` package).

    Examples
    --------
    >>> pydicom_file("ct_small").name
    'CT_small.dcm'
    """
    if short_name == "dicomdir":
        path = _testdata_file("DICOMDIR")
        # pydicom ships two files named DICOMDIR; the series one lives in dicomdirtests/.
        for candidate in all_pydicom_test_files():
            if candidate.name == "DICOMDIR" and candidate.parent.name == "dicomdirtests":
                path = candidate
        if path is None:
            raise FileNotFoundError("pydicom's dicomdirtests/DICOMDIR is not installed")
        return path
    file_name = PYDICOM_FILES.get(short_name, short_name)
    if short_name not in PYDICOM_FILES and not any(f == short_name for f in PYDICOM_FILES.values()):
        known = ", ".join(sorted(PYDICOM_FILES))
        raise KeyError(f"unknown sample {short_name!r}; known short names: {known}")
    path = _testdata_file(file_name)
    if path is None:
        raise FileNotFoundError(
            f"pydicom test file {file_name!r} is not installed; pip install pydicom-data"
        )
    return path


def all_pydicom_test_files() -> list[Path]:
    """Every file pydicom's data manager knows about (shipped and ``pydicom-data``), sorted.

    Directories, JSON, dumps and ICC profiles are excluded; deliberately broken files
    are included, since they are what robustness tests need.

    Examples
    --------
    >>> any(p.name == "CT_small.dcm" for p in all_pydicom_test_files())
    True
    """
    from pydicom.data import get_testdata_files

    try:
        found = get_testdata_files()
    except Exception:  # noqa: BLE001 - as above: its data manager may try a download
        found = []
    skip_suffixes = {".json", ".dump", ".icc", ".txt", ".gz", ".py"}
    out = {
        Path(f).resolve()
        for f in found
        if os.path.isfile(f)
        and Path(f).suffix.lower() not in skip_suffixes
        and Path(f).name not in {"README", "FileInfo.txt"}
    }
    return sorted(out)


def charset_files() -> list[Path]:
    """pydicom's character-set test files (Japanese, Korean, Chinese, Greek, Hebrew, Arabic...).

    Examples
    --------
    >>> all(p.suffix == ".dcm" for p in charset_files())
    True
    """
    import pydicom

    folder = Path(pydicom.__file__).parent / "data" / "charset_files"
    return sorted(p for p in folder.glob("*.dcm"))


def write_series(
    datasets: Iterable[Dataset],
    folder: str | os.PathLike[str],
    *,
    shuffle: bool = True,
    seed: int = 0,
    prefix: str = "IM",
    overwrite: bool = False,
) -> list[Path]:
    """Write datasets to ``folder`` as Part 10 files, in shuffled file-name order.

    File names are ``IM_0000.dcm``, ``IM_0001.dcm``... assigned in a random (but
    seeded) order, so sorting by name does not give slice order: the loader must
    sort by geometry.

    Parameters
    ----------
    datasets : iterable of Dataset
        Datasets with ``file_meta`` (as returned by :func:`ct_phantom`).
    folder : path-like
        Created if missing.
    shuffle : bool
        Shuffle the name order; ``False`` names them in the given order.
    seed : int
        Seed of the shuffle.
    prefix : str
        File name prefix.
    overwrite : bool
        Replace existing files of the same name.

    Returns
    -------
    list of pathlib.Path
        The written paths, in the order of ``datasets``.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_series(ct_phantom(n_slices=2, size=16), tempfile.mkdtemp())
    >>> len(paths)
    2
    """
    items = list(datasets)
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    order = np.arange(len(items))
    if shuffle and len(items) > 1:
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(len(items))
            if not np.array_equal(order, np.arange(len(items))):
                break
    paths = []
    for ds, number in zip(items, order):
        path = out_dir / f"{prefix}_{int(number):04d}.dcm"
        write_dataset_atomic(ds, path, overwrite=overwrite)
        paths.append(path)
    return paths


def sample_series_folder(
    folder: str | os.PathLike[str] | None = None, *, n_slices: int = 48, size: int = 256
) -> Path:
    """Write the standard sample data (CT phantom, sagittal MR, multi-frame MR) once and return the folder.

    Existing files are left alone, so calling this again is cheap.

    Parameters
    ----------
    folder : path-like, optional
        Target folder; default ``~/.cache/dicom-widgets/sample`` (or ``$DICOM_WIDGETS_DATA``).
    n_slices, size : int
        Size of the CT phantom.

    Returns
    -------
    pathlib.Path
        The folder holding ``ct/``, ``mr/`` and ``mr_multiframe/``.

    Examples
    --------
    >>> import tempfile
    >>> folder = sample_series_folder(tempfile.mkdtemp(), n_slices=2, size=16)
    >>> sorted(p.name for p in folder.iterdir())
    ['ct', 'mr', 'mr_multiframe']
    """
    if folder is None:
        folder = (
            os.environ.get("DICOM_WIDGETS_DATA")
            or Path.home() / ".cache" / "dicom-widgets" / "sample"
        )
    root = Path(folder)
    parts = {
        "ct": lambda: ct_phantom(n_slices=n_slices, size=size, noise=8.0),
        "mr": lambda: mr_phantom(),
        "mr_multiframe": lambda: [mr_multiframe_phantom()],
    }
    for name, make in parts.items():
        sub = root / name
        if sub.is_dir() and any(sub.glob("*.dcm")):
            continue
        write_series(make(), sub, shuffle=True)
    return root
