"""Colour handling for fusion: full-range BT.601 YCbCr and luma/chroma split.

Fusion works on luma (Y) only; the chroma (Cb, Cr) of the colour source (the
visible image, or a PET/SPECT colour map) is put back afterwards.  The
conversion is full-range ITU-R BT.601 exactly as PIL's ``"YCbCr"`` mode (JPEG
/ JFIF) and OpenCV's ``COLOR_RGB2YCrCb`` with channels reordered, which is
the Text-DiFuse convention::

    Y  =       0.299    R + 0.587    G + 0.114    B
    Cb = 128 - 0.168736 R - 0.331264 G + 0.5      B
    Cr = 128 + 0.5      R - 0.418688 G - 0.081312 B

All values are float32 in 0..255 (no rounding, unlike PIL's 8-bit version).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ],
    dtype=np.float64,
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)
_OFFSET = np.array([0.0, 128.0, 128.0])

#: Largest channel spread (0..255 units) for which an RGB image still counts as grey.
GREY_TOLERANCE = 1.0

#: Preference when both sources are in colour: the visible image, then nuclear colour maps.
_CHROMA_PRIORITY = ("VIS", "PT", "NM")


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Convert RGB to full-range BT.601 YCbCr.

    Parameters
    ----------
    rgb:
        ``(..., 3)`` array with values in 0..255.

    Returns
    -------
    np.ndarray
        float32 ``(..., 3)`` array of Y, Cb, Cr in 0..255.
    """
    rgb = _check_three_channels(rgb)
    return _affine_3x3([rgb[..., k] for k in range(3)], _RGB_TO_YCBCR, _OFFSET)


def ycbcr_to_rgb(ycbcr: np.ndarray, *, clip: bool = True) -> np.ndarray:
    """Convert full-range BT.601 YCbCr back to RGB.

    Parameters
    ----------
    ycbcr:
        ``(..., 3)`` array of Y, Cb, Cr in 0..255.
    clip:
        Clip the result to 0..255; a fused Y combined with foreign chroma can
        leave the RGB gamut.

    Returns
    -------
    np.ndarray
        float32 ``(..., 3)`` RGB array.
    """
    ycbcr = _check_three_channels(ycbcr)
    out = _affine_3x3([ycbcr[..., k] for k in range(3)], _YCBCR_TO_RGB, -_YCBCR_TO_RGB @ _OFFSET)
    if clip:
        np.clip(out, 0.0, 255.0, out=out)
    return out


def is_colour(image: Image, tolerance: float = GREY_TOLERANCE) -> bool:
    """True when ``image`` has RGB channels that are not all equal.

    A grey picture saved as RGB (common for infrared PNGs) is not colour.
    """
    if not image.has_channels or image.pixels.shape[-1] < 3:
        return False
    pixels = image.pixels
    limit = tolerance * _scale_factor(pixels)
    # Channel planes, not reductions over the short last axis (10x slower in numpy); a colour image
    # usually shows it in a sparse row sample already, so the full check runs mostly for grey ones.
    for rows in (pixels[..., ::16, :, :3], pixels[..., :3]):
        r, g, b = rows[..., 0], rows[..., 1], rows[..., 2]
        spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        if bool(np.nanmax(spread, initial=-np.inf) > limit):
            return True
    return False


def split_luma(image: Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an image into luma and chroma.

    Grey images (and RGB images whose channels are equal) give their pixels
    as Y and ``None`` as chroma.  Values already in 0..255 are kept as they
    are; other ranges (HU, SUV, 16-bit) are mapped linearly to 0..255 through
    ``image.window`` when set, else through the finite minimum and maximum,
    so that the darkest value stays black.

    Returns
    -------
    tuple
        ``(y, cbcr)``: float32 Y in 0..255 with the spatial shape of the
        image, and float32 ``(..., 2)`` Cb/Cr or ``None`` for grey images.
    """
    pixels = image.pixels
    if image.has_channels and (pixels.shape[-1] == 1 or not is_colour(image)):
        pixels = pixels[..., 0]
    if pixels.ndim == len(image.spatial_shape):
        return _to_0_255(pixels, image.window), None
    rgb = pixels[..., :3]
    scale = _scale_factor(rgb)
    if scale != 1.0:
        rgb = rgb / scale
    ycc = rgb_to_ycbcr(np.clip(rgb, 0.0, 255.0))
    return np.ascontiguousarray(ycc[..., 0]), np.ascontiguousarray(ycc[..., 1:])


def merge_luma(y: np.ndarray, cbcr: np.ndarray | None) -> np.ndarray:
    """Recombine luma and chroma.

    Parameters
    ----------
    y:
        float Y in 0..255 (clipped to that range).
    cbcr:
        ``y.shape + (2,)`` chroma from :func:`split_luma`, or ``None``.

    Returns
    -------
    np.ndarray
        float32 grey image shaped like ``y`` when ``cbcr`` is None, else an
        RGB image ``y.shape + (3,)``; values in 0..255.
    """
    y = np.clip(np.asarray(y, dtype=np.float32), 0.0, 255.0)
    if cbcr is None:
        return y
    cbcr = np.asarray(cbcr, dtype=np.float32)
    if cbcr.shape != y.shape + (2,):
        raise ImageDataError(
            f"chroma of shape {cbcr.shape} does not match luma of shape {y.shape}",
            hint="resample both sources onto one grid before fusing",
        )
    out = _affine_3x3([y, cbcr[..., 0], cbcr[..., 1]], _YCBCR_TO_RGB, -_YCBCR_TO_RGB @ _OFFSET)
    return np.clip(out, 0.0, 255.0, out=out)


def chroma_source(a: Image, b: Image) -> Literal["a", "b"] | None:
    """Which source provides the colour of a fused result.

    The source in colour wins.  When both are in colour the visible image is
    preferred, then PET, then SPECT, then ``a``.  Two grey sources give
    ``None`` (a grey result).
    """
    colour_a, colour_b = is_colour(a), is_colour(b)
    if colour_a and colour_b:
        for modality in _CHROMA_PRIORITY:
            if a.modality == modality:
                return "a"
            if b.modality == modality:
                return "b"
        return "a"
    if colour_a:
        return "a"
    if colour_b:
        return "b"
    return None


def _check_three_channels(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ImageDataError(f"expected an array with 3 channels last, got shape {array.shape}")
    return array


def _affine_3x3(planes: list[np.ndarray], matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``stack(planes, -1) @ matrix.T + offset`` in float32, one channel plane at a time (a matmul with a 3x3
    matrix over millions of rows is several times slower in numpy)."""
    planes = [plane.astype(np.float32, copy=False) for plane in planes]
    out = np.empty(planes[0].shape + (3,), dtype=np.float32)
    for row in range(3):
        channel = planes[0] * np.float32(matrix[row, 0])
        channel += planes[1] * np.float32(matrix[row, 1])
        channel += planes[2] * np.float32(matrix[row, 2])
        channel += np.float32(offset[row])
        out[..., row] = channel
    return out


def _scale_factor(pixels: np.ndarray) -> float:
    """1 for 8-bit-range data, 257 for 16-bit RGB (65535 -> 255)."""
    top = float(np.nanmax(pixels)) if pixels.size else 0.0
    return 257.0 if top > 255.0 + 1e-3 else 1.0


def _to_0_255(pixels: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    finite = np.isfinite(pixels)
    if finite.all():
        lo, hi = float(pixels.min()), float(pixels.max())
    elif finite.any():
        lo, hi = float(pixels[finite].min()), float(pixels[finite].max())
    else:
        raise ImageDataError("image has no finite pixel values")
    if lo >= 0.0 and hi <= 255.0:
        out = np.nan_to_num(pixels, nan=0.0).astype(np.float32, copy=True)
        return out
    if window is not None and window[1] > 0:
        lo, hi = window[0] - window[1] / 2.0, window[0] + window[1] / 2.0
    span = hi - lo if hi > lo else 1.0
    out = (np.nan_to_num(pixels, nan=lo).astype(np.float32) - np.float32(lo)) * np.float32(255.0 / span)
    log.debug("luma mapped from [%g, %g] to 0..255", lo, hi)
    return np.clip(out, 0.0, 255.0)


#: Share of pure black that marks a colour image as a colour-coded PET/SPECT.
BLACK_SHARE = 0.20


def is_colour_coded_nuclear(image: Image) -> bool:
    """A colour-coded PET/SPECT: at least :data:`BLACK_SHARE` of it pure black background.

    A night photograph is dark but not black: on the MSRS and RoadScene
    visible images no pixel is within 1 % of the range of the darkest
    value; on the Harvard PET/SPECT images 37-86 % are.
    """
    rgb = np.asarray(image.pixels[..., :3], dtype=np.float32)
    if image.axes.startswith("T"):
        rgb = rgb[0]
    brightest = rgb.max(axis=-1)
    lo, hi = float(brightest.min()), float(brightest.max())
    return float(np.mean(brightest <= lo + 0.01 * (hi - lo))) >= BLACK_SHARE
