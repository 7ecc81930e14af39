"""Verification: search the raw bytes of anonymized files for the originals' identifying values."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from .._compat import is_multi_value, read_dataset
from ._values import TEXT_VRS
from .engine import (
    Change,
    _html_or_pre,
    _person_name_parts,
    _staff_and_site,
    anonymize,
    identifying_values,
)
from .profile import OPTION_CODES, OPTION_NAMES, Profile

__all__ = [
    "Hit",
    "Needle",
    "VerificationReport",
    "verify",
    "collect_needles",
    "search_bytes",
    "profile_from_markers",
]

_MIN_BYTES = 4
_DICOM_ROOT = (
    "1.2.840.10008."  # shorter needles match by chance in binary data; they are not searched
)
_PIXEL_TAGS_LE = (b"\xe0\x7f\x10\x00", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")


@dataclass(frozen=True)
class Needle:
    """One identifying value to look for: ``kind`` says what it is, ``source`` where it was."""

    value: str
    kind: str
    source: str
    word: bool = False  # match only as a whole word (name parts)


@dataclass(frozen=True)
class Hit:
    """An identifying value of the original found in an anonymized file.

    Attributes
    ----------
    file : str
        The anonymized file (or ``"<dataset>"``).
    path : str
        Tag path of the element holding it in the anonymized file (``"<offset N>"`` if the bytes
        are in no parsed element).
    kind : str
        ``name``, ``id``, ``birth_date``, ``contact``, ``staff``, ``site`` or ``removed``.
    source : str
        Tag path of the value in the original.
    masked : str
        The value with its middle masked (reports must not re-leak it).
    encoding : str
        The character encoding the bytes matched in.
    offset : int
        Byte offset in the file.
    """

    file: str
    path: str
    kind: str
    source: str
    masked: str
    encoding: str
    offset: int


def display_path(
    path: str | os.PathLike[str] | None, base: str | os.PathLike[str] | None = None
) -> str:
    """``path`` for display: relative to the working folder (or ``base``) when inside it,
    else ``…/parent/name``, so stored notebook outputs neither vary nor show machine layout."""
    if path is None or str(path) == "":
        return "-"
    text = str(path)
    if text.startswith("<"):
        return text  # "<dataset 0>", "<bytes>"
    p = Path(text)
    for root in (Path.cwd(), Path(base) if base is not None else None):
        if root is None:
            continue
        try:
            return str(p.relative_to(root))
        except ValueError:
            continue
    return os.path.join("…", p.parent.name, p.name) if p.parent.name else p.name


def _mask(value: str) -> str:
    if len(value) <= 2:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 2) + value[-1]


def collect_needles(
    original: Dataset | None,
    changes: Iterable[Change] | None = None,
    *,
    identifiers: dict[str, Any] | None = None,
) -> list[Needle]:
    """The values of ``original`` that must not survive anonymization.

    The patient's identifiers (every PN component of every group, IDs, birth date in written
    forms, address, phone), staff names and site names, and -- when the changes of the run are
    given -- every text, date or UID value that the profile removed, emptied or replaced.
    ``identifiers`` (an :attr:`AnonymizationResult.identifiers`) replaces reading them from
    ``original`` again.
    """
    if identifiers is None:
        if original is None:
            raise ValueError("collect_needles needs the original dataset or its identifiers")
        identifiers = {**identifying_values(original), **_staff_and_site(original)}
    key = tuple(
        (kind, tuple(tuple(v) if isinstance(v, list) else v for v in items))
        for kind, items in identifiers.items()
    )
    first, seen_first = _identifier_needles(key)
    seen = set(seen_first)
    out = list(first)
    out.extend(_kept(_change_candidates(changes or ()), seen))
    return out


@lru_cache(maxsize=256)
def _identifier_needles(
    identifiers: tuple[tuple[str, tuple[Any, ...]], ...],
) -> tuple[tuple[Needle, ...], frozenset[tuple[str, bool]]]:
    """The needles of the patient's, staff's and site's values, and their keys (cached:
    every file of a patient has the same)."""
    candidates: list[tuple[str, str, str, bool]] = []
    for kind, items in identifiers:
        if kind in ("staff", "site"):
            candidates.extend((value, kind, keyword, kind == "staff") for value, keyword in items)
        else:
            candidates.extend((value, kind, kind, kind == "name") for value in items)
    seen: set[tuple[str, bool]] = set()
    needles = tuple(_kept(candidates, seen))
    return needles, frozenset(seen)


def _change_candidates(changes: Iterable[Change]) -> list[tuple[str, str, str, bool]]:
    """(value, kind, source, whole word) of every text, date or UID value the run removed,
    emptied or replaced, and of the items of removed or replaced sequences."""
    candidates: list[tuple[str, str, str, bool]] = []
    for change in changes:
        for value in change.removed_values:
            # The text of a removed or replaced sequence's items (names, IDs, free text).
            candidates.append((value, "removed", change.path, True))
        if change.action not in _REMOVING_ACTIONS or change.before is None:
            continue
        vr = change.vr
        if vr not in _REMOVED_VRS:
            continue  # coded values and bare times are not identifying on their own
        if change.keyword == "" and (change.tag & 0xFFFF) < 0x1000 and (change.tag >> 16) & 1:
            continue  # private creator: names a vendor, not a person
        text = change.before
        if not text or text.endswith("…") or text.startswith("<"):
            continue
        path = change.path
        candidates.extend((value, "removed", path, word) for value, word in _parts(text, vr))
    return candidates


@lru_cache(maxsize=8192)
def _parts(text: str, vr: str) -> tuple[tuple[str, bool], ...]:
    """(value, whole word) of each value of a removed element's text: its values split on
    backslashes, a name's every component (cached: a series removes the same values)."""
    parts: list[tuple[str, bool]] = []
    for part in text.split("\\"):
        part = part.strip()
        if vr == "PN":
            parts.extend((p, True) for p in _person_name_parts(part))
        elif part:
            parts.append((part, vr != "UI"))
    return tuple(parts)


def _kept(
    candidates: Iterable[tuple[str, str, str, bool]], seen: set[tuple[str, bool]]
) -> list[Needle]:
    """The candidates worth searching for, once each (``seen`` is updated)."""
    out = []
    for value, kind, source, word in candidates:
        key = (value, word)
        if key in seen:
            continue
        searched_as = _searched_as(value, kind, word)
        if searched_as is None:
            continue
        seen.add(key)
        out.append(Needle(value, kind, source, searched_as))
    return out


@lru_cache(maxsize=8192)
def _searched_as(value: str, kind: str, word: bool) -> bool | None:
    """Whether ``value`` is searched as a whole word (True/False), or not at all (None).

    Cached: the files of a series remove the same names, dates and UIDs.
    """
    if kind != "id" and len(value.encode("utf-8")) < _MIN_BYTES:
        return None
    if len(set(value)) == 1 or value.startswith(_DICOM_ROOT):
        return None  # "0000", "....", standard UIDs: coincidences, not identifiers
    if kind in ("removed", "site") and _SHORT_NUMBER.fullmatch(value):
        return None  # short numbers (a serial "0.000"...) match measurements by chance
    return True if kind == "id" and len(value) < 6 else word


_REMOVING_ACTIONS = frozenset({"X", "Z", "D", "U", "R"})
_REMOVED_VRS = frozenset(TEXT_VRS | {"DA", "DT", "UI", "PN"}) - {"CS"}
_SHORT_NUMBER = re.compile(r"[\d.\-+ ]{1,6}")


def _codecs(charset: Any) -> list[str]:
    from pydicom.charset import python_encoding

    terms = charset if is_multi_value(charset) else [charset]
    out = ["ascii", "utf-8", "latin-1"]
    for term in terms:
        term = str(term or "").strip()
        codec = python_encoding.get(term) or python_encoding.get(
            term.replace("ISO 2022", "ISO_IR").replace("  ", " ")
        )
        if codec and codec not in out:
            out.append(codec)
    return out


_ESC = re.compile(rb"\x1b[\x24\x28\x29\x2d\x2e\x2f]{1,2}[\x40-\x7e]")


@lru_cache(maxsize=8192)
def _encodings_of(value: str, codecs: tuple[str, ...]) -> list[tuple[bytes, bool, str]]:
    """(bytes searched for, whether in the lowered text, codec) of each encoding of
    ``value``: an ASCII form is searched case-insensitively (lowered), others as they are."""
    return [
        (raw.lower(), True, codec) if raw.isascii() else (raw, False, codec)
        for raw, codec in _forms(value, codecs)
    ]


def _forms(value: str, codecs: tuple[str, ...]) -> list[tuple[bytes, str]]:
    forms: list[tuple[bytes, str]] = []
    for codec in codecs:
        try:
            raw = value.encode(codec)
        except (UnicodeEncodeError, LookupError):
            continue
        forms.append((raw, codec))
        stripped = _ESC.sub(b"", raw)
        if stripped != raw and stripped:
            # ISO 2022: the escape sequence may sit before a longer run; search the code bytes.
            forms.append((stripped, codec + " (without escapes)"))
    unique: dict[bytes, str] = {}
    for raw, codec in forms:
        if len(raw) >= _MIN_BYTES or (raw and raw.isdigit() is False and len(raw) >= 3):
            unique.setdefault(raw, codec)
    return list(unique.items())


def _find_pixel_span(head: bytes, total: int) -> tuple[int, int] | None:
    """The byte range of the pixel data value, looked for in ``head`` (the first bytes of a
    file of ``total`` bytes): a candidate tag counts only when its length field runs to
    (nearly) the end of the file. ``None`` when ``head`` holds no such tag."""
    for tag in _PIXEL_TAGS_LE:
        idx = head.find(tag)
        while idx >= 0:
            vr = head[idx + 4 : idx + 6]
            if vr in (b"OB", b"OW", b"OF", b"OD"):
                length = int.from_bytes(head[idx + 8 : idx + 12], "little")
                begin = idx + 12
            else:
                length = int.from_bytes(head[idx + 4 : idx + 8], "little")
                begin = idx + 8
            stop = total if length == 0xFFFFFFFF else begin + length
            if total - 4096 <= stop <= total:  # pixel data is (nearly) the last element
                return begin, stop
            idx = head.find(tag, idx + 1)
    return None


def _pixel_span(data: bytes) -> tuple[int, int]:
    """The byte range of the pixel data value (excluded: image bytes match text by chance).

    Searched forward from the start (the header is small, the pixel data large).
    """
    return _find_pixel_span(data, len(data)) or (len(data), len(data))


def _pixel_span_fast(data: bytes | memoryview) -> tuple[int, int]:
    """:func:`_pixel_span` looking at the first 256 KiB only (the header), without copying all."""
    head = bytes(data[: 1 << 18])
    if len(head) == len(data):
        return _pixel_span(head)
    return _find_pixel_span(head, len(data)) or _pixel_span(bytes(data))


def _is_word_boundary(data: bytes, start: int, end: int) -> bool:
    before = data[start - 1 : start]
    after = data[end : end + 1]
    return not (before.isalnum() and before.isascii()) and not (after.isalnum() and after.isascii())


def search_bytes(
    data: bytes, needles: Sequence[Needle], charset: Any, *, file: str = "<bytes>"
) -> list[tuple[Needle, int, str]]:
    """Raw-byte search of ``data`` (pixel data excluded) for every encoding of every needle."""
    px_start, px_end = _pixel_span_fast(data)
    regions = [(0, px_start), (px_end, len(data))]
    # Only the (small) regions outside the pixel data are copied; ``data`` may be a memoryview.
    originals = [bytes(data[a:b]) for a, b in regions]
    lowered = [chunk.lower() for chunk in originals]
    codecs = tuple(_codecs(charset))
    found: list[tuple[Needle, int, str]] = []
    for needle in needles:
        for target, ascii_form, codec in _encodings_of(needle.value, codecs):
            for (a, _b), low, original in zip(regions, lowered, originals):
                hay = low if ascii_form else original
                pos = hay.find(target)
                while pos >= 0:
                    if not needle.word or _is_word_boundary(hay, pos, pos + len(target)):
                        found.append((needle, a + pos, codec))
                        break
                    pos = hay.find(target, pos + 1)
                if found and found[-1][0] is needle:
                    break
            if found and found[-1][0] is needle:
                break
    return found


def _flatten(data: bytes | memoryview) -> list[tuple[str, Any]]:
    """(tag path, value) of every element of the file, file meta included (pixel data not)."""
    try:
        ds = read_dataset(io.BytesIO(data), stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - unparsable output: hits are reported by offset
        return []
    from .engine import _join, _name

    out: list[tuple[str, Any]] = []

    def walk(item: Dataset, prefix: str) -> None:
        for tag in list(item.keys()):
            path = _join(prefix, _name(tag))
            try:
                elem = item[tag]
                value = elem.value
            except Exception:  # noqa: BLE001
                continue
            if elem.VR == "SQ":
                for i, sub in enumerate(value or []):
                    walk(sub, f"{path}[{i}]")
            else:
                out.append((path, value))

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        walk(meta, "file_meta")
    walk(ds, "")
    return out


def _contains(value: Any, needle: Needle) -> bool:
    if isinstance(value, (bytes, bytearray)):
        return needle.value.encode("utf-8", "ignore").lower() in bytes(value).lower()
    text = str(value).lower()
    target = needle.value.lower()
    pos = text.find(target)
    while pos >= 0:
        if not needle.word or (
            (pos == 0 or not text[pos - 1].isalnum())
            and (pos + len(target) >= len(text) or not text[pos + len(target)].isalnum())
        ):
            return True
        pos = text.find(target, pos + 1)
    return False


def _locate(data: bytes | memoryview, needle: Needle) -> str:
    """Tag path of the first element of the (anonymized) file that holds ``needle``."""
    for path, value in _flatten(data):
        if _contains(value, needle):
            return path
    return ""


#: Elements the engine writes itself from a fixed vocabulary (the de-identification markers).
_MARKER_PATHS = (
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "LongitudinalTemporalInformationModified",
)


def verify_bytes(
    data: bytes | memoryview,
    needles: Sequence[Needle],
    charset: Any,
    *,
    file: str = "<bytes>",
    touched: set[str] | None = None,
    sanctioned: set[str] | None = None,
) -> list[Hit]:
    """Hits of ``needles`` in one anonymized file's bytes.

    Every needle found in the raw bytes (any encoding) is attributed to each element whose
    decoded value holds it; one :class:`Hit` per element, except in elements where the value
    is expected:

    * the de-identification markers (fixed text such as "Retain Patient Characteristics");
    * ``sanctioned`` paths: elements the profile kept on purpose (``K`` by an option or an
      override), where a coincidence such as a kept acquisition date equal to the birth date
      is the user's decision;
    * for removed values and site names only, elements the run left ``touched``-free: the
      original held the same text in an attribute the profile keeps (a code meaning repeating
      a removed description, a manufacturer equal to the institution name).

    Bytes that match but belong to no decoded element are reported by offset.
    """
    hits = []
    found = search_bytes(data, needles, charset, file=file)
    if not found:
        return hits
    elements = _flatten(data)
    for needle, offset, codec in found:
        paths = [path for path, value in elements if _contains(value, needle)]
        if not paths:
            hits.append(
                Hit(
                    file,
                    f"<offset {offset}>",
                    needle.kind,
                    needle.source,
                    _mask(needle.value),
                    codec,
                    offset,
                )
            )
            continue
        for path in paths:
            if path.startswith(_MARKER_PATHS):
                continue
            if sanctioned is not None and path in sanctioned:
                continue
            if (
                touched is not None
                and needle.kind in ("removed", "site")
                and not _is_touched(path, touched)
            ):
                continue
            hits.append(
                Hit(file, path, needle.kind, needle.source, _mask(needle.value), codec, offset)
            )
    return hits


def _is_touched(path: str, touched: set[str]) -> bool:
    """Whether the element at ``path`` or a sequence holding it was changed by the run (the
    items of a dummy sequence are the engine's own)."""
    if path in touched:
        return True
    cut = path.find("[")
    while cut >= 0:
        if path[:cut] in touched:
            return True
        cut = path.find("[", cut + 1)
    return False


@dataclass
class VerificationReport:
    """Result of :func:`verify`: every identifying value found again, with its tag path.

    Attributes
    ----------
    hits : list of Hit
    files_checked : int
    needles_checked : int
        Number of distinct identifying values searched for (summed over files).
    """

    hits: list[Hit] = field(default_factory=list)
    files_checked: int = 0
    needles_checked: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no identifying value was found and every pair could be checked."""
        return not self.hits and not self.errors

    def __repr__(self) -> str:
        state = "OK" if self.ok else f"{len(self.hits)} HIT(S)"
        errors = f", {len(self.errors)} error(s)" if self.errors else ""
        return (
            f"<VerificationReport {state}: {self.files_checked} file(s), "
            f"{self.needles_checked} identifying values searched{errors}>"
        )

    def _repr_text(self) -> str:
        lines = [repr(self)]
        for hit in self.hits:
            lines.append(
                f"  {display_path(hit.file)}: {hit.path} holds {hit.kind} {hit.masked} "
                f"(from {hit.source}, {hit.encoding})"
            )
        lines.extend(f"  error: {e}" for e in self.errors)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return _html_or_pre("verification_report_html", self)


def _load(source: Any, *, header_only: bool) -> tuple[Dataset, bytes | None, str]:
    if isinstance(source, Dataset):
        return source, None, "<dataset>"
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        return (
            read_dataset(io.BytesIO(data), stop_before_pixels=header_only, force=True),
            data,
            "<bytes>",
        )
    path = Path(os.fspath(source))
    data = path.read_bytes()
    return (
        read_dataset(io.BytesIO(data), stop_before_pixels=header_only, force=True),
        data,
        str(path),
    )


def profile_from_markers(ds: Dataset) -> Profile:
    """The options named in De-identification Method Code Sequence (0012,0064) of ``ds``."""
    codes = set()
    for item in ds.get("DeidentificationMethodCodeSequence", None) or []:
        codes.add(str(item.get("CodeValue", "")))
    by_code = {code: name for name, (code, _) in OPTION_CODES.items()}
    options = {by_code[c]: True for c in codes if c in by_code and by_code[c] in OPTION_NAMES}
    return Profile(**options)


def verify(
    originals: Iterable[Any], anonymized: Iterable[Any], *, profile: Profile | None = None
) -> VerificationReport:
    """Search each anonymized file for the identifying values of its original.

    Parameters
    ----------
    originals, anonymized : iterables of path, bytes or Dataset
        Paired in order (the i-th anonymized file is the copy of the i-th original).
    profile : Profile, optional
        The profile used; by default read from each anonymized file's (0012,0064) codes. The
        values this profile removes, empties or replaces are searched for too.

    Returns
    -------
    VerificationReport
        ``.ok`` is True when nothing was found. The search covers the raw bytes of the whole
        file except the pixel data value, in ASCII, UTF-8, Latin-1 and every encoding the
        original's Specific Character Set declares (ISO 2022 code bytes with and without
        escape sequences); name parts match as whole words, ignoring ASCII case.

    Examples
    --------
    >>> from dicom_widgets.data import ct_phantom
    >>> from dicom_widgets.deid import anonymize
    >>> ds = ct_phantom(n_slices=1, size=8)[0]
    >>> verify([ds], [anonymize(ds).dataset]).ok
    True
    """
    originals = list(originals)
    anonymized = list(anonymized)
    if len(originals) != len(anonymized):
        raise ValueError(
            f"verify needs pairs: {len(originals)} original(s) but {len(anonymized)} anonymized"
        )
    report = VerificationReport()
    for original, anon in zip(originals, anonymized):
        try:
            orig_ds, _, _ = _load(original, header_only=True)
            if isinstance(anon, Dataset):
                from .._compat import write_dataset

                buffer = io.BytesIO()
                if (
                    getattr(anon, "file_meta", None) is not None
                    and "TransferSyntaxUID" in anon.file_meta
                ):
                    write_dataset(anon, buffer)
                else:
                    anon.save_as(buffer)  # pragma: no cover - datasets without file meta
                data, name = buffer.getvalue(), "<dataset>"
                anon_ds = anon
            else:
                anon_ds, data, name = _load(anon, header_only=True)
                assert data is not None
            used = profile if profile is not None else profile_from_markers(anon_ds)
            changes = anonymize(orig_ds, used).changes
        except Exception as exc:  # noqa: BLE001 - reported, the rest goes on
            report.errors.append(f"{original!s:.200} / {anon!s:.200}: {exc}")
            continue
        needles = collect_needles(orig_ds, changes)
        report.needles_checked += len(needles)
        report.files_checked += 1
        touched = {c.path for c in changes if c.changed}
        sanctioned = {c.path for c in changes if c.action == "K" and c.rule != "basic"}
        report.hits.extend(
            verify_bytes(
                data,
                needles,
                orig_ds.get("SpecificCharacterSet", ""),
                file=name,
                touched=touched,
                sanctioned=sanctioned,
            )
        )
    return report
