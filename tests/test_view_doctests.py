"""The examples in the view model's docstrings run (they are the layer interface's docs)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "dicom_widgets.view",
        "dicom_widgets.view.model",
        "dicom_widgets.view.layers",
        "dicom_widgets.view.planes",
        "dicom_widgets.view.slab",
        "dicom_widgets.view.source",
        "dicom_widgets.display",
    ],
)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
