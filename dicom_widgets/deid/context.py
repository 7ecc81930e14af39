"""The keyed state shared by every file of a batch: UID remapping and per-patient date shifts."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import secrets
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..errors import DicomWidgetsWarning

__all__ = ["DeidContext", "Context", "REIDENTIFICATION_WARNING"]

REIDENTIFICATION_WARNING = (
    "This file maps anonymized values back to the originals: it RE-IDENTIFIES the data. "
    "Store it apart from the anonymized files, under the same protection as the originals."
)


def _as_key(key: bytes | str | None) -> bytes:
    if key is None:
        return secrets.token_bytes(32)
    if isinstance(key, bytes):
        if len(key) < 16:
            raise ValueError("the de-identification key must be at least 16 bytes")
        return key
    text = key.strip()
    try:
        raw = bytes.fromhex(text)
        if len(raw) >= 16:
            return raw
    except ValueError:
        pass
    if len(text) < 16:
        raise ValueError(
            "the de-identification key must be at least 16 characters (or 32 hex digits)"
        )
    return text.encode("utf-8")


class DeidContext:
    """Secret key and the maps that keep a batch consistent across files and runs.

    New UIDs are ``2.25.<int>`` where the integer is a version-8 UUID made of the first 16
    bytes of HMAC-SHA256(key, original UID): the same original always gives the same new
    UID under the same key, so references between files stay intact and a later batch can
    continue with the same key; without the key nobody can confirm a guessed original (a
    bare hash would allow that). The per-patient date offset is derived the same way, from
    the key and the patient's original ID (and name when the ID is empty), so every file of
    a patient gets one offset, whichever worker processes it.

    Parameters
    ----------
    key : bytes or str, optional
        At least 16 bytes (or a hex string of 32+ digits). A random 32-byte key is drawn when
        omitted; keep :attr:`key_hex` to continue the batch later.
    date_shift_days : (int, int)
        Inclusive range of the per-patient offset in days (whole days, so DA/TM pairs stay
        consistent and times of day are kept). Default: 1 to 10 years back.

    Examples
    --------
    >>> ctx = DeidContext("0123456789abcdef0123456789abcdef")
    >>> new = ctx.remap_uid("1.2.3.4")
    >>> new.startswith("2.25.") and new == ctx.remap_uid("1.2.3.4")
    True
    """

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        date_shift_days: tuple[int, int] = (-3652, -365),
    ) -> None:
        self._key = _as_key(key)
        low, high = int(date_shift_days[0]), int(date_shift_days[1])
        if low > high:
            raise ValueError("date_shift_days must be (low, high) with low <= high")
        if low <= 0 <= high and low == high:
            raise ValueError("a date shift range of exactly 0 days does not modify dates")
        self.date_shift_days = (low, high)
        self.uid_map: dict[str, str] = {}
        self.date_offsets: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- key ---------------------------------------------------------------------------
    @property
    def key_hex(self) -> str:
        """The key as hex: pass it back as ``key=`` to continue a batch with the same maps."""
        return self._key.hex()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        # Never print the key itself: it reverses nothing alone, but confirms guesses.
        return (
            f"DeidContext(key=<{len(self._key)} bytes>, uids={len(self.uid_map)}, "
            f"patients={len(self.date_offsets)})"
        )

    def _digest(self, purpose: str, value: str) -> bytes:
        return hmac.new(self._key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()

    # -- UIDs --------------------------------------------------------------------------
    def remap_uid(self, uid: str) -> str:
        """The new UID for ``uid`` (deterministic under this key; recorded in :attr:`uid_map`)."""
        original = str(uid).strip().rstrip("\x00").strip()
        if not original:
            return original
        new = self.uid_map.get(original)
        if new is not None:
            return new
        raw = bytearray(self._digest("uid", original)[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80  # UUID version 8 (custom), RFC 9562
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        new = f"2.25.{int.from_bytes(bytes(raw), 'big')}"
        with self._lock:
            self.uid_map[original] = new
        return new

    # -- dates -------------------------------------------------------------------------
    def date_offset(self, patient: str) -> int:
        """Days to add to every date of ``patient`` (deterministic under this key)."""
        new = self.date_offsets.get(patient)
        if new is not None:
            return new
        low, high = self.date_shift_days
        span = high - low + 1
        offset = low + int.from_bytes(self._digest("date", patient)[:8], "big") % span
        if offset == 0:  # a zero shift would leave the real dates
            offset = low if low != 0 else high
        with self._lock:
            self.date_offsets[patient] = offset
        return offset

    def pseudonym(self, purpose: str, value: str, length: int = 12) -> str:
        """A keyed, non-reversible token (upper-case hex) for ``value``."""
        return self._digest(purpose, value).hex()[:length].upper()

    def merge(self, uid_map: dict[str, str], date_offsets: dict[str, int]) -> None:
        """Fold maps computed elsewhere (for example in worker processes) into this context."""
        with self._lock:
            self.uid_map.update(uid_map)
            self.date_offsets.update(date_offsets)

    # -- export ------------------------------------------------------------------------
    def uid_map_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """The UID map as CSV text (``original_uid,new_uid``); also written to ``path`` if given.

        Warns (:class:`~dicom_widgets.errors.DicomWidgetsWarning`) that the file re-identifies.
        """
        return _export(path, ("original_uid", "new_uid"), sorted(self.uid_map.items()), "UID map")

    def date_offsets_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """The per-patient date offsets as CSV (``patient,offset_days``), with the same warning."""
        return _export(
            path,
            ("patient", "offset_days"),
            sorted(self.date_offsets.items()),
            "date-shift map",
        )


def _export(
    path: str | os.PathLike[str] | None,
    header: tuple[str, str],
    rows: Iterable[tuple[object, object]],
    what: str,
) -> str:
    warnings.warn(f"{what}: {REIDENTIFICATION_WARNING}", DicomWidgetsWarning, stacklevel=3)
    buffer = io.StringIO()
    buffer.write(f"# {REIDENTIFICATION_WARNING}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    if path is not None:
        from .._io import atomic_write_bytes

        atomic_write_bytes(Path(path), text.encode("utf-8"), overwrite=True)
    return text


#: Short alias.
Context = DeidContext
