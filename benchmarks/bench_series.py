"""Time to first image and peak memory: the naive stack-everything pattern vs ``load_series``.

Writes a CT phantom series (300 slices of 512x512 by default, shuffled file names)
to a temporary folder, then measures each approach in a fresh subprocess so that
memory figures do not leak into each other:

* naive: ``sorted(glob("*.dcm"))`` + ``dcmread(f).pixel_array`` for every file +
  ``np.stack`` (the seed pattern: wrong order, decodes everything first);
* lazy: ``dicom_widgets.load_series(folder)`` + ``series.display(0)`` (headers only,
  sorted by geometry, one slice decoded);
* scroll: the lazy series then displays every slice once with a small cache, to show
  memory stays bounded by the cache, not by the series.

Run::

    .venv/bin/python benchmarks/bench_series.py            # 300 x 512 x 512
    .venv/bin/python benchmarks/bench_series.py --slices 60 --size 256   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0), so the peak
    # measured afterwards belongs to the work alone, not to the imports.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def worker(mode: str, folder: str, cache_mb: int, traced: bool) -> dict:
    """Run one approach in this (fresh) process and return its measurements."""
    import glob

    import numpy as np
    import pydicom

    import dicom_widgets as dw
    import dicom_widgets.series  # noqa: F401 - import cost is not part of opening a series

    try:  # the same for pydicom's pixel machinery, used by both approaches
        import pydicom.pixels  # noqa: F401
    except ImportError:
        import pydicom.pixel_data_handlers  # noqa: F401

    if traced:
        import tracemalloc

        tracemalloc.start()
    _reset_peak()
    base = _rss_mb()
    result: dict = {}
    t0 = time.perf_counter()
    if mode == "naive":
        files = sorted(glob.glob(os.path.join(folder, "*.dcm")))
        volume = np.stack([pydicom.dcmread(f).pixel_array for f in files])
        image = volume[0]
        result["t_first"] = time.perf_counter() - t0
        result["first_z"] = float(
            pydicom.dcmread(files[0], stop_before_pixels=True).ImagePositionPatient[2]
        )
    else:
        if mode == "lazy-pydicom":  # the same loader with pydicom reading every header
            import dicom_widgets.series._scan as scan_module

            scan_module.FAST_HEADERS = False
        series = dw.load_series(folder, progress=False, cache_bytes=cache_mb * 1024**2)
        image = series.display(0)
        result["t_first"] = time.perf_counter() - t0
        result["first_z"] = float(series.positions[0, 2])
        if mode == "scroll":
            t1 = time.perf_counter()
            for i in range(len(series)):
                series.display(i)
            result["t_scroll"] = time.perf_counter() - t1
            result["cache_mb"] = series._cache.nbytes / 1024**2
        series.close()
    assert image.size > 0
    result["peak_rss_mb"] = _peak_rss_mb() - base
    if traced:
        import tracemalloc

        result["peak_traced_mb"] = tracemalloc.get_traced_memory()[1] / 1024**2
        tracemalloc.stop()
    return result


def _run(mode: str, folder: str, cache_mb: int, traced: bool = False) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        mode,
        "--folder",
        folder,
        "--cache-mb",
        str(cache_mb),
    ]
    if traced:
        cmd.append("--traced")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cache-mb", type=int, default=64, help="cache bound of the lazy series")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per approach (median)")
    parser.add_argument("--folder", help="reuse/keep the phantom in this folder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.cache_mb, args.traced)))
        return

    sys.path.insert(0, str(ROOT))
    from dicom_widgets.data import ct_phantom, write_series

    tmp = None
    folder = args.folder
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="dw-bench-")
        folder = tmp.name
    if not any(Path(folder).glob("*.dcm")):
        print(
            f"writing {args.slices} slices of {args.size}x{args.size} to {folder} ...", flush=True
        )
        t = time.perf_counter()
        datasets = ct_phantom(n_slices=args.slices, size=args.size, noise=8.0)
        write_series(datasets, folder, shuffle=True, seed=7)
        del datasets
        print(f"  written in {time.perf_counter() - t:.1f} s", flush=True)
    # File names are shuffled: name order is not slice order.
    size_mb = sum(p.stat().st_size for p in Path(folder).glob("*.dcm")) / 1024**2

    timings: dict[str, list[float]] = {"naive": [], "lazy": [], "lazy-pydicom": []}
    results: dict[str, dict] = {}
    for _ in range(args.repeats):
        for mode in ("naive", "lazy", "lazy-pydicom"):
            r = _run(mode, folder, args.cache_mb)
            timings[mode].append(r["t_first"])
            results[mode] = r
    traced = {mode: _run(mode, folder, args.cache_mb, traced=True) for mode in ("naive", "lazy")}
    scroll = _run("scroll", folder, args.cache_mb)

    naive_t = statistics.median(timings["naive"])
    lazy_t = statistics.median(timings["lazy"])
    slow_t = statistics.median(timings["lazy-pydicom"])
    import numpy as np  # noqa: F401 - only to report versions below
    import pydicom

    lines = [
        "",
        f"Series: {args.slices} slices of {args.size}x{args.size} int16 CT, {size_mb:.0f} MB on disk, "
        f"shuffled file names; pydicom {pydicom.__version__}; median of {args.repeats} runs, each in a fresh process.",
        "",
        f"{'':34}{'naive glob+stack':>20}{'load_series+display(0)':>25}{'ratio':>12}",
        f"{'-' * 91}",
        f"{'time to first image':34}{naive_t:>18.3f} s{lazy_t:>23.3f} s{naive_t / lazy_t:>10.1f}x sooner",
        f"{'  same, headers read by pydicom':34}{'':>20}{slow_t:>23.3f} s{naive_t / slow_t:>10.1f}x sooner",
        f"{'peak RSS growth':34}{results['naive']['peak_rss_mb']:>17.1f} MB"
        f"{results['lazy']['peak_rss_mb']:>22.1f} MB"
        f"{results['naive']['peak_rss_mb'] / max(results['lazy']['peak_rss_mb'], 0.1):>10.1f}x less",
        f"{'peak traced allocations':34}{traced['naive']['peak_traced_mb']:>17.1f} MB"
        f"{traced['lazy']['peak_traced_mb']:>22.1f} MB"
        f"{traced['naive']['peak_traced_mb'] / max(traced['lazy']['peak_traced_mb'], 0.1):>10.1f}x less",
        f"{'first image is the lowest slice':34}{'no' if results['naive']['first_z'] != results['lazy']['first_z'] else 'yes':>20}"
        f"{'yes':>25}",
        "",
        f"Scrolling through all {args.slices} slices with display(i) and a {args.cache_mb} MB cache: "
        f"{scroll['t_scroll']:.2f} s ({1000 * scroll['t_scroll'] / args.slices:.1f} ms/slice incl. decoding), "
        f"peak RSS growth {scroll['peak_rss_mb']:.1f} MB, cache holds {scroll['cache_mb']:.1f} MB "
        f"(the whole series decoded is {args.slices * args.size * args.size * 2 / 1024**2:.0f} MB).",
        "",
    ]
    print("\n".join(lines))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
