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
from textdifuse_desktop.model.tone import apply_tone, modalities_known

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


def _layout(device: torch.device) -> torch.memory_format:
    """Channels-last on the CPU (faster convolutions there; the weights load in that layout), contiguous elsewhere."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def _check(y: Tensor, name: str, multiple: int) -> None:
    if y.ndim != 4 or y.shape[1] != 1:
        raise ValueError(f"{name} must be [B,1,H,W], got {tuple(y.shape)}")
    if y.shape[-1] % multiple or y.shape[-2] % multiple:
        raise ValueError(f"{name} H and W must be multiples of {multiple} (pad first), got {tuple(y.shape[-2:])}")


def iter_fuse(model: FusionDiffusionNet, sampler: DDIMSampler, y_a: Tensor, y_b: Tensor | None, *, steps: int,
              rule: str = "fcm", kappa_a: Tensor | None = None, kappa_b: Tensor | None = None,
              seed: int = 0, noise: Tensor | None = None, restore: float = 1.0,
              tone: bool = True, prepared: bool = False, statistics: Tensor | None = None,
              modalities: tuple = (None, None)) -> Generator[StepInfo, None, Tensor]:
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
        The user's restoration strength: scales the network's (gated) correction; 1 = as trained, 0 = fusion
        only.  The network itself decides where and how much to restore (its restorer and restoration gate).
    noise:
        The start noise itself (shape of ``y_a``), instead of drawing it from ``seed``; tiles of one
        image get crops of one noise field so that overlapping tiles agree.
    tone:
        Apply the network's learned tone correction (:func:`correct_tones`) after the restorer.
    prepared:
        The inputs already went through :func:`prepare_sources` (the engine does so over a whole image or
        volume, so that tiles and slices share one tone curve): neither the restorer nor the curves run again.
    modalities:
        Source A's and B's modality (``"IR"``, ``"MR"``, ``"vis"``...; None or ``"OT"`` where unknown), which the
        tone correction reads.
    statistics:
        Both sources' degradation statistics for the gate (``gate_condition``), from
        :func:`acquisition_statistics` over the whole image or volume; None computes them from these inputs.

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
    if not prepared:
        y_a, y_b = prepare_sources(model, y_a, y_b, restore, modalities=modalities, tone=tone)
    with torch.inference_mode():
        fmt = _layout(device)
        cond_a = (y_a.float() * 2 - 1).contiguous(memory_format=fmt)
        cond_b = None if y_b is None else (y_b.float() * 2 - 1).contiguous(memory_format=fmt)
        if noise is None:
            noise = initial_noise(tuple(y_a.shape), seed, device)
        elif noise.shape != y_a.shape:
            raise ValueError(f"noise shape {tuple(noise.shape)} differs from the input {tuple(y_a.shape)}")
        x = noise.to(device=device, dtype=torch.float32).contiguous(memory_format=fmt)
        total = len(sampler.timesteps)
        graphed = None
        if cond_b is not None and rule == "fcm" and kappa_a is None and kappa_b is None:
            t_first = torch.full((y_a.shape[0],), float(sampler.timesteps[0]), device=device)
            graphed = graphed_denoiser(model, x, t_first, cond_a, cond_b, restore, statistics)
        for i, t in enumerate(sampler.timesteps):
            t_batch = torch.full((y_a.shape[0],), float(t), device=device)
            if graphed is not None:
                out = graphed(x, t_batch)
            else:
                out = model(x, t_batch, cond_a, cond_b, rule=rule, kappa_a=kappa_a, kappa_b=kappa_b,
                            restore=restore, statistics=statistics)
            result = sampler.step(out, int(t), x)
            x = result.prev_sample
            yield StepInfo(i + 1, total, ((result.pred_x0 + 1) / 2).clamp(0, 1))
        return ((x + 1) / 2).clamp(0, 1).contiguous()


def prepare_sources(model: FusionDiffusionNet, y_a: Tensor, y_b: Tensor | None, restore: float = 1.0, *,
                    modalities: tuple = (None, None), tone: bool = True, one_acquisition: bool = False,
                    return_curves: bool = False) -> tuple:
    """Both sources (``[B,1,H,W]`` in [0, 1]) as the FCM fuses them: through the restorer
    (:func:`restore_sources`), then (``tone``) the tone curves (:func:`correct_tones`); see those for the other
    arguments."""
    restored = restore_sources(model, y_a, y_b, restore)
    if not tone:
        return (*restored, None) if return_curves else restored
    return correct_tones(model, (y_a, y_b), restored, restore, modalities=modalities,
                         one_acquisition=one_acquisition, return_curves=return_curves)


def correct_tones(model: FusionDiffusionNet, raw: tuple[Tensor, Tensor | None], restored: tuple[Tensor, Tensor | None],
                  restore: float = 1.0, *, modalities: tuple = (None, None), one_acquisition: bool = False,
                  return_curves: bool = False) -> tuple:
    """The restored sources through the network's learned tone curves (:mod:`.tone`), which read both sources as
    given (``raw``) and as restored (``restored``; each ``(A, B)`` of ``[B,1,H,W]`` in [0, 1], B may be None),
    blended with the restored source by ``restore``.  Returns the restored sources unchanged without a tone head,
    at ``restore=0``, or where a source's modality is unknown (:func:`~.tone.modalities_known`).

    ``modalities``: source A's and B's (one for the batch or one per sample; None or ``"OT"`` where unknown).
    ``one_acquisition``: the B samples are slices of one volume and get one curve per source, from the
    statistics of the whole stack (per-slice curves would make the volume flicker from slice to slice).
    ``return_curves``: also return both sources' curve parameters (``[B, 4]`` each; None when none ran).
    Runs without gradients but outside inference mode, so that training can use its results as inputs.
    """
    y_a, y_b = restored
    if model.tone is None or restore <= 0 or not modalities_known(modalities[:1 if y_b is None else 2]):
        return (y_a, y_b, None) if return_curves else (y_a, y_b)
    raw = tuple(y.float() if y is not None else None for y in raw)
    restored = tuple(y.float() if y is not None else None for y in restored)
    with torch.no_grad():
        if one_acquisition:
            def stack(y: Tensor | None) -> Tensor | None:
                return None if y is None else y.reshape(1, -1, *y.shape[-2:])

            whole = tuple(m if m is None or isinstance(m, str) else m[0] for m in modalities)
            params = [p.expand(y_a.shape[0], -1) if p is not None else None for p in
                      model.tone_parameters(tuple(map(stack, raw)), tuple(map(stack, restored)), whole)]
        else:
            params = model.tone_parameters(raw, restored, modalities)
        a, b = (apply_tone(y, p, restore) if y is not None else None for y, p in zip(restored, params))
    return (a, b, params) if return_curves else (a, b)


def restore_sources(model: FusionDiffusionNet, y_a: Tensor, y_b: Tensor | None,
                    restore: float = 1.0) -> tuple[Tensor, Tensor | None]:
    """Both sources (``[B,1,H,W]`` in [0, 1]) through the network's learned restorer (:mod:`.restorer`), its
    correction scaled by ``restore``; unchanged without a restorer or at ``restore=0``.  The restorer is local
    (its norm is per pixel, nothing pools over the image), so tiles and slices can go through it one at a time.
    Runs without gradients but outside inference mode, so that training can use its results as inputs."""
    if model.restorer is None or restore <= 0:
        return y_a, y_b
    fmt = _layout(y_a.device)
    with torch.no_grad():
        restored = [None if y is None else model.restorer(y.float().contiguous(memory_format=fmt), restore).clamp(0, 1)
                    for y in (y_a, y_b)]
    return restored[0], restored[1]


def acquisition_statistics(model: FusionDiffusionNet, y_a: Tensor, y_b: Tensor) -> Tensor | None:
    """Both sources' degradation statistics (``[1, 2N]``) over whole stacks ``[N, 1, H, W]`` in [0, 1] (an image,
    a volume's slices, a clip's frames: one acquisition each), for :func:`iter_fuse`; None without
    ``gate_condition``.  Tiles and slices then get the statistics of the whole, as they get one tone curve."""
    if not model.gate_conditioned:
        return None
    stacks = [(y.float() * 2 - 1).reshape(1, -1, *y.shape[-2:]) for y in (y_a, y_b)]
    with torch.no_grad():
        return model.gate_statistics(*stacks)


def fuse(model: FusionDiffusionNet, sampler: DDIMSampler, y_a: Tensor, y_b: Tensor | None, *, steps: int = 1,
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
