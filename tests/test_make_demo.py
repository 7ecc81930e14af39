"""`make demo` starts a JupyterLab server that serves the quickstart notebook.

The test runs the real target headless on a free localhost port with a token, fetches
``notebooks/01_quickstart.ipynb`` over HTTP through the contents API, and stops the
server (and everything it started) also when the test fails.

``make -o .venv/.installed`` treats the install stamp as up to date: this checks the demo
recipe itself (sample data, then JupyterLab on the quickstart). Creating ``.venv`` is the
same rule ``make test`` has just run to get here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from harness import free_port, http_json, stop_process_group, wait_for_status  # noqa: E402


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def demo_server(tmp_path):
    """``make demo`` on a free port; yields (base_url, token); always stopped."""
    if shutil.which("make") is None or not (REPO / ".venv" / "bin" / "jupyter").exists():
        reason = "make demo needs `make` and the project's .venv (run `make demo` once)"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    port, token = free_port(), secrets.token_hex(16)
    demo_args = " ".join(
        [
            "--no-browser",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            "--allow-root",
            f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.pop("MPLBACKEND", None)
    env.update(
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-o", ".venv/.installed", "demo",
             f"DEMO_ARGS={demo_args}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # so make, jupyter and its kernels stop as one group
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for_status(base, token, timeout=240, proc=proc)
            except Exception as exc:
                pytest.fail(f"make demo did not serve: {exc}\n{log_path.read_text()[-4000:]}")
            yield base, token
        finally:
            stop_process_group(proc)


def test_make_demo_serves_quickstart(demo_server):
    base, token = demo_server
    model = http_json(f"{base}/api/contents/01_quickstart.ipynb?content=1", token)
    assert model["type"] == "notebook"
    assert model["name"] == "01_quickstart.ipynb"
    notebook = model["content"]
    assert notebook["nbformat"] == 4
    assert any(cell["cell_type"] == "code" for cell in notebook["cells"])
    # The server's root is notebooks/, where the demo wrote the sample series.
    listing = http_json(f"{base}/api/contents/?content=1", token)
    names = {entry["name"] for entry in listing["content"]}
    assert "sample_data" in names, names
