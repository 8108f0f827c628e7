"""Check the engine's GPU behaviour: CUDA vs CPU agreement and the out-of-memory fallback.

Usage (needs a CUDA GPU)::

    python benchmarks/check_gpu_fallback.py [--weights FILE]

1. Fuses a 640x480 synthetic pair on CUDA and on the CPU with the same seed
   and prints the mean/max absolute difference (0..255 units).
2. Caps this process's CUDA memory (``torch.cuda.set_per_process_memory_fraction``)
   so that a 2048x2048 fusion runs out of memory, and prints the engine's
   warnings: smaller tiles first, then the CPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from textdifuse_desktop.fusion import FusionParams, FusionRequest
from textdifuse_desktop.fusion.benchmark import random_weights, synthetic_pair
from textdifuse_desktop.fusion.engine import clear_cache, fuse
from textdifuse_desktop.model.weights import default_weights_path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=None)
    parser.add_argument("--cap-mb", type=float, default=300.0, help="CUDA memory cap for the OOM check")
    args = parser.parse_args()
    weights = args.weights or (str(default_weights_path()) if default_weights_path().is_file() else random_weights())
    a, b = synthetic_pair(640, 480)
    outs = {}
    for device in ("cuda", "cpu"):
        params = FusionParams(steps=4, device=device, weights=weights)
        fuse(FusionRequest(a, b, params))  # warm-up
        started = time.perf_counter()
        result = fuse(FusionRequest(a, b, params))
        print(f"{device}: {time.perf_counter() - started:.3f} s, device={result.device}, warnings={result.warnings}")
        outs[device] = result.image.pixels
    diff = np.abs(outs["cuda"] - outs["cpu"])
    print(f"cuda vs cpu: mean |diff| {diff.mean():.4f}, max {diff.max():.4f} (0..255)")

    clear_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(args.cap_mb * 2**20 / total)
    big_a, big_b = synthetic_pair(2048, 2048)
    started = time.perf_counter()
    result = fuse(FusionRequest(big_a, big_b, FusionParams(steps=1, device="cuda", weights=weights, tile=2048)))
    print(f"capped at {args.cap_mb:.0f} MB: {time.perf_counter() - started:.1f} s, final device {result.device}")
    for warning in result.warnings:
        print("  warning:", warning)
    print("finite:", bool(np.isfinite(result.image.pixels).all()), "shape:", result.image.pixels.shape)


if __name__ == "__main__":
    main()
