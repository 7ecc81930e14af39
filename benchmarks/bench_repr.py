"""Benchmark: time to render the HTML repr of a dataset, beside ``str(ds)``.

Datasets:

- ``CT_small``: pydicom's small CT file (header + 128x128 pixels, thumbnail included);
- ``synthetic``: about 10,000 elements (public header, 40 private blocks, a 600-item
  sequence), built by :func:`bench_tags.synthetic`;
- ``philips_enhanced_mr``: a Philips-style enhanced MR header: 300 frames of per-frame
  functional groups with a private sequence of 40 elements each (:func:`bench_tags.philips_enhanced_mr`).

For each: ``str(ds)`` (what pydicom prints), ``dataset_html(ds)`` with the default caps
(10 items per sequence, 5,000 rows, 1.5 MB of rows) and with no caps at all, the
``text/plain`` part registered by ``enable_reprs`` (``str(ds)`` up to 2,000 elements, a
summary beyond) and the whole display bundle, with the size of each output. Also the Series repr of a 48-slice CT phantom. Best of 3 runs,
wall and CPU time (the machine is shared).

Run: ``.venv/bin/python benchmarks/bench_repr.py``
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tags import philips_enhanced_mr, synthetic  # noqa: E402

import dicom_widgets as dw  # noqa: E402
from dicom_widgets._compat import read_dataset  # noqa: E402
from dicom_widgets.data import ct_phantom, pydicom_file  # noqa: E402
from dicom_widgets.html import dataset_html, dataset_plain_text, series_html  # noqa: E402
from dicom_widgets.tags import flatten  # noqa: E402

REPEATS = 3
UNCAPPED = {"max_items_per_sequence": None, "max_rows": None, "max_html_chars": 10**10}


def _timed(func: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    result = func()
    return time.perf_counter() - w0, time.process_time() - c0, result


def _best(func: Any, repeats: int = REPEATS) -> tuple[float, float, Any]:
    """Best of ``repeats`` calls (timeit's rule: the minimum is the least disturbed run)."""
    runs = [_timed(func) for _ in range(repeats)]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


def _line(
    label: str, wall: float, cpu: float, size: int | None = None, ref: float | None = None
) -> str:
    out = f"  {label:<34} {wall * 1000:9.1f} ms wall {cpu * 1000:9.1f} ms CPU"
    if size is not None:
        out += f"  {size / 1e6:7.2f} MB"
    if ref:
        out += f"  ({wall / ref:5.1f}x str(ds))"
    return out


def bench_dataset(name: str, ds: Any) -> None:
    rows = flatten(ds)
    print(f"\n== {name}: {len(rows):,} rows when flattened, best of {REPEATS}")
    w_str, c_str, text = _best(lambda: str(ds))
    print(_line("str(ds)", w_str, c_str, len(text)))
    w, c, html = _best(lambda: dataset_html(ds))
    print(_line("dataset_html(ds)  [default caps]", w, c, len(html), w_str))
    capped = [
        note for note in ("more item", "Header truncated", "Output truncated") if note in html
    ]
    print(f"  {'':<34} caps said in the output: {', '.join(capped) or 'none needed'}")
    w, c, html = _best(lambda: dataset_html(ds, **UNCAPPED))
    print(_line("dataset_html(ds)  [no caps]", w, c, len(html), w_str))
    w, c, _ = _best(lambda: dataset_html(ds, thumbnail=False))
    print(_line("dataset_html(ds, thumbnail=False)", w, c, None, w_str))
    w, c, text = _best(lambda: dataset_plain_text(ds))
    print(_line("dataset_plain_text(ds) [text/plain]", w, c, len(text), w_str))
    w, c, _ = _best(lambda: (dataset_html(ds), dataset_plain_text(ds)))
    print(_line("whole display bundle (html + text)", w, c, None, w_str))


def main() -> None:
    bench_dataset("CT_small", read_dataset(pydicom_file("ct_small")))
    bench_dataset("synthetic (~10,000 elements)", synthetic())
    bench_dataset("philips_enhanced_mr (300 frames)", philips_enhanced_mr())

    series = dw.load_series(ct_phantom(n_slices=48, size=256), progress=False)
    print("\n== Series repr: CT phantom, 48 slices of 256x256, 5 thumbnails")
    w_str, c_str, text = _best(lambda: repr(series))
    print(_line("repr(series)", w_str, c_str, len(text)))
    w, c, html = _best(lambda: series_html(series))
    print(_line("series_html(series)", w, c, len(html)))


if __name__ == "__main__":
    main()
