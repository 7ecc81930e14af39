"""Scanning an archive: a pydicom header loop vs ``scan`` serial, on processes and on Dask.

Generates the tree itself (200 series of 100 small CT files = 20,000 files by default,
``--files 200000`` for 2,000 series) from one template file whose UIDs, numbers and
positions are patched per file, kept in ``benchmarks/output/scan_tree_<n>_<per series>``
(or under ``--data``) so a second run starts at once. Every file is read once before
timing, so all approaches read from the page cache. Then, side by side in one run:

* naive: ``pydicom.dcmread(path, stop_before_pixels=True)`` for every file of the walk;
* ``dw.scan(tree)`` serial; on a process pool of ``--workers`` (its start-up counted);
  on a Dask ``LocalCluster`` of ``--workers`` processes (its start-up not counted), with
  the workers' profiler on (Dask's default) and off;
* resuming an unchanged index (``scan(tree, index=path)`` the second time) vs a fresh scan;
* catalog memory per file (tracemalloc: what the catalog keeps), next to a list of the
  headers pydicom read;
* the equality check: serial, processes, Dask and resume give the same catalog (every
  file's row and every series).

Wall and CPU times (this process + its worker processes) are printed with the load
average, since other jobs on the machine make CPU-bound ratios noisy; the CPU critical path
(main process + busiest worker) says what the wall time would be on idle cores.

Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_scan.py                 # 20,000 files
    PYTHONPATH=. .venv/bin/python benchmarks/bench_scan.py --files 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dicom_widgets as dw  # noqa: E402
from dicom_widgets.data import ct_phantom  # noqa: E402

OUTPUT = ROOT / "benchmarks" / "output"


# Fixed-width placeholders in the template file: each file is the template's bytes with
# these replaced by same-width values, so no element length (nor any offset) changes.
_ROOT = "1.2.826.0.1.3680043.8.498.77"
# UID components: "1" + 7 digits (series, patient) and "1" + 6 digits (slice): no leading zero.
_STUDY, _SERIES, _FRAME_OF_REF = f"{_ROOT}.1.19090901", f"{_ROOT}.2.18080801", f"{_ROOT}.4.16060601"
_SOP = f"{_ROOT}.3.17070701.1505051"
_PATIENT_ID, _SERIES_NUMBER, _INSTANCE = "DWP-4040401", "3131", "252525"
_Z_POSITION, _Z_LOCATION = "-404.040", "-303.030"  # DS, 8 characters: f"{z:8.3f}"


def _template() -> bytes:
    """One CT phantom slice (16x16) as Part 10 bytes, with the per-file values as placeholders."""
    from dicom_widgets._compat import write_dataset

    ds = ct_phantom(n_slices=1, size=16, seed=1000)[0]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _STUDY, _SERIES
    ds.FrameOfReferenceUID = _FRAME_OF_REF
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = _SOP
    ds.PatientID, ds.SeriesNumber, ds.InstanceNumber = _PATIENT_ID, _SERIES_NUMBER, _INSTANCE
    x, y, _ = ds.ImagePositionPatient
    ds.ImagePositionPatient = [f"{float(x):g}", f"{float(y):g}", _Z_POSITION]
    ds.SliceLocation = _Z_LOCATION
    buffer = io.BytesIO()
    write_dataset(ds, buffer)
    data = buffer.getvalue()
    expected = {_SOP: 2, _STUDY: 1, _SERIES: 1, _FRAME_OF_REF: 1, _PATIENT_ID: 1}
    expected.update({_SERIES_NUMBER: 1, _INSTANCE: 1, _Z_POSITION: 1, _Z_LOCATION: 1})
    for text, count in expected.items():
        if data.count(text.encode()) != count:
            raise RuntimeError(f"placeholder {text!r} is not unique in the template")
    return data


def _series_bytes(template: bytes, s: int, per_series: int, thickness: float) -> list[bytes]:
    """The files of series ``s`` (10 series per patient and study), in slice order."""
    patient = s // 10
    head = (
        template.replace(_STUDY.encode(), f"{_ROOT}.1.1{patient:07d}".encode())
        .replace(_SERIES.encode(), f"{_ROOT}.2.1{s:07d}".encode())
        .replace(_FRAME_OF_REF.encode(), f"{_ROOT}.4.1{s:07d}".encode())
        .replace(_PATIENT_ID.encode(), f"DWP-{patient:07d}".encode())
        .replace(_SERIES_NUMBER.encode(), f"{s % 10 + 1:<4d}".encode())
    )
    out = []
    for i in range(per_series):
        z = f"{-198.0 + thickness * i:8.3f}".encode()
        out.append(
            head.replace(_SOP.encode(), f"{_ROOT}.3.1{s:07d}.1{i:06d}".encode())
            .replace(_INSTANCE.encode(), f"{i + 1:<6d}".encode())
            .replace(_Z_POSITION.encode(), z)
            .replace(_Z_LOCATION.encode(), z)
        )
    return out


def make_tree(n_files: int, per_series: int, data: Path = OUTPUT) -> Path:
    """``n_files / per_series`` CT series of 16x16 slices, written once and reused.

    One template file is encoded by pydicom; every file is its bytes with the UIDs, numbers
    and positions patched at the same width (about 20,000 files/s, where encoding each file
    with pydicom and an fsync took about 20 files/s). File names are shuffled within a
    series, as :func:`~dicom_widgets.data.write_series` does, so name order is not slice order.
    """
    folder = data / f"scan_tree_{n_files}_{per_series}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    n_series = max(1, n_files // per_series)
    if 8 + 2 * 4.0 * per_series > 9999:
        raise ValueError("--per-series is too large for the 8-character slice positions")
    t0 = time.perf_counter()
    template = _template()
    rng = np.random.default_rng(0)
    for s in range(n_series):
        target = folder / f"patient_{s // 10:04d}" / f"series_{s:05d}"
        target.mkdir(parents=True, exist_ok=True)
        names = rng.permutation(per_series)
        for number, content in zip(names, _series_bytes(template, s, per_series, 4.0)):
            (target / f"IM_{int(number):04d}.dcm").write_bytes(content)
    marker.write_text("ok")
    print(f"generated {n_series * per_series} files in {time.perf_counter() - t0:.1f} s: {folder}")
    return folder


def walk_files(folder: Path) -> list[str]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith("."))
    return out


def warm(files: list[str]) -> None:
    for path in files:
        with open(path, "rb") as handle:
            handle.read()


def cpu_seconds() -> float:
    """CPU time of this process and of every process it started (worker pools, Dask)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    # Children already reaped (a process pool shut down) are counted here.
    t = os.times()
    return total + t.children_user + t.children_system


def critical_path(fn: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """(wall, CPU of this process, CPU of its busiest live child, result) of one call.

    The machine's scheduler shares CPU per session (autogroup): under load, more worker
    processes of one session do not get more CPU, so a wall-time ratio says nothing. This
    process's CPU plus the busiest worker's is the wall time the work would take on idle
    cores (chunks are spread evenly), measured in CPU seconds.
    """
    import psutil

    me = psutil.Process()
    children = {c.pid: c for c in me.children(recursive=True)}

    def times() -> dict[int, float]:
        out = {}
        for pid, child in children.items():
            try:
                out[pid] = sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return out

    before, main0, t0 = times(), time.process_time(), time.perf_counter()
    result = fn()
    wall, main = time.perf_counter() - t0, time.process_time() - main0
    after = times()
    busiest = max((after[p] - before[p] for p in after if p in before), default=0.0)
    return wall, main, busiest, result


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any, str]:
    """Best wall time of ``repeat`` runs, its CPU time, the last result, the load before."""
    best = (float("inf"), 0.0)
    result = None
    before = load()
    for _ in range(repeat):
        gc.collect()
        c0, t0 = cpu_seconds(), time.perf_counter()
        result = fn()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        if wall < best[0]:
            best = (wall, cpu)
        result = result if repeat == 1 else result
    return best[0], best[1], result, before


def naive(files: list[str]) -> int:
    import pydicom

    n = 0
    for path in files:
        pydicom.dcmread(path, stop_before_pixels=True)
        n += 1
    return n


def catalog_bytes_per_file(folder: Path, n_files: int) -> tuple[float, float]:
    """(bytes kept by a catalog, bytes kept by a list of pydicom headers) per file."""
    import pydicom

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    catalog = dw.scan(folder, progress=False)
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    del catalog
    gc.collect()
    files = walk_files(folder)[: min(n_files, 5000)]
    before = tracemalloc.get_traced_memory()[0]
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in files]
    for ds in headers:  # what a header-keeping catalog holds once its values were looked at
        ds.get("SeriesInstanceUID"), ds.get("ImagePositionPatient")
    headers_kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del headers
    return kept / n_files, headers_kept / len(files)


def same_catalog(a: Any, b: Any) -> bool:
    fa, fb = a.to_dataframe("files"), b.to_dataframe("files")
    sa, sb = a.to_dataframe(), b.to_dataframe()
    return bool(fa.equals(fb) and sa.equals(sb) and a.keys() == b.keys())


def dask_rows(
    folder: Path,
    args: argparse.Namespace,
    report: Callable[..., None],
    serial: Any,
    serial_wall: float,
    serial_cpu: float,
    profile: bool,
) -> bool:
    """The Dask rows: a LocalCluster of ``args.workers`` processes (its start not counted).

    ``profile``: the workers' statistical profiler (``distributed.worker.profile.enabled``,
    on by default) samples the task thread every 10 ms; header reading is many short calls,
    so this shows what it costs. Returns whether the catalog is the serial one.
    """
    import dask
    from distributed import Client, LocalCluster

    with (
        tempfile.TemporaryDirectory() as scratch,
        dask.config.set({"distributed.worker.profile.enabled": profile}),
    ):
        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                local_directory=scratch,
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter() - t0
            wall, cpu, on_dask, before = timed(
                lambda: dw.scan(folder, progress=False, executor=client), args.repeat
            )
            label = "profiler on (default)" if profile else "profiler off"
            report(
                f"scan, Dask LocalCluster of {args.workers}, {label}",
                wall,
                cpu,
                before,
                serial_wall,
            )
            _, main_cpu, worker_cpu, _ = critical_path(
                lambda: dw.scan(folder, progress=False, executor=client)
            )
    path = main_cpu + worker_cpu
    print(
        f"  cluster start {start:.1f} s (not counted); CPU critical path: {path:.2f} s (main, "
        f"with the scheduler, {main_cpu:.2f} + busiest worker {worker_cpu:.2f}) -> "
        f"{serial_cpu / path:.2f}x serial on idle cores"
    )
    return same_catalog(serial, on_dask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--per-series", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs")
    parser.add_argument("--workers", type=int, default=2, help="processes and Dask workers")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-naive", action="store_true", help="skip the pydicom loop")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc scan")
    parser.add_argument(
        "--data", type=Path, default=OUTPUT, help="where the generated tree is kept"
    )
    parser.add_argument("--generate-only", action="store_true", help="write the tree and stop")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    folder = make_tree(args.files, args.per_series, args.data)
    if args.generate_only:
        return
    files = walk_files(folder)
    n = len(files)
    warm(files)
    print(f"{n} files in {folder}; {os.cpu_count()} cores; {load()}")
    print(
        f"{'approach':<44} {'wall s':>8} {'CPU s':>8} {'files/s':>9} {'vs serial':>10}  load 1/5 min"
    )
    rows: dict[str, tuple[float, float, str]] = {}

    def report(name: str, wall: float, cpu: float, before: str, serial: float | None) -> None:
        ratio = f"{serial / wall:9.2f}x" if serial else ""
        print(f"{name:<44} {wall:8.2f} {cpu:8.2f} {n / wall:9.0f} {ratio:>10}  {before}")
        rows[name] = (wall, cpu, before)

    naive_row = "pydicom.dcmread(stop_before_pixels) loop"
    if not args.no_naive:
        wall, cpu, _, before = timed(lambda: naive(files), max(1, args.repeat - 1))
        report(naive_row, wall, cpu, before, None)
    serial_wall, cpu, serial, before = timed(lambda: dw.scan(folder, progress=False), args.repeat)
    report("scan, serial", serial_wall, cpu, before, None)
    if naive_row in rows:
        ratio = rows[naive_row][0] / serial_wall
        print(f"{'  (pydicom loop / scan serial)':<44} {ratio:8.2f}x")

    from dicom_widgets._executors import process_pool

    def on_processes() -> Any:
        with process_pool(args.workers) as pool:
            return dw.scan(folder, progress=False, executor=pool)

    wall, cpu, processes, before = timed(on_processes, args.repeat)
    report(
        f"scan, process pool of {args.workers} (start-up included)", wall, cpu, before, serial_wall
    )
    same = {"processes": same_catalog(serial, processes)}
    # CPU critical paths (see critical_path): serial = all its CPU; pool = main + busiest worker.
    _, serial_cpu, _, _ = critical_path(lambda: dw.scan(folder, progress=False))
    with process_pool(args.workers) as pool:
        list(pool.map(abs, range(4 * args.workers)))  # start the workers first
        pool_wall, main_cpu, worker_cpu, _ = critical_path(
            lambda: dw.scan(folder, progress=False, executor=pool)
        )
    path = main_cpu + worker_cpu
    print(
        f"  CPU critical path: serial {serial_cpu:.2f} s; pool of {args.workers} "
        f"{path:.2f} s (main {main_cpu:.2f} + busiest worker {worker_cpu:.2f}) -> "
        f"{serial_cpu / path:.2f}x on {args.workers} idle cores (wall here {pool_wall:.2f} s, {load()})"
    )

    if not args.no_dask:
        for profile in (True, False):
            same[f"dask (profiler {'on' if profile else 'off'})"] = dask_rows(
                folder, args, report, serial, serial_wall, serial_cpu, profile
            )

    with tempfile.TemporaryDirectory() as scratch:
        index = Path(scratch) / "index.parquet"
        wall, cpu, _, before = timed(lambda: dw.scan(folder, progress=False, index=index), 1)
        report("scan with index=, first time (+ write)", wall, cpu, before, serial_wall)
        size = index.stat().st_size
        wall, cpu, resumed, before = timed(
            lambda: dw.scan(folder, progress=False, index=index), args.repeat
        )
        report("scan with index=, unchanged (resume)", wall, cpu, before, serial_wall)
        same["resume"] = same_catalog(serial, resumed)
        print(
            f"  resume of an unchanged index: {serial_wall / wall:.1f}x faster than a fresh serial scan (goal >= 20x); index {size / n:.0f} bytes/file on disk"
        )

    if not args.no_memory:
        per_file, headers_per_file = catalog_bytes_per_file(folder, n)
        print(
            f"catalog memory: {per_file:.0f} bytes/file (tracemalloc; goal <= 1024, limit 2048); "
            f"a list of pydicom headers: {headers_per_file:.0f} bytes/file "
            f"({headers_per_file / per_file:.1f}x more); "
            f"catalog.nbytes {serial.nbytes / n:.0f} bytes/file"
        )
    checks = ", ".join(f"{k}: {'same' if v else 'DIFFERENT'}" for k, v in same.items())
    print(f"same catalog as serial ({n} files, every file's row and every series): {checks}")
    print(f"{len(serial)} series, {serial.n_files} files, {len(serial.errors)} errors; {load()}")
    if not all(same.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
