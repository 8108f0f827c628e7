"""Training machinery shared by both stages: config, optimiser/LR/EMA stage loop, device/DDP context, checkpoints."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from textdifuse_desktop.model.degrade_torch import degrade_batch
from textdifuse_desktop.model.network import (
    FusionDiffusionNet,
    build_model,
    tiny_config,
)
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.tone import ToneHead, widen_raw_only_state
from textdifuse_desktop.model.train_config import TrainConfig
from textdifuse_desktop.model.weights import WEIGHTS_NAME, save_model, saved_config

log = logging.getLogger(__name__)



def _degrade(x: torch.Tensor, mods: list[str], generator: torch.Generator, p_clean: float = 0.1) -> torch.Tensor:
    """On-the-fly composite degradation of a ``[0, 1]`` batch (each sample left clean with ``p_clean``)."""
    return degrade_batch(x, mods, generator, p_clean=p_clean).clamp(0, 1)


class Stage:
    """One optimisation stage: params, AdamW, warm-up + cosine LR, EMA, time budget, checkpoints."""

    def __init__(self, name: str, ctx: Context, params: list[torch.nn.Parameter], lr: float,
                 iters: int | None, budget: float | None, slow_params: list[torch.nn.Parameter] | None = None,
                 slow_scale: float = 1.0):
        """``slow_params``: further parameters trained at ``slow_scale`` times the learning rate (fine-tuning)."""
        self.name, self.ctx, self.lr = name, ctx, lr
        self.params = params + list(slow_params or [])
        groups = [{"params": params, "scale": 1.0}]
        if slow_params:
            groups.append({"params": list(slow_params), "scale": slow_scale})
        self.opt = torch.optim.AdamW(groups, lr=lr, weight_decay=0.0 if name == "B" else 0.01)
        self.ema = [p.detach().clone() for p in self.params]
        self.total = iters if iters is not None else (None if budget else 1000)  # 0 skips the stage
        self.budget = budget
        self.iteration = 0
        self.seconds = 0.0

    def progress(self) -> float:
        """Fraction done: of the time budget when there is one, else of the iteration count."""
        if self.total == 0:
            return 1.0
        if self.budget:
            return min(self.seconds / self.budget, 1.0)
        return min(self.iteration / max(self.total or 1, 1), 1.0)

    def lr_now(self) -> float:
        warm = min(1.0, (self.iteration + 1) / 50)
        return self.lr * warm * 0.5 * (1 + math.cos(math.pi * self.progress()))

    def _done(self) -> bool:
        done = self.progress() >= 1.0
        if self.ctx.world > 1 and self.budget:  # rank 0's clock decides, so every rank stops together
            flag = torch.tensor([float(done)], device=self.ctx.device)
            torch.distributed.broadcast(flag, 0)
            done = bool(flag.item())
        return done

    def run(self, loss_fn: Callable[[], tuple[torch.Tensor, dict[str, float]]]) -> None:
        ctx = self.ctx
        bar = None
        if ctx.rank == 0 and ctx.cfg.progress:
            from tqdm import tqdm

            unit = "s" if self.budget else "it"
            bar = tqdm(total=round(self.budget) if self.budget else self.total, desc=f"stage {self.name}",
                       unit=unit, dynamic_ncols=True)
        start = time.perf_counter() - self.seconds
        while not self._done():
            lr = self.lr_now()
            for group in self.opt.param_groups:
                group["lr"] = lr * group["scale"]
            loss, parts = loss_fn()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.opt.step()
            decay = min(ctx.cfg.ema, (1 + self.iteration) / (10 + self.iteration))
            with torch.no_grad():
                torch._foreach_lerp_(self.ema, [p.detach() for p in self.params], 1 - decay)
            self.iteration += 1
            previous, self.seconds = self.seconds, time.perf_counter() - start
            if bar is not None:
                bar.update(round(self.seconds) - round(previous) if self.budget else 1)
                bar.set_postfix(loss=f"{float(loss.detach()):.4f}", it=self.iteration)
            if ctx.rank == 0 and self.iteration % ctx.cfg.log_every == 0:
                ctx.log_line({"stage": self.name, "it": self.iteration, "loss": float(loss.detach()), **parts,
                              "lr": lr, "sec": round(self.seconds, 2)})
            if self.iteration % ctx.cfg.ckpt_every == 0:
                ctx.checkpoint()
            if ctx.cfg.snapshot_every and self.iteration % ctx.cfg.snapshot_every == 0:
                ctx.snapshot(self)
        if self.budget:
            self.total = self.iteration
        log.info("stage %s: %d iterations in %.0f s", self.name, self.iteration, self.seconds)
        if bar is not None:
            bar.close()

    def state(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "total": self.total, "seconds": self.seconds}

    def apply_ema(self) -> None:
        with torch.no_grad():
            for p, e in zip(self.params, self.ema):
                p.copy_(e)


class Context:
    """Shared state of a run (device, DDP, network, data, checkpointing)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.rank, self.world, local = 0, 1, 0
        if cfg.ddp:
            import torch.distributed as dist

            backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
            dist.init_process_group(backend=backend)
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
            local = int(os.environ.get("LOCAL_RANK", "0"))
        if cfg.device == "auto":
            self.device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
        else:
            self.device = torch.device(cfg.device if not cfg.ddp or cfg.device == "cpu" else f"cuda:{local}")
        if self.device.type == "cuda":
            if self.device.index is None:
                self.device = torch.device("cuda", torch.cuda.current_device())
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        torch.manual_seed(cfg.seed + self.rank)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed + 1000 * self.rank)
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        # Fine-tuning starts from the design of the weights it loads (their tone head, restorer...); --model-config
        # changes it.  Without this a run from the shipped weights silently dropped their tone head.
        saved = saved_config(cfg.init_from) if cfg.init_from else None
        model_cfg = {**(tiny_config() if cfg.tiny else {}), **(saved or {}), **cfg.model,
                     "prediction_type": cfg.prediction_type}
        self.net: FusionDiffusionNet = build_model(model_cfg)
        if cfg.init_from:
            _init_from(self.net, cfg.init_from, rezero_head=cfg.rezero_head, reset_pixel_gate=cfg.reset_pixel_gate)
        self.net = self.net.to(self.device)
        if self.device.type == "cuda":
            self.net = self.net.to(memory_format=torch.channels_last)
        self.sampler = DDIMSampler(prediction_type=cfg.prediction_type)
        self.stages: dict[str, Stage] = {}
        self.started = time.time()

    def autocast(self) -> Any:
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def log_line(self, record: dict[str, Any]) -> None:
        with open(self.out / "losses.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def checkpoint(self) -> None:
        """Resume checkpoint: weights + EMA (safetensors), optimiser state (torch.save, never loaded as weights)."""
        if self.rank != 0:
            return
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        for name, stage in self.stages.items():
            tensors |= {f"ema{name}.{i}": e.detach().cpu().contiguous() for i, e in enumerate(stage.ema)}
        save_file(tensors, str(self.out / "resume.safetensors.tmp"))
        os.replace(self.out / "resume.safetensors.tmp", self.out / "resume.safetensors")
        torch.save({n: s.opt.state_dict() for n, s in self.stages.items()}, self.out / "resume_optim.pt.tmp")
        os.replace(self.out / "resume_optim.pt.tmp", self.out / "resume_optim.pt")
        state = {"config": asdict(self.cfg), "stages": {n: s.state() for n, s in self.stages.items()}}
        (self.out / "resume.json").write_text(json.dumps(state, indent=1), encoding="utf-8")

    def snapshot(self, stage: Stage) -> Path | None:
        """Write the network with ``stage``'s EMA weights, loadable like the final model, to
        ``<out>/snapshots/<stage>-<iteration>/`` (the run's weights are left as they were)."""
        if self.rank != 0:
            return None
        path = self.out / "snapshots" / f"{stage.name}-{stage.iteration:06d}" / WEIGHTS_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        live = [p.detach().clone() for p in stage.params]
        stage.apply_ema()
        card = {"snapshot": {"stage": stage.name, **stage.state()}, "training": {"config": asdict(self.cfg)}}
        self.save_weights(path, card)
        with torch.no_grad():
            for p, v in zip(stage.params, live):
                p.copy_(v)
        return path

    def save_weights(self, path: Path, card: dict[str, Any]) -> None:
        """Write the network as a loadable model (its sampler with no step count fixed) and ``card`` beside it."""
        save_model(self.net, self.sampler.config | {"num_inference_steps": 0, "timesteps": []}, path, card)

    def restore(self, stage: Stage) -> None:
        state_path = self.out / "resume.json"
        if not (self.cfg.resume and state_path.is_file()):
            return
        state = json.loads(state_path.read_text(encoding="utf-8"))
        tensors = load_file(str(self.out / "resume.safetensors"))
        self.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        saved = state["stages"].get(stage.name)
        if saved is None:
            return
        stage.iteration, stage.total, stage.seconds = saved["iteration"], saved["total"], saved["seconds"]
        for i, e in enumerate(stage.ema):
            e.copy_(tensors[f"ema{stage.name}.{i}"])
        optim = torch.load(self.out / "resume_optim.pt", map_location=self.device, weights_only=True)
        stage.opt.load_state_dict(optim[stage.name])
        log.info("resumed stage %s at iteration %d", stage.name, stage.iteration)


def _init_from(net: FusionDiffusionNet, path: str, *, rezero_head: bool, reset_pixel_gate: bool = False) -> None:
    """Load the tensors of ``path`` whose name and shape match ``net`` (fine-tuning, design changes)."""
    from safetensors.torch import load_file

    own = net.state_dict()
    state = {k: v.float() for k, v in load_file(path).items()}
    if net.tone is not None and state.get("tone.mlp.0.weight", own["tone.mlp.0.weight"]).shape[1] \
            == ToneHead.N_INPUTS_RAW_ONLY:
        state = widen_raw_only_state(state)  # an earlier tone head starts the new one with its curves
    keep = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape
            and not (rezero_head and k.startswith("decoder.out.2"))
            and not (reset_pixel_gate and k.startswith("pixel_gate.head"))}
    result = net.load_state_dict(keep, strict=False)
    log.info("initialised from %s: %d tensors loaded, %d left fresh", path, len(keep), len(result.missing_keys))

