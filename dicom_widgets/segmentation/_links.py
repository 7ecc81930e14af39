"""Links from derived objects (SEG, RTSTRUCT) to the image series they were made on.

A scan catalog lists SEGs and structure sets as series of their own; this module says
which image series each one references — by Series Instance UID, else by the instances
it names, else by a Frame of Reference only one image series shares — so a catalog can
show "SEG 'Liver' -> CT series 3" and ``load_segmentation(path)`` can find its CT.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from .. import _compat
from .._compat import safe_get

__all__ = ["DerivedLink", "derived_links", "match_series", "referenced_series_uids"]

DERIVED_MODALITIES = ("SEG", "RTSTRUCT")
_HEADER_TAGS = [
    "Modality",
    "SOPClassUID",
    "FrameOfReferenceUID",
    "SegmentSequence",
    "ReferencedSeriesSequence",
    "ReferencedFrameOfReferenceSequence",
    "StructureSetROISequence",
]


@dataclass(frozen=True)
class DerivedLink:
    """A SEG or RTSTRUCT of a catalog and the image series it references.

    Attributes
    ----------
    key : str
        Catalog key of the derived series.
    modality : str
        ``"SEG"`` or ``"RTSTRUCT"``.
    labels : tuple of str
        Segment labels / ROI names.
    target_key : str or None
        Catalog key of the referenced image series (None when it is not in the catalog).
    target : str
        How to name it: ``"CT series 3"``, or what is missing.
    how : str
        ``"series"``, ``"instances"``, ``"frame-of-reference"`` or ``"missing"``.

    Examples
    --------
    >>> str(DerivedLink("1.2", "SEG", ("Liver",), "1.3", "CT series 3", "series"))
    "SEG 'Liver' -> CT series 3"
    """

    key: str
    modality: str
    labels: tuple[str, ...]
    target_key: str | None
    target: str
    how: str

    def __str__(self) -> str:
        names = ", ".join(repr(label) for label in self.labels[:3])
        if len(self.labels) > 3:
            names += f" +{len(self.labels) - 3} more"
        return f"{self.modality} {names} -> {self.target}".replace("  ", " ")


def referenced_series_uids(ds: Dataset) -> tuple[list[str], set[str], str]:
    """(referenced series UIDs, referenced SOP instance UIDs, Frame of Reference) of a SEG/RTSTRUCT.

    Read from the header only: Referenced Series Sequence (SEG) or the Referenced Frame
    of Reference / RT Referenced Study / Series / Contour Image Sequences (RTSTRUCT).
    """
    series: list[str] = []
    instances: set[str] = set()
    for item in safe_get(ds, "ReferencedSeriesSequence", None) or []:
        uid = str(safe_get(item, "SeriesInstanceUID", "") or "")
        if uid:
            series.append(uid)
        for ref in safe_get(item, "ReferencedInstanceSequence", None) or []:
            instances.add(str(safe_get(ref, "ReferencedSOPInstanceUID", "") or ""))
    frame_of_reference = str(safe_get(ds, "FrameOfReferenceUID", "") or "")
    for fref in safe_get(ds, "ReferencedFrameOfReferenceSequence", None) or []:
        if not frame_of_reference:
            frame_of_reference = str(safe_get(fref, "FrameOfReferenceUID", "") or "")
        for study in safe_get(fref, "RTReferencedStudySequence", None) or []:
            for item in safe_get(study, "RTReferencedSeriesSequence", None) or []:
                uid = str(safe_get(item, "SeriesInstanceUID", "") or "")
                if uid:
                    series.append(uid)
                for image in safe_get(item, "ContourImageSequence", None) or []:
                    instances.add(str(safe_get(image, "ReferencedSOPInstanceUID", "") or ""))
    instances.discard("")
    return list(dict.fromkeys(series)), instances, frame_of_reference


def match_series(entries: Sequence[Any], header: Dataset) -> tuple[Any, str]:
    """The catalog entry (SeriesInfo) an SEG/RTSTRUCT header references, and how it matched.

    Returns ``(None, "missing")`` when none does.
    """
    series_uids, instances, frame_of_reference = referenced_series_uids(header)
    images = [
        e for e in entries if e.has_pixels and e.modality not in DERIVED_MODALITIES and e.frames
    ]
    for entry in images:
        if entry.series_uid in series_uids and not entry.split_from:
            return entry, "series"
    for entry in images:
        if entry.series_uid in series_uids:
            return entry, "series"
    if instances:
        for entry in images:
            if instances & {ref.sop_uid for ref in entry.frames}:
                return entry, "instances"
    if frame_of_reference:
        same = [
            e
            for e in images
            if str(safe_get(e.frames[0].header, "FrameOfReferenceUID", "")) == frame_of_reference
        ]
        if len(same) == 1:
            return same[0], "frame-of-reference"
    return None, "missing"


def header_of(entry: Any) -> Dataset | None:
    """The header of a derived entry with its reference sequences (re-read if trimmed)."""
    header = entry.headers[0] if entry.headers else None
    wanted = ("ReferencedSeriesSequence", "ReferencedFrameOfReferenceSequence")
    if header is not None and not getattr(header, "_dw_light", False):
        if any(k in header for k in wanted) or not entry.paths:
            return header
    if not entry.paths:
        return header
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _compat.read_dataset(
                entry.paths[0], stop_before_pixels=True, force=True, specific_tags=_HEADER_TAGS
            )
    except Exception:  # noqa: BLE001 - an unreadable header simply links nowhere
        return header


def _labels(header: Dataset) -> tuple[str, ...]:
    if str(safe_get(header, "Modality", "")) == "SEG":
        items = safe_get(header, "SegmentSequence", None) or []
        return tuple(str(safe_get(i, "SegmentLabel", "") or "") for i in items)
    items = safe_get(header, "StructureSetROISequence", None) or []
    return tuple(str(safe_get(i, "ROIName", "") or "") for i in items)


def derived_links(catalog: Any) -> list[DerivedLink]:
    """One :class:`DerivedLink` per SEG / RTSTRUCT of a scan catalog.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import pydicom_file
    >>> [str(link) for link in derived_links(dw.scan(pydicom_file("seg"), progress=False))]
    ["SEG 'Liver' -> series 1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1 (not in this catalog)"]
    """
    entries = list(getattr(catalog, "entries", []))
    out = []
    for entry in entries:
        if entry.modality not in DERIVED_MODALITIES:
            continue
        header = header_of(entry)
        if header is None:
            continue
        target, how = match_series(entries, header)
        if target is not None:
            number = f" {target.series_number}" if target.series_number else ""
            name = f"{target.modality or 'image'} series{number}"
            if not number and target.series_description:
                name += f" {target.series_description!r}"
            target_key = target.key
        else:
            uids, _, _ = referenced_series_uids(header)
            name = f"series {uids[0]} (not in this catalog)" if uids else "no referenced series"
            target_key = None
        out.append(DerivedLink(entry.key, entry.modality, _labels(header), target_key, name, how))
    return out
