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


def _plain(paths: list[Path], out: Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.save_as(out / f"{i}.dcm")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds; the best time of each side counts"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_deid_"))
    try:
        paths = write_series(ct_phantom(n_slices=args.files, size=args.size), root / "src")
        key = "0123456789abcdef0123456789abcdef"
        _plain(paths[: min(5, len(paths))], root / "warm")
        times: dict[str, list[float]] = {"plain": [], "serial": [], "default": [], "nosync": []}
        last = None
        # Interleaved rounds: the machine is shared, so the sides see the same load.
        for round_ in range(args.repeat):
            times["plain"].append(_plain(paths, root / f"plain{round_}"))
            start = time.perf_counter()
            serial = anonymize_files(
                paths,
                root / f"serial{round_}",
                profile=Profile(),
                key=key,
                progress=False,
                executor=_Serial(),
            )
            times["serial"].append(time.perf_counter() - start)
            start = time.perf_counter()
            last = anonymize_files(
                paths, root / f"default{round_}", profile=Profile(), key=key, progress=False
            )
            times["default"].append(time.perf_counter() - start)
            start = time.perf_counter()
            nosync = anonymize_files(
                paths,
                root / f"nosync{round_}",
                profile=Profile(),
                key=key,
                progress=False,
                fsync=False,
            )
            times["nosync"].append(time.perf_counter() - start)
            assert serial.ok and last.ok and nosync.ok, (serial, last, nosync)
            for folder in root.glob("*[0-9]"):
                shutil.rmtree(folder, ignore_errors=True)
        floor = min(times["plain"])
        t_serial = min(times["serial"])
        t_default = min(times["default"])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(
            f"files: {len(paths)} of {args.size}x{args.size} CT, cpus: {os.cpu_count()}, "
            f"load average: {load:.1f}, best of {args.repeat}"
        )
        print(f"plain pydicom read+write (serial):                   {floor:7.2f} s")
        print(
            f"anonymize_files read+anonymize+verify+write, serial: {t_serial:7.2f} s  ratio {t_serial / floor:5.2f}x"
        )
        print(
            f"anonymize_files, default executor (process pool):    {t_default:7.2f} s  ratio {t_default / floor:5.2f}x"
        )
        t_nosync = min(times["nosync"])
        print(
            f"anonymize_files, default executor, fsync=False:     {t_nosync:7.2f} s  ratio {t_nosync / floor:5.2f}x"
        )
        print("(plain pydicom does not fsync; anonymize_files fsyncs every file by default)")
        print(f"verification: {last.verification!r}")
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
