"""Atomic output: a file gets its name only when complete, and nothing else is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dicom_widgets import _io
from dicom_widgets._io import atomic_write, atomic_write_bytes, new_file_mode

ANONYMOUS = sys.platform.startswith("linux") and hasattr(os, "O_TMPFILE")


@pytest.fixture(params=["anonymous", "temporary"])
def way(request, monkeypatch):
    """Both ways of writing: an O_TMPFILE file named when complete, a renamed temporary."""
    if request.param == "anonymous":
        if not ANONYMOUS:
            pytest.skip("O_TMPFILE is Linux's")
        monkeypatch.setattr(_io, "_ANONYMOUS_FILES", [True])
    else:
        monkeypatch.setattr(_io, "_ANONYMOUS_FILES", [False])
    return request.param


def test_writes_names_and_refuses_to_overwrite(tmp_path, way):
    target = tmp_path / "sub" / "a.dcm"
    assert atomic_write(target, lambda h: [h.write(b"abc"), h.write(b"def")]) == target
    assert target.read_bytes() == b"abcdef"
    assert target.stat().st_mode & 0o777 == new_file_mode()
    with pytest.raises(FileExistsError):
        atomic_write(target, lambda h: h.write(b"other"), fsync=False)
    atomic_write(target, lambda h: h.write(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.dcm"]


def test_a_failing_writer_leaves_nothing(tmp_path, way):
    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "a.dcm", fail)
    (tmp_path / "b.dcm").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "b.dcm", fail, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.dcm"]
    assert (tmp_path / "b.dcm").read_bytes() == b"old"


@pytest.mark.skipif(not ANONYMOUS, reason="O_TMPFILE is Linux's")
def test_a_killed_writer_leaves_nothing_at_all(tmp_path):
    """kill -9 in the middle of a write: no file, not even a temporary one."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from dicom_widgets._io import atomic_write
        def slow(handle):
            handle.write(b"x" * 4096)
            handle.flush()
            print("writing", flush=True)
            time.sleep(60)
        atomic_write({str(tmp_path / "a.dcm")!r}, slow)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert list(tmp_path.iterdir()) == []


def test_a_system_refusing_the_link_falls_back_to_a_temporary_file(tmp_path, monkeypatch):
    if not ANONYMOUS:
        pytest.skip("O_TMPFILE is Linux's")
    monkeypatch.setattr(_io, "_ANONYMOUS_FILES", [True])

    def no_proc():
        raise FileNotFoundError("/proc/self/fd")

    monkeypatch.setattr(_io, "_proc_fds", no_proc)
    atomic_write_bytes(tmp_path / "a.dcm", b"abc")
    assert (tmp_path / "a.dcm").read_bytes() == b"abc"
    assert _io._ANONYMOUS_FILES == [False]  # not tried again in this process
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dcm"]


@pytest.mark.skipif(not ANONYMOUS, reason="O_TMPFILE is Linux's")
def test_a_forked_child_names_its_own_files(tmp_path):
    """The /proc/self/fd descriptor is per process: a child forked after the parent wrote
    must not name the parent's descriptor (the pool's workers are forked)."""
    atomic_write_bytes(tmp_path / "parent.dcm", b"parent")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 2
        try:
            atomic_write_bytes(tmp_path / "child.dcm", b"child")
            code = 0 if _io._ANONYMOUS_FILES[0] else 3  # 3: it had to fall back
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "child.dcm").read_bytes() == b"child"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child.dcm", "parent.dcm"]
    assert Path(tmp_path / "parent.dcm").read_bytes() == b"parent"


def _unsupported(*_args):
    import errno

    raise OSError(errno.EXDEV, "Invalid cross-device link")


@pytest.fixture(params=["copy_file_range", "sendfile", "unsupported then read", "read"])
def copy_way(request, monkeypatch):
    """Each way a FileRange reaches the output: the kernel's two copies, a kernel copy that
    refuses these files (another file system), no kernel copy at all (macOS, Windows)."""
    ways = {
        "copy_file_range": [_io._copy_file_range],
        "sendfile": [_io._sendfile],
        "unsupported then read": [_unsupported],
        "read": [],
    }[request.param]
    if any(w in (_io._copy_file_range, _io._sendfile) for w in ways) and not all(
        w in _io._KERNEL_COPIES for w in ways
    ):
        pytest.skip(f"{request.param} is not available here")
    monkeypatch.setattr(_io, "_KERNEL_COPIES", ways)
    monkeypatch.setattr(_io.FileRange, "PIECE", 4096)  # several pieces when read
    return request.param


def test_a_file_range_is_copied_exactly_after_what_was_written(tmp_path, copy_way):
    source = tmp_path / "source"
    data = os.urandom(100_003)
    source.write_bytes(data)
    span = _io.FileRange(open(source, "rb", buffering=0), 1_001, 90_000, str(source))
    try:
        out = atomic_write(
            tmp_path / "out",
            lambda handle: _io.write_chunks(handle, [b"head", memoryview(b"er"), span]),
            fsync=False,
        )
        assert out.read_bytes() == b"header" + data[1_001:91_001]
        with open(out, "rb") as handle:
            handle.read(6)
            assert span.same_as(handle)
        with open(source, "rb") as handle:
            assert not span.same_as(handle)  # other bytes at the start
    finally:
        span.close()
    assert source.read_bytes() == data  # the source is only read


def test_a_file_range_past_the_end_of_its_file_fails_and_leaves_nothing(tmp_path, copy_way):
    # The file was cut after it was read (another program): the copy comes up short.
    source = tmp_path / "source"
    source.write_bytes(os.urandom(50_000))
    span = _io.FileRange(open(source, "rb", buffering=0), 1_000, 60_000, "the source")
    try:
        with pytest.raises(OSError, match="the source: .*bytes missing"):
            atomic_write(
                tmp_path / "out", lambda handle: _io.write_chunks(handle, [span]), fsync=False
            )
    finally:
        span.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_a_file_range_reports_other_errors_as_they_are(tmp_path, monkeypatch):
    import errno

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_io, "_KERNEL_COPIES", [full])
    source = tmp_path / "source"
    source.write_bytes(b"x" * 1000)
    span = _io.FileRange(open(source, "rb", buffering=0), 0, 1000, str(source))
    try:
        with pytest.raises(OSError, match=r"No space left on device \(copying from .*source\)"):
            atomic_write(
                tmp_path / "out", lambda handle: _io.write_chunks(handle, [span]), fsync=False
            )
    finally:
        span.close()
    assert not (tmp_path / "out").exists()


SHM = Path("/dev/shm")


@pytest.mark.skipif(not SHM.is_dir(), reason="needs a tmpfs at /dev/shm")
def test_a_file_range_from_another_file_system_is_copied(tmp_path):
    """A source on tmpfs, the output on the test's file system: Linux refuses
    copy_file_range between them (EXDEV), the copy goes on with the next way."""
    import tempfile

    if SHM.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("/dev/shm is on the same file system here")
    with tempfile.TemporaryDirectory(dir=SHM) as shm:
        source = Path(shm) / "source"
        data = os.urandom(300_001)
        source.write_bytes(data)
        span = _io.FileRange(open(source, "rb", buffering=0), 17, 300_000 - 17, str(source))
        try:
            out = atomic_write(
                tmp_path / "out", lambda handle: _io.write_chunks(handle, [span]), fsync=False
            )
        finally:
            span.close()
        assert out.read_bytes() == data[17:300_000]


def test_missing_folders_are_made(tmp_path, way):
    target = tmp_path / "a" / "b" / "out.dcm"
    atomic_write(target, lambda handle: handle.write(b"data"), fsync=False)
    assert target.read_bytes() == b"data"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.dcm"]


def test_a_dangling_symlink_is_an_existing_name(tmp_path, way):
    target = tmp_path / "out.dcm"
    target.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        atomic_write(target, lambda handle: handle.write(b"data"), fsync=False)
    assert target.is_symlink() and not (tmp_path / "nowhere").exists()
