"""Fusion speed and memory: ms per megapixel and peak memory per configuration.

Usage::

    .venv/bin/python benchmarks/bench_fusion.py                     # full grid, CPU (+ CUDA if present)
    .venv/bin/python benchmarks/bench_fusion.py --sizes 640x480 --steps 4 --methods textdifuse
    .venv/bin/python benchmarks/bench_fusion.py --rss-loop 100 --sizes 256x256 --steps 4   # memory growth

Each configuration runs in a fresh subprocess (peak RSS delta via
``resource.getrusage``; ``torch.cuda.max_memory_allocated`` on CUDA).  The
``--rss-loop N`` mode fuses N different synthetic pairs in one process, the
way ``textdifuse fuse DIR_A DIR_B`` does, and prints the RSS after every
tenth pair, so that growth (leaked per-pair tensors) shows.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from textdifuse_desktop.fusion.benchmark import (
    markdown_table,
    random_weights,
    run_benchmark,
    synthetic_pair,
)


def _current_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_loop(n: int, weights: str | None, steps: int, size: tuple[int, int], device: str = "cpu") -> None:
    """Fuse ``n`` different pairs in this process and print RSS (and CUDA memory) every 10 pairs."""
    from textdifuse_desktop.fusion import FusionParams, FusionRequest
    from textdifuse_desktop.fusion.engine import fuse
    from textdifuse_desktop.model.weights import default_weights_path

    if weights is None and not default_weights_path().is_file():
        weights = random_weights()
    params = FusionParams(steps=steps, device=device, weights=weights)
    started = time.perf_counter()
    for index in range(n):
        a, b = synthetic_pair(*size, seed=index)
        fuse(FusionRequest(a, b, params))
        if index in (0, 9) or (index + 1) % 10 == 0:
            extra = ""
            if device.startswith("cuda"):
                import torch

                extra = f", CUDA allocated {torch.cuda.memory_allocated() / 2**20:.1f} MB"
            print(f"pair {index + 1:4d}: RSS {_current_rss_mb():7.1f} MB{extra}  ({time.perf_counter() - started:.1f} s)",
                  flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256x256,640x480,1280x1024")
    parser.add_argument("--steps", default="1,2,4,8")
    parser.add_argument("--methods", default="textdifuse,max,mean,laplacian,guided")
    parser.add_argument("--devices", default=None)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rss-loop", type=int, default=0, help="fuse N pairs in one process and print RSS")
    args = parser.parse_args()
    if args.rss_loop:
        width, height = (int(v) for v in args.sizes.split(",")[0].split("x"))
        rss_loop(args.rss_loop, args.weights, int(args.steps.split(",")[0]), (width, height),
                 (args.devices or "cpu").split(",")[0])
        return 0
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    print(f"# fusion benchmark on {platform.processor() or platform.machine()}, python {platform.python_version()}")
    rows = run_benchmark(
        sizes=sizes,  # type: ignore[arg-type]
        steps=[int(s) for s in args.steps.split(",")],
        devices=args.devices.split(",") if args.devices else None,
        methods=args.methods.split(","),
        weights=args.weights,
        repeats=args.repeats,
        on_row=lambda r: print(f"  done: {r.method} {r.device} {r.width}x{r.height} steps={r.steps}", file=sys.stderr),
    )
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
