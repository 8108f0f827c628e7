"""Training losses: the paper's fusion loss (stage B), the restoration loss (stage A), the restorer loss (stage R),
the tone loss (stage T)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from textdifuse_desktop.model.network import default_config, edge_preserving_base
from textdifuse_desktop.model.tone import ToneHead, apply_tone, tone_parameters
from textdifuse_desktop.model.train_config import SSIM_TARGETS, STRUCTURES


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(gx^2 + gy^2 + 1e-8)`` with 3x3 Sobel kernels and zero padding, for ``[B,1,H,W]``."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype)
    k = torch.stack([kx, kx.t()])[:, None]
    g = F.conv2d(x, k, padding=1)
    return torch.sqrt(g[:, :1] ** 2 + g[:, 1:] ** 2 + 1e-8)


def _box_mean(v: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over (2r+1)^2 box windows, reflect-padded to the input's size."""
    return F.avg_pool2d(F.pad(v, (radius,) * 4, mode="reflect"), 2 * radius + 1, stride=1)


def ssim_map(x: torch.Tensor, y: torch.Tensor, radius: int = 5, structure_only: bool = False) -> torch.Tensor:
    """Local SSIM of ``[0, 1]`` tensors over (2r+1)^2 box windows (the metric's constants for 8-bit data).

    ``structure_only``: SSIM's structure term alone, the windows' correlation ``(cov + c3) / (sx sy + c3)``,
    blind to the windows' brightness and contrast."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def mean(v: torch.Tensor) -> torch.Tensor:
        return _box_mean(v, radius)

    if structure_only:  # offset-free, so centre first: E[x^2] - E[x]^2 cancels badly in float32 on bright flat areas
        x, y = x - x.mean(dim=(-2, -1), keepdim=True), y - y.mean(dim=(-2, -1), keepdim=True)
    mx, my = mean(x), mean(y)
    vx, vy, cxy = mean(x * x) - mx * mx, mean(y * y) - my * my, mean(x * y) - mx * my
    if structure_only:
        sx, sy = ((v.clamp_min(0) + 1e-8).sqrt() for v in (vx, vy))  # the 1e-8 keeps sqrt's gradient finite at 0
        return (cxy + c2 / 2) / (sx * sy + c2 / 2)
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def local_variance_map(x: torch.Tensor, radius: int = 5) -> torch.Tensor:
    """Variance of ``[B,1,H,W]`` over the (2r+1)^2 box windows of :func:`ssim_map`."""
    return _box_mean(x * x, radius) - _box_mean(x, radius) ** 2


#: Edge-preserving split of the structure terms (``structure="details"``): the shipped network's base, its eps
#: (a variance in [-1, 1] units) converted to the loss's [0, 1] units.
STRUCTURE_RADIUS = default_config()["base_radius"]
STRUCTURE_EPS = default_config()["base_eps"] / 4


def _details(*images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Each image minus its edge-preserving base (the structure terms' ``"details"``)."""
    return tuple(v - edge_preserving_base(v, STRUCTURE_RADIUS, STRUCTURE_EPS) for v in images)


def _ssim_to_sources(x0: torch.Tensor, a: torch.Tensor, b: torch.Tensor, target: str) -> torch.Tensor:
    """Per-pixel SSIM of ``x0`` to the sources, as :func:`fusion_loss`'s ``ssim_target`` asks."""
    if target == "both":
        return 0.5 * (ssim_map(x0, a) + ssim_map(x0, b))
    only = target == "salient-structure"
    chooser = _details(a, b) if target == "salient-texture" else (a, b)
    return torch.where(local_variance_map(chooser[0]) >= local_variance_map(chooser[1]),
                       ssim_map(x0, a, structure_only=only), ssim_map(x0, b, structure_only=only))


def _gradient_loss(x0: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample ``|S(x0) - max(S(a), S(b))|`` (Sobel magnitude), averaged over pixels."""
    target = torch.maximum(sobel_magnitude(a), sobel_magnitude(b))
    return (sobel_magnitude(x0) - target).abs().mean((1, 2, 3))


def fusion_loss(x0: torch.Tensor, a: torch.Tensor, b: torch.Tensor, grad_weight: float = 1.0,
                int_weight: float = 1.0, ssim_weight: float = 0.0, structure: str = "image",
                balance: str = "mean", ssim_target: str = "both",
                grad_details_share: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's fusion loss on ``[0, 1]`` tensors: ``|x0 - max(a, b)|`` + ``grad_weight`` x
    ``|S(x0) - max(S(a), S(b))|`` (Sobel magnitude), plus ``ssim_weight`` x ``1 - (SSIM(x0, a) + SSIM(x0, b)) / 2``;
    returns the loss and its parts.

    ``structure="details"``: the gradient and SSIM terms compare the images' details (each image minus its
    edge-preserving base) instead of the images.  On whole images they reward a dark ring beside a bright object
    whenever the intensity target there is brighter than the source with the stronger edge (a hot figure over a
    lit visible background): the ring makes the fused edge as strong as that source's.  On details, steps are left
    to the intensity term and texture is still rewarded at the stronger source's strength.
    ``structure="grad-details"``: only the gradient term compares details; SSIM compares whole images (whose
    structure term penalises a ring, where the whole-image gradient rewards it).
    ``grad_details_share`` (with ``structure="image"``): that share of the gradient term compares details, the rest
    whole images; between the paper's term (0), whose reward for a ring is mild on most scenes, and grad-details'
    (1), which removes it but also lowers Qabf and VIF (validation.md, run 29).  At 0.5 the ring went and so did
    the MSRS VIF (run 30).

    ``balance="log"``: the batch's loss is the mean of each sample's log loss, so that every sample counts by its
    *relative* change.  A degraded pair's loss is two to four times a clean pair's, so with the plain mean the
    degraded samples' gradients dominate, and the gates learnt what restores at the cost of what keeps clean
    texture (docs/results/validation.md, runs 3-14).

    ``ssim_target="salient"``: the SSIM term takes, per pixel, the SSIM against the source whose local variance is
    larger instead of the mean of both.  Where the sources' contrasts disagree (trees bright in the infrared and dark
    against a bright visible sky) the mean rewards neither and the intensity term's maximum flattens them; this
    rewards keeping the stronger structure with its own sign (validation.md, run 27).  ``"salient-structure"``:
    the same choice of source, but only SSIM's structure (correlation) term: the full SSIM's contrast term also
    rewards matching the chosen source's contrast, and where the fusion's background is brighter than that source's
    (a hot figure over a brightened visible frame) the only way to match it is a dark ring (run 28).
    ``"salient-texture"``: the full SSIM, against the source whose *details* (above the edge-preserving base) vary
    more: a step such as a hot figure's edge leaves the choice to the texture around it, while textured structure
    such as the trees still picks its source (run 28).
    """
    if balance not in ("mean", "log"):
        raise ValueError(f"balance must be 'mean' or 'log', got {balance!r}")
    if ssim_target not in SSIM_TARGETS:
        raise ValueError(f"ssim_target must be one of {SSIM_TARGETS}, got {ssim_target!r}")
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    if grad_details_share and structure != "image":
        raise ValueError(f"grad_details_share mixes structure='image' with details, not {structure!r}")
    per_pixel = (1, 2, 3)
    l_int = (x0 - torch.maximum(a, b)).abs().mean(per_pixel)
    if structure == "details":
        x0, a, b = _details(x0, a, b)
    l_grad = _gradient_loss(x0, a, b)
    share = 1.0 if structure == "grad-details" else grad_details_share  # of the gradient term on details
    if share:
        l_grad = (1 - share) * l_grad + share * _gradient_loss(*_details(x0, a, b))
    loss = int_weight * l_int + grad_weight * l_grad
    parts = {"int": float(l_int.detach().mean()), "grad": float(l_grad.detach().mean())}
    if ssim_weight > 0:
        l_ssim = 1 - _ssim_to_sources(x0, a, b, ssim_target).mean(per_pixel)
        loss = loss + ssim_weight * l_ssim
        parts["ssim"] = float(l_ssim.detach().mean())
    return (loss.clamp_min(1e-6).log().mean() if balance == "log" else loss.mean()), parts


def restoration_loss(out: torch.Tensor, target: torch.Tensor, x0_hat: torch.Tensor, x0: torch.Tensor, *,
                     l1_weight: float, ssim_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage A's loss: MSE of the network output against the sampler's training target, plus ``l1_weight`` x the L1
    of the x0 estimate ``x0_hat`` against the clean ``x0`` (both in [-1, 1]), plus ``ssim_weight`` x (1 - SSIM) of
    the two.  The MSE is dominated by tone errors; SSIM weighs the noise left in dark, flat regions as the fusion
    metrics do.  The plain mean over the batch: a log balance (as stage B's) was tried and collapses the restorer
    to the identity, since clean crops and low timesteps reach a loss near 0 and dominate the logarithm
    (docs/results/validation.md, run 15)."""
    per_pixel = (1, 2, 3)
    mse = ((out - target) ** 2).mean(per_pixel)
    l1 = (x0_hat - x0).abs().mean(per_pixel)
    loss = mse + l1_weight * l1
    parts = {"mse": float(mse.detach().mean()), "l1": float(l1.detach().mean())}
    if ssim_weight > 0:
        dissimilarity = 1 - ssim_map(((x0_hat + 1) / 2).clamp(0, 1), (x0 + 1) / 2).mean(per_pixel)
        loss = loss + ssim_weight * dissimilarity
        parts["1-ssim"] = float(dissimilarity.detach().mean())
    return loss.mean(), parts


def restorer_loss(restored: torch.Tensor, clean: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage R: the restored source against its target (``[B, 1, H, W]`` in [0, 1]; the clean source through the
    degradation's tone ops), L1 + (1 - SSIM).  The L1 keeps intensities (and clean sources) as they were; SSIM
    weighs the noise left in dark, flat regions and the lost texture as the fusion metrics do."""
    l1 = (restored - clean).abs().mean()
    dissimilarity = 1 - ssim_map(restored, clean).mean()
    return l1 + dissimilarity, {"l1": float(l1.detach()), "1-ssim": float(dissimilarity.detach())}


def tone_loss(head: ToneHead, degraded: tuple[torch.Tensor, torch.Tensor], restored: tuple[torch.Tensor, torch.Tensor],
              clean: tuple[torch.Tensor, torch.Tensor], modalities: tuple = (None, None),
              detail_weight: float = 0.0) -> torch.Tensor:
    """Stage T: the restored degraded pair through its curves against the clean pair (``[B, 1, H, W]`` in [0, 1]),
    L1 + (1 - SSIM) on 4x4 means.  The curve is a low-frequency property, and averaging keeps the noise the restorer
    left out of the loss; SSIM weighs dark regions as the metrics do (an offset of a few grey levels, invisible to
    the L1, erases a faint background).  ``detail_weight`` adds the L1 of the horizontal and vertical differences on
    2x2 means, the detail a curve clips or flattens: without it the head took offsets that clipped the dark tissue
    beside a black background, and every head trained on the restored statistics brightened the flat dark frame of
    the no-ring check into a ring; the shipped head, trained with weight 2, clips less and passes that check
    (validation.md, run 24).  The head reads the pair both as degraded and as restored (see :mod:`.tone`).
    ``modalities``: the sources', per sample (None where hidden or unknown)."""
    total = torch.zeros((), device=degraded[0].device)
    for x, params, c in zip(restored, tone_parameters(head, degraded, restored, modalities), clean):
        toned = apply_tone(x, params)
        corrected, target = F.avg_pool2d(toned, 4), F.avg_pool2d(c, 4)
        total = total + (corrected - target).abs().mean() + (1 - ssim_map(corrected, target, radius=2).mean())
        if detail_weight > 0:
            fine, fine_target = F.avg_pool2d(toned, 2), F.avg_pool2d(c, 2)
            for dim in (-1, -2):
                total = total + detail_weight * (fine.diff(dim=dim) - fine_target.diff(dim=dim)).abs().mean()
    return total / 2
