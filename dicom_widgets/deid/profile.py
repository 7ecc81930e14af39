"""The de-identification profile: Basic Profile, its options, and per-attribute overrides."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pydicom.datadict import tag_for_keyword

from ..tags import format_tag, parse_tag
from ._tables import OPTION_COLUMNS

__all__ = [
    "Profile",
    "Override",
    "OPTION_NAMES",
    "OPTION_CODES",
    "BASIC_CODE",
    "parse_overrides",
]

#: The option names, in the order of the columns of Table E.1-1.
OPTION_NAMES: tuple[str, ...] = tuple(OPTION_COLUMNS)

#: CID 7050 codes (scheme DCM) of the Basic Profile and of each option.
BASIC_CODE = ("113100", "Basic Application Confidentiality Profile")
OPTION_CODES: dict[str, tuple[str, str]] = {
    "clean_pixel_data": ("113101", "Clean Pixel Data Option"),
    "clean_recognizable_visual_features": ("113102", "Clean Recognizable Visual Features Option"),
    "clean_graphics": ("113103", "Clean Graphics Option"),
    "clean_structured_content": ("113104", "Clean Structured Content Option"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_longitudinal_full_dates": (
        "113106",
        "Retain Longitudinal Temporal Information Full Dates Option",
    ),
    "retain_longitudinal_modified_dates": (
        "113107",
        "Retain Longitudinal Temporal Information Modified Dates Option",
    ),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}

_ACTIONS = {"keep": "K", "remove": "X", "empty": "Z", "replace": "R"}
_TAG_RE = re.compile(r"^\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?$")


@dataclass(frozen=True)
class Override:
    """A user decision for one attribute that replaces the profile's rule.

    Attributes
    ----------
    action : str
        ``"keep"``, ``"remove"``, ``"empty"`` or ``"replace"``.
    value : object
        The replacement value (``"replace"`` only), stored as given.
    """

    action: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(
                f"override action must be one of {sorted(_ACTIONS)}, got {self.action!r}"
            )

    @property
    def code(self) -> str:
        """The action code shown in the change list (``K``, ``X``, ``Z`` or ``R`` for replace)."""
        return _ACTIONS[self.action]


def _parse_tag(key: int | str | tuple[int, int]) -> int:
    if isinstance(key, tuple):
        return (int(key[0]) << 16) | int(key[1])
    if isinstance(key, int):
        return key
    match = _TAG_RE.match(key.strip())
    if match:
        return (int(match.group(1), 16) << 16) | int(match.group(2), 16)
    tag = tag_for_keyword(key.strip())
    if tag is None:
        raise ValueError(f"override key {key!r} is neither a DICOM keyword nor a (gggg,eeee) tag")
    return int(tag)


def _parse_override(value: Any) -> Override:
    if isinstance(value, Override):
        return value
    if isinstance(value, str):
        return Override(value)
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "replace":
        return Override("replace", value[1])
    if isinstance(value, Mapping) and "replace" in value:
        return Override("replace", value["replace"])
    raise ValueError(
        "an override is 'keep', 'remove', 'empty', ('replace', value) or Override(...); "
        f"got {value!r}"
    )


@dataclass(frozen=True)
class Profile:
    """The Basic Application Level Confidentiality Profile plus options and overrides.

    Every option is off by default, so ``Profile()`` is the Basic Profile. Options set the
    action their column of Table E.1-1 gives; where two options set different codes on one
    row (only Retain Device Identity ``K`` against Retain Longitudinal Modified Dates ``C``
    on calibration dates), the more protective code ``C`` (shift) wins.

    Parameters
    ----------
    retain_safe_private, retain_uids, retain_device_identity, retain_institution_identity, \
retain_patient_characteristics, retain_longitudinal_full_dates, \
retain_longitudinal_modified_dates, clean_descriptors, clean_structured_content, \
clean_graphics : bool
        The options of PS3.15 E.3, by name.
    overrides : mapping
        Keyword, tag int or ``"(gggg,eeee)"`` -> ``"keep"``, ``"remove"``, ``"empty"``,
        ``("replace", value)`` or :class:`Override`. An override applies wherever the tag
        occurs (every nesting level) and wins over the table.
    safe_private : iterable of (creator, group, element byte)
        Extra private attributes that :attr:`retain_safe_private` keeps, on top of
        :data:`dicom_widgets.deid.SAFE_PRIVATE`.

    Examples
    --------
    >>> p = Profile(retain_longitudinal_modified_dates=True, overrides={"PatientID": ("replace", "SUBJ-01")})
    >>> p.enabled_options()
    ('retain_longitudinal_modified_dates',)
    >>> p.override_for(0x00100020).value
    'SUBJ-01'
    """

    retain_safe_private: bool = False
    retain_uids: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_patient_characteristics: bool = False
    retain_longitudinal_full_dates: bool = False
    retain_longitudinal_modified_dates: bool = False
    clean_descriptors: bool = False
    clean_structured_content: bool = False
    clean_graphics: bool = False
    overrides: Mapping[Any, Any] = field(default_factory=dict)
    safe_private: tuple[tuple[str, int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.retain_longitudinal_full_dates and self.retain_longitudinal_modified_dates:
            raise ValueError(
                "retain_longitudinal_full_dates and retain_longitudinal_modified_dates exclude "
                "each other: choose one"
            )
        parsed = {_parse_tag(k): _parse_override(v) for k, v in dict(self.overrides).items()}
        object.__setattr__(self, "overrides", parsed)
        object.__setattr__(
            self,
            "safe_private",
            tuple((str(c), int(g), int(e) & 0xFF) for c, g, e in self.safe_private),
        )

    def __hash__(self) -> int:
        return hash((self.enabled_options(), tuple(sorted(self.overrides.items(), key=str))))

    def enabled_options(self) -> tuple[str, ...]:
        """The names of the options switched on, in table order."""
        return tuple(name for name in OPTION_NAMES if getattr(self, name))

    def override_for(self, tag: int) -> Override | None:
        """The user override for ``tag``, if any."""
        return self.overrides.get(tag)  # type: ignore[return-value]

    def describe(self) -> str:
        """One line naming the profile and its options."""
        opts = ", ".join(self.enabled_options()) or "no options"
        extra = f"; {len(self.overrides)} override(s)" if self.overrides else ""
        return f"Basic Profile ({opts}{extra})"

    def as_dict(self) -> dict[str, Any]:
        """Options and overrides as plain data (for reports and pickling across processes)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["overrides"] = {
            f"({t >> 16:04X},{t & 0xFFFF:04X})": (o.action, o.value)
            for t, o in self.overrides.items()  # type: ignore[union-attr]
        }
        return out


# -- the override grammar (the preview's text field, scripts) --------------------------------
def _split_top_level(text: str) -> list[str]:
    """Split on commas that are outside quotes and parentheses (tags contain commas)."""
    parts: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    depth = 0
    escaped = False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
            continue
        if quote:
            if ch == "\\":
                escaped = True
                buf.append(ch)
                continue
            if ch == quote:
                quote = None
            buf.append(ch)
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch in ",;\n" and depth == 0:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if quote:
        raise ValueError(f"unterminated quote in {text.strip()!r}")
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


def _unquote(value: str) -> str:
    inner = value[1:-1]
    return inner.replace("\\" + value[0], value[0]).replace("\\\\", "\\")


def parse_overrides(text: str) -> tuple[dict[str, Any], list[str]]:
    """Parse the overrides field into a :class:`~dicom_widgets.deid.Profile` ``overrides`` mapping.

    Entries are separated by commas (or semicolons / new lines); each is ``KEY=ACTION`` where
    KEY is a DICOM keyword or a tag in any spelling (``(0010,1010)``, ``00101010``, ``0x00101010``;
    returned as ``"(0010,1010)"``) and ACTION is ``keep``, ``remove``, ``empty``
    or a quoted replacement value.

    Parameters
    ----------
    text : str
        E.g. ``'PatientSex=keep, (0010,1010)=remove, StudyDescription="Teaching case"'``.

    Returns
    -------
    (dict, list of str)
        The valid overrides and one message per entry that could not be understood
        (the valid ones still apply).

    Examples
    --------
    >>> parse_overrides('PatientSex=keep, (0010,1010)=remove, StudyDescription="Teaching case"')
    ({'PatientSex': 'keep', '(0010,1010)': 'remove', 'StudyDescription': ('replace', 'Teaching case')}, [])
    >>> parse_overrides("PatientSexx=keep, PatientAge=maybe")[1]  # doctest: +NORMALIZE_WHITESPACE
    ["PatientSexx=keep: override key 'PatientSexx' is neither a DICOM keyword nor a (gggg,eeee) tag",
     'PatientAge=maybe: the action must be keep, remove, empty or a quoted value such as "Teaching case"']
    """
    overrides: dict[str, Any] = {}
    errors: list[str] = []
    try:
        entries = _split_top_level(text or "")
    except ValueError as exc:
        return {}, [str(exc)]
    for entry in entries:
        key, sep, value = entry.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            errors.append(f"{entry}: expected KEY=ACTION (for example PatientSex=keep)")
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            action: Any = ("replace", _unquote(value))
        elif value.lower() in ("keep", "remove", "empty"):
            action = value.lower()
        else:
            errors.append(
                f"{entry}: the action must be keep, remove, empty or a quoted value "
                'such as "Teaching case"'
            )
            continue
        tag_value = parse_tag(key)
        if tag_value is not None:
            key = format_tag(tag_value)  # any tag spelling -> the engine's "(gggg,eeee)"
        try:
            Profile(overrides={key: action})  # the engine's own validation of the key
        except ValueError as exc:
            errors.append(f"{entry}: {exc}")
            continue
        overrides[key] = action
    return overrides, errors
