"""The batch writer: header-only path byte-identical to the whole-file path, interruptions,
sources never written, the job object."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import io
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from dicom_widgets._compat import IS_PYDICOM3, read_dataset, write_dataset
from dicom_widgets.data import ct_phantom, write_series
from dicom_widgets.deid import DeidContext, Profile, anonymize_files, batch
from dicom_widgets.deid.batch import BatchJob, _load, process_file

KEY = "00112233445566778899aabbccddeeff"


def _job(out: Path, **kwargs) -> BatchJob:
    return BatchJob(str(out), Profile(), KEY, (-3652, -365), fsync=False, **kwargs)


def _output_bytes(job: BatchJob, index: int, path: Path) -> tuple[str, bytes | None]:
    outcome = process_file(job, index, str(path), DeidContext(KEY))
    if outcome.output is None:
        return outcome.status, None
    data = Path(outcome.output).read_bytes()
    os.unlink(outcome.output)
    return outcome.status, data


def _real_files(pydicom_files) -> list[Path]:
    from test_real_packages import PACKAGES, _files

    return list(pydicom_files) + [p for m in PACKAGES for p in _files(m) if p.suffix == ".dcm"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("header_prefix", [None, 4096])
def test_header_only_path_writes_what_the_whole_file_path_writes(
    tmp_path, pydicom_files, header_prefix, monkeypatch
):
    """Copying the pixel data bytes after a re-encoded header gives, byte for byte, the file
    that reading the whole file, anonymizing and encoding it gives (the code before the
    streaming path, still used when a pixel step needs the pixels: ``pixel_regions=[]``).

    With a prefix of 4 KiB, files larger than that have their pixel data element left
    in the file and copied by the kernel (headers that do not fit in it are read whole)."""
    if header_prefix is not None:
        monkeypatch.setattr(batch, "_HEADER_PREFIX", header_prefix)
    streamed, whole = _job(tmp_path / "a"), _job(tmp_path / "b", pixel_regions=[])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert not streamed.needs_pixels and whole.needs_pixels
    compared = spliced = in_file = 0
    for i, path in enumerate(_real_files(pydicom_files)):
        try:
            source = _load(str(path), i, streamed)
        except Exception:  # noqa: BLE001 - unreadable: both paths must say so
            assert _output_bytes(whole, i, path)[1] is None, path.name
            continue
        source.close()
        spliced += source.pixel_span is not None
        in_file += source.pixels_in_file is not None
        status_a, ours = _output_bytes(streamed, i, path)
        status_b, theirs = _output_bytes(whole, i, path)
        assert status_a == status_b, path.name
        assert ours == theirs, path.name
        compared += ours is not None
    assert compared > 150
    assert spliced > 100, "most real files should take the header-only path"
    if IS_PYDICOM3 and header_prefix is not None:  # (2.4: pydicom reads every header)
        assert in_file > 15


def test_pixel_bytes_are_copied_never_decoded(tmp_path):
    # A multi-frame file whose pixel bytes are not even a valid image for its header: the
    # batch never decodes them, so they arrive exactly as they were.
    ds = ct_phantom(n_slices=1, size=64)[0]
    ds.NumberOfFrames = 40
    rng = np.random.default_rng(0)
    ds.PixelData = rng.integers(0, 65535, 64 * 64 * 40, dtype=np.uint16).tobytes()
    [path] = write_series([ds], tmp_path / "src")
    source = _load(str(path), 0, _job(tmp_path / "out"))
    assert source.pixel_span is not None and "PixelData" not in source.ds
    report = anonymize_files([path], tmp_path / "out", key=KEY, progress=False)
    assert report.ok, report._repr_text()
    out = read_dataset(report.written[0])
    assert out.PixelData == ds.PixelData
    assert out.PatientIdentityRemoved == "YES" and "PatientName" in out


def test_burned_in_warning_still_seen_without_the_pixel_data(tmp_path):
    ds = ct_phantom(n_slices=1, size=16)[0]
    ds.BurnedInAnnotation = "YES"  # only the header says so: it must be heard
    [path] = write_series([ds], tmp_path / "src")
    report = anonymize_files([path], tmp_path / "out", key=KEY, progress=False)
    [outcome] = report.outcomes
    assert any(w.kind == "burned_in_annotation" for w in outcome.unresolved)
    assert read_dataset(outcome.output).PatientIdentityRemoved == "NO"


@pytest.mark.parametrize("size", [64, 256])  # read whole; the pixel data left in the file
def test_truncated_pixel_data_found_without_reading_it(tmp_path, size):
    [path] = write_series(ct_phantom(n_slices=1, size=size), tmp_path / "src")
    data = path.read_bytes()
    path.write_bytes(data[:-1000])
    [outcome] = anonymize_files([path], tmp_path / "out", progress=False).outcomes
    assert outcome.status == "error" and "truncated" in outcome.message
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("cut", [5000, 8, 1])  # in a fragment, the delimiter, its last byte
def test_truncated_fragments_found_in_the_file(tmp_path, monkeypatch, cut):
    """A real JPEG 2000 multi-frame file, its fragments walked in the file (a 4 KiB prefix
    holds its header): whole, it is written with the same bytes as when read whole; cut
    short anywhere in its fragments, it is reported truncated and nothing is written."""
    from pydicom.data import get_testdata_file

    source = Path(get_testdata_file("emri_small_jpeg_2k_lossless.dcm"))
    monkeypatch.setattr(batch, "_HEADER_PREFIX", 4096)
    loaded = _load(str(source), 0, _job(tmp_path))
    loaded.close()
    assert (loaded.pixels_in_file is not None) == IS_PYDICOM3
    streamed = _output_bytes(_job(tmp_path), 0, source)
    assert streamed[0] == "written"
    assert streamed == _output_bytes(_job(tmp_path, pixel_regions=[]), 0, source)
    (tmp_path / "src").mkdir()
    short = tmp_path / "src" / "short.dcm"
    short.write_bytes(source.read_bytes()[:-cut])
    [outcome] = anonymize_files([short], tmp_path / "out", progress=False).outcomes
    assert outcome.status == "error" and "truncated" in outcome.message, outcome.message
    assert not list((tmp_path / "out").iterdir())


def test_many_small_fragments_are_walked_in_the_file(tmp_path):
    """Encapsulated pixel data of 20,000 small fragments, beyond the first 64 KiB: the walk
    through the file (a page at a time) finds the same end as the walk in memory, and the
    output is the same, byte for byte; cut in the middle, the file is truncated."""
    from pydicom.encaps import encapsulate

    ds = ct_phantom(n_slices=1, size=16)[0]
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"  # never decoded here
    ds.NumberOfFrames = 20_000
    ds.PixelData = encapsulate([bytes([i % 251, 7]) for i in range(20_000)])
    ds["PixelData"].VR = "OB"
    [path] = write_series([ds], tmp_path / "src")
    assert path.stat().st_size > 200_000
    source = _load(str(path), 0, _job(tmp_path))
    source.close()
    assert (source.pixels_in_file is not None) == IS_PYDICOM3
    assert source.pixel_span[2] == path.stat().st_size
    streamed = _output_bytes(_job(tmp_path), 0, path)
    assert streamed[0] == "written"
    assert streamed == _output_bytes(_job(tmp_path, pixel_regions=[]), 0, path)
    path.write_bytes(path.read_bytes()[:150_001])
    [outcome] = anonymize_files([path], tmp_path / "out", progress=False).outcomes
    assert outcome.status == "error" and "truncated" in outcome.message, outcome.message


@pytest.mark.parametrize("prefix_max", [16 << 20, 64 << 10])
def test_a_header_longer_than_the_first_read_is_read_with_a_larger_one(
    tmp_path, monkeypatch, prefix_max
):
    """A 200 KB header (an enhanced multi-frame's per-frame groups can be longer) runs past
    the first 64 KiB: it is read again with 1 MiB, and the pixel data still stays in the
    file; with no larger prefix allowed, the file is read whole. The same bytes either way."""
    monkeypatch.setattr(batch, "_HEADER_PREFIX_MAX", prefix_max)
    ds = ct_phantom(n_slices=1, size=1024)[0]
    ds.add_new(0x00090010, "LO", "EXAMPLE CREATOR")
    ds.add_new(0x00091001, "OB", bytes(200_000))  # (private: removed by the profile)
    [path] = write_series([ds], tmp_path / "src")
    assert path.read_bytes().find(b"\xe0\x7f\x10\x00") > 200_000
    source = _load(str(path), 0, _job(tmp_path))
    source.close()
    assert (source.pixels_in_file is not None) == (IS_PYDICOM3 and prefix_max > 64 << 10)
    assert source.pixel_span is not None
    streamed = _output_bytes(_job(tmp_path), 0, path)
    assert streamed[0] == "written"
    assert streamed == _output_bytes(_job(tmp_path, pixel_regions=[]), 0, path)


def test_elements_after_the_pixel_data_are_de_identified_too(tmp_path):
    ds = ct_phantom(n_slices=1, size=16)[0]
    ds.add_new(0xFFFCFFFC, "OB", b"Jane Q PHANTOM padding\x00\x00")  # after (7FE0,0010)
    [path] = write_series([ds], tmp_path / "src")
    assert _load(str(path), 0, _job(tmp_path)).pixel_span is None  # read whole instead
    report = anonymize_files([path], tmp_path / "out", key=KEY, progress=False)
    assert report.ok and b"PHANTOM" not in Path(report.written[0]).read_bytes()


def test_the_job_is_frozen_and_picklable(tmp_path):
    job = _job(tmp_path, pixel_regions={(16, 16): [(0, 0, 4, 4)]})
    assert pickle.loads(pickle.dumps(job)) == job
    with pytest.raises(AttributeError):
        job.overwrite = True  # type: ignore[misc]
    # A fresh context per chunk, with the job's key: the same mappings, none carried over.
    first, second = job.context(), job.context()
    assert first is not second and first.key_hex == second.key_hex == job.key_hex
    assert first.remap_uid("1.2.3") == second.remap_uid("1.2.3")
    assert first.date_offset("patient") == second.date_offset("patient")


def _digests(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in folder.iterdir()
    }


def test_sources_are_never_written(tmp_path):
    paths = write_series(ct_phantom(n_slices=3, size=16), tmp_path / "src")
    before = _digests(tmp_path / "src")
    for regions in (None, [(0, 0, 4, 4)]):
        anonymize_files(
            tmp_path / "src",
            tmp_path / f"out{regions is None}",
            pixel_regions=regions,
            progress=False,
        )
    assert _digests(tmp_path / "src") == before
    assert len(paths) == 3


def _assert_complete_outputs(out: Path, reference: Path) -> int:
    """Every file in ``out`` is a complete output (equal to the uninterrupted run's)."""
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")], names
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    return len(names)


class _Stop:
    def __init__(self, after: int) -> None:
        self.after = after

    def __call__(self, done: int, total: int) -> None:
        if done >= self.after:
            raise KeyboardInterrupt


@pytest.mark.parametrize("size", [32, 256])  # read whole; the pixel data copied by the kernel
@pytest.mark.parametrize("pool", [False, True])
def test_interrupted_batch_leaves_no_partial_output(tmp_path, pool, size):
    import concurrent.futures as cf

    paths = write_series(ct_phantom(n_slices=40, size=size), tmp_path / "src")
    reference = anonymize_files(paths, tmp_path / "ref", key=KEY, progress=False)
    assert reference.ok
    executor = cf.ProcessPoolExecutor(2) if pool else None
    try:
        with pytest.raises(KeyboardInterrupt):
            anonymize_files(paths, tmp_path / "out", key=KEY, progress=_Stop(5), executor=executor)
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
    written = _assert_complete_outputs(tmp_path / "out", tmp_path / "ref")
    assert written < len(paths)


@pytest.mark.slow
@pytest.mark.parametrize("size", [64, 256])  # read whole; the pixel data copied by the kernel
def test_ctrl_c_in_a_subprocess_leaves_no_partial_output(tmp_path, size):
    write_series(ct_phantom(n_slices=150, size=size), tmp_path / "src")
    anonymize_files(tmp_path / "src", tmp_path / "ref", key=KEY, progress=False)
    script = textwrap.dedent(
        f"""
        import sys
        from dicom_widgets.deid import anonymize_files

        def progress(done, total):
            print(done, flush=True)

        anonymize_files({str(tmp_path / "src")!r}, {str(tmp_path / "out")!r}, key={KEY!r},
                        progress=progress)
        print("finished", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # Its own process group, as a terminal's Ctrl-C reaches the whole foreground group.
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the first chunk is written: interrupt the rest
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert first.strip().isdigit(), (first, stderr)
    assert "finished" not in stdout
    assert proc.returncode != 0 and "KeyboardInterrupt" in stderr
    time.sleep(0.2)  # nothing may appear after the process is gone
    written = _assert_complete_outputs(tmp_path / "out", tmp_path / "ref")
    assert 0 < written < 150


def test_unsupported_photometric_interpretation_is_reported(tmp_path):
    ds = ct_phantom(n_slices=1, size=16)[0]
    ds.PhotometricInterpretation = "HSV"  # retired: no blanking colour is defined for it
    [path] = write_series([ds], tmp_path / "src")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [outcome] = anonymize_files(
            [path], tmp_path / "out", pixel_regions=[(0, 0, 4, 4)], progress=False
        ).outcomes
    assert outcome.status == "error" and "HSV" in outcome.message, outcome
    # Without a pixel step the file is copied as it is (its pixels are not interpreted).
    [copied] = anonymize_files([path], tmp_path / "out2", progress=False).outcomes
    assert copied.status == "written"


def _encoded(ds: Dataset) -> bytes:
    """The dataset's bytes as written: a snapshot that shares no element with ``ds``."""
    buffer = io.BytesIO()
    write_dataset(ds, buffer)
    return buffer.getvalue()


def test_a_dataset_source_is_never_modified(tmp_path):
    """Header and pixels of a dataset given in memory are as they were, blanking included.

    The snapshot is the encoded bytes (a ``Dataset(ds)`` copy would share the element
    objects, and so any change made to them).
    """
    ds = ct_phantom(n_slices=1, size=16)[0]
    before = _encoded(ds)
    report = anonymize_files([ds], tmp_path / "out", progress=False)
    assert report.ok and _encoded(ds) == before
    blanked = anonymize_files(
        [ds], tmp_path / "blanked", pixel_regions=[(0, 0, 8, 8)], progress=False
    )
    assert blanked.ok and _encoded(ds) == before
    out = read_dataset(blanked.written[0])
    assert (out.pixel_array[:8, :8] != ds.pixel_array[:8, :8]).any()  # blanked, in the copy only


def test_a_reused_executor_reports_every_uid_of_the_second_batch_too(tmp_path):
    """A batch's UID map is complete whatever ran before on the executor (threads here)."""
    import concurrent.futures as cf

    paths = write_series(ct_phantom(n_slices=6, size=16), tmp_path / "src")
    with cf.ThreadPoolExecutor(2) as executor:
        first = anonymize_files(paths, tmp_path / "a", key=KEY, executor=executor, progress=False)
        second = anonymize_files(paths, tmp_path / "b", key=KEY, executor=executor, progress=False)
    assert first.ok and second.ok
    assert len(first.uid_map) >= 6 + 2  # each SOP Instance UID, the study and the series
    assert second.uid_map == first.uid_map


def test_copies_of_one_instance_go_to_the_first_source_whatever_the_io_threads_timing(
    tmp_path, monkeypatch
):
    """Two sources with one SOP Instance UID share an output name: the first source gets it.

    The first source's write is held back on its I/O thread; without the per-name order
    the second source's write would take the name first.
    """
    import shutil
    import time as time_module

    from dicom_widgets.deid import batch

    (path,) = write_series(ct_phantom(n_slices=1, size=16), tmp_path / "src")
    copy = tmp_path / "src" / "copy.dcm"
    shutil.copyfile(path, copy)
    write_output = batch._write_output

    def slow_for_the_first(outcome, *args):
        if outcome.index == 0:
            time_module.sleep(0.3)
        return write_output(outcome, *args)

    monkeypatch.setattr(batch, "_write_output", slow_for_the_first)
    report = anonymize_files([path, copy], tmp_path / "out", key=KEY, fsync=True, progress=False)
    first, second = report.outcomes
    assert (first.status, second.status) == ("written", "exists"), report.outcomes
    assert "identical content" in second.message


def test_a_source_listed_twice_is_refused_whatever_the_spelling(tmp_path, monkeypatch):
    """The same file through a symlink, a relative path, ``..`` or its folder is one source:
    each spelling resolves to the file itself, so the batch refuses it before writing."""
    from dicom_widgets.errors import UnsafeOutputError

    src = tmp_path / "src"
    [first, second] = write_series(ct_phantom(n_slices=2, size=8), src)
    (tmp_path / "link.dcm").symlink_to(first)
    (tmp_path / "linked_folder").symlink_to(src, target_is_directory=True)
    monkeypatch.chdir(src)
    spellings = [
        tmp_path / "link.dcm",
        Path(first.name),
        src / ".." / "src" / first.name,
        tmp_path / "linked_folder" / first.name,
        src,
        tmp_path / "linked_folder",
    ]
    for spelling in spellings:
        with pytest.raises(UnsafeOutputError, match="listed twice"):
            anonymize_files([first, spelling], tmp_path / "out", key=KEY, progress=False)
    assert not (tmp_path / "out").exists()
    # Two files of one folder, one of them through a symlink: both go, each once.
    report = anonymize_files(
        [tmp_path / "link.dcm", second], tmp_path / "out", key=KEY, progress=False
    )
    assert report.counts() == {"written": 2}
    assert sorted(o.source for o in report.outcomes) == sorted([str(first), str(second)])


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_file_meta_conversions_shared_across_files_change_no_output(tmp_path, pydicom_files):
    """The engine converts a file meta element once per value and hands later files a copy
    (a series repeats its file meta): every pydicom file gives the same bytes with the
    conversions cold (cleared before each file) as with them all warm."""
    from dicom_widgets.deid import engine

    job = _job(tmp_path)
    files = [Path(p) for p in pydicom_files if Path(p).is_file()]
    cold = {}
    for i, path in enumerate(files):
        engine._META_CONVERTED.clear()
        cold[path] = _output_bytes(job, i, path)
    assert len(engine._META_CONVERTED) > 0
    warm = {path: _output_bytes(job, i, path) for i, path in enumerate(files)}
    assert len(engine._META_CONVERTED) > 20  # the warm run did share them
    assert warm == cold
    assert sum(1 for status, data in cold.values() if data is not None) > 100


class _LastChunkFirst(cf.Executor):
    """Runs the submitted chunks, once all are in, from the last to the first (as workers
    finishing in any order may): a later copy of a file takes its output name first."""

    def __init__(self) -> None:
        self.tasks: list[tuple[cf.Future, Any, tuple]] = []

    def submit(self, fn, *args, **kwargs):
        future: cf.Future = cf.Future()
        self.tasks.append((future, fn, args))
        return future

    def run_backwards(self) -> None:
        for future, fn, args in reversed(self.tasks):
            future.set_result(fn(*args))


def test_of_identical_copies_the_first_is_reported_written_whatever_the_order(tmp_path):
    """Two copies of one file, first and last of a batch, run last chunk first: the output
    is the same file, and, as serially, the first copy is "written", the last "exists"."""
    import threading

    paths = write_series(ct_phantom(n_slices=40, size=8), tmp_path / "src")
    copy = tmp_path / "src" / "zz_copy.dcm"
    copy.write_bytes(paths[0].read_bytes())
    sources = [paths[0], *paths[1:], copy]
    serial = anonymize_files(sources, tmp_path / "serial", key=KEY, progress=False)
    executor = _LastChunkFirst()
    runner = threading.Timer(0.3, executor.run_backwards)  # once _run_pool waits on them
    runner.start()
    pooled = anonymize_files(
        sources, tmp_path / "pooled", key=KEY, progress=False, executor=executor
    )
    runner.join()
    assert len(executor.tasks) > 2
    first, last = pooled.outcomes[0], pooled.outcomes[-1]
    assert (first.status, last.status) == ("written", "exists")
    assert first.output and Path(first.output).name == Path(serial.outcomes[0].output).name
    assert last.output is None and "identical content" in last.message
    assert [(o.status, o.message) for o in pooled.outcomes] == [
        (o.status, o.message) for o in serial.outcomes
    ]
    assert sorted(p.name for p in (tmp_path / "pooled").iterdir()) == sorted(
        p.name for p in (tmp_path / "serial").iterdir()
    )


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_a_source_left_open_for_its_pixels_is_closed_whatever_the_outcome(tmp_path):
    """Large images keep their file open until the pixel data element is copied: after
    written, "exists" (the same bytes compared from the file), an alternate name, a
    truncated source and a missing one, no descriptor stays open."""
    paths = write_series(ct_phantom(n_slices=6, size=256), tmp_path / "src")
    source = _load(str(paths[0]), 0, _job(tmp_path))
    source.close()
    # (pydicom 2.4: headers are read by pydicom, from the whole file)
    assert (source.pixels_in_file is not None) == IS_PYDICOM3
    before = _open_files()
    first = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False, fsync=False)
    again = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False, fsync=False)
    assert first.counts() == {"written": 6} and again.counts() == {"exists": 6}
    assert all("identical content" in o.message for o in again.outcomes)
    # The same SOP Instance UID, other pixels: the name holds other bytes (compared from the
    # source file), so the copy gets the alternate name.
    odd = tmp_path / "odd"
    odd.mkdir()
    other = read_dataset(paths[0])
    other.PixelData = bytes(len(other.PixelData))
    write_dataset(other, odd / "other.dcm")
    cut = odd / "cut.dcm"
    cut.write_bytes(paths[1].read_bytes()[:-5000])
    mixed = anonymize_files(
        [odd / "other.dcm", cut, odd / "missing.dcm"],
        tmp_path / "out",
        key=KEY,
        progress=False,
        fsync=False,
    )
    statuses = [o.status for o in mixed.outcomes]
    assert statuses == ["written", "error", "error"], mixed._repr_text()
    assert "-" in Path(mixed.outcomes[0].output).stem  # the alternate name
    assert _open_files() == before


@pytest.mark.skipif(not IS_PYDICOM3, reason="pydicom 2.4 reads each file whole")
def test_a_source_cut_while_its_pixels_are_copied_is_an_error_with_no_output(tmp_path, monkeypatch):
    """Another program truncates a source after its header was read: the copy of the pixel
    data comes up short, the file's outcome says so, nothing is written for it, the rest of
    the batch goes on."""
    paths = write_series(ct_phantom(n_slices=3, size=256), tmp_path / "src")
    victim = str(paths[1])
    copy_to = batch.FileRange.copy_to

    def truncated_first(span, out_fd):
        if span.name == victim:
            os.truncate(victim, span.offset + 100)
        return copy_to(span, out_fd)

    monkeypatch.setattr(batch.FileRange, "copy_to", truncated_first)
    report = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False, fsync=False)
    by_source = {o.source: o for o in report.outcomes}
    assert by_source[victim].status == "error"
    assert "bytes missing" in by_source[victim].message and victim in by_source[victim].message
    assert [o.status for o in report.outcomes].count("written") == 2
    assert len(list((tmp_path / "out").iterdir())) == 2  # no partial file, no temporary


def _same_uid_other_pixels(path: Path, dest: Path, fill: int) -> Path:
    """A copy of ``path`` sharing its SOP Instance UID, with other pixel bytes."""
    ds = read_dataset(path)
    ds.PixelData = bytes([fill]) * len(ds.PixelData)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_dataset(ds, dest)
    return dest


def _pixels(path: str | Path) -> bytes:
    return read_dataset(path).PixelData


def _batch_in_order(sources: list[Path], out: Path, last_chunk_first: bool, **kwargs) -> Any:
    """A batch run serially, or as a pool whose chunks finish last first."""
    import threading

    if not last_chunk_first:
        return anonymize_files(sources, out, key=KEY, progress=False, **kwargs)
    executor = _LastChunkFirst()
    runner = threading.Timer(0.3, executor.run_backwards)  # once _run_pool waits on them
    runner.start()
    try:
        return anonymize_files(sources, out, key=KEY, progress=False, executor=executor, **kwargs)
    finally:
        runner.join()


def _named(report: Any) -> list[tuple[str, str, str | None]]:
    return [(o.status, o.message, o.output and Path(o.output).name) for o in report.outcomes]


def _files(report: Any) -> dict[str, bytes]:
    return {Path(p).name: Path(p).read_bytes() for p in report.written}


@pytest.mark.parametrize("last_chunk_first", [False, True])
@pytest.mark.parametrize("earlier", ["same run", "other profile", "some sources", "other key"])
def test_overwrite_gives_the_files_a_run_into_an_empty_folder_gives(
    tmp_path, earlier, last_chunk_first
):
    """overwrite=True over what an earlier run left: the outcomes, names and files are those
    of a serial run into an empty folder, whichever worker writes first; sources sharing a
    SOP Instance UID (another pixels' re-encoding, a copy of each) each keep their file;
    files at names none of its sources owns (their plain and alternate names) are left as
    they were."""
    [original] = write_series(ct_phantom(n_slices=1, size=16), tmp_path / "src")
    other = _same_uid_other_pixels(original, tmp_path / "other" / "other.dcm", 5)
    copies = []
    for i, source in enumerate((original, other)):
        copy = tmp_path / f"copy{i}" / "copy.dcm"
        copy.parent.mkdir()
        copy.write_bytes(source.read_bytes())
        copies.append(copy)
    fillers = write_series(ct_phantom(n_slices=12, size=8), tmp_path / "fillers")
    sources = [original, *fillers[:6], other, copies[1], *fillers[6:], copies[0]]
    empty = _batch_in_order(sources, tmp_path / "empty", False, overwrite=True)
    assert empty.counts() == {"written": 15, "exists": 1}, empty._repr_text()

    out = tmp_path / "out"
    before = {
        "same run": lambda: _batch_in_order(sources, out, False),
        "other profile": lambda: _batch_in_order(
            sources, out, False, profile=Profile(retain_device_identity=True)
        ),
        "some sources": lambda: _batch_in_order([other, copies[0], *fillers[:3]], out, False),
        "other key": lambda: anonymize_files(sources, out, key="ff" * 16, progress=False),
    }[earlier]()
    out.joinpath("notes.txt").write_text("not the batch's")
    assert before.written
    was = {p.name: p.read_bytes() for p in out.iterdir()}

    report = _batch_in_order(sources, out, last_chunk_first, overwrite=True)
    assert _named(report) == _named(empty)
    assert _files(report) == _files(empty)
    owned = {Path(n).name for o in report.outcomes for n in (o._name, o._alternate)}
    left = {name: data for name, data in was.items() if name not in owned}
    assert "notes.txt" in left and (earlier != "other key" or len(left) > 10)
    assert {name: (out / name).read_bytes() for name in left} == left


@pytest.mark.skipif(
    not IS_PYDICOM3 or not sys.platform.startswith("linux"),
    reason="pydicom 2.4 reads each file whole; the fake copy uses Linux's sendfile and /proc",
)
def test_a_read_error_while_the_pixels_are_copied_names_the_source(tmp_path, monkeypatch):
    """An I/O error in the kernel's copy (a failing disk under the source) is that file's
    outcome, naming it; nothing is written for it and the batch goes on."""
    import errno

    from dicom_widgets import _io

    paths = write_series(ct_phantom(n_slices=2, size=256), tmp_path / "src")
    bad = str(paths[0])

    def failing(source, out_fd, offset, count):
        if os.readlink(f"/proc/self/fd/{source}") == bad:
            raise OSError(errno.EIO, "Input/output error")
        return os.sendfile(out_fd, source, offset, count)

    monkeypatch.setattr(_io, "_KERNEL_COPIES", [failing])
    report = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False, fsync=False)
    by_source = {o.source: o for o in report.outcomes}
    assert by_source[bad].status == "error"
    assert f"Input/output error (copying from {bad})" in by_source[bad].message
    assert by_source[str(paths[1])].status == "written"
    assert len(list((tmp_path / "out").iterdir())) == 1


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("alternate_taken", [None, "last", "last but one"])
def test_sources_sharing_an_instance_uid_get_the_serial_names_whatever_the_order(
    tmp_path, alternate_taken, overwrite
):
    """Re-encodings of an instance and a copy of each, spread over a batch run last chunk
    first (the last source takes the plain name): every outcome, message, name and file
    is the serial run's. The first source in input order holds the plain name, a copy of
    it "exists", copies of the others get their own files. With ``alternate_taken``, an
    earlier run's file holds the alternate name of the last source (it found the copy
    before it holding its bytes) or of the last but one (the copy, which took the plain name
    in the pool): that source "exists" too, or with ``overwrite`` replaces it."""
    import threading

    [original] = write_series(ct_phantom(n_slices=1, size=16), tmp_path / "src")
    other = _same_uid_other_pixels(original, tmp_path / "other" / "other.dcm", 5)
    third = _same_uid_other_pixels(original, tmp_path / "third" / "third.dcm", 6)
    copies = []
    for i, source in enumerate((original, other, third)):
        copy = tmp_path / f"copy{i}" / "copy.dcm"
        copy.parent.mkdir()
        copy.write_bytes(source.read_bytes())
        copies.append(copy)
    fillers = write_series(ct_phantom(n_slices=30, size=8), tmp_path / "fillers")
    sources = [original, *fillers[:10], other, *fillers[10:20], copies[1], copies[0]]
    sources += [*fillers[20:], copies[2], third]

    def named(report: Any, out: Path) -> tuple[list, dict]:
        outcomes = [
            (o.status, o.message, o.output and Path(o.output).name) for o in report.outcomes
        ]
        files = {p.name: p.read_bytes() for p in out.iterdir()}
        return outcomes, files

    results = []
    for label in ("serial", "pooled"):
        out = tmp_path / label
        if alternate_taken:
            taker = third if alternate_taken == "last" else copies[2]
            earlier = anonymize_files([original, taker], out, key=KEY, progress=False)
            for o in earlier.outcomes:
                if "-" not in Path(o.output).stem:
                    os.unlink(o.output)
        executor = _LastChunkFirst() if label == "pooled" else None
        runner = threading.Timer(0.3, executor.run_backwards) if executor else None
        if runner is not None:
            runner.start()
        report = anonymize_files(
            sources, out, key=KEY, progress=False, executor=executor, overwrite=overwrite
        )
        if runner is not None:
            runner.join()
            assert len(executor.tasks) > 4
        results.append(named(report, out))
    (serial, serial_files), (pooled, pooled_files) = results
    assert pooled == serial
    assert pooled_files == serial_files
    statuses = [s for s, _, _ in serial]
    taken_exists = bool(alternate_taken) and not overwrite
    assert statuses[0] == "written" and statuses.count("exists") == 1 + taken_exists


def test_a_name_that_cannot_be_settled_is_left_as_written_and_said(tmp_path, monkeypatch):
    """The names are settled after every file is written; a failure there (a file removed
    or a folder made read-only meanwhile) leaves the files as the workers wrote them, says
    so in the outcomes, and the batch still returns its report."""
    [original] = write_series(ct_phantom(n_slices=1, size=16), tmp_path / "src")
    other = _same_uid_other_pixels(original, tmp_path / "other" / "other.dcm", 5)

    def fails(name, group, job):
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(batch, "_settle_name", fails)
    report = anonymize_files([original, other], tmp_path / "out", key=KEY, progress=False)
    assert report.counts() == {"written": 2}
    assert all("name left as written: PermissionError" in o.message for o in report.outcomes)
    assert sorted(Path(p).name for p in report.written) == sorted(
        p.name for p in (tmp_path / "out").iterdir()
    )
