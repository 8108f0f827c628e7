"""The compact Text-DiFuse denoiser: conditional UNet encoder, per-level FCM, fused-feature decoder.

Structure (method.md §2, §10.2-10.3):

* ``encode(x_t, cond, t)`` runs once per source on the *shared* noisy state ``x_t`` with that source as
  its condition (input ``concat(x_t, cond)``), behind a PixelUnshuffle stem so that the finest level
  works at half resolution.  It returns one feature map per level plus the bottleneck.
* ``fuse_features`` combines the two sources' features at every level with the Fusion Control Module
  (GFCM pattern: gates from ``concat(f_a, f_b, MLP(t_emb))`` -> depthwise-separable conv + GN + SiLU ->
  CBAM -> conv -> sigmoid -> ``(w_a, w_b, bias)``; ``f = w_a*f_a + w_b*f_b + bias``) or with one of the
  paper's ablation rules (``max``, ``add``, ``mean``, ``variance``).
* ``decode(feats, t)`` sees only (fused) features and predicts ``x0`` or ``v`` (see :mod:`.sampler`).
* With ``output="gated_residual"`` (x0 prediction only) the decoder's prediction is a *residual* on top of a
  pixel-level mix of the conditions: ``x0 = m*cond_a + (1-m)*cond_b + decoded``, the mix weight ``m`` from a
  small full-resolution gate (:class:`~.fusion_heads.PixelGate`, part of the FCM, trained in stage B); single-source
  restoration is ``x0 = cond + decoded``.
* With ``output="two_scale"`` (the shipped design) the conditions are split into a smooth base and details.  The
  base keeps strong edges (:func:`~.fusion_heads.edge_preserving_base`, ``base_radius`` / ``base_eps``), so the
  details beside a bright object hold its texture, not the wide negative lobe of a box base that a kept detail turns
  into a dark ring; ``base_eps=0`` is the box base (:func:`~.fusion_heads.base_layer`, ``base_passes``) of weights
  saved before.  The FCM's pixel gate
  (four maps, computed at every sampling step from both sources' features, the time step and, with
  ``gate_sources``, the conditions themselves) fuses them:
  ``x0 = m*base_a + (1-m)*base_b + g_a*det_a + g_b*det_b + r*decoded`` with ``m, r`` in (0, 1) and the detail
  gains ``g`` in (0, 2).  Every one of these weights is learned: the base mix carries intensity (PET uptake,
  hot targets), the gains keep the texture of both sources, and the restoration gate ``r`` decides per pixel
  how much of the decoder's correction (denoising, destriping, exposure and contrast, deblurring) the result
  takes.  No threshold or hand-made weight map sits on this path; the classical rules live in
  :mod:`textdifuse_desktop.fusion.classical`.
* With ``restorer`` (the shipped design) a compact UNet (:mod:`.restorer`) restores each source once before
  sampling (noise, stripes, impulses, blur; it keeps the tones), so that the FCM fuses restored sources; trained by
  itself in stage R.
* With ``tone_head`` (the shipped design, :data:`TONE_HEAD_VERSION`) a small MLP (:mod:`.tone`) reads both
  sources' global intensity statistics, raw and restored, and predicts each source's inverse tone curve (contrast
  loss, low light, over-exposure), applied to the restored sources once before sampling
  (:func:`~.inference.prepare_sources`); the convolutional path cannot see a whole image, which such global
  degradations need.  Trained in stage T, after stage R.

Modulation (the paper's Eq. 13 idea, OUR parameterisation): optional per-pixel maps ``kappa_a`` / ``kappa_b``
``[B,1,H,W]`` multiply the corresponding FCM gate at every level (resampled by area interpolation) and re-weight
the pixel gate's learned base mix and detail gains; 1.0 leaves the gates unchanged, values are clamped to
``[0.5, 3]``.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import torch
from torch import Tensor, nn

from textdifuse_desktop.model.fusion_heads import (
    BASE_RADIUS,
    KAPPA_RANGE,
    FusionControl,
    PixelGate,
    base_layer,
    edge_preserving_base,
    local_variance,
    modulate_mix,
    resize_kappa,
    rule_mix,
    two_scale_mix,
)
from textdifuse_desktop.model.gate_condition import degradation_statistics
from textdifuse_desktop.model.layers import Decoder, Encoder, TimeMLP
from textdifuse_desktop.model.restorer import DEFAULT_BLOCKS, DEFAULT_WIDTHS, Restorer
from textdifuse_desktop.model.tone import ToneHead, tone_parameters

__all__ = [
    "KAPPA_RANGE",
    "OUTPUTS",
    "RULES",
    "FusionDiffusionNet",
    "base_layer",
    "build_model",
    "count_parameters",
    "default_config",
    "edge_preserving_base",
    "tiny_config",
]

log = logging.getLogger(__name__)

RULES = ("fcm", "max", "add", "mean", "variance")
#: ``tone_head`` of the current design (reads raw and restored statistics, curves after the restorer).  Version 1
#: (raw statistics only, curves before the restorer) is converted on loading (:mod:`.weights`).
TONE_HEAD_VERSION = 2
OUTPUTS = ("direct", "gated_residual", "two_scale")


def default_config() -> dict[str, Any]:
    """The shipped architecture (about 3.4 M parameters, 0.76 M of them the restorer)."""
    return {"widths": [16, 32, 64, 128], "stem": 2, "emb_dim": 128, "groups": 8, "dec_blocks": 1,
            "fcm_hidden": 0.5, "fcm_t_channels": 8, "prediction_type": "x0", "output": "two_scale",
            "gate_sources": 1, "gate_context": 0, "tone_head": 0, "base_radius": 15, "base_passes": 1,
            "base_eps": 0.02, "restorer": 1}


def tiny_config() -> dict[str, Any]:
    """A very small random model for tests (multiple 8), the shipped design at a smaller size (the restorer off:
    tests that need one turn it on)."""
    return {"widths": [8, 16, 16], "stem": 2, "emb_dim": 16, "groups": 4, "dec_blocks": 1,
            "fcm_hidden": 0.5, "fcm_t_channels": 4, "prediction_type": "x0", "output": "two_scale",
            "gate_sources": 1, "tone_head": TONE_HEAD_VERSION, "base_radius": 4, "base_passes": 2, "base_eps": 0.02,
            "restorer": 0, "restorer_widths": [8, 16, 16], "restorer_blocks": [1, 1, 1]}


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
        self.output = c.get("output", "direct")
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown output {self.output!r}; choose one of {', '.join(OUTPUTS)}")
        self.residual_output = self.output != "direct"  # x0 = (fused) conditions + decoded residual
        if self.residual_output:
            if c["prediction_type"] != "x0":
                raise ValueError(f"output={self.output!r} needs prediction_type='x0'")
            self.base_shape = (int(c.get("base_radius", BASE_RADIUS)), int(c.get("base_passes", 2)))
            self.base_eps = float(c.get("base_eps", 0.0))
            self.gate_sources = bool(c.get("gate_sources", 0))
            self.pixel_gate = PixelGate(widths[0], c["emb_dim"], c["stem"], c["fcm_t_channels"],
                                        maps=4 if self.output == "two_scale" else 1,
                                        sees_sources=self.gate_sources,
                                        context_channels=widths[-1] if c.get("gate_context", 0) else 0,
                                        conditioned=bool(c.get("gate_condition", 0)))
            # A fresh network restores nothing and fuses by the mean rule: x0 = the conditions' mix.
            nn.init.zeros_(self.decoder.out[2].weight)
            nn.init.zeros_(self.decoder.out[2].bias)
        # The learned global tone correction of each source (:mod:`.tone`), applied before the sampler runs.
        # Built last, so that it leaves the random initialisation of the other modules as it was.
        if c.get("tone_head", 0) not in (0, TONE_HEAD_VERSION):
            raise ValueError(f"tone_head must be 0 (none) or {TONE_HEAD_VERSION}, not {c['tone_head']!r}")
        self.tone = ToneHead() if c.get("tone_head", 0) else None
        # The learned source restorer (:mod:`.restorer`), run on each source once before the sampler; built after
        # the tone head for the same reason.
        self.restorer = None
        if c.get("restorer", 0):
            self.restorer = Restorer(c.get("restorer_widths", DEFAULT_WIDTHS),
                                     c.get("restorer_blocks", DEFAULT_BLOCKS))
            if self.multiple % self.restorer.multiple:
                raise ValueError(f"the restorer needs sizes in multiples of {self.restorer.multiple}, which the "
                                 f"network's multiple {self.multiple} is not")

    def encode(self, x_t: Tensor, cond: Tensor, t: Tensor) -> list[Tensor]:
        """Per-level features of one source (condition ``cond``) on the noisy state ``x_t``."""
        return self.encoder(x_t, cond, t)

    def encode_pair(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Both sources' feature pyramids on the shared state, in one batched encoder pass (faster than two)."""
        feats = self.encode(torch.cat([x_t, x_t]), torch.cat([cond_a, cond_b]), torch.cat([t, t]))
        feats_a, feats_b = zip(*(f.chunk(2) for f in feats))
        return list(feats_a), list(feats_b)

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
                v_a, v_b = local_variance(f_a), local_variance(f_b)
                w_a = v_a / (v_a + v_b + 1e-6)
                w_b = 1.0 - w_a
            k_a, k_b = resize_kappa(kappa_a, f_a), resize_kappa(kappa_b, f_a)
            if k_a is not None:
                w_a = w_a * k_a
            if k_b is not None:
                w_b = w_b * k_b
            fused.append(w_a * f_a + w_b * f_b + bias)
        return fused

    def decode(self, feats: list[Tensor], t: Tensor) -> Tensor:
        """Prediction (``x0`` or ``v``, see ``config['prediction_type']``) from (fused) features."""
        return self.decoder(feats, t)

    def pixel_gates(self, feats_a: list[Tensor], feats_b: list[Tensor], t: Tensor, cond_a: Tensor,
                    cond_b: Tensor, statistics: Tensor | None = None) -> Tensor:
        """The FCM's full-resolution gate logits (``[B, 4, H, W]`` for two-scale: base mix, detail gains of A
        and B, restoration) from the finest features, the time step, (``gate_sources``) the conditions,
        (``gate_context``) both sources' deepest features and (``gate_condition``) both sources' degradation
        statistics (computed here when not given)."""
        sources = (cond_a, cond_b) if self.gate_sources else None
        context = (feats_a[-1], feats_b[-1]) if self.pixel_gate.context is not None else None
        if self.gate_conditioned and statistics is None:
            statistics = self.gate_statistics(cond_a, cond_b)
        return self.pixel_gate(feats_a[0], feats_b[0], self.fcm_time(t), sources, context, statistics).float()

    @property
    def gate_conditioned(self) -> bool:
        """Whether the pixel gate reads the sources' degradation statistics (``gate_condition``)."""
        return self.residual_output and self.pixel_gate.condition is not None

    def gate_statistics(self, cond_a: Tensor, cond_b: Tensor) -> Tensor:
        """Both conditions' degradation statistics side by side (``[B, 2N]``), for ``gate_condition``."""
        return torch.cat([degradation_statistics(cond_a), degradation_statistics(cond_b)], dim=1)

    def forward(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor | None = None, *, rule: str = "fcm",
                kappa_a: Tensor | None = None, kappa_b: Tensor | None = None, restore: float | Tensor = 1.0,
                return_restoration: bool = False, statistics: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """One denoiser evaluation; ``cond_b=None`` is single-source restoration (no fusion).

        ``restore`` scales the decoded correction of the residual outputs (1 = as trained, 0 = fusion of
        the conditions only); ignored by ``output="direct"``.  ``return_restoration`` (two-scale fusion):
        also return the gated correction ``r*decoded``.  ``statistics`` (``gate_condition``): both sources'
        degradation statistics of the whole image or volume (:meth:`gate_statistics`, one row for every sample);
        computed from the conditions when None.
        """
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        if cond_b is None:
            out = self.decode(self.encode(x_t, cond_a, t), t)
            return cond_a + restore * out if self.residual_output else out
        feats_a, feats_b = self.encode_pair(x_t, t, cond_a, cond_b)
        fused = self.fuse_features(feats_a, feats_b, t, rule=rule, kappa_a=kappa_a, kappa_b=kappa_b)
        out = self.decode(fused, t)
        if not self.residual_output:
            return out
        out = out * restore
        fixed = self._bases(cond_a, cond_b, statistics) if self.output == "two_scale" or self.gate_conditioned else ()
        statistics = fixed[2] if len(fixed) > 2 else None
        gates = self.pixel_gates(feats_a, feats_b, t, cond_a, cond_b, statistics) if rule == "fcm" else None
        if self.output == "two_scale":
            bases = fixed[:2]
            x0 = two_scale_mix(gates, out, cond_a, cond_b, rule, kappa_a, kappa_b, bases)
            if not return_restoration:
                return x0
            mixed = two_scale_mix(gates, torch.zeros_like(out), cond_a, cond_b, rule, kappa_a, kappa_b, bases)
            return x0, x0 - mixed
        m = torch.sigmoid(gates).to(out.dtype) if gates is not None else rule_mix(rule, cond_a, cond_b)
        m = modulate_mix(m, resize_kappa(kappa_a, m), resize_kappa(kappa_b, m))
        return m * cond_a + (1 - m) * cond_b + out

    def _bases(self, cond_a: Tensor, cond_b: Tensor, statistics: Tensor | None = None) -> tuple[Tensor, ...]:
        """:meth:`compute_bases` (base layers, and the gate's degradation statistics), remembered across the
        sampling steps of one fusion.

        The cache holds weak references to the two condition tensors (the sampler passes the same objects
        at every step and never modifies them), so a new fusion can never hit stale results.  Inference only.
        """
        cached = self.__dict__.get("_base_cache")
        if cached is not None and cached[0]() is cond_a and cached[1]() is cond_b:
            return cached[2]
        bases = self.compute_bases(cond_a, cond_b, statistics)
        if not torch.is_grad_enabled():
            self.__dict__["_base_cache"] = (weakref.ref(cond_a), weakref.ref(cond_b), bases)
        return bases

    def compute_bases(self, cond_a: Tensor, cond_b: Tensor, statistics: Tensor | None = None) -> tuple[Tensor, ...]:
        """What stays fixed over the sampling steps of a fusion (never cached): the conditions' base layers of the
        two-scale split and, with ``gate_condition``, the degradation statistics (``statistics``, expanded to the
        batch, or those of the conditions themselves)."""
        bases = (self._base(cond_a), self._base(cond_b))
        if not self.gate_conditioned:
            return bases
        if statistics is None:
            return bases + (self.gate_statistics(cond_a, cond_b),)
        return bases + (statistics.to(cond_a.device, torch.float32).expand(cond_a.shape[0], -1).contiguous(),)

    def _base(self, cond: Tensor) -> Tensor:
        if self.base_eps > 0:
            return edge_preserving_base(cond, self.base_shape[0], self.base_eps)
        return base_layer(cond, *self.base_shape)

    def mix_weight(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor) -> Tensor:
        """The learned (base) pixel mix weight of source A, for inspection; needs a residual output design."""
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        feats_a, feats_b = self.encode_pair(x_t, t, cond_a, cond_b)
        return torch.sigmoid(self.pixel_gates(feats_a, feats_b, t, cond_a, cond_b)[:, :1])

    def tone_parameters(self, raw: tuple[Tensor, Tensor | None], restored: tuple[Tensor, Tensor | None],
                        modalities: tuple = (None, None)) -> tuple[Tensor, Tensor | None] | None:
        """Each source's inverse tone curves (``[B, 4]``, for the restored sources, see :mod:`.tone`) from both
        sources as given and as restored, ``(A, B)`` in [0, 1] (``[B, C, H, W]``, statistics over C, H and W),
        and their modalities (None where unknown); None without a tone head."""
        return None if self.tone is None else tone_parameters(self.tone, raw, restored, modalities)

    def fcm_parameters(self) -> list[nn.Parameter]:
        """Parameters trained in stage B (the per-level FCMs, their time MLP and the pixel gate)."""
        params = list(self.fcm.parameters()) + list(self.fcm_time.parameters())
        return params + (list(self.pixel_gate.parameters()) if self.residual_output else [])

    def denoiser_parameters(self) -> list[nn.Parameter]:
        """Parameters trained in stage A (encoder + decoder)."""
        return list(self.encoder.parameters()) + list(self.decoder.parameters())


def build_model(config: dict[str, Any] | None = None) -> FusionDiffusionNet:
    """A fresh (random) network; ``config`` overrides :func:`default_config` keys."""
    return FusionDiffusionNet(config)


def count_parameters(net: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in net.parameters())
