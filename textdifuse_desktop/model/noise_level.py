"""A noise estimate per source, for noise-adaptive restoration and saliency.

A global noise estimate per source tells clean from noisy inputs reliably: on the training pairs clean
sources measure 0.1-5.6 grey levels (MRI texture is the highest), the composite degradations with noise
5-22.  It drives two inference options of the shipped model:

* the decoded correction fades out when both sources are clean (:func:`restoration_weight`): the trained
  restoration gate never quite reaches zero there, and what it adds costs fidelity (clean MRI-SPECT VIF
  0.950 -> 0.972 without it, on training pairs);
* a noisy source is guided-filtered before fusion (:mod:`.noisy_prefilter`), so that its noise does not win
  the detail selection (this replaced measuring its saliency on a smoothed copy, ``noisy_smooth`` in
  :func:`~.saliency_prior.saliency_weights`, which also handed real structure to a clean but weak source).

Tiles of a large image and region crops each measure their own content, as the FCM's pooled attention does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_IMMERKAER = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


@torch.no_grad()
def noise_sigma(cond: Tensor) -> Tensor:
    """Immerkær's (1996) fast estimate of the noise standard deviation, in grey levels (0..255), per sample.

    ``cond``: ``[B, 1, H, W]`` in ``[-1, 1]`` (the network's conditions).  The mask cancels smooth image
    structure (it is the difference of two Laplacians), so what remains is mostly noise; strong texture
    still adds a little.  Returns ``[B]``.
    """
    x = (cond.float() + 1) * 127.5
    if min(x.shape[-2:]) < 3:
        return torch.zeros(x.shape[0], device=x.device)
    residual = F.conv2d(x, _IMMERKAER.to(x.device)[None, None])
    return math.sqrt(math.pi / 2) / 6 * residual.abs().mean(dim=(1, 2, 3))


def noise_weight(cond: Tensor, floor: float) -> Tensor:
    """How noisy each sample of a source is, ``[B, 1, 1, 1]``: 0 at most ``floor`` grey levels of noise,
    rising linearly to 1 at twice ``floor`` (> 0)."""
    return sigma_weight(noise_sigma(cond), floor)


def sigma_weight(sigma: Tensor, floor: float) -> Tensor:
    """:func:`noise_weight` from already measured :func:`noise_sigma` values ``[B]``."""
    if floor <= 0:
        raise ValueError(f"the noise floor must be > 0 grey levels, got {floor!r}")
    return ((sigma - floor) / floor).clamp(0, 1)[:, None, None, None]


def restoration_weight(cond_a: Tensor, cond_b: Tensor, floor: float) -> Tensor:
    """Per-sample factor ``[B, 1, 1, 1]`` for the decoded correction: the :func:`noise_weight` of the
    noisier source (0 while both are clean)."""
    return torch.maximum(noise_weight(cond_a, floor), noise_weight(cond_b, floor))
