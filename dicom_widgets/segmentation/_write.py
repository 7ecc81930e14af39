"""``write_seg``: a DICOM SEG from a numpy mask or label array, through highdicom.

highdicom builds the object and checks the standard's constraints; this module only
orders the source images like the array, names the segments and writes atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_dataset_atomic
from ..errors import GeometryError, MissingDependencyError
from ._color import default_color

__all__ = ["write_seg", "SEG_HINT"]

SEG_HINT = 'pip install "dicom-widgets[seg]" (highdicom, which needs pydicom 3)'


def _highdicom() -> Any:
    try:
        import highdicom
    except ImportError as exc:
        raise MissingDependencyError(f"writing DICOM SEG needs highdicom: {SEG_HINT}") from exc
    return highdicom


def _source_images(series: Any) -> tuple[list[Any], np.ndarray]:
    """The series' instances for highdicom and the order of slices that matches them."""
    n = len(series)
    refs = [series.frame_ref(k) for k in range(n)]
    paths = {ref.path for ref in refs}
    multi = [ref for ref in refs if ref.n_frames > 1]
    if multi:
        if len(paths) != 1:
            raise GeometryError(
                "write_seg supports one multi-frame source file or single-frame files"
            )
        from .. import _compat

        ds = series.frame_ref(0).header
        if refs[0].path is not None:
            ds = _compat.read_dataset(refs[0].path)
        order = np.argsort([ref.frame for ref in refs])
        return [ds], order
    datasets = []
    from .. import _compat

    for k, ref in enumerate(refs):
        if ref.path is None:
            datasets.append(ref.header)
        else:
            datasets.append(_compat.read_dataset(ref.path))
        del k
    return datasets, np.arange(n)


def _segment_pixels(
    array: np.ndarray, series: Any, kind: str, labels: Mapping[int, str] | None
) -> tuple[list[int], np.ndarray]:
    """The label values written (segments 1..N in their order) and the pixels for highdicom.

    Label values become segment numbers 1..N in increasing order, as the standard requires.
    """
    shape = (len(series), *series.shape[-2:]) if not series.is_color else None
    if shape is None or array.shape != shape:
        raise GeometryError(
            f"the array has shape {array.shape}; the series is {shape} (slices, rows, cols)"
        )
    if kind == "FRACTIONAL":
        if array.dtype.kind != "f" or array.min() < 0 or array.max() > 1:
            raise ValueError("a FRACTIONAL SEG takes floats in [0, 1]")
        return [1], array.astype(np.float32)
    if array.dtype.kind == "f":
        raise ValueError("use segmentation_type='FRACTIONAL' for float arrays")
    values = sorted(int(v) for v in np.unique(array) if v != 0)
    if not values:
        values = sorted(int(k) for k in (labels or {1: ""}))
    if array.dtype == bool:
        return [1], array.astype(np.uint8)
    if array.min() < 0:
        raise ValueError("label values must not be negative")
    lut = np.zeros(int(max(values)) + 1, np.uint16)
    for number, value in enumerate(values, start=1):
        lut[value] = number
    pixel = lut[array.astype(np.int64)]
    return values, pixel.astype(np.uint8 if len(values) < 256 else np.uint16)


def _segment_descriptions(
    hd: Any,
    values: list[int],
    labels: Mapping[int, str] | None,
    colors: Mapping[int, tuple[int, int, int]] | None,
    algorithm: str | None,
) -> list[Any]:
    """highdicom SegmentDescriptions: label, colour, and MANUAL or AUTOMATIC (``algorithm``)."""
    from pydicom.sr.codedict import codes

    names = dict(labels or {})
    colors = dict(colors or {})
    if algorithm:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        identification = hd.AlgorithmIdentificationSequence(
            name=algorithm, family=codes.cid7162.ArtificialIntelligence, version="1"
        )
    else:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.MANUAL
        identification = None
    descriptions = []
    for number, value in enumerate(values, start=1):
        rgb = colors.get(value, default_color(value))
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=str(names.get(value, f"Segment {value}"))[:64],
                segmented_property_category=codes.SCT.Tissue,
                segmented_property_type=codes.SCT.Tissue,
                algorithm_type=algorithm_type,
                algorithm_identification=identification,
                display_color=hd.color.CIELabColor.from_rgb(*rgb),
            )
        )
    return descriptions


def _highdicom_seg(
    hd: Any,
    series: Any,
    pixel: np.ndarray,
    kind: str,
    values: list[int],
    descriptions: list[Any],
    series_description: str,
) -> Any:
    """The highdicom ``Segmentation`` over the series' instances, in their order."""
    sources, order = _source_images(series)
    pixel = pixel[order] if len(sources) == 1 and len(series) > 1 else pixel
    if kind == "BINARY" and len(values) > 1:
        # One frame per segment and slice: highdicom takes a stack of per-segment masks.
        pixel = np.stack([pixel == n for n in range(1, len(values) + 1)], axis=-1)
    header = series.dataset(0)
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=pixel,
        segmentation_type=kind,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=int(getattr(header, "SeriesNumber", 0) or 0) + 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="dicom-widgets",
        manufacturer_model_name="dicom-widgets",
        software_versions=_version(),
        device_serial_number="0",
        series_description=series_description[:64],
    )


def write_seg(
    labels_or_mask: np.ndarray,
    series: Any,
    path: str | os.PathLike[str],
    *,
    labels: Mapping[int, str] | None = None,
    segmentation_type: str = "BINARY",
    colors: Mapping[int, tuple[int, int, int]] | None = None,
    algorithm: str | None = None,
    series_description: str = "Segmentation",
    overwrite: bool = False,
) -> Path:
    """Write a DICOM SEG of a mask or label array aligned to ``series``.

    Parameters
    ----------
    labels_or_mask : numpy.ndarray
        (slices, rows, cols) like ``series.volume()``: a boolean mask (one segment), an
        integer array of label values (one segment per non-zero value), or, for
        ``segmentation_type="FRACTIONAL"``, floats in [0, 1] (one segment).
    series : Series
        The source images (the SEG references them and takes their geometry).
    path : path-like
        Output file, written atomically.
    labels : dict, optional
        ``{label value: segment label}``. Segments are numbered 1..N in increasing order
        of label value, as the standard requires; by default they are named "Segment N".
    segmentation_type : {"BINARY", "FRACTIONAL", "LABELMAP"}
        LABELMAP writes a Label Map Segmentation (one frame per slice).
    colors : dict, optional
        ``{label value: (r, g, b)}`` recommended display colours.
    algorithm : str, optional
        Name of the algorithm that made the labels (the segments are then AUTOMATIC,
        otherwise MANUAL).
    series_description : str
        SeriesDescription of the SEG.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    MissingDependencyError
        Without highdicom (``pip install "dicom-widgets[seg]"``, needs pydicom 3).
    GeometryError
        When the array is not shaped like the series.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import dicom_widgets as dw
    >>> from dicom_widgets.data import ct_phantom
    >>> series = dw.load_series(ct_phantom(n_slices=3, size=16), progress=False)
    >>> mask = np.zeros(series.shape, bool); mask[1, 4:8, 4:8] = True
    >>> out = dw.write_seg(mask, series, os.path.join(tempfile.mkdtemp(), "seg.dcm"),
    ...                    labels={1: "lesion"})  # doctest: +SKIP
    >>> int(dw.load_segmentation(out, series).mask("lesion").sum())  # doctest: +SKIP
    16
    """
    hd = _highdicom()
    kind = segmentation_type.upper()
    if kind not in ("BINARY", "FRACTIONAL", "LABELMAP"):
        raise ValueError(
            f"segmentation_type must be BINARY, FRACTIONAL or LABELMAP, not {segmentation_type!r}"
        )
    values, pixel = _segment_pixels(np.asarray(labels_or_mask), series, kind, labels)
    descriptions = _segment_descriptions(hd, values, labels, colors, algorithm)
    segmentation = _highdicom_seg(hd, series, pixel, kind, values, descriptions, series_description)
    return write_dataset_atomic(segmentation, path, overwrite=overwrite)


def _version() -> str:
    from .. import __version__

    return __version__
