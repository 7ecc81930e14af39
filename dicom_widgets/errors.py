"""Exceptions and warning categories raised by dicom-widgets.

Every error the package raises derives from :class:`DicomWidgetsError`, so one
``except DicomWidgetsError`` catches them all; the subclasses say what kind of
problem it was so that callers can react to it.
"""

from __future__ import annotations

__all__ = [
    "DicomWidgetsError",
    "DicomReadError",
    "DecodeError",
    "MissingDependencyError",
    "SeriesSelectionError",
    "GeometryError",
    "UnsafeOutputError",
    "MeasurementError",
    "DicomWebError",
    "DicomWebConnectionError",
    "DicomWebAuthError",
    "DicomWebNotFoundError",
    "DicomWebResponseError",
    "DicomWidgetsWarning",
]


class DicomWidgetsError(Exception):
    """Base class of every error raised by dicom-widgets.

    Examples
    --------
    >>> import dicom_widgets as dw
    >>> try:
    ...     dw.load_series("/nonexistent/folder", progress=False)
    ... except DicomWidgetsError as exc:
    ...     print(type(exc).__name__)
    DicomReadError
    """


class DicomReadError(DicomWidgetsError):
    """A file could not be read as DICOM (not DICOM, truncated, corrupt).

    Parameters
    ----------
    path : str
        The file that failed.
    reason : str
        What went wrong, in words a user can act on.

    Examples
    --------
    >>> str(DicomReadError("scan.dcm", "file not found"))
    'scan.dcm: file not found'
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DecodeError(DicomWidgetsError):
    """Pixel data exists but could not be decoded into an array.

    Examples
    --------
    >>> issubclass(DecodeError, DicomWidgetsError)
    True
    """


class MissingDependencyError(DicomWidgetsError, ImportError):
    """An optional library is needed for this feature; the message names the extra.

    It is an ``ImportError`` too, so code written for a missing import still catches it.

    Examples
    --------
    >>> issubclass(MissingDependencyError, ImportError)
    True
    """


class SeriesSelectionError(DicomWidgetsError, ValueError):
    """The source holds several series (or none) and the choice is ambiguous.

    Examples
    --------
    >>> issubclass(SeriesSelectionError, ValueError)
    True
    """


class GeometryError(DicomWidgetsError, ValueError):
    """The operation needs geometry (positions, orientation, uniform spacing) the series lacks.

    Examples
    --------
    >>> issubclass(GeometryError, ValueError)
    True
    """


class UnsafeOutputError(DicomWidgetsError, ValueError):
    """An output location would overwrite or sit inside the source data.

    Examples
    --------
    >>> issubclass(UnsafeOutputError, ValueError)
    True
    """


class MeasurementError(DicomWidgetsError, ValueError):
    """A measurement cannot be made or kept as asked: bad points, another Frame of Reference.

    Examples
    --------
    >>> issubclass(MeasurementError, ValueError)
    True
    """


class DicomWebError(DicomWidgetsError):
    """A DICOMweb request failed; the message names the URL (never a credential) and the cause.

    Attributes
    ----------
    status : int or None
        The HTTP status of the answer, when the server gave one (fallbacks decide on it,
        never on the message's text).

    Examples
    --------
    >>> issubclass(DicomWebError, DicomWidgetsError)
    True
    >>> DicomWebError("frames: HTTP 406", status=406).status
    406
    """

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DicomWebConnectionError(DicomWebError, ConnectionError):
    """The server could not be reached, or did not answer in time (after the retries).

    Examples
    --------
    >>> issubclass(DicomWebConnectionError, ConnectionError)
    True
    """


class DicomWebAuthError(DicomWebError, PermissionError):
    """The server refused the request (401/403): authentication failed or access is denied.

    Examples
    --------
    >>> issubclass(DicomWebAuthError, PermissionError)
    True
    """


class DicomWebNotFoundError(DicomWebError, LookupError):
    """The server has no such study, series, instance or frame (404).

    Examples
    --------
    >>> issubclass(DicomWebNotFoundError, LookupError)
    True
    """


class DicomWebResponseError(DicomWebError, ValueError):
    """The server answered with something that is not what DICOMweb promises (bad JSON, 4xx/5xx).

    Examples
    --------
    >>> issubclass(DicomWebResponseError, DicomWebError)
    True
    """


class DicomWidgetsWarning(UserWarning):
    """Category of every warning dicom-widgets emits (filter it with ``warnings.filterwarnings``).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.filterwarnings("ignore", category=DicomWidgetsWarning)
    ...     warnings.warn("quiet", DicomWidgetsWarning)
    """
