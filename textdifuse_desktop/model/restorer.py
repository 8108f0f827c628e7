"""The learned source restorer: a compact convolutional network that restores each source once, before sampling.

Why it exists (docs/results/validation.md, run 16): the diffusion encoder and decoder are shared by the sampling
steps and the fusion, and stage B re-tunes them for the gated fusion output; trained on the CPU they learnt the tone
operations but not to remove infrared and visible noise or stripes, and stage B erased what they had learnt.  The
restorer is trained by itself (stage R) on single degraded sources, so what it learns stays learnt.  It removes the
local degradations (noise, stripes, impulses, blur) and keeps the tones: its target is the clean source through the
degradation's tone ops alone, since a crop cannot tell a dark scene from low light.  The FCM then fuses restored
sources, and the diffusion decoder's gated correction (and the tone head, when there is one) corrects the tones.

Design: PixelUnshuffle(2) stem, a four-level UNet of pre-norm residual blocks (the norm is over each pixel's
channels, never over the image, so that a pixel's result depends on its neighbourhood only and tiles of one image
agree; without a norm the training diverged after about 700 iterations), PixelShuffle back to full
resolution, and a residual output ``restored = y + correction``.  The output convolution starts at zero: a fresh
restorer is the identity.  No threshold decides whether to restore: the network reads the degradation from the
image.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import Tensor, nn

from textdifuse_desktop.model.layers import NearestUpConv

#: Channels of the four levels (half, quarter, eighth and sixteenth resolution) and residual blocks per level.
DEFAULT_WIDTHS = (16, 32, 64, 96)
DEFAULT_BLOCKS = (1, 1, 2, 2)


class _PixelNorm(nn.Module):
    """Layer norm over the channels of each pixel (as NAFNet's LayerNorm2d): local, unlike group or batch norm."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class _ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(_PixelNorm(channels), nn.Conv2d(channels, channels, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Restorer(nn.Module):
    """``forward(y)``: the restored source, ``[B,1,H,W]`` in [0, 1] units (H and W multiples of :attr:`multiple`).

    ``forward(y, strength)`` scales the correction (1 = as trained, 0 = the input).
    """

    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS, blocks: Sequence[int] = DEFAULT_BLOCKS):
        super().__init__()
        if len(widths) != len(blocks) or len(widths) < 2:
            raise ValueError(f"widths and blocks need one entry per level (at least 2): {widths}, {blocks}")
        self.multiple = 2 * 2 ** (len(widths) - 1)
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4, widths[0], 3, padding=1))
        self.down_blocks = nn.ModuleList(nn.Sequential(*(_ResBlock(w) for _ in range(n)))
                                         for w, n in zip(widths[:-1], blocks[:-1]))
        self.downs = nn.ModuleList(nn.Conv2d(w, w_next, 3, stride=2, padding=1)
                                   for w, w_next in pairwise(widths))
        self.middle = nn.Sequential(*(_ResBlock(widths[-1]) for _ in range(blocks[-1])))
        self.ups = nn.ModuleList(NearestUpConv(w_next, w) for w, w_next in pairwise(widths))
        self.up_blocks = nn.ModuleList(_ResBlock(w) for w in widths[:-1])
        self.out = nn.Sequential(nn.SiLU(), nn.Conv2d(widths[0], 4, 3, padding=1), nn.PixelShuffle(2))
        nn.init.zeros_(self.out[1].weight)
        nn.init.zeros_(self.out[1].bias)

    def correction(self, y: Tensor) -> Tensor:
        """What the restorer adds to ``y`` (``[B,1,H,W]``, [0, 1] units)."""
        if y.ndim != 4 or y.shape[1] != 1:
            raise ValueError(f"the restorer takes [B,1,H,W], got {tuple(y.shape)}")
        if y.shape[-1] % self.multiple or y.shape[-2] % self.multiple:
            raise ValueError(f"restorer input H and W must be multiples of {self.multiple}, got {tuple(y.shape[-2:])}")
        x = self.stem(y * 2 - 1)
        skips = []
        for blocks, down in zip(self.down_blocks, self.downs):
            x = blocks(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for up, block, skip in zip(reversed(self.ups), reversed(self.up_blocks), reversed(skips)):
            x = block(up(x) + skip)
        return self.out(x) / 2

    def forward(self, y: Tensor, strength: float = 1.0) -> Tensor:
        return y + strength * self.correction(y)
