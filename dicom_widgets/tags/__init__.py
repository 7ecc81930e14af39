"""Flatten a DICOM dataset to element rows, summarise values, search, compare.

This is the pure core behind :class:`~dicom_widgets.widgets.tag_explorer.TagExplorer`
and the HTML repr of a dataset: one implementation of "walk a dataset and describe each
element", used by every view. It imports only pydicom, numpy and the standard library
(pandas lazily for :func:`to_dataframe`).

- :mod:`.rows`: the walk (:func:`flatten`, :func:`iter_rows`, :class:`ElementRow`);
- :mod:`.dictionary`: tags, VRs, VMs and modules (:func:`format_tag`, :func:`module_of`);
- :mod:`.index`: search (:class:`TagIndex`, :func:`search`, :func:`to_dataframe`);
- :mod:`.expressions`: :func:`evaluate_expression`, without ``eval``;
- :mod:`.diff`: what varies in a series and what differs between two (:func:`compare`).

Each element becomes an :class:`ElementRow` carrying its path through sequences
(``ReferencedImageSequence[0].ReferencedSOPInstanceUID``), a short display summary
(long text truncated, binary shown as a hex preview, arrays summarised, pixel data never
dumped), the Python expression that reaches its value (``ds.PatientName``,
``ds[0x0019, 0x100C].value``) and a marker when the value is invalid or undecodable.
Bad values never raise: they are shown and marked.

Examples
--------
>>> from dicom_widgets.data import pydicom_file
>>> from dicom_widgets._compat import read_dataset
>>> ds = read_dataset(pydicom_file("ct_small"))
>>> rows = flatten(ds)
>>> row = next(r for r in rows if r.keyword == "PatientName")
>>> row.tag_text, row.vr, row.expression
('(0010,0010)', 'PN', 'ds.PatientName')
>>> [r.path for r in search(rows, "0010,0010")]
['PatientName']
"""

from ._values import value_summary
from .dictionary import (
    BINARY_VRS,
    ITEM_TAG,
    MODULE_KEYWORDS,
    NUMERIC_VRS,
    PIXEL_DATA_TAGS,
    TEXT_VRS,
    VR_MEANINGS,
    format_tag,
    module_of,
    parse_tag,
    vm_meaning,
    vr_meaning,
)
from .diff import PER_FRAME, Change, Diff, Variation, compare, varies, varies_frames
from .expressions import evaluate_expression
from .index import SearchResult, TagIndex, normalize_text, search, to_dataframe
from .rows import ElementRow, flatten, iter_rows

__all__ = [
    "ElementRow",
    "flatten",
    "iter_rows",
    "value_summary",
    "format_tag",
    "parse_tag",
    "VR_MEANINGS",
    "vr_meaning",
    "vm_meaning",
    "module_of",
    "MODULE_KEYWORDS",
    "normalize_text",
    "TagIndex",
    "SearchResult",
    "search",
    "evaluate_expression",
    "Variation",
    "varies",
    "varies_frames",
    "PER_FRAME",
    "Change",
    "Diff",
    "compare",
    "to_dataframe",
    "PIXEL_DATA_TAGS",
    "BINARY_VRS",
    "TEXT_VRS",
    "NUMERIC_VRS",
    "ITEM_TAG",
]
