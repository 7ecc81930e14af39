"""Colours of segments: DICOM CIELab to sRGB, and a default palette."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["cielab_to_rgb", "rgb_to_cielab", "default_color"]

# D65 reference white (the illuminant PS3.3 C.10.7.1.1 names for CIELab values).
_WHITE = np.array([0.95047, 1.0, 1.08883])
_XYZ_TO_RGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)

#: Distinct colours for segments that carry none (Slicer-like organ tones first).
_PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (255, 250, 200),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
    (0, 0, 128),
    (128, 128, 128),
)


def cielab_to_rgb(value: Sequence[int]) -> tuple[int, int, int]:
    """sRGB (0-255) of a DICOM Recommended Display CIELab Value (three 16-bit integers).

    DICOM scales L* from 0..100 and a*, b* from -128..127 onto 0..65535.

    Examples
    --------
    >>> cielab_to_rgb([65535, 32896, 32896])  # L*=100, a*=b*=0: white
    (255, 255, 255)
    >>> cielab_to_rgb([0, 32896, 32896])
    (0, 0, 0)
    """
    v = np.asarray(value, dtype=float)
    lab_l = v[0] * 100.0 / 65535.0
    lab_a = v[1] * 255.0 / 65535.0 - 128.0
    lab_b = v[2] * 255.0 / 65535.0 - 128.0
    fy = (lab_l + 16.0) / 116.0
    f = np.array([fy + lab_a / 500.0, fy, fy - lab_b / 200.0])
    delta = 6.0 / 29.0
    xyz = np.where(f > delta, f**3, 3 * delta**2 * (f - 4.0 / 29.0)) * _WHITE
    linear = np.clip(_XYZ_TO_RGB @ xyz, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    r, g, b = (int(round(float(x) * 255)) for x in np.clip(srgb, 0.0, 1.0))
    return r, g, b


def rgb_to_cielab(rgb: Sequence[int]) -> tuple[int, int, int]:
    """The DICOM CIELab value (three 16-bit integers) of an sRGB colour (0-255).

    Examples
    --------
    >>> cielab_to_rgb(rgb_to_cielab((200, 40, 90)))
    (200, 40, 90)
    """
    srgb = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    xyz = np.linalg.solve(_XYZ_TO_RGB, linear) / _WHITE
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    lab_l = 116.0 * f[1] - 16.0
    lab_a = 500.0 * (f[0] - f[1])
    lab_b = 200.0 * (f[1] - f[2])
    scaled = (
        lab_l * 65535.0 / 100.0,
        (lab_a + 128.0) * 65535.0 / 255.0,
        (lab_b + 128.0) * 65535.0 / 255.0,
    )
    l16, a16, b16 = (int(min(65535, max(0, round(x)))) for x in scaled)
    return l16, a16, b16


def default_color(number: int) -> tuple[int, int, int]:
    """A distinct colour for segment ``number`` (stable: the same number, the same colour).

    Examples
    --------
    >>> default_color(1)
    (230, 25, 75)
    """
    return _PALETTE[(int(number) - 1) % len(_PALETTE)]
