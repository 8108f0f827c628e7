"""PNG (8-bit grey/RGB) and TIFF (16-bit or float32) writers.

PNG mapping (8-bit): float pixels go through the image's ``window``
(center, width) when it has one; otherwise values already inside 0..255 are
written unchanged (rounded), and anything else (HU, SUV, 16-bit data) is
stretched over its 0.5-99.5 percentile range.  See
:func:`~textdifuse_desktop.io.writers._mapping.display_range`.

TIFF keeps values: float32 by default (exact), or ``uint16`` (integers kept
exactly, else a linear map recorded in the TIFF description as
``value = stored * slope + intercept``).  Geometry and meaning (affine,
modality, units) are stored in the JSON image description.

Volumes and frame stacks written as PNG become a folder of slices
``slice_0000.png``...; as TIFF they become one multi-page file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from textdifuse_desktop.errors import WriteError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers._mapping import (
    finite_range,
    to_uint8,
    uint16_mapping,
)
from textdifuse_desktop.io.writers.atomic import atomic_file, atomic_folder

log = logging.getLogger(__name__)


def _pil_mode(array: np.ndarray) -> str:
    return "RGB" if array.ndim == 3 else "L"


def _check_channels(image: Image) -> None:
    if image.has_channels and image.pixels.shape[-1] not in (1, 3):
        raise WriteError(f"only grey or RGB images can be written, got {image.pixels.shape[-1]} channels")


def _planes(image: Image, data: np.ndarray) -> np.ndarray:
    """Drop a single channel axis so that grey data is (..., H, W)."""
    if image.has_channels and data.shape[-1] == 1:
        return data[..., 0]
    return data


def write_png(image: Image, path: Path) -> list[Path]:
    """Write ``image`` as 8-bit PNG; volumes and frames as a folder of slices."""
    from PIL import Image as PILImage

    _check_channels(image)
    data = _planes(image, to_uint8(image))
    if image.axes in ("YX", "YXC"):
        with atomic_file(path) as tmp:
            PILImage.fromarray(data, mode=_pil_mode(data)).save(tmp, format="PNG")
        return [path]
    folder = path.with_suffix("") if path.suffix.lower() == ".png" else path
    names: list[Path] = []
    with atomic_folder(folder) as tmp:
        for index, plane in enumerate(data):
            name = f"slice_{index:04d}.png"
            PILImage.fromarray(plane, mode=_pil_mode(plane)).save(tmp / name, format="PNG")
            names.append(folder / name)
    log.info("wrote %d PNG slices to %s", len(names), folder)
    return names


def write_tiff(image: Image, path: Path, *, dtype: str | None = None) -> list[Path]:
    """Write ``image`` as TIFF: ``dtype`` ``"float32"`` (default, exact) or ``"uint16"``.

    RGB images whose values lie in 0..255 are written as 8-bit RGB (what
    every viewer shows) unless ``dtype`` is given.
    """
    import tifffile

    _check_channels(image)
    pixels = _planes(image, image.pixels)
    rgb = pixels.ndim >= 3 and image.has_channels and pixels.shape[-1] == 3
    description: dict[str, object] = {
        "axes": image.axes if not (image.has_channels and image.pixels.shape[-1] == 1) else image.axes[:-1],
        "affine": np.round(image.affine, 9).tolist(),
        "modality": image.modality,
        "units": image.units,
        "software": "TextDiFuse Desktop",
    }
    if image.window is not None:
        description["window"] = [float(v) for v in image.window]
    if dtype is None:
        lo, hi = finite_range(pixels)
        dtype = "uint8" if rgb and lo >= 0 and hi <= 255 else "float32"
    if dtype == "float32":
        stored: np.ndarray = pixels.astype(np.float32)
    elif dtype == "uint8":
        stored = to_uint8(image, pixels)
    elif dtype == "uint16":
        stored, slope, intercept, _ = uint16_mapping(pixels)
        description["rescale"] = {
            "slope": slope,
            "intercept": intercept,
            "meaning": "value = stored * slope + intercept",
        }
    else:
        raise WriteError(f"unsupported TIFF sample type {dtype!r}", hint="use float32 or uint16")
    spacing = image.spacing
    resolution = (10.0 / spacing[0], 10.0 / spacing[1]) if spacing[0] > 0 and spacing[1] > 0 else None
    with atomic_file(path) as tmp:
        tifffile.imwrite(
            tmp,
            stored,
            photometric="rgb" if rgb else "minisblack",
            description=json.dumps(description),
            metadata=None,
            resolution=resolution,
            resolutionunit="CENTIMETER" if resolution else None,
            compression="zlib",
        )
    return [path]


def read_tiff_description(path: Path) -> dict[str, object]:
    """The JSON description written by :func:`write_tiff` (empty when absent)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        text = tif.pages[0].description
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
