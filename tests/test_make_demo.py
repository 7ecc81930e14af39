"""`make demo` serves the quickstart notebook, run exactly as the README says.

The tests run the real target with no server flags of their own: only the first port
(``DEMO_PORT``) and "do not open a browser" (``DEMO_ARGS=--no-browser``) are set, as the
README allows. They run as whatever user the tests run as (root in CI), read the URL that
``make demo`` prints, token included, and use that URL, so a printed address that does not
work fails them. Servers (and everything they started) are stopped also on failure.

``JUPYTER_RUNTIME_DIR`` points at a temporary folder so that the test's server is not seen by,
and does not see, a demo the developer may be running (``make demo`` finds a running demo
through that folder); ``make -o`` is not used: ``make test`` has just built ``.venv``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from harness import free_port, http_json, stop_process_group  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))

import check_python  # noqa: E402

URL_LINE = re.compile(r"make demo: open (http://[^\s]+/lab/tree/01_quickstart\.ipynb\?token=(\w+))")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require_make_and_venv() -> None:
    if shutil.which("make") is None or not (REPO / ".venv" / "bin" / "jupyter").exists():
        reason = "make demo needs `make` and the project's .venv (run `make demo` once)"
        if _in_ci():
            pytest.fail(reason)
        pytest.skip(reason)


def _demo_env(tmp_path: Path, first_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.pop("MPLBACKEND", None)
    env.update(
        DEMO_PORT=str(first_port),
        DEMO_ARGS="--no-browser",
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


@contextmanager
def make_demo(tmp_path: Path, env: dict[str, str], name: str = "demo") -> Iterator[tuple]:
    """Run ``make demo``; yield (process, log path); always stop its process group."""
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "demo"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # so make, jupyter and its kernels stop as one group
        )
        try:
            yield proc, log_path
        finally:
            stop_process_group(proc)


def _served_url(proc: subprocess.Popen, log_path: Path, timeout: float = 240) -> tuple[str, str]:
    """The URL ``make demo`` printed, once the server behind it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = URL_LINE.search(log_path.read_text(errors="replace"))
        if match:
            url, token = match.groups()
            base = url.split("/lab/")[0]
            try:
                http_json(f"{base}/api/status", token, timeout=2.0)
                return url, token
            except OSError:
                pass
        if proc.poll() is not None and not match:
            break
        time.sleep(0.2)
    pytest.fail(f"make demo did not serve the URL it printed:\n{log_path.read_text()[-4000:]}")


def _check_serves_quickstart(url: str, token: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:  # the printed URL, as a person would
        assert response.status == 200
        assert b"JupyterLab" in response.read()
    base = url.split("/lab/")[0]
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


def test_make_demo_serves_quickstart_as_the_readme_says(tmp_path):
    _require_make_and_venv()
    port = free_port()
    with make_demo(tmp_path, _demo_env(tmp_path, port)) as (proc, log_path):
        url, token = _served_url(proc, log_path)
        assert url.startswith(f"http://127.0.0.1:{port}/")
        _check_serves_quickstart(url, token)
        log = log_path.read_text()
        # As root (CI, containers) JupyterLab needs --allow-root, and the user is told why.
        assert ("running as root" in log) == (os.geteuid() == 0), log
        assert 'DEMO_ARGS="--ip=0.0.0.0 --port=8888"' in log  # how to serve from a container


def test_make_demo_moves_off_a_busy_port_and_a_second_one_points_at_the_first(tmp_path):
    _require_make_and_venv()
    busy = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", busy))
        blocker.listen()
        env = _demo_env(tmp_path, busy)
        with make_demo(tmp_path, env) as (proc, log_path):
            url, token = _served_url(proc, log_path)
            assert f"port {busy} is in use" in log_path.read_text()
            assert not url.startswith(f"http://127.0.0.1:{busy}/")
            _check_serves_quickstart(url, token)
            second = subprocess.run(
                ["make", "--no-print-directory", "demo"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
            )
            assert second.returncode == 0, second.stdout + second.stderr
            assert f"a demo is already running; open {url}" in second.stdout, second.stdout


def test_a_python_without_venv_gets_a_clear_message(tmp_path):
    # Debian's python3 without python3-venv: `venv` imports but `ensurepip` is missing.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _NoEnsurepip:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ensurepip':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _NoEnsurepip())\n"
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_python.py")],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "sudo apt-get install python3-venv" in result.stderr, result.stderr
    assert check_python.problem() is None  # this interpreter can make venvs
