"""A thread-safe LRU cache of decoded frames, bounded by bytes, and a neighbour prefetcher."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

__all__ = ["FrameCache", "Prefetcher", "DEFAULT_CACHE_BYTES"]

#: Default cache size: 256 MiB, about 500 CT slices of 512x512 int16.
DEFAULT_CACHE_BYTES = 256 * 1024**2


class FrameCache:
    """Least-recently-used cache of arrays whose total ``nbytes`` stays under ``max_bytes``.

    Parameters
    ----------
    max_bytes : int
        Upper bound of the summed ``nbytes`` of cached arrays; 0 disables caching.
        An array larger than the bound is never cached.

    Examples
    --------
    >>> cache = FrameCache(100)
    >>> cache.put("a", np.zeros(10, dtype=np.uint8))
    >>> cache.get("a").shape, cache.nbytes
    ((10,), 10)
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        """Bytes currently held."""
        return self._nbytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable) -> np.ndarray | None:
        """The cached array (marked most recently used) or ``None``."""
        with self._lock:
            arr = self._items.get(key)
            if arr is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return arr

    def put(self, key: Hashable, arr: np.ndarray) -> None:
        """Store ``arr`` (read-only) and evict the least recently used until under the bound."""
        size = int(arr.nbytes)
        if size > self.max_bytes:
            return
        arr.flags.writeable = False  # callers share the cached array: nobody may mutate it
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._nbytes -= int(old.nbytes)
            self._items[key] = arr
            self._nbytes += size
            while self._nbytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._nbytes -= int(evicted.nbytes)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._nbytes = 0


class Prefetcher:
    """Background threads (one by default) that decode the neighbours of the last requested frame.

    Only the most recent request matters (scrolling makes older ones stale), so a new
    request replaces the pending one. The threads are daemons, hold the owner only
    through a weak reference and stop when :meth:`close` is called.

    Parameters
    ----------
    load : callable
        ``load(key)`` decodes and caches one frame; exceptions are swallowed (the frame
        will raise again, with its message, when the user asks for it).
    workers : int
        Threads taking keys from the pending list (several overlap network round trips).
    """

    def __init__(self, load: Callable[[Hashable], object], workers: int = 1) -> None:
        self._load = weakref.WeakMethod(load) if hasattr(load, "__self__") else (lambda: load)
        self._pending: list[Hashable] = []
        self._cond = threading.Condition()
        self._closed = False
        self._busy = 0
        self._workers = max(1, int(workers))
        self._threads: list[threading.Thread] = []

    def request(self, keys: list[Hashable]) -> None:
        """Replace the pending work with ``keys`` (nearest first)."""
        with self._cond:
            if self._closed:
                return
            self._pending = list(keys)
            while len(self._threads) < self._workers:
                thread = threading.Thread(
                    target=self._run, name="dicom-widgets-prefetch", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait(timeout=5.0)
                if self._closed:
                    return
                key = self._pending.pop(0)
                self._busy += 1
            load = self._load()
            if load is None:  # the series was garbage collected
                return
            try:
                load(key)
            except Exception:  # noqa: BLE001 - reported when the frame is requested
                pass
            finally:
                with self._cond:
                    self._busy -= 1
            del load

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until the pending queue is empty (used by tests and benchmarks)."""
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._cond:
                if not self._pending and not self._busy:
                    break
            time.sleep(0.005)

    def close(self) -> None:
        """Stop the thread (pending work is dropped)."""
        self._closed = True
        # Never block here: at interpreter exit a daemon thread can be frozen while it holds
        # the condition's lock, and waiting for it would hang the exit forever.
        if self._cond.acquire(timeout=0.5):
            try:
                self._pending = []
                self._cond.notify_all()
            finally:
                self._cond.release()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=0.5)
