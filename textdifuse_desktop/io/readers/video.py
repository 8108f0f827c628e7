"""Video reader (thermal or visible footage: MP4, AVI, MKV, MOV) via PyAV.

:func:`read_image` returns a lazy :class:`VideoSequence` (or, with
``frame=i``, that frame as an :class:`Image`).  Frames are decoded on demand:
sequential access continues the running decoder, random access seeks to the
nearest key frame before the wanted one.  Footage whose colour channels are
identical (typical thermal video) gives ``YX`` frames, else ``YXC`` RGB.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.imaging.image import Image, Provenance

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv"})


class VideoSequence:
    """A lazily decoded video: ``fps``, ``frame_count``, ``frame_shape``, ``frame(i)``, iteration.

    Use as a context manager (or call :meth:`close`) to release the file.
    """

    def __init__(self, path: Path, *, modality: str = "OT"):
        import av

        self.path = Path(path)
        self.modality = modality
        self._lock = threading.Lock()
        try:
            self._container = av.open(str(self.path))
            if not self._container.streams.video:
                raise ReadError("file holds no video stream", path=self.path)
            stream = self._container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.fps = float(rate) if rate else 0.0
            self._stream_index = stream.index
            self._time_base = stream.time_base
            first = self._decode_at(0, seek=False)
        except ReadError:
            self.close()
            raise
        except Exception as error:  # av.error.* (InvalidDataError, ...), ValueError
            self.close()
            raise ReadError(f"not a readable video ({type(error).__name__}: {error})", path=self.path) from error
        if first is None:
            raise ReadError("video holds no decodable frames", path=self.path)
        rgb = first.to_ndarray(format="rgb24")
        diff = np.abs(rgb.astype(np.int16) - rgb[..., :1].astype(np.int16)).max()
        self.is_grey = bool(diff <= 2)
        self.frame_shape: tuple[int, ...] = rgb.shape[:2] if self.is_grey else rgb.shape
        self._pts: list[int] | None = None
        self._frame_count = int(stream.frames or 0)
        if self.fps <= 0:
            self.fps = 25.0
            log.warning("%s: no frame rate in the file; assuming 25 fps", self.path)

    # ----------------------------------------------------------------- basics
    @property
    def frame_count(self) -> int:
        """Number of frames (from the container, or counted from the packets when it does not say)."""
        if self._frame_count <= 0:
            self._frame_count = len(self._frame_pts())
        return self._frame_count

    def __len__(self) -> int:
        return self.frame_count

    def __enter__(self) -> VideoSequence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the open file."""
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None

    def __repr__(self) -> str:
        return f"VideoSequence({str(self.path)!r}, frames={self.frame_count}, fps={self.fps:.3g}, shape={self.frame_shape})"

    # --------------------------------------------------------------- decoding
    def _frame_pts(self) -> list[int]:
        """Presentation timestamps of every frame in display order (from packets; no decoding)."""
        if self._pts is None:
            import av

            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                self._pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
        return self._pts

    def _decode_at(self, index: int, seek: bool = True) -> Any:
        """Decode and return the PyAV frame number ``index`` (None past the end)."""
        if self._container is None:
            raise ReadError("video was closed", path=self.path)
        stream = self._container.streams.video[0]
        if not seek:
            self._decoder = self._container.decode(stream)
            self._next = 0
        elif index != getattr(self, "_next", -1):
            pts = self._frame_pts()
            if index >= len(pts):
                return None
            self._container.seek(pts[index], stream=stream, backward=True, any_frame=False)
            self._decoder = self._container.decode(stream)
            for frame in self._decoder:
                if frame.pts is not None and frame.pts >= pts[index]:
                    self._next = index + 1
                    return frame
            return None
        frame = next(self._decoder, None)
        self._next = index + 1
        return frame

    def _to_image(self, frame: Any, index: int) -> Image:
        rgb = frame.to_ndarray(format="rgb24")
        pixels, axes = (rgb[..., 0], "YX") if self.is_grey else (rgb, "YXC")
        time_s = float(frame.pts * self._time_base) if frame.pts is not None and self._time_base else index / self.fps
        return Image(
            pixels=pixels,
            axes=axes,
            modality=self.modality,
            meta={"frame_index": index, "time_s": time_s, "fps": self.fps, "warnings": []},
            provenance=Provenance(source_paths=(str(self.path),), reader="video"),
        )

    def frame(self, index: int) -> Image:
        """Frame ``index`` (0-based) as a ``YX``/``YXC`` image with 0..255 values."""
        index = int(index)
        if index < 0:
            index += self.frame_count
        if not 0 <= index < self.frame_count:
            raise ImageDataError(f"frame {index} is out of range (0..{self.frame_count - 1})", path=self.path)
        with self._lock:
            try:
                frame = self._decode_at(index)
            except ReadError:
                raise
            except Exception as error:  # av decode errors on damaged streams
                raise ReadError(
                    f"cannot decode frame {index} ({type(error).__name__}: {error})", path=self.path
                ) from error
        if frame is None:
            raise ReadError(f"frame {index} could not be decoded (truncated video?)", path=self.path)
        return self._to_image(frame, index)

    def __getitem__(self, index: int) -> Image:
        return self.frame(index)

    def __iter__(self) -> Iterator[Image]:
        """Every frame in order, from an independent decoder."""
        import av

        try:
            with av.open(str(self.path)) as container:
                for index, frame in enumerate(container.decode(container.streams.video[0])):
                    yield self._to_image(frame, index)
        except ReadError:
            raise
        except Exception as error:  # damaged stream mid-way
            raise ReadError(f"video decoding failed ({type(error).__name__}: {error})", path=self.path) from error


class VideoReader:
    """Registers video files; returns a :class:`VideoSequence` (or one frame with ``frame=``)."""

    name = "video"

    def can_read(self, path: Path) -> bool:
        """Files with a video suffix."""
        return Path(path).suffix.lower() in VIDEO_SUFFIXES

    def read(self, path: Path, **options: Any) -> VideoSequence | Image:  # type: ignore[override]
        """Open the video; ``frame=i`` returns that frame instead of the sequence."""
        sequence = VideoSequence(Path(path), modality=str(options.get("modality") or "OT").upper())
        if options.get("frame") is None:
            return sequence
        with sequence:
            return sequence.frame(int(options["frame"]))
