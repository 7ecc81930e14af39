"""Stopping a server process started in its own session, together with what it started.

The local Orthanc (``dicomweb.LocalOrthanc``) and the test and benchmark harness's
JupyterLab are both started with ``start_new_session=True``, so the process and its
children (kernels, helpers) share one process group that can be ended as a whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

__all__ = ["stop_process_group"]


def stop_process_group(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM a process started with ``start_new_session=True``, then its whole group.

    Parameters
    ----------
    proc
        The process; it is SIGTERMed, waited for ``timeout`` seconds, then killed.
    timeout
        Seconds to wait for the process after each signal.

    Examples
    --------
    >>> import subprocess, sys
    >>> proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
    ...                         start_new_session=True)
    >>> stop_process_group(proc, timeout=5)
    >>> proc.poll() is not None
    True
    """
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    # Children started by the server share its group: end what is left.
    if pgid is not None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                break
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _group_alive(pgid):
                time.sleep(0.05)
            if not _group_alive(pgid):
                break


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
