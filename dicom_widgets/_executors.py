"""Running chunks of work serially, on a process pool, on any executor or on a Dask cluster.

One place for what every batch of the package needs: turning the user's ``executor``
argument into a :class:`concurrent.futures.Executor`, a progress bar (tqdm.auto, or a
``progress(done, total)`` callable), Ctrl-C that cancels the queued chunks and shuts our
own pool down, and chunks whose worker died (``os._exit``, a segfault, a killed Dask worker)
retried once on a healthy pool, then reported instead of failing the batch.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:  # pragma: no cover - typing only; dask is an optional extra
    from distributed import Client

__all__ = [
    "ChunkFailure",
    "CallbackBar",
    "default_workers",
    "is_dask_client",
    "process_pool",
    "progress_bar",
    "shared_process_pool",
    "run_chunks",
]

_MAX_DEFAULT_WORKERS = 8

T = TypeVar("T")


class ProgressBar(Protocol):
    """The part of the tqdm API the batches use."""

    def update(self, n: int) -> Any: ...

    def close(self) -> Any: ...


@dataclass(frozen=True)
class ChunkFailure:
    """A chunk that failed twice (its worker died or it raised): the reason, for the report."""

    reason: str


class CallbackBar:
    """Adapts a ``progress(done, total)`` callable to the bits of the tqdm API used here.

    Examples
    --------
    >>> seen = []
    >>> bar = CallbackBar(lambda done, total: seen.append((done, total)), 4)
    >>> bar.update(3); bar.update(1); seen
    [(3, 4), (4, 4)]
    """

    def __init__(self, callback: Callable[[int, int], Any], total: int) -> None:
        self.callback, self.total, self.done = callback, total, 0

    def update(self, n: int) -> None:
        self.done += n
        self.callback(self.done, self.total)

    def close(self) -> None:
        pass


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(
    progress: bool | Callable[[int, int], Any],
    total: int,
    *,
    desc: str,
    unit: str = "file",
    min_total: int = 0,
) -> ProgressBar:
    """A tqdm.auto bar (a widget in notebooks), a :class:`CallbackBar`, or a silent bar.

    Parameters
    ----------
    progress : bool or callable
        ``True`` for a bar, ``False`` for none, or ``progress(done, total)``.
    total : int
    desc, unit : str
        tqdm's label and unit.
    min_total : int
        Below this many items a bar is just noise (a callable is always called).

    Examples
    --------
    >>> bar = progress_bar(False, 10, desc="reading")
    >>> bar.update(10); bar.close()
    """
    if callable(progress):
        return CallbackBar(progress, total)
    if not progress or total < min_total:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but a missing bar must never stop a batch
        return _NoBar()
    # delay: only show a bar when the batch actually takes a while.
    return tqdm(total=total, desc=desc, unit=unit, delay=0.5, leave=False)


def default_workers() -> int:
    """Processes for ``executor="processes"``: one per core, at most 8."""
    return max(1, min(os.cpu_count() or 1, _MAX_DEFAULT_WORKERS))


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent cancels and shuts the pool down,
    # the workers just finish their chunk instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(max_workers: int | None = None) -> cf.ProcessPoolExecutor:
    """A process pool whose workers leave Ctrl-C to the parent.

    Examples
    --------
    >>> with process_pool(1) as pool:
    ...     pool.submit(abs, -3).result()
    3
    """
    return cf.ProcessPoolExecutor(
        max_workers=max_workers or default_workers(), initializer=_ignore_sigint
    )


#: Seconds the shared pool's workers stay up after the last batch that used them.
SHARED_POOL_IDLE_S = 60.0


class _SharedPool:
    """One process pool for the batches of this process, kept between them.

    Starting workers costs tens of milliseconds (fork, then each worker's first touch of the
    parent's memory): a tenth of a 300-file batch. The pool is started by the first batch,
    lent to each later one, and shut down :data:`SHARED_POOL_IDLE_S` seconds after the last
    (or at exit). It is replaced when it broke (a worker died) and when pydicom's settings
    changed since its workers were forked (they read files under the settings they inherited).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool: cf.ProcessPoolExecutor | None = None
        self.settings: tuple[Any, ...] = ()
        #: Batches running on each pool (a replaced pool is shut down when its last ends).
        self.users: dict[cf.ProcessPoolExecutor, int] = {}
        self.timer: threading.Timer | None = None

    @contextmanager
    def lend(self) -> Iterator[cf.ProcessPoolExecutor]:
        """The pool, for one batch (started or replaced as needed)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            settings = _pydicom_settings()
            if self.pool is None or _is_broken(self.pool) or settings != self.settings:
                if self.pool is not None and not self.users.get(self.pool):
                    self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool, self.settings = process_pool(), settings
            pool = self.pool
            self.users[pool] = self.users.get(pool, 0) + 1
        try:
            yield pool
        finally:
            with self.lock:
                self.users[pool] -= 1
                if not self.users[pool]:
                    del self.users[pool]
                if self.pool is pool and _is_broken(pool):
                    self.pool = None
                if self.pool is not pool and pool not in self.users:
                    pool.shutdown(wait=False, cancel_futures=True)  # replaced, now unused
                elif self.pool is pool and pool not in self.users:
                    self.timer = threading.Timer(SHARED_POOL_IDLE_S, self.close_if_idle)
                    self.timer.daemon = True
                    self.timer.start()

    def close_if_idle(self) -> None:
        """Shut the pool down unless a batch is using it."""
        with self.lock:
            if self.pool is None or self.pool in self.users:
                return
            pool, self.pool = self.pool, None
        pool.shutdown(wait=True)


def _is_broken(pool: cf.ProcessPoolExecutor) -> bool:
    return bool(getattr(pool, "_broken", False)) or bool(getattr(pool, "_shutdown_thread", False))


def _pydicom_settings() -> tuple[Any, ...]:
    """The pydicom options a worker inherits at fork and reads files under."""
    from pydicom import config

    settings = getattr(config, "settings", None)
    return (
        getattr(settings, "reading_validation_mode", None),
        getattr(settings, "writing_validation_mode", None),
        getattr(config, "convert_wrong_length_to_UN", None),
        getattr(config, "replace_un_with_known_vr", None),
        getattr(config, "use_none_as_empty_text_VR_value", None),
        getattr(config, "enforce_valid_values", None),
    )


_SHARED_POOL = _SharedPool()


def shared_process_pool() -> contextlib.AbstractContextManager[cf.ProcessPoolExecutor]:
    """Lend the process's shared pool to one batch (see :class:`_SharedPool`).

    Examples
    --------
    >>> with shared_process_pool() as pool:
    ...     pool.submit(abs, -3).result()
    3
    """
    return _SHARED_POOL.lend()


def is_dask_client(obj: object) -> bool:
    """Whether ``obj`` is a ``dask.distributed.Client`` (checked without importing dask)."""
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "get_executor")


def resolve_executor(
    executor: str | cf.Executor | Client | None,
) -> tuple[cf.Executor | None, bool]:
    """The executor to submit to, and whether it is ours to shut down.

    ``None`` stays serial; ``"processes"`` is a new :func:`process_pool`; a Dask Client
    gives its ``concurrent.futures`` view (closing that view never closes the client).
    """
    if executor is None:
        return None, False
    if isinstance(executor, str):
        if executor == "processes":
            return process_pool(), True
        raise ValueError(
            f"executor must be None, 'processes', a concurrent.futures.Executor or a "
            f"dask.distributed.Client, not {executor!r}"
        )
    if isinstance(executor, cf.Executor):
        return executor, False
    if is_dask_client(executor):
        # pure=False: a retried chunk must run again, not return the failed task's result.
        return executor.get_executor(pure=False), True
    raise TypeError(
        "executor must be None, 'processes', a concurrent.futures.Executor or a "
        f"dask.distributed.Client, not {type(executor).__name__}"
    )


def _shutdown(pool: cf.Executor, *, cancel: bool) -> None:
    try:
        pool.shutdown(wait=not cancel, cancel_futures=cancel)
    except TypeError:  # dask's ClientExecutor: shutdown(wait) cancels what is pending
        pool.shutdown(wait=not cancel)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _run_serial(
    fn: Callable[..., T], chunks: Sequence[tuple[Any, ...]], sizes: Sequence[int], bar: ProgressBar
) -> list[T | ChunkFailure]:
    results: list[T | ChunkFailure] = []
    for args, size in zip(chunks, sizes):
        try:
            results.append(fn(*args))
        except Exception:  # noqa: BLE001 - retried once, then reported
            try:
                results.append(fn(*args))
            except Exception as exc:  # noqa: BLE001
                results.append(ChunkFailure(_describe(exc)))
        bar.update(size)
    return results


class _PoolRun:
    """The chunks of one :func:`run_chunks` call on a pool, and the pools it may own.

    A chunk that failed is retried alone, after the first pass: on the same pool, or, when
    that pool broke with the chunk, on a one-process pool of our own, renewed whenever a
    retried chunk breaks it too.
    """

    def __init__(self, fn: Callable[..., Any], chunks: Sequence[tuple[Any, ...]], executor: Any):
        self.fn, self.chunks = fn, chunks
        self.pool, self.owned = resolve_executor(executor)
        self.retry_pool: cf.Executor | None = None
        self.futures: dict[cf.Future[Any], int] = {}

    def first_pass(self, results: list[Any], sizes: Sequence[int], bar: ProgressBar) -> list[int]:
        """Submit every chunk; fill ``results`` as they finish; return the failed chunks."""
        assert self.pool is not None
        self.futures = {self.pool.submit(self.fn, *args): i for i, args in enumerate(self.chunks)}
        failed: list[int] = []
        for future in cf.as_completed(self.futures):
            i = self.futures[future]
            try:
                results[i] = future.result()
            except Exception:  # noqa: BLE001 - BrokenProcessPool, KilledWorker, a raising chunk
                failed.append(i)
                continue
            bar.update(sizes[i])
        return sorted(failed)

    def retry(self, i: int) -> Any:
        """Run chunk ``i`` once more: its result, or a :class:`ChunkFailure`."""
        assert self.pool is not None
        try:
            future = (self.retry_pool or self.pool).submit(self.fn, *self.chunks[i])
        except (cf.process.BrokenProcessPool, RuntimeError):
            # The pool died with the chunk: retries run on a healthy pool of our own.
            self._drop_retry_pool(cancel=True)
            self.retry_pool = process_pool(1)
            future = self.retry_pool.submit(self.fn, *self.chunks[i])
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - second failure: reported, not raised
            if isinstance(exc, cf.process.BrokenProcessPool):
                self._drop_retry_pool(cancel=True)
            return ChunkFailure(_describe(exc))

    def _drop_retry_pool(self, *, cancel: bool) -> None:
        if self.retry_pool is not None:
            _shutdown(self.retry_pool, cancel=cancel)
            self.retry_pool = None

    def close(self, *, cancel: bool) -> None:
        """Shut our own pools down (``cancel``: drop queued chunks, on Ctrl-C or an error)."""
        if cancel:
            for future in self.futures:
                future.cancel()
        if self.owned and self.pool is not None:
            _shutdown(self.pool, cancel=cancel)
            self.owned = False
        self._drop_retry_pool(cancel=cancel)


def run_chunks(
    fn: Callable[..., T],
    chunks: Sequence[tuple[Any, ...]],
    executor: str | cf.Executor | Client | None = None,
    *,
    sizes: Sequence[int] | None = None,
    bar: ProgressBar | None = None,
) -> list[T | ChunkFailure]:
    """Call ``fn(*chunk)`` for every chunk; results in chunk order, whatever finished first.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled for process pools and Dask).
    chunks : sequence of argument tuples
    executor : None, "processes", concurrent.futures.Executor or dask.distributed.Client
        Where to run (see :func:`resolve_executor`).
    sizes : sequence of int, optional
        Items per chunk, for the progress bar (default 1 each).
    bar : ProgressBar, optional

    Returns
    -------
    list
        ``fn``'s result per chunk, or a :class:`ChunkFailure` for a chunk that failed
        (raised, or its worker died) twice. A chunk is retried alone, so a chunk that kills
        its worker cannot take innocent chunks down with it a second time.

    Raises
    ------
    KeyboardInterrupt
        After cancelling the queued chunks and shutting down a pool of our own.

    Examples
    --------
    >>> run_chunks(sum, [([1, 2],), ([3],)])
    [3, 3]
    """
    sizes = list(sizes) if sizes is not None else [1] * len(chunks)
    bar = bar if bar is not None else _NoBar()
    if executor is None or not chunks:  # nothing to do: no pool to start either
        return _run_serial(fn, chunks, sizes, bar)
    run = _PoolRun(fn, chunks, executor)
    results: list[Any] = [None] * len(chunks)
    try:
        for i in run.first_pass(results, sizes, bar):
            results[i] = run.retry(i)
            bar.update(sizes[i])
    except BaseException:
        # Ctrl-C (or anything else): queued chunks are dropped, our pools stop promptly.
        run.close(cancel=True)
        raise
    run.close(cancel=False)
    return results
