"""Two-stage training of the compact Text-DiFuse model (method.md §4 and §10.5), after the per-source front-ends
(stage R, the restorer, then stage T, the tone head, in :mod:`._source_stages`) when the network has them.

* **Stage A** (restoration diffusion): single-modality Y crops from every modality, degraded on the fly
  (``degrade_batch``, on the GPU when there is one); the network restores the clean crop from
  ``concat(x_t, degraded)``.  Loss: MSE on the prediction (x0 or v) + a small L1 on the x0 estimate.
  Half of the timesteps are drawn from the few-step inference grids (1, 2, 4, 8 steps), half uniformly.
* **Stage B** (fusion control): the FCM (per-level gates and the full-resolution pixel gate) is trained on the
  x0 estimate with ``L_int = |x0 - max(a, b)|`` + ``grad_weight * |S(x0) - max(S(a), S(b))|`` (Sobel magnitude)
  and optionally an SSIM term; targets from the CLEAN sources, inputs degraded (each source left clean with
  ``clean_share_b``).  Encoder and decoder stay frozen (the paper) or are fine-tuned at ``finetune_b`` times the
  learning rate, so that the decoder's correction learns to restore inside the fusion.  The noisy state is the sampler's own: a no-grad rollout of
  0..n-1 DDIM steps from noise, then one graded step (a share of batches uses teacher-forced ``q_sample``).

Run ``python -m textdifuse_desktop.model.train --help`` (the same options as ``textdifuse train``); under
torchrun add ``--ddp``.  Only torch, numpy, Pillow, safetensors and tqdm are needed.
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from textdifuse_desktop.model._source_stages import (
    prepare_conditions,
    train_restorer,
    train_tone_head,
)
from textdifuse_desktop.model._trainer import Context, Stage, _degrade
from textdifuse_desktop.model.data import CropSampler, load_pack, load_pairs
from textdifuse_desktop.model.losses import fusion_loss, restoration_loss
from textdifuse_desktop.model.network import FusionDiffusionNet, count_parameters
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.train_config import (
    TrainConfig,
    add_arguments,
    config_from_args,
)
from textdifuse_desktop.model.weights import WEIGHTS_NAME

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "add_arguments", "config_from_args", "main", "train"]


def _grid_timesteps(step_counts: Sequence[int] = (1, 2, 4, 8)) -> torch.Tensor:
    """Every timestep a DDIM sampler visits with any of ``step_counts`` steps."""
    sampler = DDIMSampler()
    grid = set()
    for n in step_counts:
        sampler.set_timesteps(n)
        grid |= {int(t) for t in sampler.timesteps}
    return torch.tensor(sorted(grid))


def _stage_a(ctx: Context, data: CropSampler) -> Stage:
    cfg, net, sampler = ctx.cfg, ctx.net, ctx.sampler
    for p in net.parameters():
        p.requires_grad_(False)
    params = net.denoiser_parameters()
    for p in params:
        p.requires_grad_(True)
    stage = Stage("A", ctx, params, cfg.lr_a, cfg.iters_a, cfg.time_budget_a)
    ctx.stages["A"] = stage
    ctx.restore(stage)
    model = ctx.wrap(net)
    grid = _grid_timesteps(cfg.grid_steps_a).to(ctx.device)
    fmt = torch.channels_last if ctx.device.type == "cuda" else torch.contiguous_format

    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        clean, mods = data.sample_single(cfg.batch_a)
        # The conditions as inference gets them: through the (frozen) tone head and restorer when there are.
        cond = prepare_conditions(net, _degrade(clean, mods, ctx.generator, cfg.clean_share_a), None, (mods, None))[0]
        x0 = clean * 2 - 1
        n = x0.shape[0]
        t = torch.randint(0, sampler.num_train_timesteps, (n,), device=ctx.device, generator=ctx.generator)
        on_grid = torch.rand(n, device=ctx.device, generator=ctx.generator) < cfg.grid_share_a
        t = torch.where(on_grid, grid[torch.randint(0, len(grid), (n,), device=ctx.device,
                                                     generator=ctx.generator)], t)
        noise = torch.randn(x0.shape, device=ctx.device, generator=ctx.generator)
        x_t = sampler.q_sample(x0, t, noise)
        with ctx.autocast():
            out = model(x_t.contiguous(memory_format=fmt), t.float(), cond.contiguous(memory_format=fmt)).float()
        return restoration_loss(out, sampler.training_target(x0, t, noise), sampler.predict_x0(out, t, x_t), x0,
                                l1_weight=cfg.l1_weight, ssim_weight=cfg.ssim_weight_a)

    stage.run(loss_fn)
    stage.apply_ema()
    ctx.checkpoint()
    return stage


def _stage_b(ctx: Context, data: CropSampler) -> Stage:
    cfg, net = ctx.cfg, ctx.net
    for p in net.parameters():
        p.requires_grad_(False)
    params = list(net.pixel_gate.condition.parameters()) if cfg.condition_only else net.fcm_parameters()
    slow = net.denoiser_parameters() if cfg.finetune_b > 0 else []
    for p in params + slow:
        p.requires_grad_(True)
    stage = Stage("B", ctx, params, cfg.lr_b, cfg.iters_b, cfg.time_budget_b, slow, cfg.finetune_b)
    ctx.stages["B"] = stage
    ctx.restore(stage)
    net.train(cfg.finetune_b > 0)  # GroupNorm only, so the mode changes nothing; keep the convention
    model = ctx.wrap(net)
    sampler = DDIMSampler(prediction_type=cfg.prediction_type)
    rng = np.random.default_rng(cfg.seed + 7 + ctx.rank)

    def loss_fn() -> tuple[torch.Tensor, dict[str, float]]:
        a, b, mods_a, mods_b = data.sample_pairs(cfg.batch_b)
        cond_a, cond_b = prepare_conditions(net, _degrade(a, mods_a, ctx.generator, cfg.clean_share_b),
                                            _degrade(b, mods_b, ctx.generator, cfg.clean_share_b), (mods_a, mods_b))
        n_steps = int(rng.choice(cfg.rollout_steps))
        sampler.set_timesteps(n_steps)
        k = int(rng.integers(0, n_steps))
        t_k = int(sampler.timesteps[k])
        if rng.random() < cfg.teacher_forcing:
            noise = torch.randn(a.shape, device=ctx.device, generator=ctx.generator)
            start = torch.maximum(a, b) * 2 - 1
            x = sampler.q_sample(start, torch.full((a.shape[0],), t_k, device=ctx.device), noise)
        else:
            x = torch.randn(a.shape, device=ctx.device, generator=ctx.generator)
            with torch.no_grad(), ctx.autocast():
                for t in sampler.timesteps[:k]:
                    tt = torch.full((a.shape[0],), float(t), device=ctx.device)
                    x = sampler.step(net(x, tt, cond_a, cond_b).float(), int(t), x).prev_sample
        tt = torch.full((a.shape[0],), float(t_k), device=ctx.device)
        fidelity = cfg.clean_fidelity > 0 and net.output == "two_scale"
        with ctx.autocast():
            out = model(x, tt, cond_a, cond_b, return_restoration=True) if fidelity else model(x, tt, cond_a, cond_b)
        if fidelity:
            out, restoration = out
        x0 = (sampler.predict_x0(out.float(), t_k, x) + 1) / 2
        anchor = _clean_anchor(net, x, tt, t_k, sampler, cond_a, cond_b, a, b, x0) if cfg.clean_anchor > 0 else None
        loss, parts = fusion_loss(x0, a, b, cfg.grad_weight, cfg.int_weight, cfg.ssim_weight, cfg.structure_on,
                                  cfg.loss_balance, cfg.ssim_target, cfg.grad_details_share)
        if anchor is not None:
            loss = loss + cfg.clean_anchor * anchor
            parts["anchor"] = float(anchor.detach())
        if fidelity:
            both_clean = _both_clean(cond_a, cond_b, a, b)
            per_sample = restoration.float().abs().mean(dim=(1, 2, 3)) / 2  # [-1, 1] -> [0, 1] units
            l_fid = (per_sample * both_clean).sum() / both_clean.sum().clamp_min(1)
            loss = loss + cfg.clean_fidelity * l_fid
            parts["fid"] = float(l_fid.detach())
        return loss, {**parts, "steps": n_steps, "k": k}

    stage.run(loss_fn)
    stage.apply_ema()
    ctx.checkpoint()
    return stage


def _both_clean(cond_a: torch.Tensor, cond_b: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[B]`` 1.0 where neither source of the pair was degraded (conditions in [-1, 1], sources in [0, 1])."""
    return ((cond_a == a * 2 - 1) & (cond_b == b * 2 - 1)).flatten(1).all(1).float()


def _clean_anchor(net: FusionDiffusionNet, x: torch.Tensor, t: torch.Tensor, t_k: int, sampler: DDIMSampler,
                  cond_a: torch.Tensor, cond_b: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                  x0: torch.Tensor) -> torch.Tensor:
    """Mean ``|x0 - x0 without the gate condition|`` over the batch's pairs whose sources are both clean (0 when
    there are none): what ``--clean-anchor`` penalises, so that the condition modulates degraded pairs only."""
    both_clean = _both_clean(cond_a, cond_b, a, b)
    if not both_clean.any():
        return x0.sum() * 0
    condition = net.pixel_gate.condition
    net.pixel_gate.condition = None  # the gates as loaded, without the modulation
    try:
        with torch.no_grad():
            reference = (sampler.predict_x0(net(x, t, cond_a, cond_b).float(), t_k, x) + 1) / 2
    finally:
        net.pixel_gate.condition = condition
    per_sample = (x0 - reference).abs().mean(dim=(1, 2, 3))
    return (per_sample * both_clean).sum() / both_clean.sum()


def _load_records(cfg: TrainConfig) -> list:  # type: ignore[type-arg]
    if cfg.train_pack:
        return load_pack(cfg.train_pack)
    if cfg.data_root:
        return load_pairs(cfg.data_root, "train", 360)
    raise ValueError("give --train-pack or --data-root")


def _check_stage_options(cfg: TrainConfig, net: FusionDiffusionNet) -> None:
    """Refuse stage options out of range or that the network cannot take, before any stage runs."""
    if not 0.0 <= cfg.grid_share_a <= 1.0:
        raise ValueError(f"--grid-share-a must lie in [0, 1], got {cfg.grid_share_a}")
    if not cfg.grid_steps_a or min(cfg.grid_steps_a) < 1:
        raise ValueError(f"--grid-steps-a needs step counts of at least 1, got {cfg.grid_steps_a}")
    if cfg.condition_only and not net.gate_conditioned:
        raise ValueError("--condition-only needs a network with gate_condition (--model-config "
                         "'{\"gate_condition\": 1}')")
    if not 0.0 <= cfg.grad_details_share <= 1.0:
        raise ValueError(f"--grad-details-share must lie in [0, 1], got {cfg.grad_details_share}")
    if cfg.grad_details_share > 0 and cfg.structure_on != "image":
        raise ValueError("--grad-details-share mixes the two gradient forms of --structure-on image; "
                         f"--structure-on {cfg.structure_on} already sets the gradient term")
    if not 0.0 <= cfg.impulse_share_r <= 1.0:
        raise ValueError(f"--impulse-share-r must lie in [0, 1], got {cfg.impulse_share_r}")
    if cfg.snapshot_every < 0:
        raise ValueError(f"--snapshot-every must be 0 (none) or a positive iteration count, got {cfg.snapshot_every}")
    if cfg.clean_anchor > 0 and not cfg.condition_only:
        raise ValueError("--clean-anchor anchors clean pairs to the gates without their condition: use it with "
                         "--condition-only")


def train(cfg: TrainConfig, command: str = "") -> Path | None:
    """Run stage A then stage B; rank 0 writes ``<out>/model.safetensors`` + ``model_card.json``.

    Returns the weights path (None on ranks other than 0).
    """
    ctx = Context(cfg)
    _check_stage_options(cfg, ctx.net)
    records = _load_records(cfg)
    t0 = time.perf_counter()
    stage_t = stage_r = None
    if ctx.net.restorer is not None:
        stage_r = train_restorer(ctx, CropSampler(records, cfg.crop_r, ctx.device, seed=cfg.seed + 300 + ctx.rank))
    t_r = time.perf_counter() - t0
    if ctx.net.tone is not None:  # after the restorer: the tone head reads and corrects the restored sources
        stage_t = train_tone_head(ctx, CropSampler(records, cfg.crop_t, ctx.device, seed=cfg.seed + 200 + ctx.rank))
    t_t = time.perf_counter() - t0 - t_r
    stage_a = _stage_a(ctx, CropSampler(records, cfg.crop_a, ctx.device, seed=cfg.seed + ctx.rank))
    t_a = time.perf_counter() - t0 - t_t - t_r
    stage_b = _stage_b(ctx, CropSampler(records, cfg.crop_b, ctx.device, seed=cfg.seed + 100 + ctx.rank))
    t_b = time.perf_counter() - t0 - t_t - t_r - t_a
    if ctx.world > 1:
        torch.distributed.barrier()
    if ctx.rank != 0:
        torch.distributed.destroy_process_group()
        return None
    counts: dict[str, int] = {}
    for r in records:
        counts[r.task] = counts.get(r.task, 0) + 1
    device_name = torch.cuda.get_device_name(ctx.device) if ctx.device.type == "cuda" else platform.processor()
    card = {
        "name": "textdifuse-compact",
        "description": "Compact re-implementation of Text-DiFuse (NeurIPS 2024): conditional restoration diffusion "
                       "UNet with a per-level Fusion Control Module; fuses luminance only.",
        "command": command or " ".join(sys.argv),
        "training": {"config": asdict(cfg), "stage_a": stage_a.state(), "stage_b": stage_b.state(),
                     **({"stage_t": stage_t.state()} if stage_t is not None else {}),
                     **({"stage_r": stage_r.state()} if stage_r is not None else {}),
                     "wall_seconds": {"stage_t": round(t_t, 1), "stage_r": round(t_r, 1), "stage_a": round(t_a, 1),
                                      "stage_b": round(t_b, 1)},
                     "world_size": ctx.world, "device": str(ctx.device), "hardware": device_name,
                     "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S")},
        "data": {"train_pairs": counts,
                 "splits": "IR/VIS train = msrs_train + msrs_aux_rawir + RoadScene minus the 25 held-out names "
                           "(smallest sha1 of the file name, see roadscene_test.txt); Harvard = splits/train.txt. "
                           "Test: msrs_test, the 25 RoadScene names, Harvard splits/test.txt (never trained on)."},
        "parameters_trainable": count_parameters(ctx.net),
        "kappa": "OUR parameterisation: kappa maps multiply the FCM gates (1.0 = unchanged, clamped to 0.5..3)",
        "metrics": {},
        "intended_use": "Research and visual inspection; not a medical device.",
        "license": "MIT (weights trained by the project on the listed data sets; check their licences)",
    }
    if ctx.world > 1:
        torch.distributed.destroy_process_group()
    weights = Path(cfg.out) / WEIGHTS_NAME
    ctx.net.cpu()
    ctx.save_weights(weights, card)
    log.info("wrote %s", weights)
    return weights


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m textdifuse_desktop.model.train``."""
    parser = argparse.ArgumentParser(description="Train the compact Text-DiFuse model (stage A + stage B).")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = "python -m textdifuse_desktop.model.train " + " ".join(argv if argv is not None else sys.argv[1:])
    weights = train(config_from_args(args), command)
    if weights is not None:
        print(f"weights: {weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
