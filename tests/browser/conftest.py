"""Fixtures for the browser tests: one Jupyter server and one Chromium per session.

A test asks for ``notebook`` (a :class:`harness.NotebookPage` on a fresh page) and writes
the notebook it opens into ``jupyter_server.root_dir`` (see ``notebooks.py``).

Without Chromium or Playwright the tests skip with a message, except under ``CI=true``
where they fail: CI must never pass by silently skipping what it is meant to check.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import JupyterServer, NotebookPage, find_chromium, launch_browser  # noqa: E402


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: browser tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so a page fixture knows its test failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; skip (or fail under CI) when it is not installed."""
    path = find_chromium()
    if path is None:
        _unavailable(
            "Chromium is not installed: run `bash scripts/install-system-packages.sh` as root"
        )
    return path


@pytest.fixture(scope="session")
def jupyter_server(chromium_path):
    """A ``jupyter lab`` server for the whole session, always stopped at the end."""
    server = JupyterServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium_path):
    """Headless Chromium driven by Playwright, shared by every test."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install 'dicom-widgets[test]'")
    manager = sync_playwright()
    playwright = manager.start()
    try:
        browser = launch_browser(playwright, chromium_path)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def notebook(request, browser, jupyter_server, tmp_path_factory):
    """A :class:`NotebookPage` on a fresh browser context, closed after the test.

    After a failing test, a screenshot and the console errors are saved and their
    location printed, because a browser failure without a picture is hard to read.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    nb = NotebookPage(page, jupyter_server)
    try:
        yield nb
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            out = tmp_path_factory.mktemp("browser-failure")
            try:
                page.screenshot(path=str(out / "page.png"), full_page=True)
            except Exception as exc:  # the page may be gone; the report matters more
                print(f"screenshot failed: {exc}")
            (out / "console.txt").write_text("\n".join(nb.console_errors))
            _save_canvases(page, out)
            (out / "server.log").write_text(jupyter_server.log_tail(20_000))
            print(f"\nbrowser failure artefacts: {out}")
        context.close()
        # Free the kernel this notebook started: one server serves many tests.
        _shutdown_kernels(jupyter_server)


#: JavaScript: every canvas's pixels (a screenshot shows only the top one of a stack: the
#: frame cache's overlay hides ipympl's canvas) and the frame caches' state.
_CANVASES_JS = """
() => ({
  canvases: [...document.querySelectorAll('canvas')].filter((c) => c.width && c.height)
    .map((c) => ({ name: c.className || 'canvas', url: c.toDataURL() })),
  caches: [...document.querySelectorAll('.dw-frame-cache')].map((el) => ({ ...el.dataset })),
})
"""


def _save_canvases(page: Any, out: Path) -> None:
    """Save each canvas of a failed test's page as a PNG; print the frame caches' state."""
    import base64

    try:
        state = page.evaluate(_CANVASES_JS)
    except Exception as exc:
        print(f"canvases not saved: {exc}")
        return
    for k, canvas in enumerate(state["canvases"]):
        name = re.sub(r"[^\w-]+", "_", canvas["name"])[:40]
        data = canvas["url"].partition(",")[2]
        (out / f"canvas{k}-{name}.png").write_bytes(base64.b64decode(data))
    for cache in state["caches"]:
        print(f"frame cache in the page: {cache}")


def _shutdown_kernels(server: JupyterServer) -> None:
    import urllib.request

    try:
        sessions = server.api("sessions")
    except Exception:
        return
    for session in sessions:
        request = urllib.request.Request(
            f"{server.base_url}/api/sessions/{session['id']}",
            method="DELETE",
            headers={"Authorization": f"token {server.token}"},
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except Exception:
            pass
