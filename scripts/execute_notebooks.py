"""Execute the example notebooks in place, so their stored outputs match the code.

Each notebook runs top to bottom in a fresh ``python3`` kernel with ``notebooks/`` as
the working directory (the notebooks write their small sample data under
``notebooks/sample_data``), and is saved with its outputs and the widget state in
``metadata.widgets``: GitHub and nbviewer then show the HTML reprs and the widgets'
static parts without a kernel, and ``pytest --nbval`` compares against these outputs.

Usage::

    .venv/bin/python scripts/execute_notebooks.py                # every notebooks/*.ipynb
    .venv/bin/python scripts/execute_notebooks.py 01_quickstart  # only the ones named
    .venv/bin/python scripts/execute_notebooks.py --check        # run, but do not save
    python scripts/execute_notebooks.py --dir /tmp/copy/notebooks  # another folder (binder test)

A notebook that fails is left untouched on disk; the script goes on with the others
and exits non-zero, naming the failing cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def notebook_paths(names: list[str], folder: Path = NOTEBOOKS) -> list[Path]:
    """The notebooks to run, in file-name order (01_, 02_...)."""
    every = sorted(folder.glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).stem
        matches = [p for p in every if p.stem == stem or p.stem.startswith(stem)]
        if not matches:
            known = ", ".join(p.stem for p in every)
            raise SystemExit(f"no notebook matches {name!r}; known: {known}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def execute(
    path: Path, *, timeout: int = 600, kernel_name: str = "python3"
) -> nbformat.NotebookNode:
    """Run one notebook and return it with fresh outputs (raises CellExecutionError)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    # Stored outputs should not depend on who ran them where: drop per-run metadata.
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook names or prefixes (default: all)")
    parser.add_argument("--check", action="store_true", help="execute without saving")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    parser.add_argument(
        "--dir", type=Path, default=NOTEBOOKS, help="folder of the notebooks (default: notebooks/)"
    )
    args = parser.parse_args(argv)
    folder = args.dir.resolve()

    # Notebooks must not pick up a user's sample-data folder: they write their own, relative.
    os.environ.pop("DICOM_WIDGETS_DATA", None)

    failed = []
    for path in notebook_paths(args.names, folder):
        start = time.perf_counter()
        rel = path.relative_to(folder.parent)
        try:
            nb = execute(path, timeout=args.timeout, kernel_name=args.kernel)
        except CellExecutionError as exc:
            failed.append(str(rel))
            print(f"FAILED {rel}:\n{exc}", file=sys.stderr)
            continue
        except Exception as exc:  # kernel died / missing kernel / timeout: report, go on
            failed.append(str(rel))
            print(f"FAILED {rel}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if not args.check:
            nbformat.write(nb, path)
        print(f"ok {rel} ({time.perf_counter() - start:.1f} s)")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
