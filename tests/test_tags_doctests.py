"""The examples in the docstrings of the tags package and the read boundary run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dicom_widgets.tags",
    "dicom_widgets.tags.rows",
    "dicom_widgets.tags.dictionary",
    "dicom_widgets.tags.index",
    "dicom_widgets.tags.expressions",
    "dicom_widgets.tags.diff",
    "dicom_widgets._compat",
    "dicom_widgets.html._core",
    "dicom_widgets.html.tags",
    "dicom_widgets.data",
    "dicom_widgets.data._phantom",
    "dicom_widgets.html.series",
    "dicom_widgets.errors",
    "dicom_widgets._process",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
