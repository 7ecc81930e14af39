"""The safe private attributes kept by the Retain Safe Private option.

PS3.15 E.3.10 lets a de-identifier keep private attributes it *knows* to be safe. Nothing is
known about private attributes in general, so this list is deliberately small: only
numeric acquisition parameters whose meaning the vendors document, which carry no text.
Everything else in odd groups is removed, whatever its VR (UN included). Users can extend
the list per profile (``Profile(safe_private=[(creator, group, element_byte), ...])``).
"""

from __future__ import annotations

__all__ = ["SAFE_PRIVATE", "is_safe_private"]

#: (private creator, group, element byte) -> meaning. Element byte is the low byte of the
#: element number (``xx`` in ``(gggg,10xx)``), so the entry holds for any block number.
SAFE_PRIVATE: dict[tuple[str, int, int], str] = {
    # Siemens diffusion parameters (MR), documented in Siemens' conformance statements.
    ("SIEMENS MR HEADER", 0x0019, 0x0C): "B_value",
    ("SIEMENS MR HEADER", 0x0019, 0x0D): "DiffusionDirectionality",
    ("SIEMENS MR HEADER", 0x0019, 0x0E): "DiffusionGradientDirection",
    ("SIEMENS MR HEADER", 0x0019, 0x27): "B_matrix",
    # GE diffusion b-value and gradient directions (MR).
    ("GEMS_ACQU_01", 0x0019, 0xBB): "User data 0 (gradient X)",
    ("GEMS_ACQU_01", 0x0019, 0xBC): "User data 1 (gradient Y)",
    ("GEMS_ACQU_01", 0x0019, 0xBD): "User data 2 (gradient Z)",
    ("GEMS_PARM_01", 0x0043, 0x39): "Slop_int_6..9 (b-value)",
    # Philips real-world value scaling (MR).
    ("Philips MR Imaging DD 001", 0x2005, 0x09): "Rescale intercept original",
    ("Philips MR Imaging DD 001", 0x2005, 0x0A): "Rescale slope original",
    ("Philips MR Imaging DD 001", 0x2005, 0x0E): "Scale slope",
    # The numeric parameter of the dicom-widgets phantoms (used by the tests).
    ("DICOM_WIDGETS_PHANTOM", 0x0009, 0x02): "Synthetic numeric parameter",
}


def is_safe_private(
    creator: str, group: int, element: int, extra: tuple[tuple[str, int, int], ...] = ()
) -> bool:
    """Whether the private element ``(group, element)`` of ``creator`` is on the safe list."""
    key = (creator.strip(), group, element & 0xFF)
    return key in SAFE_PRIVATE or key in extra
