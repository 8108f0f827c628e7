"""Training options (torch-free, so that ``textdifuse --help`` stays cheap): :class:`TrainConfig` and argparse glue."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field, fields
from typing import Any

#: Stage B's structure comparisons and SSIM targets (``losses.fusion_loss``); the one list of each.
STRUCTURES = ("image", "details", "grad-details")
SSIM_TARGETS = ("both", "salient", "salient-structure", "salient-texture")


@dataclass
class TrainConfig:
    """Every knob of a training run (recorded in the model card)."""

    out: str = "runs/textdifuse"
    train_pack: str | None = None
    data_root: str | None = None
    prediction_type: str = "x0"
    model: dict[str, Any] = field(default_factory=dict)
    tiny: bool = False
    seed: int = 0
    device: str = "auto"
    ddp: bool = False
    batch_t: int = 24
    crop_t: int = 192
    lr_t: float = 3e-3
    iters_t: int | None = None
    time_budget_t: float | None = None
    clean_share_t: float = 0.5
    detail_weight_t: float = 0.0
    batch_r: int = 16
    crop_r: int = 128
    lr_r: float = 3e-4
    iters_r: int | None = None
    time_budget_r: float | None = None
    clean_share_r: float = 0.15
    impulse_share_r: float = 0.0
    batch_a: int = 32
    crop_a: int = 128
    lr_a: float = 2e-4
    iters_a: int | None = None
    time_budget_a: float | None = None
    l1_weight: float = 0.1
    ssim_weight_a: float = 0.0
    clean_share_a: float = 0.1
    grid_share_a: float = 0.5
    grid_steps_a: tuple[int, ...] = (1, 2, 4, 8)
    batch_b: int = 16
    crop_b: int = 128
    lr_b: float = 5e-4
    iters_b: int | None = None
    time_budget_b: float | None = None
    grad_weight: float = 1.0
    int_weight: float = 1.0
    clean_share_b: float = 0.1
    teacher_forcing: float = 0.25
    rollout_steps: tuple[int, ...] = (1, 2, 4)
    ema: float = 0.999
    ckpt_every: int = 500
    snapshot_every: int = 0
    log_every: int = 10
    resume: bool = False
    progress: bool = True
    init_from: str | None = None
    rezero_head: bool = False
    reset_pixel_gate: bool = False
    clean_fidelity: float = 0.0
    ssim_weight: float = 0.0
    structure_on: str = "image"
    grad_details_share: float = 0.0
    loss_balance: str = "mean"
    ssim_target: str = "both"
    finetune_b: float = 0.0
    condition_only: bool = False
    clean_anchor: float = 0.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training options (shared by ``textdifuse train`` and ``python -m ...model.train``)."""
    d = TrainConfig()
    parser.add_argument("--out", default=d.out, help="run folder (weights, card, losses, resume checkpoint)")
    parser.add_argument("--train-pack", help="packed training pairs (.npz from model.pack_data)")
    parser.add_argument("--data-root", help="data root holding ir_vis/ and medical/harvard/ (instead of a pack)")
    parser.add_argument("--prediction-type", choices=("x0", "v"), default=d.prediction_type)
    parser.add_argument("--model-config", type=json.loads, default={}, help="JSON overrides of the network config")
    parser.add_argument("--tiny", action="store_true", help="a tiny network (tests, smoke runs)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", default=d.device)
    parser.add_argument("--ddp", action="store_true", help="DistributedDataParallel (launch with torchrun)")
    for st in ("t", "r", "a", "b"):
        parser.add_argument(f"--batch-{st}", type=int, default=getattr(d, f"batch_{st}"))
        parser.add_argument(f"--crop-{st}", type=int, default=getattr(d, f"crop_{st}"))
        parser.add_argument(f"--lr-{st}", type=float, default=getattr(d, f"lr_{st}"))
        parser.add_argument(f"--iters-{st}", type=int, default=None)
        parser.add_argument(f"--time-budget-{st}", type=float, default=None, help="seconds for this stage")
    parser.add_argument("--clean-share-t", type=float, default=d.clean_share_t,
                        help="stage T (tone head, with --model-config '{\"tone_head\": 2}'): probability that a "
                             "source is left clean (teaches it to leave clean images alone)")
    parser.add_argument("--detail-weight-t", type=float, default=d.detail_weight_t,
                        help="stage T: weight of the gradient term (the detail a curve clips or flattens, e.g. dark "
                             "tissue under too large an offset)")
    parser.add_argument("--clean-share-r", type=float, default=d.clean_share_r,
                        help="stage R (restorer, with --model-config '{\"restorer\": 1}'): probability that a crop is "
                             "left clean (a clean source must come out as it went in)")
    parser.add_argument("--impulse-share-r", type=float, default=d.impulse_share_r,
                        help="stage R: probability that a crop gets salt-and-pepper impulses (0.01-2 %% of its "
                             "pixels) on top of its degradations; in these alone (0.01-0.5 %%, infrared only) they "
                             "weigh little in the loss")
    parser.add_argument("--l1-weight", type=float, default=d.l1_weight)
    parser.add_argument("--grad-weight", type=float, default=d.grad_weight, help="stage-B gradient-loss weight")
    parser.add_argument("--int-weight", type=float, default=d.int_weight,
                        help="stage-B intensity-loss weight (0: the 'without L_int' ablation)")
    parser.add_argument("--clean-share-a", type=float, default=d.clean_share_a,
                        help="stage A: probability that a crop is left clean (teaches the restorer to pass "
                             "clean detail through)")
    parser.add_argument("--ssim-weight-a", type=float, default=d.ssim_weight_a,
                        help="stage A: weight of (1 - SSIM) between the x0 estimate and the clean crop; the MSE is "
                             "dominated by tone errors, while SSIM weighs the noise left in dark, flat regions as the "
                             "fusion metrics do")
    parser.add_argument("--grid-share-a", type=float, default=d.grid_share_a,
                        help="stage A: share of samples drawn at the sampler's timesteps (--grid-steps-a) rather "
                             "than uniformly; the rest are uniform")
    parser.add_argument("--grid-steps-a", type=lambda s: tuple(int(v) for v in s.split(",")),
                        default=d.grid_steps_a, help="stage A: comma-separated step counts whose timesteps make "
                                                     "the grid (e.g. 1,2 for the default 2-step sampler)")
    parser.add_argument("--clean-share-b", type=float, default=d.clean_share_b,
                        help="stage B: probability that a source is left clean (each source independently)")
    parser.add_argument("--clean-fidelity", type=float, default=d.clean_fidelity,
                        help="stage B (two-scale): weight of an L1 penalty on the restoration term when both "
                             "sources are clean (clean inputs should pass through the fusion unrestored)")
    parser.add_argument("--ssim-weight", type=float, default=d.ssim_weight,
                        help="stage B: weight of an SSIM term (1 - mean SSIM of the fused x0 to the clean sources, as "
                             "--ssim-target chooses them)")
    parser.add_argument("--structure-on", choices=STRUCTURES, default=d.structure_on,
                        help="stage B: compare gradients and SSIM on whole images (the paper) or on their details "
                             "above an edge-preserving base (no reward for dark rings beside bright objects); "
                             "grad-details: gradients on details, SSIM on whole images")
    parser.add_argument("--grad-details-share", type=float, default=d.grad_details_share,
                        help="stage B, with --structure-on image: this share of the gradient term compares details "
                             "instead of whole images (0 = the paper's term, 1 = grad-details' gradient term)")
    parser.add_argument("--ssim-target", choices=SSIM_TARGETS, default=d.ssim_target,
                        help="stage B: the SSIM term against both sources (the mean) or, per pixel, against the source "
                             "with the larger local variance (keeps one source's contrast where the two disagree, e.g. "
                             "trees bright in the infrared and dark against the visible sky); salient-structure: the "
                             "same choice, SSIM's correlation term only (no reward for a ring that raises contrast); "
                             "salient-texture: the source chosen by its details' variance (steps do not choose)")
    parser.add_argument("--loss-balance", choices=("mean", "log"), default=d.loss_balance,
                        help="stage B: average the samples' losses (the paper) or their logarithms, so that a clean "
                             "pair's small loss counts as much as a degraded pair's large one")
    parser.add_argument("--condition-only", action="store_true",
                        help="stage B: train only the pixel gate's degradation condition (gate_condition); the gates "
                             "themselves stay as loaded, so an input the condition leaves alone fuses as before")
    parser.add_argument("--clean-anchor", type=float, default=d.clean_anchor,
                        help="stage B with --condition-only: weight of an L1 penalty, on pairs whose sources are both "
                             "clean, between the fusion and the fusion without the gate condition (clean pairs should "
                             "fuse as the loaded gates do)")
    parser.add_argument("--finetune-b", type=float, default=d.finetune_b,
                        help="stage B: also train the encoder and decoder at this multiple of --lr-b (0 = frozen, "
                             "the paper's FCM-only stage)")
    parser.add_argument("--teacher-forcing", type=float, default=d.teacher_forcing)
    parser.add_argument("--rollout-steps", type=lambda s: tuple(int(v) for v in s.split(",")),
                        default=d.rollout_steps, help="comma-separated step counts for stage-B rollouts")
    parser.add_argument("--ema", type=float, default=d.ema)
    parser.add_argument("--ckpt-every", type=int, default=d.ckpt_every)
    parser.add_argument("--snapshot-every", type=int, default=d.snapshot_every,
                        help="also keep the EMA weights every N iterations of each stage as loadable models in "
                             "<out>/snapshots/<stage>-<iteration>/ (to choose where to stop; 0 = none)")
    parser.add_argument("--log-every", type=int, default=d.log_every)
    parser.add_argument("--resume", action="store_true", help="continue from <out>/resume.*")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--init-from", help="start from these weights (.safetensors; tensors of matching name and "
                                            "shape are loaded, the rest stay fresh)")
    parser.add_argument("--rezero-head", action="store_true",
                        help="with --init-from: re-zero the decoder's output conv (switching a 'direct' model to the "
                             "gated-residual output)")
    parser.add_argument("--reset-pixel-gate", action="store_true",
                        help="with --init-from: keep the pixel gate's output conv fresh (changing its meaning, "
                             "e.g. a changed gate design)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A :class:`TrainConfig` from parsed :func:`add_arguments` options."""
    names = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in vars(args).items() if k in names}
    values["model"] = args.model_config
    values["progress"] = not args.no_progress
    return TrainConfig(**values)
