"""Whole-volume fusion: time, peak memory and slice-to-slice consistency (issue 18).

Usage::

    .venv/bin/python benchmarks/bench_volume_fusion.py                       # synthetic 256x256x150 + MNI, CPU
    .venv/bin/python benchmarks/bench_volume_fusion.py --case synthetic --threads 2
    .venv/bin/python benchmarks/bench_volume_fusion.py --case mni --device cuda

Cases (each in a fresh subprocess, so that its peak RSS is its own):

* ``synthetic``: a 256x256x150 MRI-like volume (head, ventricles, grey/white tissue, noise) and a
  PET-like volume (smooth cortical uptake and two hot lesions), both 3-D coherent.
* ``mni``: the real ICBM152 2009a T1 (197x233x189, 1 mm) with its grey-matter probability map,
  smoothed to 6 mm FWHM and labelled PT, as an FDG-like stand-in (``../shared/data/volumes`` holds no
  real PET volume, see its README).

Printed per case: fusion seconds (engine only, model loaded and warmed up before), seconds per
slice, the process's CPU time (on a machine shared with other work, CPU time / threads estimates the
wall time on free cores), the load average during the run, peak RSS (``ru_maxrss``) and the tracemalloc peak of the
fusion (numpy's allocations; torch's are not traced), and per axis the mean absolute difference
between neighbouring slices of the fused volume and of each source (on the model's 0..255 input
scale) with the ratio fused / max(sources) — issue 18 asks for at most 1.10.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

VOLUMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "volumes"
MNI = VOLUMES / "nifti" / "mni152_2009a"


def synthetic_volume_pair(shape: tuple[int, int, int] = (150, 256, 256), seed: int = 0):
    """(MRI-like, PET-like) Images of ``shape`` (Z, Y, X) on one 1 mm grid."""
    from scipy import ndimage

    from textdifuse_desktop.imaging.image import Image

    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n, dtype=np.float32) for n in shape), indexing="ij")
    head = (x / 0.85) ** 2 + (y / 0.95) ** 2 + (z / 0.9) ** 2
    brain = head < 0.8
    texture = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 3.0)
    grey = brain & (np.abs(texture) < 0.08)
    ventricles = ((x / 0.15) ** 2 + (y / 0.35) ** 2 + (z / 0.3) ** 2) < 1
    mri = np.where(head < 1, 300.0, 0.0) + np.where(brain, 500.0, 0.0) - np.where(grey, 180.0, 0.0)
    mri = np.where(ventricles, 120.0, mri).astype(np.float32)
    mri += rng.normal(0, 12, shape).astype(np.float32) * (head < 1)
    uptake = ndimage.gaussian_filter(grey.astype(np.float32), 2.5) * 6.0
    for centre in ((0.2, -0.3, 0.35), (-0.25, 0.4, -0.3)):
        uptake += 12.0 * np.exp(-((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2) / 0.005)
    pet = (uptake * (head < 1) + rng.normal(0, 0.15, shape) * (head < 1)).clip(0).astype(np.float32)
    return (Image(np.clip(mri, 0, None), axes="ZYX", modality="MR"),
            Image(pet, axes="ZYX", modality="PT", units="SUV"))


def mni_pair():
    """The ICBM152 T1 and its smoothed grey-matter map as a PET stand-in, or None when absent."""
    from dataclasses import replace

    from scipy import ndimage

    from textdifuse_desktop.io import read_image

    t1_path = MNI / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    gm_path = MNI / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"
    if not (t1_path.is_file() and gm_path.is_file()):
        return None
    t1 = read_image(t1_path, modality="MR")
    gm = read_image(gm_path)
    sigma = 6.0 / 2.355  # 6 mm FWHM on the 1 mm grid
    pet = ndimage.gaussian_filter(gm.pixels, sigma) * 8.0
    return t1, replace(gm, pixels=pet.astype(np.float32), modality="PT", units="SUV", window=None)


def run_case(case: str, device: str, threads: int, steps: int) -> dict:
    """Fuse one case in this process; returns the figures."""
    import torch

    from textdifuse_desktop.fusion._sources import prepare_pair
    from textdifuse_desktop.fusion.engine import fuse
    from textdifuse_desktop.fusion.request import FusionParams, FusionRequest
    from textdifuse_desktop.metrics.consistency import flicker_report

    torch.set_num_threads(threads)
    pair = synthetic_volume_pair() if case == "synthetic" else mni_pair()
    if pair is None:
        return {"case": case, "skipped": f"{MNI} not found"}
    a, b = pair
    params = FusionParams(device=device, steps=steps)
    small = FusionRequest(a.with_pixels(a.pixels[:2]), b.with_pixels(b.pixels[:2]), params)
    fuse(small)  # load and warm up the model outside the timed run
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ticks: list[float] = []
    load_start = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    tracemalloc.start()
    started = time.perf_counter()
    result = fuse(FusionRequest(a, b, params), on_progress=lambda p: ticks.append(time.perf_counter() - started))
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = usage.ru_utime + usage.ru_stime - cpu_before
    prepared = prepare_pair(a, b)
    fused = result.image.pixels
    rows = flicker_report(prepared.ya * 255.0, prepared.yb * 255.0, fused)
    return {
        "case": case,
        "shape": list(a.pixels.shape),
        "device": result.device,
        "threads": threads,
        "seconds": round(seconds, 2),
        "seconds_per_slice": round(seconds / a.pixels.shape[0], 4),
        "cpu_seconds": round(cpu_seconds, 1),
        "first_progress_s": round(ticks[0], 2) if ticks else None,
        "progress_reports": len(ticks),
        "load_avg_1min_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "rss_before_fusion_mb": round(rss_before, 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
        "flicker": [{"axis": r.axis, "fused": round(r.fused, 3), "a": round(r.source_a, 3),
                     "b": round(r.source_b, 3), "ratio": round(r.ratio, 3), "passes": r.passes} for r in rows],
    }


def _print(row: dict) -> None:
    if "skipped" in row:
        print(f"{row['case']}: skipped ({row['skipped']})")
        return
    print(f"\n{row['case']} {'x'.join(map(str, row['shape'][::-1]))} on {row['device']} ({row['threads']} threads)")
    print(f"  fusion {row['seconds']} s ({row['seconds_per_slice']} s/slice, first progress after "
          f"{row['first_progress_s']} s, {row['progress_reports']} reports); load average "
          f"{row['load_avg_1min_start_end'][0]} -> {row['load_avg_1min_start_end'][1]}")
    print(f"  process CPU time {row['cpu_seconds']} s (/{row['threads']} threads = "
          f"{row['cpu_seconds'] / row['threads']:.1f} s: the wall time on {row['threads']} free cores, roughly)")
    print(f"  peak RSS {row['peak_rss_mb']} MB (after model load {row['rss_before_fusion_mb']} MB); "
          f"tracemalloc peak {row['tracemalloc_peak_mb']} MB")
    print("  neighbour-slice mean |difference| (0..255):  fused   source A  source B  ratio  <=1.10")
    for item in row["flicker"]:
        print(f"    {item['axis']:<16} {item['fused']:8.3f} {item['a']:9.3f} {item['b']:9.3f} "
              f"{item['ratio']:6.3f}  {'yes' if item['passes'] else 'NO'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("all", "synthetic", "mni"), default="all")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.case, args.device, args.threads, args.steps)))
        return 0
    cases = ("synthetic", "mni") if args.case == "all" else (args.case,)
    for case in cases:
        command = [sys.executable, __file__, "--one", "--case", case, "--device", args.device,
                   "--threads", str(args.threads), "--steps", str(args.steps)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{case}: failed\n{done.stderr[-2000:]}")
            continue
        _print(json.loads(done.stdout.strip().splitlines()[-1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
