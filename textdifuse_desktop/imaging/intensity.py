"""Intensity windowing and normalisation.

A *window* is ``(center, width)`` in the image's units, as in DICOM
(WindowCenter/WindowWidth).  Mapping through a window is linear and clipped:
``center - width/2`` maps to 0 and ``center + width/2`` to 1.
"""

from __future__ import annotations

import numpy as np

from textdifuse_desktop.imaging.image import Image

#: Display presets, ``name -> (center, width)`` in the units the preset expects.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),  # HU
    "subdural": (75.0, 215.0),  # HU
    "soft tissue": (40.0, 400.0),  # HU
    "lung": (-600.0, 1500.0),  # HU
    "bone": (480.0, 2500.0),  # HU
    "PET SUV 0-10": (5.0, 10.0),  # SUV
}


def window_to_unit(pixels: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map ``pixels`` through the window to float32 in [0, 1] (NaN becomes 0).

    Examples
    --------
    >>> window_to_unit(np.array([0.0, 50.0, 100.0]), 50, 100).tolist()
    [0.0, 0.5, 1.0]
    """
    width = max(float(width), 1e-6)
    low = float(center) - width / 2.0
    out = (np.asarray(pixels, dtype=np.float32) - np.float32(low)) / np.float32(width)
    np.clip(out, 0.0, 1.0, out=out)  # infinities become 0 or 1; only NaN is left
    out[np.isnan(out)] = 0.0
    return out


def percentile_window(pixels: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> tuple[float, float]:
    """``(center, width)`` spanning the given percentiles of the finite values.

    Large arrays are subsampled (at most ~2 M values) so that this stays fast
    on big volumes; the percentiles are unaffected in practice.
    """
    values = np.asarray(pixels).ravel()
    if values.size > 2_000_000:
        values = values[:: values.size // 2_000_000 + 1]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (0.5, 1.0)
    low, high = np.percentile(values, [lo_pct, hi_pct])
    if high <= low:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        high = low + 1.0
    return ((float(low) + float(high)) / 2.0, float(high) - float(low))


def display_window(image: Image) -> tuple[float, float]:
    """The image's own window if it has one, else a 0.5-99.5 % percentile window.

    8-bit-looking data (integer values within 0..255, no physical units) gets
    the full ``(127.5, 255)`` window so that photographs are shown unchanged.
    """
    if image.window is not None:
        return image.window
    if not image.units:
        low, high = image.value_range()
        if low >= 0 and high <= 255 and high > 1.5:
            return (127.5, 255.0)
    return percentile_window(image.pixels)


def normalize_unit(pixels: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> np.ndarray:
    """Percentile-normalise to float32 in [0, 1]."""
    return window_to_unit(pixels, *percentile_window(pixels, lo_pct, hi_pct))


def to_unit(image: Image) -> np.ndarray:
    """The image's pixels mapped to [0, 1] through :func:`display_window`."""
    return window_to_unit(image.pixels, *display_window(image))


def to_display_uint8(image: Image) -> np.ndarray:
    """The image's pixels as uint8 through its display window (for PNG, previews)."""
    return np.round(to_unit(image) * 255.0).astype(np.uint8)
