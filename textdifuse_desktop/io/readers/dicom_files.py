"""Low-level DICOM access: safe file reading, pixel decoding and per-frame rescale.

Everything here turns pydicom/decoder failures into typed errors that name the
file.  Pixel decoding uses pydicom's plugins (numpy, pylibjpeg, gdcm, pillow),
so JPEG baseline/lossless, JPEG-LS, JPEG 2000 and RLE are all readable.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from textdifuse_desktop.errors import ReadError

log = logging.getLogger(__name__)

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima", ".dc3"})
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "PALETTE COLOR")


def has_dicom_magic(path: Path) -> bool:
    """True when ``path`` has the ``DICM`` marker after the 128-byte preamble."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def looks_like_dicom(path: Path) -> bool:
    """Cheap test used by ``can_read``: a DICOM suffix or the ``DICM`` marker."""
    return path.suffix.lower() in DICOM_SUFFIXES or has_dicom_magic(path)


def read_dataset(path: Path, *, headers_only: bool = False) -> Dataset:
    """Read one DICOM file.

    Files without the preamble (old ACR-NEMA style) are read with ``force``
    only when they carry a DICOM suffix, and then must hold at least an image
    pixel module tag, so that random bytes are never taken for DICOM.

    Raises
    ------
    ReadError
        Not DICOM, truncated or otherwise unreadable.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return pydicom.dcmread(path, stop_before_pixels=headers_only)
            except InvalidDicomError:
                if path.suffix.lower() not in DICOM_SUFFIXES:
                    raise
                dataset = pydicom.dcmread(path, stop_before_pixels=headers_only, force=True)
                if "Rows" not in dataset and "SOPClassUID" not in dataset:
                    raise InvalidDicomError("no DICM marker and no DICOM image tags")
                # Touch every element: a forced read parses lazily and may fail later.
                for _ in dataset.iterall():
                    pass
                return dataset
    except InvalidDicomError as error:
        raise ReadError(f"not a DICOM file ({error})", path=path, hint="check the file type") from error
    except MemoryError as error:
        raise ReadError("DICOM header is corrupt (absurd element length)", path=path) from error
    except Exception as error:  # pydicom raises many builtin types on corrupt input
        raise ReadError(f"corrupt or truncated DICOM file ({type(error).__name__}: {error})", path=path) from error


def has_pixels(ds: Dataset) -> bool:
    """True when the dataset holds (or, for a header-only read, announces) pixel data."""
    return any(keyword in ds for keyword in PIXEL_KEYWORDS) or ("Rows" in ds and "Columns" in ds)


def require_pixels(ds: Dataset, path: Path) -> None:
    """Raise a :class:`ReadError` naming the object type when ``ds`` has no pixel data."""
    if any(keyword in ds for keyword in PIXEL_KEYWORDS):
        return
    kind = "unknown SOP class"
    if "SOPClassUID" in ds:
        kind = getattr(ds.SOPClassUID, "name", str(ds.SOPClassUID))
    raise ReadError(
        f"DICOM file has no pixel data (it is a {kind} object)",
        path=path,
        hint="open an image series instead",
    )


def number_of_frames(ds: Dataset) -> int:
    """``NumberOfFrames`` as an int (1 when absent or empty)."""
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def is_colour(ds: Dataset) -> bool:
    """True for RGB, YBR and palette-colour images."""
    return str(ds.get("PhotometricInterpretation", "")).strip() in _COLOUR or int(ds.get("SamplesPerPixel", 1) or 1) > 1


def decode_frames(ds: Dataset, path: Path) -> np.ndarray:
    """Stored pixel values as ``(frames, rows, cols)`` or ``(frames, rows, cols, 3)``.

    YBR data come back as RGB (pydicom converts them); palette colour is
    expanded through its lookup table.
    """
    require_pixels(ds, path)
    frames = number_of_frames(ds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = ds.pixel_array
            photometric = str(ds.get("PhotometricInterpretation", "")).strip()
            if photometric == "PALETTE COLOR":
                array = pydicom.pixels.apply_color_lut(array, ds)
    except MemoryError as error:
        raise ReadError("not enough memory to decode the pixel data", path=path) from error
    except Exception as error:  # decoder plugins raise RuntimeError, ValueError, OSError...
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        syntax_name = getattr(syntax, "name", str(syntax)) if syntax else "unknown transfer syntax"
        reason = _first_line(error)
        if reason.startswith("the file is truncated"):
            raise ReadError(reason, path=path, hint="copy or export the file again") from error
        raise ReadError(
            f"cannot decode pixel data ({syntax_name}): {reason}",
            path=path,
            hint="the file may be truncated, or its compression is not supported",
        ) from error
    array = np.asarray(array)
    colour = array.shape[-1] in (3, 4) and (is_colour(ds) or array.ndim == (4 if frames > 1 else 3))
    spatial_dims = 3 if colour else 2
    if array.ndim == spatial_dims:
        array = array[np.newaxis]
    if array.ndim != spatial_dims + 1:
        raise ReadError(f"unexpected pixel array shape {array.shape}", path=path)
    if colour and array.shape[-1] == 4:
        array = array[..., :3]
    return array


_SHORT_PIXELS = re.compile(r"number of bytes of pixel data is less than expected \((\d+) vs (\d+) bytes\)")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    short = _SHORT_PIXELS.search(line)
    if short:
        return f"the file is truncated: pixel data holds {short.group(1)} of {short.group(2)} bytes"
    return line


def _item(sequence_owner: Any, keyword: str) -> Dataset | None:
    sequence = getattr(sequence_owner, keyword, None) if sequence_owner is not None else None
    if sequence:
        return sequence[0]
    return None


def functional_group(ds: Dataset, frame: int, keyword: str) -> Dataset | None:
    """The first item of functional-group macro ``keyword`` for ``frame`` (per-frame, then shared)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        item = _item(per_frame[frame], keyword)
        if item is not None:
            return item
    return _item(_item(ds, "SharedFunctionalGroupsSequence"), keyword)


def frame_rescale(ds: Dataset, frame: int) -> tuple[float, float, str]:
    """``(slope, intercept, rescale_type)`` for ``frame``.

    Enhanced multi-frame objects keep them in the Pixel Value Transformation
    functional group (per frame or shared); others at the top level.
    """
    source: Any = functional_group(ds, frame, "PixelValueTransformationSequence") or ds
    try:
        slope = float(source.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(source.get("RescaleIntercept", 0.0) or 0.0)
    except (TypeError, ValueError):
        slope, intercept = 1.0, 0.0
    rescale_type = str(source.get("RescaleType", "") or "")
    return slope, intercept, rescale_type


def rescale_frame(stored: np.ndarray, ds: Dataset, frame: int, path: Path) -> np.ndarray:
    """Apply the modality transform (rescale, or a Modality LUT) to one frame -> float32."""
    if "ModalityLUTSequence" in ds and "RescaleSlope" not in ds:
        try:
            return np.asarray(pydicom.pixels.apply_modality_lut(stored, ds), dtype=np.float32)
        except Exception as error:  # malformed LUT
            raise ReadError(f"invalid Modality LUT ({_first_line(error)})", path=path) from error
    slope, intercept, _ = frame_rescale(ds, frame)
    out = stored.astype(np.float32)
    if slope != 1.0:
        out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)
    return out


def strip_pixels(ds: Dataset) -> Dataset:
    """Remove pixel data in place (keeping every other element) and return ``ds``."""
    for keyword in PIXEL_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    return ds


def first_value(value: Any) -> float | None:
    """First number of a possibly multi-valued DS/IS element, or None."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (list, tuple)) or hasattr(value, "__getitem__") and not isinstance(value, str):
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return None
