"""Benchmark: de-identify a CT series end to end vs plain pydicom read + write of the same files.

Run: ``.venv/bin/python benchmarks/bench_deid.py`` (300 files of 512x512) or
``--files 30 --size 128`` for a quick run. Both sides run in this one process run, on the
same files, serially and with the default executor of ``anonymize_files``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pydicom

from dicom_widgets.data import ct_phantom, write_series
from dicom_widgets.deid import Profile, anonymize_files


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (process-pool workers)."""
    try:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    except ImportError:  # pragma: no cover - Windows
        return time.process_time()


def _timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    return time.perf_counter() - wall, _cpu() - cpu, result


def _plain(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.save_as(out / f"{i}.dcm")


def _phases(paths: list[Path], key: str) -> None:
    """Per-file time of each phase of the batch, serially, next to plain pydicom's two."""
    import io

    from dicom_widgets._encode import encode_part10
    from dicom_widgets.deid import DeidContext, anonymize
    from dicom_widgets.deid.batch import _read
    from dicom_widgets.deid.verification import collect_needles, verify_bytes

    context = DeidContext(key)
    profile = Profile()
    totals = dict.fromkeys(
        ("pydicom read", "pydicom write", "read", "anonymize", "encode", "verify"), 0.0
    )
    for path in paths:
        t = time.perf_counter()
        plain = pydicom.dcmread(path)
        totals["pydicom read"] += time.perf_counter() - t
        t = time.perf_counter()
        plain.save_as(io.BytesIO())
        totals["pydicom write"] += time.perf_counter() - t
        t = time.perf_counter()
        ds = _read(str(path))
        totals["read"] += time.perf_counter() - t
        t = time.perf_counter()
        result = anonymize(ds, profile, context=context, _inplace=True)
        totals["anonymize"] += time.perf_counter() - t
        t = time.perf_counter()
        data = encode_part10(result.dataset)
        totals["encode"] += time.perf_counter() - t
        t = time.perf_counter()
        needles = collect_needles(None, result.changes, identifiers=result.identifiers)
        touched = {c.path for c in result.changes if c.changed}
        verify_bytes(data, needles, result.dataset.get("SpecificCharacterSet", ""), touched=touched)
        totals["verify"] += time.perf_counter() - t
    print("per file, serial (ms):")
    for name, total in totals.items():
        print(f"  {name:<14} {1000 * total / len(paths):6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds; the best time of each side counts"
    )
    parser.add_argument(
        "--phases", action="store_true", help="also time each phase per file (serial)"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_deid_"))
    try:
        paths = write_series(ct_phantom(n_slices=args.files, size=args.size), root / "src")
        key = "0123456789abcdef0123456789abcdef"
        _plain(paths[: min(5, len(paths))], root / "warm")
        runs = {
            "plain pydicom read+write, serial": lambda r: _plain(paths, root / f"plain{r}"),
            "anonymize_files (read, anonymize, verify, write), serial": lambda r: anonymize_files(
                paths,
                root / f"serial{r}",
                profile=Profile(),
                key=key,
                progress=False,
                executor=_Serial(),
            ),
            "anonymize_files, default executor (process pool)": lambda r: anonymize_files(
                paths, root / f"default{r}", profile=Profile(), key=key, progress=False
            ),
            "anonymize_files, default executor, fsync=False": lambda r: anonymize_files(
                paths,
                root / f"nosync{r}",
                profile=Profile(),
                key=key,
                progress=False,
                fsync=False,
            ),
        }
        best: dict[str, tuple[float, float]] = {}
        last = None
        # Interleaved rounds: the machine is shared, so every variant sees the same load.
        for round_ in range(args.repeat):
            for name, run in runs.items():
                wall, cpu, result = _timed(lambda run=run, r=round_: run(r))
                if result is not None:
                    assert result.ok, result
                    last = result
                prev = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(prev[0], wall), min(prev[1], cpu))
            for folder in root.glob("*[0-9]"):
                shutil.rmtree(folder, ignore_errors=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"files: {len(paths)} of {args.size}x{args.size} CT, cpus: {os.cpu_count()}, "
            f"load average: {load:.1f}, best of {args.repeat}"
        )
        floor_wall, floor_cpu = best["plain pydicom read+write, serial"]
        for name, (wall, cpu) in best.items():
            print(
                f"{name:<58} wall {wall:6.2f} s ({wall / floor_wall:4.2f}x)   "
                f"cpu {cpu:6.2f} s ({cpu / floor_cpu:4.2f}x)"
            )
        print("plain pydicom does not fsync; anonymize_files fsyncs every file unless fsync=False")
        print(f"verification: {last.verification!r}")
        if args.phases:
            _phases(paths, key)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class _Serial:
    """A minimal executor running each task at submit time (to time the serial path)."""

    def submit(self, fn, *args, **kwargs):
        import concurrent.futures as cf

        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001
            future.set_exception(exc)
        return future


if __name__ == "__main__":
    main()
