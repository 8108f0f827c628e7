#!/usr/bin/env python
"""Salt-and-pepper impulses through the learned restorer alone, on training pairs, by where they fall.

    .venv/bin/python benchmarks/impulse_removal.py --pack .gpu_data/train_pack.npz --per-set 3 \
        [--variants NAME=WEIGHTS ...]

For source A of the first ``--per-set`` pairs of each set, impulses are drawn on 0.1 % and 0.5 % of the pixels (seeded)
and the source goes through the restorer (``model.inference.restore_sources``).  An impulse counts when it moved its
pixel by more than 30 grey levels, and is "left" when the restored pixel is still off the clean one by more than 30.
Printed per set and model: the share left, overall and by where the impulse fell (texture: 5x5 standard deviation of
the clean source above 20 grey levels; flat; dark background: clean value under 20), the mean change the restorer
makes to the clean source, and the RMSE after restoring Gaussian noise of sigma 12 (grey levels, as the input's).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep_model import first_test_pairs

from textdifuse_desktop.model.inference import restore_sources
from textdifuse_desktop.model.weights import load_model

SETS = ("ir_vis:msrs_train", "ir_vis:roadscene", "mri_ct:mri_ct", "mri_pet:mri_pet")
OFF = 30.0  # grey levels


def _restore(net, plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape
    multiple = net.restorer.multiple
    y = torch.nn.functional.pad(torch.from_numpy(plane)[None, None], (0, (-w) % multiple, 0, (-h) % multiple),
                                mode="replicate")
    return restore_sources(net, y, None)[0][0, 0, :h, :w].numpy()


def measure(net, records, seed: int = 0) -> dict[str, float]:
    """The figures of one model on one set's records (see the module docstring)."""
    rng = np.random.default_rng(seed)
    hit = {"all": 0, "texture": 0, "flat": 0, "dark": 0}
    left = dict.fromkeys(hit, 0)
    clean_change, noise_rmse = [], []
    for record in records:
        clean = record.a.astype(np.float32) / 255.0
        grey = clean * 255.0
        spread = np.sqrt(np.maximum(ndimage.uniform_filter(grey**2, 5) - ndimage.uniform_filter(grey, 5) ** 2, 0))
        where = {"all": np.ones_like(clean, bool), "dark": grey < 20, "texture": (spread > 20) & (grey >= 20),
                 "flat": (spread <= 20) & (grey >= 20)}
        for amount in (1e-3, 5e-3):
            draw = rng.random(clean.shape)
            degraded = clean.copy()
            degraded[draw < amount / 2] = 1.0
            degraded[draw > 1 - amount / 2] = 0.0
            impulses = np.abs(degraded - clean) * 255 > OFF
            still = impulses & (np.abs(_restore(net, degraded) - clean) * 255 > OFF)
            for name, mask in where.items():
                hit[name] += int((impulses & mask).sum())
                left[name] += int((still & mask).sum())
        clean_change.append(float(np.abs(_restore(net, clean) - clean).mean() * 255))
        noisy = np.clip(clean + rng.normal(0, 12 / 255, clean.shape), 0, 1).astype(np.float32)
        noise_rmse.append(float(np.sqrt(((_restore(net, noisy) - clean) ** 2).mean()) * 255))
    figures = {f"left {k} %": 100.0 * left[k] / max(hit[k], 1) for k in hit}
    return figures | {"clean change": float(np.mean(clean_change)), "noise 12 RMSE": float(np.mean(noise_rmse))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--per-set", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=[], metavar="NAME=WEIGHTS")
    args = parser.parse_args(argv)
    models = {"shipped": load_model(None)} | {n: load_model(p) for n, p in (v.split("=", 1) for v in args.variants)}
    per_set = first_test_pairs(args.pack, args.per_set, by_set=True)
    header = None
    for key in SETS:
        for name, loaded in models.items():
            if loaded.net.restorer is None:
                raise SystemExit(f"{name}: these weights have no restorer")
            with torch.no_grad():
                figures = measure(loaded.net, per_set[key])
            if header is None:
                header = "| set | model | " + " | ".join(figures) + " |"
                print(header + "\n|---|---|" + "---:|" * len(figures))
            print(f"| {key} | {name} | " + " | ".join(f"{v:.2f}" for v in figures.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
