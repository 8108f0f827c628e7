"""Whole-image vs tiled fusion: time, peak memory growth, and how much tiling changes the result.

Each configuration runs in a fresh process (peak RSS is per process).  The change is reported against the
whole-image result and, for scale, the change between two noise seeds of the whole image.

    python benchmarks/bench_tiling.py --size 1024x1280 --tiles 0 512 1536
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
import numpy as np
from PIL import Image as P
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.fusion import FusionParams, FusionRequest
from textdifuse_desktop.fusion.engine import fuse
h, w, tile, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
demo = "resources/demo/ir_vis/"
a = Image(np.asarray(P.open(demo + "ir.png").convert("L").resize((w, h)), np.float32), axes="YX")
b = Image(np.asarray(P.open(demo + "vi.png").convert("L").resize((w, h)), np.float32), axes="YX")
small = Image(np.zeros((64, 64), np.float32), axes="YX")
fuse(FusionRequest(small, small, FusionParams(device="cpu")))  # load the model before measuring
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
fused = fuse(FusionRequest(a, b, FusionParams(device="cpu", tile=tile, seed=seed))).image.pixels
seconds = time.perf_counter() - start
np.save(out, fused)
print(json.dumps({"seconds": seconds, "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}))
"""


def _run(h: int, w: int, tile: int, seed: int, out: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(h), str(w), str(tile), str(seed), str(out)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x1280", help="HxW")
    parser.add_argument("--tiles", type=int, nargs="+", default=[0, 512, 1536])
    args = parser.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.npy"
        _run(h, w, 0, 0, whole)
        _run(h, w, 0, 1, Path(tmp) / "seed1.npy")
        reference = np.load(whole)
        seed_change = np.abs(np.load(Path(tmp) / "seed1.npy") - reference)
        print(f"{h}x{w}, shipped weights, 4 steps, CPU; whole image with another seed: mean change "
              f"{seed_change.mean():.2f} grey levels, max {seed_change.max():.1f}")
        print("| tile | s | peak MB | mean change vs whole | max change |")
        print("|---:|---:|---:|---:|---:|")
        for tile in args.tiles:
            path = Path(tmp) / f"tile{tile}.npy"
            stats = _run(h, w, tile, 0, path)
            change = np.abs(np.load(path) - reference)
            print(f"| {tile} | {stats['seconds']:.2f} | {stats['peak_mb']:.0f} | {change.mean():.2f} | {change.max():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
