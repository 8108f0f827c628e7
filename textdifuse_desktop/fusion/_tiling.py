"""Padding and overlapping-tile machinery, independent of torch and of the model.

A *backend* fuses stacks of luminance planes: it takes ``(N, H, W)`` float32
arrays in [0, 1] whose ``H`` and ``W`` are multiples of ``backend.multiple``
and is a generator that yields once per sampling step (optionally with the
current estimate) and returns the fused ``(N, H, W)`` stack.  This module
pads inputs to that multiple (reflect padding, cropped back afterwards so
no pixel is lost) and splits large planes into overlapping tiles whose
results are blended with a raised-cosine window, so that memory stays
bounded by the tile size.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


class OutOfDeviceMemory(Exception):
    """A backend ran out of memory; the engine retries with smaller tiles or on the CPU."""

    def __init__(self, device: str, cause: BaseException):
        # torch's CUDA message runs to several sentences of allocator advice; keep the first two.
        short = ". ".join(str(cause).split(". ")[:2]).strip()
        super().__init__(f"out of memory on {device} ({short})" if short else f"out of memory on {device}")
        self.device = device


class Backend(Protocol):
    """What the tiler needs from a fusion backend (model or stand-in).

    A backend may also offer ``start_noise((N, H, W)) -> ndarray`` and accept ``noise=`` in ``run``:
    tiles then start from crops of one noise field (see :func:`run_tiled`).
    """

    multiple: int
    steps: int

    def run(
        self,
        ya: np.ndarray,
        yb: np.ndarray,
        ka: np.ndarray | None,
        kb: np.ndarray | None,
        preview: bool,
    ) -> Generator[np.ndarray | None, None, np.ndarray]:
        """Yield once per step (the current estimate if ``preview``); return the fused stack."""
        ...


@dataclass
class Tick:
    """Progress of a tiled run.

    ``counts`` is True when one sampling step is done (False for a
    preview-only tick); ``preview`` is ``(N, H, W)`` in [0, 1] at full size, or None.
    """

    preview: np.ndarray | None = None
    counts: bool = True


def pad_to_multiple(x: np.ndarray, multiple: int) -> np.ndarray:
    """Pad the last two axes at the bottom/right up to a multiple of ``multiple``.

    Reflect padding keeps the statistics at the border natural (zero padding
    would look like a dark edge to the network); numpy repeats the
    reflection when the pad is larger than the image.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    lead = [(0, 0)] * (x.ndim - 2)
    for axis, (size, extra) in enumerate(((h, ph), (w, pw))):
        if extra:
            pad = lead + [(0, extra) if axis == i else (0, 0) for i in range(2)]
            x = np.pad(x, pad, mode="reflect" if size > 1 else "edge")
    return x


def tile_spans(length: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, int]]:
    """``(start, size)`` of the fewest equal tiles (each ``<= tile``) covering ``length``.

    Neighbouring tiles overlap by at least ``overlap``.  Tiles are balanced
    rather than all of size ``tile`` (640 px with 512 px tiles gives two
    ~350 px tiles, not 512 + 512), so tiling costs little extra compute; the
    size is rounded up to ``multiple`` so that no padding is wasted.
    """
    if length <= tile:
        return [(0, length)]
    n = -(-(length - overlap) // (tile - overlap))
    size = -(-(length + (n - 1) * overlap) // n)
    size = min(tile, -(-size // multiple) * multiple, length)
    starts = np.linspace(0, length - size, n).round().astype(int)
    return [(int(start), size) for start in starts]


def _ramp_1d(size: int, overlap: int, ramp_start: bool, ramp_end: bool) -> np.ndarray:
    """1 in the middle, raised-cosine ramps (summing to 1 with a neighbour's) at inner edges."""
    weights = np.ones(size, dtype=np.float32)
    n = min(overlap, size)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)).astype(np.float32)
        if ramp_start:
            weights[:n] = np.minimum(weights[:n], ramp)
        if ramp_end:
            weights[size - n :] = np.minimum(weights[size - n :], ramp[::-1])
    return weights


def tile_overlap(tile: int, multiple: int) -> int:
    """Default overlap: an eighth of the tile, at least one network multiple."""
    return max(multiple, (tile // 8) // multiple * multiple)


def effective_tile(tile: int, multiple: int) -> int:
    """``tile`` rounded down to the network multiple (at least 2 multiples), or 0 for no tiling."""
    if tile <= 0:
        return 0
    return max(2 * multiple, tile // multiple * multiple)


def count_tiles(shape: tuple[int, int], tile: int, multiple: int) -> int:
    """How many tiles :func:`run_tiled` uses for a plane of ``shape``."""
    tile = effective_tile(tile, multiple)
    h, w = shape
    if tile == 0 or (h <= tile and w <= tile):
        return 1
    overlap = tile_overlap(tile, multiple)
    return len(tile_spans(h, tile, overlap, multiple)) * len(tile_spans(w, tile, overlap, multiple))


def _run_padded(
    backend: Backend,
    ya: np.ndarray,
    yb: np.ndarray,
    ka: np.ndarray | None,
    kb: np.ndarray | None,
    preview: bool,
    noise: np.ndarray | None = None,
) -> Generator[Tick, None, np.ndarray]:
    """Pad to the backend multiple, run, crop back; previews are cropped too."""
    h, w = ya.shape[-2:]
    m = backend.multiple
    pads = [pad_to_multiple(x, m) if x is not None else None for x in (ya, yb, ka, kb)]
    if noise is None:
        gen = backend.run(pads[0], pads[1], pads[2], pads[3], preview)
    else:
        gen = backend.run(pads[0], pads[1], pads[2], pads[3], preview, noise=pad_to_multiple(noise, m))
    while True:
        try:
            estimate = next(gen)
        except StopIteration as stop:
            return np.ascontiguousarray(stop.value[..., :h, :w], dtype=np.float32)
        yield Tick(estimate[..., :h, :w] if (preview and estimate is not None) else None)


def run_tiled(
    backend: Backend,
    ya: np.ndarray,
    yb: np.ndarray,
    ka: np.ndarray | None = None,
    kb: np.ndarray | None = None,
    *,
    tile: int = 512,
    overlap: int | None = None,
    preview: bool = False,
    noise: np.ndarray | None = None,
) -> Generator[Tick, None, np.ndarray]:
    """Fuse ``(N, H, W)`` stacks, tiling planes larger than ``tile``.

    Yields one :class:`Tick` per backend step per tile; returns the fused
    ``(N, H, W)`` float32 stack.  With tiling, previews show the blended
    canvas after each finished tile (unfinished areas are 0).  ``noise``
    (``(N, H, W)``, for backends with ``start_noise``) is the start noise to
    use instead of the backend's own draw (the engine gives every slice of a
    volume the same plane).
    """
    n, h, w = ya.shape
    multiple = backend.multiple
    tile = effective_tile(tile, multiple)
    if tile == 0 or (h <= tile and w <= tile):
        return (yield from _run_padded(backend, ya, yb, ka, kb, preview, noise))
    overlap = tile_overlap(tile, multiple) if overlap is None else overlap
    ys, xs = tile_spans(h, tile, overlap, multiple), tile_spans(w, tile, overlap, multiple)
    canvas = np.zeros((n, h, w), dtype=np.float32)
    weight = np.zeros((h, w), dtype=np.float32)
    # One noise field for the whole plane: overlapping tiles start from the same noise, so they agree.
    if noise is None and hasattr(backend, "start_noise"):
        noise = backend.start_noise((n, h, w))
    log.debug("tiling %dx%d into %dx%d tiles of %d (overlap %d)", h, w, len(ys), len(xs), tile, overlap)
    for y0, th in ys:
        wy = _ramp_1d(th, overlap, y0 > 0, y0 + th < h)
        for x0, tw in xs:
            wx = _ramp_1d(tw, overlap, x0 > 0, x0 + tw < w)
            window = wy[:, None] * wx[None, :]
            box = (slice(None), slice(y0, y0 + th), slice(x0, x0 + tw))
            parts = [x[box] if x is not None else None for x in (ya, yb, ka, kb, noise)]
            gen = _run_padded(backend, *parts[:4], False, noise=parts[4])
            while True:
                try:
                    next(gen)
                except StopIteration as stop:
                    fused_tile = stop.value
                    break
                yield Tick(None)
            canvas[box] += fused_tile * window
            weight[box[1:]] += window
            if preview:
                yield Tick(canvas / np.maximum(weight, 1e-6), counts=False)
    canvas /= np.maximum(weight, 1e-6)
    return canvas
