"""What a notebook reader gets: stored outputs (GitHub, nbviewer) and the Binder environment.

The fast tests check the stored notebooks themselves: executed in order without errors, widget
state saved for every displayed widget, static HTML fallbacks present, no machine-specific paths,
and that nbval really fails when a compared output changes.

The Binder environment, built from exactly the files in ``binder/``, runs every notebook.

Binder (repo2docker) installs ``binder/requirements.txt``, then runs ``binder/postBuild``
from the repository root. This test does the same in a FRESH virtualenv (no packages
from the development environment), on a copy of the checkout, and then executes every
notebook in ``notebooks/`` with nbclient in that environment. So a Binder user gets
what the tests saw: if a notebook needs a package the Binder files do not install, or
postBuild breaks, this fails.

It needs the package registry (PyPI) and takes a few minutes; it is marked ``slow``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# The Binder build and the nbval self-check run once, in the main test environment (the `test`
# extra); the core-only environment (pydicom 2.4, `test-core`) has no nbval and skips them.
full_test_env = pytest.mark.skipif(
    importlib.util.find_spec("nbval") is None,
    reason="needs the `test` extra (nbval); runs in the main test environment",
)
SANITIZE = ROOT / "notebooks" / "sanitize.cfg"

# What a fresh clone would not contain (development environments, caches, outputs).
_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "build",
    "dist",
    "sample_data",
    "output",
    ".ipynb_checkpoints",
)


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 1200) -> str:
    """Run a command; on failure show its output, which is the only useful diagnosis."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc.stdout


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """(venv, repository copy, environment) built as Binder builds it."""
    base = tmp_path_factory.mktemp("binder")
    repo = base / "repo"
    shutil.copytree(ROOT, repo, ignore=_IGNORE, symlinks=True)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / "bin"
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing from the development environment may leak into the fresh one.
        if key
        not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MPLBACKEND", "DICOM_WIDGETS_DATA"}
        and not key.startswith(("JUPYTER", "PIP_TARGET", "PIP_PREFIX"))
    }
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    # Kernel specs and Jupyter config from the user's home must not be used.
    env["JUPYTER_DATA_DIR"] = str(base / "jupyter-data")
    env["JUPYTER_CONFIG_DIR"] = str(base / "jupyter-config")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    python = str(bindir / "python")
    _run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], cwd=repo, env=env)
    _run(
        [python, "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
    )
    _run(["bash", "binder/postBuild"], cwd=repo, env=env)
    return venv, repo, env


def _outputs(nb: dict):
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            yield from cell.get("outputs", [])


def _text(output: dict) -> str:
    parts = [output.get("text", "")]
    for mime in ("text/plain", "text/html"):
        parts.append(output.get("data", {}).get(mime, ""))
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def test_the_five_notebooks_are_there():
    names = [p.stem for p in NOTEBOOKS]
    for expected in [
        "01_quickstart",
        "02_series_qa",
        "03_dicom_101",
        "04_anonymization",
        "05_ai_workflow",
    ]:
        assert expected in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebook_is_executed_in_order_without_errors(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), "re-run scripts/execute_notebooks.py"
    errors = [o for o in _outputs(nb) if o["output_type"] == "error"]
    assert not errors, errors[0]
    assert any(o["output_type"] != "stream" for o in _outputs(nb)), "no rich output stored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_widgets_render_without_a_kernel(path):
    """Every displayed widget has its state saved; every dicom-widgets repr has a text fallback."""
    nb = json.loads(path.read_text())
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = [
        o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for o in _outputs(nb)
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views, "each notebook shows at least one widget"
    assert all(model_id in state for model_id in views)
    for output in _outputs(nb):
        html = output.get("data", {}).get("text/html", "")
        html = "".join(html) if isinstance(html, list) else html
        if 'class="dw-repr"' in html:
            assert "dw-text-repr-fallback" in html


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_have_no_machine_paths(path):
    import re

    nb = json.loads(path.read_text())
    pattern = re.compile(r"(?<![\w.])/(?:work|home|root|tmp|Users|var/folders)/")
    for output in _outputs(nb):
        found = pattern.search(_text(output))
        assert found is None, _text(output)[max(0, found.start() - 80) : found.end() + 80]


@pytest.mark.slow
@full_test_env
def test_nbval_fails_when_a_compared_output_changes(tmp_path):
    """The stored outputs are a real check: change one printed line and nbval must fail."""
    source = ROOT / "notebooks" / "02_series_qa.ipynb"
    nb = json.loads(source.read_text())
    changed = False
    for output in _outputs(nb):
        text = "".join(output.get("text", ""))
        if output["output_type"] == "stream" and "uniform spacing: False" in text:
            output["text"] = text.replace("uniform spacing: False", "uniform spacing: True")
            changed = True
    assert changed
    for name, content in [("same", source.read_text()), ("changed", json.dumps(nb))]:
        (tmp_path / name).mkdir()
        (tmp_path / name / source.name).write_text(content)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-sanitize-with",
        str(SANITIZE),
        "-p",
        "no:cacheprovider",
        "-q",
        "--rootdir",
        str(tmp_path),
    ]
    env = {k: v for k, v in os.environ.items() if k not in {"MPLBACKEND", "DICOM_WIDGETS_DATA"}}
    same = subprocess.run(
        [*command, str(tmp_path / "same")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert same.returncode == 0, (
        "the stored outputs are stale: run scripts/execute_notebooks.py\n" + same.stdout[-3000:]
    )
    changed_run = subprocess.run(
        [*command, str(tmp_path / "changed")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert changed_run.returncode != 0
    assert "uniform spacing: True" in changed_run.stdout


def test_binder_files_exist():
    assert (BINDER / "requirements.txt").is_file()
    post_build = BINDER / "postBuild"
    assert post_build.is_file() and os.access(post_build, os.X_OK), "postBuild must be executable"
    start = BINDER / "start"
    assert os.access(start, os.X_OK), "binder/start must be executable"
    assert 'exec "$@"' in start.read_text(), "binder/start must hand over to the server"


@pytest.mark.slow
@pytest.mark.timeout(1800)
@full_test_env
def test_binder_environment_uses_the_installed_package(binder_env):
    venv, repo, env = binder_env
    code = textwrap.dedent(
        """
        import json, sys, dicom_widgets, ipympl, ipywidgets, jupyterlab, pydicom
        import pylibjpeg, pandas, nibabel
        print(json.dumps({"prefix": sys.prefix, "package": dicom_widgets.__file__}))
        """
    )
    out = json.loads(
        _run([str(venv / "bin" / "python"), "-c", code], cwd=venv, env=env).splitlines()[-1]
    )
    assert Path(out["prefix"]).resolve() == venv.resolve()
    # A real install into the venv, not the checkout on sys.path.
    assert Path(out["package"]).resolve().is_relative_to(venv.resolve())
    # postBuild wrote the sample series the quickstart opens.
    assert any((repo / "notebooks" / "sample_data" / "ct").glob("*.dcm"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@full_test_env
def test_binder_kernel_is_the_binder_environment(binder_env, tmp_path):
    """The ``python3`` kernel that runs the notebooks is the venv's, not ours."""
    venv, _repo, env = binder_env
    probe = tmp_path / "probe.ipynb"
    probe.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "metadata": {},
                        "outputs": [],
                        "source": "import sys, dicom_widgets\nprint(sys.prefix)",
                    }
                ],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )
    code = textwrap.dedent(
        f"""
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(probe)!r}, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=120).execute()
        print(nb.cells[0].outputs[0]["text"].strip())
        """
    )
    out = _run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=env)
    assert Path(out.strip().splitlines()[-1]).resolve() == venv.resolve()


@pytest.mark.slow
@pytest.mark.timeout(1800)
@full_test_env
def test_binder_runs_every_notebook(binder_env):
    """Every notebook executes top to bottom in the Binder environment."""
    venv, repo, env = binder_env
    notebooks = sorted((repo / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 5, [p.name for p in notebooks]
    out = _run(
        [
            str(venv / "bin" / "python"),
            str(repo / "scripts" / "execute_notebooks.py"),
            "--dir",
            str(repo / "notebooks"),
        ],
        cwd=repo,
        env=env,
        timeout=1500,
    )
    for path in notebooks:
        assert f"ok notebooks/{path.name}" in out, out
    # Executed in place in the copy: outputs and the widget state are there.
    for path in notebooks:
        nb = json.loads(path.read_text())
        n_outputs = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
        assert n_outputs > 0, path.name
        errors = [
            o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"
        ]
        assert not errors, (path.name, errors)
