"""Every difference between pydicom 2.4 and pydicom 3.x, in one place.

The rest of the package calls these helpers instead of testing versions itself,
so supporting a new pydicom release means editing this module only.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

__all__ = [
    "PYDICOM_VERSION",
    "IS_PYDICOM3",
    "read_dataset",
    "write_dataset",
    "apply_modality_lut",
    "apply_voi_lut",
    "apply_color_lut",
    "convert_color_space",
    "decode_pixels",
    "decode_frame",
    "raw_element_value",
    "safe_get",
    "is_multi_value",
    "as_text",
    "functional_group",
    "DICOMDIR_SOP_CLASS",
    "is_dicomdir",
]

PYDICOM_VERSION: tuple[int, ...] = tuple(
    int(part) for part in pydicom.__version__.split(".")[:2] if part.isdigit()
)
IS_PYDICOM3 = PYDICOM_VERSION >= (3,)

if IS_PYDICOM3:
    from pydicom.pixels import apply_color_lut as _apply_color_lut
    from pydicom.pixels import apply_modality_lut as _apply_modality_lut
    from pydicom.pixels import apply_voi_lut as _apply_voi_lut
    from pydicom.pixels import convert_color_space as _convert_color_space
else:  # pragma: no cover - exercised by the pydicom 2.4 environment
    from pydicom.pixel_data_handlers.util import apply_color_lut as _apply_color_lut
    from pydicom.pixel_data_handlers.util import apply_modality_lut as _apply_modality_lut
    from pydicom.pixel_data_handlers.util import apply_voi_lut as _apply_voi_lut
    from pydicom.pixel_data_handlers.util import convert_color_space as _convert_color_space


def read_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    stop_before_pixels: bool = False,
    specific_tags: Sequence[int | str] | None = None,
    force: bool = False,
    defer_size: int | str | None = None,
) -> Dataset:
    """Read a DICOM file with the same keyword arguments on pydicom 2.4 and 3.x.

    Parameters
    ----------
    source : path or binary file
        The file to read.
    stop_before_pixels : bool
        Stop before (7FE0,0010) Pixel Data so that only the header is read.
    specific_tags : sequence of int or str, optional
        Read only these elements (plus what pydicom always reads).
    force : bool
        Read files without the 128-byte preamble and ``DICM`` prefix.
    defer_size : int or str, optional
        Values larger than this are read on access only.

    Returns
    -------
    pydicom.dataset.FileDataset

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> read_dataset(pydicom_file("ct_small"), stop_before_pixels=True).Modality
    'CT'
    """
    kwargs: dict[str, Any] = {
        "stop_before_pixels": stop_before_pixels,
        "force": force,
        "defer_size": defer_size,
    }
    if specific_tags is not None:
        kwargs["specific_tags"] = list(specific_tags)
    return pydicom.dcmread(source, **kwargs)


def write_dataset(ds: Dataset, target: str | os.PathLike[str] | BinaryIO) -> None:
    """Write ``ds`` as a DICOM Part 10 file, encoded as its file meta's transfer syntax says.

    ``ds.file_meta.TransferSyntaxUID`` must be set. pydicom 3 takes the encoding from it
    (``enforce_file_format=True``); pydicom 2.4 needs the ``is_little_endian`` /
    ``is_implicit_VR`` attributes and ``write_like_original=False``.

    Parameters
    ----------
    ds : Dataset
        The dataset with its ``file_meta``.
    target : path or binary file
        Where to write.

    Examples
    --------
    >>> import io
    >>> from dicom_widgets.data import ct_phantom
    >>> buffer = io.BytesIO()
    >>> write_dataset(ct_phantom(n_slices=1, size=8)[0], buffer)
    >>> buffer.seek(0); read_dataset(buffer).Rows
    0
    8
    """
    transfer_syntax = ds.file_meta.TransferSyntaxUID
    if IS_PYDICOM3:
        pydicom.dcmwrite(target, ds, enforce_file_format=True)
    else:  # pragma: no cover - exercised by the pydicom 2.4 environment
        ds.is_little_endian = transfer_syntax.is_little_endian
        ds.is_implicit_VR = transfer_syntax.is_implicit_VR
        pydicom.dcmwrite(target, ds, write_like_original=False)


def apply_modality_lut(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply the Modality LUT or Rescale Slope/Intercept of ``ds`` to ``arr``.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    >>> apply_modality_lut(np.array([0, 1024]), ds).tolist()
    [-1024.0, 0.0]
    """
    return _apply_modality_lut(arr, ds)


def apply_voi_lut(arr: np.ndarray, ds: Dataset, index: int = 0) -> np.ndarray:
    """Apply the VOI LUT Sequence or windowing of ``ds`` (pydicom's implementation).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.WindowCenter, ds.WindowWidth = 40, 80
    >>> ds.BitsStored, ds.PixelRepresentation, ds.PhotometricInterpretation = 16, 1, "MONOCHROME2"
    >>> apply_voi_lut(np.array([-100, 500], dtype=np.int16), ds).tolist()
    [-32768.0, 32767.0]
    """
    return _apply_voi_lut(arr, ds, index=index)


def apply_color_lut(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply the Palette Color Lookup Table of ``ds`` to ``arr``.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> ds = read_dataset(pydicom_file("palette"), force=True)  # an old file: no file meta
    >>> ensure_transfer_syntax(ds)
    >>> apply_color_lut(ds.pixel_array, ds).shape
    (480, 640, 3)
    """
    return _apply_color_lut(arr, ds)


def convert_color_space(arr: np.ndarray, current: str, desired: str) -> np.ndarray:
    """Convert pixel data between RGB and YBR_FULL / YBR_FULL_422 colour spaces.

    Examples
    --------
    >>> grey = np.full((1, 1, 3), 128, dtype=np.uint8)  # a grey is Y=128, Cb=Cr=128
    >>> convert_color_space(grey, "RGB", "YBR_FULL").tolist()
    [[[128, 128, 128]]]
    """
    return _convert_color_space(arr, current, desired)


def decode_pixels(ds: Dataset) -> np.ndarray:
    """Decode every frame of ``ds`` as stored values (no colour conversion on 3.x).

    On pydicom 3 the YBR to RGB conversion that ``pixel_array`` performs for JPEG
    data is kept, as it is on 2.4, so both versions return the same array.

    Raises
    ------
    Exception
        Whatever the pixel handlers raise; callers turn that into a finding.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> decode_pixels(read_dataset(pydicom_file("multiframe"))).shape
    (10, 64, 64)
    """
    return ds.pixel_array


def decode_frame(ds: Dataset, index: int) -> np.ndarray:
    """Decode one frame of a (possibly multi-frame) dataset.

    pydicom 3 can decode a single frame without decoding the others; pydicom 2.4
    cannot, so there the whole array is decoded and the frame sliced out.

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> decode_frame(read_dataset(pydicom_file("multiframe")), 9).shape
    (64, 64)
    """
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if IS_PYDICOM3 and frames > 1:
        from pydicom.pixels import pixel_array

        return pixel_array(ds, index=index)
    arr = ds.pixel_array
    if frames > 1:
        return arr[index]
    if index != 0:
        raise IndexError(f"frame index {index} out of range for a single-frame dataset")
    return arr


def raw_element_value(ds: Dataset, tag: int) -> object:
    """Return an element's value, converting a raw element on access (same on 2.4 and 3.x).

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> raw_element_value(read_dataset(pydicom_file("ct_small")), 0x00080060)
    'CT'
    """
    return ds[tag].value


def decoded_photometric(ds: Dataset) -> str:
    """Photometric interpretation of the array that :func:`decode_frame` returns for ``ds``.

    pydicom 3 converts YBR_FULL / YBR_FULL_422 to RGB while decoding (``as_rgb=True``);
    pydicom 2.4 returns the YBR values as stored, for native and JPEG data alike.
    JPEG 2000's YBR_ICT / YBR_RCT are decoded to RGB by the codecs on both.
    """
    pi = str(ds.get("PhotometricInterpretation", "") or "").strip().upper()
    if pi in ("YBR_ICT", "YBR_RCT"):
        return "RGB"
    if IS_PYDICOM3 and pi in ("YBR_FULL", "YBR_FULL_422"):
        return "RGB"
    return pi


def decode_frame_from_file(path: str | os.PathLike[str], index: int, n_frames: int) -> np.ndarray:
    """Decode frame ``index`` of the file at ``path`` (re-reading the file).

    On pydicom 3 a frame of a multi-frame file is decoded without decoding the others;
    on 2.4 the whole file is decoded (callers should cache the other frames).
    Files without the DICOM preamble or file meta are read with ``force=True`` and an
    implicit VR little endian transfer syntax is assumed when none is given.
    """
    if IS_PYDICOM3 and n_frames > 1:
        from pydicom.pixels import pixel_array

        try:
            return pixel_array(os.fspath(path), index=index)
        except Exception:  # noqa: BLE001 - fall back to a full read (e.g. no file meta)
            pass
    ds = pydicom.dcmread(os.fspath(path), force=True)
    ensure_transfer_syntax(ds)
    if n_frames > 1:
        return decode_pixels(ds)[index] if not IS_PYDICOM3 else decode_frame(ds, index)
    return decode_frame(ds, index)


def ensure_transfer_syntax(ds: Dataset) -> None:
    """Give a dataset read with ``force=True`` and no file meta a Transfer Syntax UID.

    Old files (ACR-NEMA style, no preamble) carry none; pydicom needs one to decode
    pixels. The encoding pydicom detected while reading is used.
    """
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        ds.file_meta = meta
    if meta.get("TransferSyntaxUID"):
        return
    if IS_PYDICOM3:
        implicit, little = getattr(ds, "original_encoding", (True, True))
    else:  # pragma: no cover - exercised by the pydicom 2.4 environment
        implicit = getattr(ds, "is_implicit_VR", True)
        little = getattr(ds, "is_little_endian", True)
    if implicit is None:
        implicit = True
    if little is None:
        little = True
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def safe_get(
    source: Dataset | object | None,
    keyword: str | int | tuple[int, int],
    default: Any = None,
    *,
    quiet: bool = False,
) -> Any:
    """``ds.get(keyword, default)`` that never raises; an empty value gives ``default`` too.

    The one read boundary of the package: pydicom converts raw values on access, and a
    value it cannot convert (an unknown VR after a byte flip, an unparsable IS/DS with
    strict validation) raises there, in ways that differ between 2.4 and 3.x. Callers that
    only read a value to show or use it treat that as absent; the element itself is
    reported where elements are listed (:func:`dicom_widgets.tags.flatten`).

    Any other object is read by attribute, ``getattr(source, keyword)``: the reprs read
    duck-typed series and catalogs this way (a DICOMweb series fetches its header over
    HTTP when a property is first read), and one failing property must not fail a repr.

    Parameters
    ----------
    source : Dataset, object or None
        Where to read: a dataset by keyword or tag, any other object by attribute name
        (``None`` gives ``default``).
    keyword : str, int or (group, element)
        The element, or the attribute's name.
    default : object
        What an absent, empty (``None`` or ``""``) or unreadable value gives.
    quiet : bool
        Silence the warnings raised while reading the value (a repr shows the value,
        the tag table reports the problem).

    Returns
    -------
    object
        The value as pydicom (or the attribute) gives it, or ``default``.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.PatientName = "A^B"; ds.PatientID = ""
    >>> str(safe_get(ds, "PatientName")), safe_get(ds, "PatientID", "none")
    ('A^B', 'none')
    >>> class Broken:
    ...     @property
    ...     def modality(self):
    ...         raise OSError("server gone")
    >>> safe_get(Broken(), "modality", "?"), safe_get(Broken(), "missing", 0)
    ('?', 0)
    """
    if source is None:
        return default
    try:
        if quiet:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = _read(source, keyword, default)
        else:
            value = _read(source, keyword, default)
    except Exception:  # noqa: BLE001 - any conversion error means "not usable here"
        return default
    return default if value is None or (isinstance(value, str) and value == "") else value


def _read(source: object, keyword: str | int | tuple[int, int], default: Any) -> Any:
    if isinstance(source, Dataset):
        return source.get(keyword, default)
    return getattr(source, keyword, default)  # type: ignore[arg-type]  # a non-str: TypeError


def is_multi_value(value: object) -> bool:
    """True for the several values of one element: a ``MultiValue``, list or tuple.

    A sequence of items is not a multi-value (pydicom 2.4's ``Sequence`` subclasses
    ``MultiValue``; 3.x's does not).

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.ImageType = ["ORIGINAL", "PRIMARY"]; ds.Modality = "CT"
    >>> is_multi_value(ds.ImageType), is_multi_value(ds.Modality)
    (True, False)
    """
    return isinstance(value, (MultiValue, list, tuple)) and not isinstance(value, DicomSequence)


def as_text(value: object, default: str = "") -> str:
    """A value as DICOM writes it: several values joined by ``\\``, ``None`` as ``default``.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset(); ds.ImageType = ["ORIGINAL", "PRIMARY"]
    >>> as_text(ds.ImageType), as_text(None, "-")
    ('ORIGINAL\\\\PRIMARY', '-')
    """
    if value is None:
        return default
    if is_multi_value(value):
        return "\\".join(str(v) for v in value)  # type: ignore[attr-defined]
    return str(value)


def functional_group(
    ds: Dataset | None, frame: int, sequence: str, *, shared: bool = True
) -> Dataset | None:
    """The item of functional group ``sequence`` for ``frame`` of an enhanced multi-frame file.

    Per-frame first (Per-frame Functional Groups Sequence item ``frame``), then shared
    (PS3.3 C.7.6.16); ``None`` when neither holds it. Unreadable values count as absent.

    Parameters
    ----------
    ds : Dataset or None
        The multi-frame header.
    frame : int
        0-based frame index.
    sequence : str
        The functional group macro's sequence keyword (``"PlanePositionSequence"``).
    shared : bool
        Fall back to the Shared Functional Groups Sequence (``False`` for the groups
        that are per-frame by definition, such as Frame Content).

    Returns
    -------
    Dataset or None
        The first item of that sequence.

    Examples
    --------
    >>> from dicom_widgets.data import mr_multiframe_phantom
    >>> ds = mr_multiframe_phantom()
    >>> functional_group(ds, 1, "PlanePositionSequence").ImagePositionPatient is not None
    True
    """
    places = [("PerFrameFunctionalGroupsSequence", frame)]
    if shared:
        places.append(("SharedFunctionalGroupsSequence", 0))
    for groups, index in places:
        items = safe_get(ds, groups)
        if items is None or index >= len(items):
            continue
        inner = safe_get(items[index], sequence)
        if inner:
            return inner[0]
    return None


#: The SOP Class UID of a DICOMDIR (Media Storage Directory Storage, PS3.10 7.2).
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


def is_dicomdir(ds: Dataset) -> bool:
    """True for a DICOMDIR: a file-set's directory, not an image or a document.

    Its SOP Class (in the dataset or its file meta) is Media Storage Directory
    Storage, or it holds a Directory Record Sequence (DICOMDIRs written without file meta).

    Examples
    --------
    >>> from dicom_widgets.data import pydicom_file
    >>> is_dicomdir(read_dataset(pydicom_file("dicomdir"))), is_dicomdir(read_dataset(pydicom_file("ct_small")))
    (True, False)
    """
    sop = safe_get(ds, "SOPClassUID") or safe_get(
        getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", ""
    )
    return str(sop) == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds


_STANDARD_VRS = frozenset(
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN "
    "UR US UT UV".split()
)


def normalize_unknown_vrs(ds: Dataset) -> int:
    """Mark still-raw elements whose VR is not a DICOM VR (a flipped byte) as UN, recursively.

    pydicom raises on access to, and cannot write, an element read with an unknown VR; as
    UN its bytes stay intact and public ones are read with the dictionary VR (as pydicom
    does for UN). Works on pydicom's raw element tuples, the same on 2.4 and 3.x.

    Returns
    -------
    int
        How many elements were marked.
    """
    from pydicom.dataelem import RawDataElement

    count = 0
    store = ds._dict  # raw elements are only reachable without converting them here
    for tag, elem in list(store.items()):
        if isinstance(elem, RawDataElement):
            if elem.VR is not None and elem.VR not in _STANDARD_VRS:
                store[tag] = elem._replace(VR="UN")
                count += 1
        elif getattr(elem, "VR", None) == "SQ" and elem.value:
            for item in elem.value:
                if isinstance(item, Dataset):
                    count += normalize_unknown_vrs(item)
    return count
