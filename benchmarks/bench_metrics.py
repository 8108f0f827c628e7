"""Benchmark the fusion metrics: ms per metric per 640x480 image, and a 100-image folder evaluation.

Usage::

    .venv/bin/python benchmarks/bench_metrics.py [--images 100] [--jobs N] [--data /work/shared/data/ir_vis]

Sources are real MSRS pairs when ``--data`` points at ``ir_vis/`` (pairs are
flipped and jittered to get distinct images), otherwise synthetic textures.
The fused image is a simple max/mean blend.  Prints the machine load too,
because timings on a shared machine vary.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from textdifuse_desktop.metrics import METRICS, _cache, to_grey_uint8
from textdifuse_desktop.metrics.evaluation import evaluate_folders

SHAPE = (480, 640)


def _source_pairs(data: Path | None) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = []
    if data is not None:
        for sub in ("msrs_test", "msrs_train"):
            ir_dir = data / sub / "ir"
            for ir in sorted(ir_dir.glob("*.png")) if ir_dir.is_dir() else []:
                vi = data / sub / "vi" / ir.name
                if vi.exists():
                    a = np.asarray(Image.open(ir).convert("L"))
                    b = np.asarray(Image.open(vi).convert("RGB"))
                    if a.shape == SHAPE:
                        pairs.append((a, b))
    if not pairs:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
        for i in range(8):
            a = 120 + 60 * np.sin(x / (5 + i)) * np.cos(y / (9 + i)) + rng.normal(0, 10, SHAPE)
            b = 100 + 50 * np.cos((x + 2 * y) / (7 + i)) + rng.normal(0, 10, SHAPE)
            rgb = np.stack([b, b * 0.8 + 20, 255 - b], axis=-1)
            pairs.append((np.clip(a, 0, 255).astype(np.uint8), np.clip(rgb, 0, 255).astype(np.uint8)))
    return pairs


def make_triplets(n: int, data: Path | None, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n`` distinct (A grey, B RGB, F grey) 640x480 triplets."""
    rng = np.random.default_rng(seed)
    pairs = _source_pairs(data)
    out = []
    for i in range(n):
        a, b = pairs[i % len(pairs)]
        if (i // len(pairs)) % 2:
            a, b = a[:, ::-1], b[:, ::-1]
        jitter = rng.integers(-3, 4, SHAPE)
        a = np.clip(a.astype(int) + jitter, 0, 255).astype(np.uint8)
        b_grey = b.mean(axis=2)
        w = rng.uniform(0.3, 0.7)
        f = np.clip(np.maximum(a, b_grey) * w + (a + b_grey) / 2 * (1 - w), 0, 255).astype(np.uint8)
        out.append((np.ascontiguousarray(a), np.ascontiguousarray(b), f))
    return out


def bench_per_metric(triplets: list, repeats: int = 1) -> None:
    print(f"Per metric, CPU ms per 640x480 image (median over {len(triplets)} images; 'cold' = sources not "
          "memoised, 'warm' = a second method on the same sources; CPU time, so less sensitive to machine load)")
    grey = [(to_grey_uint8(a), to_grey_uint8(b), f) for a, b, f in triplets]
    total_cold = total_warm = 0.0
    for name, fn in METRICS.items():
        cold, warm = [], []
        for a, b, f in grey:
            for _ in range(repeats):
                _cache.clear()
                t0 = time.process_time()
                fn(a, b, f)
                cold.append(time.process_time() - t0)
                t0 = time.process_time()
                fn(a, b, f)
                warm.append(time.process_time() - t0)
        c, w = statistics.median(cold) * 1e3, statistics.median(warm) * 1e3
        total_cold += c
        total_warm += w
        print(f"  {name:5s} cold {c:7.1f} ms   warm {w:7.1f} ms")
    print(f"  {'all':5s} cold {total_cold:7.1f} ms   warm {total_warm:7.1f} ms")


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished (joined) children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_folder(triplets: list, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sub in ("ir", "vi", "method"):
            (root / sub).mkdir()
        for i, (a, b, f) in enumerate(triplets):
            Image.fromarray(a).save(root / "ir" / f"{i:04d}.png", compress_level=1)
            Image.fromarray(b).save(root / "vi" / f"{i:04d}.png", compress_level=1)
            Image.fromarray(f).save(root / "method" / f"{i:04d}.png", compress_level=1)
        for j in sorted({1, jobs}):
            _cache.clear()
            t0, c0 = time.perf_counter(), _cpu_seconds()
            result = evaluate_folders(root / "ir", root / "vi", [root / "method"], jobs=j)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
            assert len(result.rows) == len(triplets) and not result.issues
            print(f"evaluate_folders: {len(triplets)} pairs of 640x480 PNGs (decode included), 1 method, jobs={j}: "
                  f"{wall:.1f} s wall, {cpu:.1f} CPU-s in all processes ({cpu / len(triplets) * 1e3:.0f} CPU-ms "
                  f"per image; ideal wall on {j} idle core(s) ~ {cpu / j:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--per-metric-images", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/ir_vis"))
    args = parser.parse_args(argv)
    data = args.data if args.data.is_dir() else None
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, sources: {'MSRS from ' + str(data) if data else 'synthetic'}")
    triplets = make_triplets(args.images, data)
    bench_per_metric(triplets[: args.per_metric_images])
    bench_folder(triplets, args.jobs)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
