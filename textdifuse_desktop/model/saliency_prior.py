"""Saliency prior for the two-scale output: guided-filter fusion weights (Li et al. 2013, GFF) in torch.

With ``gate_prior="saliency"`` the pixel gate no longer learns the base mix and the detail selection from
scratch: it *re-weights* these classical weights (see :func:`~.fusion_heads.two_scale_mix`).  Why: the
FCM's soft, learned mix fell far behind the classical rules on clean IR/VIS (VIF .66 vs .96 with the same
two-scale split, measured on the first MSRS test pairs), while the learned part is what restores and
modulates; starting from a sharp, edge-aware selection keeps clean inputs faithful.

Computed once per fusion from the conditions (no gradients), on reduced grids like the fast guided filter
(He & Sun 2015).  Inputs are the network's conditions in ``[-1, 1]``, ``[B, 1, H, W]``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from textdifuse_desktop.model.fusion_heads import base_layer
from textdifuse_desktop.model.noise_level import noise_sigma, noise_weight

FLAT_SALIENCY = 1e-4  # below this in both sources an area is flat: the brighter source wins there
SATURATED = 0.98  # a source this bright (0..1) is clipped there: its flatness says nothing about the scene
BASE_FILTER = (45, 0.3)  # GFF's guided filter (radius, eps) that spreads the winner map into smooth base weights
DETAIL_FILTER = (7, 1e-6)  # and the edge-tight one for the detail weights


def box(x: Tensor, radius: int) -> Tensor:
    """Mean over a ``(2r+1)^2`` window with reflected borders: one pass of :func:`~.fusion_heads.base_layer`."""
    return base_layer(x, radius, passes=1)


def _laplace(x: Tensor) -> Tensor:
    p = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:] - 4 * x


def guided_filter(guide: Tensor, src: Tensor, radius: int, eps: float | Tensor, factor: int) -> Tensor:
    """He's guided filter; ``src`` lives on the ``guide`` grid subsampled by ``factor`` (fast variant):
    the linear coefficients are computed there and upsampled bilinearly onto the full-resolution guide.
    ``eps`` may be a per-sample ``[B, 1, 1, 1]`` tensor."""
    g = F.avg_pool2d(guide, factor) if factor > 1 else guide
    radius = max(1, round(radius / factor))
    mean_g, mean_p = box(g, radius), box(src, radius)
    var_g = box(g * g, radius) - mean_g * mean_g
    coef_a = (box(g * src, radius) - mean_g * mean_p) / (var_g + eps)
    coef_b = mean_p - coef_a * mean_g
    coef_a, coef_b = box(coef_a, radius), box(coef_b, radius)
    if factor > 1:
        size = guide.shape[-2:]
        coef_a = F.interpolate(coef_a, size=size, mode="bilinear", align_corners=False)
        coef_b = F.interpolate(coef_b, size=size, mode="bilinear", align_corners=False)
    return coef_a * guide + coef_b


@lru_cache(maxsize=8)
def _unit_noise_saliency(smooth: int) -> float:
    """The mean saliency that white noise of standard deviation 1 gives (``|laplace(box(n, smooth))|``; the later
    averaging keeps the mean), measured once on a fixed field: a source's noise alone gives sigma times this."""
    field = torch.randn((1, 1, 128, 128), generator=torch.Generator().manual_seed(0))
    return float(_laplace(box(field, smooth) if smooth else field).abs().mean())


def _share(w_a: Tensor, w_b: Tensor) -> Tensor:
    total = w_a + w_b
    return torch.where(total > 1e-6, w_a / total.clamp_min(1e-6), torch.full_like(total, 0.5))


@torch.no_grad()
def saliency_weights(cond_a: Tensor, cond_b: Tensor, smooth: int = 0, base_filter_radius: int = BASE_FILTER[0],
                     noisy_smooth: int = 0, noise_floor: float = 0.0, saturated_flat: float = 0.0,
                     full_resolution: bool = False, noise_edges: float = 0.0,
                     saliency_passes: int = 2, saliency_radius: int = 5) -> tuple[Tensor, Tensor]:
    """``(base_share, detail_share)``: GFF's normalised weights of source A for the base and the detail layer.

    Saliency is the Gaussian-smoothed absolute Laplacian; the more salient source wins each pixel (in flat
    areas the brighter one; equal ones share), and guided filtering with each source as the guide turns the
    winner maps into smooth base weights and edge-aligned detail weights.  ``smooth`` > 0 takes the Laplacian
    of a box-smoothed source (that radius) so that noise does not count as saliency: a noisy source would
    otherwise win every pixel's detail.  ``base_filter_radius``: radius of the guided filter behind the
    base weights (GFF: 45); a smaller one follows the winner map more closely.  ``noisy_smooth`` with
    ``noise_floor`` > 0: a source's saliency moves to that (larger) smoothing radius as its measured noise
    rises from ``noise_floor`` to twice that (:func:`~.noise_level.noise_weight`), per source and sample.
    ``saturated_flat`` > 0: where one source is clipped bright (a saturated visible sky) and the other's saliency is
    below that multiple of what its measured noise alone gives, the area counts as flat (the brighter source wins
    the base): faint noise in the other source then no longer wins patches of a clipped sky, while real structure
    there (a pedestrian in headlight glare) still does.  ``full_resolution``: saliency, winner maps and detail
    weights on the full grid (GFF as published); by default they are computed on a half grid (the fast guided
    filter), which blurs the winner maps' edges by a pixel and measured 0.01 lower VIF on clean RoadScene
    training pairs.  The smooth base weights use a coarser grid either way.  ``noise_edges``: the fraction of
    strongest-gradient pixels the noise estimates leave out (:func:`~.noise_level.noise_sigma`).
    ``saliency_passes`` box passes of ``saliency_radius`` smooth each saliency map before the comparison: wider
    windows compare the sources over regions, so isolated spikes stop winning against texture around them.
    """
    dtype = cond_a.dtype
    guides = [((c.float() + 1) / 2) for c in (cond_a, cond_b)]
    large = min(cond_a.shape[-2:]) >= 32
    half = large and not full_resolution
    factor = 2 if half else 1
    saliency = []
    for g, cond in zip(guides, (cond_a, cond_b)):
        edges = _laplace(box(g, smooth) if smooth else g).abs()
        noisy = noise_weight(cond, noise_floor, noise_edges) if noisy_smooth and noise_floor > 0 else None
        if noisy is not None and bool(noisy.any()):
            edges = (1 - noisy) * edges + noisy * _laplace(box(g, noisy_smooth)).abs()
        edges = F.avg_pool2d(edges, 2) if half else edges
        for _ in range(saliency_passes):  # GFF's 11x11 Gaussian (sigma 5) is close to one 11-px box
            edges = box(edges, max(1, round(saliency_radius / 2)) if half else saliency_radius)
        saliency.append(edges)
    small = [F.avg_pool2d(g, factor) if half else g for g in guides]
    flat = torch.maximum(*saliency) < FLAT_SALIENCY
    if saturated_flat > 0:
        for clipped, other, cond in ((small[0], saliency[1], cond_b), (small[1], saliency[0], cond_a)):
            noise_only = saturated_flat * noise_sigma(cond, noise_edges)[:, None, None, None] / 255.0 * _unit_noise_saliency(smooth)
            flat = flat | ((clipped >= SATURATED) & (other < noise_only))
    brighter = torch.sign(small[0] - small[1]) * 0.5 + 0.5
    win_a = torch.where(flat, brighter, (saliency[0] >= saliency[1]).float())
    masks = (win_a, 1 - win_a)
    base_factor = 2 * factor if large else 1  # the base weights are smooth: a coarser grid is enough
    coarse = [F.avg_pool2d(m, 2) if large else m for m in masks]
    w_base = [guided_filter(g, m, base_filter_radius, BASE_FILTER[1], base_factor).clamp_min(0) for g, m in zip(guides, coarse)]
    w_detail = [guided_filter(g, m, *DETAIL_FILTER, factor).clamp_min(0) for g, m in zip(guides, masks)]
    return _share(*w_base).to(dtype), _share(*w_detail).to(dtype)


@torch.no_grad()
def prior_fusion(cond_a: Tensor, cond_b: Tensor, base_radius: int, base_passes: int, **options: Any) -> Tensor:
    """The two-scale fusion that the prior alone gives (zero gate logits, no restoration); ``options`` go to
    :func:`saliency_weights`."""
    base_a, base_b = base_layer(cond_a, base_radius, base_passes), base_layer(cond_b, base_radius, base_passes)
    base_share, detail_share = saliency_weights(cond_a, cond_b, **options)
    detail = detail_share * (cond_a - base_a) + (1 - detail_share) * (cond_b - base_b)
    return base_share * base_a + (1 - base_share) * base_b + detail
