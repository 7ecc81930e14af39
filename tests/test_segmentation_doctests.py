"""The examples in the segmentation docstrings run (so the documentation stays true)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dicom_widgets.segmentation",
    "dicom_widgets.segmentation._color",
    "dicom_widgets.segmentation._grid",
    "dicom_widgets.segmentation._load",
    "dicom_widgets.segmentation._model",
    "dicom_widgets.segmentation._rtstruct",
    "dicom_widgets.html.segmentation",
    "dicom_widgets.view.segmentation_layer",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
