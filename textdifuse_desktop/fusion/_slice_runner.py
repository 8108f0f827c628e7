"""Runs a backend over ``(N, H, W)`` slice stacks in mini-batches: progress, cancel, partial volumes, OOM.

A volume is fused a few slices at a time (every slice starts from the same
noise plane, so identical slices fuse identically and neighbouring slices do
not flicker), with progress and a cancel check per backend step, the finished
slices reported as a partial volume, and out-of-memory handled by shrinking
tiles and batches, then by falling back to the CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Generator

import numpy as np

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.fusion._tiling import (
    Backend,
    OutOfDeviceMemory,
    count_tiles,
    run_tiled,
)
from textdifuse_desktop.fusion.request import CancelToken, FusionParams, Progress

log = logging.getLogger(__name__)

#: Pixels per mini-batch of slices on an accelerator (volumes are fused a few slices at a time).
BATCH_PIXELS = 1 << 20
#: Pixels per mini-batch on the CPU: one 256x256 slice, so progress and cancel come once per slice.  On 2 idle
#: cores it costs no throughput (256x256x150 pair: 9.2 s at one slice per call, 9.0 s at four;
#: benchmarks/bench_volume_fusion.py --case synthetic); on a loaded machine bigger batches looked faster.
CPU_BATCH_PIXELS = 1 << 16
#: Smallest tile tried after running out of memory, before falling back to the CPU.
MIN_TILE = 128



def check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise FusionCancelled("fusion cancelled by the user")


class SliceRunner:
    """Fuses stacks through a backend with batching, tiling, progress, cancel and OOM fallback."""

    def __init__(self, backend: Backend, params: FusionParams, cancel: CancelToken | None, passes: int,
                 empty_stays_black: bool = True):
        """``empty_stays_black``: where both sources are 0 the result is 0 (fusion); False for passes whose output
        may differ from 0 there (the restorer's: a noisy source clipped at 0 is not empty)."""
        self.empty_stays_black = empty_stays_black
        self.backend = backend
        self.params = params
        self.cancel = cancel
        self.tile = params.tile
        self.batch_pixels = _batch_pixels(backend)
        self.passes = passes
        self.done = 0
        self.total = 0
        self.warnings: list[str] = []

    def planned_ticks(self, shape: tuple[int, int, int]) -> int:
        """Progress ticks that :meth:`fuse` of ``(N, H, W)`` stacks will count (all passes)."""
        return self._plan(shape)[1] * self.passes

    def _plan(self, shape: tuple[int, int, int]) -> tuple[int, int]:
        n, h, w = shape
        tile = self.tile if self.tile > 0 else max(h, w)
        batch = max(1, min(n, self.batch_pixels // max(1, min(h, tile) * min(w, tile))))
        n_batches = -(-n // batch)
        ticks = n_batches * count_tiles((h, w), self.tile, self.backend.multiple) * self.backend.steps
        return batch, ticks

    def fuse(
        self,
        ya: np.ndarray,
        yb: np.ndarray,
        ka: np.ndarray | None,
        kb: np.ndarray | None,
        label: str,
        preview: bool,
        partial: bool = False,
    ) -> Generator[Progress, None, np.ndarray]:
        """Fuse ``(N, H, W)`` stacks; with ``partial``, a volume's finished slices are reported as they come."""
        while True:
            batch, ticks = self._plan(ya.shape)
            self.total = max(self.total, self.done + ticks * self.passes)
            start_done = self.done
            try:
                return (yield from self._fuse_batches(ya, yb, ka, kb, batch, label, preview, partial))
            except OutOfDeviceMemory as error:
                message = self._shrink_after_oom(ya.shape, error)
            self.done = start_done
            yield Progress(self.done, self.total, message)

    def _shrink_after_oom(self, shape: tuple[int, int, int], error: Exception) -> str:
        current = self.tile if self.tile > 0 else max(shape[1:])
        if current > MIN_TILE:
            # Halve the tile side and quarter the slice batch: memory per call drops about 4x.
            self.tile = max(MIN_TILE, current // 2)
            self.batch_pixels = max(1, self.batch_pixels // 4)
            message = f"{error}; retrying with {self.tile}px tiles"
        else:
            from textdifuse_desktop.fusion._model_backend import cpu_fallback

            self.backend = cpu_fallback(self.backend, self.params.weights)  # type: ignore[arg-type]
            self.tile, self.batch_pixels = self.params.tile, _batch_pixels(self.backend)
            message = f"{error}; falling back to the CPU"
        log.warning(message)
        self.warnings.append(message)
        return message

    def _fuse_batches(
        self,
        ya: np.ndarray,
        yb: np.ndarray,
        ka: np.ndarray | None,
        kb: np.ndarray | None,
        batch: int,
        label: str,
        preview: bool,
        partial: bool = False,
    ) -> Generator[Progress, None, np.ndarray]:
        n = ya.shape[0]
        out = np.zeros_like(ya)
        empty = (ya <= 0) & (yb <= 0) if self.empty_stays_black else np.zeros(ya.shape, bool)
        noise = _shared_noise(self.backend, ya.shape)
        ticks_per_batch = count_tiles(ya.shape[1:], self.tile, self.backend.multiple) * self.backend.steps
        for s0 in range(0, n, batch):
            part = slice(s0, min(n, s0 + batch))
            where = f" slices {part.start + 1}-{part.stop}/{n}" if n > 1 else ""
            if n > 1 and empty[part].all():
                # Both sources black on every slice (outside the body): the result is 0 there anyway.
                self.done += ticks_per_batch
                yield Progress(min(self.done, self.total), self.total, f"{label}{where}", None,
                               partial=out if partial else None, slices_done=part.stop)
                continue
            gen = run_tiled(
                self.backend,
                ya[part],
                yb[part],
                None if ka is None else ka[part],
                None if kb is None else kb[part],
                tile=self.tile,
                preview=preview,
                noise=None if noise is None else np.broadcast_to(noise, (part.stop - part.start, *noise.shape)),
            )
            while True:
                check_cancel(self.cancel)
                try:
                    tick = next(gen)
                except StopIteration as stop:
                    # Where both sources are empty there is nothing to fuse (see run_fusion); done per batch
                    # so that the partial volume already shows it.
                    out[part] = np.where(empty[part], np.float32(0.0), stop.value)
                    break
                self.done += int(tick.counts)
                image = None if tick.preview is None else tick.preview[0] * np.float32(255.0)
                yield Progress(min(self.done, self.total), self.total, f"{label}{where}", image)
            if n > 1 and partial:
                yield Progress(min(self.done, self.total), self.total, f"{label}{where}", None,
                               partial=out, slices_done=part.stop)
        return out


def _batch_pixels(backend: Backend) -> int:
    device = str(getattr(backend, "device", "cpu"))
    return CPU_BATCH_PIXELS if device.startswith("cpu") else BATCH_PIXELS


def _shared_noise(backend: Backend, shape: tuple[int, int, int]) -> np.ndarray | None:
    """One start-noise plane for every slice of a stack, or None for single planes and backends without noise.

    Each slice drawing its own noise makes identical neighbouring slices come out different (about 0.5 grey
    levels on MRI, measured): flicker in coronal and sagittal reformats.  With one plane the network's
    decision on a slice depends on that slice's sources alone (and not on its position in a batch).
    """
    if shape[0] < 2 or not hasattr(backend, "start_noise"):
        return None
    return np.asarray(backend.start_noise((1, shape[1], shape[2]))[0], dtype=np.float32)
