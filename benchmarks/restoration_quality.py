#!/usr/bin/env python
"""Single-source restoration: the network's denoiser (no fusion) against bm3d-based restoration, one op at a time.

    .venv/bin/python benchmarks/restoration_quality.py --pack .gpu_data/train_pack.npz --per-task 3 \
        [--variants NAME=WEIGHTS ...] [--steps N] [--out runs/restoration.md]

Stage A trains the encoder and decoder to restore one degraded source; the fusion can only be as clean as that
restoration.  For the first ``--per-task`` pairs of IR/VIS, MRI-PET and MRI-SPECT, each source gets each op of
``per_degradation.OPS`` at its mid-range strength and is restored by the shipped model (``fuse`` with no second
source, ``--steps`` DDIM steps), each ``--variants`` model (and, for a model with a learned restorer, that restorer
alone; and for a model with a tone head, the restorer and then the tone curves, with the pair's other source clean and
both modalities known: exactly the sources the FCM fuses), and ``restore_then_fuse.restore_luma`` (impulse removal,
destriping, bm3d, tone stretch; needs the ``bench`` extra).  The degraded input itself is the "none" column.
Cells are PSNR (dB, peak 255) / SSIM against the clean source.  Use training pairs to compare models.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from per_degradation import load_variants, single_op_cases
from restore_then_fuse import restore_luma

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.metrics.ssim import ssim_matlab
from textdifuse_desktop.model.inference import (
    fuse,
    pad_to_multiple,
    prepare_sources,
    restore_sources,
)


def _padded(loaded, degraded: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    """``degraded`` ([0, 1] float) as a padded ``[1, 1, H, W]`` tensor for ``loaded``'s network, and its size."""
    return pad_to_multiple(torch.from_numpy(degraded).float()[None, None], loaded.net.multiple)


def network_restore(loaded, degraded: np.ndarray, steps: int) -> np.ndarray:
    """The network's single-source restoration of ``degraded`` ([0, 1] float), in [0, 1]."""
    y, (h, w) = _padded(loaded, degraded)
    with torch.no_grad():
        out = fuse(loaded.net, loaded.sampler, y, None, steps=steps)
    return out[0, 0, :h, :w].clamp(0, 1).numpy()


def restorer_restore(loaded, degraded: np.ndarray) -> np.ndarray:
    """The network's learned restorer alone (what the FCM fuses), in [0, 1]."""
    y, (h, w) = _padded(loaded, degraded)
    return restore_sources(loaded.net, y, None)[0][0, 0, :h, :w].numpy()


def prepared_restore(loaded, record, side: str, degraded: np.ndarray) -> np.ndarray:
    """Side ``side`` of ``record`` with that side ``degraded`` ([0, 1] float), through the restorer and the tone
    curves of the pair (the other source clean, both modalities known), in [0, 1]."""
    planes = {"a": record.a / 255.0, "b": record.b / 255.0, side: degraded}
    (ya, (h, w)), (yb, _) = _padded(loaded, planes["a"]), _padded(loaded, planes["b"])
    prepared = prepare_sources(loaded.net, ya, yb, modalities=(record.mod_a, record.mod_b))
    return prepared[0 if side == "a" else 1][0, 0, :h, :w].numpy()


def scores(clean_u8: np.ndarray, restored: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of ``restored`` ([0, 1]) against ``clean_u8``, both on the 8-bit grid."""
    x = np.clip(np.round(restored * 255.0), 0, 255)
    ref = clean_u8.astype(np.float64)
    mse = float(np.mean((x - ref) ** 2))
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)
    return psnr, ssim_matlab(ref, x, dynamic_range=255.0)


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the per-op restoration table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--per-task", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=[], metavar="NAME=WEIGHTS")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    models = load_variants(args.variants)
    restorers = [name for name, loaded in models.items() if loaded.net.restorer is not None]
    toned = [name for name, loaded in models.items() if loaded.net.tone is not None]
    names = ["none", *models, *(f"{name}:restorer" for name in restorers), *(f"{name}:prepared" for name in toned),
             "bm3d_restore"]
    table: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for _, record, side, key_mod, op, degraded in single_op_cases(args.pack, args.per_task):
        clean, case = getattr(record, side), f"{key_mod} {op}"
        table[(case, "none")].append(scores(clean, degraded))
        for name, loaded in models.items():
            table[(case, name)].append(scores(clean, network_restore(loaded, degraded, args.steps)))
        for name in restorers:
            table[(case, f"{name}:restorer")].append(scores(clean, restorer_restore(models[name], degraded)))
        for name in toned:
            table[(case, f"{name}:prepared")].append(scores(clean, prepared_restore(models[name], record, side,
                                                                                      degraded)))
        table[(case, "bm3d_restore")].append(scores(clean, restore_luma(degraded, key_mod)[0]))
    lines = [f"PSNR (dB) / SSIM against the clean source, {args.per_task} pairs per task, {args.steps} step(s).", "",
             "| case | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for case in sorted({c for c, _ in table}):
        cells = [f"{np.mean([p for p, _ in table[(case, n)]]):.2f} / {np.mean([s for _, s in table[(case, n)]]):.3f}"
                 for n in names]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
