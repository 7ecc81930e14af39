"""Compare datasets: what varies between the instances of a series, and what differs between two."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydicom.dataset import Dataset

from .._compat import is_multi_value
from .dictionary import NUMERIC_VRS, PIXEL_DATA_TAGS, format_tag, parse_tag
from .index import normalize_text
from .rows import ElementRow, _pandas, flatten

if TYPE_CHECKING:
    import pandas as pd


class _Instances(Protocol):
    """Anything that holds instances the way a ``Series`` does."""

    def dataset(self, index: int) -> Dataset: ...

    def __len__(self) -> int: ...


#: What :func:`varies` and :func:`compare` accept on a side.
DatasetSource = Dataset | _Instances | Iterable[Dataset]

__all__ = ["Variation", "varies", "PER_FRAME", "varies_frames", "Change", "Diff", "compare"]


def _comparable(row: ElementRow) -> Hashable:
    """A hashable stand-in for a row's value, for equality across datasets."""
    if row.kind == "item":
        return ("item",)
    if row.is_sequence:
        return ("sequence", row.item_count)
    if row.tag in PIXEL_DATA_TAGS:
        # Hashing megabytes per instance would dominate; compare size and a sample.
        value = row.value
        if isinstance(value, (bytes, bytearray)):
            return ("pixels", len(value), hash(bytes(value[:4096])), hash(bytes(value[-4096:])))
        return ("pixels", row.summary)
    value = row.value
    if value is None and row.element is None:
        return ("raw", row.raw_value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if is_multi_value(value):
        return tuple(_hashable(v) for v in value)
    return _hashable(value)


def _hashable(value: object) -> Hashable:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    try:
        hash(value)
    except TypeError:
        return str(value)
    # PersonName and friends hash by text; keep them comparable with plain strings.
    return value if isinstance(value, (int, float, str, bytes, tuple)) else str(value)


def _time_seconds(text: str) -> float | None:
    match = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?", text.strip())
    if not match:
        match = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?", text.strip())
        if not match:
            return None
    hours, minutes, seconds, fraction = match.groups()
    total = int(hours) * 3600 + int(minutes or 0) * 60 + int(seconds or 0)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def _numeric(row: ElementRow) -> float | list[float] | None:
    """Numeric value of a row for plotting (TM as seconds), ``None`` if not numeric."""
    if row.kind != "element" or row.is_sequence:
        return None
    value = row.value
    if row.vr in NUMERIC_VRS:
        values = value if is_multi_value(value) else [value]
        try:
            out = [float(v) for v in values if v is not None and v != ""]
        except (TypeError, ValueError):
            return None
        if not out:
            return None
        return out[0] if len(out) == 1 else out
    if row.vr == "TM" and isinstance(value, str) and value:
        return _time_seconds(value)
    if row.vr in {"TM", "DT"} and value is not None and not isinstance(value, str):
        seconds = getattr(value, "hour", None)
        if seconds is not None:
            return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return None


@dataclass
class Variation:
    """One element whose value differs between the instances of a series.

    Attributes
    ----------
    path, tag, keyword, name, vr :
        As in :class:`ElementRow`.
    distinct : int
        Number of distinct values (a missing element counts as one value).
    missing : int
        Number of instances without the element.
    summaries : list of str or None
        Display summary per instance (``None`` where missing).
    numeric : numpy.ndarray or None
        Values per instance as floats (NaN where missing); shape ``(n,)`` for one value,
        ``(n, k)`` for k values (ImagePositionPatient); ``None`` when not numeric.
        Times (TM) are seconds since midnight.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> v = next(v for v in varies(ct_phantom(n_slices=3, size=16)) if v.keyword == "InstanceNumber")
    >>> v.distinct, v.summaries
    (3, ['1', '2', '3'])
    """

    path: str
    tag: int
    keyword: str
    name: str
    vr: str
    is_private: bool
    distinct: int
    missing: int
    summaries: list[str | None]
    numeric: np.ndarray | None
    expression: str = ""

    @property
    def label(self) -> str:
        """Keyword, or path for elements without one."""
        return self.keyword or self.path


def _datasets_of(source: DatasetSource) -> list[Dataset]:
    if isinstance(source, Dataset):
        return [source]
    if hasattr(source, "dataset") and hasattr(source, "__len__"):
        return [source.dataset(i) for i in range(len(source))]
    return list(source)


def varies(
    datasets: DatasetSource,
    *,
    max_items_per_sequence: int | None = 8,
    include_private: bool = True,
    rows: Sequence[Sequence[ElementRow]] | None = None,
    var: str = "ds",
) -> list[Variation]:
    """List the elements whose value differs between datasets (the instances of a series).

    Parameters
    ----------
    datasets : list of Dataset or Series
        The instances, in slice order (their position is the slice index of the plot);
        a ``Series`` is read with ``series.dataset(i)``.
    max_items_per_sequence : int, optional
        Items of each sequence compared (per-frame sequences can be huge).
    include_private : bool
        Include private elements.
    rows : list of flattened rows per dataset, optional
        Reuse rows already flattened (same order as ``datasets``).
    var : str
        Name of one instance in the expressions of the variations.

    Returns
    -------
    list of Variation
        In row order of the first dataset (then elements found only later). Pixel data
        is left out: it differs between slices by nature.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> found = {v.keyword: v for v in varies(ct_phantom(n_slices=4, size=16))}
    >>> found["InstanceNumber"].numeric.tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    if rows is None:
        dss = _datasets_of(datasets)
        rows = [
            flatten(
                ds,
                max_items_per_sequence=max_items_per_sequence,
                include_private=include_private,
                include_items=False,
                max_chars=60,
                var=var,
            )
            for ds in dss
        ]
    by_path = _rows_by_path(rows, include_private)
    found = (_variation(path, slot) for path, slot in by_path.items())
    return [variation for variation in found if variation is not None]


def _rows_by_path(
    rows: Sequence[Sequence[ElementRow]], include_private: bool
) -> dict[str, list[ElementRow | None]]:
    """Each element path's row in each dataset (``None`` where missing), in row order."""
    n = len(rows)
    by_path: dict[str, list[ElementRow | None]] = {}
    order: dict[str, tuple[int, ...]] = {}
    for i, flat in enumerate(rows):
        for row in flat:
            if row.kind != "element" or (row.is_private and not include_private):
                continue
            if row.tag in PIXEL_DATA_TAGS:
                continue  # the image always differs between slices: not a header question
            slot = by_path.get(row.path)
            if slot is None:
                slot = by_path[row.path] = [None] * n
                order[row.path] = row.sort_key
            slot[i] = row
    return {path: by_path[path] for path in sorted(by_path, key=order.__getitem__)}


def _variation(path: str, slot: list[ElementRow | None]) -> Variation | None:
    """How the element at ``path`` varies over the datasets, or ``None`` if it does not."""
    distinct = len({None if r is None else _comparable(r) for r in slot})
    if distinct <= 1:
        return None
    first = next(r for r in slot if r is not None)
    return Variation(
        path=path,
        tag=first.tag,
        keyword=first.keyword,
        name=first.name,
        vr=first.vr,
        is_private=first.is_private,
        distinct=distinct,
        missing=sum(r is None for r in slot),
        summaries=[None if r is None else r.summary for r in slot],
        numeric=_numeric_array([None if r is None else _numeric(r) for r in slot]),
        expression=first.expression,
    )


PER_FRAME = "PerFrameFunctionalGroupsSequence"


def varies_frames(
    ds: Dataset, *, max_items_per_sequence: int | None = 8, include_private: bool = True
) -> list[Variation]:
    """List the per-frame functional group elements that differ between the frames of a multi-frame dataset.

    Each item of ``PerFrameFunctionalGroupsSequence`` is treated as one instance, so
    the numeric values are plotted against frame index. Paths read
    ``PerFrameFunctionalGroupsSequence[*].PlanePositionSequence[0].ImagePositionPatient``
    and expressions use ``i`` for the frame: ``ds.PerFrameFunctionalGroupsSequence[i]...``.

    Examples
    --------
    >>> from dicom_widgets.data import mr_multiframe_phantom
    >>> found = varies_frames(mr_multiframe_phantom())
    >>> any(v.keyword == "ImagePositionPatient" for v in found)
    True
    """
    frames = ds.get(PER_FRAME)
    if not frames or len(frames) < 2:
        return []
    found = varies(
        list(frames),
        max_items_per_sequence=max_items_per_sequence,
        include_private=include_private,
        var=f"ds.{PER_FRAME}[i]",
    )
    for variation in found:
        variation.path = f"{PER_FRAME}[*].{variation.path}"
    return found


def _numeric_array(values: list[float | list[float] | None]) -> np.ndarray | None:
    present = [v for v in values if v is not None]
    if not present or len(present) < len(values) / 2:
        return None
    width = {1 if isinstance(v, float) else len(v) for v in present}
    if len(width) != 1:
        return None
    k = width.pop()
    arr = np.full((len(values), k), np.nan)
    for i, v in enumerate(values):
        if v is not None:
            arr[i] = v
    return arr[:, 0] if k == 1 else arr


# ----------------------------------------------------------------------------------------
# compare


@dataclass
class Change:
    """One difference between two datasets.

    Attributes
    ----------
    kind : str
        ``"removed"`` (only in a), ``"added"`` (only in b) or ``"changed"``.
    path, tag, keyword, name : as in :class:`ElementRow`
    vr_a, vr_b : str or None
        VR on each side (``None`` where absent).
    before, after : str or None
        Display summaries on each side (``None`` where absent).
    row_a, row_b : ElementRow or None
        The rows themselves, for full values.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> a = Dataset(); a.PatientName = "A"
    >>> b = Dataset(); b.PatientName = "B"
    >>> change = compare(a, b).changed[0]
    >>> change.kind, change.label, change.before, change.after
    ('changed', 'PatientName', 'A', 'B')
    """

    kind: str
    path: str
    tag: int
    keyword: str
    name: str
    is_private: bool
    depth: int
    vr_a: str | None
    vr_b: str | None
    before: str | None
    after: str | None
    row_a: ElementRow | None = field(default=None, repr=False, compare=False)
    row_b: ElementRow | None = field(default=None, repr=False, compare=False)
    sort_key: tuple[int, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """Keyword or the private creator label or the tag text."""
        row = self.row_a or self.row_b
        return row.label if row is not None else self.keyword


class Diff:
    """The differences between two datasets, with filters and an HTML/widget view.

    Iterating gives the :class:`Change` objects in tag order (nested paths under their
    sequence). Evaluating a ``Diff`` in a notebook shows an HTML table.

    Attributes
    ----------
    changes : list of Change
    label_a, label_b : str
        Names of the two sides in the views.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> a = Dataset(); a.PatientName = "A"; a.Modality = "CT"
    >>> b = Dataset(); b.PatientName = "B"; b.Rows = 2
    >>> d = compare(a, b)
    >>> [(c.kind, c.path) for c in d]
    [('removed', 'Modality'), ('changed', 'PatientName'), ('added', 'Rows')]
    """

    KINDS = ("removed", "added", "changed")

    def __init__(self, changes: list[Change], label_a: str = "a", label_b: str = "b") -> None:
        self.changes = changes
        self.label_a = label_a
        self.label_b = label_b

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __repr__(self) -> str:
        counts = self.counts()
        return (
            f"<Diff {self.label_a} → {self.label_b}: {counts['changed']} changed, "
            f"{counts['removed']} only in {self.label_a}, {counts['added']} only in {self.label_b}>"
        )

    def counts(self) -> dict[str, int]:
        """Number of changes of each kind."""
        out = dict.fromkeys(self.KINDS, 0)
        for change in self.changes:
            out[change.kind] += 1
        return out

    @property
    def only_in_a(self) -> list[Change]:
        """Elements present only in a."""
        return [c for c in self.changes if c.kind == "removed"]

    @property
    def only_in_b(self) -> list[Change]:
        """Elements present only in b."""
        return [c for c in self.changes if c.kind == "added"]

    @property
    def changed(self) -> list[Change]:
        """Elements present in both with different values."""
        return [c for c in self.changes if c.kind == "changed"]

    def filter(
        self,
        *,
        kinds: Iterable[str] | None = None,
        include_private: bool = True,
        query: str = "",
        max_depth: int | None = None,
        exclude: Iterable[str] = (),
    ) -> Diff:
        """Return a new Diff keeping only some changes.

        Parameters
        ----------
        kinds : iterable of str, optional
            Subset of ``("removed", "added", "changed")``.
        include_private : bool
            Keep private elements.
        query : str
            Keep changes whose path, keyword, name or values contain this text
            (case-insensitive, Unicode-normalised), or whose tag it spells.
        max_depth : int, optional
            Keep changes at most this deep in sequences (0 = top level).
        exclude : iterable of str
            Keywords to drop (``("SOPInstanceUID", "InstanceNumber")``).
        """
        wanted = set(kinds) if kinds is not None else set(self.KINDS)
        excluded = set(exclude)
        tag = parse_tag(query) if query else None
        needle = normalize_text(query.strip()) if query.strip() else ""
        out = []
        for c in self.changes:
            if c.kind not in wanted or (c.is_private and not include_private):
                continue
            if max_depth is not None and c.depth > max_depth:
                continue
            if c.keyword in excluded:
                continue
            if tag is not None and c.tag != tag:
                continue
            if tag is None and needle:
                text = normalize_text(
                    " ".join([c.path, c.keyword, c.name, c.before or "", c.after or ""])
                )
                if needle not in text:
                    continue
            out.append(c)
        return Diff(out, self.label_a, self.label_b)

    def to_dataframe(self) -> pd.DataFrame:
        """The changes as a pandas DataFrame (needs pandas)."""
        pd = _pandas()
        return pd.DataFrame(
            [
                {
                    "kind": c.kind,
                    "path": c.path,
                    "tag": format_tag(c.tag),
                    "keyword": c.keyword,
                    "vr_a": c.vr_a,
                    "vr_b": c.vr_b,
                    "before": c.before,
                    "after": c.after,
                }
                for c in self.changes
            ],
            columns=["kind", "path", "tag", "keyword", "vr_a", "vr_b", "before", "after"],
        )

    def _repr_html_(self) -> str:
        from ..html.tags import diff_html

        return diff_html(self)


def compare(
    a: DatasetSource,
    b: DatasetSource,
    *,
    include_private: bool = True,
    max_items_per_sequence: int | None = None,
    ignore: Iterable[str] = (),
    ignore_varying: bool = True,
    label_a: str = "a",
    label_b: str = "b",
) -> Diff:
    """Compare two datasets (or two series) element by element, recursively.

    Elements are matched by path (so items are compared by position in their sequence).
    For a ``Series`` (anything with ``dataset(i)``) or a list of datasets the first
    instances are compared and, with ``ignore_varying``, elements that vary *within*
    either series (SOPInstanceUID, SliceLocation...) are left out: what remains answers
    "why do these two series differ?".

    Parameters
    ----------
    a, b : Dataset, Series or list of Dataset
        The two sides.
    include_private : bool
        Compare private elements too.
    max_items_per_sequence : int, optional
        Items per sequence compared (``None``: all).
    ignore : iterable of str
        Keywords never reported (``("SOPInstanceUID",)``).
    ignore_varying : bool
        For series, skip the elements that vary between the instances of a side.
    label_a, label_b : str
        Names of the sides in the views.

    Returns
    -------
    Diff

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> s = ct_phantom(n_slices=2, size=16)
    >>> "SliceLocation" in [c.keyword for c in compare(s[0], s[1]).changed]
    True
    """
    varying = _varying_paths((a, b), include_private) if ignore_varying else set()
    options = {
        "max_items_per_sequence": max_items_per_sequence,
        "include_private": include_private,
        "include_items": False,
    }
    map_a = {r.path: r for r in flatten(_first_dataset(a), **options)}
    map_b = {r.path: r for r in flatten(_first_dataset(b), **options)}
    ignored = set(ignore)
    changes: list[Change] = []
    for path, ra in map_a.items():
        if ra.keyword in ignored or path in varying:
            continue
        rb = map_b.get(path)
        if rb is None:
            changes.append(_change("removed", ra, None))
        elif ra.is_sequence and rb.is_sequence:
            if ra.item_count != rb.item_count:
                changes.append(_change("changed", ra, rb))
        elif ra.vr != rb.vr or _comparable(ra) != _comparable(rb):
            changes.append(_change("changed", ra, rb))
    changes.extend(
        _change("added", None, rb)
        for path, rb in map_b.items()
        if path not in map_a and rb.keyword not in ignored and path not in varying
    )
    changes.sort(key=lambda c: c.sort_key)
    return Diff(changes, label_a, label_b)


def _varying_paths(sides: Iterable[DatasetSource], include_private: bool) -> set[str]:
    """The paths of the elements that vary between the instances of either side."""
    varying: set[str] = set()
    for side in sides:
        if not isinstance(side, Dataset):
            datasets = _datasets_of(side)
            if len(datasets) > 1:
                varying.update(v.path for v in varies(datasets, include_private=include_private))
    return varying


def _change(kind: str, ra: ElementRow | None, rb: ElementRow | None) -> Change:
    r = ra or rb
    assert r is not None
    return Change(
        kind=kind,
        path=r.path,
        tag=r.tag,
        keyword=r.keyword,
        name=r.name,
        is_private=r.is_private,
        depth=r.depth,
        vr_a=ra.vr if ra else None,
        vr_b=rb.vr if rb else None,
        before=ra.summary if ra else None,
        after=rb.summary if rb else None,
        row_a=ra,
        row_b=rb,
        sort_key=(int(r.in_file_meta is False), *r.sort_key),
    )


def _first_dataset(source: DatasetSource) -> Dataset:
    if isinstance(source, Dataset):
        return source
    if hasattr(source, "dataset"):
        return source.dataset(0)
    items = list(source)
    if not items:
        raise ValueError("cannot compare an empty list of datasets")
    return items[0]
