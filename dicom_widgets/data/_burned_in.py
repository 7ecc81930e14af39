"""Synthetic ultrasound and secondary-capture images with the patient's identity burned in.

Real ultrasound machines, screen captures and scanned documents write the patient's name,
ID, birth date and the site into the pixels. These generators draw such annotations with
PIL (DejaVu Sans / Mono / Serif, several sizes, colours and positions) over speckle, noise
and gradients, and put the same identity in the header, so that burned-in text detection
and blanking can be tested against a known ground truth (every drawn line's box and which
of its words are identifying).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from ._phantom import _new_dataset, _uid

if TYPE_CHECKING:  # pragma: no cover - Pillow is imported where the text is drawn
    from PIL.Image import Image as PILImage

__all__ = ["BurnedInText", "BurnedInImage", "FAKE_PATIENTS", "burned_in_phantom"]

US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
US_MULTIFRAME_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
SECONDARY_CAPTURE_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
#: The DejaVu faces cycled through by ``variant`` (Debian's fonts-dejavu-core).
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerif-Bold.ttf",
)

#: Invented patients (name, patient ID, birth date, accession number, institution).
FAKE_PATIENTS = (
    ("KOWALCZYK^MARTA", "48293017", "19620314", "A7731902", "Riverside General"),
    ("OKONKWO^CHIDI", "MRN552190", "19881105", "ACC40417", "Saint Olaf Clinic"),
    ("FERREIRA^LUIS", "00731845", "19450722", "X2290331", "Harbor View Medical"),
    ("NAKAMURA^HANA", "HN6620418", "20010203", "R5518207", "Northfield Hospital"),
    ("BERGSTROM^ERIK", "39017726", "19790930", "A6602914", "Lakeside Imaging"),
    ("DUPONT^CLAIRE", "CD8841207", "19571218", "B3378150", "Clinique Beaulieu"),
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class BurnedInText:
    """One line of text drawn into the pixels.

    Attributes
    ----------
    text : str
        The line as drawn.
    box : tuple of int
        ``(row0, col0, row1, col1)``, end exclusive, in pixel coordinates.
    phi_words : tuple of str
        The words of the line that identify the patient or the site (empty for
        device text such as ``"MI 0.6"``).
    font : str
        Font file name.
    size : int
        Font size in pixels.
    """

    text: str
    box: tuple[int, int, int, int]
    phi_words: tuple[str, ...]
    font: str
    size: int


@dataclass(frozen=True)
class BurnedInImage:
    """A generated image: the dataset and the ground truth of what was burned in.

    Attributes
    ----------
    dataset : Dataset
        A complete US or SC instance (file meta included) with the identity in the header.
    texts : tuple of BurnedInText
        Every line drawn (the same in every frame of a cine).
    """

    dataset: Dataset
    texts: tuple[BurnedInText, ...]

    @property
    def phi_words(self) -> tuple[str, ...]:
        """Every identifying word drawn, in drawing order."""
        return tuple(w for t in self.texts for w in t.phi_words)

    def text_mask(self, margin: int = 0) -> np.ndarray:
        """Boolean (rows, cols) mask of every drawn line's box grown by ``margin`` pixels."""
        rows, cols = int(self.dataset.Rows), int(self.dataset.Columns)
        mask = np.zeros((rows, cols), dtype=bool)
        for t in self.texts:
            r0, c0, r1, c1 = t.box
            mask[max(0, r0 - margin) : r1 + margin, max(0, c0 - margin) : c1 + margin] = True
        return mask


def _date_text(date: str, style: int) -> str:
    y, m, d = date[:4], date[4:6], date[6:]
    forms = (
        f"{m}/{d}/{y}",
        f"{d}.{m}.{y}",
        f"{y}-{m}-{d}",
        f"{int(d)} {_MONTHS[int(m) - 1]} {y}",
        f"{y}{m}{d}",
        f"{d}/{m}/{y}",
    )
    return forms[style % len(forms)]


def _name_text(name: str, style: int) -> tuple[str, tuple[str, ...]]:
    family, given = name.split("^")[:2]
    forms = (
        (f"{family}, {given}", (family, given)),
        (f"{given.title()} {family.title()}", (given.title(), family.title())),
        (f"{family}^{given}", (f"{family}^{given}",)),
        (f"{family.title()} {given.title()}", (family.title(), given.title())),
    )
    return forms[style % len(forms)]


def _background(
    kind: str, rows: int, cols: int, rng: np.random.Generator, frame: int
) -> np.ndarray:
    """Grey float background in 0..1: an ultrasound sector of speckle, or a screen capture."""
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    if kind == "US":
        # A fan from the top centre: speckle (Rayleigh) inside, black outside.
        cy, cx = -0.1 * rows, cols / 2.0
        radius = np.hypot(yy - cy, xx - cx)
        angle = np.arctan2(xx - cx, yy - cy)
        inside = (np.abs(angle) < 0.6) & (radius > 0.2 * rows) & (radius < 1.05 * rows)
        speckle = rng.rayleigh(0.25, size=(rows, cols))
        depth = np.clip(1.0 - radius / (1.2 * rows), 0.2, 1.0)
        tissue = 0.5 + 0.25 * np.sin(xx / 37.0 + frame * 0.3) * np.cos(yy / 23.0)
        img = np.where(inside, np.clip(speckle * depth * tissue * 1.6, 0, 1), 0.0)
        # Faint noise everywhere, as a real scan converter leaves.
        return np.clip(img + rng.normal(0.02, 0.015, size=(rows, cols)), 0, 1)
    # Secondary capture: a light vertical gradient with noise and a darker picture inset.
    img = 0.75 + 0.2 * (yy / rows) - 0.1 * (xx / cols) + rng.normal(0, 0.03, size=(rows, cols))
    r0, r1, c0, c1 = int(rows * 0.3), int(rows * 0.8), int(cols * 0.3), int(cols * 0.75)
    inset = 0.35 + 0.2 * np.sin(xx[r0:r1, c0:c1] / 19.0) * np.sin(yy[r0:r1, c0:c1] / 13.0)
    img[r0:r1, c0:c1] = inset + rng.normal(0, 0.06, size=inset.shape)
    return np.clip(img, 0, 1)


def _lines(kind: str, patient: tuple[str, ...], variant: int) -> list[tuple[str, tuple[str, ...]]]:
    name, pid, birth, accession, institution = patient
    name_line, name_words = _name_text(name, variant)
    date = _date_text(birth, variant)
    lines: list[tuple[str, tuple[str, ...]]] = [
        (name_line, name_words),
        (f"ID: {pid}", (pid,)),
        (f"DOB: {date}", (date,)),
        (f"Acc {accession}", (accession,)),
        (institution, tuple(institution.split())),
    ]
    if kind == "US":
        device = [("L12-5 Adv Breast", ()), ("MI 0.6 TIS 0.3", ()), ("2D 60% Dyn R 58", ())]
    else:
        device = [("Series 3 Image 12", ()), ("W 400 L 40", ())]
    return lines + device


def burned_in_phantom(
    kind: str = "US",
    *,
    variant: int = 0,
    rows: int = 480,
    cols: int = 640,
    n_frames: int = 1,
    photometric: str | None = None,
    bits: int = 8,
) -> BurnedInImage:
    """An ultrasound-like or secondary-capture image with PHI burned in and in the header.

    Parameters
    ----------
    kind : {"US", "SC"}
        Ultrasound (speckle sector on black, light text; Ultrasound Image Storage, or the
        multi-frame class when ``n_frames > 1``) or secondary capture (light gradient
        with a picture inset, dark text).
    variant : int
        Chooses the patient, fonts, sizes, colours, positions and date/name formats
        (deterministic: the same variant gives the same image).
    rows, cols : int
        Image size.
    n_frames : int
        Frames of a cine: the speckle moves, the annotation stays.
    photometric : str, optional
        ``"RGB"`` (default for US), ``"MONOCHROME2"`` (default for SC) or ``"MONOCHROME1"``.
    bits : int
        8, or 16 for grey images stored with 12 bits (exercises the >8-bit display path).

    Returns
    -------
    BurnedInImage

    Examples
    --------
    >>> image = burned_in_phantom("US", variant=1)
    >>> image.dataset.Modality, image.dataset.PhotometricInterpretation
    ('US', 'RGB')
    >>> image.dataset.PatientID, "MRN552190" in image.phi_words
    ('MRN552190', True)
    >>> image.texts[0].text, image.texts[0].phi_words
    ('Chidi Okonkwo', ('Chidi', 'Okonkwo'))
    """
    kind = kind.upper()
    if kind not in ("US", "SC"):
        raise ValueError(f"kind must be 'US' or 'SC', not {kind!r}")
    photometric = (photometric or ("RGB" if kind == "US" else "MONOCHROME2")).upper()
    if photometric not in ("RGB", "MONOCHROME1", "MONOCHROME2"):
        raise ValueError(
            f"photometric must be RGB, MONOCHROME1 or MONOCHROME2, not {photometric!r}"
        )
    if bits not in (8, 16) or (bits == 16 and photometric == "RGB"):
        raise ValueError("bits must be 8, or 16 for a grey image")
    rng = np.random.default_rng(1000 + variant)
    patient = FAKE_PATIENTS[variant % len(FAKE_PATIENTS)]
    layer, texts = _draw_text(kind, patient, variant, rows, cols, photometric == "RGB", rng)
    pixels = _compose_frames(kind, layer, n_frames, photometric, bits, rng)
    ds = _phantom_dataset(kind, patient, variant, pixels, n_frames, photometric, bits)
    return BurnedInImage(ds, tuple(texts))


# Text colours: light on the ultrasound's black, dark on the secondary capture's gradient.
_US_PALETTE = [(255, 255, 255), (255, 230, 90), (120, 220, 255), (150, 255, 150), (190, 190, 190)]
_SC_PALETTE = [(0, 0, 0), (20, 30, 120), (110, 20, 20), (40, 40, 40)]
# (top, left) as fractions: the four corners, one over the picture itself (speckle or the
# inset), and the left edge for device text.
_ANCHORS = [(0.02, 0.015), (0.02, 0.58), (0.80, 0.02), (0.90, 0.55), (0.58, 0.36), (0.35, 0.01)]


def _draw_text(
    kind: str,
    patient: tuple[str, ...],
    variant: int,
    rows: int,
    cols: int,
    colour: bool,
    rng: np.random.Generator,
) -> tuple[PILImage, list[BurnedInText]]:
    """The text layout, drawn once onto a transparent RGBA layer (composited on every frame),
    and where each line went."""
    from PIL import Image, ImageDraw, ImageFont

    palette = _US_PALETTE if kind == "US" else _SC_PALETTE
    layer = Image.new("RGBA", (cols, rows), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    texts: list[BurnedInText] = []
    y_cursor = {i: _ANCHORS[i][0] * rows for i in range(len(_ANCHORS))}
    for index, (line, phi) in enumerate(_lines(kind, patient, variant)):
        font_name = FONTS[(variant + index) % len(FONTS)]
        size = int(rng.integers(11, 23))
        font = ImageFont.truetype(str(_FONT_DIR / font_name), size)
        rgb = palette[(variant + index) % len(palette)]
        if not colour:
            grey = int(round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]))
            grey = max(grey, 150) if kind == "US" else min(grey, 70)
            rgb = (grey, grey, grey)
        # PHI lines go to the corners (where devices put them); device text down the left.
        slot = (index + variant) % len(_ANCHORS) if phi else len(_ANCHORS) - 1 if index % 2 else 0
        top = int(y_cursor[slot])
        left = int(_ANCHORS[slot][1] * cols + rng.integers(0, 12))
        left0, top0, right0, bottom0 = draw.textbbox((left, top), line, font=font)
        if right0 >= cols - 2:  # keep the line inside the image
            left -= right0 - cols + 4
            left0, top0, right0, bottom0 = draw.textbbox((left, top), line, font=font)
        if bottom0 >= rows - 2:
            continue
        draw.text((left, top), line, font=font, fill=(*rgb, 255))
        texts.append(
            BurnedInText(
                line, (top0, max(left0, 0), bottom0, min(right0, cols)), phi, font_name, size
            )
        )
        y_cursor[slot] = bottom0 + size * 0.5
    return layer, texts


def _compose_frames(
    kind: str, layer: PILImage, n_frames: int, photometric: str, bits: int, rng: np.random.Generator
) -> np.ndarray:
    """Every frame: its background (the speckle moves), the text layer over it, stored as
    the photometric interpretation and bit depth ask."""
    colour = photometric == "RGB"
    rows, cols = layer.size[1], layer.size[0]
    alpha = np.asarray(layer, dtype=np.float64)[..., 3:] / 255.0
    ink = np.asarray(layer, dtype=np.float64)[..., :3]
    frames = []
    for frame in range(n_frames):
        grey = _background(kind, rows, cols, rng, frame)
        tint = np.array([1.0, 0.97, 0.9]) if colour else np.ones(3)
        base = grey[..., None] * 255.0 * tint
        composed = base * (1 - alpha) + ink * alpha
        if colour:
            frames.append(np.clip(np.rint(composed), 0, 255).astype(np.uint8))
        else:
            value = composed[..., 0] / 255.0
            if photometric == "MONOCHROME1":
                value = 1.0 - value
            top = 255 if bits == 8 else 4095
            frames.append(np.rint(value * top).astype(np.uint8 if bits == 8 else np.uint16))
    return np.stack(frames) if n_frames > 1 else frames[0]


def _phantom_dataset(
    kind: str,
    patient: tuple[str, ...],
    variant: int,
    pixels: np.ndarray,
    n_frames: int,
    photometric: str,
    bits: int,
) -> Dataset:
    """The image's dataset: the identity in the header, the image attributes, the pixels."""
    multi = n_frames > 1
    colour = photometric == "RGB"
    rows, cols = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    sop_class = (
        SECONDARY_CAPTURE_IMAGE_STORAGE
        if kind == "SC"
        else US_MULTIFRAME_IMAGE_STORAGE
        if multi
        else US_IMAGE_STORAGE
    )
    instance = _uid("burned-in", kind, variant, rows, cols, n_frames, photometric, bits)
    ds = _new_dataset(sop_class, instance)
    _identity(ds, patient, variant)
    ds.Modality = "US" if kind == "US" else "OT"
    ds.StudyInstanceUID = _uid("burned-in-study", variant)
    ds.SeriesInstanceUID = _uid("burned-in-series", kind, variant)
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY"] if kind == "US" else ["DERIVED", "SECONDARY"]
    if kind == "SC":
        ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = 8 if bits == 8 else 16
    ds.BitsStored = 8 if bits == 8 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if multi:
        ds.NumberOfFrames = n_frames
        ds.FrameTime = 33.3
        ds.FrameIncrementPointer = 0x00181063
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    return ds


def _identity(ds: Dataset, patient: tuple[str, ...], variant: int) -> None:
    """The same (invented) identity in the header as in the pixels."""
    name, pid, birth, accession, institution = patient
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = name
    ds.PatientID = pid
    ds.OtherPatientIDs = f"ALT{pid[-5:]}"
    ds.PatientBirthDate = birth
    ds.PatientSex = "F" if variant % 2 == 0 else "M"
    ds.AccessionNumber = accession
    ds.InstitutionName = institution
    ds.ReferringPhysicianName = "REFERRER^Example"
    study = _dt.date(2024, 3, 1) + _dt.timedelta(days=variant)
    ds.StudyDate = ds.ContentDate = study.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = "101500"
    ds.StudyID = f"S{variant:04d}"
    ds.Manufacturer = "dicom-widgets"
    ds.ManufacturerModelName = "Burned-in Text Phantom"
    ds.StudyDescription = "Burned-in annotation phantom (synthetic)"
