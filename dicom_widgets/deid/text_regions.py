"""Burned-in text: find it with Tesseract, match it to the header, blank it.

Ultrasound, secondary capture, screenshots and scanned documents carry the patient's name
and ID in the pixels; it is the most common leak in shared datasets. Plain OCR misses part
of it (light text on dark speckle, small fonts, coloured text), so every frame read is
prepared the way a determined reader would:

1. the frame goes through the package's display pipeline (:func:`dicom_widgets.display.to_display`:
   modality LUT, window, MONOCHROME1 inversion, YBR, palette, >8-bit), then to grey;
2. **contrast stretch** (percentiles) read with sparse-text page segmentation (``--psm 11``);
3. **local-contrast thresholding** (Niblack-like): each pixel compared with the mean and
   the spread of its neighbourhood, light-on-dark and dark-on-light alike, so that text
   over speckle, gradients or a textured picture stands out where one global threshold
   (set by the strong text elsewhere) would drop it; black text on white (**inverted**
   where needed), read with ``--psm 11``;
4. **upscaling**: every line found by any pass is cropped, **upscaled** until its letters
   are about 40 pixels high, thresholded within the crop and read again (all crops in one
   mosaic, one Tesseract call, ``--psm 6``).

Words of every pass are grouped into line segments by their boxes; a segment's readings
(one per pass) are matched against the header, fuzzily (O/0, l/1/I, S/5, B/8, case, one
edit in five characters, truncation): patient name parts, Patient ID and Other Patient
IDs, birth date and the study dates in common written forms (19800101, 1980-01-01,
01/01/1980, 01.01.1980, 1 Jan 1980...), Accession Number, Institution Name and staff
names. A segment any reading of which matches is PHI. Multi-frame cine is sampled (first,
last and evenly spaced frames, plus the temporal median of the sample, where speckle
averages out and the fixed annotation stays sharp) and the segments are merged across
frames. A per-file time budget bounds the work on huge files.

Examples
--------
>>> from dicom_widgets.data import burned_in_phantom
>>> from dicom_widgets.deid.text_regions import find_text_regions, blank_text_regions
>>> ds = burned_in_phantom("US", variant=0).dataset
>>> found = find_text_regions(ds)                       # doctest: +SKIP
>>> sorted({m for r in found.phi for m in r.matches})   # doctest: +SKIP
['AccessionNumber', 'InstitutionName', 'PatientBirthDate', 'PatientID', 'PatientName']
>>> blank_text_regions(ds, found.phi)                   # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from pydicom.dataset import Dataset

from .._compat import is_multi_value, safe_get
from ..errors import DecodeError, DicomWidgetsWarning, MissingDependencyError
from .engine import _person_name_parts

__all__ = [
    "TEXT_REGION_MODES",
    "SUPPORTED_PHOTOMETRICS",
    "TextRegion",
    "TextDetection",
    "HeaderValue",
    "header_values",
    "find_text_regions",
    "blank_text_regions",
    "TextRegionPlan",
    "TextCleaning",
    "clean_burned_in_text",
    "text_matches",
    "tesseract_version",
]

#: What ``anonymize_files(text_regions=...)`` accepts besides ``None``.
TEXT_REGION_MODES = ("detect", "all-text")

#: Photometric interpretations the display pipeline turns into pixels to read.
SUPPORTED_PHOTOMETRICS = (
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "PALETTE COLOR",
)

INSTALL_HINT = (
    "install Tesseract and its English data (Debian/Ubuntu: apt-get install tesseract-ocr "
    "tesseract-ocr-eng) and the Python binding: pip install 'dicom-widgets[ocr]'"
)

Box = tuple[int, int, int, int]


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextRegion:
    """A line segment of burned-in text.

    Attributes
    ----------
    box : tuple of int
        ``(row0, col0, row1, col1)`` in pixel coordinates, end exclusive (the convention of
        ``pixel_regions``), grown by a small margin around the letters.
    text : str
        The most confident reading.
    confidence : float
        Tesseract's mean word confidence of that reading, 0 to 100.
    matches : tuple of str
        Header keywords whose values it shows (``"PatientName"``, ``"PatientID"``...).
    frames : tuple of int
        Frames it was read in (``-1``: the temporal median of a cine).
    readings : tuple of str
        Every distinct reading (one per preprocessing pass and frame).

    Examples
    --------
    >>> region = TextRegion((10, 20, 30, 200), "ID: 123456", 91.0, ("PatientID",))
    >>> region.is_phi, region.height
    (True, 20)
    """

    box: Box
    text: str
    confidence: float
    matches: tuple[str, ...] = ()
    frames: tuple[int, ...] = (0,)
    readings: tuple[str, ...] = ()
    accepted: bool | None = None

    @property
    def is_phi(self) -> bool:
        """Whether the text shows a header value (then it is blanked by ``"detect"``)."""
        return bool(self.matches)

    def decided(self, accepted: bool) -> TextRegion:
        """A copy with a reviewer's decision: ``True`` blank it, ``False`` keep it."""
        return replace(self, accepted=bool(accepted))

    def blanked_by(self, mode: str | None) -> bool:
        """Whether ``mode`` (``"detect"``, ``"all-text"``) blanks it; a decision wins."""
        if self.accepted is not None:
            return self.accepted
        return mode == "all-text" or self.is_phi

    @property
    def height(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def width(self) -> int:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict[str, object]:
        """Plain values (for a report row or JSON); the text itself is left out (it is PHI)."""
        return {
            "box": list(self.box),
            "confidence": round(self.confidence, 1),
            "matches": list(self.matches),
            "frames": list(self.frames),
            "is_phi": self.is_phi,
            "accepted": self.accepted,
        }


@dataclass(frozen=True)
class TextDetection:
    """What :func:`find_text_regions` found in one image.

    Attributes
    ----------
    regions : tuple of TextRegion
        Every line segment found, PHI or not, top to bottom.
    n_frames : int
        Frames in the source.
    frames_read : tuple of int
        The frames read (``-1``: the temporal median of the sampled frames).
    complete : bool
        Every planned pass ran on every sampled frame; ``False`` after an OCR failure or
        when the time budget ran out (then the image is not verified).
    problems : tuple of str
        What went wrong, in words (also issued as :class:`~dicom_widgets.errors.DicomWidgetsWarning`).
    seconds : float
        Time spent.
    engine : str
        ``"tesseract <version>"``.

    Examples
    --------
    >>> TextDetection((), 1, (0,), True).phi
    ()
    """

    regions: tuple[TextRegion, ...]
    n_frames: int
    frames_read: tuple[int, ...]
    complete: bool
    problems: tuple[str, ...] = ()
    seconds: float = 0.0
    engine: str = ""

    @property
    def phi(self) -> tuple[TextRegion, ...]:
        """The regions that show a header value."""
        return tuple(r for r in self.regions if r.is_phi)

    def __iter__(self) -> Iterator[TextRegion]:
        return iter(self.regions)

    def __len__(self) -> int:
        return len(self.regions)

    def describe(self) -> str:
        """One line for a report (no recognised text: it may be PHI)."""
        matched = sorted({m for r in self.phi for m in r.matches})
        state = "complete" if self.complete else "INCOMPLETE: " + "; ".join(self.problems)
        return (
            f"{len(self.regions)} text region(s), {len(self.phi)} showing "
            f"{', '.join(matched) or 'no header value'}; {len(self.frames_read)} of "
            f"{self.n_frames} frame(s) read ({state}) by {self.engine or 'OCR'} "
            f"in {self.seconds:.1f} s"
        )


# -- Tesseract -----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _tesseract() -> tuple[object, str]:
    try:
        import pytesseract
    except ImportError as exc:
        raise MissingDependencyError(
            f"burned-in text detection needs pytesseract, which is not installed: {INSTALL_HINT}"
        ) from exc
    try:
        version = str(pytesseract.get_tesseract_version())
    except Exception as exc:  # noqa: BLE001 - TesseractNotFoundError, a broken binary...
        raise MissingDependencyError(
            f"burned-in text detection needs the tesseract program ({type(exc).__name__}: "
            f"{exc}): {INSTALL_HINT}"
        ) from exc
    return pytesseract, version.split()[0]


def tesseract_version() -> str:
    """The Tesseract version used, e.g. ``"5.3.0"``.

    Raises
    ------
    MissingDependencyError
        pytesseract or the ``tesseract`` program is missing (the message says what to install).

    Examples
    --------
    >>> tesseract_version()  # doctest: +SKIP
    '5.3.0'
    """
    return _tesseract()[1]


@dataclass(frozen=True)
class _Word:
    box: Box  # in frame coordinates
    text: str
    conf: float
    reading: int  # which (frame, pass) read it
    line_key: tuple[int, int, int]

    @property
    def is_a_word(self) -> bool:
        """Two letters or digits at least (speckle and picture edges read as one or none)."""
        return sum(c.isalnum() for c in self.text) >= 2


def _ocr_words(
    image: np.ndarray,
    config: str,
    *,
    scale: float,
    offset: tuple[int, int],
    reading: int,
    timeout: float,
    binary: bool = False,
) -> list[_Word]:
    """Words Tesseract reads in ``image`` (uint8 grey), boxes mapped back to the frame.

    In a ``binary`` image (black ink on white) each box is cut down to the rows that hold
    ink: specks of texture left beside the letters make Tesseract's boxes several lines
    tall, and blanking them would wipe the picture around the text.
    """
    from PIL import Image

    pytesseract, _ = _tesseract()
    # One thread per Tesseract: the batch's workers are the parallelism (2 cores shared).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    data = pytesseract.image_to_data(  # type: ignore[attr-defined]
        Image.fromarray(image),
        lang="eng",
        config=f"--oem 1 {config} -c tessedit_do_invert=0",
        output_type=pytesseract.Output.DICT,  # type: ignore[attr-defined]
        timeout=max(1, int(np.ceil(timeout))),
    )
    words = []
    dy, dx = offset
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0 or not any(c.isalnum() for c in text):
            continue
        left, top, width, height = (
            data["left"][i],
            data["top"][i],
            data["width"][i],
            data["height"][i],
        )
        if binary:
            top, height = _ink_rows(image, top, left, height, width)
        box = (
            int(dy + top / scale),
            int(dx + left / scale),
            int(np.ceil(dy + (top + height) / scale)),
            int(np.ceil(dx + (left + width) / scale)),
        )
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        words.append(_Word(box, text, conf, reading, key))
    return words


def _ink_rows(image: np.ndarray, top: int, left: int, height: int, width: int) -> tuple[int, int]:
    """``(top, height)`` of a word box cut down to its band of ink rows.

    The band holds the fullest row and the rows next to it (gaps of two rows bridged) with
    at least a seventh of its black pixels (and two); the box as given when it holds no ink.
    """
    counts = (image[top : top + height, left : left + width] < 128).sum(axis=1)
    if counts.size == 0 or counts.max() == 0:
        return top, height
    fullest = int(counts.argmax())
    inked = np.flatnonzero(counts >= max(min(2, counts[fullest]), counts[fullest] / 7.0))
    # Runs of inked rows split where more than two rows without ink lie between them.
    runs = np.split(inked, np.flatnonzero(np.diff(inked) > 3) + 1)
    band = next(run for run in runs if run[0] <= fullest <= run[-1])
    return top + int(band[0]), int(band[-1] - band[0] + 1)


# -- pixels --------------------------------------------------------------------------------
def _display_frame(ds: Dataset, index: int) -> np.ndarray:
    """Frame ``index`` of ``ds`` as the viewer shows it (uint8 grey or RGB)."""
    from .._compat import apply_modality_lut, decode_frame, decoded_photometric
    from ..display import to_display

    frame = np.asarray(decode_frame(ds, index))
    photometric = decoded_photometric(ds)
    if frame.ndim == 2 and photometric != "PALETTE COLOR":
        frame = apply_modality_lut(frame, ds)
    return to_display(frame, None, photometric=photometric, ds=ds, frame_index=index)


def _to_grey(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3:
        rgb = frame[..., :3].astype(np.float32)
        # Luminance, but coloured text on a grey background of the same luminance still
        # differs in its strongest channel: take whichever stands out more.
        lum = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        strongest = rgb.max(axis=-1)
        return np.clip(np.maximum(lum, strongest * 0.85 + lum * 0.15), 0, 255).astype(np.uint8)
    if frame.dtype != np.uint8:
        from ..display import to_display

        return to_display(frame, "auto")
    return frame


def _dark_on_light(grey: np.ndarray) -> np.ndarray:
    """Inverted when the background is dark: Tesseract's models read dark text on light."""
    sample = grey[:: max(1, grey.shape[0] // 128), :: max(1, grey.shape[1] // 128)]
    return 255 - grey if np.median(sample) < 128 else grey


def _stretch(grey: np.ndarray) -> np.ndarray:
    sample = grey[:: max(1, grey.shape[0] // 256), :: max(1, grey.shape[1] // 256)]
    lo, hi = np.percentile(sample, (1.0, 99.8))
    if hi - lo < 8:
        lo, hi = float(grey.min()), float(grey.max())
    if hi <= lo:
        return grey.copy()
    return np.clip((grey.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def _box_mean(image: np.ndarray, size: int) -> np.ndarray:
    """Mean over a ``size`` x ``size`` window (summed-area table; edges replicated)."""
    half = size // 2
    padded = np.pad(image.astype(np.float64), half + 1, mode="edge")
    table = padded.cumsum(0).cumsum(1)
    rows, cols = image.shape
    a = table[size : size + rows, size : size + cols]
    b = table[0:rows, size : size + cols]
    c = table[size : size + rows, 0:cols]
    d = table[0:rows, 0:cols]
    return (a - b - c + d) / float(size * size)


def _otsu(values: np.ndarray) -> float:
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 128.0
    omega = np.cumsum(hist) / total
    mu = np.cumsum(hist * np.arange(256)) / total
    between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
    return float(np.argmax(between))


def _local_ink(grey: np.ndarray, size: int = 21) -> np.ndarray:
    """Black-on-white image of what stands out from its own neighbourhood, background gone.

    Letters are drawn at full contrast against whatever is behind them (black, speckle, a
    gradient, a textured picture), light or dark. The smoothed image (noise averages out,
    strokes do not) is compared with its local mean over a window of about a word's height;
    in each neighbourhood the sign whose responses reach further is the ink (dark letters
    pull the mean down less than they fall below it). A pixel is ink when it stands out by
    1.5 times the local spread of the responses (so faint text over a textured picture
    passes where a global threshold, set by the strong text elsewhere, drops it) and by at
    least 12 grey levels (so flat noise does not).
    """
    smooth = _box_mean(grey, 3)
    diff = smooth - _box_mean(smooth, size)
    spread = np.sqrt(np.maximum(_box_mean(diff * diff, 2 * size - 1), 0.0))
    dark, light = np.maximum(-diff, 0.0), np.maximum(diff, 0.0)
    darker = _box_mean(dark**4, 31) >= _box_mean(light**4, 31)
    ink = np.where(darker, dark, light)
    stands_out = (ink >= 1.5 * np.maximum(spread, 12.0)) & (ink >= 12.0)
    return np.where(stands_out, 0, 255).astype(np.uint8)


def _crop_ink(crop: np.ndarray, letter_height: float) -> np.ndarray:
    """Threshold an (upscaled) crop of one line: black letters on white, texture gone.

    Smoothed first (noise and speckle average out, strokes do not), then compared with the
    local mean over about a letter height; the sign whose strong responses cover less area
    is the ink (letters are thin), and Otsu on those responses sets the threshold.
    """
    smooth = _box_mean(crop, 3)
    diff = smooth - _box_mean(smooth, max(5, int(letter_height * 1.5) | 1))
    dark, light = np.clip(-diff, 0, 255), np.clip(diff, 0, 255)
    # Letters reach further from the local mean than their background does.
    response = dark if np.percentile(dark, 97) >= np.percentile(light, 97) else light
    response = response.astype(np.uint8)
    strong = response[response > 8]
    threshold = max(20.0, _otsu(strong)) if strong.size else 255.0
    return np.where(response >= threshold, 0, 255).astype(np.uint8)


def _upscale(image: np.ndarray, factor: float) -> np.ndarray:
    from PIL import Image

    if abs(factor - 1.0) < 0.05:
        return image
    h, w = image.shape
    return np.asarray(
        Image.fromarray(image).resize(
            (max(1, int(round(w * factor))), max(1, int(round(h * factor)))), Image.LANCZOS
        )
    )


# -- grouping ------------------------------------------------------------------------------
def _same_line(a: Box, b: Box) -> bool:
    """Whether two word boxes sit on one line, close enough to be one segment (or overlap)."""
    ha, hb = a[2] - a[0], b[2] - b[0]
    if max(ha, hb) > 2.0 * max(1, min(ha, hb)):
        return False
    # Centres within half the smaller height: two lines stacked closely stay apart.
    if abs((a[0] + a[2]) - (b[0] + b[2])) > min(ha, hb):
        return False
    gap = max(a[1], b[1]) - min(a[3], b[3])
    return gap <= 1.2 * max(ha, hb)


def _group(words: Sequence[_Word]) -> list[list[_Word]]:
    """Union-find of words that sit on one line close together (any pass, any frame)."""
    parent = list(range(len(words)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(words)), key=lambda i: words[i].box[1])
    for pos, i in enumerate(order):
        a = words[i].box
        for j in order[pos + 1 :]:
            b = words[j].box
            if b[1] - a[3] > 3 * max(a[2] - a[0], b[2] - b[0]):
                break  # sorted by left edge: nothing further right can be close
            if _same_line(a, b):
                parent[find(j)] = find(i)
    groups: dict[int, list[_Word]] = {}
    for i in range(len(words)):
        groups.setdefault(find(i), []).append(words[i])
    return list(groups.values())


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller area."""
    dr = min(a[2], b[2]) - max(a[0], b[0])
    dc = min(a[3], b[3]) - max(a[1], b[1])
    if dr <= 0 or dc <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return dr * dc / max(1, smaller)


def _union(boxes: Iterable[Box]) -> Box:
    boxes = list(boxes)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


# -- matching ------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeaderValue:
    """One identifying header value in the forms it may be written in the pixels.

    Attributes
    ----------
    keyword : str
        Where it comes from (``"PatientName"``, ``"PatientBirthDate"``...).
    value : str
        The value (one name part, one ID, one written form of a date).
    """

    keyword: str
    value: str
    canonical: str = field(default="", compare=False)


_NAME_KEYWORDS = (
    "PatientName",
    "PatientBirthName",
    "PatientMotherBirthName",
    "OtherPatientNames",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "NameOfPhysiciansReadingStudy",
)
_ID_KEYWORDS = ("PatientID", "OtherPatientIDs", "MedicalRecordLocator", "AccessionNumber")
_DATE_KEYWORDS = ("PatientBirthDate", "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
_SITE_KEYWORDS = ("InstitutionName",)
# Words of institution names that alone name no site (a device's "General" preset...).
_GENERIC_SITE_WORD_LIST = tuple(
    (
        "GENERAL HOSPITAL HOSPITALS CLINIC CLINICS CLINIQUE MEDICAL MEDICINE CENTER CENTRE "
        "IMAGING RADIOLOGY HEALTH HEALTHCARE UNIVERSITY INSTITUTE SAINT CHILDREN CHILDRENS "
        "REGIONAL COUNTY COMMUNITY MEMORIAL NATIONAL DEPARTMENT"
    ).split()
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NAMES = (
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
)
# Characters OCR confuses, folded to one representative (both sides are folded the same way).
# l, L, 1, | and I all become I, so "General" and "GENERAL" fold alike.
_FOLD = str.maketrans(
    {"L": "I", "|": "I", "!": "I", "1": "I", "0": "O", "5": "S", "8": "B", "$": "S"}
)
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def _canonical(text: str) -> str:
    """Upper case, OCR confusables folded, everything but letters and digits dropped."""
    return _NOT_ALNUM.sub("", text.upper().translate(_FOLD))


_GENERIC_SITE_WORDS = frozenset(_canonical(w) for w in _GENERIC_SITE_WORD_LIST)


def _date_forms(date: str) -> list[str]:
    y, m, d = date[:4], date[4:6], date[6:]
    month = int(m)
    if not (1 <= month <= 12):
        return []
    short, full = _MONTHS[month - 1], _MONTH_NAMES[month - 1]
    d1, m1, yy = str(int(d)), str(month), y[2:]
    forms = {
        f"{y}{m}{d}",  # 19800101, 1980-01-01, 1980/01/01, 1980.01.01
        f"{d}{m}{y}",  # 01.01.1980, 01/01/1980 (day first)
        f"{m}{d}{y}",  # 01/01/1980 (month first)
        f"{d1}{m1}{y}",
        f"{m1}{d1}{y}",
        f"{d}{m}{yy}",
        f"{m}{d}{yy}",
        f"{d1}{short}{y}",  # 1 Jan 1980, 01-JAN-1980
        f"{d}{short}{y}",
        f"{short}{d1}{y}",  # Jan 1, 1980
        f"{d1}{full}{y}",
        f"{full}{d1}{y}",
        f"{d}{short}{yy}",
    }
    return sorted(forms)


def header_values(ds: Dataset) -> tuple[HeaderValue, ...]:
    """The header values burned-in text is matched against, in every written form.

    Name parts of the patient's names and of staff names (every component of every
    component group, and whole groups), Patient ID, Other Patient IDs (and the IDs of
    Other Patient IDs Sequence), Medical Record Locator, Accession Number, Institution Name,
    and the birth and study dates in common written forms.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName, ds.PatientBirthDate = "DOE^JANE", "19800101"
    >>> sorted({v.keyword for v in header_values(ds)})
    ['PatientBirthDate', 'PatientName']
    >>> "1JAN1980" in {v.value for v in header_values(ds)}
    True
    """
    found: dict[tuple[str, str], HeaderValue] = {}

    def add(keyword: str, value: str, minimum: int) -> None:
        canonical = _canonical(value)
        if len(canonical) >= minimum and (keyword, canonical) not in found:
            found[(keyword, canonical)] = HeaderValue(keyword, value, canonical)

    def get(keyword: str) -> list[str]:
        value = safe_get(ds, keyword)  # an unreadable value shows nothing
        if value is None:
            return []
        if is_multi_value(value):
            return [str(v) for v in value if str(v).strip()]
        return [str(value)] if str(value).strip() else []

    for keyword in _NAME_KEYWORDS:
        for value in get(keyword):
            for part in _person_name_parts(value):
                add(keyword, part, 2)
    for keyword in _ID_KEYWORDS:
        for value in get(keyword):
            add(keyword, value.strip(), 3)
    for item in ds.get("OtherPatientIDsSequence", None) or []:
        pid = str(item.get("PatientID", "") or "").strip()
        if pid:
            add("OtherPatientIDs", pid, 3)
    for keyword in _DATE_KEYWORDS:
        for value in get(keyword):
            if re.fullmatch(r"\d{8}", value.strip()):
                for form in _date_forms(value.strip()):
                    add(keyword, form, 6)
    for keyword in _SITE_KEYWORDS:
        for value in get(keyword):
            add(keyword, value.strip(), 4)
            for word in value.split():
                if _canonical(word) not in _GENERIC_SITE_WORDS:
                    add(keyword, word, 5)
    return tuple(found.values())


def _end_distances(pattern: str, text: str) -> list[int]:
    """Edit distance of the best match of ``pattern`` ending at each position of ``text``.

    Myers' bit-parallel approximate search (the pattern may start anywhere in the text).
    """
    m = len(pattern)
    mask = (1 << m) - 1
    peq: dict[str, int] = {}
    for i, c in enumerate(pattern):
        peq[c] = peq.get(c, 0) | (1 << i)
    pv, mv, score, high = mask, 0, m, 1 << (m - 1)
    out = []
    for c in text:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = (ph << 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
        out.append(score)
    return out


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short strings: one word against one value)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _allowed_errors(n: int) -> int:
    return 0 if n < 5 else 1 if n < 10 else 2


def text_matches(text: str, values: Sequence[HeaderValue]) -> tuple[str, ...]:
    """Keywords of the header values ``text`` shows, tolerant of OCR errors.

    Folding O/0, l/1/I, S/5, B/8 and case, ignoring spaces and punctuation; then one edit
    per five characters (two from ten). Values shorter than six characters are compared with
    whole words (so that ``ANN`` is not found in ``CHANNEL``); longer ones anywhere; a word
    cut off with an ellipsis (``PATIENTFI...``) matches the value it begins.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientName, ds.PatientID = "KOWALCZYK^MARTA", "48293017"
    >>> text_matches("K0WALCZYK, Marta  ID:4829301T", header_values(ds))
    ('PatientID', 'PatientName')
    >>> text_matches("MI 0.6 TIS 0.3", header_values(ds))
    ()
    """
    words = [w for w in re.split(r"\s+", text) if w]
    canon_words = [_canonical(w) for w in words]
    joined = "".join(canon_words)
    if not joined:
        return ()
    # Short values are compared with whole words, split at punctuation too ("ID:12345"),
    # and with two neighbours glued (OCR drops spaces).
    pieces = [_canonical(p) for p in re.split(r"[^0-9A-Za-z|!$]+", text) if _canonical(p)]
    short_candidates = set(canon_words + pieces + [a + b for a, b in zip(pieces, pieces[1:])])
    hits: set[str] = set()
    for value in values:
        if value.keyword in hits:
            continue
        pattern = value.canonical
        k = _allowed_errors(len(pattern))
        if len(pattern) > len(joined) + k:
            continue
        if len(pattern) < 6:
            # Short values are whole words (or two glued): no match inside longer words.
            if any(
                _distance(pattern, w) <= k
                for w in short_candidates
                if abs(len(w) - len(pattern)) <= k
            ):
                hits.add(value.keyword)
            continue
        if k == 0:
            if pattern in joined:
                hits.add(value.keyword)
        elif min(_end_distances(pattern, joined)) <= k:
            hits.add(value.keyword)
    # Truncated words: "PATIENTFI..." shows the start of a longer value.
    for word, canon in zip(words, canon_words):
        if len(canon) >= 5 and (word.endswith("..") or word.endswith("\u2026")):
            for value in values:
                if value.canonical.startswith(canon) and len(value.canonical) > len(canon):
                    hits.add(value.keyword)
    return tuple(sorted(hits))


# -- the detector --------------------------------------------------------------------------
def _sample_frames(n_frames: int, max_frames: int) -> list[int]:
    """First, last and evenly spaced frames, in an order that covers the cine early."""
    if n_frames <= max_frames:
        return list(range(n_frames))
    picks = np.unique(np.linspace(0, n_frames - 1, max_frames).round().astype(int)).tolist()
    # Ends first, then the middle: if the budget runs out the sample is still spread out.
    ordered = [picks[0], picks[-1]]
    rest = picks[1:-1]
    while rest:
        mid = len(rest) // 2
        ordered.append(rest.pop(mid))
    return ordered


def _frames_of(source: Dataset | np.ndarray) -> tuple[int, object]:
    if isinstance(source, Dataset):
        if "PixelData" not in source and "FloatPixelData" not in source:
            raise DecodeError("no Pixel Data: there is no image to read text from")
        photometric = str(source.get("PhotometricInterpretation", "") or "").strip().upper()
        if photometric not in SUPPORTED_PHOTOMETRICS:
            raise DecodeError(
                f"Photometric Interpretation {photometric or '(missing)'!r} is not supported "
                f"by burned-in text detection (supported: {', '.join(SUPPORTED_PHOTOMETRICS)})"
            )
        if int(source.get("BitsAllocated", 8) or 8) == 1:
            raise DecodeError("1-bit pixel data is not supported by burned-in text detection")
        return int(source.get("NumberOfFrames", 1) or 1), source
    arr = np.asarray(source)
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] in (3, 4)):
        arr = arr[np.newaxis]
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"expected a frame (rows, cols[, 3]) or frames (n, rows, cols[, 3]), got shape {arr.shape}"
        )
    return arr.shape[0], arr


def find_text_regions(
    source: Dataset | np.ndarray,
    *,
    header: Dataset | None = None,
    max_frames: int = 5,
    time_budget: float = 60.0,
    min_confidence: float = 45.0,
    label: str = "",
) -> TextDetection:
    """OCR the burned-in text of an image and say which of it shows header values.

    Parameters
    ----------
    source : Dataset or numpy.ndarray
        A dataset with pixel data (shown through the display pipeline, every supported
        photometric interpretation and bit depth), or display frames: ``(rows, cols)``,
        ``(rows, cols, 3)``, ``(n, rows, cols)`` or ``(n, rows, cols, 3)``.
    header : Dataset, optional
        Whose values to look for (default: ``source`` when it is a dataset).
    max_frames : int
        Frames of a cine read at most (first, last, evenly spaced), plus their temporal
        median; the regions are merged across frames.
    time_budget : float
        Seconds for the whole image; when it runs out the frames left are not read and the
        result is marked incomplete (``complete=False``, a warning is issued).
    min_confidence : float
        Text regions below this mean confidence are dropped unless they match a header value
        (a low-confidence reading of a name is still a name).
    label : str
        Names the image in warnings (a path).

    Returns
    -------
    TextDetection

    Raises
    ------
    MissingDependencyError
        Tesseract or pytesseract is missing (the message says what to install).
    DecodeError
        No pixel data, or a photometric interpretation the display pipeline cannot show.

    Examples
    --------
    >>> from dicom_widgets.data import burned_in_phantom
    >>> found = find_text_regions(burned_in_phantom("SC", variant=2).dataset)  # doctest: +SKIP
    >>> [r.matches for r in found.phi][:2]                                      # doctest: +SKIP
    [('PatientName',), ('PatientID',)]
    """
    _, version = _tesseract()
    started = time.perf_counter()
    n_frames, frames = _frames_of(source)
    if header is None and isinstance(source, Dataset):
        header = source
    values = header_values(header) if header is not None else ()
    what = label or ("the image" if not isinstance(source, Dataset) else "the dataset")
    order = _sample_frames(n_frames, max(1, int(max_frames)))
    # -1: the temporal median of the frames shown (speckle averages out, annotation stays).
    plan = order + [-1] if n_frames > 1 else order
    reads = _read_frames(frames, plan, started + max(0.0, float(time_budget)), values)
    if not reads.complete and reads.out_of_time:
        reads.problems.append(
            f"time budget of {time_budget:g} s spent after {len(reads.read)} frame(s); "
            f"{len(plan) - len(reads.read)} planned read(s) skipped"
        )
    shape = reads.shown[0].shape if reads.shown else None
    regions = _regions(reads.words, reads.readings, values, min_confidence, shape)
    for problem in reads.problems:
        warnings.warn(
            f"burned-in text detection of {what} is incomplete, the pixels are not verified: "
            f"{problem}",
            DicomWidgetsWarning,
            stacklevel=2,
        )
    return TextDetection(
        tuple(regions),
        n_frames,
        tuple(reads.read),
        reads.complete,
        tuple(reads.problems),
        time.perf_counter() - started,
        f"tesseract {version}",
    )


@dataclass
class _FrameReads:
    """What reading an image's frames gave: the words, the frame of each reading, the frames
    read and shown, and why the reading is incomplete (if it is)."""

    words: list[_Word] = field(default_factory=list)
    readings: dict[int, int] = field(default_factory=dict)  # reading -> frame
    read: list[int] = field(default_factory=list)
    shown: list[np.ndarray] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    complete: bool = True
    out_of_time: bool = False


def _read_frames(
    frames: Dataset | np.ndarray, plan: list[int], deadline: float, values: Sequence[HeaderValue]
) -> _FrameReads:
    """OCR the planned frames (-1: the median of those shown) until the deadline."""
    reads = _FrameReads()
    for index in plan:
        if time.perf_counter() >= deadline:
            reads.complete, reads.out_of_time = False, True
            break
        grey = _frame_to_read(frames, index, reads)
        if grey is None:
            continue
        base = len(reads.readings)
        reads.readings.update({base + k: index for k in range(_READINGS_PER_FRAME)})
        try:
            found = _read_frame(grey, base, deadline, values)
        except Exception as exc:  # noqa: BLE001 - TesseractError, timeout (RuntimeError)
            reads.complete = False
            reads.problems.append(f"OCR of frame {index} failed: {type(exc).__name__}: {exc}"[:300])
            continue
        reads.words.extend(found)
        reads.read.append(index)
    return reads


def _frame_to_read(
    frames: Dataset | np.ndarray, index: int, reads: _FrameReads
) -> np.ndarray | None:
    """Frame ``index`` in grey (-1: the temporal median of the frames shown, once two are);
    ``None`` when there is nothing to read (a frame that cannot be decoded is a problem)."""
    try:
        if index >= 0:
            if isinstance(frames, Dataset):
                grey = _to_grey(_display_frame(frames, index))
            else:
                grey = _to_grey(np.asarray(frames)[index])
            reads.shown.append(grey)
            return grey
        if len(reads.shown) >= 2:
            return np.median(np.stack(reads.shown), axis=0).astype(np.uint8)
        return None
    except Exception as exc:  # noqa: BLE001 - a frame that cannot be decoded
        reads.complete = False
        reads.problems.append(f"frame {index} cannot be shown: {type(exc).__name__}: {exc}")
        return None


#: Passes per frame: (name, page segmentation); the crops pass comes after them.
_PASSES = (("stretch", "--psm 11 -c thresholding_method=2"), ("ink", "--psm 11"))
_READINGS_PER_FRAME = len(_PASSES) + 1
#: Lines re-read upscaled per frame at most (a screen full of text still takes one call).
_MAX_CROPS = 48


def _settled(line: Sequence[_Word], values: Sequence[HeaderValue]) -> bool:
    """Whether a line needs no upscaled re-reading: a pass already matched a header value
    (it is PHI whatever the rest says), or both passes read it alike and confidently."""
    readings: dict[int, list[_Word]] = {}
    for w in line:
        readings.setdefault(w.reading, []).append(w)
    texts = {
        r: " ".join(w.text for w in sorted(ws, key=lambda w: w.box[1]))
        for r, ws in readings.items()
    }
    if any(text_matches(t, values) for t in texts.values()):
        return True
    if len(readings) < len(_PASSES):
        return False
    confident = all(np.mean([w.conf for w in ws]) >= 85 for ws in readings.values())
    return confident and len({_canonical(t) for t in texts.values()}) == 1


def _read_frame(
    grey: np.ndarray, first_reading: int, deadline: float, values: Sequence[HeaderValue] = ()
) -> list[_Word]:
    """Every preprocessing pass over one grey frame; boxes in frame coordinates."""

    def remaining() -> float:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("time budget spent during the frame")
        return left

    words: list[_Word] = []
    stretched = _stretch(grey)
    images = {"stretch": _dark_on_light(stretched), "ink": _local_ink(stretched)}
    reading = first_reading
    for name, config in _PASSES:
        words.extend(
            _ocr_words(
                images[name],
                config,
                scale=1.0,
                offset=(0, 0),
                reading=reading,
                timeout=remaining(),
                binary=name != "stretch",
            )
        )
        reading += 1
    # Upscaled crops of every line found: small fonts become legible, and each line gets its
    # own threshold.
    lines = _group([w for w in words if w.box[2] - w.box[0] <= grey.shape[0] // 6 and w.is_a_word])
    crops = []
    lines = [line for line in lines if not _settled(line, values)]
    for line in lines[:_MAX_CROPS]:
        r0, c0, r1, c1 = _union(w.box for w in line)
        height = max(1, r1 - r0)
        pad = max(4, (2 * height) // 3)
        # Wider than the words found: a pass that read part of a line shows where the rest is.
        side = 6 * height
        r0, c0 = max(0, r0 - pad), max(0, c0 - side)
        r1, c1 = min(grey.shape[0], r1 + pad), min(grey.shape[1], c1 + side)
        if r1 - r0 < 4 or c1 - c0 < 4:
            continue
        factor = float(np.clip(40.0 / height, 1.0, 4.0))
        crop = _crop_ink(_upscale(stretched[r0:r1, c0:c1], factor), height * factor)
        crops.append((crop, factor, (r0, c0)))
    if crops:
        words.extend(_read_mosaic(crops, reading, remaining()))
    return words


def _read_mosaic(
    crops: list[tuple[np.ndarray, float, tuple[int, int]]], reading: int, timeout: float
) -> list[_Word]:
    """Read many crops in one Tesseract call: stacked on white with gaps, mapped back."""
    gap = 24
    width = max(c.shape[1] for c, _, _ in crops) + 2 * gap
    height = sum(c.shape[0] + gap for c, _, _ in crops) + gap
    mosaic = np.full((height, width), 255, dtype=np.uint8)
    spans = []
    top = gap
    for crop, factor, origin in crops:
        h, w = crop.shape
        mosaic[top : top + h, gap : gap + w] = crop
        spans.append((top, top + h, factor, origin))
        top += h + gap
    words = _ocr_words(
        mosaic, "--psm 6", scale=1.0, offset=(0, 0), reading=reading, timeout=timeout, binary=True
    )
    out = []
    for word in words:
        middle = (word.box[0] + word.box[2]) / 2
        for start, stop, factor, (r0, c0) in spans:
            if start - gap / 2 <= middle < stop + gap / 2:
                box = (
                    int(r0 + (word.box[0] - start) / factor),
                    int(c0 + (word.box[1] - gap) / factor),
                    int(np.ceil(r0 + (word.box[2] - start) / factor)),
                    int(np.ceil(c0 + (word.box[3] - gap) / factor)),
                )
                out.append(_Word(box, word.text, word.conf, reading, word.line_key))
                break
    return out


def _regions(
    words: list[_Word],
    readings: dict[int, int],
    values: Sequence[HeaderValue],
    min_confidence: float,
    shape: tuple[int, ...] | None,
) -> list[TextRegion]:
    if not words or shape is None:
        return []
    rows, cols = shape[0], shape[1]
    # A box taller than a sixth of the image is a misread of a picture, not a line of text.
    words = [w for w in words if 3 <= w.box[2] - w.box[0] <= rows // 6 and w.box[3] - w.box[1] >= 2]
    regions = []
    for group in _group(words):
        per_reading: dict[tuple[int, tuple[int, int, int]], list[_Word]] = {}
        for w in group:
            per_reading.setdefault((w.reading, w.line_key), []).append(w)
        texts = []
        best_text, best_conf = "", -1.0
        for ws in per_reading.values():
            ws.sort(key=lambda w: w.box[1])
            text = " ".join(w.text for w in ws)
            conf = float(np.mean([w.conf for w in ws]))
            texts.append(text)
            if conf > best_conf:
                best_text, best_conf = text, conf
        matches: set[str] = set()
        for text in set(texts):
            matches.update(text_matches(text, values))
        alnum = sum(c.isalnum() for c in best_text)
        # Text is read by several passes; speckle misread as letters mostly by one.
        support = len({w.reading for w in group if w.is_a_word})
        if not matches and (best_conf < min_confidence or alnum < 2 or support < 2):
            continue
        r0, c0, r1, c1 = _union(w.box for w in _letters_of_the_line(group))
        pad = max(2, (r1 - r0) // 4)
        box = (max(0, r0 - pad), max(0, c0 - pad), min(rows, r1 + pad), min(cols, c1 + pad))
        frames = tuple(sorted({readings.get(w.reading, 0) for w in group}))
        regions.append(
            TextRegion(
                box, best_text, best_conf, tuple(sorted(matches)), frames, tuple(sorted(set(texts)))
            )
        )
    regions.sort(key=lambda r: (r.box[0], r.box[1]))
    return regions


def _letters_of_the_line(group: list[_Word]) -> list[_Word]:
    """The words whose boxes make a line's box: a lone character much taller than the words
    of its line is an edge of the picture read as a letter ("I", "D"), not part of the line."""
    heights = [w.box[2] - w.box[0] for w in group if w.is_a_word]
    if not heights:
        return group
    tallest = 1.5 * float(np.median(heights))
    return [w for w in group if w.box[2] - w.box[0] <= tallest or w.is_a_word]


# -- blanking ------------------------------------------------------------------------------
def blank_text_regions(ds: Dataset, regions: Iterable[TextRegion | Sequence[int]]) -> bool:
    """Blank ``regions`` in every frame of ``ds`` with the engine's pixel cleaning.

    The same code as ``anonymize_files(pixel_regions=...)``
    (:func:`dicom_widgets.deid.clean_pixels`): the pixel data is decoded, the boxes are
    filled with black (the image minimum for grey images) and stored uncompressed as
    Explicit VR Little Endian. Returns False when there was nothing to blank.

    Examples
    --------
    >>> from dicom_widgets.data import burned_in_phantom
    >>> ds = burned_in_phantom("US", variant=0).dataset
    >>> blank_text_regions(ds, [TextRegion((10, 10, 30, 200), "x", 90.0, ("PatientName",))])
    True
    >>> int(ds.pixel_array[20, 100].max())
    0
    """
    from .batch import clean_pixels

    boxes = [tuple(int(v) for v in (r.box if isinstance(r, TextRegion) else r)) for r in regions]
    if not boxes:
        return False
    return clean_pixels(ds, boxes)  # type: ignore[arg-type]


# -- what a batch does per file ------------------------------------------------------------
@dataclass(frozen=True)
class TextRegionPlan:
    """What ``anonymize_files(text_regions=...)`` does with burned-in text.

    Attributes
    ----------
    mode : {"detect", "all-text"} or None
        For every file not reviewed: blank the regions that show header values
        (``"detect"``) or every text region found (``"all-text"``); ``None``: leave the
        files not reviewed alone (no OCR).
    reviewed : mapping of str to tuple of TextRegion
        Regions a reviewer decided on (:meth:`TextRegion.decided`), by source: the resolved
        path, or ``"<dataset i>"`` for the i-th in-memory dataset. These files are not read
        again: accepted regions are blanked, rejected ones kept (and both reported);
        undecided ones follow ``mode``.
    max_frames, time_budget
        Passed to :func:`find_text_regions` for every file read (frames of a cine read at
        most, seconds per file).

    Examples
    --------
    >>> region = TextRegion((10, 20, 30, 200), "ID: 123456", 91.0, ("PatientID",))
    >>> plan = TextRegionPlan("detect", {"<dataset 0>": (region.decided(False),)})
    >>> plan.regions_for("<dataset 0>")[0].blanked_by(plan.mode)
    False
    """

    mode: str | None = "detect"
    reviewed: Mapping[str, tuple[TextRegion, ...]] = field(default_factory=dict)
    max_frames: int = 5
    time_budget: float = 60.0

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in TEXT_REGION_MODES:
            raise ValueError(
                f"text_regions mode must be one of {TEXT_REGION_MODES} or None, not {self.mode!r}"
            )

    @classmethod
    def of(cls, value: str | TextRegionPlan | None) -> TextRegionPlan | None:
        """``anonymize_files``' argument as a plan (``None`` stays ``None``)."""
        if value is None or isinstance(value, TextRegionPlan):
            return value
        if isinstance(value, str):
            return cls(value.strip().lower())
        raise TypeError(
            f"text_regions must be 'detect', 'all-text', None or a TextRegionPlan, not {value!r}"
        )

    def regions_for(self, source: str) -> tuple[TextRegion, ...] | None:
        """The reviewed regions of ``source``, or ``None`` when it was not reviewed."""
        found = self.reviewed.get(str(source))
        return None if found is None else tuple(found)

    def reads(self, source: str) -> bool:
        """Whether ``source`` is OCRed (not reviewed, and a mode says what to do with it)."""
        return self.mode is not None and self.regions_for(source) is None

    def covers(self, source: str) -> bool:
        """Whether the plan does anything to ``source`` (reviewed, or read under ``mode``)."""
        return self.mode is not None or self.regions_for(source) is not None


@dataclass(frozen=True)
class TextCleaning:
    """What was done about the burned-in text of one file.

    Attributes
    ----------
    mode : str
        ``"detect"``, ``"all-text"`` or ``"reviewed"``.
    regions : tuple of TextRegion
        Every region found (or reviewed).
    blanked : tuple of TextRegion
        The regions blanked in every frame.
    kept : tuple of TextRegion
        Regions left in the pixels: rejected by a reviewer, or text that shows no header
        value under ``"detect"``.
    verified : bool
        The detection ran completely (every sampled frame, every pass), or a reviewer
        decided on the regions; ``False`` after an OCR failure, a timeout, or pixels that
        cannot be shown (see ``problem``).
    problem : str
        Why it is not verified.
    engine : str
        The OCR engine and version.
    seconds : float

    Examples
    --------
    >>> TextCleaning("detect", (), (), (), True).describe()
    'burned-in text (detect): 0 region(s) found, 0 blanked, 0 kept'
    """

    mode: str
    regions: tuple[TextRegion, ...]
    blanked: tuple[TextRegion, ...]
    kept: tuple[TextRegion, ...]
    verified: bool
    problem: str = ""
    engine: str = ""
    seconds: float = 0.0

    @property
    def rejected(self) -> tuple[TextRegion, ...]:
        """Regions a reviewer chose to keep."""
        return tuple(r for r in self.kept if r.accepted is False)

    def describe(self) -> str:
        """One line for the report (the recognised text is left out: it may be PHI)."""
        line = (
            f"burned-in text ({self.mode}): {len(self.regions)} region(s) found, "
            f"{len(self.blanked)} blanked, {len(self.kept)} kept"
        )
        if self.rejected:
            line += f" ({len(self.rejected)} rejected by the reviewer)"
        if not self.verified:
            line += f"; NOT VERIFIED: {self.problem}"
        return line


def clean_burned_in_text(
    ds: Dataset,
    plan: TextRegionPlan | str,
    *,
    source: str = "",
) -> TextCleaning:
    """Find (or take the reviewed) text regions of ``ds`` and blank those the plan says.

    Used by :func:`~dicom_widgets.deid.anonymize_files` in its workers, before the header
    is de-identified (the header values are what the text is matched against). ``ds`` is
    changed in place when something is blanked (see :func:`blank_text_regions`).

    Parameters
    ----------
    ds : Dataset
    plan : TextRegionPlan or {"detect", "all-text"}
    source : str
        The file's key in ``plan.reviewed`` and its name in warnings.

    Returns
    -------
    TextCleaning
        Failures do not raise: they give ``verified=False`` and a
        :class:`~dicom_widgets.errors.DicomWidgetsWarning`.

    Raises
    ------
    MissingDependencyError
        Tesseract or pytesseract is missing (only when the file has to be read).

    Examples
    --------
    >>> from dicom_widgets.data import burned_in_phantom
    >>> ds = burned_in_phantom("US", variant=0).dataset
    >>> outcome = clean_burned_in_text(ds, "detect")   # doctest: +SKIP
    >>> outcome.verified, len(outcome.blanked) >= 4    # doctest: +SKIP
    (True, True)
    """
    plan = TextRegionPlan.of(plan)
    assert plan is not None
    reviewed = plan.regions_for(source) if source else None
    started = time.perf_counter()
    if reviewed is not None:
        mode, regions, verified, problem, engine = "reviewed", reviewed, True, "", "reviewer"
    elif plan.mode is None:
        raise ValueError(f"{source or 'the dataset'} was not reviewed and the plan reads nothing")
    else:
        mode = plan.mode
        try:
            detection = find_text_regions(
                ds, max_frames=plan.max_frames, time_budget=plan.time_budget, label=source
            )
        except MissingDependencyError:
            raise
        except Exception as exc:  # noqa: BLE001 - DecodeError, unsupported photometric...
            problem = f"{type(exc).__name__}: {exc}"[:300]
            warnings.warn(
                f"burned-in text of {source or 'a dataset'} not checked, the pixels are not "
                f"verified: {problem}",
                DicomWidgetsWarning,
                stacklevel=2,
            )
            return TextCleaning(mode, (), (), (), False, problem, "", time.perf_counter() - started)
        regions, verified = detection.regions, detection.complete
        problem, engine = "; ".join(detection.problems), detection.engine
    blanked = tuple(r for r in regions if r.blanked_by(plan.mode))
    kept = tuple(r for r in regions if not r.blanked_by(plan.mode))
    if blanked:
        blank_text_regions(ds, blanked)
        if reviewed is None and verified:
            # Read the blanked image once more, as a determined reader would: with the
            # strong text gone the thresholds adapt to what was faint beside it.
            left = plan.time_budget - (time.perf_counter() - started)
            again = find_text_regions(
                ds, max_frames=plan.max_frames, time_budget=max(0.0, left), label=source
            )
            verified = again.complete
            problem = "; ".join(again.problems)
            more = tuple(
                r
                for r in again.regions
                if r.blanked_by(plan.mode)
                and not any(_overlap(r.box, b.box) > 0.5 for b in blanked)
            )
            if more:
                blank_text_regions(ds, more)
                regions, blanked = tuple(regions) + more, blanked + more
    return TextCleaning(
        mode,
        tuple(regions),
        blanked,
        kept,
        verified,
        problem,
        engine,
        time.perf_counter() - started,
    )
