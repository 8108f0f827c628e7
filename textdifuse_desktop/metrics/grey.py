"""Grey conversion and input coercion shared by the metrics.

The Ma-group MATLAB evaluation code reads every image with ``imread`` and
converts 3-channel images with ``rgb2gray``, which yields ``uint8``.  All
metrics of this package therefore start from a ``uint8`` grey image; the
helpers here reproduce that step bit-for-bit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ImageDataError, ReadError

log = logging.getLogger(__name__)

#: First row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]), as in MATLAB ``rgb2gray``.
RGB2GRAY_WEIGHTS = np.linalg.inv(
    np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
)[0]


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # MATLAB rounds .5 away from zero; numpy's round is half-to-even.
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def rgb2gray(rgb: np.ndarray) -> np.ndarray:
    """Convert an RGB image to grey exactly as MATLAB ``rgb2gray`` does on ``uint8``.

    Parameters
    ----------
    rgb:
        ``H x W x 3`` (or ``H x W x 4``; alpha is ignored) array with values 0..255.

    Returns
    -------
    numpy.ndarray
        ``uint8`` ``H x W``: ``round(0.298936 R + 0.587043 G + 0.114021 B)``,
        rounding half away from zero, saturated to 0..255.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ImageDataError(f"expected an H x W x 3 colour array, got shape {rgb.shape}")
    y = rgb[..., :3].astype(np.float64) @ RGB2GRAY_WEIGHTS
    return np.clip(_round_half_away(y), 0, 255).astype(np.uint8)


def to_grey_uint8(image: np.ndarray) -> np.ndarray:
    """Coerce a metric input to a ``uint8`` grey image (MA convention).

    Colour images go through :func:`rgb2gray`; ``uint8`` grey images are
    returned unchanged; other grey arrays are taken to be on the 0..255 scale
    and rounded (half away from zero) and clipped.  ``uint16`` data is
    rescaled like MATLAB ``im2uint8`` (divide by 257).
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 3:
        if image.dtype == np.uint16:
            image = image.astype(np.float64) / 257.0
        return rgb2gray(image)
    if image.ndim != 2 or image.size == 0:
        raise ImageDataError(f"expected a 2-D grey or H x W x 3 colour image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    data = image.astype(np.float64)
    if image.dtype == np.uint16:
        data = data / 257.0
    if not np.all(np.isfinite(data)):
        raise ImageDataError("image contains NaN or infinite values")
    return np.clip(_round_half_away(data), 0, 255).astype(np.uint8)


def as_float(image: np.ndarray) -> np.ndarray:
    """``float64`` copy of a grey metric input on the 0..255 scale (MA ``im2double(x)*255``)."""
    return to_grey_uint8(image).astype(np.float64)


def load_grey(path: PathLike) -> np.ndarray:
    """Read an image file with Pillow and convert it to ``uint8`` grey (MATLAB ``imread`` + ``rgb2gray``).

    Palette images are expanded to RGB and alpha is dropped first; 16-bit
    grey images are rescaled like ``im2uint8`` (integer images whose values
    fit 0..255 are taken as 8-bit); float images with values in [0, 1] are
    scaled by 255, other float images are taken to be on 0..255.

    Raises
    ------
    ReadError
        The file is missing, truncated or not an image Pillow understands.
    """
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    path = Path(path)
    try:
        with PILImage.open(path) as im:
            im.load()
            if im.mode in ("P", "PA", "RGBA", "LA", "CMYK", "YCbCr", "HSV", "LAB", "1"):
                im = im.convert("RGB" if im.mode not in ("LA", "1") else "L")
            data = np.asarray(im)
    except FileNotFoundError as error:
        raise ReadError("file not found", path=path, hint="check the folder and file name") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ReadError(f"cannot read image ({error})", path=path,
                        hint="the file may be truncated or not a PNG/JPEG/BMP/TIFF image") from error
    try:
        if data.dtype.kind in "iu" and data.dtype not in (np.uint8, np.uint16):
            top = int(data.max()) if data.size else 0
            data = data.astype(np.uint8 if top <= 255 else np.uint16) if top <= 65535 else data
        elif data.dtype.kind == "f" and data.size and np.nanmax(data) <= 1.0:
            data = data * 255.0  # float images in [0, 1] (MATLAB im2uint8 convention)
        return to_grey_uint8(data)
    except ImageDataError as error:
        raise ImageDataError(error.reason, path=path, hint="metrics need 8-bit grey or RGB images") from error
