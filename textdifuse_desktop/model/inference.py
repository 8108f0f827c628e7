"""Few-step fused sampling: the loop that ties :class:`FusionDiffusionNet` and :class:`DDIMSampler`.

Only luminance is handled here (``[B,1,H,W]`` in ``[0, 1]``); colour, padding and tiling belong to the
fusion engine.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from textdifuse_desktop.model.cuda_graphs import graphed_denoiser
from textdifuse_desktop.model.network import FusionDiffusionNet
from textdifuse_desktop.model.sampler import DDIMSampler

log = logging.getLogger(__name__)


class StepInfo(NamedTuple):
    """Progress after one sampler step: ``pred_x0`` is the current estimate in ``[0, 1]``."""

    step: int
    total: int
    pred_x0: Tensor


def initial_noise(shape: tuple[int, ...], seed: int, device: torch.device | str) -> Tensor:
    """Reproducible start noise (drawn on the CPU so that every device gets the same numbers)."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=generator).to(device)


def _check(y: Tensor, name: str, multiple: int) -> None:
    if y.ndim != 4 or y.shape[1] != 1:
        raise ValueError(f"{name} must be [B,1,H,W], got {tuple(y.shape)}")
    if y.shape[-1] % multiple or y.shape[-2] % multiple:
        raise ValueError(f"{name} H and W must be multiples of {multiple} (pad first), got {tuple(y.shape[-2:])}")


def iter_fuse(model: FusionDiffusionNet, sampler: DDIMSampler, y_a: Tensor, y_b: Tensor | None, *, steps: int,
              rule: str = "fcm", kappa_a: Tensor | None = None, kappa_b: Tensor | None = None,
              seed: int = 0, noise: Tensor | None = None, restore: float | Tensor = 1.0,
              adaptive_restore: bool = True) -> Generator[StepInfo, None, Tensor]:
    """Fuse two luminance planes with ``steps`` deterministic DDIM steps.

    Parameters
    ----------
    model, sampler:
        The network (in eval mode) and its sampler (``set_timesteps`` is called here).
    y_a, y_b:
        ``[B,1,H,W]`` float tensors in ``[0, 1]`` on the model's device, H and W multiples of
        ``model.multiple``.  ``y_b=None`` runs single-source restoration of ``y_a``.
    steps:
        Number of sampler steps (1..25).
    rule:
        ``"fcm"`` (learned) or an ablation rule ``"max" | "add" | "mean" | "variance"``.
    kappa_a, kappa_b:
        Optional ``[B,1,H,W]`` gate multipliers (1.0 = unchanged; > 1 favours that source there).
    seed:
        Seed of the start noise.
    restore:
        Restoration strength (scales the network's correction; 1 = as shipped, 0 = fusion only).  When
        fusing, :meth:`~.network.FusionDiffusionNet.fusion_restore` applies the shipped calibration and the
        noise-adaptive fade (clean sources are left unrestored), and the two-scale mix takes noisy sources
        pre-filtered (:meth:`~.network.FusionDiffusionNet.prefilter`) unless ``restore`` is 0.
    adaptive_restore:
        Fade the restoration out on sources that measure as clean (False: restore whatever the noise).
    noise:
        The start noise itself (shape of ``y_a``), instead of drawing it from ``seed``; tiles of one
        image get crops of one noise field so that overlapping tiles agree.

    Yields
    ------
    StepInfo
        After every step.

    Returns
    -------
    Tensor
        The fused Y, ``[B,1,H,W]`` in ``[0, 1]`` (the generator's return value).
    """
    _check(y_a, "y_a", model.multiple)
    if y_b is not None:
        _check(y_b, "y_b", model.multiple)
        if y_b.shape != y_a.shape:
            raise ValueError(f"y_a and y_b differ in shape: {tuple(y_a.shape)} vs {tuple(y_b.shape)}")
    sampler.set_timesteps(steps)
    device = y_a.device
    with torch.inference_mode():
        channels_last = device.type == "cpu"
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        cond_a = (y_a.float() * 2 - 1).contiguous(memory_format=fmt)
        cond_b = None if y_b is None else (y_b.float() * 2 - 1).contiguous(memory_format=fmt)
        if noise is None:
            noise = initial_noise(tuple(y_a.shape), seed, device)
        elif noise.shape != y_a.shape:
            raise ValueError(f"noise shape {tuple(noise.shape)} differs from the input {tuple(y_a.shape)}")
        x = noise.to(device=device, dtype=torch.float32).contiguous(memory_format=fmt)
        mix_conds = None
        if cond_b is not None:
            # The pre-filtered sources feed the two-scale mix only: the encoder was trained on raw degraded
            # conditions, and the restoration weight must see the noise that the correction is there to remove.
            # Both need each source's noise level: measure it once (the edge-aware estimate is not free).
            restore_off = isinstance(restore, (int, float)) and restore == 0
            measured = model.saliency_options()["noise_floor"] > 0 and (adaptive_restore or not restore_off)
            sigmas = model.noise_sigmas(cond_a, cond_b) if measured else None
            if not restore_off:
                filtered = model.prefilter(cond_a, cond_b, sigmas=sigmas)
                mix_conds = None if filtered[0] is cond_a and filtered[1] is cond_b else filtered
            restore = model.fusion_restore(cond_a, cond_b, restore, adaptive=adaptive_restore, sigmas=sigmas)
        total = len(sampler.timesteps)
        fixed = None
        if cond_b is not None and rule == "fcm" and _is_zero(restore):
            # The correction is off (clean sources or the user's restoration 0): with the prior's mix the
            # prediction does not depend on the state, so the network is not called (identical result).
            fixed = model.fixed_mix(cond_a, cond_b, kappa_a=kappa_a, kappa_b=kappa_b, mix_conds=mix_conds)
        graphed = None
        if fixed is None and cond_b is not None and rule == "fcm" and kappa_a is None and kappa_b is None:
            t_first = torch.full((y_a.shape[0],), float(sampler.timesteps[0]), device=device)
            graphed = graphed_denoiser(model, x, t_first, cond_a, cond_b, restore, mix_conds)
        for i, t in enumerate(sampler.timesteps):
            t_batch = torch.full((y_a.shape[0],), float(t), device=device)
            if fixed is not None:
                out = fixed
            elif graphed is not None:
                out = graphed(x, t_batch)
            else:
                out = model(x, t_batch, cond_a, cond_b, rule=rule, kappa_a=kappa_a, kappa_b=kappa_b,
                            restore=restore, mix_conds=mix_conds)
            result = sampler.step(out, int(t), x)
            x = result.prev_sample
            yield StepInfo(i + 1, total, ((result.pred_x0 + 1) / 2).clamp(0, 1))
        return ((x + 1) / 2).clamp(0, 1).contiguous()


def _is_zero(restore: float | Tensor) -> bool:
    if isinstance(restore, Tensor):
        return not bool(restore.any())
    return restore == 0


def fuse(model: FusionDiffusionNet, sampler: DDIMSampler, y_a: Tensor, y_b: Tensor | None, *, steps: int = 2,
         **kwargs: object) -> Tensor:
    """Run :func:`iter_fuse` to the end and return the fused Y."""
    gen = iter_fuse(model, sampler, y_a, y_b, steps=steps, **kwargs)  # type: ignore[arg-type]
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def pad_to_multiple(y: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Reflect-pad ``[B,C,H,W]`` at the bottom/right to multiples of ``multiple``; returns the original size."""
    h, w = y.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        y = F.pad(y, (0, pw, 0, ph), mode=mode)
    return y, (h, w)
