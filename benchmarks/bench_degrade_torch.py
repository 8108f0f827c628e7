"""Throughput of the batched torch degradations, and their match with numpy on the device.

    python benchmarks/bench_degrade_torch.py [--device cuda] [--batch 128] [--size 160]

Prints, per modality, ms per batch of ``degrade_batch`` (plans drawn on the
CPU + pixel work on the device, synchronised), the share spent drawing plans,
and the largest |torch - numpy| difference for one fixed plan per op on the
device (float32).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from textdifuse_desktop.imaging import degrade as npd
from textdifuse_desktop.model.degrade_torch import apply_plan, degrade_batch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"device={device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), "
          f"batch={args.batch}, size={args.size}, torch {torch.__version__}")

    rng = np.random.default_rng(0)
    x_np = rng.random((args.size + 3, args.size - 5), dtype=np.float32)
    worst = 0.0
    for modality in npd.MODALITIES:
        for _ in range(10):
            plan = npd.sample_plan(modality, rng, n_ops=3)
            noise = npd.draw_noise(plan, x_np.shape, rng)
            ref = npd.apply_plan(x_np, plan, noise)
            got = apply_plan(torch.from_numpy(x_np).to(device)[None, None], plan, noise)
            worst = max(worst, float((got[0, 0].cpu() - torch.from_numpy(ref)).abs().max()))
    print(f"numpy vs torch on {device}: max |diff| = {worst:.2e} (60 random 3-op plans)")

    x = torch.rand(args.batch, 1, args.size, args.size, device=device)
    gen = torch.Generator(device=device).manual_seed(0)
    for modality in npd.MODALITIES:
        degrade_batch(x, modality, gen)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(args.repeat):
            degrade_batch(x, modality, gen)
        _sync(device)
        total = (time.perf_counter() - start) / args.repeat * 1e3
        start = time.perf_counter()
        for _ in range(args.repeat):
            [npd.sample_plan(modality, rng) for _ in range(args.batch)]
        plans = (time.perf_counter() - start) / args.repeat * 1e3
        print(f"{modality:<6} {total:8.2f} ms/batch  ({args.batch * 1e3 / total:9.0f} img/s; "
              f"plan sampling {plans:.2f} ms)")


if __name__ == "__main__":
    main()
