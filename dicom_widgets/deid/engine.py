"""The de-identification engine: apply Table E.1-1 (and the rules around it) to a dataset."""

from __future__ import annotations

import copy
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from .._compat import is_multi_value, normalize_unknown_vrs, safe_get
from .._encode import plain_uid, text_value_bytes
from ._iod import dummy_item, resolve_compound
from ._private import is_safe_private
from ._tables import (
    EDITION,
    TableRule,
    content_item_rules,
    is_curve_group,
    is_overlay_group,
    is_private_creator,
    is_private_group,
    rule_for,
)
from ._values import BINARY_VRS, TEXT_VRS, dummy_value, redact_text, shift_da, shift_dt, shift_tm
from .context import DeidContext
from .profile import BASIC_CODE, OPTION_CODES, Profile

__all__ = [
    "Change",
    "DeidWarning",
    "AnonymizationResult",
    "anonymize",
    "identifying_values",
    "BURNED_IN_MODALITIES",
]

#: Modalities whose images often carry burned-in text (PS3.15 E.3.1 and practice).
BURNED_IN_MODALITIES = frozenset(
    {
        "US",
        "IVUS",
        "SC",
        "OT",
        "XA",
        "RF",
        "ES",
        "XC",
        "GM",
        "SM",
        "DOC",
        "OP",
        "DX",
        "CR",
        "MG",
        "IO",
        "PX",
    }
)
# Secondary Capture SOP Classes (burned-in text is the rule rather than the exception).
_SC_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_DICOM_UID_ROOT = "1.2.840.10008."
# UI attributes outside Table E.1-1 whose values name standards or coding schemes, not instances.
_UID_KEEP = frozenset(
    {
        "SOPClassUID",
        "ReferencedSOPClassUID",
        "TransferSyntaxUID",
        "MediaStorageSOPClassUID",
        "ImplementationClassUID",
        "CodingSchemeUID",
        "MappingResourceUID",
        "ContextUID",
        "ReferencedSOPClassUIDInFile",
        "ReferencedTransferSyntaxUIDInFile",
        "PrivateInformationCreatorUID",
        "RelatedGeneralSOPClassUID",
        "OriginalSpecializedSOPClassUID",
        "AffectedSOPClassUID",
        "RequestedSOPClassUID",
        "ReferencedColorPaletteInstanceUID",
        "ContentQualification",
    }
)
# File meta elements that name the sending/receiving station.
_META_REMOVE = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
_META_NOT_CHECKED = frozenset(_META_REMOVE) | {0x00020003}  # removed, or replaced
_CONTENT_SEQUENCE = 0x0040A730
_TEXT_VALUE = 0x0040A160
_SR_VALUE_TAG = {
    "TEXT": 0x0040A160,
    "PNAME": 0x0040A123,
    "DATE": 0x0040A121,
    "TIME": 0x0040A122,
    "DATETIME": 0x0040A120,
    "UIDREF": 0x0040A124,
    "CODE": 0x0040A168,
    "NUM": 0x0040A300,
}
_MARKER_TAGS = frozenset((0x00120062, 0x00120063, 0x00120064, 0x00280303))
# Pixel Data, Float Pixel Data, Double Float Pixel Data.
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
# VRs whose values cannot carry names, IDs, dates or UIDs (UN excluded: it may be anything).
_INERT_VRS = frozenset(
    {
        "US",
        "SS",
        "UL",
        "SL",
        "FL",
        "FD",
        "SV",
        "UV",
        "DS",
        "IS",
        "AT",
        "OB",
        "OW",
        "OF",
        "OD",
        "OL",
        "OV",
        "US or SS",
        "OB or OW",
        "US or OW",
    }
)


@dataclass(frozen=True)
class Change:
    """What happened to one element.

    Attributes
    ----------
    path : str
        Location through sequences, e.g. ``ReferencedImageSequence[0].ReferencedSOPInstanceUID``;
        file meta elements start with ``file_meta.``; unknown tags read ``(gggg,eeee)``.
    tag : int
        The element's tag.
    keyword : str
        The DICOM keyword (``""`` for private or unknown tags).
    vr : str
        The value representation the rule was applied with (dictionary VR for public UN).
    action : str
        The action applied: ``X`` removed, ``Z`` emptied, ``D`` dummy, ``K`` kept, ``C`` cleaned
        (dates shifted, text redacted, items cleaned), ``U`` UIDs remapped, ``R`` replaced by an
        override value, ``A`` added (markers).
    table_code : str
        The code Table E.1-1 (or E.3.4-1) gives for the profile in force (``"X/Z/D"``...),
        ``""`` when the element is not in the table.
    rule : str
        Which rule fired: ``"basic"``, an option name, ``"override"``, or ``"beyond table: ..."``.
    before, after : str or None
        Values before and after (``None``: absent). Long and binary values are summarized.
    note : str
        How a compound code was resolved, or other detail.
    removed_values : tuple of str
        The text values inside the items of a removed, emptied or replaced sequence (what
        the verifier searches the output for; re-identifying, so not in the repr).
    """

    path: str
    tag: int
    keyword: str
    vr: str
    action: str
    table_code: str
    rule: str
    before: str | None
    after: str | None
    note: str = ""
    removed_values: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def changed(self) -> bool:
        """Whether the value differs (``K`` with unchanged value is recorded but not a change)."""
        return self.before != self.after

    @property
    def tag_str(self) -> str:
        return f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"


@dataclass(frozen=True)
class DeidWarning:
    """Something the profile does not settle by itself.

    Attributes
    ----------
    kind : str
        ``phi_in_text``, ``burned_in_annotation``, ``overlay``, ``icon_image``,
        ``original_attributes``, ``invalid_value``, ``uid_with_identifier``, ``kept_private``...
    path : str
        Where (tag path), ``""`` for the whole dataset.
    message : str
        What and what to do.
    resolved : bool
        True when the engine already dealt with it (for example redacted the text); unresolved
        warnings keep Patient Identity Removed (0012,0062) at ``NO``.
    """

    kind: str
    path: str
    message: str
    resolved: bool = False


def _summary(value: Any, vr: str, limit: int = 120) -> str | None:
    if value is None:
        return ""
    if vr == "SQ":
        return f"<{len(value)} item(s)>"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    text = str(value) if not isinstance(value, (list, tuple)) else "\\".join(map(str, value))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


@lru_cache(maxsize=4096)
def _keyword(tag: int) -> str:
    return keyword_for_tag(tag) if not (tag >> 16) & 1 else ""


@lru_cache(maxsize=4096)
def _name(tag: int) -> str:
    return _keyword(int(tag)) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


_BIRTH_FORMATS = (
    "{y}{m}{d}",
    "{y}-{m}-{d}",
    "{y}.{m}.{d}",
    "{d}/{m}/{y}",
    "{m}/{d}/{y}",
    "{d}.{m}.{y}",
    "{d}-{m}-{y}",
    "{y}/{m}/{d}",
)


def _person_name_parts(value: Any) -> list[str]:
    """Every component of every component group of a PN value, plus the whole groups."""
    parts: list[str] = []
    for text in value if isinstance(value, (list, tuple, Sequence)) else [value]:
        text = str(text or "")
        for group in text.split("="):
            if group.strip("^ "):
                parts.append(group.strip("^ ").replace("^", " ").strip())
            for comp in group.split("^"):
                comp = comp.strip()
                if comp:
                    parts.append(comp)
                    parts.extend(w for w in comp.split() if len(w) >= 2)
    return parts


# Multi-valued text VRs split on backslashes; single-valued ones keep them as text.
_PEEK_MULTI_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "PN", "SH", "TM", "UC", "UI"})
_PEEK_SINGLE_VRS = frozenset({"LT", "ST", "UT", "UR"})


def _peek(ds: Dataset, keyword: str) -> Any:
    """The value of a top-level element, read from its raw bytes when it is still raw text.

    Converting an element only to look at it costs more than the rest of its processing and
    takes it off the walk's fast path for raw elements; text decodes the same from the raw
    bytes (values as ``str``, a list of them when multi-valued; ``None`` when absent or
    unreadable). Anything else is read through pydicom.
    """
    tag = tag_for_keyword(keyword)
    raw = ds._dict.get(tag) if tag is not None else None
    if raw is None:
        return None
    if not isinstance(raw, DataElement) and isinstance(raw.value, bytes):
        vr = raw.VR or _dictionary_vr(tag)
        if vr in _PEEK_MULTI_VRS or vr in _PEEK_SINGLE_VRS:
            value = raw.value
            ascii_only = value.isascii() and 0x1B not in value
            text = _raw_text_full(raw, [] if ascii_only else _encodings(ds))
            if vr in _PEEK_SINGLE_VRS:
                return text
            values = [v.strip(" \x00") for v in text.split("\\")]
            return values if len(values) > 1 else values[0]
    return safe_get(ds, keyword)  # an unreadable value: nothing to read from it


@lru_cache(maxsize=1024)
def _dictionary_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def identifying_values(ds: Dataset) -> dict[str, list[str]]:
    """The patient's own identifiers found in ``ds`` (top level), by kind.

    Used to find the patient in free text (and by :func:`~dicom_widgets.deid.verify`):
    ``name`` (every component of every PN group), ``id`` (Patient ID, Other Patient IDs,
    Medical Record Locator, Accession Number), ``birth_date`` (in common written forms),
    ``contact`` (address, telephone numbers).

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> sorted(identifying_values(ct_phantom(n_slices=1, size=8)[0])["name"])[:2]
    ['Jane', 'PHANTOM']
    """
    out: dict[str, list[str]] = {"name": [], "id": [], "birth_date": [], "contact": []}

    def get(keyword: str) -> Any:
        return _peek(ds, keyword)

    for keyword in (
        "PatientName",
        "PatientBirthName",
        "PatientMotherBirthName",
        "OtherPatientNames",
    ):
        value = get(keyword)
        if value:
            out["name"].extend(_person_name_parts(value))
    for keyword in ("PatientID", "OtherPatientIDs", "MedicalRecordLocator", "AccessionNumber"):
        value = get(keyword)
        if value:
            values = value if isinstance(value, (list, tuple)) else [value]
            out["id"].extend(str(v).strip() for v in values if str(v).strip())
    others = get("OtherPatientIDsSequence")
    if others:
        for item in others:
            pid = item.get("PatientID")
            if pid:
                out["id"].append(str(pid).strip())
    birth = str(get("PatientBirthDate") or "").strip()
    if re.fullmatch(r"\d{8}", birth):
        y, m, d = birth[:4], birth[4:6], birth[6:]
        out["birth_date"] = sorted({f.format(y=y, m=m, d=d) for f in _BIRTH_FORMATS})
    for keyword in ("PatientAddress", "PatientTelephoneNumbers"):
        value = get(keyword)
        if value:
            values = value if isinstance(value, (list, tuple)) else [value]
            out["contact"].extend(str(v).strip() for v in values if len(str(v).strip()) >= 4)
    for key in out:
        out[key] = sorted({v for v in out[key] if v}, key=lambda s: (-len(s), s))
    return out


#: Person names of staff and names of the site, searched for by the verifier.
STAFF_KEYWORDS = (
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "RequestingPhysician",
)
SITE_KEYWORDS = ("InstitutionName", "InstitutionAddress", "StationName", "DeviceSerialNumber")


def _staff_and_site(ds: Dataset) -> dict[str, list[tuple[str, str]]]:
    """(value, keyword) pairs of staff name parts and site values at the top level of ``ds``."""
    out: dict[str, list[tuple[str, str]]] = {"staff": [], "site": []}
    for keyword in STAFF_KEYWORDS:
        value = _peek(ds, keyword)
        if value:
            out["staff"].extend((part, keyword) for part in _person_name_parts(value))
    for keyword in SITE_KEYWORDS:
        value = _peek(ds, keyword)
        if value:
            out["site"].append((str(value).strip(), keyword))
    return out


def _patterns(values: dict[str, list[str]]) -> list[re.Pattern[str]]:
    patterns = []
    for kind, items in values.items():
        for value in items:
            if kind == "name" and len(value) < 2:
                continue
            if kind != "name" and len(value) < 3:
                continue
            patterns.append(_word_pattern(value))
    return patterns


@lru_cache(maxsize=4096)
def _word_pattern(value: str) -> re.Pattern[str]:
    # Word boundaries so that a short name part does not eat the inside of words; cached
    # because every file of a patient has the same identifiers.
    return re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", re.IGNORECASE)


@dataclass
class AnonymizationResult:
    """The outcome of :func:`anonymize`.

    Attributes
    ----------
    dataset : Dataset
        The de-identified copy (the input is never modified).
    changes : list of Change
        Every element a rule acted on, in dataset order (kept elements included with ``K``).
    warnings : list of DeidWarning
        What the table does not cover; unresolved ones keep (0012,0062) at ``NO``.
    profile : Profile
    edition : str
        The PS3.15 edition of the tables used.
    date_offset_days : int or None
        The per-patient shift applied (Retain Longitudinal Modified Dates), else ``None``.
    """

    dataset: Dataset
    changes: list[Change]
    warnings: list[DeidWarning]
    profile: Profile
    edition: str = EDITION
    date_offset_days: int | None = None
    uid_map: dict[str, str] = field(default_factory=dict)
    #: The original's identifying values (patient kinds as in :func:`identifying_values`, plus
    #: ``staff`` and ``site`` as (value, keyword) pairs); used by the verifier. Re-identifying:
    #: never shown by the reprs.
    identifiers: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def unresolved_warnings(self) -> list[DeidWarning]:
        """Warnings that still need a person's decision."""
        return [w for w in self.warnings if not w.resolved]

    @property
    def identity_removed(self) -> bool:
        """Whether Patient Identity Removed (0012,0062) was set to YES."""
        return str(self.dataset.get("PatientIdentityRemoved", "")) == "YES"

    def changes_by_action(self) -> dict[str, int]:
        """Count of changes per applied action code."""
        out: dict[str, int] = {}
        for change in self.changes:
            out[change.action] = out.get(change.action, 0) + 1
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """The changes as plain dicts (for a DataFrame or a table widget)."""
        return [
            {
                "path": c.path,
                "tag": c.tag_str,
                "keyword": c.keyword,
                "vr": c.vr,
                "action": c.action,
                "table_code": c.table_code,
                "rule": c.rule,
                "before": c.before,
                "after": c.after,
                "note": c.note,
            }
            for c in self.changes
        ]

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.changes_by_action().items()))
        unresolved = len(self.unresolved_warnings)
        return (
            f"<AnonymizationResult {self.profile.describe()}, PS3.15 {self.edition}: "
            f"{len(self.changes)} rule applications ({counts}); {len(self.warnings)} warning(s), "
            f"{unresolved} unresolved; identity removed: {'YES' if self.identity_removed else 'NO'}>"
        )

    def _repr_text(self) -> str:
        lines = [repr(self)]
        for c in self.changes:
            if c.changed:
                lines.append(f"  {c.action} {c.path} [{c.rule}] {c.before!r} -> {c.after!r}")
        for w in self.warnings:
            lines.append(
                f"  ! {'resolved' if w.resolved else 'UNRESOLVED'} {w.kind} {w.path}: {w.message}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _html_or_pre("anonymization_result_html", self)


def _html_or_pre(function: str, obj: Any) -> str:
    """Delegate to ``dicom_widgets.html.anonymization.<function>`` when it exists."""
    try:
        from ..html import anonymization as _html_module  # type: ignore[attr-defined]

        render = getattr(_html_module, function)
    except (ImportError, AttributeError):
        return f"<pre>{html.escape(obj._repr_text())}</pre>"
    return render(obj)


class _Element:
    """The element a rule is being applied to, and the one place its change is recorded.

    PS3.15 E.1.1 gives each attribute one action; this holds where the element is, which rule
    and code decided, and its value before, so that each action only says what it did:
    ``element.record(after, note)``.
    """

    __slots__ = ("engine", "ds", "tag", "path", "vr", "action", "code", "rule", "before")

    def __init__(
        self,
        engine: _Engine,
        ds: Dataset,
        tag: int,
        path: str,
        vr: str,
        *,
        action: str = "",
        code: str = "",
        rule: str = "basic",
        before: Any = None,
    ) -> None:
        self.engine, self.ds, self.tag, self.path, self.vr = engine, ds, int(tag), path, vr
        self.action, self.code, self.rule, self.before = action, code, rule, before

    def record(
        self,
        after: Any,
        note: str = "",
        *,
        action: str | None = None,
        before_summary: str | None = None,
        after_summary: str | None = None,
        removed_values: tuple[str, ...] = (),
    ) -> None:
        """Record the element's change: its value after (``_ABSENT``: removed) and a note.

        ``action`` overrides the element's own when the rule could not be applied as is (a
        date that cannot be shifted is emptied: ``Z``). ``removed_values`` are the text values
        of removed or replaced sequence items, searched for by the verifier.
        """
        vr = self.vr
        if before_summary is None:
            before_summary = None if self.before is _ABSENT else _summary(self.before, vr)
        self.engine.changes.append(
            _change(
                self.path,
                self.tag,
                vr,
                action or self.action,
                self.code,
                self.rule,
                before_summary,
                after_summary
                if after_summary is not None
                else (None if after is _ABSENT else _summary(after, vr)),
                note,
                removed_values,
            )
        )


def _change(
    path: str,
    tag: int,
    vr: str,
    action: str,
    table_code: str,
    rule: str,
    before: str | None,
    after: str | None,
    note: str = "",
    removed_values: tuple[str, ...] = (),
) -> Change:
    """A :class:`Change`, built without the frozen dataclass's per-field ``__setattr__``
    (a file records one per element; this halves what recording costs)."""
    change = object.__new__(Change)
    change.__dict__.update(
        path=path,
        tag=tag,
        keyword=_keyword(tag),
        vr=vr,
        action=action,
        table_code=table_code,
        rule=rule,
        before=before,
        after=after,
        note=note,
        removed_values=removed_values,
    )
    return change


#: (enabled options, id of a table row) -> (code, rule that fired): the rows live as long as
#: the process (``_tables`` loads them once), so each is decided once per profile.
_CODES: dict[tuple[tuple[str, ...], int], tuple[str, str]] = {}
_CODE_RANK = {"X": 0, "Z": 1, "D": 2, "C": 3, "U": 4, "K": 5}


class _Engine:
    """One run of PS3.15 Annex E over one dataset (state: the identifiers, the changes).

    The steps, in the order :func:`anonymize` calls them: :meth:`walk` (E.1.1 and Table
    E.1-1 on every element at every level, E.3 options), :meth:`file_meta`, :meth:`preamble`,
    :meth:`dataset_warnings` (E.3.1 burned-in annotation) and :meth:`markers` (E.1.1 and
    E.3: the de-identification markers).
    """

    def __init__(
        self,
        profile: Profile,
        context: DeidContext,
        ds: Dataset,
        *,
        pixel_cleaned: bool = False,
        has_pixel_data: bool | None = None,
    ) -> None:
        self.profile = profile
        self.has_pixel_data = (
            any(t in ds._dict for t in _PIXEL_TAGS) if has_pixel_data is None else has_pixel_data
        )
        self.context = context
        self._encodings_cache: dict[int, list[str]] = {}
        self.enabled = profile.enabled_options()
        self.options = set(self.enabled)
        self.changes: list[Change] = []
        self.warnings: list[DeidWarning] = []
        try:
            self.sop_class = str(_peek(ds, "SOPClassUID") or "")
        except Exception:  # noqa: BLE001 - an unconvertible value (unknown VR): no IOD known
            self.sop_class = ""
        self.identifiers = identifying_values(ds)
        self.staff_site = _staff_and_site(ds)
        # Free text is searched for the patient's identifiers and for staff and site names
        # (the verifier flags those too), except what an option retains on purpose.
        extra: dict[str, list[str]] = {
            "name": [v for v, _ in self.staff_site["staff"] if len(v) >= 3]
        }
        site = [
            v
            for v, keyword in self.staff_site["site"]
            if not (
                keyword in ("InstitutionName", "InstitutionAddress")
                and profile.retain_institution_identity
            )
            and not (
                keyword in ("StationName", "DeviceSerialNumber") and profile.retain_device_identity
            )
        ]
        extra["id"] = [v for v in site if len(v) >= 4]
        self.patterns, self.detector = _free_text_patterns(
            tuple((kind, tuple(items)) for kind, items in self.identifiers.items()),
            tuple((kind, tuple(items)) for kind, items in extra.items()),
        )
        self.pixel_cleaned = pixel_cleaned
        self.uids_used: dict[str, str] = {}
        self.date_offset: int | None = None
        if "retain_longitudinal_modified_dates" in self.options:
            patient = str(_peek(ds, "PatientID") or "").strip() or str(
                _peek(ds, "PatientName") or ""
            )
            self.date_offset = context.date_offset(patient or "<no patient id>")
        self.patient_id_digits = [
            v for v in self.identifiers["id"] if len(re.sub(r"\D", "", v)) >= 5
        ]

    # -- recording -----------------------------------------------------------------------
    def element(
        self, ds: Dataset, tag: int, path: str, vr: str, before: Any = None, **rule: str
    ) -> _Element:
        """The context of one element (``rule``: ``action``, ``code``, ``rule``)."""
        return _Element(self, ds, tag, path, vr, before=before, **rule)

    def warn(self, kind: str, path: str, message: str, resolved: bool = False) -> None:
        self.warnings.append(DeidWarning(kind, path, message, resolved))

    # -- rules -----------------------------------------------------------------------------
    def code_for(self, rule: TableRule) -> tuple[str, str]:
        """(code, which rule fired) for a row of Table E.1-1 under the profile's options.

        PS3.15 E.3: each option replaces the Basic Profile's action where its column has a
        code. Options disagree only on calibration dates (Retain Device Identity K against
        Retain Longitudinal Modified Dates C): the more protective C wins.
        """
        key = (self.enabled, id(rule))
        found = _CODES.get(key)
        if found is None:
            codes = [(rule.code_for(opt), opt) for opt in self.enabled]
            codes = [(c, o) for c, o in codes if c]
            if not codes:
                found = rule.basic, "basic"
            else:
                codes.sort(key=lambda pair: _CODE_RANK.get(pair[0][0], 9))
                found = codes[0]
            _CODES[key] = found
        return found

    # -- walking ---------------------------------------------------------------------------
    def walk(self, ds: Dataset, prefix: str, parent: str, local: dict[int, str]) -> None:
        """Apply the profile to every element of ``ds`` (PS3.15 E.1.1, Table E.1-1).

        Every attribute gets the action of its row (compound codes resolved by the IOD,
        :mod:`._iod`); overrides win; private elements follow the ``gggg,eeee`` row (E.3.10);
        repeating groups their pattern rows (an overlay whose Overlay Data is removed loses
        its whole 60xx group); attributes outside the table are handled by
        :meth:`beyond_table`. ``local`` holds codes for content item values (Table E.3.4-1).
        """
        tags = list(ds.keys())
        private_keep = self._private_decisions(ds, tags)
        overlay_groups = {t >> 16 for t in tags if is_overlay_group(t >> 16)}
        overlay_removed = {
            g
            for g in overlay_groups
            if self.profile.override_for((g << 16) | 0x3000) is None
            and "clean_graphics" not in self.options
        }
        for group in sorted(overlay_groups):
            self._embedded_overlay(ds, group, prefix)
        store = ds._dict
        for tag in tags:
            # ``tag`` is the dataset's own key object (found by identity, without BaseTag's
            # Python-level __eq__); ``itag`` is for every other lookup.
            itag = int(tag)
            group = itag >> 16
            if itag in _MARKER_TAGS and not prefix:
                continue  # rewritten at the end
            if (
                not is_private_group(group)
                and itag & 0xFFFF
                and store[tag].VR in _INERT_VRS
                and group not in overlay_groups
                and not is_curve_group(group)
                and rule_for(itag) is None
                and itag not in local
                and self.profile.override_for(itag) is None
            ):
                # Numbers and pixel data outside the table cannot hold names: leave them as
                # read (still raw), which also keeps them byte-exact and fast to write.
                continue
            if self._remove_raw(ds, tag, prefix, parent, local, private_keep, overlay_removed):
                continue
            try:
                elem = ds[tag]
            except Exception as exc:  # noqa: BLE001 - unreadable value: decide without it
                self._unreadable(ds, tag, prefix, exc)
                continue
            path = _join(prefix, _name(itag))
            if not itag & 0xFFFF and group != 0x0002:
                # Group lengths are retired and recomputed by writers; drop them.
                del ds[tag]
                continue
            override = self.profile.override_for(itag)
            if override is not None:
                self.apply_override(ds, elem, path, override)
                continue
            if is_private_group(group):
                self.private(ds, elem, path, private_keep)
                continue
            if group in overlay_removed:
                rule = rule_for(itag)
                element = self.element(
                    ds,
                    itag,
                    path,
                    elem.VR,
                    elem.value,
                    action="X",
                    code=rule.basic if rule else "",
                    rule="basic" if rule else _OVERLAY_WITH_ITS_DATA,
                )
                del ds[tag]
                element.record(_ABSENT)
                continue
            vr = self._effective_vr(elem)
            if itag in local:
                code = local[itag]
                fired = (
                    "clean_structured_content"
                    if "clean_structured_content" in self.options
                    else "basic"
                )
                action = "U" if vr == "UI" and code == "D" else code
                self.apply(ds, elem, vr, path, action, code, fired, "content item value", local)
                continue
            rule = rule_for(itag)
            if rule is not None:
                code, fired = self.code_for(rule)
                action, note = resolve_compound(
                    code, elem.keyword or "", self.sop_class, parent, ds
                )
                self.apply(ds, elem, vr, path, action, code, fired, note, local)
            else:
                self.beyond_table(ds, elem, vr, path, local)

    def _embedded_overlay(self, ds: Dataset, group: int, prefix: str) -> None:
        """Warn for a retired overlay embedded in unused pixel bits (PS3.15 E.3.3, Clean
        Graphics): removing the 60xx group does not remove it from the pixel data."""
        bits_tag, data_tag = (group << 16) | 0x0100, (group << 16) | 0x3000
        if bits_tag in ds and data_tag not in ds:
            try:
                bits = ds[bits_tag].value
            except Exception:  # noqa: BLE001
                bits = None
            if bits not in (None, 1, "", b""):
                self.warn(
                    "overlay",
                    _join(prefix, f"({group:04X},0100)"),
                    "an overlay is embedded in unused bits of the pixel data; those bits "
                    "still hold it after the 60xx group is removed: clean the pixel data",
                )

    def encodings(self, ds: Dataset) -> list[str]:
        """Codecs of ``ds`` (cached: pydicom recomputes them on every access)."""
        key = id(ds)
        found = self._encodings_cache.get(key)
        if found is None:
            found = self._encodings_cache[key] = _encodings(ds)
        return found

    def _remove_raw(
        self,
        ds: Dataset,
        tag: BaseTag,
        prefix: str,
        parent: str,
        local: dict[int, str],
        private_keep: set[int],
        overlay_removed: set[int],
    ) -> bool:
        """Apply X (or Z, D, U) to a still-raw element without decoding it (the fast path of
        Table E.1-1: most rows remove).

        Converting each value only to throw it away costs more than the rest of the work, so
        the value shown in the change list is decoded from the raw bytes instead. Returns
        False when the element needs the full treatment.
        """
        raw = ds._dict.get(tag)
        itag = int(tag)
        if raw is None or isinstance(raw, DataElement) or itag in local:
            return False
        if not itag & 0xFFFF or self.profile.override_for(itag) is not None:
            return False
        group = itag >> 16
        vr = raw.VR
        if is_private_group(group):
            if itag in private_keep:
                return False
            rule = rule_for(itag)
            assert rule is not None
            code, fired = self.code_for(rule)
            note = "private creator" if is_private_creator(itag) else ""
            vr = vr or "UN"
        else:
            if vr in (None, "UN", "SQ") or itag in (0x00880200, 0x04000561):
                return False  # needs the dictionary VR, item walking or a warning
            rule = rule_for(itag)
            if group in overlay_removed:
                code = rule.basic if rule else ""
                fired = "basic" if rule else _OVERLAY_WITH_ITS_DATA
                note = ""
            elif rule is None:
                return self._raw_beyond_table(ds, tag, raw, vr, local)
            else:
                code, fired = self.code_for(rule)
                action, note = resolve_compound(code, _keyword(itag), self.sop_class, parent, ds)
                if action in ("Z", "D", "U"):
                    return self._raw_replace(ds, raw, vr, action, code, fired, note, prefix)
                if action != "X":
                    return False
        element = self.element(
            ds, itag, _join(prefix, _name(itag)), vr, action="X", code=code, rule=fired
        )
        before = _raw_text(raw, vr, self.encodings(ds))
        del ds[tag]
        element.record(_ABSENT, note, before_summary=before)
        return True

    def _raw_replace(
        self,
        ds: Dataset,
        raw: Any,
        vr: str,
        action: str,
        code: str,
        fired: str,
        note: str,
        prefix: str,
    ) -> bool:
        """Z, D or U on a still-raw element: the new value needs no decoding of the old one."""
        itag = int(raw.tag)
        before = _raw_text(raw, vr, self.encodings(ds))
        if action == "Z":
            new: Any = _empty(vr)
        elif vr == "UI":
            values = [v for v in _raw_text_full(raw, self.encodings(ds)).split("\\")]
            new = self._remap(values if len(values) > 1 else values[0])
            action = "U" if action == "U" else "D"
        elif action == "U":
            return False  # U on a non-UI value: let the general path decide
        else:
            new = dummy_value(vr)
        ds._dict[raw.tag] = _replaced_raw(raw, vr, new)
        element = self.element(
            ds, itag, _join(prefix, _name(itag)), vr, action=action, code=code, rule=fired
        )
        element.record(new, note, before_summary=before)
        return True

    def _raw_beyond_table(
        self, ds: Dataset, tag: BaseTag, raw: Any, vr: str, local: dict[int, str]
    ) -> bool:
        """Leave a raw element outside the table undecoded when nothing in it needs work."""
        if vr not in _DECODABLE_VRS or (vr in ("DA", "DT") and self.date_offset is not None):
            return False
        if is_overlay_group(int(tag) >> 16):
            return False  # overlay free text has its own rule
        text = _raw_text_full(raw, self.encodings(ds))
        if vr == "UI":
            keyword = _keyword(int(tag))
            values = [v.strip() for v in text.split("\\")]
            remap = (
                "retain_uids" not in self.options
                and keyword not in _UID_KEEP
                and any(v and not v.startswith(_DICOM_UID_ROOT) for v in values)
            )
            return not remap and not self.patient_id_digits
        if vr in TEXT_VRS:
            return self.detector is None or not self.detector.search(text)
        return True  # AS, DS, IS, TM, and dates without a shift: nothing to do outside the table

    def _effective_vr(self, elem: DataElement) -> str:
        vr = elem.VR
        if vr == "UN" and not is_private_group(elem.tag >> 16):
            try:
                known = dictionary_VR(elem.tag)
            except KeyError:
                return vr
            return known.split(" or ")[0] if known else vr
        return vr

    def _unreadable(self, ds: Dataset, tag: BaseTag, prefix: str, exc: Exception) -> None:
        """A value that cannot be parsed cannot be judged: removed unless the table keeps it."""
        path = _join(prefix, _name(tag))
        rule = rule_for(int(tag)) if not is_private_group(tag >> 16) else None
        code = self.code_for(rule)[0] if rule else "X"
        keep = code == "K"
        if not keep:
            del ds[tag]
        element = self.element(
            ds,
            tag,
            path,
            "??",
            "<unreadable>",
            action="K" if keep else "X",
            code=code if rule else "",
            rule="beyond table: unreadable value",
        )
        element.record("<unreadable>" if keep else _ABSENT, str(exc)[:200])
        self.warn(
            "invalid_value",
            path,
            f"value could not be read ({exc}); {'kept as is' if keep else 'removed'}",
            resolved=not keep,
        )

    def _special(self, tag: int, path: str, *, removed: bool) -> None:
        """Warnings for attributes known to hide identity beyond what their rule says."""
        if tag == 0x00880200:
            self.warn(
                "icon_image",
                path,
                "Icon Image Sequence removed (a thumbnail can show burned-in text)"
                if removed
                else "Icon Image Sequence kept: its thumbnail can show burned-in names; review it",
                resolved=removed,
            )
        elif tag == 0x04000561:
            self.warn(
                "original_attributes",
                path,
                "Original Attributes Sequence removed (it holds the values before modification)"
                if removed
                else "Original Attributes Sequence kept: its items (the values before modification) "
                "were de-identified by the same rules",
                resolved=True,
            )

    def apply_override(self, ds: Dataset, elem: DataElement, path: str, override: Any) -> None:
        """A user's decision for one attribute, which wins over Table E.1-1 at every level."""
        self._special(int(elem.tag), path, removed=override.action in ("remove", "empty"))
        vr = self._effective_vr(elem)
        if vr != elem.VR:
            elem = _reinterpret(ds, elem, vr)
            vr = elem.VR if elem.VR != "UN" else vr
        before = elem.value
        element = self.element(ds, elem.tag, path, vr, before, rule="override")
        if override.action == "keep":
            rule = rule_for(int(elem.tag))
            element.code = self.code_for(rule)[0] if rule is not None else ""
            element.action = "K"
            element.record(before)
            if element.code and element.code != "K" and before not in (None, "", b"", []):
                # The user keeps what the profile would remove: that is their decision, but
                # the dataset can no longer claim Patient Identity Removed = YES.
                self.warn(
                    "override_keeps",
                    path,
                    f"override keeps {_name(int(elem.tag))}, which the profile would act on "
                    f"({element.code}); Patient Identity Removed stays NO",
                )
            if vr == "SQ":
                for i, item in enumerate(elem.value):
                    self.walk(item, f"{path}[{i}]", elem.keyword or "", {})
            return
        removed = _sequence_text(before) if vr == "SQ" else ()
        if override.action == "remove":
            del ds[elem.tag]
            element.action = "X"
            element.record(_ABSENT, removed_values=removed)
            return
        if override.action == "empty":
            elem.value = [] if vr == "SQ" else _empty(vr)
            element.action = "Z"
            element.record(elem.value, removed_values=removed)
            return
        if vr != elem.VR:
            elem.VR = vr
        elem.value = override.value
        element.action = "R"
        element.record(elem.value, removed_values=removed)

    # -- the actions (PS3.15 E.1.1, Table E.1-1's codes) ------------------------------------
    def apply(
        self,
        ds: Dataset,
        elem: DataElement,
        vr: str,
        path: str,
        action: str,
        code: str,
        fired: str,
        note: str,
        local: dict[int, str],
    ) -> None:
        """Apply one resolved action code to ``elem`` through :data:`ACTIONS`."""
        tag = elem.tag
        self._special(int(tag), path, removed=action in ("X", "Z", "D"))
        if vr != elem.VR:
            # Public element stored as UN: reinterpret with the dictionary VR first.
            elem = _reinterpret(ds, elem, vr)
            vr = elem.VR if elem.VR != "UN" else vr
        element = self.element(ds, tag, path, vr, elem.value, action=action, code=code, rule=fired)
        handler = ACTIONS.get(action)
        if handler is None:  # pragma: no cover - the tables hold no other code
            raise AssertionError(f"unknown action {action!r}")
        handler(self, element, elem, note, local)

    def remove(self, element: _Element, elem: DataElement, note: str, local: LocalCodes) -> None:
        """X: remove the attribute (the text values of a removed sequence go to the verifier)."""
        removed = _sequence_text(element.before) if element.vr == "SQ" else ()
        del element.ds[elem.tag]
        element.record(_ABSENT, note, removed_values=removed)

    def empty(self, element: _Element, elem: DataElement, note: str, local: LocalCodes) -> None:
        """Z: replace with a zero-length value (a sequence with no items)."""
        removed = _sequence_text(element.before) if element.vr == "SQ" else ()
        elem.value = [] if element.vr == "SQ" else _empty(element.vr)
        element.record(elem.value, note, removed_values=removed)

    def dummy(self, element: _Element, elem: DataElement, note: str, local: LocalCodes) -> None:
        """D: replace with a non-zero-length dummy value consistent with the VR.

        A UID gets its keyed remapping (a dummy UID would break references). A sequence gets
        one item holding only what the IOD requires of that item, with dummy values
        (:func:`._iod.dummy_item`); nothing of the original items is kept, and their text
        values go to the verifier.
        """
        vr = element.vr
        if vr == "SQ":
            removed = _sequence_text(element.before)
            item, template = dummy_item(elem.keyword or "", self._remap_one(_DUMMY_UID_SEED))
            elem.value = Sequence([item])
            what = (
                f"{template}, dummy values"
                if template
                else "no item template known: one empty item"
            )
            element.record(
                elem.value,
                _join_notes(note, f"replaced by a dummy sequence: one item ({what})"),
                after_summary="<1 dummy item>",
                removed_values=removed,
            )
            return
        elem.value = self._remap(elem.value) if vr == "UI" else dummy_value(vr)
        element.record(elem.value, note)

    def keep(self, element: _Element, elem: DataElement, note: str, local: LocalCodes) -> None:
        """K: keep the attribute; what is inside it is still looked at (items by the same
        rules, UIDs for embedded identifiers, free text for the patient's identifiers)."""
        element.record(element.before, note)
        vr = element.vr
        if vr == "SQ":
            self._walk_items(elem, element.path, local)
        elif vr == "UI" and self.patient_id_digits:
            self._uid_identifier_check(elem, element.path)
        elif vr in TEXT_VRS:
            self._scan_text(element.ds, elem, element.path, vr, redact=element.rule != "override")

    def remap_uids(
        self, element: _Element, elem: DataElement, note: str, local: LocalCodes
    ) -> None:
        """U: replace UIDs with keyed, consistent ones; U* on a sequence keeps its items and
        remaps the UIDs inside them."""
        if element.vr == "SQ":
            element.record(element.before, note or "items kept, UIDs inside remapped")
            self._walk_items(elem, element.path, local)
            return
        elem.value = self._remap(elem.value)
        element.record(elem.value, note)

    def clean(self, element: _Element, elem: DataElement, note: str, local: LocalCodes) -> None:
        """C: replace with values of similar meaning known not to identify (PS3.15 E.3.5 to
        E.3.7: dates shifted, text redacted, sequence items cleaned; E.3.4 content items by
        Table E.3.4-1; E.3.3 graphics kept for review)."""
        before, vr = element.before, element.vr
        if vr in ("DA", "DT", "TM"):
            if self.date_offset is None:
                # C on a date only comes from the modified-dates option; be safe otherwise.
                elem.value = _empty(vr)
                element.record(elem.value, "no date offset", action="Z")
                return
            try:
                elem.value = self._shift(before, vr)
            except ValueError as exc:
                elem.value = _empty(vr)
                element.record(elem.value, f"not shiftable: {exc}", action="Z")
                self.warn(
                    "invalid_value",
                    element.path,
                    f"invalid {vr} value emptied instead of shifted: {exc}",
                    True,
                )
                return
            shifted = f"shifted {self.date_offset:+d} days" if vr != "TM" else ""
            element.record(elem.value, shifted or "kept: whole-day shift")
            return
        if vr == "SQ":
            if elem.tag == _CONTENT_SEQUENCE and element.rule == "clean_structured_content":
                element.record(before, "content items cleaned per Table E.3.4-1")
                self._clean_content(elem, element.path, local)
                return
            element.record(before, "items kept and cleaned")
            self._walk_items(elem, element.path, local)
            return
        if vr in TEXT_VRS:
            value = elem.value
            text = "\\".join(map(str, value)) if is_multi_value(value) else str(value or "")
            new, changed = redact_text(text, self.patterns)
            if changed:
                elem.value = new
            element.record(
                elem.value,
                "patient identifiers redacted" if changed else "no patient identifier found",
            )
            return
        if vr in BINARY_VRS or vr in ("OW", "OB"):
            # Overlay or curve bitmaps: nothing to clean automatically, so a person must look.
            element.record(before, "kept: needs review")
            self.warn(
                "graphics",
                element.path,
                "graphic data kept under Clean Graphics; review it for burned-in identifiers",
            )
            return
        element.record(before, "kept (nothing to clean)")

    def _shift(self, value: Any, vr: str) -> Any:
        assert self.date_offset is not None
        fn = {"DA": shift_da, "DT": shift_dt, "TM": shift_tm}[vr]
        if is_multi_value(value):
            return [fn(str(v), self.date_offset) for v in value]
        if value is None or str(value) == "":
            return value
        return fn(str(value), self.date_offset)

    def _remap(self, value: Any) -> Any:
        if is_multi_value(value):
            return [self._remap_one(str(v)) for v in value]
        if value is None or str(value).strip() == "":
            return value
        return self._remap_one(str(value))

    def _remap_one(self, uid: str) -> str:
        new = self.context.remap_uid(uid)
        self.uids_used[uid.strip().rstrip("\x00")] = new
        return new

    def _walk_items(self, elem: DataElement, path: str, local: dict[int, str]) -> None:
        for i, item in enumerate(elem.value or []):
            self.walk(item, f"{path}[{i}]", elem.keyword or "", local)

    # -- beyond the table ----------------------------------------------------------------
    def beyond_table(
        self, ds: Dataset, elem: DataElement, vr: str, path: str, local: dict[int, str]
    ) -> None:
        """Attributes Table E.1-1 does not list (PS3.15 E.1.1 leaves them to the tool).

        Overlay Description and Label (60xx,0022/1500) are free text: removed. Sequences are
        walked. Instance UIDs are remapped (they can embed MRNs and dates); under Retain
        Longitudinal Modified Dates every DA and DT is shifted with the others; free text is
        searched for the patient's identifiers and redacted.
        """
        tag = int(elem.tag)
        element = self.element(ds, tag, path, vr, elem.value)
        if is_overlay_group(tag >> 16) and (tag & 0xFFFF) in (0x0022, 0x1500):
            del ds[elem.tag]
            element.action, element.rule = "X", "beyond table: overlay free text"
            element.record(_ABSENT)
            self.warn(
                "overlay",
                path,
                "overlay free text removed (not in Table E.1-1, often holds names)",
                True,
            )
            return
        if vr == "SQ":
            self._walk_items(elem, path, local)
            return
        if vr == "UI":
            keyword = elem.keyword or ""
            value = elem.value
            values = list(value) if is_multi_value(value) else [value]
            if (
                "retain_uids" not in self.options
                and keyword not in _UID_KEEP
                and any(v and not str(v).startswith(_DICOM_UID_ROOT) for v in values)
            ):
                elem.value = self._remap(value)
                element.action = "U"
                element.rule = "beyond table: instance UID not in Table E.1-1"
                element.record(elem.value, "remapped: UIDs may embed identifiers")
            elif self.patient_id_digits:
                self._uid_identifier_check(elem, path)
            return
        if vr in ("DA", "DT") and self.date_offset is not None:
            try:
                elem.value = self._shift(element.before, vr)
            except ValueError as exc:
                elem.value = _empty(vr)
                self.warn("invalid_value", path, f"invalid {vr} value emptied: {exc}", True)
            element.action = "C"
            element.rule = "beyond table: date shifted with the others (modified dates)"
            element.record(elem.value)
            return
        if vr in TEXT_VRS:
            self._scan_text(ds, elem, path, vr, redact=True)

    def _scan_text(
        self, ds: Dataset, elem: DataElement, path: str, vr: str, *, redact: bool
    ) -> None:
        """Redact the patient's identifiers (and staff and site names) from free text."""
        if not self.patterns:
            return
        value = elem.value
        if value is None or value == "":
            return
        multi = is_multi_value(value)
        texts = [str(v) for v in value] if multi else [str(value)]
        new_texts = []
        hit = False
        for text in texts:
            new, changed = redact_text(text, self.patterns)
            hit = hit or changed
            new_texts.append(new)
        if not hit:
            return
        if redact:
            element = self.element(
                ds,
                elem.tag,
                path,
                vr,
                elem.value,
                action="C",
                rule="beyond table: patient identifier in free text",
            )
            elem.value = new_texts if multi else new_texts[0]
            element.record(elem.value, "redacted")
            self.warn(
                "phi_in_text",
                path,
                "free text contained an identifier (the patient's name, ID or birth date, a staff or "
                "site name); redacted",
                True,
            )
        else:
            self.warn(
                "phi_in_text",
                path,
                "free text kept by an override contains the patient's name, ID or birth date",
            )

    def _uid_identifier_check(self, elem: DataElement, path: str) -> None:
        """Warn when a kept UID embeds a patient identifier's digits (E.3.9 Retain UIDs)."""
        text = str(elem.value)
        for pid in self.patient_id_digits:
            digits = re.sub(r"\D", "", pid)
            if digits and digits in text.replace(".", ""):
                self.warn(
                    "uid_with_identifier",
                    path,
                    "a kept UID contains the digits of a patient identifier; do not use retain_uids here",
                )
                return

    # -- private elements ------------------------------------------------------------------
    def _private_decisions(self, ds: Dataset, tags: Iterable[int]) -> set[int]:
        """Tags of private elements (and their creators) kept by Retain Safe Private (E.3.10)."""
        if "retain_safe_private" not in self.options:
            return set()
        keep: set[int] = set()
        for tag in tags:
            group, element = tag >> 16, tag & 0xFFFF
            if not is_private_group(group) or element < 0x1000:
                continue
            creator_tag = (group << 16) | (element >> 8)
            try:
                creator = str(ds[creator_tag].value) if creator_tag in ds else ""
            except Exception:  # noqa: BLE001
                creator = ""
            if creator and is_safe_private(creator, group, element, self.profile.safe_private):
                keep.add(int(tag))
                keep.add(creator_tag)
        return keep

    def private(self, ds: Dataset, elem: DataElement, path: str, keep: set[int]) -> None:
        """The ``gggg,eeee`` row: private elements removed, unless safe and retained (E.3.10)."""
        rule = rule_for(int(elem.tag))
        assert rule is not None
        code, fired = self.code_for(rule)
        element = self.element(ds, elem.tag, path, elem.VR, elem.value, code=code, rule=fired)
        if int(elem.tag) in keep:
            element.action = "C"
            element.record(
                elem.value,
                "private creator of a safe attribute"
                if (elem.tag & 0xFFFF) < 0x1000
                else "safe private attribute kept",
            )
            return
        removed = _sequence_text(elem.value) if elem.VR == "SQ" else ()
        del ds[elem.tag]
        element.action = "X"
        element.record(
            _ABSENT,
            "private creator" if is_private_creator(int(elem.tag)) else "",
            removed_values=removed,
        )

    # -- structured content ----------------------------------------------------------------
    def _clean_content(self, elem: DataElement, path: str, local: dict[int, str]) -> None:
        """Clean Structured Content (PS3.15 E.3.4): content items by Table E.3.4-1."""
        table = content_item_rules()
        keep_items = []
        for i, item in enumerate(elem.value or []):
            item_path = f"{path}[{i}]"
            concept = None
            try:
                seq = item.get("ConceptNameCodeSequence")
                if seq:
                    concept = (
                        str(seq[0].get("CodeValue", "")),
                        str(seq[0].get("CodingSchemeDesignator", "")),
                    )
            except Exception:  # noqa: BLE001
                concept = None
            row = table.get(concept) if concept else None
            sub = dict(local)
            if row is not None:
                codes = [row.code_for(o) for o in self.profile.enabled_options() if row.code_for(o)]
                code = codes[0] if codes else row.basic
                action = code.split("/")[0]  # X/D: the item is optional in its template -> X
                if action == "X":
                    element = self.element(
                        item,
                        _CONTENT_SEQUENCE,
                        item_path,
                        "SQ",
                        f"content item {row.code_meaning}",
                        action="X",
                        code=code,
                        rule="clean_structured_content",
                    )
                    element.record(
                        _ABSENT,
                        f"Table E.3.4-1 ({row.code_value}, {row.coding_scheme})",
                        before_summary=f"content item {row.code_meaning}",
                        removed_values=_sequence_text([item]),
                    )
                    continue
                value_tag = _SR_VALUE_TAG.get(str(item.get("ValueType", "")))
                if value_tag is not None:
                    sub[value_tag] = action
            keep_items.append(item)
            self.walk(item, item_path, "ContentSequence", sub)
        if len(keep_items) != len(elem.value or []):
            elem.value = Sequence(keep_items)

    # -- markers and dataset-level warnings ------------------------------------------------
    def dataset_warnings(self, ds: Dataset) -> None:
        """Burned-in annotation (PS3.15 E.3.1): Burned In Annotation NO once the pixels were
        cleaned; a warning (which keeps Patient Identity Removed NO) while it is YES, or
        missing on a modality that often burns text in."""
        modality = str(_peek(ds, "Modality") or "").upper()
        if not self.has_pixel_data:
            return
        burned = str(_peek(ds, "BurnedInAnnotation") or "").upper()
        if self.pixel_cleaned and burned != "NO":
            before = ds[0x00280301].value if 0x00280301 in ds else _ABSENT
            ds.BurnedInAnnotation = "NO"
            element = self.element(
                ds,
                0x00280301,
                "BurnedInAnnotation",
                "CS",
                before,
                action="R",
                rule="clean_pixel_data",
            )
            element.record("NO", "pixel regions blanked")
        risky = modality in BURNED_IN_MODALITIES or self.sop_class.startswith(_SC_PREFIX)
        if burned == "YES" or (risky and burned != "NO"):
            state = "YES" if burned == "YES" else "missing"
            self.warn(
                "burned_in_annotation",
                "BurnedInAnnotation",
                f"Burned In Annotation is {state} on a {modality or 'secondary capture'} image: "
                "pixel data may show names or IDs; clean the pixels (pixel_regions=...) or review them",
                resolved=self.pixel_cleaned,
            )

    def _marker(self, ds: Dataset, tag: int, keyword: str, vr: str, value: Any) -> _Element:
        before = ds[tag].value if tag in ds else _ABSENT
        ds[tag] = _new_element(tag, vr, value)  # the engine's own values: no validation
        return self.element(ds, tag, keyword, vr, before, action="A", rule="PS3.15 E.1.1")

    def markers(self, ds: Dataset) -> None:
        """The de-identification markers (PS3.15 E.1.1; CID 7050 codes of E.3): Patient
        Identity Removed YES only when no warning is unresolved, De-identification Method and
        its Code Sequence naming the edition and options, Longitudinal Temporal Information
        Modified."""
        unresolved = [w for w in self.warnings if not w.resolved]
        value = "NO" if unresolved else "YES"
        self._marker(ds, 0x00120062, "PatientIdentityRemoved", "CS", value).record(
            value, f"{len(unresolved)} unresolved warning(s)" if unresolved else ""
        )
        names = [BASIC_CODE, *[OPTION_CODES[o] for o in self.profile.enabled_options()]]
        if self.pixel_cleaned:
            names.insert(1, OPTION_CODES["clean_pixel_data"])
        methods = [f"DICOM PS3.15 {EDITION} Annex E"] + [meaning[:64] for _, meaning in names]
        if self.profile.overrides:
            methods.append(f"{len(self.profile.overrides)} attribute override(s)")
        self._marker(ds, 0x00120063, "DeidentificationMethod", "LO", methods).record(methods)
        items = []
        for code_value, meaning in names:
            item = Dataset()
            item[0x00080100] = _new_element(0x00080100, "SH", code_value)  # Code Value
            item[0x00080102] = _new_element(0x00080102, "SH", "DCM")  # Coding Scheme Designator
            item[0x00080104] = _new_element(0x00080104, "LO", meaning[:64])  # Code Meaning
            items.append(item)
        codes = self._marker(
            ds, 0x00120064, "DeidentificationMethodCodeSequence", "SQ", Sequence(items)
        )
        codes.before = _ABSENT
        codes.record(ds[0x00120064].value)
        if "retain_longitudinal_full_dates" in self.options:
            temporal = "UNMODIFIED"
        elif "retain_longitudinal_modified_dates" in self.options:
            temporal = "MODIFIED"
        else:
            temporal = "REMOVED"
        marker = self._marker(
            ds, 0x00280303, "LongitudinalTemporalInformationModified", "CS", temporal
        )
        marker.before = _ABSENT
        marker.record(temporal)

    def preamble(self, ds: Dataset) -> None:
        """Zero a preamble that holds data: it is outside every element and every table row.

        Dual-personality files keep a TIFF header there, and some writers their own text;
        PS3.10 7.1 allows an all-zero preamble, which is what a de-identified file gets.
        """
        preamble = getattr(ds, "preamble", None)
        if preamble and bytes(preamble).strip(b"\x00"):
            ds.preamble = b"\x00" * 128
            self.warn(
                "preamble",
                "preamble",
                "the 128-byte file preamble held data (a TIFF header or application text): "
                "written as zeros",
                resolved=True,
            )

    def file_meta(self, ds: Dataset) -> None:
        """The file meta (PS3.10 7.1): Media Storage SOP Instance UID follows (0008,0018);
        the AE titles and private data of the sending and receiving stations are removed."""
        meta = getattr(ds, "file_meta", None)
        if meta is None:
            return
        store = meta._dict
        for tag in list(meta.keys()):
            if int(tag) in _META_NOT_CHECKED:  # (int: BaseTag's == is Python code)
                continue
            raw = store[tag]
            key = _meta_key(tag, raw)
            converted = _META_CONVERTED.get(key) if key is not None else None
            if converted is not None:
                store[tag] = copy.copy(converted)
                continue
            try:
                _ = meta[tag].value  # conversion raises for garbage
                if key is not None:
                    if len(_META_CONVERTED) >= _META_CONVERTED_SIZE:
                        _META_CONVERTED.clear()
                    _META_CONVERTED[key] = copy.copy(store[tag])
            except Exception as exc:  # noqa: BLE001 - a garbage element cannot be judged
                del meta[tag]
                path = f"file_meta.{_name(tag)}"
                element = self.element(
                    meta,
                    tag,
                    path,
                    "??",
                    "<unreadable>",
                    action="X",
                    rule="beyond table: unreadable value",
                )
                element.record(_ABSENT, str(exc)[:200])
                self.warn("invalid_value", path, f"unreadable, removed: {exc}", True)
        for tag in _META_REMOVE:
            if tag in meta:
                try:
                    before = meta[tag].value
                except Exception:  # noqa: BLE001 - garbage VR or value: removed all the same
                    before = "<unreadable>"
                del meta[tag]
                element = self.element(
                    meta,
                    tag,
                    f"file_meta.{_name(tag)}",
                    "AE" if tag < 0x00020100 else "OB",
                    before,
                    action="X",
                    rule="beyond table: file meta names a station",
                )
                element.record(_ABSENT)
        if 0x00020003 in meta:
            try:
                before = plain_uid(store[0x00020003]) or str(meta[0x00020003].value)
            except Exception:  # noqa: BLE001 - unreadable: replaced below
                before = ""
                self.warn(
                    "invalid_value",
                    "file_meta.MediaStorageSOPInstanceUID",
                    "unreadable value replaced",
                    True,
                )
            try:
                new = plain_uid(ds._dict.get(0x00080018)) or ds.get("SOPInstanceUID")
            except Exception:  # noqa: BLE001
                new = None
            if new is not None and str(new) != str(before):
                _set_media_storage_uid(meta, str(new))
            elif new is None and "retain_uids" not in self.options and before:
                _set_media_storage_uid(meta, self._remap_one(before))
            rule = rule_for(0x00020003)
            code = self.code_for(rule)[0] if rule else "U"
            element = self.element(
                meta,
                0x00020003,
                "file_meta.MediaStorageSOPInstanceUID",
                "UI",
                before,
                action="K" if code == "K" else "U",
                code=code,
                rule="basic" if code != "K" else "retain_uids",
            )
            after = plain_uid(meta._dict.get(0x00020003)) or meta.MediaStorageSOPInstanceUID
            element.record(after, "follows SOP Instance UID (0008,0018)")


#: File meta elements as converted, by :func:`_meta_key`: the files of a series repeat their
#: file meta (transfer syntax, SOP class, implementation), and converting each element
#: costs more than the rest of the step. Values are replaced, never changed in place, so
#: a copy of the element can share its value.
_META_CONVERTED: dict[tuple[Any, ...], DataElement] = {}
_META_CONVERTED_SIZE = 256


def _meta_key(tag: BaseTag, raw: Any) -> tuple[Any, ...] | None:
    """What a raw file meta element converts from (``None`` for a converted one)."""
    if isinstance(raw, DataElement) or not isinstance(raw.value, bytes):
        return None
    return int(tag), raw.VR, raw.value, raw.is_implicit_VR, raw.is_little_endian


_UID_SYNTAX = re.compile(r"[0-9.]{1,64}")


def _set_media_storage_uid(meta: Dataset, uid: str) -> None:
    """``meta.MediaStorageSOPInstanceUID = uid``; a raw element is replaced raw
    (:func:`_replaced_raw`) when ``uid`` is well formed (pydicom's validation has nothing
    to say), without converting the old value first."""
    raw = meta._dict.get(0x00020003)
    if raw is not None and not isinstance(raw, DataElement) and _UID_SYNTAX.fullmatch(uid):
        meta._dict[raw.tag] = _replaced_raw(raw, "UI", uid)
    else:
        meta.MediaStorageSOPInstanceUID = uid


#: The actions of Table E.1-1, by code (compound codes are resolved before, by the IOD).
LocalCodes = dict[int, str]
ACTIONS: dict[str, Callable[[_Engine, _Element, DataElement, str, LocalCodes], None]] = {
    "X": _Engine.remove,
    "Z": _Engine.empty,
    "D": _Engine.dummy,
    "K": _Engine.keep,
    "U": _Engine.remap_uids,
    "C": _Engine.clean,
}
_OVERLAY_WITH_ITS_DATA = "beyond table: Overlay Plane removed with its Overlay Data (60xx,3000)"
# Seed of the dummy UIDs inside dummy sequence items (keyed like every other UID).
_DUMMY_UID_SEED = "dicom-widgets dummy sequence item"


def _join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


@lru_cache(maxsize=256)
def _free_text_patterns(
    identifiers: tuple[tuple[str, tuple[str, ...]], ...],
    extra: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[list[re.Pattern[str]], re.Pattern[str] | None]:
    """The patterns redacted from free text, longest first (a whole institution name goes
    before a word inside it), and one alternation of them all that finds whether any occurs.
    Cached: every file of a patient has the same identifiers."""
    patterns = sorted(
        _patterns(dict(identifiers)) + _patterns(dict(extra)), key=lambda p: -len(p.pattern)
    )
    detector = (
        re.compile("|".join(f"(?:{p.pattern})" for p in patterns), re.IGNORECASE)
        if patterns
        else None
    )
    return patterns, detector


_SEQUENCE_TEXT_VRS = frozenset(TEXT_VRS | {"DA", "DT", "UI"}) - {"CS"}


def _sequence_text(items: Any) -> tuple[str, ...]:
    """Every text value (names, IDs, dates, UIDs, free text) inside sequence ``items``,
    nested items included: what a removed or replaced sequence took away, for the verifier."""
    found: list[str] = []

    def walk(item: Dataset) -> None:
        for tag in list(item.keys()):
            try:
                elem = item[tag]
            except Exception:  # noqa: BLE001 - unreadable: nothing to search for
                continue
            if elem.VR == "SQ":
                for sub in elem.value or []:
                    walk(sub)
            elif elem.VR in _SEQUENCE_TEXT_VRS and elem.value not in (None, ""):
                values = elem.value if is_multi_value(elem.value) else [elem.value]
                found.extend(str(v) for v in values if str(v).strip())

    for item in items or []:
        if isinstance(item, Dataset):
            walk(item)
    return tuple(dict.fromkeys(found))


def _replaced_raw(raw: Any, vr: str, value: Any) -> Any:
    """A raw element's replacement holding ``value``: still raw, with the bytes pydicom
    would write for it, when they leave no choice (:func:`~dicom_widgets._encode.text_value_bytes`:
    ASCII text and UIDs, empty values), so that neither the engine nor the writer converts
    it; otherwise a new element."""
    encoded = text_value_bytes(vr, value) if vr != "SQ" else None
    if encoded is None:
        return _new_element(raw.tag, vr, value)
    return raw._replace(VR=vr, length=len(encoded), value=encoded)


def _new_element(tag: int, vr: str, value: Any) -> DataElement:
    """A new element without pydicom's value validation (the values are the engine's own)."""
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


_DECODABLE_VRS = frozenset(
    {
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    }
)


def _encodings(ds: Dataset) -> list[str]:
    """The Python codecs of ``ds``'s character set (a str or a list, depending on pydicom)."""
    encodings = getattr(ds, "_character_set", None) or "iso8859"
    return [encodings] if isinstance(encodings, str) else list(encodings)


def _raw_text_full(raw: Any, encodings: list[str]) -> str:
    """A raw element's whole value decoded as text (for searching, not display)."""
    value = raw.value
    if value is None:
        return ""
    if not isinstance(value, (bytes, bytearray)):
        return str(value)
    if value.isascii() and 0x1B not in value:
        return value.decode("ascii").rstrip(" \x00")  # every DICOM character set agrees here
    try:
        from pydicom.charset import decode_bytes

        text = decode_bytes(bytes(value), encodings, {0x5C, 0x3D, 0x5E})
    except Exception:  # noqa: BLE001
        text = bytes(value).decode("latin-1")
    return text.rstrip(" \x00")


def _raw_text(raw: Any, vr: str, encodings: list[str]) -> str:
    """The change-list summary of a raw element's value, decoded without converting it."""
    value = raw.value
    if value is None:
        return ""
    if not isinstance(value, (bytes, bytearray)):
        return _summary(value, vr) or ""
    if vr not in _DECODABLE_VRS:
        return f"<{len(value)} bytes>"
    if value.isascii() and 0x1B not in value:
        return _summary(value.decode("ascii").rstrip(" \x00"), vr) or ""
    try:
        from pydicom.charset import decode_bytes

        text = decode_bytes(bytes(value), encodings, {0x5C, 0x3D, 0x5E})
    except Exception:  # noqa: BLE001 - a summary must never fail
        text = bytes(value).decode("latin-1")
    return _summary(text.rstrip(" \x00"), vr) or ""


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


def _empty(vr: str) -> Any:
    if vr in ("FL", "FD", "SL", "SS", "UL", "US", "SV", "UV", "AT", "IS", "DS"):
        return None if vr not in ("IS", "DS") else ""
    if vr in BINARY_VRS or vr in ("OB", "OW"):
        return b""
    return ""


def _reinterpret(ds: Dataset, elem: DataElement, vr: str) -> DataElement:
    """Turn a public element stored as UN into the dictionary VR (value decoded as text)."""
    value = elem.value
    if vr == "SQ" and isinstance(value, (bytes, bytearray)):
        # A sequence stored as UN is encoded implicit VR little endian (PS3.5 6.2.2).
        import io

        from pydicom.filereader import read_sequence

        try:
            seq = read_sequence(io.BytesIO(bytes(value)), True, True, len(value), ds._character_set)
        except Exception:  # noqa: BLE001 - undecodable: stays UN; X/Z still apply
            return elem
        new = DataElement(elem.tag, "SQ", seq)
        ds[elem.tag] = new
        return new
    if isinstance(value, (bytes, bytearray)) and vr not in BINARY_VRS:
        from pydicom.dataelem import RawDataElement

        from .._compat import IS_PYDICOM3

        raw = RawDataElement(elem.tag, vr, len(value), bytes(value), 0, True, True)
        try:
            if IS_PYDICOM3:
                from pydicom.dataelem import convert_raw_data_element

                new = convert_raw_data_element(raw, encoding=ds._character_set, ds=ds)
            else:  # pragma: no cover - pydicom 2.4
                from pydicom.dataelem import DataElement_from_raw

                new = DataElement_from_raw(raw, ds._character_set)
        except Exception:  # noqa: BLE001 - undecodable: keep as UN, the action still applies
            return elem
        ds[elem.tag] = new
        return new
    return elem


def _copy_dataset(ds: Dataset) -> Dataset:
    """An independent copy of ``ds`` (elements and items copied, byte values shared).

    ``copy.deepcopy`` of a FileDataset recurses without end on pydicom 2.4 and copies the pixel
    bytes needlessly; the engine replaces values rather than mutating them, so copying the
    element objects (and every sequence item, recursively) is enough.
    """
    new = copy.copy(ds)
    elements = {}
    for key, elem in ds._dict.items():
        if isinstance(elem, DataElement):
            if elem.VR == "SQ" and elem.value is not None:
                new_elem = copy.copy(elem)
                new_elem.value = Sequence([_copy_dataset(item) for item in elem.value])
            else:
                new_elem = copy.copy(elem)
            elements[key] = new_elem
        else:  # a RawDataElement: immutable, converted on first access
            elements[key] = elem
    new._dict = elements
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        new_meta = copy.copy(meta)
        new_meta._dict = {k: copy.copy(v) for k, v in meta._dict.items()}
        new.file_meta = new_meta
    return new


def anonymize(
    ds: Dataset,
    profile: Profile | None = None,
    *,
    context: DeidContext | None = None,
    pixel_cleaned: bool = False,
    has_pixel_data: bool | None = None,
    pixel_warnings: Iterable[DeidWarning] = (),
    _inplace: bool = False,
) -> AnonymizationResult:
    """De-identify ``ds`` with PS3.15 Annex E (edition 2026d); ``ds`` itself is not modified.

    Parameters
    ----------
    ds : Dataset
        The dataset (a FileDataset keeps its file meta, which is de-identified too).
    profile : Profile, optional
        The Basic Profile, options and overrides (default: ``Profile()``, the Basic Profile).
    context : DeidContext, optional
        Key and maps shared by a batch: pass the same context for every file of a study so that
        UIDs and date shifts agree. A new random-key context is used when omitted.
    pixel_cleaned : bool
        Set by :func:`anonymize_files` when the pixel data was cleaned (adds code 113101 and
        resolves the burned-in annotation warning).
    has_pixel_data : bool, optional
        Whether the instance has pixel data, for a header read without it (the batch copies
        the pixel data bytes as they are); default: whether ``ds`` holds any.
    pixel_warnings : iterable of DeidWarning
        What the batch's pixel step could not settle (burned-in text whose OCR failed or
        timed out); unresolved ones keep Patient Identity Removed (0012,0062) at ``NO``.

    Returns
    -------
    AnonymizationResult

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.deid import anonymize, Profile, DeidContext
    >>> ds = ct_phantom(n_slices=1, size=16)[0]
    >>> result = anonymize(ds, Profile(), context=DeidContext("k" * 32))
    >>> str(result.dataset.PatientName), ds.PatientName == "PHANTOM^Jane^Q^^"
    ('', True)
    >>> result.dataset.PatientIdentityRemoved
    'YES'
    """
    if not isinstance(ds, Dataset):
        raise TypeError(f"anonymize expects a pydicom Dataset, got {type(ds).__name__}")
    profile = profile if profile is not None else Profile()
    context = context if context is not None else DeidContext()
    target = ds if _inplace else _copy_dataset(ds)
    normalize_unknown_vrs(target)
    meta = getattr(target, "file_meta", None)
    if meta is not None:
        normalize_unknown_vrs(meta)
    engine = _Engine(
        profile, context, target, pixel_cleaned=pixel_cleaned, has_pixel_data=has_pixel_data
    )
    engine.walk(target, "", "", {})
    engine.file_meta(target)
    engine.preamble(target)
    # What the pixel step could not settle (burned-in text not verified) keeps (0012,0062) NO.
    engine.warnings.extend(pixel_warnings)
    engine.dataset_warnings(target)
    engine.markers(target)
    return AnonymizationResult(
        dataset=target,
        changes=engine.changes,
        warnings=engine.warnings,
        profile=profile,
        edition=EDITION,
        date_offset_days=engine.date_offset,
        uid_map=engine.uids_used,
        identifiers={**engine.identifiers, **engine.staff_site},
    )


def _tag(value: int | str) -> BaseTag:
    return Tag(value)
