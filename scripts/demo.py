"""``make demo``: write the sample series, then serve JupyterLab on the quickstart notebook.

It is the first thing a newcomer runs, so it avoids the traps of a first run:

- **As root** (containers, cloud VMs, CI images) JupyterLab refuses to start without
  ``--allow-root``; it is added, with one line saying why.
- **The URL** is printed whole, token included, with the host and port the server really
  uses, and how to choose them: inside a container the server must listen on all
  interfaces (``DEMO_ARGS="--ip=0.0.0.0 --port=8888"``) and the port must be published.
- **A busy port** (another notebook server, an earlier demo) moves the demo to the next
  free port, and says so, instead of failing or silently serving elsewhere.
- **A second** ``make demo`` **while one runs** prints the running demo's URL and exits,
  instead of starting a second server over the same folder.

Server flags pass through ``DEMO_ARGS`` (a shell-quoted string); ``DEMO_PORT`` chooses the
first port tried (8888). Run by the Makefile with the project's virtual environment.
"""

from __future__ import annotations

import os
import secrets
import shlex
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
QUICKSTART = "01_quickstart.ipynb"
DEFAULT_PORT = 8888
DEFAULT_IP = "127.0.0.1"
_WILDCARD_IPS = ("0.0.0.0", "::", "*", "")  # noqa: S104 - names, not a bind


def flag_value(args: Sequence[str], names: Sequence[str]) -> str | None:
    """The value of the last of ``names`` in ``args`` (``--name=value`` or ``--name value``)."""
    value = None
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "="):
                value = arg.split("=", 1)[1]
            elif arg == name and i + 1 < len(args):
                value = args[i + 1]
    return value


def port_is_free(ip: str, port: int) -> bool:
    """Whether a server could listen on ``ip:port`` now."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip if ip not in _WILDCARD_IPS else "", port))
        except OSError:
            return False
    return True


def first_free_port(ip: str, start: int, tries: int = 50) -> int:
    """The first port from ``start`` on that is free on ``ip``."""
    for port in range(start, start + tries):
        if port_is_free(ip, port):
            return port
    raise SystemExit(f"make demo: no free port in {start}-{start + tries - 1} on {ip}")


def running_demo_url() -> str | None:
    """The URL of a JupyterLab already serving the notebooks folder, if one runs."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # the demo extra is missing: the server start will say so
        return None
    for info in list_running_servers():
        if Path(info.get("root_dir", "")).resolve() == NOTEBOOKS.resolve():
            token = info.get("token", "")
            url = info["url"].rstrip("/")
            return f"{url}/lab/tree/{QUICKSTART}" + (f"?token={token}" if token else "")
    return None


def server_command(extra: Sequence[str], *, is_root: bool, port: int | None) -> list[str]:
    """The ``jupyter lab`` command line, and what the user is told about it (printed)."""
    args = list(extra)
    if is_root and "--allow-root" not in args:
        print(
            "make demo: running as root (as in containers and CI), so JupyterLab gets --allow-root."
        )
        args.append("--allow-root")
    ip = flag_value(args, ["--ip", "--ServerApp.ip"])
    if ip is None:
        ip = DEFAULT_IP
        args.append(f"--ServerApp.ip={ip}")
    if flag_value(args, ["--port", "--ServerApp.port"]) is None:
        assert port is not None
        args.append(f"--ServerApp.port={port}")
    # The printed URL must be the one served: no silent move to another port.
    args.append("--ServerApp.port_retries=0")
    token = flag_value(args, ["--IdentityProvider.token", "--ServerApp.token", "--token"])
    if token is None:
        token = secrets.token_hex(24)
        args.append(f"--IdentityProvider.token={token}")
    served_port = int(flag_value(args, ["--port", "--ServerApp.port"]) or DEFAULT_PORT)
    host = "127.0.0.1" if ip in _WILDCARD_IPS or ip == "localhost" else ip
    url = f"http://{host}:{served_port}/lab/tree/{QUICKSTART}" + (
        f"?token={token}" if token else ""
    )
    print(f"make demo: open {url}")
    if ip in _WILDCARD_IPS:
        print(
            f"make demo: listening on all interfaces; from outside this machine or container use its"
            f" address instead of {host} (publish the port, e.g. docker run -p {served_port}:{served_port})."
        )
    else:
        print(
            f"make demo: serving on {ip}:{served_port} only. In a container, or to reach it from another"
            ' machine: make demo DEMO_ARGS="--ip=0.0.0.0 --port=8888" (and publish that port).'
        )
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    return [jupyter, "lab", QUICKSTART, *args]


def main() -> None:
    """Write the sample data, then exec JupyterLab (or point at the demo already running)."""
    from dicom_widgets.data import sample_series_folder

    sample_dir = Path(os.environ.get("SAMPLE_DIR", NOTEBOOKS / "sample_data")).resolve()
    print("make demo: sample data in", sample_series_folder(sample_dir))
    running = running_demo_url()
    if running is not None:
        print(f"make demo: a demo is already running; open {running}")
        print("make demo: stop it (Ctrl-C in its terminal) to start a new one.")
        return
    extra = shlex.split(os.environ.get("DEMO_ARGS", ""))
    port = None
    if flag_value(extra, ["--port", "--ServerApp.port"]) is None:
        wanted = int(os.environ.get("DEMO_PORT") or DEFAULT_PORT)
        ip = flag_value(extra, ["--ip", "--ServerApp.ip"]) or DEFAULT_IP
        port = first_free_port(ip, wanted)
        if port != wanted:
            print(f"make demo: port {wanted} is in use; serving on {port} instead.")
    command = server_command(extra, is_root=os.geteuid() == 0, port=port)
    sys.stdout.flush()
    os.chdir(NOTEBOOKS)
    os.environ["DICOM_WIDGETS_DATA"] = str(sample_dir)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
