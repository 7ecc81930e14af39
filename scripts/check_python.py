"""Say clearly, before anything is installed, when this Python cannot make the project's venv.

Run by ``make`` with the interpreter it was given (``PYTHON``, default ``python3``). Debian
and Ubuntu ship ``python3`` without ``venv``/``ensurepip`` (package ``python3-venv``), and
``python3 -m venv`` then fails half-way with a message that does not say what to install.
Exit status 1 with one line of advice; 0 when all is well.
"""

from __future__ import annotations

import importlib
import sys

MINIMUM = (3, 10)


def problem() -> str | None:
    """What stops ``python -m venv`` from working here, or None."""
    if sys.version_info < MINIMUM:
        found = ".".join(map(str, sys.version_info[:3]))
        return (
            f"dicom-widgets needs Python >= {MINIMUM[0]}.{MINIMUM[1]}, but {sys.executable} is"
            f" {found}: run make with PYTHON=python3.11 (or another newer interpreter)"
        )
    missing = []
    for name in ("venv", "ensurepip"):
        try:
            importlib.import_module(name)
        except ImportError:  # Debian moves ensurepip into python3-venv
            missing.append(name)
    if missing:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return (
            f"{sys.executable} cannot create virtual environments ({' and '.join(missing)} missing)."
            f" On Debian/Ubuntu: sudo apt-get install python3-venv (or python{version}-venv);"
            " elsewhere install Python from python.org or your package manager."
        )
    return None


if __name__ == "__main__":
    message = problem()
    if message:
        print(f"make: {message}", file=sys.stderr)
        sys.exit(1)
