"""Walk a dataset into element rows: one row per element and per sequence item.

What a row carries (path, summary, expression, problem) is described on
:class:`ElementRow`; bad values never raise, they are shown and marked.

One :class:`_Walker` holds a walk's options and state; :func:`iter_rows` steps through
it lazily, :func:`flatten` collects it.

Examples
--------
>>> from pydicom.dataset import Dataset
>>> ds = Dataset(); ds.PatientName = "A^B"
>>> [(r.path, r.expression) for r in flatten(ds)]
[('PatientName', 'ds.PatientName')]
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from types import ModuleType
from typing import Any, NamedTuple

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from .._compat import is_multi_value
from ._values import (
    _element_problem,
    _first_line,
    _full_text,
    _hex_preview,
    _pixel_text,
    _value_of,
    _vm_of,
    value_summary,
)
from .dictionary import (
    ITEM_TAG,
    PIXEL_DATA_TAGS,
    _private_name,
    _public_info,
    _vr_text,
    format_tag,
)

__all__ = ["ElementRow", "iter_rows", "flatten"]


@dataclass(slots=True)
class ElementRow:
    """One element (or one sequence item) of a flattened dataset.

    Attributes
    ----------
    index : int
        Position of this row in the flattened list.
    parent : int or None
        Index of the enclosing row (the item for an element inside a sequence, the
        sequence for an item), ``None`` at the top level.
    kind : str
        ``"element"`` or ``"item"`` (a sequence item, shown as a header row).
    path : str
        Dotted path through sequences, ``ReferencedImageSequence[0].ReferencedSOPInstanceUID``;
        elements without a usable keyword appear as their tag text ``(0019,100C)``.
    tag : int
        The tag (``0xFFFEE000`` for item rows).
    tag_text : str
        ``(GGGG,EEEE)``.
    keyword : str
        Dictionary keyword; empty for private and unknown elements.
    label : str
        What to show in a keyword column: the keyword, ``"private: <creator>"``,
        ``"private creator"`` or ``"item 0"``.
    name : str
        Dictionary name (private dictionary name when known).
    vr : str
        Value representation as stored.
    vm : int
        Number of values.
    depth : int
        Nesting depth (0 at the top level; an item is one deeper than its sequence).
    is_private : bool
        Odd group.
    private_creator : str or None
        The creator string of a private element's block, when found.
    is_sequence : bool
        VR SQ.
    item_count : int
        Number of items of a sequence (0 otherwise).
    items_shown : int
        How many of those items were flattened (``max_items_per_sequence``).
    summary : str
        Short display text of the value.
    problem : str or None
        Why the value is marked (invalid value, undecodable text, UN, private tag without
        creator, malformed creator...); ``None`` when it is fine.
    raw_value : bytes or None
        The undecoded bytes, kept only for marked elements read from a file.
    expression : str
        Python expression that evaluates to the element's value, given the dataset as ``ds``.
    private_expression : str or None
        For private elements with a creator: ``ds.private_block(0x0019, 'SIEMENS MR HEADER')[0x0C].value``,
        which keeps working when the block is stored at another slot.
    sort_key : tuple of int
        (tag, item, tag, item, ...) along the path, for merging and ordering.
    in_file_meta : bool
        The element belongs to ``ds.file_meta``.
    element : DataElement or None
        The element itself (for the full value); not part of equality or repr.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.ReferencedImageSequence = [Dataset()]
    >>> ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3"
    >>> [(r.kind, r.path, r.depth) for r in flatten(ds)]  # doctest: +NORMALIZE_WHITESPACE
    [('element', 'ReferencedImageSequence', 0), ('item', 'ReferencedImageSequence[0]', 1),
     ('element', 'ReferencedImageSequence[0].ReferencedSOPInstanceUID', 1)]
    """

    index: int
    parent: int | None
    kind: str
    path: str
    tag: int
    tag_text: str
    keyword: str
    label: str
    name: str
    vr: str
    vm: int
    depth: int
    is_private: bool
    private_creator: str | None
    is_sequence: bool
    item_count: int
    items_shown: int
    _summary: str | None = field(repr=False, compare=False)
    _notes: tuple[str, ...] = field(repr=False, compare=False)
    _raw: bytes | None = field(repr=False, compare=False)
    expression: str
    private_expression: str | None
    sort_key: tuple[int, ...]
    in_file_meta: bool = False
    element: DataElement | None = field(default=None, repr=False, compare=False)
    _fmt: tuple[int, int] = field(default=(80, 8), repr=False, compare=False)
    _checked: bool = field(default=False, repr=False, compare=False)
    _problem: str | None = field(default=None, repr=False, compare=False)

    # summary and problem are computed on first access: a 25,000-row header is flattened
    # for counting and searching, but only one page of it is ever displayed at a time.
    @property
    def summary(self) -> str:
        """Short display text of the value (see :func:`value_summary`)."""
        if self._summary is None:
            if self.element is None:
                self._summary = ""
            else:
                try:
                    self._summary = value_summary(
                        self.element, max_chars=self._fmt[0], max_values=self._fmt[1]
                    )
                except Exception as exc:  # noqa: BLE001 - one odd value must not break a table
                    self._summary = f"(cannot summarise: {_first_line(exc)})"
        return self._summary

    @property
    def problem(self) -> str | None:
        """Why the value is marked, or ``None`` when it is fine."""
        if not self._checked:
            problems = list(self._notes)
            if self.element is not None and self.kind == "element":
                try:
                    found = _element_problem(self.element, validate=not self._notes)
                except Exception as exc:  # noqa: BLE001  # pragma: no cover - as for summary
                    found = f"cannot check value: {_first_line(exc)}"
                if found:
                    problems.append(found)
            if self.summary.startswith("(cannot summarise"):
                problems.append(self.summary)
            self._problem = "; ".join(dict.fromkeys(problems)) or None
            self._checked = True
        return self._problem

    @property
    def raw_value(self) -> bytes | None:
        """The undecoded bytes of a marked element read from a file, else ``None``."""
        return self._raw if self.problem is not None else None

    def __repr__(self) -> str:
        return f"ElementRow({self.path!r}, {self.tag_text}, {self.vr}, {self.summary!r}" + (
            f", problem={self.problem!r})" if self.problem else ")"
        )

    @property
    def is_invalid(self) -> bool:
        """True when the value is marked (see :attr:`problem`)."""
        return self.problem is not None

    @property
    def is_item(self) -> bool:
        """True for a sequence-item header row."""
        return self.kind == "item"

    @property
    def value(self) -> Any:
        """The element's value (``None`` for item rows or unreadable values)."""
        if self.element is None:
            return None
        return _value_of(self.element)[0]  # None when a deferred file disappeared, say

    def full_value_text(self, max_chars: int = 100_000) -> str:
        """The whole value as text for a detail view (binary as full hex up to ``max_chars``)."""
        if self.kind == "item":
            return self.summary
        return _full_text(self, max_chars)


_ILLEGAL_PRIVATE_GROUPS = frozenset({0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF})


def _private_creator_of(ds: Dataset, tag: int) -> tuple[str | None, str | None]:
    """Return ``(creator, problem)`` for a private data element of ``ds``."""
    group, elem = tag >> 16, tag & 0xFFFF
    if group in _ILLEGAL_PRIVATE_GROUPS:
        return None, f"invalid private tag: group {group:04X} may not be used"
    if elem < 0x0010 and elem != 0:
        return None, "invalid private tag: element below 0x0010 is neither creator nor data"
    if elem < 0x1000:
        return None, None
    creator_tag = (group << 16) | (elem >> 8)
    if creator_tag not in ds:
        return None, "private tag without private creator"
    try:
        value = ds[creator_tag].value
    except Exception:  # noqa: BLE001 - pydicom's converters raise many types
        return None, "malformed private creator (unreadable)"
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii").strip(" \x00")
        except UnicodeDecodeError:
            return None, "malformed private creator (not text)"
    if isinstance(value, str) and value.strip():
        return value.strip(), None
    if is_multi_value(value) and len(value) and isinstance(value[0], str):
        return str(value[0]).strip(), "malformed private creator (several values)"
    return None, "malformed private creator"


# VRs whose text is decoded with Specific Character Set (PS3.5 6.1.2.3).
_CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT", "PN"})
_ITEM_TAG_TEXT = format_tag(ITEM_TAG)
_first = itemgetter(0)


class _Place(NamedTuple):
    """Where the walker stands: the dataset's parent row, its path, sort key and expression."""

    parent: int | None
    path: str
    key: tuple[int, ...]
    expression: str
    depth: int


class _Walker:
    """One walk over a dataset: the options, the row counter and the warnings being recorded.

    ``log`` is the list the current ``warnings.catch_warnings`` records into: the walker
    turns the warnings pydicom raises while converting one element into that element's
    markers, so they never reach the user once per element.
    """

    def __init__(
        self,
        root: Dataset,
        *,
        max_items_per_sequence: int | None = None,
        max_depth: int | None = None,
        include_private: bool = True,
        include_items: bool = True,
        include_file_meta: bool = True,
        max_chars: int = 80,
        max_values: int = 8,
        var: str = "ds",
    ) -> None:
        self.root = root
        self.max_items = max_items_per_sequence
        self.max_depth = max_depth
        self.include_private = include_private
        self.include_items = include_items
        self.include_file_meta = include_file_meta
        self.fmt = (max_chars, max_values)
        self.var = var
        self.count = 0
        self.in_meta = False
        self.log: list[warnings.WarningMessage] = []

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Record the warnings raised inside the block into :attr:`log`."""
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            self.log = log
            yield

    def rows(self) -> Iterator[ElementRow]:
        """Every row: the file meta's (when asked for), then the dataset's."""
        root, var = self.root, self.var
        meta = getattr(root, "file_meta", None) if self.include_file_meta else None
        if meta is not None and len(meta):
            self.in_meta = True
            yield from self._dataset_rows(meta, _Place(None, "", (), f"{var}.file_meta", 0))
        self.in_meta = False
        yield from self._dataset_rows(root, _Place(None, "", (), var, 0))

    def _dataset_rows(self, ds: Dataset, place: _Place) -> Iterator[ElementRow]:
        # The stored (possibly raw, possibly deferred) elements, without conversion or a
        # deferred read (get_item would read deferred values on both pydicom versions).
        stored: dict = getattr(ds, "_dict", None) or {}
        # Sorted as plain ints, each with its own key object: BaseTag's Python-level __lt__
        # cost a tenth of the walk, and its __eq__ (a lookup by int) another tenth; a lookup
        # by the key itself is an identity check. Looked up when reached, not before:
        # converting one element can convert another (PixelRepresentation, for US or SS).
        if stored:
            keys = sorted(zip(map(int, stored), stored), key=_first)
        else:
            keys = [(tag, tag) for tag in sorted(map(int, ds.keys()))]
        creators: dict[int, tuple[str | None, str | None]] = {}
        for tag, key in keys:
            if (tag >> 16) & 1 and not self.include_private:
                continue
            row, value = self._element_row(ds, tag, stored.get(key), place, creators)
            yield row
            # The items are walked here rather than in a generator of their own: every row
            # passes up through each generator it is nested in, two per level were a tenth
            # of the walk of a per-frame functional groups header.
            for i in range(row.items_shown):
                item = value[i]  # type: ignore[index]
                header, item_place = self._item_header(row, i, item, place)
                if header is not None:
                    yield header
                if isinstance(item, Dataset):
                    yield from self._dataset_rows(item, item_place)

    def _convert(
        self, ds: Dataset, tag: int, raw: DataElement | RawDataElement | None, deferred: bool
    ) -> tuple[DataElement | None, list[str]]:
        """The converted element (``None`` when deferred or unconvertible) and its notes."""
        log = self.log
        n_before = len(log)
        notes: list[str] = []
        elem: DataElement | None
        try:
            # Deferred pixel data (read with defer_size) is described from its length
            # instead of being loaded: megabytes for one line of text. Elements already
            # converted are used as stored (ds[tag] would only return them again).
            if deferred:
                elem = None
            elif isinstance(raw, DataElement):
                elem = raw
            else:
                elem = ds[tag]
        except Exception as exc:  # noqa: BLE001 - pydicom's converters raise many types
            # pydicom could not convert the raw bytes at all: keep the raw element.
            elem = None
            notes.append(f"cannot decode value: {_first_line(exc)}")
        warned = [_first_line(w.message) for w in log[n_before:]]  # type: ignore[arg-type]
        del log[n_before:]
        return elem, warned + notes

    def _element_row(
        self,
        ds: Dataset,
        tag: int,
        raw: DataElement | RawDataElement | None,
        place: _Place,
        creators: dict[int, tuple[str | None, str | None]],
    ) -> tuple[ElementRow, object]:
        """The row of one element, and its value (the items of a sequence)."""
        deferred = tag in PIXEL_DATA_TAGS and isinstance(raw, RawDataElement) and raw.value is None
        elem: DataElement | None
        if raw.__class__ is DataElement:  # already converted (built in memory): nothing to record
            elem, notes = raw, []  # type: ignore[assignment]
        else:
            elem, notes = self._convert(ds, tag, raw, deferred)
        raw_bytes = raw.value if isinstance(raw, RawDataElement) else None
        summary: str | None = None
        value: object = None
        if elem is None:
            vr = _vr_text(getattr(raw, "VR", None))
            summary = _hex_preview(raw_bytes) if isinstance(raw_bytes, bytes) else ""
            vm = 1 if raw_bytes else 0
            if deferred:
                undefined = raw.length == 0xFFFFFFFF  # type: ignore[union-attr]
                size = None if undefined else raw.length  # type: ignore[union-attr]
                summary, vm = _pixel_text(size, undefined, ds, self.root) + " (not loaded)", 1
        else:
            value, _ = _value_of(elem)  # an unreadable value has VM 0
            vr = _vr_text(elem.VR)
            vm = _vm_of(value)
            if raw_bytes and vr in _CHARSET_VRS and max(raw_bytes) > 0x7F:
                if "SpecificCharacterSet" not in ds and "SpecificCharacterSet" not in self.root:
                    notes.append(
                        "non-ASCII text without Specific Character Set (decoded as Latin-1 guess)"
                    )
            if tag in PIXEL_DATA_TAGS:
                # Needs its dataset (Rows, Columns) and the root's transfer syntax: now.
                summary = value_summary(elem, context=ds, root=self.root)
        if (tag >> 16) & 1:
            creator, label, name, problem = _private_info(ds, tag, elem, creators)
            if problem:
                notes.append(problem)
            keyword, tag_text, ident, private_ok = "", format_tag(tag), False, problem is None
        else:
            keyword, name, label, tag_text, ident = _public_info(tag)
            creator, private_ok = None, True
        component = keyword if ident else tag_text
        group, element = tag >> 16, tag & 0xFFFF
        expr = place.expression
        if ident:
            expression = f"{expr}.{keyword}"
        else:
            expression = f"{expr}[0x{group:04X}, 0x{element:04X}].value"
        private_expression = None
        if creator and element >= 0x1000 and private_ok:
            block = f"{expr}.private_block(0x{group:04X}, {creator!r})"
            private_expression = f"{block}[0x{element & 0xFF:02X}].value"
        is_sequence = vr == "SQ" or isinstance(value, DicomSequence)
        item_count = len(value) if is_sequence and value is not None else 0  # type: ignore[arg-type]
        shown = item_count if self.max_items is None else min(item_count, self.max_items)
        if self.max_depth is not None and place.depth >= self.max_depth:
            shown = 0
        path = f"{place.path}.{component}" if place.path else component
        # Positional arguments: measurably faster than keywords over 25,000 rows; the
        # order is ElementRow's field order.
        index = self.count
        self.count += 1
        row = ElementRow(
            index, place.parent, "element", path, tag, tag_text, keyword, label,
            name, vr, vm, place.depth, bool(group & 1), creator, is_sequence, item_count,
            shown, summary, tuple(notes), raw_bytes if isinstance(raw_bytes, bytes) else None,
            expression, private_expression, (*place.key, tag), self.in_meta, elem, self.fmt,
        )  # fmt: skip
        return row, value

    def _item_header(
        self, row: ElementRow, i: int, item: object, place: _Place
    ) -> tuple[ElementRow | None, _Place]:
        """The header row of item ``i`` of sequence ``row`` (when asked for), and its place."""
        depth = place.depth + 1
        item_place = _Place(
            row.index, f"{row.path}[{i}]", (*place.key, row.tag, i), f"{row.expression}[{i}]", depth
        )
        if not self.include_items:
            return None, item_place
        n = len(item) if isinstance(item, Dataset) else 0
        index = self.count
        self.count += 1
        header = ElementRow(
            index=index,
            parent=row.index,
            kind="item",
            path=item_place.path,
            tag=ITEM_TAG,
            tag_text=_ITEM_TAG_TEXT,
            keyword="",
            label=f"item {i}",
            name=f"Item {i} of {row.item_count}",
            vr="",
            vm=0,
            depth=depth,
            is_private=row.is_private,
            private_creator=row.private_creator,
            is_sequence=False,
            item_count=0,
            items_shown=0,
            _summary=f"{n} element" if n == 1 else f"{n} elements",
            _notes=() if isinstance(item, Dataset) else ("item is not a dataset",),
            _raw=None,
            expression=item_place.expression,
            private_expression=None,
            sort_key=item_place.key,
            in_file_meta=self.in_meta,
            element=None,
        )
        return header, item_place._replace(parent=index)


def _private_info(
    ds: Dataset,
    tag: int,
    elem: DataElement | None,
    creators: dict[int, tuple[str | None, str | None]],
) -> tuple[str | None, str, str, str | None]:
    """(creator, label, name, problem) of a private element; ``creators`` caches blocks."""
    element = tag & 0xFFFF
    if 0x0010 <= element <= 0x00FF:
        problem = None
        if elem is not None and not isinstance(_value_of(elem)[0], (str, bytes)):
            problem = "malformed private creator (not a text value)"
        return None, "private creator", "Private Creator", problem
    block = (tag & 0xFFFFFF00) | (element >> 8 if element >= 0x1000 else element)
    found = creators.get(block)
    if found is None:
        found = creators[block] = _private_creator_of(ds, tag)
    creator, problem = found
    label = f"private: {creator}" if creator else "private (no creator)"
    name = _private_name(tag, creator) if creator else "Private tag data"
    return creator, label, name, problem


def iter_rows(ds: Dataset, **options: int | bool | str | None) -> Iterator[ElementRow]:
    """Yield the rows of :func:`flatten` one at a time (same keyword arguments).

    Parameters
    ----------
    ds : Dataset
        Any pydicom dataset.
    **options
        The keyword arguments of :func:`flatten`.

    Lazy: stopping early (a repr that shows the first 500 rows) leaves the rest of the
    dataset untouched. Conversion warnings are caught around each step only, so code
    running between two rows sees its own warnings normally.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A"; ds.Modality = "CT"
    >>> next(iter_rows(ds)).keyword  # tag order: (0008,0060) before (0010,0010)
    'Modality'
    """
    walker = _Walker(ds, **options)  # type: ignore[arg-type]
    rows = walker.rows()
    while True:
        with walker.recording():
            row = next(rows, None)
        if row is None:
            return
        yield row


def flatten(
    ds: Dataset,
    *,
    max_items_per_sequence: int | None = None,
    max_depth: int | None = None,
    include_private: bool = True,
    include_items: bool = True,
    include_file_meta: bool = True,
    max_chars: int = 80,
    max_values: int = 8,
    var: str = "ds",
) -> list[ElementRow]:
    """Flatten a dataset (recursively into sequences) to a list of :class:`ElementRow`.

    ``list(iter_rows(ds, ...))``: the same walk, with the warnings recorded around the
    whole of it rather than around each row (one ``catch_warnings`` instead of 25,000 on
    a large header).

    Parameters
    ----------
    ds : Dataset
        Any pydicom dataset (a file dataset, or one built in memory).
    max_items_per_sequence : int, optional
        Flatten at most this many items of each sequence (the sequence row still
        reports ``item_count``); ``None`` flattens all of them.
    max_depth : int, optional
        Do not descend into sequences deeper than this (0 = top level only).
    include_private : bool
        Include private (odd group) elements.
    include_items : bool
        Emit a header row (``kind == "item"``) for each sequence item.
    include_file_meta : bool
        Include the group 0002 file meta elements (their expressions use ``ds.file_meta``).
    max_chars, max_values : int
        Passed to :func:`value_summary`.
    var : str
        Name of the dataset variable in the generated Python expressions.

    Returns
    -------
    list of ElementRow
        Depth-first, in tag order; ``rows[i].index == i`` and ``parent`` indexes this list.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> from dicom_widgets._compat import read_dataset
    >>> rows = flatten(read_dataset(pydicom_file("rtstruct"), force=True), max_items_per_sequence=1)
    >>> any(r.depth > 1 for r in rows)
    True
    """
    walker = _Walker(
        ds,
        max_items_per_sequence=max_items_per_sequence,
        max_depth=max_depth,
        include_private=include_private,
        include_items=include_items,
        include_file_meta=include_file_meta,
        max_chars=max_chars,
        max_values=max_values,
        var=var,
    )
    # Tens of thousands of new rows would trigger full garbage collections that scan every
    # live object (the previous rows too): pause the collector while building them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with walker.recording():
            return list(walker.rows())
    finally:
        if gc_was_enabled:
            gc.enable()


def _pandas() -> ModuleType:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is installed in both venvs
        from ..errors import MissingDependencyError

        raise MissingDependencyError("to_dataframe needs pandas: pip install pandas") from exc
    return pd
