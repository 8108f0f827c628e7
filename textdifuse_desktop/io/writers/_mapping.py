"""Value mappings from float pixels to stored integers, shared by the writers."""

from __future__ import annotations

import numpy as np

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.image import Image


def finite_range(pixels: np.ndarray) -> tuple[float, float]:
    """Minimum and maximum of the finite values; ImageDataError when there are none."""
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        raise ImageDataError("image has no finite pixel values (all NaN or infinite)")
    return float(finite.min()), float(finite.max())


def display_range(image: Image) -> tuple[float, float]:
    """The value range that 8-bit outputs map to 0..255.

    1. The image's ``window`` (center, width), if set;
    2. else ``0..255`` when every finite value already lies in it (8-bit
       sources and fused luma round-trip exactly);
    3. else the 0.5-99.5 percentile range (robust to hot pixels).
    """
    if image.window is not None and image.window[1] > 0:
        center, width = (float(v) for v in image.window)
        return center - width / 2.0, center + width / 2.0
    lo, hi = finite_range(image.pixels)
    if lo >= 0.0 and hi <= 255.0:
        return 0.0, 255.0
    finite = image.pixels[np.isfinite(image.pixels)]
    lo, hi = (float(v) for v in np.percentile(finite, (0.5, 99.5)))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def to_uint8(image: Image, pixels: np.ndarray | None = None) -> np.ndarray:
    """Map ``pixels`` (default: the image's) to uint8 through :func:`display_range`."""
    data = image.pixels if pixels is None else pixels
    lo, hi = display_range(image)
    if (lo, hi) == (0.0, 255.0):
        scaled = data
    else:
        scaled = (data.astype(np.float64) - lo) * (255.0 / (hi - lo))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def uint16_mapping(pixels: np.ndarray, *, signed_ok: bool = False) -> tuple[np.ndarray, float, float, bool]:
    """Store float values as 16-bit integers with ``value = stored * slope + intercept``.

    Integer-valued data that fits ``uint16`` (or ``int16`` when ``signed_ok``)
    is stored exactly with slope 1 and intercept 0 (e.g. HU).  Anything else
    is mapped linearly so that its finite range spans 0..65535; the
    quantisation error is at most ``slope / 2``.

    Returns
    -------
    stored, slope, intercept, signed
    """
    lo, hi = finite_range(pixels)
    clean = np.nan_to_num(pixels.astype(np.float64), nan=lo, posinf=hi, neginf=lo)
    if np.all(clean == np.rint(clean)):
        if lo >= 0 and hi <= 65535:
            return clean.astype(np.uint16), 1.0, 0.0, False
        if signed_ok and lo >= -32768 and hi <= 32767:
            return clean.astype(np.int16), 1.0, 0.0, True
    slope = (hi - lo) / 65535.0 if hi > lo else 1.0
    # DS values hold 16 characters: round the slope so the stored value is the one used.
    slope = float(f"{slope:.10g}")
    intercept = float(f"{lo:.10g}")
    stored = np.clip(np.rint((clean - intercept) / slope), 0, 65535).astype(np.uint16)
    return stored, slope, intercept, False
