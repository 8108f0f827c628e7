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

from textdifuse_desktop.fusion._slice_runner import SliceRunner, check_cancel
from textdifuse_desktop.fusion._sources import (
    PreparedPair,
    as_stack,
    build_result_image,
    prepare_pair,
)
from textdifuse_desktop.fusion._tiling import Backend
from textdifuse_desktop.fusion.request import (
    CancelToken,
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)
from textdifuse_desktop.imaging.chroma import restore_chroma

log = logging.getLogger(__name__)

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
        check_cancel(cancel)
        fused = fuse_luma(pair.ya[i] * np.float32(255.0), pair.yb[i] * np.float32(255.0), params.method)
        out[i] = np.clip(np.asarray(fused, dtype=np.float32) / np.float32(255.0), 0.0, 1.0)
        yield Progress(i + 1, n, f"{params.method} fusion", None if n > 1 else out[i] * np.float32(255.0))
    return out


def _prepare_sources(backend: Any, pair: Any, params: FusionParams, cancel: CancelToken | None,
                     warnings: list[str], later_ticks: int
                     ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray, Any, int]]:
    """The sources as the network fuses them: each whole image or volume through the restorer (tiled and in slice
    batches like the fusion), then the tone curves, which read it whole once (one curve per acquisition).  Returns
    both stacks, the curves applied (None when none ran) and the progress ticks done; the progress reported counts
    ``later_ticks`` more to come (the fusion's)."""
    ya, yb = pair.ya, pair.yb
    done = 0
    restorer = backend.restorer_pass()
    if restorer is not None:
        both = np.concatenate([ya, yb])  # one pass restores A's planes and B's
        runner = SliceRunner(restorer, params, cancel, passes=1, empty_stays_black=False)
        runner.total = runner.planned_ticks(both.shape) + later_ticks
        restored = yield from runner.fuse(both, both, None, None, "restoring the sources", False)
        warnings.extend(runner.warnings)
        ra, rb, done = restored[:len(ya)], restored[len(ya):], runner.done
    else:
        ra, rb = ya, yb
    if not params.tone:
        return ra, rb, None, done
    modalities = (pair.modalities or {}).get("a"), (pair.modalities or {}).get("b")
    ta, tb, curves = backend.correct_tones((ya, yb), (ra, rb), one_acquisition=pair.stacked, modalities=modalities)
    note = backend.tone_note(modalities)
    if note:
        log.warning(note)
        warnings.append(note)
    return ta, tb, curves, done


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
    tone_curves: dict[str, Any] | None = None
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
        ya, yb = pair.ya, pair.yb
        runner = SliceRunner(backend, params, cancel, passes=1 + int(modulate and cached is None))
        if hasattr(backend, "restorer_pass"):
            # The fusion's progress continues from the restorer pass's: one count over both.
            ya, yb, tone_curves, runner.done = yield from _prepare_sources(backend, pair, params, cancel, warnings,
                                                                           runner.planned_ticks(shape))
        if hasattr(backend, "for_sources"):
            runner.backend = backend.for_sources(ya, yb)  # so do the gate's degradation statistics
        if cached is not None:
            _BASE_CACHE.move_to_end(key)
            base = cached
        else:
            base = yield from runner.fuse(ya, yb, None, None, "fusing", preview, partial=pair.stacked)
            _BASE_CACHE[key] = base
            while len(_BASE_CACHE) > _BASE_CACHE_SIZE:
                _BASE_CACHE.popitem(last=False)
        fused = base
        if modulate:
            modulated = yield from runner.fuse(ya, yb, ka, kb, "region modulation", preview)
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
            "tone_curves": tone_curves,
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
