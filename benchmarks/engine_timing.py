#!/usr/bin/env python
"""Median time of N whole-engine fusions of one synthetic pair in one process (after two warm-up fusions).

    .venv/bin/python benchmarks/engine_timing.py [--size 640x480] [--steps 2] [--repeats 10]

``bench_fusion.py`` runs each configuration in a fresh process and reports the median of 3, which on a shared
2-core VM varies by ±10 % from run to run; this one takes more samples in one process, so that two versions of the
code can be compared by running it alternately in each (``PYTHONPATH=<other checkout>`` selects the other one).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from textdifuse_desktop.fusion import FusionParams, FusionRequest
from textdifuse_desktop.fusion.benchmark import synthetic_pair
from textdifuse_desktop.fusion.engine import fuse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    a, b = synthetic_pair(width, height, seed=0)
    params = FusionParams(steps=args.steps, device="cpu")
    for _ in range(2):
        fuse(FusionRequest(a, b, params))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fuse(FusionRequest(a, b, params))
        times.append(time.perf_counter() - start)
    print(f"{args.size} {args.steps} steps, {args.threads} threads: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s over {args.repeats} fusions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
