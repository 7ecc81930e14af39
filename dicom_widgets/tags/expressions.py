"""Evaluate the Python expressions the rows carry (``ds.PatientName``), without ``eval``."""

from __future__ import annotations

import ast
import re
from typing import Any

from pydicom.dataset import Dataset

__all__ = ["evaluate_expression"]

_EXPR_TOKEN = re.compile(
    # private_block first: otherwise ".private_block" would match as a plain attribute.
    r"\.private_block\(0x(?P<pgroup>[0-9A-Fa-f]{4}), (?P<creator>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\)"
    r"\[0x(?P<offset>[0-9A-Fa-f]{2})\]\.value"
    r"|\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\[(?P<index>\d+)\]"
    r"|\[0x(?P<group>[0-9A-Fa-f]{4}), 0x(?P<elem>[0-9A-Fa-f]{4})\]\.value"
)


def evaluate_expression(expression: str, ds: Dataset, var: str = "ds") -> Any:
    """Evaluate an expression made by :func:`flatten` against ``ds``, without ``eval``.

    Only the forms :func:`flatten` generates are accepted (attribute access, item indexing,
    ``[0xGGGG, 0xEEEE].value`` and ``.private_block(0xGGGG, 'creator')[0xEE].value``), so
    it is safe on untrusted text; the result is what Python would return.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A^B"
    >>> str(evaluate_expression("ds.PatientName", ds))
    'A^B'
    """

    if not expression.startswith(var):
        raise ValueError(f"expression must start with {var!r}: {expression!r}")
    obj: Any = ds
    pos = len(var)
    while pos < len(expression):
        match = _EXPR_TOKEN.match(expression, pos)
        if match is None:
            raise ValueError(f"unsupported expression at {expression[pos:]!r}")
        if match.group("attr"):
            obj = getattr(obj, match.group("attr"))
        elif match.group("index"):
            obj = obj[int(match.group("index"))]
        elif match.group("group"):
            obj = obj[int(match.group("group"), 16), int(match.group("elem"), 16)].value
        else:
            creator = ast.literal_eval(match.group("creator"))
            block = obj.private_block(int(match.group("pgroup"), 16), creator)
            obj = block[int(match.group("offset"), 16)].value
        pos = match.end()
    return obj
