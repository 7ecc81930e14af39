"""The examples in the series and display docstrings run (so the documentation stays true)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dicom_widgets.display",
    "dicom_widgets.series",
    "dicom_widgets.series._series",
    "dicom_widgets.series._scan",
    "dicom_widgets.series._cache",
    "dicom_widgets.series._findings",
    "dicom_widgets.series._frames",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
