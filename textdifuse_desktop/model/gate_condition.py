"""What the pixel gate is told about each source's condition: image statistics that separate clean from degraded.

Trained on clean and degraded pairs alike, the gate's convolutional features could not tell a clean source from a
degraded one (docs/results/validation.md, runs 3-9): clean pairs and degraded pairs pulled its detail gains and
restoration gate in opposite directions, so every restoration gain cost clean texture.  These statistics make the
difference explicit (image statistics as input features, as the tone head has): per source, the energy of the
Haar bands at the two finest scales (noise raises them, blur empties the finest first), a robust noise estimate, the
energy of the column means' steps (stripes), the global mean and spread (low light, contrast) and the share of black
pixels.  A small MLP turns both sources' statistics
into a per-channel scale and shift of the gate's first hidden layer (FiLM).  Its last layer starts at zero, so
weights trained without it behave exactly as before.

The statistics are means and medians over the whole input, computed once per fusion with the base layers
(the conditions do not change between sampling steps); a tiled image gets them per tile, and noise, blur and
stripes are much the same in every tile.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

N_STATISTICS = 11
MAX_SAMPLES = 1 << 17  # robust spreads of larger bands come from a fixed strided subsample


def strided_subsample(x: Tensor, limit: int) -> Tensor:
    """``[B, ...]`` flattened per sample to ``[B, n]``, keeping every k-th value so that ``n <= limit`` (a fixed
    subsample: robust statistics of large images at a bounded cost)."""
    flat = x.reshape(x.shape[0], -1)
    return flat[:, :: -(-flat.shape[1] // limit)] if flat.shape[1] > limit else flat


def _mad(x: Tensor) -> Tensor:
    """Median absolute value per sample (``[B, ...]`` -> ``[B]``)."""
    return strided_subsample(x, MAX_SAMPLES).abs().median(dim=1).values


def haar_level(y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One level of the Haar transform: ``(low, vertical, horizontal, diagonal)`` bands of ``[B, C, H, W]``."""
    h, w = y.shape[-2] // 2 * 2, y.shape[-1] // 2 * 2
    c = y[..., :h, :w]
    a, b, d, e = c[..., 0::2, 0::2], c[..., 0::2, 1::2], c[..., 1::2, 0::2], c[..., 1::2, 1::2]
    return (a + b + d + e) / 4, (a + b - d - e) / 2, (a - b + d - e) / 2, (a - b - d + e) / 2


def degradation_statistics(cond: Tensor) -> Tensor:
    """``[B, N_STATISTICS]`` statistics of conditions ``[B, 1, H, W]`` in [-1, 1] (see the module docstring).

    Band energies are mean absolute values (continuous: on a medical image, mostly black background, and on
    smooth 8-bit images most Haar coefficients are exactly 0, so medians say nothing), with the median of the
    diagonal band as the noise estimate that texture does not raise.  All enter as logarithms, scaled to about
    [-1, 1]; the mean, the spread and the share of black pixels (a medical background) as they are.
    """
    y = (cond.float() + 1) / 2
    low, vert, horiz, diag = haar_level(y)
    _, vert2, horiz2, diag2 = haar_level(low)
    columns = y.mean(dim=-2)
    steps = columns[..., 1:] - columns[..., :-1]
    bands = (diag, vert, horiz, diag2, vert2, horiz2, steps)
    energies = torch.stack([b.abs().reshape(b.shape[0], -1).mean(1) for b in bands] + [_mad(diag)], dim=1)
    flat = y.reshape(y.shape[0], -1)
    black = (flat < 1.5 / 255).float().mean(1, keepdim=True)
    return torch.cat([(torch.log(energies + 1e-4) + 5) / 4, flat.mean(1, keepdim=True), flat.std(1, keepdim=True),
                      black], dim=1)


class GateCondition(nn.Module):
    """Both sources' statistics -> per-channel ``(scale, shift)`` of the pixel gate's first hidden layer."""

    def __init__(self, channels: int, hidden: int = 32):
        super().__init__()
        self.channels = channels
        self.mlp = nn.Sequential(nn.Linear(2 * N_STATISTICS, hidden), nn.SiLU(), nn.Linear(hidden, 2 * channels))
        nn.init.zeros_(self.mlp[-1].weight)  # no modulation at the start
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, statistics: Tensor) -> tuple[Tensor, Tensor]:
        """``statistics`` ``[B, 2 * N_STATISTICS]`` -> scale and shift, each ``[B, channels, 1, 1]``."""
        scale, shift = self.mlp(statistics.float()).chunk(2, dim=1)
        return scale[:, :, None, None], shift[:, :, None, None]
