"""Shared fixtures: real pydicom test files and written phantom series."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from dicom_widgets.data import all_pydicom_test_files, ct_phantom, write_series

# Matplotlib must never try to open a window during tests.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def pydicom_files() -> list[Path]:
    """Every real test file shipped by pydicom and pydicom-data (broken ones included)."""
    files = all_pydicom_test_files()
    assert len(files) > 100, "pydicom-data should be installed (pip install pydicom-data)"
    return files


@pytest.fixture(scope="session")
def ct_datasets():
    """A small CT phantom series (24 slices, 64x64), in slice order, noise-free."""
    return ct_phantom(n_slices=24, size=64)


@pytest.fixture(scope="session")
def ct_folder(tmp_path_factory, ct_datasets) -> Path:
    """The CT phantom written to a folder with shuffled file names. Treat it as read-only."""
    folder = tmp_path_factory.mktemp("ct_phantom")
    write_series(ct_datasets, folder, shuffle=True, seed=3)
    return folder


@pytest.fixture(autouse=True)
def _no_unclosed_figures():
    """Close matplotlib figures a test leaves behind, so memory stays bounded."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plt.close("all")


@pytest.fixture(scope="session")
def tesseract() -> str:
    """Tesseract's version; skip (fail under CI=true) when it is not installed."""
    from dicom_widgets.deid import text_regions
    from dicom_widgets.errors import MissingDependencyError

    try:
        return text_regions.tesseract_version()
    except MissingDependencyError as exc:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{exc} (CI=true: OCR tests must run, not skip)", pytrace=False)
        pytest.skip(str(exc))
