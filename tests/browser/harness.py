"""A real Jupyter server and headless Chromium, driven from Python (no pytest needed).

Used by the browser tests (``tests/browser/``), the browser benchmark
(``benchmarks/bench_browser.py``) and the README screenshots (``scripts/screenshots.py``),
so the three share one way of starting, driving and stopping things.

Why this shape:

- The server is ``python -m jupyterlab`` of *this* interpreter, in a temporary root folder
  with fresh settings, workspaces, config and runtime folders, so nothing a developer has
  on the machine (old workspaces, the news pop-up, user config) leaks into a test.
- Chromium is Debian's ``/usr/bin/chromium`` launched by Playwright through
  ``executable_path``; Playwright never downloads a browser here.
- Every wait is on a condition (a selector, a JavaScript predicate polled on animation
  frames), never a fixed sleep.

Example
-------
>>> from harness import JupyterServer, launch_browser, write_notebook  # doctest: +SKIP
>>> with JupyterServer() as server:  # doctest: +SKIP
...     write_notebook(server.root_dir / "a.ipynb", ["1 + 1"])
...     with sync_playwright() as p:
...         browser = launch_browser(p)
...         nb = NotebookPage(browser.new_page(), server)
...         nb.open("a.ipynb")
...         nb.run_all()
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dicom_widgets._process import stop_process_group

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Launch arguments proven on this machine: without the network ones Chromium floods the
#: closed network and stalls.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Console messages that mean a widget failed to show up for the user.
WIDGET_ERROR_PATTERNS = (
    "Error displaying widget",
    "Failed to load model class",
    "Could not create a model",
    "Could not create a view",
    "Could not instantiate widget",
    "Class .* not found in module",
)

#: JupyterLab user settings for quiet, deterministic pages.
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    # The "Jupyter news" pop-up covers widgets in screenshots and asks for a network.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Every cell stays in the DOM, so selectors see cells below the fold.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def find_chromium() -> str | None:
    """Path of Debian's Chromium, or None when absent.

    ``$DICOM_WIDGETS_CHROMIUM``, when set, is the only candidate (point it at another
    build, or at a missing path to check how the suite behaves without a browser).
    """
    override = os.environ.get("DICOM_WIDGETS_CHROMIUM")
    candidates = [override] if override else ["/usr/bin/chromium"]
    if not override:
        candidates += [shutil.which(name) or "" for name in ("chromium", "chromium-browser")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_notebook(path: Path | str, cells: Sequence[str], *, markdown: Iterable[int] = ()) -> Path:
    """Write a notebook of code cells (indices in ``markdown`` become markdown cells).

    Parameters
    ----------
    path : Path or str
        Where to write the ``.ipynb`` (parent folders are created).
    cells : sequence of str
        Cell sources, in order.
    markdown : iterable of int
        Indices of cells that are markdown instead of code.

    Returns
    -------
    Path
        The written path.

    Example
    -------
    >>> write_notebook(tmp / "smoke.ipynb", ["import ipywidgets as w", "w.IntSlider()"])  # doctest: +SKIP
    """
    import nbformat

    md = set(markdown)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if i in md else nbformat.v4.new_code_cell(src)
        for i, src in enumerate(cells)
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


class ServerError(RuntimeError):
    """The Jupyter server did not start or answer; the message carries its log tail."""


class JupyterServer:
    """``jupyter lab`` on a free localhost port, with a token, in a temporary root folder.

    Use as a context manager, or call :meth:`start` and always :meth:`stop` (also on
    failure). The same server serves JupyterLab (``/lab``) and, when ``notebook`` 7 is
    installed, Notebook 7 (``/notebooks/<path>``).

    Parameters
    ----------
    root_dir : Path, optional
        Folder served; a fresh temporary folder by default.
    startup_timeout : float
        Seconds to wait for ``/api/status`` to answer.
    extra_args : sequence of str
        More command-line options for ``jupyter lab``.
    """

    def __init__(
        self,
        root_dir: Path | str | None = None,
        *,
        startup_timeout: float = 90.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="dw-jupyter-"))
        self.root_dir = Path(root_dir) if root_dir else self._tmp / "root"
        self.root_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.log_path = self._tmp / "server.log"
        self.proc: subprocess.Popen | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # The unit tests force the Agg backend; the kernel must use the notebook's defaults
        # (inline) or `%matplotlib widget`, so the variable must not reach it.
        env.pop("MPLBACKEND", None)
        settings = self._tmp / "lab-settings"
        for plugin, values in LAB_SETTINGS.items():
            target = settings / f"{plugin}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        for name in ("config", "runtime", "ipython"):
            (self._tmp / name).mkdir(exist_ok=True)
        env.update(
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTER_CONFIG_DIR=str(self._tmp / "config"),
            JUPYTER_RUNTIME_DIR=str(self._tmp / "runtime"),
            IPYTHONDIR=str(self._tmp / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            # The kernel spec says "python": make that this interpreter, with this checkout.
            PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
        )
        return env

    def start(self) -> JupyterServer:
        """Start the server and wait until ``/api/status`` answers."""
        workspaces = self._tmp / "workspaces"
        workspaces.mkdir(exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.workspaces_dir={workspaces}",
            "--ServerApp.terminals_enabled=False",
            "--allow-root",
            *self.extra_args,
        ]
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        # A new session: stop() can end the server *and* the kernels it started, by group id.
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root_dir,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_status(
                f"http://127.0.0.1:{self.port}", self.token, self.startup_timeout, self.proc
            )
        except Exception as exc:
            self.stop()
            raise ServerError(f"{exc}\n--- server log ---\n{self.log_tail()}") from exc
        return self

    def stop(self) -> None:
        """Stop the server and its kernels; safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process_group(proc)
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------------------
    def log_tail(self, n_chars: int = 4000) -> str:
        """The end of the server's log (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return "(no log)"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, app: str = "lab") -> str:
        """URL opening ``path`` (relative to root) in ``app``: "lab" or "notebook"."""
        if app == "lab":
            # `reset` drops any restored workspace, so only this notebook is open.
            return f"{self.base_url}/lab/tree/{path}?token={self.token}&reset"
        if app == "notebook":
            return f"{self.base_url}/notebooks/{path}?token={self.token}"
        raise ValueError(f"app must be 'lab' or 'notebook', not {app!r}")

    def api(self, path: str) -> Any:
        """GET a JSON REST endpoint, e.g. ``api("contents/a.ipynb")``."""
        return http_json(f"{self.base_url}/api/{path}", self.token)


def http_json(url: str, token: str, timeout: float = 10.0) -> Any:
    """GET ``url`` with a token and decode the JSON answer."""
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def wait_for_status(
    base_url: str, token: str, timeout: float, proc: subprocess.Popen | None = None
) -> dict:
    """Poll ``/api/status`` until it answers; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"the server exited with status {proc.returncode}")
        try:
            return http_json(f"{base_url}/api/status", token, timeout=2.0)
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as exc:
            last = exc
        # Polling interval while the server boots; the condition is the answer above.
        time.sleep(0.2)
    raise ServerError(f"no answer from {base_url}/api/status within {timeout:.0f} s ({last})")


def launch_browser(playwright: Any, executable: str | None = None) -> Any:
    """Launch Debian's headless Chromium through Playwright (never a downloaded one)."""
    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError("Chromium not found (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)


# -- pages -------------------------------------------------------------------------------

#: JavaScript: a signature of the pixels an element shows (canvas or img), or null when it
#: has nothing to show yet. ``stride`` samples every n-th pixel; 1 reads them all.
PIXEL_SIGNATURE_JS = """
([el, stride]) => {
  if (!el) return null;
  let canvas = el;
  if (el.tagName === 'IMG') {
    if (!el.complete || !el.naturalWidth) return null;
    canvas = document.createElement('canvas');
    canvas.width = el.naturalWidth; canvas.height = el.naturalHeight;
    canvas.getContext('2d').drawImage(el, 0, 0);
  }
  if (canvas.tagName !== 'CANVAS' || !canvas.width || !canvas.height) return null;
  const ctx = canvas.getContext('2d');
  if (!ctx) return 'url:' + canvas.toDataURL();
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 2166136261 >>> 0;
  const distinct = new Set();
  const step = 4 * Math.max(1, stride | 0);
  for (let i = 0; i < data.length; i += step) {
    const v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    h = Math.imul(h ^ v, 16777619) >>> 0;
    h = Math.imul(h ^ data[i + 3], 16777619) >>> 0;
    if (distinct.size < 64) distinct.add(v);
  }
  return canvas.width + 'x' + canvas.height + ':' + h.toString(16) + ':' + distinct.size;
}
"""

#: JavaScript: press ArrowRight on a slider handle and, in the same task, take the pixel
#: signatures of the frame overlay and of ipympl's canvas before and after.
KEY_IN_ONE_TASK_JS = (
    """
(handle, [overlay, canvas]) => {
  const sig = (el) => ("""
    + PIXEL_SIGNATURE_JS
    + """)([el, 1]);
  const overlayBefore = sig(overlay), canvasBefore = sig(canvas);
  handle.focus();
  handle.dispatchEvent(new KeyboardEvent('keydown', {
    key: 'ArrowRight', code: 'ArrowRight', keyCode: 39, which: 39,
    bubbles: true, cancelable: true}));
  return [overlayBefore, sig(overlay), canvasBefore, sig(canvas)];
}
"""
)


class NotebookPage:
    """One browser page showing one notebook, with the waits the tests need.

    Collects console errors and page errors from the moment it is created.

    Parameters
    ----------
    page : playwright.sync_api.Page
        A fresh page.
    server : JupyterServer
        The server that serves the notebook.
    timeout_ms : float
        Default timeout of every wait, in milliseconds.
    """

    def __init__(self, page: Any, server: JupyterServer, timeout_ms: float = 60_000) -> None:
        self.page = page
        self.server = server
        self.timeout_ms = timeout_ms
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        page.set_default_timeout(timeout_ms)
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"Uncaught {exc}"))

        def _on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", _on_dialog)
        self.app = "lab"

    # -- navigation ------------------------------------------------------------------------
    def open(self, path: str, app: str = "lab") -> NotebookPage:
        """Open ``path`` in JupyterLab ("lab") or Notebook 7 ("notebook") and wait for the kernel."""
        self.app = app
        self.page.goto(self.server.url(path, app))
        self.page.wait_for_selector(".jp-Notebook .jp-Cell")
        self.wait_kernel_idle()
        return self

    def wait_kernel_idle(self) -> None:
        """Wait until the page shows an idle kernel and the server sees the page connected."""
        self.page.wait_for_function(
            """() => {
                const el = document.querySelector('.jp-Notebook-ExecutionIndicator');
                return el && el.getAttribute('data-status') === 'idle';
            }"""
        )
        deadline = time.monotonic() + self.timeout_ms / 1000
        while time.monotonic() < deadline:
            try:
                sessions = self.server.api("sessions")
            except (urllib.error.URLError, OSError, ValueError):
                # A busy server (2 shared cores) can answer late: ask again until the deadline.
                continue
            kernels = [s["kernel"] for s in sessions if s.get("kernel")]
            if any(
                k.get("connections", 0) >= 1 and k.get("execution_state") == "idle" for k in kernels
            ):
                return
            time.sleep(0.1)  # polling the REST API; the condition above is what we wait for
        raise TimeoutError("the notebook's kernel never became idle and connected")

    def menu(self, menu: str, label: str) -> None:
        """Click a menu bar item then its entry by label (same in JupyterLab and Notebook 7)."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        item = self.page.locator(
            ".lm-Menu-item:not(.lm-mod-disabled)",
            has=self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{label}$")),
        ).first
        item.wait_for(state="visible")
        item.click()

    def run_all(self, *, allow_stderr: bool = False) -> None:
        """Run every cell, wait until each code cell has an execution count, check outputs.

        Raises AssertionError if a cell printed a traceback (or anything to stderr unless
        ``allow_stderr``).
        """
        # Right after the page loads, the front end can still drop a run request while its
        # kernel connection settles (seen here: prompts stay "[ ]"). Re-issue it, only while
        # no cell has started, so nothing runs twice.
        started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
            .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        for attempt in range(4):
            self.menu("Run", "Run All Cells")
            try:
                self.page.wait_for_function(started, timeout=10_000)
                break
            except PlaywrightTimeout:
                if attempt == 3:
                    raise
        self.page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }"""
        )
        self.assert_no_error_outputs(allow_stderr=allow_stderr)

    # -- checks ----------------------------------------------------------------------------
    def error_outputs(self, *, allow_stderr: bool = False) -> list[str]:
        """Texts of tracebacks (and stderr unless allowed) shown in output areas."""
        selector = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
        if not allow_stderr:
            selector += ', .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        return [t.strip()[:2000] for t in self.page.locator(selector).all_inner_texts()]

    def assert_no_error_outputs(self, *, allow_stderr: bool = False) -> None:
        errors = self.error_outputs(allow_stderr=allow_stderr)
        assert not errors, "cells printed errors:\n" + "\n---\n".join(errors)

    def widget_errors(self) -> list[str]:
        """Console errors and page text that say a widget failed to render."""
        pattern = re.compile("|".join(WIDGET_ERROR_PATTERNS))
        found = [m for m in self.console_errors if pattern.search(m)]
        body = self.page.locator("body").inner_text()
        # What ipywidgets shows in place of a widget whose view failed to load or render.
        for text in ("Error displaying widget", "Click to show javascript error"):
            if text in body:
                found.append(f"page shows {text!r}")
        return found

    def assert_no_widget_errors(self) -> None:
        errors = self.widget_errors()
        assert not errors, "widget errors in the browser:\n" + "\n".join(errors)

    # -- pixels ----------------------------------------------------------------------------
    def pixel_signature(self, locator: Any, stride: int = 1) -> str | None:
        """Signature (size, hash, distinct-colour count) of a canvas or img's pixels."""
        return locator.evaluate(
            "(el, stride) => (" + PIXEL_SIGNATURE_JS + ")([el, stride])", stride
        )

    def wait_pixels(self, locator: Any, *, min_colours: int = 2) -> str:
        """Wait until a canvas/img shows an image with at least ``min_colours`` colours."""
        handle = locator.element_handle()
        self.page.wait_for_function(
            "([el, n]) => { const s = (" + PIXEL_SIGNATURE_JS + ")([el, 1]);"
            " return s !== null && Number(s.split(':')[2]) >= n; }",
            arg=[handle, min_colours],
        )
        return self.pixel_signature(locator)

    def wait_pixels_changed(
        self, locator: Any, before: str | None, timeout_ms: float | None = None
    ) -> str:
        """Wait until the pixels differ from ``before`` (polled on animation frames)."""
        handle = locator.element_handle()
        self.page.wait_for_function(
            "([el, before]) => { const s = (" + PIXEL_SIGNATURE_JS + ")([el, 1]);"
            " return s !== null && s !== before; }",
            arg=[handle, before],
            timeout=timeout_ms or self.timeout_ms,
        )
        return self.pixel_signature(locator)

    def wait_pixels_equal(self, locator: Any, target: str, timeout_ms: float | None = None) -> str:
        """Wait until the pixels' signature equals ``target`` (an image shown before)."""
        handle = locator.element_handle()
        self.page.wait_for_function(
            "([el, target]) => (" + PIXEL_SIGNATURE_JS + ")([el, 1]) === target",
            arg=[handle, target],
            timeout=timeout_ms or self.timeout_ms,
        )
        return target

    def key_in_one_task(self, handle: Any, overlay: Any, canvas: Any) -> list[str | None]:
        """Press ArrowRight on a slider ``handle`` and read the pixels in the same JavaScript task.

        Returns the signatures of ``overlay`` (the frame cache's canvas) and ``canvas``
        (ipympl's) before and after the key: ``[overlay before, overlay after, canvas before,
        canvas after]``. No kernel message can arrive within one task, so an overlay that
        changed was painted from the browser's frame cache.
        """
        return handle.evaluate(
            KEY_IN_ONE_TASK_JS, [overlay.element_handle(), canvas.element_handle()]
        )

    def step_slider(self, handle_locator: Any, key: str = "ArrowRight", times: int = 1) -> None:
        """Focus an ipywidgets slider handle and press ``key``."""
        handle_locator.focus()
        for _ in range(times):
            handle_locator.press(key)

    def drag_slider(self, slider_locator: Any, fraction: float) -> None:
        """Drag an ipywidgets slider's handle to ``fraction`` (0..1) of its track, like a user.

        Notebook 7 (7.6 here) swallows arrow keys at the document level before they reach
        the slider handle, so there a test moves sliders with the mouse.
        """
        base = slider_locator.locator(".noUi-base").first.bounding_box()
        handle = slider_locator.locator(".noUi-handle").first.bounding_box()
        y = handle["y"] + handle["height"] / 2
        self.page.mouse.move(handle["x"] + handle["width"] / 2, y)
        self.page.mouse.down()
        self.page.mouse.move(base["x"] + fraction * base["width"], y, steps=5)
        self.page.mouse.up()
