"""Intensity windowing and normalisation.

A *window* is ``(center, width)`` in the image's units, as in DICOM
(WindowCenter/WindowWidth).  Mapping through a window is linear and clipped:
``center - width/2`` maps to 0 and ``center + width/2`` to 1.

:func:`display_window` is the window the fusion engine normalises with (the
file's own window first).  :func:`data_window` is the window a viewer should
open an image with, taken from the data so that every modality opens
visible even when the file's window is wrong: PET/SPECT span the 1st to
99.5th percentile of the voxels inside the body (above
:data:`BODY_FRACTION` of the robust maximum), CT in HU gets the soft-tissue
preset, MR its 0.5-99.5 % percentiles; other images keep
:func:`display_window`.  :func:`suv_range_window` is the "SUV 0 to max"
preset, its upper end the body's 99.5th percentile rounded up to one
significant digit.
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


#: Modalities whose default window comes from the voxels inside the body (PET, SPECT).
UPTAKE_MODALITIES = ("PT", "NM")
#: A PET/SPECT voxel below this share of the robust maximum (99.9th percentile) is outside the body.
BODY_FRACTION = 0.05
#: Percentiles of the body's voxels spanned by the default PET/SPECT window.
BODY_PERCENTILES = (1.0, 99.5)


def _finite_sample(pixels: np.ndarray, limit: int = 2_000_000) -> np.ndarray:
    values = np.asarray(pixels).ravel()
    if values.size > limit:
        values = values[:: values.size // limit + 1]
    return values[np.isfinite(values)].astype(np.float64, copy=False)


def body_values(pixels: np.ndarray, fraction: float = BODY_FRACTION) -> np.ndarray:
    """Finite values above ``fraction`` of the robust maximum (the body of a PET/SPECT image).

    Falls back to every finite value when fewer than 1 % of them (or none) are
    above the threshold, e.g. on an image that is all background.
    """
    values = _finite_sample(pixels)
    if values.size == 0:
        return values
    robust_max = float(np.percentile(values, 99.9))
    body = values[values > fraction * robust_max] if robust_max > 0 else values
    return body if body.size >= max(1, values.size // 100) else values


def body_percentile_window(pixels: np.ndarray, lo_pct: float = BODY_PERCENTILES[0],
                           hi_pct: float = BODY_PERCENTILES[1]) -> tuple[float, float]:
    """``(center, width)`` spanning the given percentiles of the body's voxels (see :func:`body_values`)."""
    body = body_values(pixels)
    return percentile_window(body, lo_pct, hi_pct) if body.size else (0.5, 1.0)


def nice_ceiling(value: float) -> float:
    """``value`` rounded up to one significant digit (7.2 -> 8, 17.9 -> 20, 0.83 -> 0.9); 1 for <= 0."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    scale = 10.0 ** np.floor(np.log10(value))
    return float(np.ceil(round(value / scale, 9)) * scale)


def suv_range_window(pixels: np.ndarray) -> tuple[float, float]:
    """The "SUV 0 to max" window: 0 up to the body's 99.5th percentile rounded up (:func:`nice_ceiling`)."""
    body = body_values(pixels)
    top = nice_ceiling(float(np.percentile(body, BODY_PERCENTILES[1]))) if body.size else 1.0
    return (top / 2.0, top)


def data_window(image: Image) -> tuple[float, float]:
    """The window an image should open with, from its data (see the module docstring).

    The file's own window is used only for modalities other than PET, SPECT,
    CT and MR, where it is usually what the producer chose for display.
    """
    modality = str(image.modality or "").upper()
    if modality in UPTAKE_MODALITIES:
        return body_percentile_window(image.pixels)
    if modality == "CT" and image.units == "HU":
        return WINDOW_PRESETS["soft tissue"]
    if modality in ("MR", "CT"):
        return percentile_window(image.pixels)
    return display_window(image)


def normalize_unit(pixels: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5) -> np.ndarray:
    """Percentile-normalise to float32 in [0, 1]."""
    return window_to_unit(pixels, *percentile_window(pixels, lo_pct, hi_pct))


def to_unit(image: Image) -> np.ndarray:
    """The image's pixels mapped to [0, 1] through :func:`display_window`."""
    return window_to_unit(image.pixels, *display_window(image))


def to_display_uint8(image: Image) -> np.ndarray:
    """The image's pixels as uint8 through its display window (for PNG, previews)."""
    return np.round(to_unit(image) * 255.0).astype(np.uint8)
