"""Scanning on executors: the same catalog serially, on processes and threads; crashed
workers, Ctrl-C and the catalog's memory per file."""

from __future__ import annotations

import concurrent.futures as cf
import doctest
import gc
import importlib
import multiprocessing as mp
import os
import shutil
import threading
import time
import tracemalloc
import warnings

import pytest

import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, mr_phantom, write_series

N_SERIES, PER_SERIES = 5, 48


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """5 CT series of 48 files, one MR series with a localizer-like split, a text file."""
    root = tmp_path_factory.mktemp("archive")
    for s in range(N_SERIES):
        write_series(ct_phantom(n_slices=PER_SERIES, size=16, seed=50 + s), root / f"ct{s}")
    mr = mr_phantom(n_slices=6, size=16)
    mr[0].ImageOrientationPatient = [1, 0, 0, 0, 1, 0]  # an axial localizer: a second stack
    write_series(mr, root / "mr")
    (root / "notes.txt").write_text("not DICOM")
    return root


def _same(a, b) -> None:
    assert a.keys() == b.keys()
    assert a.to_dataframe().equals(b.to_dataframe())
    assert a.to_dataframe("files").equals(b.to_dataframe("files"))
    assert a.errors == b.errors and a.non_dicom == b.non_dicom


def test_serial_processes_and_threads_give_the_same_catalog(tree):
    pytest.importorskip("pandas")
    serial = dw.scan(tree, progress=False)
    assert serial.n_files == N_SERIES * PER_SERIES + 6
    assert len(serial.to_dataframe("files")) == serial.n_files + 1  # + notes.txt
    on_processes = dw.scan(tree, progress=False, executor="processes")
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        on_threads = dw.scan(tree, progress=False, executor=pool)
        # A user's executor is left running for them.
        assert pool.submit(abs, -1).result() == 1
    _same(serial, on_processes)
    _same(serial, on_threads)
    # Opening a series reads its headers again: the same frames whatever read them first.
    assert any(k.endswith("#2") for k in serial.keys())
    key = next(e.key for e in serial.entries if e.modality == "CT")
    assert on_processes[key].files == serial[key].files and len(serial[key]) == PER_SERIES


def test_progress_reports_every_file_in_chunks(tree):
    seen: list[tuple[int, int]] = []
    catalog = dw.scan(tree, progress=lambda done, total: seen.append((done, total)))
    total = catalog.n_files + 1
    assert seen[-1] == (total, total) and len(seen) > 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_bad_executor_argument_is_refused(tree):
    with pytest.raises(ValueError, match="processes"):
        dw.scan(tree, progress=False, executor="gpu")
    with pytest.raises(TypeError, match="executor"):
        dw.scan(tree, progress=False, executor=42)


# -------------------------------------------------------------------- crashed workers


def _crash_on_poison(fn, chunk):
    """Run a header chunk, but die like a segfaulting decoder when it holds the poison file."""
    if any(os.path.basename(p).startswith("poison") for p in chunk.paths.tolist()):
        os._exit(7)
    return fn(chunk)


class CrashingPool(cf.ProcessPoolExecutor):
    """A real process pool whose worker dies on the poisoned chunk (the pool breaks)."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(_crash_on_poison, fn, *args, **kwargs)


def _run_and_send(conn, fn, args):
    conn.send(fn(*args))
    conn.close()


class ProcessPerTask(cf.Executor):
    """Each task in a fresh forked process: a crash loses that task only, as on Dask."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("fork")

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        receive, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_run_and_send, args=(send, _crash_on_poison, (fn, *args)))
        proc.start()
        send.close()

        def wait() -> None:
            try:
                future.set_result(receive.recv())
            except EOFError:
                proc.join()
                future.set_exception(ChildProcessError(f"worker died (exit code {proc.exitcode})"))
            proc.join()

        threading.Thread(target=wait, daemon=True).start()
        return future


@pytest.fixture()
def poisoned(tree, tmp_path):
    folder = tmp_path / "poisoned"
    shutil.copytree(tree, folder)
    one = next((folder / "ct0").iterdir())
    shutil.copy(one, folder / "ct0" / "poison.dcm")
    return folder


def test_a_broken_process_pool_is_retried_on_a_healthy_one(poisoned):
    pytest.importorskip("pandas")
    serial = dw.scan(poisoned, progress=False)
    with CrashingPool(max_workers=2, mp_context=mp.get_context("fork")) as pool:
        crashed = dw.scan(poisoned, progress=False, executor=pool)
    # Every chunk lost with the pool ran again (in a pool of the scan's own): nothing lost.
    _same(serial, crashed)


def test_a_chunk_that_kills_its_worker_twice_is_reported_not_raised(poisoned):
    catalog = dw.scan(poisoned, progress=False, executor=ProcessPerTask())
    failed = [(p, r) for p, r in catalog.errors if "failed twice" in r]
    assert any(os.path.basename(p) == "poison.dcm" for p, _ in failed)
    assert all("worker died" in r for _, r in failed)
    # Only the poisoned chunk is lost (it may straddle two series); the rest is complete.
    from dicom_widgets.series._parallel import chunk_size

    assert len(failed) <= chunk_size(N_SERIES * PER_SERIES + 8)
    complete = [e for e in catalog.entries if e.modality == "CT" and e.n_instances == PER_SERIES]
    assert len(complete) >= N_SERIES - 2
    assert catalog.n_files + len(failed) == N_SERIES * PER_SERIES + 6 + 1
    assert any(f.code == "unreadable" and "failed twice" in f.message for f in catalog.findings)


# --------------------------------------------------------------------------- Ctrl-C


def _interrupt(done: int, total: int) -> None:
    raise KeyboardInterrupt


def test_ctrl_c_stops_a_serial_scan(tree):
    with pytest.raises(KeyboardInterrupt):
        dw.scan(tree, progress=_interrupt)


def test_ctrl_c_cancels_pending_chunks_and_shuts_the_pool_down(tree):
    before = set(mp.active_children())
    with pytest.raises(KeyboardInterrupt):
        dw.scan(tree, progress=_interrupt, executor="processes")
    deadline = time.monotonic() + 30
    while set(mp.active_children()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(mp.active_children()) - before, "the scan's worker processes are still alive"


def test_ctrl_c_leaves_a_users_executor_usable(tree):
    calls = []

    def count_then_interrupt(done: int, total: int) -> None:
        calls.append(done)
        raise KeyboardInterrupt

    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        with pytest.raises(KeyboardInterrupt):
            dw.scan(tree, progress=count_then_interrupt, executor=pool)
        assert pool.submit(abs, -2).result() == 2
    assert len(calls) == 1


# ---------------------------------------------------------------------------- memory


def test_the_catalog_keeps_well_under_2_kb_per_file(tree):
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        catalog = dw.scan(tree, progress=False)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept / catalog.n_files < 2048, f"{kept / catalog.n_files:.0f} bytes per file"
    # The headers are read again when a series is opened, and give the same series.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        series = catalog[0]
    assert len(series) == catalog.entries[0].n_frames


@pytest.mark.parametrize(
    "name",
    [
        "dicom_widgets._executors",
        "dicom_widgets.series._index",
        "dicom_widgets.series._archive_report",
        "dicom_widgets.html.archive",
    ],
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
