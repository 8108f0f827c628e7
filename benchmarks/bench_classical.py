"""Time the classical fusion rules (ms per call) at three sizes.

Run single-threaded, as the requirement is stated for one core::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_classical.py

Inputs are smooth random textures (the rules' cost does not depend on content).
Two figures per case: wall-clock and process CPU time (the CPU figure is the
fairer one on a shared machine; with one thread they agree when it is idle).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage

from textdifuse_desktop.fusion.classical import METHODS, fuse_luma

SIZES = ((256, 256), (480, 640), (1024, 1280))


def _texture(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.random(shape, dtype=np.float32), 3.0)
    field -= field.min()
    return (field / field.max() * 255.0).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed calls per case (median reported)")
    args = parser.parse_args()
    print(f"{'method':<10}" + "".join(f"{f'{w}x{h}':>18}" for h, w in SIZES) + "   (median ms: wall / cpu)")
    for method in METHODS:
        row = f"{method:<10}"
        for shape in SIZES:
            a, b = _texture(shape, 1), _texture(shape, 2)
            fuse_luma(a, b, method)  # warm-up
            wall, cpu = [], []
            for _ in range(args.repeat):
                start, start_cpu = time.perf_counter(), time.process_time()
                fuse_luma(a, b, method)
                wall.append((time.perf_counter() - start) * 1e3)
                cpu.append((time.process_time() - start_cpu) * 1e3)
            row += f"{np.median(wall):11.1f} /{np.median(cpu):5.1f}"
        print(row)


if __name__ == "__main__":
    main()
