"""The compact Text-DiFuse denoiser: conditional UNet encoder, per-level FCM-lite, fused-feature decoder.

Structure (method.md §2, §10.2-10.3):

* ``encode(x_t, cond, t)`` runs once per source on the *shared* noisy state ``x_t`` with that source as
  its condition (input ``concat(x_t, cond)``), behind a PixelUnshuffle stem so that the finest level
  works at half resolution.  It returns one feature map per level plus the bottleneck.
* ``fuse_features`` combines the two sources' features at every level with the Fusion Control Module
  (GFCM pattern: gates from ``concat(f_a, f_b, MLP(t_emb))`` -> depthwise-separable conv + GN + SiLU ->
  CBAM -> conv -> sigmoid -> ``(w_a, w_b, bias)``; ``f = w_a*f_a + w_b*f_b + bias``) or with one of the
  paper's ablation rules (``max``, ``add``, ``mean``, ``variance``).
* ``decode(feats, t)`` sees only (fused) features and predicts ``x0`` or ``v`` (see :mod:`.sampler`).
* With ``output="gated_residual"`` (the shipped design, x0 prediction only) the decoder's prediction is a
  *residual* on top of a pixel-level mix of the conditions: ``x0 = m*cond_a + (1-m)*cond_b + decoded``,
  where the mix weight ``m`` comes from a small full-resolution gate (:class:`PixelGate`, part of the
  FCM, trained in stage B) and single-source restoration is ``x0 = cond + decoded``.  This skip keeps
  black backgrounds black and lets the compact network spend its capacity on restoration and on
  the fusion decision instead of re-synthesising every pixel, which matters for short training runs.

Modulation (OUR parameterisation, not the paper's): optional per-pixel maps ``kappa_a`` / ``kappa_b``
``[B,1,H,W]`` multiply the corresponding gate at every level (resampled by area interpolation);
1.0 leaves the gate unchanged, values are clamped to ``[0.5, 3]``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)

RULES = ("fcm", "max", "add", "mean", "variance")
KAPPA_RANGE = (0.5, 3.0)


def default_config() -> dict[str, Any]:
    """The shipped architecture (about 2.6 M parameters; 0.23 s per fused step at 640x480 on 2 CPU cores)."""
    return {"widths": [16, 32, 64, 128], "stem": 2, "emb_dim": 128, "groups": 8, "dec_blocks": 1,
            "fcm_hidden": 0.5, "fcm_t_channels": 8, "prediction_type": "x0", "output": "gated_residual"}


def tiny_config() -> dict[str, Any]:
    """A very small random model for tests (multiple 8)."""
    return {"widths": [8, 16, 16], "stem": 2, "emb_dim": 16, "groups": 4, "dec_blocks": 1,
            "fcm_hidden": 0.5, "fcm_t_channels": 4, "prediction_type": "x0", "output": "gated_residual"}


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of (possibly fractional) timesteps in 0..1000, shape ``[B, dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _gn(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class TimeMLP(nn.Module):
    """Sinusoidal features -> Linear -> SiLU -> Linear."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.net = nn.Sequential(nn.Linear(dim, dim * 2), nn.SiLU(), nn.Linear(dim * 2, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.net(timestep_embedding(t, self.dim))


class ResBlock(nn.Module):
    """GN-SiLU-conv -> FiLM(t) -> SiLU -> zero-init conv, plus a (1x1) skip."""

    def __init__(self, cin: int, cout: int, emb_dim: int, groups: int):
        super().__init__()
        self.norm1 = _gn(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = _gn(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.skip(x) + self.conv2(F.silu(h))


class Encoder(nn.Module):
    """PixelUnshuffle stem + one ResBlock per level (stride-2 conv between levels) + bottleneck block."""

    def __init__(self, widths: list[int], stem: int, emb_dim: int, groups: int):
        super().__init__()
        self.time = TimeMLP(emb_dim)
        self.stem = nn.Sequential(nn.PixelUnshuffle(stem), nn.Conv2d(2 * stem * stem, widths[0], 3, padding=1))
        self.blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        prev = widths[0]
        for i, width in enumerate(widths):
            self.blocks.append(ResBlock(prev, width, emb_dim, groups))
            if i < len(widths) - 1:
                self.downs.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
            prev = width
        self.mid = ResBlock(prev, prev, emb_dim, groups)

    def forward(self, x_t: Tensor, cond: Tensor, t: Tensor) -> list[Tensor]:
        emb = self.time(t)
        h = self.stem(torch.cat([x_t, cond], dim=1))
        feats = []
        for i, block in enumerate(self.blocks):
            h = block(h, emb)
            feats.append(h)
            if i < len(self.downs):
                h = self.downs[i](h)
        feats.append(self.mid(h, emb))
        return feats


class Decoder(nn.Module):
    """Bottleneck block, then per level (coarse -> fine) ResBlocks on ``concat(h, skip)`` and upsampling."""

    def __init__(self, widths: list[int], stem: int, emb_dim: int, groups: int, dec_blocks: int):
        super().__init__()
        self.time = TimeMLP(emb_dim)
        self.mid = ResBlock(widths[-1], widths[-1], emb_dim, groups)
        self.blocks = nn.ModuleList()
        self.ups = nn.ModuleList()
        prev = widths[-1]
        for i in reversed(range(len(widths))):
            level = nn.ModuleList([ResBlock(prev + widths[i], widths[i], emb_dim, groups)])
            level.extend(ResBlock(widths[i], widths[i], emb_dim, groups) for _ in range(dec_blocks - 1))
            self.blocks.append(level)
            prev = widths[i]
            if i > 0:
                self.ups.append(nn.Conv2d(widths[i], widths[i - 1], 3, padding=1))
                prev = widths[i - 1]
        self.out = nn.Sequential(_gn(widths[0], groups), nn.SiLU(),
                                 nn.Conv2d(widths[0], stem * stem, 3, padding=1), nn.PixelShuffle(stem))

    def forward(self, feats: list[Tensor], t: Tensor) -> Tensor:
        emb = self.time(t)
        skips = feats[:-1]
        h = self.mid(feats[-1], emb)
        for j, level in enumerate(self.blocks):
            h = torch.cat([h, skips[-1 - j]], dim=1)
            for block in level:
                h = block(h, emb)
            if j < len(self.ups):
                h = self.ups[j](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h)


class CBAM(nn.Module):
    """Channel attention (avg/max pool -> shared MLP) then spatial attention (7x7 conv)."""

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x: Tensor) -> Tensor:
        att = self.mlp(x.mean(dim=(2, 3), keepdim=True)) + self.mlp(x.amax(dim=(2, 3), keepdim=True))
        x = x * torch.sigmoid(att)
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class FusionControl(nn.Module):
    """FCM-lite for one level: gates ``(w_a, w_b, bias)`` from both sources' features and the timestep."""

    def __init__(self, channels: int, emb_dim: int, groups: int, hidden: int, t_channels: int):
        super().__init__()
        cin = 2 * channels + t_channels
        self.t_proj = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, t_channels))
        self.body = nn.Sequential(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin), nn.Conv2d(cin, hidden, 1),
            _gn(hidden, groups), nn.SiLU(), CBAM(hidden))
        self.head = nn.Conv2d(hidden, 3 * channels, 3, padding=1)
        # Start as the mean rule (w = 0.5, bias = 0) so stage B begins from a sane fusion.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, f_a: Tensor, f_b: Tensor, emb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        temb = self.t_proj(emb)[:, :, None, None].expand(-1, -1, *f_a.shape[2:])
        gates = torch.sigmoid(self.head(self.body(torch.cat([f_a, f_b, temb], dim=1))))
        w_a, w_b, b = gates.chunk(3, dim=1)
        return w_a, w_b, 2.0 * b - 1.0  # bias centred on 0 (a shifted sigmoid)


def _local_variance(f: Tensor) -> Tensor:
    mean = F.avg_pool2d(f, 3, stride=1, padding=1, count_include_pad=False)
    sq = F.avg_pool2d(f * f, 3, stride=1, padding=1, count_include_pad=False)
    return (sq - mean * mean).clamp_min(0.0)


def _resize_map(kappa: Tensor | None, like: Tensor) -> Tensor | None:
    if kappa is None:
        return None
    kappa = kappa.to(dtype=like.dtype, device=like.device)
    if kappa.shape[-2:] != like.shape[-2:]:
        kappa = F.interpolate(kappa, size=like.shape[-2:], mode="area" if kappa.shape[-1] >= like.shape[-1]
                              else "bilinear")
    return kappa.clamp(*KAPPA_RANGE)


class PixelGate(nn.Module):
    """Full-resolution mix weight ``m`` (logit) from both sources' finest features and the timestep."""

    def __init__(self, channels: int, emb_dim: int, stem: int, t_channels: int):
        super().__init__()
        self.t_proj = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, t_channels))
        hidden = max(channels, 8)
        self.body = nn.Sequential(nn.Conv2d(2 * channels + t_channels, hidden, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU())
        self.head = nn.Sequential(nn.Conv2d(hidden, stem * stem, 3, padding=1), nn.PixelShuffle(stem))
        # Start as the mean rule (m = 0.5).
        nn.init.zeros_(self.head[0].weight)
        nn.init.zeros_(self.head[0].bias)

    def forward(self, f_a: Tensor, f_b: Tensor, emb: Tensor) -> Tensor:
        temb = self.t_proj(emb)[:, :, None, None].expand(-1, -1, *f_a.shape[2:])
        return self.head(self.body(torch.cat([f_a, f_b, temb], dim=1)))


def _rule_mix(rule: str, cond_a: Tensor, cond_b: Tensor) -> Tensor:
    """Pixel mix weight of source A for the ablation rules (applied to the conditions)."""
    if rule == "max":
        return (cond_a >= cond_b).to(cond_a.dtype)
    if rule == "variance":
        v_a, v_b = _local_variance(cond_a), _local_variance(cond_b)
        return v_a / (v_a + v_b + 1e-6)
    return torch.full_like(cond_a, 0.5)  # mean, add


class FusionDiffusionNet(nn.Module):
    """Encoder x2 (shared weights, one condition each) -> FCM per level -> decoder.

    ``multiple``: H and W of inputs must be multiples of it (pad before, crop after).
    """

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        self.config = {**default_config(), **(config or {})}
        c = self.config
        widths = list(c["widths"])
        self.multiple = int(c["stem"]) * 2 ** (len(widths) - 1)
        self.encoder = Encoder(widths, c["stem"], c["emb_dim"], c["groups"])
        self.decoder = Decoder(widths, c["stem"], c["emb_dim"], c["groups"], c["dec_blocks"])
        self.fcm_time = TimeMLP(c["emb_dim"])
        hidden = [max(int(w * c["fcm_hidden"]), 8) for w in widths + [widths[-1]]]
        self.fcm = nn.ModuleList(FusionControl(w, c["emb_dim"], c["groups"], h, c["fcm_t_channels"])
                                 for w, h in zip(widths + [widths[-1]], hidden))
        self.gated_residual = c.get("output", "direct") == "gated_residual"
        if self.gated_residual:
            if c["prediction_type"] != "x0":
                raise ValueError("output='gated_residual' needs prediction_type='x0'")
            self.pixel_gate = PixelGate(widths[0], c["emb_dim"], c["stem"], c["fcm_t_channels"])
            # A fresh network restores nothing and fuses by the mean rule: x0 = the conditions' mix.
            nn.init.zeros_(self.decoder.out[2].weight)
            nn.init.zeros_(self.decoder.out[2].bias)

    def encode(self, x_t: Tensor, cond: Tensor, t: Tensor) -> list[Tensor]:
        """Per-level features of one source (condition ``cond``) on the noisy state ``x_t``."""
        return self.encoder(x_t, cond, t)

    def fuse_features(self, feats_a: list[Tensor], feats_b: list[Tensor], t: Tensor, *, rule: str = "fcm",
                      kappa_a: Tensor | None = None, kappa_b: Tensor | None = None) -> list[Tensor]:
        """Fuse two feature pyramids level by level with ``rule``; kappa maps multiply the gates."""
        if rule not in RULES:
            raise ValueError(f"unknown fusion rule {rule!r}; choose one of {', '.join(RULES)}")
        emb = self.fcm_time(t) if rule == "fcm" else None
        fused = []
        for level, (f_a, f_b) in enumerate(zip(feats_a, feats_b)):
            bias: Tensor | float = 0.0
            if rule == "fcm":
                w_a, w_b, bias = self.fcm[level](f_a, f_b, emb)
            elif rule == "max":
                w_a = (f_a >= f_b).to(f_a.dtype)
                w_b = 1.0 - w_a
            elif rule == "add":
                w_a = w_b = torch.ones_like(f_a[:, :1])
            elif rule == "mean":
                w_a = w_b = torch.full_like(f_a[:, :1], 0.5)
            else:  # variance: the source with more local activity gets more weight
                v_a, v_b = _local_variance(f_a), _local_variance(f_b)
                w_a = v_a / (v_a + v_b + 1e-6)
                w_b = 1.0 - w_a
            k_a, k_b = _resize_map(kappa_a, f_a), _resize_map(kappa_b, f_a)
            if k_a is not None:
                w_a = w_a * k_a
            if k_b is not None:
                w_b = w_b * k_b
            fused.append(w_a * f_a + w_b * f_b + bias)
        return fused

    def decode(self, feats: list[Tensor], t: Tensor) -> Tensor:
        """Prediction (``x0`` or ``v``, see ``config['prediction_type']``) from (fused) features."""
        return self.decoder(feats, t)

    def forward(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor | None = None, *, rule: str = "fcm",
                kappa_a: Tensor | None = None, kappa_b: Tensor | None = None) -> Tensor:
        """One denoiser evaluation; ``cond_b=None`` is single-source restoration (no fusion)."""
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        if cond_b is None:
            out = self.decode(self.encode(x_t, cond_a, t), t)
            return cond_a + out if self.gated_residual else out
        # One batched encoder pass for both sources is faster than two calls.
        feats = self.encode(torch.cat([x_t, x_t]), torch.cat([cond_a, cond_b]), torch.cat([t, t]))
        feats_a, feats_b = zip(*(f.chunk(2) for f in feats))
        fused = self.fuse_features(list(feats_a), list(feats_b), t, rule=rule, kappa_a=kappa_a, kappa_b=kappa_b)
        out = self.decode(fused, t)
        if not self.gated_residual:
            return out
        if rule == "fcm":
            m = torch.sigmoid(self.pixel_gate(feats_a[0], feats_b[0], self.fcm_time(t)).float()).to(out.dtype)
        else:
            m = _rule_mix(rule, cond_a, cond_b)
        k_a, k_b = _resize_map(kappa_a, m), _resize_map(kappa_b, m)
        if k_a is not None or k_b is not None:
            wa = m * (k_a if k_a is not None else 1.0)
            wb = (1 - m) * (k_b if k_b is not None else 1.0)
            m = wa / (wa + wb + 1e-6)
        return m * cond_a + (1 - m) * cond_b + out

    def mix_weight(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor) -> Tensor:
        """The learned pixel mix weight of source A (for inspection); needs ``gated_residual``."""
        feats = self.encode(torch.cat([x_t, x_t]), torch.cat([cond_a, cond_b]), torch.cat([t, t]))
        return torch.sigmoid(self.pixel_gate(feats[0][: x_t.shape[0]], feats[0][x_t.shape[0]:], self.fcm_time(t)))

    def fcm_parameters(self) -> list[nn.Parameter]:
        """Parameters trained in stage B (the per-level FCMs, their time MLP and the pixel gate)."""
        params = list(self.fcm.parameters()) + list(self.fcm_time.parameters())
        return params + (list(self.pixel_gate.parameters()) if self.gated_residual else [])

    def denoiser_parameters(self) -> list[nn.Parameter]:
        """Parameters trained in stage A (encoder + decoder)."""
        return list(self.encoder.parameters()) + list(self.decoder.parameters())


def build_model(config: dict[str, Any] | None = None) -> FusionDiffusionNet:
    """A fresh (random) network; ``config`` overrides :func:`default_config` keys."""
    return FusionDiffusionNet(config)


def count_parameters(net: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in net.parameters())
