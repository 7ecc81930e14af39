"""PS3.15 Annex E de-identification (edition 2026d): profile, engine, batch writer, verifier.

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
    "verify",
    "VerificationReport",
    "Hit",
]


def __getattr__(name: str):  # lazy: the batch writer and verifier import more
    if name in ("anonymize_files", "Report", "FileOutcome"):
        from . import batch

        return getattr(batch, name)
    if name in ("verify", "VerificationReport", "Hit"):
        from . import verification as _verify

        return getattr(_verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
