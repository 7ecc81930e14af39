"""Benchmark: burned-in PHI found by the detector against plain Tesseract, and time per frame.

Twelve 640x480 images with burned-in PHI (``burned_in_phantom``: six ultrasound-like, RGB
and greyscale, speckle sector on black; six secondary captures, 8-bit, 16-bit and
MONOCHROME1, light gradient with a textured picture inset; DejaVu Sans / Mono / Serif /
Bold / Condensed at 11 to 22 px, several colours and positions, one line over the picture
itself). Each has five lines of identity (name, ID, birth date, accession number,
institution) and device text.

Side by side, in one run, on the same display frames:

- **plain Tesseract**: ``image_to_data`` on the grey display frame, default settings, no
  preprocessing (what the issue measured: 43 of 48 PHI words);
- **detector**: ``find_text_regions`` (contrast stretch, inversion, local-contrast
  thresholding, upscaled line crops, two page-segmentation modes, fuzzy header matching).

A PHI word counts as found when a reading of the text at its place matches it (the same
matcher for both); for the detector the region must also be flagged as PHI (so it is
what ``text_regions="detect"`` blanks). Then every image is blanked with
``text_regions="detect"`` and read again by plain Tesseract and the detector, with the same
criterion: the PHI words still found are printed (target: none), and so are the PHI words
whose drawn line lies under the boxes blanked (at least 95% of the line's box; target: all).

Times are per frame, single-threaded Tesseract (``OMP_THREAD_LIMIT=1``): wall time, and
CPU time (this process and its Tesseract children), which is what one core spends and does
not grow when other work shares the machine; target: about 1 s or less for the detector.
The machine's load is printed.

Run: ``.venv/bin/python benchmarks/bench_text_regions.py`` (``--quick``: four images).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import numpy as np  # noqa: E402

from dicom_widgets.data import BurnedInImage, burned_in_phantom  # noqa: E402
from dicom_widgets.deid.text_regions import (  # noqa: E402
    HeaderValue,
    _canonical,
    _display_frame,
    _to_grey,
    clean_burned_in_text,
    find_text_regions,
    tesseract_version,
    text_matches,
)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the tesseract runs): unlike wall
    time it does not grow when other work shares the cores."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def images(quick: bool) -> list[BurnedInImage]:
    out = []
    for variant in range(2 if quick else 6):
        out.append(
            burned_in_phantom(
                "US", variant=variant, photometric="RGB" if variant % 2 == 0 else "MONOCHROME2"
            )
        )
    for variant in range(2 if quick else 6):
        out.append(
            burned_in_phantom(
                "SC",
                variant=variant,
                photometric="MONOCHROME1" if variant == 3 else None,
                bits=16 if variant in (3, 4) else 8,
            )
        )
    return out


def plain_tesseract(grey: np.ndarray) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Words and boxes of plain Tesseract (default page segmentation, no preprocessing)."""
    import pytesseract
    from PIL import Image

    data = pytesseract.image_to_data(Image.fromarray(grey), output_type=pytesseract.Output.DICT)
    return [
        (
            data["text"][i],
            (
                data["top"][i],
                data["left"][i],
                data["top"][i] + data["height"][i],
                data["left"][i] + data["width"][i],
            ),
        )
        for i in range(len(data["text"]))
        if data["text"][i].strip()
    ]


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _value(word: str) -> list[HeaderValue]:
    return [HeaderValue("word", word, _canonical(word))]


def count_found(image: BurnedInImage, plain_words, detection) -> tuple[int, int, int]:
    total = plain = ours = 0
    for line in image.texts:
        for word in line.phi_words:
            total += 1
            text = " ".join(t for t, box in plain_words if _overlaps(box, line.box))
            plain += bool(text_matches(text, _value(word)))
            ours += any(
                r.is_phi
                and _overlaps(r.box, line.box)
                and any(text_matches(t, _value(word)) for t in r.readings)
                for r in detection.regions
            )
    return total, plain, ours


def count_covered(image: BurnedInImage, blanked) -> int:
    """PHI words whose drawn line lies (at least 95% of its box) under the blanked boxes."""
    rows, cols = int(image.dataset.Rows), int(image.dataset.Columns)
    under = np.zeros((rows, cols), dtype=bool)
    for region in blanked:
        r0, c0, r1, c1 = region.box
        under[r0:r1, c0:c1] = True
    covered = 0
    for line in image.texts:
        r0, c0, r1, c1 = line.box
        if line.phi_words and under[r0:r1, c0:c1].mean() >= 0.95:
            covered += len(line.phi_words)
    return covered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four images instead of twelve")
    args = parser.parse_args()
    print(f"tesseract {tesseract_version()}; load average {os.getloadavg()[0]:.2f} (2 cores)")
    total = plain_found = ours_found = 0
    plain_times, our_times, plain_cpu, our_cpu, clean_cpu = [], [], [], [], []
    left_plain = left_ours = covered = 0
    print(
        f"{'image':<28} {'PHI':>4} {'plain':>6} {'ours':>5} {'plain s':>8} {'ours s':>7} "
        f"{'plain cpu':>9} {'ours cpu':>8}"
    )
    for image in images(args.quick):
        ds = image.dataset
        grey = _to_grey(_display_frame(ds, 0))
        start, cpu = time.perf_counter(), cpu_seconds()
        plain_words = plain_tesseract(grey)
        plain_times.append(time.perf_counter() - start)
        plain_cpu.append(cpu_seconds() - cpu)
        start, cpu = time.perf_counter(), cpu_seconds()
        detection = find_text_regions(ds)
        our_times.append(time.perf_counter() - start)
        our_cpu.append(cpu_seconds() - cpu)
        n, p, o = count_found(image, plain_words, detection)
        total, plain_found, ours_found = total + n, plain_found + p, ours_found + o
        label = f"{ds.Modality} {ds.PhotometricInterpretation} {ds.BitsStored}-bit"
        print(
            f"{label:<28} {n:>4} {p:>6} {o:>5} {plain_times[-1]:>8.2f} {our_times[-1]:>7.2f} "
            f"{plain_cpu[-1]:>9.2f} {our_cpu[-1]:>8.2f}"
        )
        # Blank with "detect", then read the output again with both.
        work = ds.copy()
        work.file_meta = ds.file_meta
        cpu = cpu_seconds()
        # detect, blank, read the blanked image again
        cleaning = clean_burned_in_text(work, "detect")
        clean_cpu.append(cpu_seconds() - cpu)
        after_plain = plain_tesseract(_to_grey(_display_frame(work, 0)))
        after_ours = find_text_regions(work, header=ds)
        _, p_after, o_after = count_found(image, after_plain, after_ours)
        left_plain += p_after
        left_ours += o_after
        covered += count_covered(image, cleaning.blanked)
    plain_mean, ours_mean = float(np.mean(plain_times)), float(np.mean(our_times))
    print()
    print(
        f"PHI words found before blanking: plain Tesseract {plain_found}/{total}, "
        f"detector {ours_found}/{total}"
    )
    print(f"PHI words whose line text_regions='detect' blanked (95% of its box): {covered}/{total}")
    print(
        f"PHI words read again after text_regions='detect' (same criterion): plain Tesseract "
        f"{left_plain}, detector {left_ours} (of {total})"
    )
    print(
        f"wall time per 640x480 frame: plain {plain_mean:.2f} s, detector {ours_mean:.2f} s "
        f"({ours_mean / plain_mean:.1f}x plain)"
    )
    cpu_plain, cpu_ours = float(np.mean(plain_cpu)), float(np.mean(our_cpu))
    print(
        f"CPU time per 640x480 frame (one core, Tesseract single-threaded): plain "
        f"{cpu_plain:.2f} s, detector {cpu_ours:.2f} s ({cpu_ours / cpu_plain:.1f}x plain); "
        f"text_regions='detect' per image (detect, blank, read again): "
        f"{float(np.mean(clean_cpu)):.2f} s"
    )


if __name__ == "__main__":
    main()
