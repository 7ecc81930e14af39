"""IPython integration: ``%load_ext dicom_widgets`` and the Dataset reprs.

pydicom's classes are not modified: printers are registered with IPython's display
formatters for :class:`~pydicom.dataset.Dataset` and :class:`~pydicom.dataset.FileDataset`
(``formatter.for_type``), so they apply in the shell they were enabled in, and
:func:`disable_reprs` restores whatever was registered before.

Two printers make up the display bundle:

- ``text/html``: :func:`dicom_widgets.html.dataset_html`;
- ``text/plain``: :func:`dicom_widgets.html.dataset_plain_text`, which is pydicom's own
  ``str(ds)`` for ordinary headers and a short summary for huge ones (a Philips enhanced
  MR header prints megabytes of text, slower than the HTML repr). ``plain_text=False``
  keeps pydicom's text untouched.

Examples
--------
In a notebook::

    %load_ext dicom_widgets          # or: import dicom_widgets; dicom_widgets.enable_reprs()
    ds = pydicom.dcmread(path)
    ds                               # rich, collapsible, escaped table with a thumbnail
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset, FileDataset

from .errors import DicomWidgetsWarning

if TYPE_CHECKING:
    from IPython.core.formatters import BaseFormatter
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.lib.pretty import RepresentationPrinter

#: A formatter's printer for one type (HTML: returns text; pretty: writes to a printer).
Printer = Callable[..., Any]

__all__ = [
    "enable_reprs",
    "disable_reprs",
    "reprs_enabled",
    "load_ipython_extension",
    "unload_ipython_extension",
]

_TYPES: tuple[type, ...] = (Dataset, FileDataset)
_HTML = "text/html"
_PLAIN = "text/plain"

# Per shell and mime type: the printers registered before ours, to restore them.
_previous: dict[tuple[int, str], dict[type, Printer]] = {}


def _shell(ip: InteractiveShell | None) -> InteractiveShell | None:
    if ip is not None:
        return ip
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    return get_ipython()


def _formatter(ip: InteractiveShell, mime: str) -> BaseFormatter:
    return ip.display_formatter.formatters[mime]


def _mark(func: Printer) -> Printer:
    func.__dicom_widgets__ = True
    return func


def _is_ours(func: object) -> bool:
    return bool(getattr(func, "__dicom_widgets__", False))


def _html_printer(options: dict[str, Any]) -> Printer:
    def dataset_repr_html(ds: Dataset) -> str:
        # Imported here so that enabling the reprs costs nothing until a dataset is shown.
        from .html import dataset_html

        return dataset_html(ds, **options)

    return _mark(dataset_repr_html)


def _plain_printer() -> Printer:
    def dataset_repr_pretty(ds: Dataset, p: RepresentationPrinter, cycle: bool) -> None:
        from .html import dataset_plain_text

        p.text(dataset_plain_text(ds))

    return _mark(dataset_repr_pretty)


def _register(shell: InteractiveShell, mime: str, func: Printer) -> None:
    formatter = _formatter(shell, mime)
    previous = _previous.setdefault((id(shell), mime), {})
    for typ in _TYPES:
        old = formatter.for_type(typ, func)
        if typ not in previous and not _is_ours(old):
            previous[typ] = old


def _unregister(shell: InteractiveShell, mime: str) -> bool:
    formatter = _formatter(shell, mime)
    previous = _previous.pop((id(shell), mime), {})
    removed = False
    for typ in _TYPES:
        current = formatter.type_printers.get(typ)
        if current is None or not _is_ours(current):
            continue
        formatter.type_printers.pop(typ)
        removed = True
        old = previous.get(typ)
        if old is not None:
            formatter.for_type(typ, old)
    return removed


def enable_reprs(
    ip: InteractiveShell | None = None, *, plain_text: bool = True, **options: Any
) -> bool:
    """Show pydicom datasets as rich HTML in this IPython shell.

    Parameters
    ----------
    ip : InteractiveShell, optional
        The shell; default: the running one (``get_ipython()``).
    plain_text : bool
        Also register the ``text/plain`` printer (``str(ds)``, shortened for huge headers);
        ``False`` leaves pydicom's text as it is.
    **options
        Keyword arguments of :func:`dicom_widgets.html.dataset_html`
        (``max_items_per_sequence``, ``max_rows``, ``max_html_chars``, ``thumbnail``...).

    Returns
    -------
    bool
        ``True`` when registered; ``False`` (with a :class:`DicomWidgetsWarning`) outside IPython.

    Raises
    ------
    TypeError
        For an option :func:`~dicom_widgets.html.dataset_html` does not take.

    Examples
    --------
    >>> import dicom_widgets
    >>> dicom_widgets.enable_reprs(thumbnail_size=96)  # doctest: +SKIP
    True
    """
    if options:
        from .html import dataset_html

        # Fail now, not at display time, on a misspelt option.
        allowed = set(inspect.signature(dataset_html).parameters) - {"ds"}
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise TypeError(
                f"unknown repr option(s) {', '.join(unknown)}; "
                f"allowed: plain_text, {', '.join(sorted(allowed))}"
            )
    shell = _shell(ip)
    if shell is None:
        warnings.warn(
            "enable_reprs() needs a running IPython/Jupyter shell; nothing was registered",
            DicomWidgetsWarning,
            stacklevel=2,
        )
        return False
    _register(shell, _HTML, _html_printer(dict(options)))
    if plain_text:
        _register(shell, _PLAIN, _plain_printer())
    else:
        _unregister(shell, _PLAIN)
    return True


def disable_reprs(ip: InteractiveShell | None = None) -> bool:
    """Undo :func:`enable_reprs`: datasets show as pydicom's text again.

    Parameters
    ----------
    ip : InteractiveShell, optional
        The shell; default: the running one.

    Returns
    -------
    bool
        ``True`` when something was unregistered.

    Examples
    --------
    >>> import dicom_widgets
    >>> dicom_widgets.disable_reprs()  # doctest: +SKIP
    True
    """
    shell = _shell(ip)
    if shell is None:
        return False
    removed_html = _unregister(shell, _HTML)
    removed_plain = _unregister(shell, _PLAIN)
    return removed_html or removed_plain


def reprs_enabled(ip: InteractiveShell | None = None) -> bool:
    """Whether the dataset HTML repr is registered in the shell."""
    shell = _shell(ip)
    if shell is None:
        return False
    printers = _formatter(shell, _HTML).type_printers
    return all(_is_ours(printers.get(typ)) for typ in _TYPES)


def load_ipython_extension(ip: InteractiveShell) -> None:
    """Entry point of ``%load_ext dicom_widgets``: enable the dataset reprs."""
    enable_reprs(ip)


def unload_ipython_extension(ip: InteractiveShell) -> None:
    """Entry point of ``%unload_ext dicom_widgets``: disable the dataset reprs."""
    disable_reprs(ip)
