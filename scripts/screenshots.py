"""Regenerate the README screenshots of each widget, from a real JupyterLab and Chromium.

Every picture is taken the way the browser tests see the widgets (same server, same
browser, same waits on conditions), on the bundled phantoms, so the images are
reproducible and never hand-edited.

Usage::

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only viewer,tags]

Writes ``viewer.png``, ``viewer_ortho.png``, ``measurements.png``, ``tag_explorer.png``, ``anonymization.png``,
``dataset_repr.png``, ``series_repr.png`` and ``segmentation.png``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from harness import JupyterServer, NotebookPage, find_chromium, launch_browser, write_notebook  # noqa: E402

SETUP = """\
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom"""


def _shown_viewer(nb: NotebookPage, name: str, cells: list[str]) -> tuple[object, object]:
    """Run ``cells`` and wait until their viewer's canvas shows a picture: (viewer, canvas)."""
    _run(nb, name, cells)
    viewer = nb.page.locator(".dw-series-viewer").first
    canvas = viewer.locator(".jupyter-matplotlib-canvas-div canvas").first
    canvas.wait_for(state="visible")
    nb.wait_pixels(canvas, min_colours=3)
    return viewer, canvas


def _viewer(nb: NotebookPage, view: str) -> object:
    cells = [
        SETUP,
        "series = dw.load_series(ct_phantom(n_slices=48, size=256), progress=False)\n"
        f"viewer = dw.SeriesViewer(series, window='brain', size=448, view={view!r})\n"
        "viewer",
    ]
    viewer, canvas = _shown_viewer(nb, f"shot_viewer_{view}", cells)
    # Hover the image so the readout line shows what it offers.
    box = canvas.bounding_box()
    nb.page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)
    viewer.get_by_text(re.compile(r"slice \d+\s+row")).first.wait_for()
    return viewer


def shot_viewer(nb: NotebookPage) -> object:
    return _viewer(nb, "acquired")


def shot_viewer_ortho(nb: NotebookPage) -> object:
    return _viewer(nb, "ortho")


def shot_measurements(nb: NotebookPage) -> object:
    cells = [
        SETUP,
        "series = dw.load_series(ct_phantom(n_slices=48, size=256), progress=False)\n"
        "viewer = dw.SeriesViewer(series, window='brain', size=448, index=26)\n"
        "viewer.measure('distance', [(128, 33), (128, 222)], label='width')\n"
        "viewer.measure('ellipse', [(118, 142), (134, 156)], label='CSF')\n"
        "viewer.measure('rectangle', [(60, 6), (80, 30)], label='air')\n"
        "viewer.measure('angle', [(60, 100), (90, 128), (60, 156)], label='angle')\n"
        "viewer",
    ]
    viewer, _ = _shown_viewer(nb, "shot_measurements", cells)
    viewer.locator("table.dw-measurements tbody tr").nth(3).wait_for(state="visible")
    return viewer


def shot_tag_explorer(nb: NotebookPage) -> object:
    cells = [SETUP, "explorer = dw.TagExplorer(ct_phantom(n_slices=8, size=64))\nexplorer"]
    _run(nb, "shot_tags", cells)
    page = nb.page
    search = page.get_by_placeholder(re.compile(r"^search: keyword"))
    search.click()
    search.press_sequentially("window", delay=20)
    page.wait_for_function("() => document.querySelectorAll('table.dw-tags tbody tr').length === 3")
    select = page.locator(".widget-select select").first
    option = select.locator("option", has_text="WindowCenter:").first
    select.select_option(value=option.get_attribute("value"))
    expression = page.locator(".widget-text", has_text="Python").locator("input").first
    page.wait_for_function(
        "(el) => el.value === 'ds.WindowCenter'", arg=expression.element_handle()
    )
    return page.locator(".jp-OutputArea-output").last


def shot_anonymization(nb: NotebookPage) -> object:
    cells = [
        SETUP,
        "preview = dw.AnonymizationPreview(\n"
        "    ct_phantom(n_slices=3, size=64), canvas='image', page_size=10)\n"
        "preview",
    ]
    _run(nb, "shot_anon", cells)
    root = nb.page.locator(".dw-anonymization-preview").first
    root.locator("tr").first.wait_for(state="visible")
    return root


def shot_dataset_repr(nb: NotebookPage) -> object:
    cells = ["%load_ext dicom_widgets", SETUP, "ct_phantom(n_slices=1, size=128)[0]"]
    _run(nb, "shot_ds_repr", cells)
    out = nb.page.locator(".jp-OutputArea-output .dw-repr").first
    out.locator(".dw-section").first.wait_for(state="visible")
    return out


def shot_series_repr(nb: NotebookPage) -> object:
    cells = [SETUP, "dw.load_series(ct_phantom(n_slices=24, size=128), progress=False)"]
    _run(nb, "shot_series_repr", cells)
    out = nb.page.locator(".jp-OutputArea-output .dw-repr").first
    out.wait_for(state="visible")
    return out


def shot_segmentation(nb: NotebookPage) -> object:
    cells = [
        SETUP,
        "import numpy as np\n"
        "series = dw.load_series(ct_phantom(n_slices=48, size=256), progress=False)\n"
        "volume = series.volume()\n"
        "labels = np.zeros(series.shape, np.uint8)\n"
        "labels[volume > 300] = 1\n"
        "labels[(volume > 55) & (volume < 90)] = 2\n"
        "seg = dw.load_segmentation(labels, series, labels={1: 'bone', 2: 'haemorrhage'})\n"
        "viewer = dw.SeriesViewer(series, window='brain', size=448, index=24)\n"
        "viewer.add_segmentation(seg, alpha=0.45)\n"
        "viewer",
    ]
    viewer, _ = _shown_viewer(nb, "shot_segmentation", cells)
    viewer.locator(".dw-segment-legend").wait_for(state="visible")
    return viewer


SHOTS: dict[str, Callable[[NotebookPage], object]] = {
    "viewer": shot_viewer,
    "viewer_ortho": shot_viewer_ortho,
    "measurements": shot_measurements,
    "segmentation": shot_segmentation,
    "tag_explorer": shot_tag_explorer,
    "anonymization": shot_anonymization,
    "dataset_repr": shot_dataset_repr,
    "series_repr": shot_series_repr,
}


def _run(nb: NotebookPage, name: str, cells: list[str]) -> None:
    write_notebook(nb.server.root_dir / f"{name}.ipynb", cells)
    nb.open(f"{name}.ipynb")
    nb.run_all()


def _snap(page: object, element: object, target: Path, max_height: int) -> None:
    """Screenshot ``element`` (its top ``max_height`` pixels) after scrolling it to the top."""
    element.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_function("() => new Promise(r => requestAnimationFrame(() => r(true)))")
    box = element.bounding_box()
    clip = {"x": box["x"], "y": box["y"], "width": box["width"],
            "height": min(box["height"], max_height)}  # fmt: skip
    page.screenshot(path=str(target), clip=clip, animations="disabled")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--max-height", type=int, default=900, help="crop taller widgets (px)")
    parser.add_argument("--only", default="", help="comma-separated names: " + ", ".join(SHOTS))
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SHOTS)
    unknown = sorted(set(names) - set(SHOTS))
    if unknown:
        parser.error(f"unknown screenshot(s) {unknown}; choose from {list(SHOTS)}")
    if find_chromium() is None:
        print("Chromium not found: run `bash scripts/install-system-packages.sh` as root")
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    failures = 0
    with JupyterServer() as server, sync_playwright() as p:
        browser = launch_browser(p)
        try:
            for name in names:
                started = time.monotonic()
                # Tall enough that a whole widget is on screen: JupyterLab scrolls inside a panel.
                context = browser.new_context(viewport={"width": 1400, "height": 2000})
                nb = NotebookPage(context.new_page(), server, timeout_ms=120_000)
                try:
                    element = SHOTS[name](nb)
                    target = args.out / f"{name}.png"
                    _snap(nb.page, element, target, args.max_height)
                    errors = nb.widget_errors()
                    if errors:
                        raise RuntimeError("; ".join(errors))
                    print(f"{target.relative_to(REPO) if target.is_relative_to(REPO) else target}"
                          f"  ({time.monotonic() - started:.1f} s)")  # fmt: skip
                except Exception as exc:
                    failures += 1
                    print(f"{name}: FAILED: {exc}", file=sys.stderr)
                finally:
                    context.close()
        finally:
            browser.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
