"""Atomic file output: write a file without a name in the target folder, then name it.

A reader never sees a half-written file, and an interrupted run leaves either the
old file or none, never a truncated one. On Linux the file is made with ``O_TMPFILE``:
it has no name until it is complete, so even a killed process (or a power loss before
the name) leaves nothing behind. Elsewhere, or on a file system without it, it is a
temporary file beside the target, renamed into place (removed if the write fails).

What is written may include a :class:`FileRange`, bytes of another file that the kernel
copies without them passing through memory (the de-identified batch's pixel data).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from pydicom.dataset import Dataset

from ._compat import write_dataset

__all__ = [
    "FileRange",
    "atomic_write",
    "atomic_write_bytes",
    "new_file_mode",
    "write_chunks",
    "write_dataset_atomic",
]


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
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    anonymous = _anonymous_file(target.parent)
    # (the folder is looked at only when the file cannot be made: a batch writes hundreds
    # of files into one folder, and each look is a system call)
    if anonymous is None and not target.parent.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        anonymous = _anonymous_file(target.parent)
    if anonymous is not None:
        try:
            return _write_anonymous(anonymous, target, writer, overwrite=overwrite, fsync=fsync)
        except _NoAnonymousLink:
            pass  # this system cannot name such a file: the temporary file's way, again
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


class _NoAnonymousLink(Exception):
    """An anonymous file could not be given a name (the system does not allow it)."""


#: Whether files made with O_TMPFILE can be linked into place here (False after a failure).
_ANONYMOUS_FILES = [hasattr(os, "O_TMPFILE")]
#: This process's /proc/self/fd (pid, descriptor): a forked child must open its own.
_PROC_FDS: list[tuple[int, int]] = []


def _anonymous_file(folder: Path) -> int | None:
    """A descriptor of a new file without a name in ``folder`` (mode ``0o666`` less the
    umask, as ``open()`` gives), or ``None`` where there is no such thing."""
    if not _ANONYMOUS_FILES[0]:
        return None
    try:
        return os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666)
    except OSError:  # EOPNOTSUPP, EISDIR, EINVAL: this file system has none
        return None


def _proc_fds() -> int:
    """A descriptor of this process's ``/proc/self/fd`` (opened once per process)."""
    pid = os.getpid()
    if not _PROC_FDS or _PROC_FDS[0][0] != pid:
        _PROC_FDS[:] = [
            (pid, os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        ]
    return _PROC_FDS[0][1]


def _write_anonymous(
    fd: int, target: Path, writer: Callable[[BinaryIO], None], *, overwrite: bool, fsync: bool
) -> Path:
    """Write the anonymous file ``fd`` and give it ``target``'s name once it is complete
    (``linkat``, which fails if the name exists; with ``overwrite``, a temporary name
    renamed over the target). Raises :class:`_NoAnonymousLink` when the system refuses
    the link (before the target is touched)."""
    with os.fdopen(fd, "wb") as handle:
        writer(handle)
        handle.flush()
        if fsync:
            os.fsync(handle.fileno())
        name = (
            target
            if not overwrite
            else target.with_name(f".{target.name}.{os.urandom(6).hex()}.tmp")
        )
        try:
            os.link(str(handle.fileno()), name, src_dir_fd=_proc_fds(), follow_symlinks=True)
        except FileExistsError:
            raise FileExistsError(
                f"{target} already exists; pass overwrite=True to replace it"
            ) from None
        except OSError as exc:  # no /proc, a sandbox refusing linkat: never again here
            _ANONYMOUS_FILES[0] = False
            raise _NoAnonymousLink(str(exc)) from exc
    if overwrite:
        try:
            os.replace(name, target)
        except BaseException:
            os.unlink(name)
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


class FileRange:
    """Bytes of an open file, written out by the kernel without passing through memory.

    A de-identified image is its new header followed by the source's pixel data element,
    unchanged: reading that element into a buffer only to write it again costs a copy into
    fresh memory (page faults included) and a copy out. :meth:`copy_to` asks the kernel to
    copy file to file (``copy_file_range``, else ``sendfile``), and falls back to reading
    and writing in pieces where neither works (another OS, some file systems).

    Parameters
    ----------
    file : binary file
        Open for reading; the range owns it (:meth:`close`).
    offset, length : int
        Where the bytes are.
    name : str
        The file's name, for errors.
    """

    #: Bytes per read when the kernel cannot copy (and when comparing).
    PIECE = 1 << 20

    def __init__(self, file: BinaryIO, offset: int, length: int, name: str) -> None:
        self.file, self.offset, self.length, self.name = file, offset, length, name

    def copy_to(self, out_fd: int) -> None:
        """Write the bytes at ``out_fd``'s position; ``OSError`` if the file ends early, or
        the error of either file (naming this one: a read error is the source's)."""
        offset, left = self.offset, self.length
        source = self.file.fileno()
        while left:
            try:
                copied = _copy_some(source, out_fd, offset, left, self.file)
            except OSError as exc:
                why = exc.strerror or str(exc)
                raise OSError(exc.errno, f"{why} (copying from {self.name})") from exc
            if copied <= 0:
                raise OSError(
                    f"{self.name}: {left} bytes missing at offset {offset} "
                    "(the file changed while it was copied)"
                )
            offset += copied
            left -= copied

    def same_as(self, handle: BinaryIO) -> bool:
        """Whether ``handle`` reads the range's bytes next."""
        self.file.seek(self.offset)
        left = self.length
        while left:
            piece = self.file.read(min(left, self.PIECE))
            if not piece or handle.read(len(piece)) != piece:
                return False
            left -= len(piece)
        return True

    def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"<FileRange {self.name!r} [{self.offset}:{self.offset + self.length}]>"


def _copy_some(source: int, out_fd: int, offset: int, count: int, file: BinaryIO) -> int:
    """Copy up to ``count`` bytes at ``offset`` of ``source`` to ``out_fd``; bytes copied."""
    for way in _KERNEL_COPIES:
        try:
            return way(source, out_fd, offset, count)
        except OSError as exc:
            # Not between these two files (another file system, a FUSE mount...): the next
            # way. Other errors (disk full, I/O) are the write's.
            if exc.errno not in _NOT_SUPPORTED:
                raise
    file.seek(offset)
    piece = file.read(min(count, FileRange.PIECE))
    written = 0
    while written < len(piece):
        written += os.write(out_fd, piece[written:])
    return written


def _copy_file_range(source: int, out_fd: int, offset: int, count: int) -> int:
    return os.copy_file_range(source, out_fd, count, offset)


def _sendfile(source: int, out_fd: int, offset: int, count: int) -> int:
    return os.sendfile(out_fd, source, offset, count)


#: Errors that mean "not between these two files", not "the write failed".
_NOT_SUPPORTED = frozenset(
    {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", 0)}
)
#: The kernel's file-to-file copies here, best first (Linux has both; macOS' sendfile only
#: writes to sockets, Windows has neither).
_KERNEL_COPIES: list[Callable[[int, int, int, int], int]] = []
if hasattr(os, "copy_file_range"):
    _KERNEL_COPIES.append(_copy_file_range)
if hasattr(os, "sendfile") and sys.platform.startswith("linux"):
    _KERNEL_COPIES.append(_sendfile)


def write_chunks(handle: BinaryIO, chunks: Sequence[bytes | memoryview | FileRange]) -> None:
    """Write ``chunks`` in order to the open file ``handle`` (a :class:`FileRange` by the
    kernel, after what is buffered)."""
    for chunk in chunks:
        if isinstance(chunk, FileRange):
            handle.flush()
            chunk.copy_to(handle.fileno())
        else:
            handle.write(chunk)
