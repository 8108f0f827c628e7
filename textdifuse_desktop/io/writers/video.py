"""MP4 (H.264, yuv420p) writer through PyAV.

yuv420p needs even width and height: odd frames are padded by one row or
column (edge replicated), never cropped.  Float frames are taken as 0..255
(values outside are clipped); grey frames are written as grey RGB.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ImageDataError, WriteError
from textdifuse_desktop.io.writers.atomic import atomic_file, check_not_input

log = logging.getLogger(__name__)


def _as_rgb8(frame: np.ndarray) -> np.ndarray:
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ImageDataError(f"video frames must be HxW or HxWx3, got shape {np.asarray(frame).shape}")
    if array.dtype != np.uint8:
        array = np.clip(np.rint(np.nan_to_num(array.astype(np.float32))), 0, 255).astype(np.uint8)
    pad_y, pad_x = array.shape[0] % 2, array.shape[1] % 2
    if pad_y or pad_x:
        array = np.pad(array, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
    return np.ascontiguousarray(array)


def _codec() -> str:
    import av

    for name in ("libx264", "h264", "libopenh264", "mpeg4"):
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # noqa: BLE001 - codec present only as decoder
                continue
            return name
    raise WriteError("no H.264 or MPEG-4 encoder in this PyAV build", hint="install the 'av' wheel from PyPI")


def write_video(
    frames: Iterable[np.ndarray], path: PathLike, fps: float, *, crf: int = 18, inputs: Sequence[PathLike] = ()
) -> Path:
    """Encode ``frames`` (HxW or HxWx3, uint8 or float 0..255) to an MP4 file.

    Parameters
    ----------
    frames:
        The frames, all of the same shape.
    path:
        Output ``.mp4`` file (written atomically).
    fps:
        Frames per second (> 0).
    crf:
        x264 constant rate factor (lower = better quality; 18 is visually lossless).
    inputs:
        Input files that must not be overwritten.

    Raises
    ------
    ImageDataError
        No frames, or frames of different shapes.
    WriteError
        The encoder failed or the file cannot be written.
    """
    import av

    path = Path(path)
    check_not_input(path, inputs)
    if not fps or fps <= 0:
        raise WriteError(f"frames per second must be positive, got {fps}", path=path)
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with atomic_file(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            codec = _codec()
            stream = None
            shape = None
            for frame in frames:
                rgb = _as_rgb8(frame)
                if stream is None:
                    shape = rgb.shape
                    stream = container.add_stream(codec, rate=rate)
                    stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                    stream.pix_fmt = "yuv420p"
                    if codec == "libx264":
                        stream.options = {"crf": str(crf)}
                elif rgb.shape != shape:
                    raise ImageDataError(f"frame {count} has shape {rgb.shape}, expected {shape}", path=path)
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise ImageDataError("no frames to write", path=path)
            for packet in stream.encode():
                container.mux(packet)
    log.info("wrote %d frames to %s", count, path)
    return path
