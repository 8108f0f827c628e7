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
* With ``output="gated_residual"`` (the previous shipped design, x0 prediction only) the decoder's prediction is a
  *residual* on top of a pixel-level mix of the conditions: ``x0 = m*cond_a + (1-m)*cond_b + decoded``,
  where the mix weight ``m`` comes from a small full-resolution gate (:class:`PixelGate`, part of the
  FCM, trained in stage B) and single-source restoration is ``x0 = cond + decoded``.  This skip keeps
  black backgrounds black and lets the compact network spend its capacity on restoration and on
  the fusion decision instead of re-synthesising every pixel, which matters for short training runs.
* With ``output="two_scale"`` the conditions are split into a smooth base (:func:`base_layer`) and
  details, and the pixel gate (four maps) fuses them separately:
  ``x0 = m*base_a + (1-m)*base_b + g_a*det_a + g_b*det_b + r*decoded`` with ``m, r`` in (0, 1) and the
  detail gains ``g`` in (0, 2).  The base mix carries intensity (PET uptake, hot targets), the gains keep
  the texture of both sources, and the restoration gate ``r`` lets the FCM turn the decoder's
  correction down where a source is already clean, so clean inputs are not smoothed (the shipped design).
* ``gate_prior="saliency"`` (two-scale only) starts the base mix and the detail selection from the
  guided-filter fusion weights of the conditions (:mod:`.saliency_prior`); the gate's logits re-weight them.
  ``base_radius`` / ``base_passes`` set the box filter of the base layer (17-px box twice by default);
  ``learned_mix=False`` keeps the prior's mix and detail selection and learns only the restoration gate;
  ``saliency_smooth`` box-smooths the sources before their saliency is measured (noise is not detail);
  ``prior_radius`` is the radius of the guided filter that smooths the prior's base weights (GFF: 45);
  ``prior_full_res`` computes the saliency and detail weights on the full grid (default: a half grid).
  ``noisy_smooth``: the larger radius a source's saliency moves to as its measured noise rises above
  ``restore_noise_floor`` (:mod:`.noise_level`; off in the shipped config since ``noisy_denoise``).
* ``saturated_flat`` (inference only): where one source is clipped bright and the other shows no more than
  that multiple of its own noise there, the brighter source wins the base (no blotches in a saturated sky).
* ``noisy_denoise`` (inference only): a source that measures as noisy is guided-filtered by itself with this
  radius and ``eps = (noisy_denoise_k * sigma)^2`` for the two-scale mix (:mod:`.noisy_prefilter`), so that its
  noise neither wins the detail selection nor enters the mix, while its strong edges stay; the encoder still
  sees the raw source and the decoded correction restores what remains.
* ``restore_noise_floor`` (inference only): the decoded correction is faded out when both sources measure
  at most this much noise (grey levels), so clean inputs are fused, not restored; ``restore_scale``
  (inference only) scales the correction when fusing (the shipped calibration, chosen on training pairs).
  ``saliency_radius`` / ``saliency_passes`` (inference only): the box filter that smooths the prior's saliency
  maps before they are compared (GFF: an 11x11 Gaussian, about radius 5 once; shipped: radius 10 twice).
  ``noise_edges`` (inference only): the fraction of strongest-gradient pixels the noise estimate leaves out
  (0 = plain Immerkær; :func:`~.noise_level.noise_sigma`), so texture does not read as noise.

Modulation (OUR parameterisation, not the paper's): optional per-pixel maps ``kappa_a`` / ``kappa_b``
``[B,1,H,W]`` multiply the corresponding gate at every level (resampled by area interpolation);
1.0 leaves the gate unchanged, values are clamped to ``[0.5, 3]``.  With the saliency prior they also pull its
base and detail shares toward the emphasised source (:func:`~.fusion_heads.pull_share`).
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
    local_variance,
    modulate_mix,
    prior_logit,
    resize_kappa,
    rule_mix,
    two_scale_mix,
)
from textdifuse_desktop.model.layers import Decoder, Encoder, TimeMLP
from textdifuse_desktop.model.noise_level import noise_sigma, sigmas_restoration_weight
from textdifuse_desktop.model.noisy_prefilter import denoise_noisy
from textdifuse_desktop.model.saliency_prior import BASE_FILTER, saliency_weights

__all__ = ["KAPPA_RANGE", "OUTPUTS", "RULES", "FusionDiffusionNet", "base_layer", "build_model",
           "count_parameters", "default_config", "tiny_config"]

log = logging.getLogger(__name__)

RULES = ("fcm", "max", "add", "mean", "variance")
OUTPUTS = ("direct", "gated_residual", "two_scale")
GATE_PRIORS = (None, "saliency")


def default_config() -> dict[str, Any]:
    """The shipped architecture (about 2.6 M parameters; 0.23 s per fused step at 640x480 on 2 CPU cores)."""
    return {"widths": [16, 32, 64, 128], "stem": 2, "emb_dim": 128, "groups": 8, "dec_blocks": 1,
            "fcm_hidden": 0.5, "fcm_t_channels": 8, "prediction_type": "x0", "output": "two_scale",
            "gate_prior": "saliency", "base_radius": 15, "base_passes": 1, "learned_mix": False, "saliency_smooth": 1,
            "prior_radius": 20, "prior_full_res": 1, "noisy_smooth": 0, "noisy_denoise": 1, "noisy_denoise_k": 3.0,
            "saturated_flat": 2.0, "restore_noise_floor": 3.0, "restore_scale": 0.75, "noise_edges": 0.1,
            "saliency_radius": 10}


def tiny_config() -> dict[str, Any]:
    """A very small random model for tests (multiple 8): the plain two-scale design, without the prior."""
    return {"widths": [8, 16, 16], "stem": 2, "emb_dim": 16, "groups": 4, "dec_blocks": 1,
            "fcm_hidden": 0.5, "fcm_t_channels": 4, "prediction_type": "x0", "output": "two_scale",
            "gate_prior": None, "base_radius": 4, "base_passes": 2, "learned_mix": True, "saliency_smooth": 0,
            "prior_radius": 45, "prior_full_res": 0, "noisy_smooth": 0, "noisy_denoise": 0, "saturated_flat": 0.0,
            "restore_noise_floor": 0.0, "restore_scale": 1.0, "noise_edges": 0.0,
            "saliency_radius": 5}


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
        self.gate_prior = None
        if self.residual_output:
            if c["prediction_type"] != "x0":
                raise ValueError(f"output={self.output!r} needs prediction_type='x0'")
            if c.get("gate_prior") not in GATE_PRIORS:
                raise ValueError(f"unknown gate_prior {c.get('gate_prior')!r}; choose one of {GATE_PRIORS}")
            self.gate_prior = c.get("gate_prior") if self.output == "two_scale" else None  # a two-scale option
            self.base_shape = (int(c.get("base_radius", BASE_RADIUS)), int(c.get("base_passes", 2)))
            self.pixel_gate = PixelGate(widths[0], c["emb_dim"], c["stem"], c["fcm_t_channels"],
                                        maps=4 if self.output == "two_scale" else 1,
                                        restore_logit=0.0 if self.gate_prior else 4.0)
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

    def forward(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor | None = None, *, rule: str = "fcm",
                kappa_a: Tensor | None = None, kappa_b: Tensor | None = None, restore: float = 1.0,
                return_restoration: bool = False,
                mix_conds: tuple[Tensor, Tensor] | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """One denoiser evaluation; ``cond_b=None`` is single-source restoration (no fusion).

        ``restore`` scales the decoded correction of the residual outputs (1 = as trained, 0 = fusion of
        the conditions only, for sources that need no restoration); ignored by ``output="direct"``.
        ``return_restoration`` (two-scale fusion, training): also return the gated correction ``r*decoded``.
        ``mix_conds`` (two-scale, inference): the sources that the two-scale mix and its prior take, when they
        differ from the encoder's conditions (pre-filtered noisy sources, :meth:`prefilter`).
        """
        if t.ndim == 0:
            t = t.expand(x_t.shape[0])
        if cond_b is None:
            out = self.decode(self.encode(x_t, cond_a, t), t)
            return cond_a + restore * out if self.residual_output else out
        # One batched encoder pass for both sources is faster than two calls.
        feats = self.encode(torch.cat([x_t, x_t]), torch.cat([cond_a, cond_b]), torch.cat([t, t]))
        feats_a, feats_b = zip(*(f.chunk(2) for f in feats))
        fused = self.fuse_features(list(feats_a), list(feats_b), t, rule=rule, kappa_a=kappa_a, kappa_b=kappa_b)
        out = self.decode(fused, t)
        if not self.residual_output:
            return out
        out = out * restore
        gates = self.pixel_gate(feats_a[0], feats_b[0], self.fcm_time(t)).float() if rule == "fcm" else None
        if self.output == "two_scale":
            if mix_conds is not None:
                cond_a, cond_b = mix_conds
            bases, prior = self._mix_inputs(cond_a, cond_b)
            if gates is not None and prior is not None and not self.config.get("learned_mix", True):
                gates = torch.cat([torch.zeros_like(gates[:, :3]), gates[:, 3:]], dim=1)  # only r is learned
            x0 = two_scale_mix(gates, out, cond_a, cond_b, rule, kappa_a, kappa_b, bases, prior)
            if not return_restoration:
                return x0
            mixed = two_scale_mix(gates, torch.zeros_like(out), cond_a, cond_b, rule, kappa_a, kappa_b, bases, prior)
            return x0, x0 - mixed
        m = torch.sigmoid(gates).to(out.dtype) if gates is not None else rule_mix(rule, cond_a, cond_b)
        m = modulate_mix(m, resize_kappa(kappa_a, m), resize_kappa(kappa_b, m))
        return m * cond_a + (1 - m) * cond_b + out

    def fixed_mix(self, cond_a: Tensor, cond_b: Tensor, *, kappa_a: Tensor | None = None,
                  kappa_b: Tensor | None = None, mix_conds: tuple[Tensor, Tensor] | None = None) -> Tensor | None:
        """The x0 prediction of a two-source call with ``restore`` 0, when it does not depend on the network.

        With the prior's mix kept (``learned_mix=False``) the learned logits only set the restoration gate, and a
        zero restoration strength multiplies the decoded correction away: the prediction is the prior's two-scale
        mix (with the kappa maps' emphasis) whatever the noisy state and the timestep. The sampler can then skip the
        network (clean sources, whose correction fades out to zero, or the user's restoration 0). None where the
        network's output does matter (a learned mix, no prior).
        """
        if self.output != "two_scale" or self.gate_prior != "saliency" or self.config.get("learned_mix", True):
            return None
        if mix_conds is not None:
            cond_a, cond_b = mix_conds
        bases, prior = self._mix_inputs(cond_a, cond_b)
        zeros = torch.zeros_like(cond_a, dtype=torch.float32)
        gates = zeros.expand(-1, 4, -1, -1)
        return two_scale_mix(gates, zeros, cond_a, cond_b, "fcm", kappa_a, kappa_b, bases, prior)

    def _mix_inputs(self, cond_a: Tensor, cond_b: Tensor) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None]:
        """Base layers and saliency prior of the conditions, remembered across the sampling steps of one fusion.

        The cache holds weak references to the two condition tensors (the sampler passes the same objects
        at every step and never modifies them), so a new fusion can never hit stale results.  Inference only.
        """
        cached = self.__dict__.get("_mix_cache")
        if cached is not None and cached[0]() is cond_a and cached[1]() is cond_b:
            return cached[2], cached[3]
        bases, prior = self.compute_mix_inputs(cond_a, cond_b)
        if not torch.is_grad_enabled():
            self.__dict__["_mix_cache"] = (weakref.ref(cond_a), weakref.ref(cond_b), bases, prior)
        return bases, prior

    def compute_mix_inputs(self, cond_a: Tensor, cond_b: Tensor) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor] | None]:
        """The conditions' base layers and saliency prior (None without ``gate_prior``), never cached."""
        bases = (base_layer(cond_a, *self.base_shape), base_layer(cond_b, *self.base_shape))
        prior = None
        if self.gate_prior == "saliency":
            prior = saliency_weights(cond_a, cond_b, **self.saliency_options())
        return bases, prior

    def saliency_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~.saliency_prior.saliency_weights` from this network's config."""
        c = self.config
        return {"smooth": int(c.get("saliency_smooth", 0)),
                "base_filter_radius": int(c.get("prior_radius", BASE_FILTER[0])),
                "noisy_smooth": int(c.get("noisy_smooth", 0)),
                "noise_floor": float(c.get("restore_noise_floor", 0) or 0),
                "saturated_flat": float(c.get("saturated_flat", 0) or 0),
                "full_resolution": bool(c.get("prior_full_res", 0)),
                "noise_edges": float(c.get("noise_edges", 0) or 0),
                "saliency_passes": int(c.get("saliency_passes", 2)),
                "saliency_radius": int(c.get("saliency_radius", 5))}

    def noise_sigmas(self, cond_a: Tensor, cond_b: Tensor) -> tuple[Tensor, Tensor]:
        """Each source's :func:`~.noise_level.noise_sigma` ``[B]`` with the config's ``noise_edges``: measured once
        per fusion and passed to :meth:`prefilter` and :meth:`fusion_restore`."""
        edges = self.saliency_options()["noise_edges"]
        return noise_sigma(cond_a, edges), noise_sigma(cond_b, edges)

    def fusion_restore(self, cond_a: Tensor, cond_b: Tensor, restore: float | Tensor = 1.0, *,
                       adaptive: bool = True, sigmas: tuple[Tensor, Tensor] | None = None) -> float | Tensor:
        """The correction's strength for fusing these conditions (inference): the user's ``restore`` times the
        config's ``restore_scale`` and, with ``adaptive`` and a ``restore_noise_floor``, the noise-adaptive
        :func:`~.noise_level.restoration_weight` (``[B,1,1,1]``)."""
        restore = restore * float(self.config.get("restore_scale", 1.0))
        floor = self.saliency_options()["noise_floor"]
        if adaptive and floor > 0:
            restore = restore * sigmas_restoration_weight(*(sigmas or self.noise_sigmas(cond_a, cond_b)), floor)
        return restore

    def prefilter(self, cond_a: Tensor, cond_b: Tensor,
                  sigmas: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """The conditions with noisy sources guided-filtered (``noisy_denoise`` radius, 0 = off, with
        ``noisy_denoise_k``; :mod:`.noisy_prefilter`), before a fusion (inference).  ``sigmas``: the sources'
        :meth:`noise_sigmas`, if already measured."""
        radius = int(self.config.get("noisy_denoise", 0) or 0)
        floor = self.saliency_options()["noise_floor"]
        if radius <= 0 or floor <= 0:
            return cond_a, cond_b
        k = float(self.config.get("noisy_denoise_k", 3.0))
        sigma_a, sigma_b = sigmas or self.noise_sigmas(cond_a, cond_b)
        return (denoise_noisy(cond_a, floor, radius, k, sigma=sigma_a),
                denoise_noisy(cond_b, floor, radius, k, sigma=sigma_b))

    def mix_weight(self, x_t: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor) -> Tensor:
        """The learned (base) pixel mix weight of source A, for inspection; needs a residual output design."""
        feats = self.encode(torch.cat([x_t, x_t]), torch.cat([cond_a, cond_b]), torch.cat([t, t]))
        logit = self.pixel_gate(feats[0][: x_t.shape[0]], feats[0][x_t.shape[0]:], self.fcm_time(t))[:, :1]
        prior = self._mix_inputs(cond_a, cond_b)[1]
        if prior is not None:
            if not self.config.get("learned_mix", True):
                logit = torch.zeros_like(logit)
            logit = logit + prior_logit(prior[0])
        return torch.sigmoid(logit)

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
