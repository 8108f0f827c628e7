"""Frame-by-frame fusion of videos (or of a video with a still image).

:func:`run_video_fusion` is a generator of fused frames (float32 0..255,
HxW or HxWx3) that can be handed straight to
:func:`textdifuse_desktop.io.writers.write_video`; progress goes to a
callback because the frames themselves are the yielded values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.fusion._tiling import Backend
from textdifuse_desktop.fusion.engine import run_fusion
from textdifuse_desktop.fusion.request import (
    CancelToken,
    FusionParams,
    FusionRequest,
    Progress,
)
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


def _frame_count(source: Any) -> int | None:
    if isinstance(source, Image):
        return None  # a still image pairs with every frame
    count = getattr(source, "frame_count", None)
    return int(count) if count else None


def _frames(source: Any) -> Iterator[Image]:
    if isinstance(source, Image):
        while True:
            yield source
    else:  # VideoSequence iterates with its own sequential decoder (no seeking)
        yield from iter(source)


def run_video_fusion(
    a: Any,
    b: Any,
    params: FusionParams | None = None,
    cancel: CancelToken | None = None,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    warnings: list[str] | None = None,
    backend: Backend | None = None,
) -> Generator[np.ndarray, None, None]:
    """Fuse two videos frame by frame; yields each fused frame (float32 0..255).

    Parameters
    ----------
    a, b:
        ``VideoSequence`` objects (``.frame(i)``, ``.frame_count``), plain
        iterables of frame Images, or a still :class:`Image` paired with
        every frame of the other source.  Frames of different size are put on
        A's grid with :func:`textdifuse_desktop.imaging.align.align_pair`.
    params:
        Fusion parameters (the model is loaded once and cached).
    cancel:
        Checked before each frame and inside each frame's fusion.
    on_progress:
        Receives ``Progress(done_frames, total_frames, message)``.
    warnings:
        If given, collects the warnings (frame-count mismatch, resizing...).
    """
    from textdifuse_desktop.imaging.align import align_pair

    params = params or FusionParams()
    notes = warnings if warnings is not None else []
    counts = [c for c in (_frame_count(a), _frame_count(b)) if c is not None]
    if not counts and isinstance(a, Image) and isinstance(b, Image):
        raise ImageDataError("video fusion needs at least one video source", hint="use run_fusion for two images")
    total = min(counts) if counts else 0
    if len(set(counts)) > 1:
        message = f"videos have {counts[0]} and {counts[1]} frames; fusing the first {total}"
        log.warning(message)
        notes.append(message)
    warned_resize = False
    for index, (frame_a, frame_b) in enumerate(zip(_frames(a), _frames(b))):
        if total and index >= total:
            break
        if cancel is not None:
            cancel.raise_if_cancelled()
        if frame_a.spatial_shape != frame_b.spatial_shape:
            frame_a, frame_b, align_notes = align_pair(frame_a, frame_b)
            if not warned_resize:
                notes.extend(align_notes)
                warned_resize = True
        gen = run_fusion(FusionRequest(frame_a, frame_b, params), cancel, backend=backend)
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                result = stop.value
                break
        if index == 0:
            notes.extend(result.warnings)
        if on_progress is not None:
            on_progress(Progress(index + 1, total, f"frame {index + 1}/{total or '?'}"))
        yield result.image.pixels
