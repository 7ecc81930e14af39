"""The examples in every docstring of the package run (so the documentation stays true).

Some areas run their own modules' examples too (``test_series_doctests.py``...); this test
walks the whole package, so a module whose examples no list names is run all the same
(the de-identification modules, ``_io``, ``_encode``, ``html`` had none).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

import dicom_widgets


def _modules_with_examples() -> list[str]:
    names = [dicom_widgets.__name__]
    names += [
        info.name
        for info in pkgutil.walk_packages(dicom_widgets.__path__, dicom_widgets.__name__ + ".")
    ]
    return sorted(
        name
        for name in names
        if ">>> " in (importlib.util.find_spec(name).loader.get_source(name) or "")
    )


MODULES = _modules_with_examples()


def test_the_walk_finds_the_modules_with_examples():
    assert {"dicom_widgets._io", "dicom_widgets.deid.batch", "dicom_widgets.view.model"} <= set(
        MODULES
    )
    assert len(MODULES) > 50


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
