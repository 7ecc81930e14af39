"""Thick-slab steps and ROI-statistics updates, next to the naive approaches, in one run.

**Slab step** (10 mm MIP over 512x512 CT with 1 mm slices, stepping plane by plane through the
volume, on the acquired and the coronal plane). Kernel side, per step:

* **naive**: ``np.max`` over the slab's planes, then what ``interact`` + ``imshow`` costs
  the kernel: a new figure, ``imshow``, a PNG (``print_figure``, ``bbox_inches="tight"``)
  and the base64 of the display message.
* **np.max alone**: just the reduction over the slab's planes (what any viewer recomputes).
* **SlabProjector + PNG**: :class:`dicom_widgets.view.slab.SlabProjector` (block maxima,
  one ``np.maximum`` per step), the stored-value window LUT and the viewer's PNG encoder
  (what the viewer sends per step).
* **SlabProjector alone**: the projection only.
* **SeriesViewer, 10 mm MIP**: ``viewer.index = k`` with ``viewer.slab = "mip"``, up to the
  bytes the ipympl canvas hands to its comm (as ``bench_viewer.py`` measures a plain step),
  next to the same viewer without a slab.

**ROI update** (what a drag recomputes): statistics of an ellipse, a rectangle and a
120-vertex freehand polygon of about 200x200 pixels on a 512x512 plane, with
:func:`dicom_widgets.measurements.roi_statistics` (bounding box only) next to a
full-image mask (matplotlib ``Path.contains_points`` over every pixel centre for the
polygon, a full-image ``np.mgrid`` test for the ellipse and rectangle) + numpy statistics.

**Move/resize update** (a drag of a ruler's end or an ROI's body on a 10 mm MIP):
:meth:`~dicom_widgets.view.measurement_layer.MeasurementEdit.move` next to ``np.max`` over
the slab plus the full-image mask and statistics.

Run::

    .venv/bin/python benchmarks/bench_measurements.py [--slices 120] [--size 512] [--steps 60]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time

import numpy as np


def _stats(times: list[float]) -> tuple[float, float]:
    ms = sorted(t * 1e3 for t in times)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]


def make_volume(n_slices: int, size: int) -> np.ndarray:
    """The CT phantom (1 mm slices, 10 HU noise) as stored int16 values (HU + 1024)."""
    from dicom_widgets.data import ct_phantom

    datasets = ct_phantom(n_slices=n_slices, size=size, slice_thickness=1.0, noise=10.0)
    return np.stack([ds.pixel_array for ds in datasets]).astype(np.int16)


def _affine(size: int) -> np.ndarray:
    """The phantom's 200 mm field of view over ``size`` pixels, 1 mm slices."""
    pixel = 200.0 / size
    return np.diag([pixel, pixel, 1.0, 1.0])


def bench_slab(volume: np.ndarray, view: str, steps: int) -> dict[str, list[float]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from IPython.core.pylabtools import print_figure

    from dicom_widgets.display import Window, make_lut
    from dicom_widgets.view import plane_for
    from dicom_widgets.view.slab import SlabProjector, slab_range
    from dicom_widgets.widgets._viewer_render import encode_png

    affine = _affine(volume.shape[1])
    plane = plane_for(view, affine)
    n = plane.n_positions(volume.shape)
    start = max(0, n // 2 - steps // 2)
    indices = [start + k for k in range(min(steps, n - start))]
    lut = make_lut(volume.dtype, Window(300.0, 800.0), intercept=-1024.0)
    out: dict[str, list[float]] = {
        "naive": [],
        "np.max": [],
        "projector+png": [],
        "projector": [],
    }
    for k in indices:
        t0 = time.perf_counter()
        planes = slab_range(plane, k, 10.0, affine, volume.shape)
        mip = np.take(volume, planes, axis=plane.normal_axis).max(axis=plane.normal_axis)
        out["np.max"].append(time.perf_counter() - t0)
        picture = plane.cut(np.expand_dims(mip, plane.normal_axis), 0) * 1.0 - 1024.0
        fig, ax = plt.subplots(figsize=(6.4, 6.4))
        ax.imshow(picture, cmap="gray", vmin=-100, vmax=700)
        payload = base64.b64encode(print_figure(fig, "png", bbox_inches="tight"))
        plt.close(fig)
        out["naive"].append(time.perf_counter() - t0)
        del payload
    for timed in ("projector+png", "projector"):
        projector = SlabProjector(volume, plane, affine, 10.0, "mip")
        for k in indices:
            t0 = time.perf_counter()
            projection = projector(k)
            if timed == "projector+png":
                encode_png(lut(projection))
            out[timed].append(time.perf_counter() - t0)
    return out


def bench_viewer_slab(volume: np.ndarray, steps: int) -> dict[str, list[float]]:
    """Kernel time of a viewer step, up to the frame bytes sent, with and without a MIP."""
    from dicom_widgets.widgets._viewer_render import SendRecorder
    from dicom_widgets.widgets.viewer import SeriesViewer

    size = volume.shape[1]
    out: dict[str, list[float]] = {}
    for slab in ("none", "mip"):
        viewer = SeriesViewer(
            volume - np.int16(1024),
            spacing=(1.0, 200 / size, 200 / size),
            window=(300, 800),
            size=512,
            index=0,
        )
        canvas = viewer.canvas
        canvas._handle_message(canvas, {"type": "initialized"}, [])
        viewer.slab, viewer.slab_thickness = slab, 10.0
        viewer.refresh()
        recorder = SendRecorder(canvas)
        times = []
        n = volume.shape[0]
        start = n // 2 - steps // 2
        for k in range(steps):
            sent = len(recorder.frames)
            t0 = time.perf_counter()
            viewer.index = start + k
            assert len(recorder.frames) == sent + 1, "each step must send exactly one frame"
            times.append(recorder.times[-1] - t0)
        out["viewer, no slab" if slab == "none" else "viewer, MIP 10 mm"] = times
        viewer.close()
    return out


def _roi_shapes(size: int) -> dict[str, list[tuple[float, float]]]:
    centre = size / 2
    angles = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    radius = 100 + 12 * np.sin(5 * angles)
    freehand = [(centre + r * np.sin(a), centre + r * np.cos(a)) for a, r in zip(angles, radius)]
    return {
        "ellipse": [(centre - 100, centre - 95), (centre + 100, centre + 95)],
        "rectangle": [(centre - 100, centre - 95.5), (centre + 100, centre + 95.5)],
        "polygon": freehand,
    }


def _naive_roi(kind: str, points, values: np.ndarray) -> dict[str, float]:
    from matplotlib.path import Path as MplPath

    rows, cols = values.shape
    if kind == "polygon":
        rr, cc = np.mgrid[:rows, :cols]
        centres = np.column_stack([cc.ravel(), rr.ravel()])
        mask = MplPath(np.asarray(points)[:, ::-1]).contains_points(centres).reshape(rows, cols)
    else:
        (r0, c0), (r1, c1) = points
        rr, cc = np.mgrid[:rows, :cols]
        if kind == "rectangle":
            mask = (
                (rr >= min(r0, r1))
                & (rr <= max(r0, r1))
                & (cc >= min(c0, c1))
                & (cc <= max(c0, c1))
            )
        else:
            rc, ccen, a, b = (r0 + r1) / 2, (c0 + c1) / 2, abs(r1 - r0) / 2, abs(c1 - c0) / 2
            mask = ((rr - rc) / a) ** 2 + ((cc - ccen) / b) ** 2 <= 1
    inside = values[mask].astype(np.float64)
    return {
        "mean": inside.mean(),
        "std": inside.std(),
        "min": inside.min(),
        "max": inside.max(),
        "median": float(np.median(inside)),
        "n_pixels": inside.size,
    }


def bench_roi(values: np.ndarray, repeats: int) -> dict[str, tuple[list[float], list[float], int]]:
    from dicom_widgets.measurements import roi_statistics

    out = {}
    for kind, points in _roi_shapes(values.shape[0]).items():
        ours, naive = [], []
        shifted = [np.asarray(points) + (0.37 * k, -0.21 * k) for k in range(repeats)]
        for pts in shifted:  # a drag: the ROI moves a little each update
            t0 = time.perf_counter()
            stats, _ = roi_statistics(kind, pts, values, (1.0, 1.0))
            ours.append(time.perf_counter() - t0)
        for pts in shifted:
            t0 = time.perf_counter()
            _naive_roi(kind, pts, values)
            naive.append(time.perf_counter() - t0)
        out[kind] = (ours, naive, int(stats["n_pixels"]))
    return out


def bench_edit(volume: np.ndarray, repeats: int) -> dict[str, tuple[list[float], list[float]]]:
    """A handle or body drag on a 10 mm MIP: each update re-measures on the projection.

    Ours: :meth:`MeasurementEdit.move` (drag geometry, the model's cached slab projection,
    statistics on the ROI's bounding box). Naive: ``np.max`` over the slab's planes and a
    full-image mask, as a viewer without a projection cache or box masks recomputes.
    """
    from dicom_widgets.view import ViewModel
    from dicom_widgets.view.measurement_layer import measurement_layer_of

    size = volume.shape[1]
    model = ViewModel(volume - np.int16(1024), spacing=(1.0, 200 / size, 200 / size))
    model.slab, model.slab_thickness = "mip", 10.0
    layer = measurement_layer_of(model)
    here = model.index
    slab = volume[here - 5 : here + 6].astype(np.float32) - 1024.0
    out = {}
    shapes = _roi_shapes(size)
    centre, half = size / 2, 0.3 * size
    grabs = {"ruler end": (centre, centre + half), **{k: (centre, centre) for k in shapes}}
    for kind, grab in grabs.items():
        m = layer.measure(
            "distance" if kind == "ruler end" else kind,
            [(centre, centre - half), (centre, centre + half)]
            if kind == "ruler end"
            else shapes[kind],
        )
        edit = layer.begin_edit(layer.hit(*grab, scale=(4.0, 4.0)), grab)
        moves = [(grab[0] + 0.37 * k, grab[1] - 0.21 * k) for k in range(1, repeats + 1)]
        ours, naive = [], []
        for row, col in moves:
            t0 = time.perf_counter()
            edit.move(row, col)
            ours.append(time.perf_counter() - t0)
        edit.finish()
        if kind != "ruler end":
            points = np.asarray(shapes[kind])
            for k, _ in enumerate(moves, start=1):
                t0 = time.perf_counter()
                _naive_roi(kind, points + (0.37 * k, -0.21 * k), slab.max(axis=0))
                naive.append(time.perf_counter() - t0)
        out[kind] = (ours, naive)
        layer.remove(m.uid)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=120)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    volume = make_volume(args.slices, args.size)
    print(
        f"volume {volume.shape} int16, {200 / args.size:.3f} mm pixels, 1 mm slices; "
        f"10 mm MIP: 11 axial planes, {2 * int(5 / (200 / args.size)) + 1} coronal planes; "
        f"{args.steps} steps per plane"
    )
    for view in ("acquired", "coronal"):
        results = bench_slab(volume, view, args.steps)
        naive_median = _stats(results["naive"])[0]
        max_median = _stats(results["np.max"])[0]
        print(f"\nslab step, {view} plane (median / p90 ms, ratio to naive)")
        for name, times in results.items():
            median, p90 = _stats(times)
            print(
                f"  {name:15s} {median:8.2f} / {p90:8.2f}   naive/this {naive_median / median:6.1f}x"
                f"   np.max/this {max_median / median:5.2f}x"
            )
    print("\nSeriesViewer step to the bytes sent, acquired plane (median / p90 ms)")
    for name, times in bench_viewer_slab(volume, args.steps).items():
        median, p90 = _stats(times)
        print(f"  {name:18s} {median:8.2f} / {p90:8.2f}")
    values = volume[volume.shape[0] // 2].astype(np.float32) - 1024.0
    print(f"\nROI statistics per drag update on {values.shape} (median / p90 ms)")
    for kind, (ours, naive, n_pixels) in bench_roi(values, args.repeats).items():
        ours_median, ours_p90 = _stats(ours)
        naive_median, naive_p90 = _stats(naive)
        print(
            f"  {kind:9s} {n_pixels:6d} px   roi_statistics {ours_median:6.2f} / {ours_p90:6.2f}"
            f"   full-image mask {naive_median:7.2f} / {naive_p90:7.2f}"
            f"   ratio {naive_median / ours_median:5.1f}x"
        )
    print("\nmove/resize drag update on a 10 mm MIP, re-measured (median / p90 ms)")
    for kind, (ours, naive) in bench_edit(volume, args.repeats).items():
        ours_median, ours_p90 = _stats(ours)
        line = f"  {kind:9s}   MeasurementEdit.move {ours_median:6.2f} / {ours_p90:6.2f}"
        if naive:
            naive_median, naive_p90 = _stats(naive)
            line += (
                f"   np.max + full-image mask {naive_median:7.2f} / {naive_p90:7.2f}"
                f"   ratio {naive_median / ours_median:5.1f}x"
            )
        print(line)


if __name__ == "__main__":
    main()
