"""Batched torch twin of :mod:`textdifuse_desktop.imaging.degrade` for on-GPU training.

Plans (ops and parameters) are sampled on the CPU with the numpy code, one per
sample; the pixel work runs on the tensor's device, grouped by op: every op
is applied once to the sub-batch of samples whose plan contains it (blurs as
one grouped convolution with per-sample kernels).  Given the same plan and the
same noise fields, :func:`apply_plan` matches the numpy
:func:`~textdifuse_desktop.imaging.degrade.apply_plan` to float32 rounding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.degrade import (
    MAX_KERNEL,
    NOISE_KIND,
    ORDER,
    RANGES,
    DegradationOp,
    gaussian_kernel1d,
    motion_kernel,
    sample_plan,
)

log = logging.getLogger(__name__)

Plan = Sequence[DegradationOp]
NoiseFn = Callable[[str, list[int], list[int], tuple[int, ...]], torch.Tensor]


def degrade_batch(
    x: torch.Tensor,
    modality: str | Sequence[str],
    generator: torch.Generator | None = None,
    *,
    max_ops: int = 3,
    p_clean: float = 0.1,
    return_plans: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[list[DegradationOp]]]:
    """Degrade every sample of a batch with its own random plan.

    Parameters
    ----------
    x:
        ``[B, 1, H, W]`` tensor in [0, 1] (any device, float dtype).
    modality:
        One modality for the whole batch or one per sample (``ir|vis|mri|pet|ct|spect``).
    generator:
        Seeds both the plans and the noise (on the generator's device, so a
        CPU generator works with a CUDA batch, at the cost of a copy).  The
        same generator state and input give the same output.
    max_ops, p_clean:
        As in :func:`~textdifuse_desktop.imaging.degrade.sample_plan`.
    return_plans:
        Also return the per-sample plans.
    """
    _check_batch(x)
    batch = x.shape[0]
    modalities = [modality] * batch if isinstance(modality, str) else list(modality)
    if len(modalities) != batch:
        raise ImageDataError(f"{len(modalities)} modalities given for a batch of {batch}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=_gen_device(generator, x)).item())
    rng = np.random.default_rng(seed)
    plans = [sample_plan(m, rng, max_ops=max_ops, p_clean=p_clean) for m in modalities]

    def noise(kind: str, samples: list[int], positions: list[int], shape: tuple[int, ...]) -> torch.Tensor:
        del samples, positions
        return _random(kind, shape, generator, x)

    out = _run(x, plans, noise)
    return (out, plans) if return_plans else out


def apply_plan(
    x: torch.Tensor,
    plan: Plan | Sequence[Plan],
    noise: Sequence[np.ndarray | torch.Tensor | None] | Sequence[Sequence[np.ndarray | torch.Tensor | None]] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Apply explicit plan(s) to ``x`` ``[B, 1, H, W]``.

    Parameters
    ----------
    plan:
        One plan for every sample, or one plan per sample.
    noise:
        Fields aligned with the plan (one plan) or per sample (per-sample
        plans), shaped as :func:`~textdifuse_desktop.imaging.degrade.draw_noise`
        makes them for ``HxW``; a single plan's fields are shared by the batch.
        Drawn from ``generator`` when None.
    """
    _check_batch(x)
    batch = x.shape[0]
    per_sample = len(plan) > 0 and not isinstance(plan[0], DegradationOp)
    plans = [list(p) for p in plan] if per_sample else [list(plan)] * batch  # type: ignore[arg-type]
    if len(plans) != batch:
        raise ImageDataError(f"{len(plans)} plans given for a batch of {batch}")
    if noise is None:
        def noise_fn(kind: str, samples: list[int], positions: list[int], shape: tuple[int, ...]) -> torch.Tensor:
            return _random(kind, shape, generator, x)
    else:
        fields = [list(n) for n in noise] if per_sample else [list(noise)] * batch  # type: ignore[arg-type]

        def noise_fn(kind: str, samples: list[int], positions: list[int], shape: tuple[int, ...]) -> torch.Tensor:
            stacked = [torch.as_tensor(fields[s][p]).to(x.device, x.dtype) for s, p in zip(samples, positions)]
            return torch.stack([f.reshape(shape[1:]) for f in stacked])
    return _run(x, plans, noise_fn)


def add_impulses(x: torch.Tensor, share: float, generator: torch.Generator | None = None,
                 amounts: tuple[float, float] | None = None) -> torch.Tensor:
    """``x`` ``[B, 1, H, W]`` with salt-and-pepper impulses added to each sample with probability ``share``, on top of
    whatever it already has, as the last op of :data:`~textdifuse_desktop.imaging.degrade.ORDER` would be.  The share
    of pixels hit is drawn from ``amounts`` (default: the ``salt_pepper`` range of
    :data:`~textdifuse_desktop.imaging.degrade.RANGES`).  Impulses touch at most half a percent of the pixels there,
    so a plan that has them weighs little in a mean loss; this gives a trainer more of them without changing the
    other degradations' mix."""
    _check_batch(x)
    draws = torch.rand((x.shape[0], 2), generator=generator, device=_gen_device(generator, x)).cpu().numpy()
    low, high = RANGES["salt_pepper"]["amount"] if amounts is None else amounts
    plans = [[DegradationOp("salt_pepper", {"amount": float(low + u * (high - low))})] if d < share else []
             for d, u in draws]
    return apply_plan(x, plans, generator=generator)


#: The ops that change a whole image's tones (global curves): :func:`apply_tone_ops` keeps only these.
TONE_OPS = ("low_light", "over_exposure", "low_contrast")


def apply_tone_ops(x: torch.Tensor, plans: Sequence[Plan]) -> torch.Tensor:
    """``x`` ``[B, 1, H, W]`` through the tone ops of each sample's plan only (:data:`TONE_OPS`), noise-free: the
    target of the restorer (stage R), which removes noise, stripes, impulses and blur and leaves the tones to the
    diffusion network and the tone head."""
    _check_batch(x)
    tone_plans = [[op for op in plan if op.name in TONE_OPS] for plan in plans]
    return _run(x, tone_plans, lambda kind, samples, positions, shape: torch.zeros(shape, device=x.device,
                                                                                  dtype=x.dtype))


def _gen_device(generator: torch.Generator | None, x: torch.Tensor) -> torch.device:
    return generator.device if generator is not None else x.device


def _random(kind: str, shape: tuple[int, ...], generator: torch.Generator | None, x: torch.Tensor) -> torch.Tensor:
    """Noise drawn on the generator's device (a CPU generator also works for CUDA batches)."""
    maker = torch.rand if kind == "uniform" else torch.randn
    field = maker(shape, generator=generator, device=_gen_device(generator, x), dtype=torch.float32)
    return field.to(x.device, x.dtype)


def _check_batch(x: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 1:
        raise ImageDataError(f"expected a [B, 1, H, W] tensor, got shape {tuple(x.shape)}")


def _run(x: torch.Tensor, plans: Sequence[Plan], noise_fn: NoiseFn) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    _, _, height, width = x.shape
    for name in ORDER:
        samples: list[int] = []
        positions: list[int] = []
        ops: list[DegradationOp] = []
        for s, plan in enumerate(plans):
            for p, op in enumerate(plan):
                if op.name == name:
                    samples.append(s)
                    positions.append(p)
                    ops.append(op)
        if not samples:
            continue
        index = torch.tensor(samples, device=x.device)
        sub = x.index_select(0, index)
        z = None
        kind = NOISE_KIND.get(name)
        if kind is not None:
            shape = (len(samples), 1, 1, width) if kind == "normal_col" else (len(samples), 1, height, width)
            z = noise_fn(kind, samples, positions, shape)
        x = x.index_copy(0, index, _apply_op(sub, name, ops, z))
    return x


def _param(ops: Sequence[DegradationOp], key: str, like: torch.Tensor) -> torch.Tensor:
    values = np.array([op.params[key] for op in ops], dtype=np.float32)
    return torch.from_numpy(values).to(like.device, like.dtype).view(-1, 1, 1, 1)


def _grouped_filter(x: torch.Tensor, kernels: np.ndarray) -> torch.Tensor:
    """Correlate each sample of ``x`` [n,1,H,W] with its own kernel (replicate borders)."""
    n = x.shape[0]
    weight = torch.from_numpy(kernels).to(x.device, x.dtype).view(n, 1, MAX_KERNEL, MAX_KERNEL)
    pad = MAX_KERNEL // 2
    padded = F.pad(x.transpose(0, 1), (pad, pad, pad, pad), mode="replicate")
    return F.conv2d(padded, weight, groups=n).transpose(0, 1)


def _pad_kernel(k1d: np.ndarray) -> np.ndarray:
    k = np.zeros((MAX_KERNEL, MAX_KERNEL), dtype=np.float32)
    size = k1d.size
    start = (MAX_KERNEL - size) // 2
    k[start:start + size, start:start + size] = np.outer(k1d, k1d)
    return k


def _apply_op(x: torch.Tensor, name: str, ops: Sequence[DegradationOp], z: torch.Tensor | None) -> torch.Tensor:
    def p(key: str) -> torch.Tensor:
        return _param(ops, key, x)

    if name == "motion_blur":
        y = _grouped_filter(x, np.stack([motion_kernel(op.params["length"], op.params["angle"]) for op in ops]))
    elif name == "gaussian_blur":
        y = _grouped_filter(x, np.stack([_pad_kernel(gaussian_kernel1d(int(op.params["kernel"]))) for op in ops]))
    elif name == "low_light":
        read = torch.from_numpy(np.array([(op.params["read"] / 255.0) ** 2 for op in ops], dtype=np.float32))
        y = p("gain") * torch.pow(x, p("gamma"))
        y = y + torch.sqrt(y / p("peak") + read.to(x.device, x.dtype).view(-1, 1, 1, 1)) * z
    elif name == "over_exposure":
        y = torch.pow((p("gain") * x).clamp(0.0, 1.0), p("gamma"))
    elif name == "low_contrast":
        offset = np.array([(1.0 - op.params["alpha"]) * op.params["level"] for op in ops], dtype=np.float32)
        y = p("alpha") * x + torch.from_numpy(offset).to(x.device, x.dtype).view(-1, 1, 1, 1)
    elif name == "poisson_noise":
        y = x + torch.sqrt(x / p("peak")) * z
    elif name == "gaussian_noise":
        y = x + _scaled(ops, "sigma", x) * z
    elif name == "stripe_noise":
        y = x + _scaled(ops, "beta", x) * z
    elif name == "salt_pepper":
        half = _param([DegradationOp(o.name, {"h": o.params["amount"] / 2.0}) for o in ops], "h", x)
        one = torch.ones((), device=x.device, dtype=x.dtype)
        y = torch.where(z < half, one, torch.where(z > 1.0 - half, torch.zeros_like(one), x))
    else:  # pragma: no cover
        raise ImageDataError(f"unknown degradation {name!r}")
    return y.clamp(0.0, 1.0)


def _scaled(ops: Sequence[DegradationOp], key: str, like: torch.Tensor) -> torch.Tensor:
    values = np.array([op.params[key] / 255.0 for op in ops], dtype=np.float32)
    return torch.from_numpy(values).to(like.device, like.dtype).view(-1, 1, 1, 1)
