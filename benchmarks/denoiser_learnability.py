#!/usr/bin/env python
"""How quickly can a denoiser learn plain Gaussian denoising of IR/VIS crops?  Tells a stuck network from a weak one.

    .venv/bin/python benchmarks/denoiser_learnability.py --pack .gpu_data/train_pack.npz \
        [--weights W ...] [--fresh] [--reference] [--iters 300] [--lr 1e-3]

Each candidate's encoder and decoder are trained on one task only: 64 px IR/VIS training crops plus Gaussian noise
of sigma 12 (8-bit), restored in one x0 estimate at t = 999 (the default sampler's first step), batch 8, AdamW.
Every 100 iterations it prints the held-out ratio (MSE of the estimate / MSE of the noisy input, on 32 fixed crops;
1 = no denoising, 0 = perfect).  ``--weights``: start from these weights (the shipped ones when given no path);
``--fresh``: the same architecture, randomly initialised; ``--reference``: a 5-layer, 32-channel residual CNN
(DnCNN-like, 37 k parameters) as the yardstick.  Training pairs only; nothing here touches a test split.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from textdifuse_desktop.model.data import CropSampler, load_pack
from textdifuse_desktop.model.network import build_model
from textdifuse_desktop.model.restorer import Restorer
from textdifuse_desktop.model.weights import load_model

SIGMA = 12.0 / 255.0
T_FIRST = 999.0


def reference_cnn() -> nn.Module:
    """Five 3x3 conv layers of 32 channels (ReLU) and a linear output: a residual denoiser yardstick."""
    layers: list[nn.Module] = [nn.Conv2d(1, 32, 3, padding=1), nn.ReLU()]
    for _ in range(4):
        layers += [nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.Conv2d(32, 1, 3, padding=1))


def run(name: str, estimate: Callable[[torch.Tensor], torch.Tensor], params: list[nn.Parameter],
        data: CropSampler, iters: int, lr: float) -> None:
    """Train ``params`` so that ``estimate(noisy)`` (both in [-1, 1]) approaches the clean crop; print the ratio."""
    noise_gen = torch.Generator().manual_seed(1)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        clean, _ = data.sample_single(n)
        noisy = (clean + SIGMA * torch.randn(clean.shape, generator=noise_gen)).clamp(0, 1)
        return clean * 2 - 1, noisy * 2 - 1

    held_out = [batch(16) for _ in range(2)]

    def ratio() -> float:
        with torch.no_grad():
            return float(np.mean([((estimate(c).clamp(-1, 1) - x0) ** 2).mean().item()
                                  / ((c - x0) ** 2).mean().item() for x0, c in held_out]))

    opt = torch.optim.AdamW(params, lr=lr)
    start = time.perf_counter()
    print(f"{name}: ratio at start {ratio():.3f}")
    for it in range(1, iters + 1):
        x0, noisy = batch(8)
        loss = ((estimate(noisy) - x0) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 100 == 0:
            print(f"{name}: {it} iterations, ratio {ratio():.3f} ({time.perf_counter() - start:.0f} s)")


def network_estimate(net: nn.Module) -> tuple[Callable[[torch.Tensor], torch.Tensor], list[nn.Parameter]]:
    """The single-source x0 estimate at t = 999 (start noise drawn per call), and the stage-A parameters."""
    for p in net.parameters():
        p.requires_grad_(False)
    params = net.denoiser_parameters()
    for p in params:
        p.requires_grad_(True)
    net.train()

    def estimate(noisy: torch.Tensor) -> torch.Tensor:
        x_t = torch.randn(noisy.shape)
        return net(x_t, torch.full((noisy.shape[0],), T_FIRST), noisy)

    return estimate, params


def main(argv: list[str] | None = None) -> int:
    """Run every requested candidate in turn."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--weights", nargs="*", default=None, help="start weights (none given: the shipped ones)")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--reference", action="store_true")
    parser.add_argument("--restorer", action="store_true", help="the learned source restorer (model/restorer.py)")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    records = [r for r in load_pack(args.pack) if r.task == "ir_vis"]
    candidates: list[tuple[str, Callable[[], tuple[Callable, list]]]] = []
    for path in ([None] if args.weights == [] else args.weights or []):
        candidates.append((path or "shipped", lambda p=path: network_estimate(load_model(p).net)))
    if args.fresh:
        candidates.append(("fresh", lambda: network_estimate(build_model(load_model(None).net.config))))
    if args.reference:
        def reference() -> tuple[Callable, list]:
            cnn = reference_cnn()
            return (lambda noisy: noisy + cnn(noisy)), list(cnn.parameters())
        candidates.append(("reference CNN", reference))
    if args.restorer:
        def restorer() -> tuple[Callable, list]:
            net = Restorer()
            return (lambda noisy: net((noisy + 1) / 2) * 2 - 1), list(net.parameters())
        candidates.append(("restorer", restorer))
    if not candidates:
        parser.error("name at least one of --weights, --fresh, --reference, --restorer")
    for name, make in candidates:
        torch.manual_seed(0)
        estimate, params = make()
        run(name, estimate, params, CropSampler(records, 64, "cpu", seed=0), args.iters, args.lr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
