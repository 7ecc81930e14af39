"""One progress bar for long work: ``tqdm.auto``, a widget in notebooks and text elsewhere.

tqdm is a dependency; it is imported when a bar is made, so that importing the package
does not pull in tqdm's notebook support (and with it ipywidgets) before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["progress_bar"]

T = TypeVar("T")


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str,
    unit: str,
    delay: float = 0.0,
    leave: bool = False,
) -> tqdm[T]:
    """A ``tqdm.auto`` bar over ``iterable`` (or updated by hand up to ``total``).

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; without it, call ``update(n)`` and ``close()``.
    total : int, optional
        Number of steps when there is no iterable (or it has no length).
    desc, unit : str
        The bar's label and the name of one step.
    delay : float
        Seconds before the bar appears: quick work shows none.
    leave : bool
        Keep the finished bar on screen.

    Returns
    -------
    tqdm.tqdm
        Iterate over it, or ``update`` it.

    Examples
    --------
    >>> sum(progress_bar(range(3), desc="adding", unit="number", delay=60))
    3
    """
    from tqdm.auto import tqdm

    try:
        return tqdm(iterable, total=total, desc=desc, unit=unit, delay=delay, leave=leave)
    except TypeError:  # pragma: no cover - tqdm 4.60 has no delay
        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave)
