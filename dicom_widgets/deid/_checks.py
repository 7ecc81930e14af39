"""What a batch refuses to read or write: each check lives here once (engine, batch and widget).

* :func:`why_not_anonymized`: a header the batch does not de-identify (a DICOMDIR, by the
  package's one DICOMDIR check :func:`dicom_widgets._compat.is_dicomdir`, or an object that
  is not a composite instance) and why, in words shown to the user.
* :func:`check_output_folder`: an output folder that would mix de-identified copies with
  the originals (PS3.15 leaves where copies go to the tool; mixing them is the classic leak).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pydicom.dataset import Dataset

from .._compat import DICOMDIR_SOP_CLASS, is_dicomdir, safe_get
from ..errors import UnsafeOutputError

__all__ = [
    "MEDIA_STORAGE_DIRECTORY",
    "DICOMDIR_NOT_COPIED",
    "is_dicomdir",
    "why_not_anonymized",
    "check_output_folder",
]

#: SOP Class UID of a DICOMDIR (Media Storage Directory Storage, PS3.10).
MEDIA_STORAGE_DIRECTORY = DICOMDIR_SOP_CLASS
DICOMDIR_NOT_COPIED = (
    "DICOMDIR not copied: its records name patients and the original files; "
    "build a new one from the anonymized files (pydicom.fileset)"
)


def sop_class_of(ds: Dataset) -> str:
    """SOP Class UID of ``ds``, from the dataset or else from its file meta (``""``: none)."""
    return str(safe_get(ds, "SOPClassUID", "")) or str(
        safe_get(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "")
    )


def why_not_anonymized(ds: Dataset) -> str | None:
    """Why the batch would not de-identify this header (``None``: it would).

    Examples
    --------
    >>> from pydicom import Dataset
    >>> why_not_anonymized(Dataset())
    'not a composite instance (no SOP Class UID or SOP Instance UID): nothing written'
    """
    if is_dicomdir(ds):
        return DICOMDIR_NOT_COPIED
    if not sop_class_of(ds) or 0x00080018 not in ds:
        return "not a composite instance (no SOP Class UID or SOP Instance UID): nothing written"
    return None


def check_output_folder(
    out_dir: str | os.PathLike[str],
    source_folders: Iterable[str | os.PathLike[str]],
    *,
    require_empty: bool = False,
) -> Path:
    """Refuse an output folder that would mix de-identified copies with the originals.

    Refused: the folder of a source, a folder inside one, a folder containing one, a path
    that is a file, and -- with ``require_empty`` -- a folder already holding files (copies
    made under another key would mix with these).

    Returns
    -------
    pathlib.Path
        ``out_dir`` resolved.

    Raises
    ------
    UnsafeOutputError

    Examples
    --------
    >>> import tempfile, os
    >>> src = tempfile.mkdtemp()
    >>> check_output_folder(os.path.join(src, "out"), [src])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dicom_widgets.errors.UnsafeOutputError: output folder ... is inside the source folder ...
    """
    out = Path(os.fspath(out_dir)).expanduser().resolve()
    # Each folder once, then resolved: a batch names the folder of every one of its files.
    folders = dict.fromkeys(Path(os.fspath(f)) for f in source_folders)
    for folder in dict.fromkeys(f.resolve() for f in folders):
        if out == folder or folder in out.parents:
            raise UnsafeOutputError(
                f"output folder {out} is inside the source folder {folder}: choose a folder "
                "outside the sources (de-identified copies must never mix with the originals)"
            )
        if out in folder.parents:
            raise UnsafeOutputError(
                f"output folder {out} contains the source folder {folder}: choose a folder "
                "outside the sources (a later scan of the output would mix originals and copies)"
            )
    if out.exists() and not out.is_dir():
        raise UnsafeOutputError(f"output path {out} exists and is not a folder")
    if require_empty and out.is_dir():
        n = sum(1 for p in out.rglob("*") if p.is_file())
        if n:
            raise UnsafeOutputError(
                f"output folder {out} already holds {n} file(s): choose a new or empty folder "
                "(or export(..., into_existing=True) to add to it; files are never overwritten)"
            )
    return out
