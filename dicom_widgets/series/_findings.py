"""QA findings: what is odd about a series, with the files involved."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Finding", "SEVERITIES"]

#: Severities in increasing order of concern.
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Finding:
    """One quality-assurance observation about a series or a scan.

    Attributes
    ----------
    severity : {"info", "warning", "error"}
        ``"error"``: data is missing or unusable (unreadable file, frame that does not
        decode); ``"warning"``: the data is usable but may mislead (gap, duplicate
        position, split localizer, sort fallback); ``"info"``: worth knowing (4-D layout,
        per-frame rescale).
    code : str
        Stable machine-readable identifier, e.g. ``"gap"``, ``"duplicate-position"``,
        ``"decode-failed"``, ``"split"``.
    message : str
        A sentence a user can act on.
    paths : tuple of str
        The files involved (may be empty for in-memory datasets).

    Examples
    --------
    >>> f = Finding("warning", "gap", "slice spacing jumps", ("a.dcm", "b.dcm"))
    >>> str(f)
    'warning [gap]: slice spacing jumps (a.dcm, b.dcm)'
    """

    severity: str
    code: str
    message: str
    paths: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))

    def __str__(self) -> str:
        where = ""
        if self.paths:
            shown = ", ".join(self.paths[:3])
            more = f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
            where = f" ({shown}{more})"
        return f"{self.severity} [{self.code}]: {self.message}{where}"
