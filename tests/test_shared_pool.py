"""The process pool the batches share: kept between batches, replaced when it broke or when
pydicom's settings changed, shut down when idle."""

from __future__ import annotations

import os
import signal
import time

from pydicom import config

from dicom_widgets import _executors
from dicom_widgets._executors import shared_process_pool
from dicom_widgets.data import ct_phantom, write_series
from dicom_widgets.deid import anonymize_files
from dicom_widgets.deid.batch import PROCESS_POOL_THRESHOLD

KEY = "00112233445566778899aabbccddeeff"


def _worker_pids(pool) -> set[int]:
    """The pool's worker processes (started by a first task, which runs in one of them)."""
    ran_in = pool.submit(os.getpid).result()
    workers = set(pool._processes)
    assert ran_in in workers
    return workers


def _pool_of_next_batch():
    with shared_process_pool() as pool:
        return pool, _worker_pids(pool)


def test_batches_share_one_pool_and_its_workers():
    first, pids = _pool_of_next_batch()
    second, again = _pool_of_next_batch()
    assert second is first and again == pids
    assert os.getpid() not in pids


def test_a_batch_of_many_files_runs_on_the_shared_pool(tmp_path):
    paths = write_series(ct_phantom(n_slices=PROCESS_POOL_THRESHOLD, size=8), tmp_path / "src")
    pool, _ = _pool_of_next_batch()
    report = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False)
    assert report.counts() == {"written": PROCESS_POOL_THRESHOLD}
    assert _pool_of_next_batch()[0] is pool  # still up, lent again


def test_a_pool_whose_worker_died_is_replaced(tmp_path):
    pool, pids = _pool_of_next_batch()
    os.kill(next(iter(pids)), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not _executors._is_broken(pool) and time.monotonic() < deadline:
        time.sleep(0.05)  # the pool notices the death from its management thread
    paths = write_series(ct_phantom(n_slices=PROCESS_POOL_THRESHOLD, size=8), tmp_path / "src")
    report = anonymize_files(paths, tmp_path / "out", key=KEY, progress=False)
    assert report.counts() == {"written": PROCESS_POOL_THRESHOLD}
    replacement, new_pids = _pool_of_next_batch()
    assert replacement is not pool and not new_pids & pids


def test_changed_pydicom_settings_get_fresh_workers(monkeypatch):
    pool, pids = _pool_of_next_batch()
    # Workers forked before the change would read files under the old setting.
    monkeypatch.setattr(config, "convert_wrong_length_to_UN", not config.convert_wrong_length_to_UN)
    replacement, new_pids = _pool_of_next_batch()
    assert replacement is not pool and not new_pids & pids
    monkeypatch.undo()
    assert _pool_of_next_batch()[0] is not replacement


def test_an_idle_pool_is_shut_down(monkeypatch):
    monkeypatch.setattr(_executors, "SHARED_POOL_IDLE_S", 0.2)
    pool, pids = _pool_of_next_batch()
    deadline = time.monotonic() + 10
    while _executors._SHARED_POOL.pool is pool and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _executors._SHARED_POOL.pool is None
    assert all(_gone(pid) for pid in pids)  # the workers exited (and were reaped by the pool)
    assert _pool_of_next_batch()[0] is not pool  # the next batch starts a new one


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_pool_replaced_while_a_batch_runs_on_it_is_shut_down_after_that_batch(monkeypatch):
    """Another thread's batch may still run on the pool that changed settings replace: it
    keeps its pool to the end, which is then shut down (not left running until exit)."""
    with shared_process_pool() as old:
        _worker_pids(old)
        monkeypatch.setattr(
            config, "convert_wrong_length_to_UN", not config.convert_wrong_length_to_UN
        )
        with shared_process_pool() as new:
            assert new is not old
            assert old.submit(abs, -2).result() == 2  # still usable by its batch
        assert not _executors._is_broken(old)
    assert _executors._is_broken(old)  # shut down once its last batch ended
    assert _executors._SHARED_POOL.pool is new
