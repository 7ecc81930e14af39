"""Search the rows of a dataset: one index built once, then a match per keystroke."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from .._compat import is_multi_value
from ._values import _scalar_text
from .dictionary import PIXEL_DATA_TAGS, VR_MEANINGS, parse_tag
from .rows import ElementRow, _pandas, flatten

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["normalize_text", "SearchResult", "TagIndex", "search", "to_dataframe"]


def normalize_text(text: str) -> str:
    """Normalise text for matching: NFKC (full-width and compatibility forms) then casefold.

    Examples
    --------
    >>> normalize_text("ＭÜＬＬＥＲ") == normalize_text("müller")
    True
    """
    if text.isascii():
        return text.lower()  # same result, without the Unicode tables (most DICOM text)
    return unicodedata.normalize("NFKC", text).casefold()


def _search_value_text(row: ElementRow, limit: int = 2048) -> str:
    elem = row.element
    if elem is None or row.kind != "element" or row.tag in PIXEL_DATA_TAGS or row.is_sequence:
        return ""
    try:
        value = elem.value  # as _value_of, without its tuple: this runs once per row
    except Exception:  # noqa: BLE001 - an unreadable value has no text to search
        return ""
    if value is None:
        return ""
    if value.__class__ is str:  # most values: no isinstance against MultiValue's ABC
        text = value
    elif isinstance(value, (int, float)):
        text = _scalar_text(value)
    elif isinstance(value, (bytes, bytearray, np.ndarray)):
        return ""
    elif is_multi_value(value):
        if len(value) > 64:  # type: ignore[arg-type]
            value = list(value)[:64]  # type: ignore[call-overload]
        text = "\\".join(_scalar_text(v) for v in value)  # type: ignore[attr-defined]
    elif isinstance(value, str):
        text = value
    else:
        text = _scalar_text(value)
    # Person names: also the alphabetic form's components separated by spaces.
    if "^" in text:
        text = f"{text} {text.replace('^', ' ')}"
    return text[:limit]


def _row_blobs(rows: Sequence[ElementRow]) -> list[str]:
    """The normalised search text of each row: what names it, then its value.

    The naming part (keyword, name, label, tag in three spellings, VR, creator) is the
    same for every row of one tag: normalised once per distinct part, not once per row
    (a per-frame header repeats a few hundred tags 26,000 times). Normalising the two
    parts apart gives the text normalising them together would, across the newline.
    """
    naming: dict[tuple[int, str, str, str, str, str | None], str] = {}
    blobs = []
    for row in rows:
        key = (row.tag, row.keyword, row.name, row.label, row.vr, row.private_creator)
        head = naming.get(key)
        if head is None:
            hex8 = f"{row.tag:08x}"
            parts = (
                row.keyword, row.name, row.label, row.tag_text, hex8, f"0x{hex8}", row.vr,
                row.private_creator or "",
            )  # fmt: skip
            head = naming[key] = normalize_text("\n".join(parts))
        text = _search_value_text(row)
        blobs.append(f"{head}\n{text.lower() if text.isascii() else normalize_text(text)}")
    return blobs


@dataclass
class SearchResult:
    """Rows matching a query, with their ancestors for context.

    Attributes
    ----------
    query : str
        The query as typed.
    hits : list of int
        Indices (into the flattened rows) of the matching rows, in order.
    visible : list of int
        ``hits`` plus every ancestor (enclosing sequences and items) of each hit, in
        row order: what a tree shows with the parents expanded.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.ReferencedImageSequence = [Dataset()]
    >>> ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3"
    >>> result = TagIndex(ds).search("1.2.3")
    >>> result.hits, result.visible
    ([2], [0, 1, 2])
    """

    query: str
    hits: list[int]
    visible: list[int]

    def __len__(self) -> int:
        return len(self.hits)


class TagIndex:
    """Flattened rows of one dataset plus a search index over them (built once).

    Parameters
    ----------
    source : Dataset or list of ElementRow
        A dataset (flattened with ``flatten_options``) or rows already flattened.
    **flatten_options
        Passed to :func:`flatten`.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> index = TagIndex(read_dataset(pydicom_file("ct_small")))
    >>> [index.rows[i].keyword for i in index.search("patient's name").hits]
    ['PatientName']
    """

    def __init__(
        self, source: Dataset | Sequence[ElementRow], **flatten_options: int | bool | str | None
    ) -> None:
        if isinstance(source, Dataset):
            self.rows: list[ElementRow] = flatten(source, **flatten_options)
        else:
            self.rows = list(source)
        self._blobs: list[str] | None = None
        self._by_path: dict[str, ElementRow] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def blobs(self) -> list[str]:
        """Normalised searchable text per row (built on first search)."""
        if self._blobs is None:
            self._blobs = _row_blobs(self.rows)
        return self._blobs

    def by_path(self, path: str) -> ElementRow | None:
        """Return the row with this path (``"ReferencedImageSequence[0].ReferencedSOPInstanceUID"``)."""
        if self._by_path is None:
            self._by_path = {row.path: row for row in self.rows}
        return self._by_path.get(path)

    def ancestors(self, index: int) -> list[int]:
        """Indices of the enclosing rows of row ``index``, outermost first."""
        out = []
        parent = self.rows[index].parent
        while parent is not None:
            out.append(parent)
            parent = self.rows[parent].parent
        return out[::-1]

    def search(self, query: str) -> SearchResult:
        """Find rows matching ``query`` (see :func:`search` for the syntax)."""
        hits = self._match(query)
        visible: set[int] = set(hits)
        for i in hits:
            parent = self.rows[i].parent
            while parent is not None and parent not in visible:
                visible.add(parent)
                parent = self.rows[parent].parent
        return SearchResult(query=query, hits=hits, visible=sorted(visible))

    def _match(self, query: str) -> list[int]:
        query = query.strip()
        if not query:
            return list(range(len(self.rows)))
        rows = self.rows
        field_name, _, rest = query.partition(":")
        field_name = field_name.strip().lower()
        if rest and field_name in {"tag", "vr", "keyword", "kw", "name", "value", "creator"}:
            return self._match_field(field_name, rest.strip())
        tag = parse_tag(query)
        if tag is not None:
            return [r.index for r in rows if r.tag == tag]
        tokens = normalize_text(query).split()
        blobs = self.blobs
        hits = [i for i, blob in enumerate(blobs) if all(t in blob for t in tokens)]
        upper = query.upper()
        if upper in VR_MEANINGS and len(upper) == 2:
            # A bare VR ("PN", "SQ") also finds every element of that VR.
            by_vr = {r.index for r in rows if r.vr == upper}
            hits = sorted(by_vr.union(hits))
        return hits

    def _match_field(self, field_name: str, text: str) -> list[int]:
        rows = self.rows
        if field_name == "tag":
            tag = parse_tag(text)
            if tag is not None:
                return [r.index for r in rows if r.tag == tag]
            needle = normalize_text(text).strip("()")
            return [
                r.index for r in rows if needle in r.tag_text.lower() or needle in f"{r.tag:08x}"
            ]
        if field_name == "vr":
            wanted = {v.strip().upper() for v in re.split(r"[,\s]+", text) if v.strip()}
            return [r.index for r in rows if r.vr in wanted]
        needle = normalize_text(text)
        getters: dict[str, Callable[[ElementRow], str]] = {
            "keyword": lambda r: r.keyword,
            "kw": lambda r: r.keyword,
            "name": lambda r: r.name,
            "creator": lambda r: r.private_creator or "",
            "value": _search_value_text,
        }
        get = getters[field_name]
        return [r.index for r in rows if needle in normalize_text(get(r))]


def search(source: Dataset | Sequence[ElementRow] | TagIndex, query: str) -> list[ElementRow]:
    """Return the rows of ``source`` that match ``query``.

    The query is matched case-insensitively (NFKC + casefold, so full-width and accented
    text match) against the keyword, the name, the private creator, the tag in any common
    spelling (``0010,0010``, ``(0010,0010)``, ``00100010``, ``0x00100010``), the VR and the
    value. Several words must all match (``slice thick``). A query that is exactly a tag
    matches that tag only; a bare VR (``PN``) also matches every element of that VR.
    Prefixes restrict the field: ``tag:``, ``vr:``, ``keyword:``, ``name:``, ``value:``,
    ``creator:``.

    Parameters
    ----------
    source : Dataset, rows or TagIndex
        What to search; build a :class:`TagIndex` once to search repeatedly.
    query : str
        The text typed by the user; an empty query returns every row.

    Returns
    -------
    list of ElementRow
        The matching rows (without their ancestors; :meth:`TagIndex.search` gives both).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "Müller^Anna"; ds.SliceThickness = "2.5"
    >>> [r.keyword for r in search(ds, "MÜLLER")]
    ['PatientName']
    >>> [r.keyword for r in search(ds, "0x00180050")]
    ['SliceThickness']
    """
    index = source if isinstance(source, TagIndex) else TagIndex(source)
    return [index.rows[i] for i in index.search(query).hits]


def to_dataframe(
    source: Dataset | Sequence[ElementRow] | TagIndex, **flatten_options: int | bool | str | None
) -> pd.DataFrame:
    """The flattened elements as a pandas DataFrame.

    Columns: ``path, tag, keyword, name, VR, VM, value, private_creator, depth, problem,
    expression`` (``value`` is the display summary). Item header rows are left out.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A^B"
    >>> to_dataframe(ds)[["keyword", "VR", "value"]].values.tolist()
    [['PatientName', 'PN', 'A^B']]
    """
    pd = _pandas()
    if isinstance(source, Dataset):
        rows = flatten(source, **flatten_options)
    elif isinstance(source, TagIndex):
        rows = source.rows
    else:
        rows = list(source)
    columns = ["path", "tag", "keyword", "name", "VR", "VM", "value", "private_creator"]
    columns += ["depth", "problem", "expression"]
    return pd.DataFrame(
        [
            (r.path, r.tag_text, r.keyword, r.name, r.vr, r.vm, r.summary, r.private_creator)
            + (r.depth, r.problem, r.expression)
            for r in rows
            if r.kind == "element"
        ],
        columns=columns,
    )
