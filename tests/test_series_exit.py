"""A process that opened series (prefetch threads running) exits promptly.

Regression: at interpreter exit a daemon prefetch thread could be frozen while holding
its condition's lock, and ``Series.__del__`` then waited for that lock forever.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import tempfile
import dicom_widgets as dw
from dicom_widgets.data import ct_phantom, write_series
folder = tempfile.mkdtemp()
write_series(ct_phantom(n_slices=20, size=64), folder)
series = dw.load_series(folder, progress=False)
series.display(5)
catalog = dw.scan(folder, progress=False)
series._repr_html_(); catalog._repr_html_()
print("done")
"""


@pytest.mark.timeout(300)
def test_process_using_series_exits_promptly():
    for _ in range(4):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "done"
