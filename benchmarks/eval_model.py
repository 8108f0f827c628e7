"""Evaluate fusion weights on the packed test splits against the classical Laplacian-pyramid rule.

For every test pair (msrs_test, the 25 held-out RoadScene pairs, Harvard test splits) the sources are fused
(a) clean and (b) degraded on the fly with a fixed seed per pair (``degrade_batch``).  Metrics are always
computed against the CLEAN sources.  Prints a table and writes JSON; ``--update-card`` stores the means in the
model card next to the weights (the weights file and its sha256 are not touched).

    python benchmarks/eval_model.py --weights models/textdifuse-compact/model.safetensors \
        --test-pack .gpu_data/test_pack.npz --max-per-task 6 --out eval.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from textdifuse_desktop.fusion.classical import fuse_luma
from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.model.data import load_pack, load_pairs
from textdifuse_desktop.model.degrade_torch import degrade_batch
from textdifuse_desktop.model.inference import fuse, pad_to_multiple
from textdifuse_desktop.model.weights import CARD_NAME, load_model

METRIC_NAMES = ("VIF", "Qabf", "SSIM", "SCD", "MI", "EN", "SD", "AG")


def _model_fuse(loaded, a: np.ndarray, b: np.ndarray, steps: int, device: torch.device) -> np.ndarray:
    ya = torch.from_numpy(a / 255.0).float()[None, None].to(device)
    yb = torch.from_numpy(b / 255.0).float()[None, None].to(device)
    ya, (h, w) = pad_to_multiple(ya, loaded.net.multiple)
    yb, _ = pad_to_multiple(yb, loaded.net.multiple)
    out = fuse(loaded.net, loaded.sampler, ya, yb, steps=steps)
    return (out[0, 0, :h, :w].float().cpu().numpy() * 255.0).round().clip(0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--test-pack", default=None)
    parser.add_argument("--data-root", default=None, help="read the test split from folders instead of a pack")
    parser.add_argument("--max-per-task", type=int, default=0, help="0 = all pairs")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None)
    parser.add_argument("--update-card", action="store_true")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    loaded = load_model(args.weights, device)
    records = load_pack(args.test_pack) if args.test_pack else load_pairs(args.data_root, "test")
    per_task: dict[str, list] = defaultdict(list)
    for r in records:
        if not args.max_per_task or len(per_task[r.task]) < args.max_per_task:
            per_task[r.task].append(r)
    sums: dict[tuple[str, str, str], list[dict[str, float]]] = defaultdict(list)
    seconds = []
    for task, recs in per_task.items():
        for i, r in enumerate(recs):
            gen = torch.Generator().manual_seed(1000 + i)
            pair = torch.from_numpy(np.stack([r.a, r.b])[:, None] / 255.0).float()
            deg = degrade_batch(pair, [r.mod_a, r.mod_b], gen, p_clean=0.0).clamp(0, 1)
            deg_np = (deg[:, 0].numpy() * 255).round().astype(np.uint8)
            for cond, (a, b) in (("clean", (r.a, r.b)), ("degraded", (deg_np[0], deg_np[1]))):
                t0 = time.perf_counter()
                fused = _model_fuse(loaded, a, b, args.steps, device)
                seconds.append(time.perf_counter() - t0)
                lap = fuse_luma(a.astype(np.float32), b.astype(np.float32), "laplacian")
                lap = np.clip(np.round(lap), 0, 255).astype(np.uint8)
                for method, f in (("model", fused), ("laplacian", lap)):
                    sums[(task, cond, method)].append(compute_all(r.a, r.b, f, METRIC_NAMES))
    results: dict[str, dict] = {}
    for (task, cond, method), rows in sorted(sums.items()):
        mean = {k: round(float(np.mean([row[k] for row in rows])), 4) for k in METRIC_NAMES}
        results.setdefault(task, {}).setdefault(cond, {})[method] = {"n": len(rows), **mean}
    print(f"{'task':10s} {'cond':9s} {'method':10s} " + " ".join(f"{k:>7s}" for k in METRIC_NAMES))
    for task, conds in results.items():
        for cond, methods in conds.items():
            for method, row in methods.items():
                print(f"{task:10s} {cond:9s} {method:10s} " + " ".join(f"{row[k]:7.3f}" for k in METRIC_NAMES))
    summary = {"weights_sha256": loaded.sha256, "steps": args.steps, "device": str(device),
               "mean_fuse_seconds": round(float(np.mean(seconds)), 3), "pairs_per_task":
               {t: len(r) for t, r in per_task.items()}, "metrics_against": "clean sources",
               "degradation": "degrade_batch(p_clean=0) with torch seed 1000+i per pair", "results": results}
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.update_card:
        card_path = Path(args.weights or loaded.card.get("weights_file", "")).parent / CARD_NAME
        card = json.loads(card_path.read_text(encoding="utf-8"))
        card["metrics"] = summary
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
