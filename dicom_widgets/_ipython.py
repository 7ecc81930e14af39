"""IPython integration: ``%load_ext dicom_widgets`` and the Dataset HTML repr.

pydicom's classes are not modified: the repr is registered with IPython's
``text/html`` display formatter for :class:`~pydicom.dataset.Dataset` and
:class:`~pydicom.dataset.FileDataset` (``formatter.for_type``), so it applies in
the shell it was enabled in and :func:`disable_reprs` restores whatever was there
before. The ``text/plain`` part of the display bundle stays pydicom's own text.

Examples
--------
In a notebook::

    %load_ext dicom_widgets          # or: import dicom_widgets; dicom_widgets.enable_reprs()
    ds = pydicom.dcmread(path)
    ds                               # rich, collapsible, escaped table with a thumbnail
"""

from __future__ import annotations

import warnings
from typing import Any

from pydicom.dataset import Dataset, FileDataset

from .errors import DicomWidgetsWarning

__all__ = [
    "enable_reprs",
    "disable_reprs",
    "reprs_enabled",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_TYPES: tuple[type, ...] = (Dataset, FileDataset)
_MIME = "text/html"

# Per shell: the formatter functions that were registered before ours, to restore them.
_previous: dict[int, dict[type, Any]] = {}
# Per shell: the options passed to enable_reprs.
_options: dict[int, dict[str, Any]] = {}


def _shell(ip: Any | None) -> Any | None:
    if ip is not None:
        return ip
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


def _formatter(ip: Any) -> Any:
    return ip.display_formatter.formatters[_MIME]


def _make_repr(options: dict[str, Any]):
    def dataset_repr_html(ds: Dataset) -> str:
        # Imported here so that enabling the reprs costs nothing until a dataset is shown.
        from .html import dataset_html

        return dataset_html(ds, **options)

    dataset_repr_html.__dicom_widgets__ = True  # type: ignore[attr-defined]
    return dataset_repr_html


def _is_ours(func: Any) -> bool:
    return bool(getattr(func, "__dicom_widgets__", False))


def enable_reprs(ip: Any | None = None, **options: Any) -> bool:
    """Show pydicom datasets as rich HTML in this IPython shell.

    Parameters
    ----------
    ip : InteractiveShell, optional
        The shell; default: the running one (``get_ipython()``).
    **options
        Keyword arguments of :func:`dicom_widgets.html.dataset_html`
        (``max_items_per_sequence``, ``max_rows``, ``max_html_chars``, ``thumbnail``...).

    Returns
    -------
    bool
        ``True`` when registered; ``False`` (with a :class:`DicomWidgetsWarning`) outside IPython.

    Examples
    --------
    >>> import dicom_widgets
    >>> dicom_widgets.enable_reprs(thumbnail_size=96)  # doctest: +SKIP
    True
    """
    shell = _shell(ip)
    if shell is None:
        warnings.warn(
            "enable_reprs() needs a running IPython/Jupyter shell; nothing was registered",
            DicomWidgetsWarning,
            stacklevel=2,
        )
        return False
    if options:
        # Fail now, not at display time, on a misspelt option.
        import inspect

        from .html import dataset_html

        allowed = set(inspect.signature(dataset_html).parameters) - {"ds"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(
                f"unknown repr option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
    formatter = _formatter(shell)
    key = id(shell)
    previous = _previous.setdefault(key, {})
    func = _make_repr(dict(options))
    for typ in _TYPES:
        old = formatter.for_type(typ, func)
        if typ not in previous and not _is_ours(old):
            previous[typ] = old
    _options[key] = dict(options)
    return True


def disable_reprs(ip: Any | None = None) -> bool:
    """Undo :func:`enable_reprs`: datasets show as pydicom's text again.

    Returns
    -------
    bool
        ``True`` when something was unregistered.
    """
    shell = _shell(ip)
    if shell is None:
        return False
    formatter = _formatter(shell)
    key = id(shell)
    previous = _previous.pop(key, {})
    _options.pop(key, None)
    removed = False
    for typ in _TYPES:
        current = formatter.type_printers.get(typ)
        if current is None or not _is_ours(current):
            continue
        formatter.pop(typ)
        removed = True
        old = previous.get(typ)
        if old is not None:
            formatter.for_type(typ, old)
    return removed


def reprs_enabled(ip: Any | None = None) -> bool:
    """Whether the dataset repr is registered in the shell."""
    shell = _shell(ip)
    if shell is None:
        return False
    printers = _formatter(shell).type_printers
    return all(_is_ours(printers.get(typ)) for typ in _TYPES)


def load_ipython_extension(ip: Any) -> None:
    """Entry point of ``%load_ext dicom_widgets``: enable the dataset repr."""
    enable_reprs(ip)


def unload_ipython_extension(ip: Any) -> None:
    """Entry point of ``%unload_ext dicom_widgets``: disable the dataset repr."""
    disable_reprs(ip)
