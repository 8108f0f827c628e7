"""Where the time of one GPU fusion goes, and what bf16 / TF32 / cuDNN autotuning would buy.

    python benchmarks/profile_cuda.py [--size 640x480] [--steps 1 2 4] [--device cuda] [--repeats 10]

Runs on the device machine's packages (torch, numpy; no Qt, no DICOM).  Prints, for the shipped weights:
1. the whole engine (``fusion.engine.fuse``: colour, padding, model, back to numpy), median ms per fusion, with
   eager network calls, with CUDA graphs (the default on CUDA), and graphs under bf16 autocast, each with its
   output's difference from the eager one (TF32 and cuDNN autotuning measured no gain on an H200: not repeated);
2. the parts of one fusion on tensors already on the device: the base layers, one network call, the whole
   ``inference.fuse``;
3. torch.profiler's top operators by device time and by CPU time for one 2-step engine fusion.
On the CPU (``--device cpu``, a quick check of the script) only the eager row runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import torch

from textdifuse_desktop.fusion import FusionParams, FusionRequest
from textdifuse_desktop.fusion.benchmark import synthetic_pair
from textdifuse_desktop.fusion.engine import fuse as engine_fuse
from textdifuse_desktop.model.inference import fuse as model_fuse
from textdifuse_desktop.model.weights import load_model


def timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Median wall milliseconds of ``fn`` after one warm-up call, synchronising the device."""
    times = []
    for index in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if index:
            times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def eager(fn: Callable[[], object]) -> object:
    """``fn()`` with CUDA graphs switched off."""
    os.environ["TEXTDIFUSE_CUDA_GRAPHS"] = "0"
    try:
        return fn()
    finally:
        os.environ.pop("TEXTDIFUSE_CUDA_GRAPHS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}")
    a, b = synthetic_pair(width, height)

    def engine(steps: int) -> np.ndarray:
        return engine_fuse(FusionRequest(a, b, FusionParams(steps=steps, device=args.device))).image.pixels

    modes = [("eager", "0", nullcontext)]
    if device.type == "cuda":
        modes += [("CUDA graphs", "1", nullcontext),
                  ("graphs + bf16", "1", lambda: torch.autocast("cuda", dtype=torch.bfloat16))]
    print(f"\n## engine, {width}x{height}, median of {args.repeats} (ms per fusion; |diff| in grey levels vs eager)")
    os.environ["TEXTDIFUSE_CUDA_GRAPHS"] = "0"
    reference = {steps: engine(steps) for steps in args.steps}
    for name, graphs, context in modes:
        os.environ["TEXTDIFUSE_CUDA_GRAPHS"] = graphs
        cells = []
        for steps in args.steps:
            with context():
                ms = timed(lambda s=steps: engine(s), device, args.repeats)
                diff = np.abs(engine(steps).astype(np.float32) - reference[steps].astype(np.float32))
            cells.append(f"{steps} steps {ms:7.1f} ms (|diff| mean {diff.mean():.3f} max {diff.max():.1f})")
        print(f"{name:14s} " + " | ".join(cells), flush=True)
    os.environ.pop("TEXTDIFUSE_CUDA_GRAPHS")

    loaded = load_model(None, args.device)
    net, sampler = loaded.net, loaded.sampler
    pad_h, pad_w = -(-height // net.multiple) * net.multiple, -(-width // net.multiple) * net.multiple
    y_a = torch.rand((1, 1, pad_h, pad_w), device=device)
    y_b = torch.rand((1, 1, pad_h, pad_w), device=device)
    c_a, c_b = y_a * 2 - 1, y_b * 2 - 1
    t = torch.full((1,), 500.0, device=device)
    print(f"\n## parts on {pad_w}x{pad_h} tensors already on the device (ms)")
    with torch.inference_mode():
        parts = {
            "base layers (both)": lambda: net.compute_bases(c_a, c_b),
            "network call (fresh bases)": lambda: net(c_a.clone(), t, c_a.clone(), c_b.clone()),
        }
        for steps in args.steps:
            parts[f"inference.fuse, {steps} steps"] = lambda s=steps: model_fuse(net, sampler, y_a, y_b, steps=s)
            parts[f"  the same, eager ({steps})"] = lambda s=steps: eager(lambda: model_fuse(net, sampler, y_a, y_b, steps=s))
        for name, fn in parts.items():
            print(f"{name:30s} {timed(fn, device, args.repeats):8.2f}", flush=True)

    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    engine(2)
    with torch.profiler.profile(activities=activities) as prof:
        engine(2)
        if device.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"\n## profiler, one 2-step engine fusion, by {key}")
    print(prof.key_averages().table(sort_by=key, row_limit=18, max_name_column_width=40))
    print("\n## by self CPU time")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
