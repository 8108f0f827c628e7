"""CPU time per fused step and per fusion of the compact network (1, 2, 4, 8 steps; 256x256 and 640x480).

    .venv/bin/python benchmarks/model_speed.py [--weights PATH] [--repeats 3] [--threads N] [--device cuda]

On CUDA the fusion replays the network as a CUDA graph (``model/cuda_graphs.py``) and times are synchronised.

Prints parameter count, weights size and the best-of-N wall times (random weights unless --weights).
"""

from __future__ import annotations

import argparse
import time

import torch

from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, count_parameters
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.weights import load_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.weights:
        loaded = load_model(args.weights, device=args.device)
        net, sampler = loaded.net, loaded.sampler
        print(f"weights {args.weights}: {loaded.card.get('size_bytes', 0) / 1e6:.2f} MB")
    else:
        net, sampler = build_model().eval().to(args.device), DDIMSampler()
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    print(f"parameters {count_parameters(net):,} (FCM {sum(p.numel() for p in net.fcm_parameters()):,}); "
          f"fp16 size {count_parameters(net) * 2 / 1e6:.2f} MB; threads {torch.get_num_threads()}")
    for h, w in ((256, 256), (480, 640)):
        gen = torch.Generator().manual_seed(0)
        a, b = (torch.rand(1, 1, h, w, generator=gen).to(args.device) for _ in range(2))
        for steps in (1, 2, 4, 8):  # warm-up (CUDA: graph capture)
            fuse(net, sampler, a, b, steps=steps)
        for steps in (1, 2, 4, 8):
            times = []
            for _ in range(args.repeats):
                sync()
                t0 = time.perf_counter()
                fuse(net, sampler, a, b, steps=steps)
                sync()
                times.append(time.perf_counter() - t0)
            best = min(times)
            print(f"{w}x{h} steps={steps}: {best:.3f} s per fusion, {best / steps:.3f} s per step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
