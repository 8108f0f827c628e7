"""The fusion engine: a cancellable generator of progress that returns a FusionResult.

Use :func:`run_fusion` from a GUI worker (it yields :class:`Progress` and
returns the :class:`FusionResult`), :func:`fuse` from scripts (it drives the
generator), and :func:`run_video_fusion` for videos (yields fused frames for
the MP4 writer).  torch is only imported when the diffusion model runs.

Region modulation (Eq. 13 of Text-DiFuse): with ``kappa_a``/``kappa_b``/
``blend_mask`` the engine computes the plain fusion (cached per sources and
parameters, so re-running with another kappa re-uses it) and the modulated
one, and returns ``M * modulated + (1 - M) * plain`` with the feathered
``blend_mask`` M (M = 1 everywhere when no mask is given).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

import numpy as np

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.imaging.chroma import restore_chroma
from textdifuse_desktop.fusion._sources import (
    PreparedPair,
    as_stack,
    build_result_image,
    prepare_pair,
)
from textdifuse_desktop.fusion._tiling import (
    Backend,
    OutOfDeviceMemory,
    count_tiles,
    run_tiled,
)
from textdifuse_desktop.fusion.request import (
    CancelToken,
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)

log = logging.getLogger(__name__)

#: Pixels per mini-batch of slices on an accelerator (volumes are fused a few slices at a time).
BATCH_PIXELS = 1 << 20
#: Pixels per mini-batch on the CPU: four 256x256 slices.  On 2 cores one slice per call runs at about half
#: the throughput of 2-4 (thread start-up per call), 16 gains little more; cancel and progress come once per
#: batch, about one second.
CPU_BATCH_PIXELS = 1 << 18
#: Smallest tile tried after running out of memory, before falling back to the CPU.
MIN_TILE = 128

_BASE_CACHE: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
_BASE_CACHE_SIZE = 4


def clear_cache() -> None:
    """Forget cached plain (unmodulated) results and cached models."""
    _BASE_CACHE.clear()
    import sys

    backend_module = sys.modules.get("textdifuse_desktop.fusion._model_backend")
    if backend_module is not None:
        backend_module.clear_model_cache()


def _fingerprint(array: np.ndarray) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(array.shape).encode())
    digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    return digest.hexdigest()


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise FusionCancelled("fusion cancelled by the user")


class _Runner:
    """Fuses stacks through a backend with batching, tiling, progress, cancel and OOM fallback."""

    def __init__(self, backend: Backend, params: FusionParams, cancel: CancelToken | None, passes: int):
        self.backend = backend
        self.params = params
        self.cancel = cancel
        self.tile = params.tile
        self.batch_pixels = _batch_pixels(backend)
        self.passes = passes
        self.done = 0
        self.total = 0
        self.warnings: list[str] = []

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
        empty = (ya <= 0) & (yb <= 0)
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
                _check_cancel(self.cancel)
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


def _model_backend(params: FusionParams) -> Backend:
    from textdifuse_desktop.fusion._model_backend import make_backend

    return make_backend(params.weights, params.device, steps=params.steps, rule=params.rule, seed=params.seed,
                        restore=params.restore)


def _run_classical(
    pair: PreparedPair, params: FusionParams, cancel: CancelToken | None
) -> Generator[Progress, None, np.ndarray]:
    from textdifuse_desktop.fusion.classical import fuse_luma

    n = pair.ya.shape[0]
    out = np.empty_like(pair.ya)
    for i in range(n):
        _check_cancel(cancel)
        fused = fuse_luma(pair.ya[i] * np.float32(255.0), pair.yb[i] * np.float32(255.0), params.method)
        out[i] = np.clip(np.asarray(fused, dtype=np.float32) / np.float32(255.0), 0.0, 1.0)
        yield Progress(i + 1, n, f"{params.method} fusion", None if n > 1 else out[i] * np.float32(255.0))
    return out


def run_fusion(
    request: FusionRequest, cancel: CancelToken | None = None, *, backend: Backend | None = None
) -> Generator[Progress, None, FusionResult]:
    """Fuse ``request.a`` and ``request.b``; yields Progress, returns the FusionResult.

    Parameters
    ----------
    request:
        Two sources on one grid (same spatial shape), parameters and optional
        region maps (see :class:`~textdifuse_desktop.fusion.request.FusionRequest`).
    cancel:
        Checked between sampling steps, tiles and slices.
    backend:
        For tests and benchmarks: a stand-in for the diffusion model (see
        :class:`textdifuse_desktop.fusion._tiling.Backend`).

    Raises
    ------
    FusionCancelled, GeometryError, ImageDataError, ModelLoadError, DeviceError
    """
    started = time.perf_counter()
    params = request.params
    pair = prepare_pair(request.a, request.b)
    shape = pair.ya.shape
    warnings: list[str] = []
    sampler_config: dict[str, Any] = {}
    sha256: str | None = None
    device = "cpu"
    preview = not pair.stacked
    if not params.uses_model:
        if request.modulated:
            message = f"region modulation applies to the diffusion model only; ignored for '{params.method}'"
            log.warning(message)
            warnings.append(message)
        fused = yield from _run_classical(pair, params, cancel)
    else:
        ka = as_stack(request.kappa_a, shape, "kappa_a")
        kb = as_stack(request.kappa_b, shape, "kappa_b")
        mask = as_stack(request.blend_mask, shape, "blend_mask")
        if backend is None:
            backend = _model_backend(params)
        token = getattr(backend, "cache_token", id(backend))
        key = (_fingerprint(pair.ya), _fingerprint(pair.yb), token, params.cache_key())
        modulate = ka is not None or kb is not None
        cached = _BASE_CACHE.get(key) if modulate else None
        runner = _Runner(backend, params, cancel, passes=1 + int(modulate and cached is None))
        if cached is not None:
            _BASE_CACHE.move_to_end(key)
            base = cached
        else:
            base = yield from runner.fuse(pair.ya, pair.yb, None, None, "fusing", preview, partial=pair.stacked)
            _BASE_CACHE[key] = base
            while len(_BASE_CACHE) > _BASE_CACHE_SIZE:
                _BASE_CACHE.popitem(last=False)
        fused = base
        if modulate:
            modulated = yield from runner.fuse(pair.ya, pair.yb, ka, kb, "region modulation", preview)
            fused = modulated if mask is None else mask * modulated + (1.0 - mask) * base
        # Where both sources are empty (black background, air below the window) there is nothing to fuse;
        # keep it exactly black instead of showing the model's faint halo (clinicians read it as signal).
        fused = np.where((pair.ya <= 0) & (pair.yb <= 0), np.float32(0.0), fused)
        if pair.chroma is not None and params.restore > 0:
            # The network restores luminance; the colour source's chroma gets the same noise removed along the
            # restored structure (imaging/chroma.py), so a noisy visible frame does not come back noisy in colour.
            # Guided by the unmodulated fusion, so that regions change nothing outside their mask.
            pair = replace(pair, chroma=restore_chroma(pair.chroma, base * np.float32(255.0)))
        backend = runner.backend
        warnings.extend(runner.warnings)
        sampler_config = dict(getattr(backend, "sampler_config", {}) or {})
        loaded = getattr(backend, "loaded", None)
        sha256 = str(loaded.sha256) if loaded is not None else None
        device = str(getattr(backend, "device", "cpu"))
    seconds = time.perf_counter() - started
    meta = {
        "fusion": {
            "params": params.to_dict(),
            "sampler_config": sampler_config,
            "weights_sha256": sha256,
            "device": device,
            "seconds": round(seconds, 4),
            "intensity_windows": pair.windows,
            "chroma_from": pair.chroma_from,
            "modulated": request.modulated,
            "sources": {
                "a": list(request.a.provenance.source_paths),
                "b": list(request.b.provenance.source_paths),
            },
        },
        "warnings": list(warnings),
    }
    image = build_result_image(request.a, pair, fused, meta)
    return FusionResult(image, params, sampler_config, sha256, seconds, device, warnings)


def fuse(
    request: FusionRequest,
    cancel: CancelToken | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    *,
    backend: Backend | None = None,
) -> FusionResult:
    """Run :func:`run_fusion` to completion, passing each Progress to ``on_progress``."""
    gen = run_fusion(request, cancel, backend=backend)
    while True:
        try:
            progress = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(progress)


def warm_up_model(params: FusionParams) -> str:
    """Load the model ``params`` names and run one tiny fusion, so that the first real fusion starts at full speed.

    For the GUI's start-up, in a background thread.  Returns a status line (empty for classical methods); raises
    what loading the model raises (missing or damaged weights, no such device).
    """
    if not params.uses_model:
        return ""
    started = time.perf_counter()  # before the import: importing torch is part of what is warmed up
    from textdifuse_desktop.fusion import _model_backend

    backend = _model_backend.warm_up(params.weights, params.device)
    return f"Diffusion model ready on {backend.device} ({time.perf_counter() - started:.1f} s)"


def run_video_fusion(*args: Any, **kwargs: Any) -> Generator[np.ndarray, None, None]:
    """Frame-by-frame video fusion; see :func:`textdifuse_desktop.fusion.video.run_video_fusion`."""
    from textdifuse_desktop.fusion.video import run_video_fusion as _run_video_fusion

    return _run_video_fusion(*args, **kwargs)
