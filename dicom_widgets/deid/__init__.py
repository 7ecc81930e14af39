"""PS3.15 Annex E de-identification (edition 2026d): profile, engine, batch writer, verifier.

What it does, and the decisions behind it
-----------------------------------------
Rules
    Table E.1-1 and Table E.3.4-1 of PS3.15 2026d ship as CSV in ``deid/data`` (provenance in
    its README). ``Profile()`` is the Basic Application Level Confidentiality Profile; each of
    the ten options (:data:`OPTION_NAMES`) switches to its column's code where it has one.
    Where two options disagree (only Retain Device Identity ``K`` against Retain Longitudinal
    Modified Dates ``C`` on calibration dates) the more protective ``C`` wins. Overrides per
    keyword or tag (keep, remove, empty, replace) win over the table, at every level.
Compound codes
    X/Z, X/D, Z/D, X/Z/D and X/Z/U* are resolved by the attribute's Type in the IOD of the
    dataset's SOP Class (and, inside sequences, the enclosing sequence), from a curated list
    covering every compound-code attribute (``deid/_iod.py``): Type 1 -> D (U* keeps the
    sequence and remaps its UIDs), Type 2 -> Z, Type 3 or absent from the IOD -> X. Each
    change records the table's code and how it was resolved (``Change.note``).
Where rules apply
    Every nesting level; file meta ((0002,0003) follows (0008,0018); station AE titles of the
    meta are removed); repeating groups (an overlay whose Overlay Data is removed loses the
    whole 60xx group, so no half overlay remains; Overlay Description/Label are removed as
    free text); every private element (odd group, any VR, UN included) is removed, except the
    small documented :data:`SAFE_PRIVATE` list under Retain Safe Private. Public elements
    stored as UN are reinterpreted with the dictionary VR first (sequences parsed as implicit
    VR little endian). Numeric and pixel elements outside the table are left untouched (and
    byte-exact).
Beyond the table
    Instance UIDs of attributes missing from the table are remapped too (they can embed MRNs
    and dates); free text anywhere that contains the patient's name parts (every component
    group), IDs, birth date (common written forms), or staff and site names is redacted
    (``X`` runs); warnings for burned-in annotation (YES, or missing on US/SC/XA/ES/OT/...),
    overlays embedded in pixel data, Icon Image Sequence, Original Attributes Sequence,
    UIDs that embed an identifier under Retain UIDs, and unreadable values.
UIDs
    ``2.25.<int>`` where the integer is a version-8 UUID made of HMAC-SHA256(key, UID): the
    same original always maps to the same new UID under one key (references between files
    stay intact, a batch can be continued later with the key), and nobody without the key
    can confirm a guessed original.
Dates
    Basic Profile: removed/emptied/dummied per the table. Retain Longitudinal Modified Dates:
    every DA and DT (offsets kept, nested items included, dates outside the table too) moves
    by one whole-day offset per patient derived from the key; TM values keep their time of
    day (whole-day shifts keep DA/TM pairs and intervals consistent).
Markers
    (0012,0062) YES only when no warning is unresolved; (0012,0063) names the edition and the
    options; (0012,0064) holds the CID 7050 codes (113100 ... 113112, scheme DCM, 113101 when
    pixel data was cleaned); (0028,0303) says REMOVED / MODIFIED / UNMODIFIED.
Verification
    :func:`verify` searches the raw bytes (pixel data excepted) of each output for the
    original's identifying values and every value the profile removed, in ASCII, UTF-8,
    Latin-1 and every codec the Specific Character Set declares (ISO 2022 code bytes with and
    without escapes); :func:`anonymize_files` runs it before writing each file and does not
    write a file with hits.

Examples
--------
>>> from dicom_widgets.data import ct_phantom
>>> from dicom_widgets.deid import anonymize, Profile
>>> result = anonymize(ct_phantom(n_slices=1, size=16)[0], Profile(retain_longitudinal_modified_dates=True))
>>> result.dataset.PatientIdentityRemoved
'YES'
"""

from __future__ import annotations

from ._private import SAFE_PRIVATE
from ._tables import EDITION, content_item_rules, rule_for, rules
from .context import REIDENTIFICATION_WARNING, Context, DeidContext
from .engine import AnonymizationResult, Change, DeidWarning, anonymize, identifying_values
from .profile import OPTION_CODES, OPTION_NAMES, Override, Profile

__all__ = [
    "EDITION",
    "SAFE_PRIVATE",
    "REIDENTIFICATION_WARNING",
    "OPTION_NAMES",
    "OPTION_CODES",
    "Profile",
    "Override",
    "DeidContext",
    "Context",
    "Change",
    "DeidWarning",
    "AnonymizationResult",
    "anonymize",
    "identifying_values",
    "rule_for",
    "rules",
    "content_item_rules",
    "anonymize_files",
    "Report",
    "FileOutcome",
    "clean_pixels",
    "verify",
    "VerificationReport",
    "Hit",
    "find_text_regions",
    "blank_text_regions",
    "TextRegion",
    "TextDetection",
    "TextRegionPlan",
]


def __getattr__(name: str):  # lazy: the batch writer and verifier import more
    if name in ("anonymize_files", "Report", "FileOutcome", "clean_pixels"):
        from . import batch

        return getattr(batch, name)
    if name in (
        "find_text_regions",
        "blank_text_regions",
        "TextRegion",
        "TextDetection",
        "TextRegionPlan",
    ):
        from . import text_regions

        return getattr(text_regions, name)
    if name in ("verify", "VerificationReport", "Hit"):
        from . import verification as _verify

        return getattr(_verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
