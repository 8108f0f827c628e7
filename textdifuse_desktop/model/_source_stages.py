"""The stages that train the per-source front-ends, which run once on each source before the sampler: the restorer
(stage R, :mod:`.restorer`) and, after it, the tone head (stage T, :mod:`.tone`), which reads and corrects the
restored sources; and :func:`prepare_conditions`, the sources as the later stages (and inference) see them."""

from __future__ import annotations

from collections.abc import Callable

import torch

from textdifuse_desktop.model._trainer import Context, Stage, _degrade
from textdifuse_desktop.model.data import CropSampler
from textdifuse_desktop.model.degrade_torch import (
    add_impulses,
    apply_tone_ops,
    degrade_batch,
)
from textdifuse_desktop.model.inference import prepare_sources, restore_sources
from textdifuse_desktop.model.losses import restorer_loss, tone_loss
from textdifuse_desktop.model.network import FusionDiffusionNet

#: Shares of pixels hit by stage R's extra impulses: from the salt_pepper range's lowest to four times its highest
#: (2 % rather than 0.5 %), so that a crop carries enough of them to weigh in the mean loss.
IMPULSE_AMOUNTS_R = (1e-4, 2e-2)

#: Share of samples whose modalities stage T hides from the tone head, so that it also works where they are unknown
#: (a plain PNG's ``OT``).
UNKNOWN_MODALITY_SHARE = 0.25


def prepare_conditions(net: FusionDiffusionNet, y_a: torch.Tensor, y_b: torch.Tensor | None,
                       modalities: tuple = (None, None)) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Degraded sources in [0, 1] -> the conditions in [-1, 1], through the (frozen) restorer and tone head when the
    network has them, as :func:`~.inference.iter_fuse` prepares them; ``modalities`` as there (per sample)."""
    a, b = prepare_sources(net, y_a, y_b, modalities=modalities)
    return a * 2 - 1, (None if b is None else b * 2 - 1)


LossFn = Callable[[], tuple[torch.Tensor, dict[str, float]]]


def _train_alone(ctx: Context, name: str, params: list[torch.nn.Parameter], lr: float, iters: int | None,
                 budget: float | None, make_loss: Callable[[], LossFn]) -> Stage:
    """Train ``params`` alone (every other tensor frozen) as stage ``name``: resumable, EMA applied at the end,
    checkpointed.  ``make_loss`` builds the loss once the parameters are set up (DDP wraps only trainable ones)."""
    for p in ctx.net.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    stage = Stage(name, ctx, params, lr, iters, budget)
    ctx.stages[name] = stage
    ctx.restore(stage)
    stage.run(make_loss())
    stage.apply_ema()
    ctx.checkpoint()
    return stage


def train_tone_head(ctx: Context, data: CropSampler) -> Stage:
    """The tone head alone: pairs degraded independently and restored by the (frozen) restorer, as inference feeds
    the head; its curves on the restored pair scored against the clean pair.  The modalities of
    :data:`UNKNOWN_MODALITY_SHARE` of the pairs are hidden from it."""
    cfg, net = ctx.cfg, ctx.net

    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        a, b, mods_a, mods_b = data.sample_pairs(cfg.batch_t)
        da = _degrade(a, mods_a, ctx.generator, cfg.clean_share_t)
        db = _degrade(b, mods_b, ctx.generator, cfg.clean_share_t)
        draw = torch.rand(len(mods_a), generator=ctx.generator, device=ctx.generator.device)
        hidden = (draw < UNKNOWN_MODALITY_SHARE).tolist()
        shown = tuple([None if h else m for h, m in zip(hidden, mods)] for mods in (mods_a, mods_b))
        loss = tone_loss(net.tone, (da, db), restore_sources(net, da, db), (a, b), shown, cfg.detail_weight_t)
        return loss, {"tone": float(loss.detach())}

    return _train_alone(ctx, "T", list(net.tone.parameters()), cfg.lr_t, cfg.iters_t, cfg.time_budget_t,
                        lambda: loss_fn)


def train_restorer(ctx: Context, data: CropSampler) -> Stage:
    """The restorer alone: single crops of every modality, degraded on the fly and restored (it runs first, on the
    sources as given).  The target is the clean crop through the plan's tone ops
    only (:func:`~.degrade_torch.apply_tone_ops`): the restorer removes noise, stripes, impulses and blur and keeps
    the tones.  Scored against the fully clean crop, the tone ops' large errors (a dark crop may be a dark scene or
    low light) swamped the noise's and the restorer learnt nothing in 2 000 iterations (validation.md, run 16)."""
    cfg, net = ctx.cfg, ctx.net

    def make_loss() -> LossFn:
        model = ctx.wrap(net.restorer)

        def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
            clean, mods = data.sample_single(cfg.batch_r)
            degraded, plans = degrade_batch(clean, mods, ctx.generator, p_clean=cfg.clean_share_r,
                                            return_plans=True)
            if cfg.impulse_share_r > 0:
                degraded = add_impulses(degraded, cfg.impulse_share_r, ctx.generator, IMPULSE_AMOUNTS_R)
            with ctx.autocast():
                restored = model(degraded.clamp(0, 1)).float()
            return restorer_loss(restored, apply_tone_ops(clean, plans))

        return loss_fn

    return _train_alone(ctx, "R", list(net.restorer.parameters()), cfg.lr_r, cfg.iters_r, cfg.time_budget_r,
                        make_loss)
