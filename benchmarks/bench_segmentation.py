"""Segmentation speed, side by side in one run: dicom-widgets vs highdicom and rt-utils.

Builds, in a temporary folder, a CT phantom series (300 x 512x512 by default), a DICOM
SEG with 100 segments over it (written by highdicom, BINARY, empty frames omitted; the
size of a TotalSegmentator output) and an RTSTRUCT with 10 ROIs (written by rt-utils).
Then, each timed in this one process, medians of ``--repeats`` runs:

* SEG, first overlaid slice: ``load_segmentation(path, series)`` + ``slice_labels(mid)``
  vs highdicom ``segread(path)`` + ``get_volume(combine_segments=True)`` (highdicom has
  no way to decode one slice of every segment without decoding the volume);
* SEG, full label volume: ``load_segmentation`` + ``label_volume()`` vs the same
  highdicom calls;
* RTSTRUCT, rasterise the 10 ROIs on every slice: ``load_segmentation(rt, series)`` +
  ``mask(roi)`` for each ROI vs rt-utils ``RTStructBuilder.create_from`` +
  ``get_roi_mask_by_name`` for each ROI. Both load the CT headers: ours from the
  already-loaded series, rt-utils reads the folder itself, so its load is also shown
  separately (``rt-utils masks only``).

The CT series is loaded once (``load_series``) before timing; a viewer has it already.

Run::

    .venv/bin/python benchmarks/bench_segmentation.py           # 300 x 512x512, 100 segments
    .venv/bin/python benchmarks/bench_segmentation.py --quick   # 60 x 256x256, 30 segments
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dicom_widgets as dw  # noqa: E402
from dicom_widgets.data import ct_phantom, write_series  # noqa: E402


def _ellipsoids(shape: tuple[int, int, int], n: int, seed: int = 0) -> np.ndarray:
    """A label volume of ``n`` random ellipsoids inside the phantom's field (later ones win)."""
    rng = np.random.default_rng(seed)
    slices, rows, cols = shape
    labels = np.zeros(shape, np.uint8 if n < 256 else np.uint16)
    scale = rows / 512
    for number in range(1, n + 1):
        rz = int(rng.integers(max(2, slices // 60), max(3, slices // 10)))
        ry, rx = (int(rng.integers(int(8 * scale) + 2, int(45 * scale) + 3)) for _ in range(2))
        cz = int(rng.integers(rz, slices - rz))
        cy = int(rng.integers(ry + rows // 8, rows - ry - rows // 8))
        cx = int(rng.integers(rx + cols // 8, cols - rx - cols // 8))
        z, y, x = np.ogrid[-rz : rz + 1, -ry : ry + 1, -rx : rx + 1]
        inside = (z / rz) ** 2 + (y / ry) ** 2 + (x / rx) ** 2 <= 1
        view = labels[cz - rz : cz + rz + 1, cy - ry : cy + ry + 1, cx - rx : cx + rx + 1]
        view[inside] = number
    return labels


def _median(fn, repeats: int) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _build(folder: Path, slices: int, size: int, n_segments: int, n_rois: int) -> dict:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    ct_dir = folder / "ct"
    t = time.perf_counter()
    datasets = ct_phantom(n_slices=slices, size=size)
    write_series(datasets, ct_dir, shuffle=True)
    series = dw.load_series(ct_dir, progress=False)
    labels = _ellipsoids(series.shape, n_segments)
    full = [dw._compat.read_dataset(p) for p in series.files]  # highdicom wants whole instances
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i,
            segment_label=f"organ {i}",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i in range(1, n_segments + 1)
    ]
    present = sorted(int(v) for v in np.unique(labels) if v)
    if present != list(range(1, n_segments + 1)):
        raise SystemExit(
            f"some segments were overwritten entirely: {sorted(set(range(1, n_segments + 1)) - set(present))}"
        )
    seg = hd.seg.Segmentation(
        source_images=full,
        pixel_array=labels,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="bench",
        manufacturer_model_name="bench",
        software_versions="1",
        device_serial_number="1",
        omit_empty_frames=True,
    )
    seg_path = folder / "seg.dcm"
    seg.save_as(seg_path)
    print(
        f"  SEG: {n_segments} segments, {int(seg.NumberOfFrames)} frames, "
        f"{seg_path.stat().st_size / 1e6:.0f} MB, built in {time.perf_counter() - t:.0f} s",
        flush=True,
    )
    rt_path = None
    roi_labels = None
    try:
        from rt_utils import RTStructBuilder

        t = time.perf_counter()
        rt = RTStructBuilder.create_new(dicom_series_path=str(ct_dir))
        roi_labels = _ellipsoids(series.shape, n_rois, seed=7)
        for number in range(1, n_rois + 1):
            # rt-utils takes masks as (rows, cols, slices) in its own slice order (by z).
            rt.add_roi(mask=np.transpose(roi_labels == number, (1, 2, 0)), name=f"roi {number}")
        rt_path = folder / "rt.dcm"
        rt.save(str(rt_path))
        print(
            f"  RTSTRUCT: {n_rois} ROIs written by rt-utils in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
    except ImportError:
        print("  rt-utils is not installed: RTSTRUCT comparison skipped")
    del full
    return {
        "series": series,
        "seg": seg_path,
        "rt": rt_path,
        "ct_dir": ct_dir,
        "labels": labels,
        "roi_labels": roi_labels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--segments", type=int, default=100)
    parser.add_argument("--rois", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="60 x 256x256, 30 segments")
    args = parser.parse_args()
    if args.quick:
        args.slices, args.size, args.segments = 60, 256, 30
    import highdicom as hd

    with tempfile.TemporaryDirectory(prefix="dw-bench-seg-") as tmp:
        print(
            f"building {args.slices} x {args.size}x{args.size} CT, SEG and RTSTRUCT in {tmp}",
            flush=True,
        )
        built = _build(Path(tmp), args.slices, args.size, args.segments, args.rois)
        series, seg_path, labels = built["series"], built["seg"], built["labels"]
        mid = len(series) // 2
        hd.seg.segread(seg_path)  # warm: highdicom loads its 22 MB standard tables once

        def ours_first() -> np.ndarray:
            return dw.load_segmentation(seg_path, series).slice_labels(mid)

        def ours_volume() -> np.ndarray:
            return dw.load_segmentation(seg_path, series).label_volume()

        def theirs_volume() -> np.ndarray:
            return hd.seg.segread(seg_path).get_volume(combine_segments=True).array

        t_first, first = _median(ours_first, args.repeats)
        t_ours, ours = _median(ours_volume, args.repeats)
        t_hd, theirs = _median(theirs_volume, args.repeats)
        assert np.array_equal(first, labels[mid]) and np.array_equal(ours, labels)
        # highdicom's volume may run z descending and span only the SEG's frames; compare
        # its per-source-instance pixels, which follow the series' slice order.
        uids = [series.frame_ref(k).sop_uid for k in range(len(series))]
        by_source = hd.seg.segread(seg_path).get_pixels_by_source_instance(
            uids, combine_segments=True
        )
        agree = np.array_equal(by_source, labels)
        del theirs
        lines = [
            "",
            f"SEG {args.segments} segments over {args.slices} x {args.size}x{args.size} (median of {args.repeats})",
            f"  highdicom segread + get_volume        {t_hd:8.2f} s   (voxels agree: {agree})",
            f"  dicom-widgets load + first slice      {t_first:8.3f} s   {t_hd / t_first:6.1f}x sooner",
            f"  dicom-widgets load + label_volume     {t_ours:8.2f} s   {t_ours / t_hd:6.2f}x highdicom's time",
        ]
        if built["rt"] is not None:
            from rt_utils import RTStructBuilder

            rt_path, ct_dir = built["rt"], built["ct_dir"]
            names = [f"roi {n}" for n in range(1, args.rois + 1)]

            def ours_rt() -> list[np.ndarray]:
                seg = dw.load_segmentation(rt_path, series)
                return [seg.mask(name) for name in names]

            def theirs_rt() -> list[np.ndarray]:
                rt = RTStructBuilder.create_from(
                    dicom_series_path=str(ct_dir), rt_struct_path=str(rt_path)
                )
                return [rt.get_roi_mask_by_name(name) for name in names]

            loaded = RTStructBuilder.create_from(
                dicom_series_path=str(ct_dir), rt_struct_path=str(rt_path)
            )

            def theirs_masks_only() -> list[np.ndarray]:
                return [loaded.get_roi_mask_by_name(name) for name in names]

            t_rt_ours, masks = _median(ours_rt, args.repeats)
            t_rt_theirs, their_masks = _median(theirs_rt, args.repeats)
            t_rt_masks, _ = _median(theirs_masks_only, args.repeats)

            def dice(a: np.ndarray, b: np.ndarray) -> float:
                total = int(a.sum()) + int(b.sum())
                return 2 * int((a & b).sum()) / total if total else 1.0

            truth = built["roi_labels"]
            dices = [dice(m, np.transpose(o, (2, 0, 1))) for m, o in zip(masks, their_masks)]
            ours_truth = [dice(m, truth == n) for n, m in enumerate(masks, start=1)]
            theirs_truth = [
                dice(np.transpose(o, (2, 0, 1)), truth == n)
                for n, o in enumerate(their_masks, start=1)
            ]
            # Where ours and the contoured masks differ: voxels left out (and how many of them
            # on the mask's outline, where rt-utils' contours run through pixel centres) or added.
            lost = sum(int((truth == n)[~m].sum()) for n, m in enumerate(masks, start=1))
            added = sum(int(m[truth != n].sum()) for n, m in enumerate(masks, start=1))
            lines += [
                "",
                f"RTSTRUCT {args.rois} ROIs on {args.slices} slices, rasterised (median of {args.repeats})",
                f"  rt-utils create_from + masks          {t_rt_theirs:8.2f} s",
                f"  rt-utils masks only (loaded before)   {t_rt_masks:8.2f} s",
                f"  dicom-widgets load + masks            {t_rt_ours:8.2f} s   "
                f"{t_rt_theirs / t_rt_ours:6.1f}x faster ({t_rt_masks / t_rt_ours:.1f}x vs masks only)",
                f"  Dice vs rt-utils' own masks: min {min(dices):.3f}, mean {np.mean(dices):.3f}",
                f"  Dice vs the masks rt-utils contoured: ours mean {np.mean(ours_truth):.3f}, "
                f"rt-utils mean {np.mean(theirs_truth):.3f}",
                f"  ours vs the contoured masks: {lost} voxel(s) left out, {added} added "
                f"(of {int((truth > 0).sum())})",
            ]
        print("\n".join(lines))


if __name__ == "__main__":
    main()
