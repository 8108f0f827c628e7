"""2D raster reader: PNG, JPEG, BMP, GIF (first frame) via Pillow, and TIFF via tifffile.

Grey images come back as ``YX`` and colour as ``YXC`` (RGB; alpha dropped,
palettes expanded; colour images whose three channels are identical become
grey).  Values keep their stored range (0..255 for 8 bit, 0..65535 for 16
bit) as float32.  The affine is the identity (1 mm pixels).

Radiometric thermal images: a single-channel image is converted to degrees
Celsius as ``value * gain + offset`` when ``temperature_scale=(gain, offset)``
is passed, or when a sidecar JSON file ``<stem>.json`` next to the image
holds ``{"temperature_gain": g, "temperature_offset": o}``.  The result has
units ``"degC"`` and modality ``"IR"``.

Options: ``modality=`` (default ``"OT"``), ``temperature_scale=``, ``frame=``
(page of a multi-page TIFF, default 0).
"""

from __future__ import annotations

import json
import logging
import threading
import warnings as pywarnings
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.imaging.image import Image, Provenance

log = logging.getLogger(__name__)

#: Images above this many pixels are refused (a float32 RGB copy would need about 4.8 GB).
MAX_PIXELS = 400_000_000
PILLOW_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".pnm"})
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
_PILLOW_LOCK = threading.Lock()


class RasterReader:
    """Reads 2D raster images (8/16-bit, grey or colour) and radiometric thermal TIFFs."""

    name = "raster"

    def can_read(self, path: Path) -> bool:
        """Files with a raster suffix, or whose first bytes are a PNG/JPEG/GIF/BMP/TIFF signature."""
        path = Path(path)
        if path.suffix.lower() in PILLOW_SUFFIXES | TIFF_SUFFIXES:
            return True
        return _sniff(path) is not None

    def read(self, path: Path, **options: Any) -> Image:
        """Read ``path`` as a ``YX`` or ``YXC`` image (see the module docstring for options)."""
        path = Path(path)
        meta: dict[str, Any] = {"warnings": []}
        is_tiff = path.suffix.lower() in TIFF_SUFFIXES or _sniff(path) == "tiff"
        pixels = _read_tiff(path, int(options.get("frame") or 0), meta) if is_tiff else _read_pillow(path, meta)
        return _finish(path, pixels, meta, options)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
)


def _sniff(path: Path) -> str | None:
    """Raster format named by the file's first bytes, or None.

    A DICOM Part-10 file (``DICM`` at byte 128) is never claimed, even when its
    128-byte preamble holds a TIFF header (dual-personality files such as
    pydicom's CT_small.dcm): a corrupt DICOM must fail as DICOM, not with a
    misleading TIFF warning.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return None
    if head[128:132] == b"DICM":
        return None
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    return None


def _finish(path: Path, pixels: np.ndarray, meta: dict[str, Any], options: dict[str, Any]) -> Image:
    """Channels, modality and the optional temperature scale -> Image."""
    pixels, axes = _normalise_channels(pixels, meta, path)
    modality = str(options.get("modality") or "OT").upper()
    units = ""
    scale = options.get("temperature_scale") or _sidecar_scale(path)
    if scale is not None:
        gain, offset = _parse_scale(scale, path)
        if axes != "YX":
            raise ImageDataError(
                "a temperature scale needs a single-channel (raw radiometric) image",
                path=path,
                hint="colour thermal images carry no temperatures",
            )
        pixels = pixels * np.float32(gain) + np.float32(offset)
        units, modality = "degC", "IR"
        meta["temperature_scale"] = (gain, offset)
    for warning in meta["warnings"]:
        log.warning("%s: %s", path, warning)
    return Image(
        pixels=pixels,
        axes=axes,
        modality=modality,
        units=units,
        meta=meta,
        provenance=Provenance(source_paths=(str(path),), reader=RasterReader.name),
    )


def _check_size(path: Path, height: int, width: int) -> None:
    if height * width > MAX_PIXELS:
        raise ImageDataError(
            f"image is {width}x{height} = {height * width / 1e6:.0f} megapixels, above the "
            f"{MAX_PIXELS / 1e6:.0f} megapixel limit",
            path=path,
            hint="downsample it first (e.g. to half size)",
        )


def _read_pillow(path: Path, meta: dict[str, Any]) -> np.ndarray:
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with _PILLOW_LOCK, pywarnings.catch_warnings():
            pywarnings.simplefilter("ignore")
            previous = PILImage.MAX_IMAGE_PIXELS
            PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS  # our own limit replaces Pillow's bomb check
            try:
                with PILImage.open(path) as im:
                    _check_size(path, im.height, im.width)
                    if getattr(im, "n_frames", 1) > 1:
                        meta["warnings"].append(f"file holds {im.n_frames} frames; read the first")
                    im.load()
                    im = ImageOps.exif_transpose(im) or im
                    meta["source_mode"] = im.mode
                    return _pil_to_array(im)
            finally:
                PILImage.MAX_IMAGE_PIXELS = previous
    except ImageDataError:
        raise
    except PILImage.DecompressionBombError as error:
        raise ImageDataError(
            f"image is far above the {MAX_PIXELS / 1e6:.0f} megapixel limit",
            path=path,
            hint="downsample it first (e.g. to half size)",
        ) from error
    except UnidentifiedImageError as error:
        raise ReadError("not a readable image (unknown or corrupt content)", path=path,
                        hint="re-export or re-copy it; raster images must be complete PNG, JPEG, TIFF or BMP files"
                        ) from error
    except MemoryError as error:
        raise ImageDataError("not enough memory to decode the image", path=path, hint="downsample it first") from error
    except Exception as error:  # Pillow raises OSError/SyntaxError/ValueError on truncated data
        raise ReadError(f"corrupt or truncated image ({type(error).__name__}: {error})", path=path,
                        hint="the file is damaged: re-export or re-copy it") from error


def _pil_to_array(im: Any) -> np.ndarray:
    mode = im.mode
    if mode in ("1", "L", "I", "F") or mode.startswith("I;16"):
        return np.asarray(im.convert("L") if mode == "1" else im)
    if mode in ("LA", "RGBA"):
        return np.asarray(im)  # alpha dropped (with a warning) in _normalise_channels
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    elif mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


def _read_tiff(path: Path, page: int, meta: dict[str, Any]) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages = tif.pages
            if not pages:
                raise ReadError("TIFF holds no images", path=path)
            if not 0 <= page < len(pages):
                raise ImageDataError(f"frame={page} is out of range: the TIFF has {len(pages)} page(s)", path=path)
            if len(pages) > 1:
                meta["warnings"].append(f"TIFF holds {len(pages)} pages; read page {page} (choose with frame=)")
            tiff_page = pages[page]
            shape = tiff_page.shape
            if len(shape) < 2:
                raise ReadError(f"unexpected TIFF page shape {shape}", path=path)
            height, width = (
                (shape[-3], shape[-2]) if tiff_page.samplesperpixel > 1 and tiff_page.planarconfig == 1 else shape[-2:]
            )
            _check_size(path, int(height), int(width))
            array = tiff_page.asarray()
            if tiff_page.photometric == tifffile.PHOTOMETRIC.PALETTE and tiff_page.colormap is not None:
                colormap = np.asarray(tiff_page.colormap, dtype=np.float32)
                scale = 257.0 if colormap.max() > 255 else 1.0
                array = colormap[:, array].transpose(1, 2, 0) / scale
            elif tiff_page.samplesperpixel > 1 and tiff_page.planarconfig == 2 and array.ndim == 3:
                array = np.moveaxis(array, 0, -1)
            meta["source_dtype"] = str(tiff_page.dtype)
            return np.asarray(array)
    except (ReadError, ImageDataError):
        raise
    except MemoryError as error:
        raise ImageDataError("not enough memory to decode the TIFF", path=path, hint="downsample it first") from error
    except Exception as error:  # tifffile raises TiffFileError, ValueError, struct.error...
        raise ReadError(f"corrupt or unsupported TIFF ({type(error).__name__}: {error})", path=path) from error


def _normalise_channels(array: np.ndarray, meta: dict[str, Any], path: Path) -> tuple[np.ndarray, str]:
    array = np.asarray(array)
    if array.dtype.kind == "c":
        array = np.abs(array)
    if array.ndim == 2:
        return array.astype(np.float32), "YX"
    if array.ndim == 3 and array.shape[-1] in (2, 3, 4):
        if array.shape[-1] in (2, 4):
            alpha = array[..., -1]
            opaque = np.iinfo(alpha.dtype).max if alpha.dtype.kind in "ui" else 1.0
            if np.any(alpha != opaque):
                meta["warnings"].append("transparency (alpha channel) dropped")
            if array.shape[-1] == 2:  # grey + alpha
                return array[..., 0].astype(np.float32), "YX"
            array = array[..., :3]
        rgb = array.astype(np.float32)
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            meta["grey_from_rgb"] = True
            return np.ascontiguousarray(rgb[..., 0]), "YX"
        return rgb, "YXC"
    if array.ndim == 3 and array.shape[0] == 1:
        return array[0].astype(np.float32), "YX"
    raise ImageDataError(f"unsupported image layout {array.shape}", path=path, hint="expected grey or RGB")


def _sidecar_scale(path: Path) -> tuple[float, float] | None:
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ReadError(f"unreadable temperature sidecar ({error})", path=sidecar) from error
    if not isinstance(data, dict) or "temperature_gain" not in data:
        return None
    return _parse_scale((data.get("temperature_gain"), data.get("temperature_offset", 0.0)), sidecar)


def _parse_scale(scale: Any, path: Path) -> tuple[float, float]:
    try:
        gain, offset = (float(v) for v in scale)
    except (TypeError, ValueError) as error:
        raise ImageDataError(f"temperature scale must be (gain, offset) numbers, got {scale!r}", path=path) from error
    if not (np.isfinite(gain) and np.isfinite(offset)) or gain == 0:
        raise ImageDataError(f"invalid temperature scale {scale!r}", path=path)
    return gain, offset
