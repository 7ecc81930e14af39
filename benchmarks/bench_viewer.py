"""Server-side cost of one slice change: naive ``interact`` + ``imshow`` vs SeriesViewer.

Measured in one run, on the same 512x512 CT volume (the package's CT phantom with
10 HU noise, int16 stored values + rescale intercept, as a real CT), stepping through
the slices in order:

* **naive**: what ``interact(lambda i: plt.imshow(vol[i]), ...)`` costs the kernel per
  step with the inline backend: a new figure, ``imshow``, IPython's ``print_figure``
  (PNG, ``bbox_inches="tight"``) and the base64 encoding of the display message.
* **ipympl default**: a persistent ipympl figure updated with ``set_data`` +
  ``draw_idle``; the front-end's "draw" reply is delivered through the canvas's real
  message handler, so the kernel does a full draw, ipympl's diff and Pillow PNG.
* **SeriesViewer**: ``viewer.index = k`` up to the bytes handed to the comm by the
  ipympl canvas (``send_binary`` is wrapped to timestamp and keep them). The canvas is
  told "initialized" as the front-end does once it is displayed.
* **ViewModel.render**: the viewer's picture of slice ``k`` without any widget
  (:class:`dicom_widgets.view.ViewModel`, the part of a step that scripts can use).

No front-end is connected: ipywidgets works without a kernel (messages go nowhere),
so everything up to the send is real. Run::

    .venv/bin/python benchmarks/bench_viewer.py [--steps 60] [--size 512]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import time
import warnings

import numpy as np


def _stats(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1e3 for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]


def make_volume(n_slices: int, size: int) -> np.ndarray:
    from dicom_widgets.data import ct_phantom

    datasets = ct_phantom(n_slices=n_slices, size=size, noise=10.0)
    return np.stack([ds.pixel_array for ds in datasets]).astype(np.int16)


def bench_naive(stored: np.ndarray, steps: int) -> tuple[list[float], int]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import print_figure

    times, cpu, sizes = [], [], []
    n = stored.shape[0]
    for k in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        hu = stored[k % n] * 1.0 - 1024.0
        fig, ax = plt.subplots(figsize=(6.4, 6.4))
        ax.imshow(hu, cmap="gray", vmin=-160, vmax=240)
        png = print_figure(fig, "png", bbox_inches="tight")
        payload = base64.b64encode(png)
        plt.close(fig)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        sizes.append(len(png))
        del payload
    return times, cpu, int(statistics.median(sizes))


def bench_ipympl_default(stored: np.ndarray, steps: int) -> tuple[list[float], int]:
    from ipympl.backend_nbagg import Canvas, FigureManager
    from matplotlib.figure import Figure

    from dicom_widgets.display import make_lut
    from dicom_widgets.widgets._viewer_render import SendRecorder

    lut = make_lut(stored.dtype, (40, 400), intercept=-1024)
    fig = Figure(figsize=(5.12, 5.12), dpi=100)
    canvas = Canvas(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ipympl 0.10's Toolbar init
        FigureManager(canvas, 1)
    canvas._handle_message(canvas, {"type": "initialized"}, [])
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    image = ax.imshow(lut(stored[0]), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    canvas._handle_message(canvas, {"type": "draw"}, [])
    recorder = SendRecorder(canvas)
    times, cpu = [], []
    n = stored.shape[0]
    for k in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        image.set_data(lut(stored[(k + 1) % n]))
        canvas.draw_idle()
        # The browser answers draw_idle's "draw" event with a "draw" message:
        canvas._handle_message(canvas, {"type": "draw"}, [])
        times.append(recorder.times[-1] - t0)
        cpu.append(recorder.cpu_times[-1] - c0)
    return times, cpu, int(statistics.median(len(f) for f in recorder.frames[-steps:]))


def bench_viewer(
    stored: np.ndarray, steps: int, size: int, pixel_ratio: float = 1.0
) -> tuple[list[float], int, object]:
    from dicom_widgets.widgets._viewer_render import SendRecorder
    from dicom_widgets.widgets.viewer import SeriesViewer

    hu = stored  # int16 stored values; the viewer gets HU through its spacing-aware numpy source
    viewer = SeriesViewer(
        hu - np.int16(1024),
        spacing=(4.0, 200 / size, 200 / size),
        window=(40, 400),
        size=size,
        index=0,
    )
    canvas = viewer.canvas
    canvas._handle_message(canvas, {"type": "initialized"}, [])
    if pixel_ratio != 1.0:
        # What a HiDPI browser sends: the figure is then rendered at twice the resolution.
        message = {"type": "set_device_pixel_ratio", "device_pixel_ratio": pixel_ratio}
        canvas._handle_message(canvas, message, [])
    viewer.refresh()
    recorder = SendRecorder(canvas)
    times, cpu = [], []
    n = stored.shape[0]
    for k in range(steps):
        sent = len(recorder.frames)
        t0, c0 = time.perf_counter(), time.process_time()
        viewer.index = (k + 1) % n
        assert len(recorder.frames) == sent + 1, "each step must send exactly one frame"
        times.append(recorder.times[-1] - t0)
        cpu.append(recorder.cpu_times[-1] - c0)
    return times, cpu, int(statistics.median(len(f) for f in recorder.frames[-steps:])), viewer


def bench_model(stored: np.ndarray, steps: int, size: int) -> tuple[list[float], list[float]]:
    from dicom_widgets.view import ViewModel

    model = ViewModel(
        stored - np.int16(1024), spacing=(4.0, 200 / size, 200 / size), window=(40, 400)
    )
    times, cpu = [], []
    n = stored.shape[0]
    for k in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        model.render(index=(k + 1) % n)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    stored = make_volume(args.slices, args.size)
    # Warm up imports and caches once each, then measure.
    bench_naive(stored, 2)
    bench_ipympl_default(stored, 2)
    bench_viewer(stored, 2, args.size)

    naive, naive_cpu, naive_bytes = bench_naive(stored, args.steps)
    default, default_cpu, default_bytes = bench_ipympl_default(stored, args.steps)
    fast, fast_cpu, fast_bytes, viewer = bench_viewer(stored, args.steps, args.size)
    hidpi, hidpi_cpu, hidpi_bytes, _ = bench_viewer(stored, args.steps, args.size, pixel_ratio=2.0)
    model, model_cpu = bench_model(stored, args.steps, args.size)

    rows = [
        ("naive interact+imshow+PNG", naive, naive_cpu, naive_bytes),
        ("ipympl set_data+draw_idle", default, default_cpu, default_bytes),
        ("SeriesViewer step", fast, fast_cpu, fast_bytes),
        ("SeriesViewer step, HiDPI x2", hidpi, hidpi_cpu, hidpi_bytes),
        ("ViewModel.render (no widgets)", model, model_cpu, 0),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.size}x{args.size} CT, {args.slices} slices, {args.steps} steps each, server side, "
        f"ms (wall clock; CPU time of this process; load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"{'path':30s} {'median':>8s} {'p90':>8s} {'cpu med':>8s} {'cpu p90':>8s} {'median bytes':>12s}"
    )
    for name, times, cpu, nbytes in rows:
        median, p90 = _stats(times)
        cpu_median, cpu_p90 = _stats(cpu)
        print(f"{name:30s} {median:8.2f} {p90:8.2f} {cpu_median:8.2f} {cpu_p90:8.2f} {nbytes:12d}")
    for label, a, b in (("wall", naive, fast), ("cpu", naive_cpu, fast_cpu)):
        print(
            f"{label}: speed-up vs naive {_stats(a)[0] / _stats(b)[0]:.1f}x (target >= 5x); "
            f"SeriesViewer median {_stats(b)[0]:.2f} ms (target < 15 ms)"
        )
    fig_px = viewer.canvas.get_renderer().width, viewer.canvas.get_renderer().height
    print(
        f"SeriesViewer canvas {fig_px[0]}x{fig_px[1]} px, frame encoded as "
        f"{'grey' if viewer.canvas._last_png[25] == 0 else 'colour'} PNG"
    )


if __name__ == "__main__":
    main()
