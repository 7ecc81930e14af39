"""Atomic file output: write to a temporary file in the target folder, then rename.

A reader never sees a half-written file, and an interrupted run leaves either the
old file or none, never a truncated one.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pydicom.dataset import Dataset

from ._compat import write_dataset

__all__ = ["atomic_write", "atomic_write_bytes", "write_dataset_atomic", "new_file_mode"]


@functools.lru_cache(maxsize=1)
def new_file_mode() -> int:
    """The mode ``open()`` gives a new file here: ``0o666`` less the process umask.

    ``tempfile.mkstemp`` creates its file with ``0o600``; renamed into place as it is, every
    output (an anonymized series, a SEG, an index) would be unreadable to the user's group
    and colleagues, unlike a file written directly. Read once: the umask is process-wide.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):  # not Linux, or no /proc: ask the umask the old way
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(
    path: str | os.PathLike[str],
    writer: Callable[[BinaryIO], None],
    *,
    overwrite: bool = False,
    fsync: bool = True,
) -> Path:
    """Call ``writer(fileobj)`` on a temporary file beside ``path`` and rename it into place.

    Parameters
    ----------
    path : path-like
        The final file name.
    writer : callable
        Receives an open binary file and writes the content.
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError`` is raised before writing.
    fsync : bool
        Flush the file to disk before the rename. Without it readers still never see a
        partial file (the rename is atomic); only durability across a power loss is left
        to the caller, who can flush a whole batch at once.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as handle:
            writer(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp_name, target)
        else:
            # link() fails if the target appeared meanwhile, so nothing is silently replaced.
            os.link(tmp_name, target)
            os.unlink(tmp_name)
    except BaseException:  # an interrupt too must not leave the temporary file; re-raised
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return target


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False
) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda handle: handle.write(data), overwrite=overwrite)


def write_dataset_atomic(
    ds: Dataset, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``ds`` as a Part 10 file at ``path`` atomically.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> import tempfile, os
    >>> out = write_dataset_atomic(ct_phantom(n_slices=1, size=32)[0],
    ...                            os.path.join(tempfile.mkdtemp(), "a.dcm"))
    >>> out.name
    'a.dcm'
    """
    return atomic_write(path, lambda handle: write_dataset(ds, handle), overwrite=overwrite)


def atomic_write_bytes_unsynced(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False
) -> Path:
    """Like :func:`atomic_write_bytes` (temporary file + rename) but without ``fsync``."""
    return atomic_write(path, lambda handle: handle.write(data), overwrite=overwrite, fsync=False)
