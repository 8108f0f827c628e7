"""Choose inference options of the shipped model on TRAINING pairs (the validation role; test pairs stay unseen).

For ``--pairs`` pairs per task, spread evenly over the packed training split, the sources are fused clean and
with the seeded composite degradation of ``sweep_model.py`` (or, with ``--seeds``, exactly as ``textdifuse
degrade`` and so the test protocol of ``run_comparison.sh`` degrade the files); VIF and Qabf (against the clean sources) are
printed for the Laplacian and guided-filter rules and for every variant of the model config.  A variant is a
comma-separated list of ``key=value`` overrides of the inference options in the network config (numbers; the
ones read at call time: saliency_smooth, prior_radius, prior_full_res, noisy_smooth, noisy_denoise, noisy_denoise_k,
restore_noise_floor, restore_scale, noise_edges), or ``shipped``.

    python benchmarks/validate_options.py --pairs 12 shipped "restore_scale=0.6" "noisy_smooth=0,saliency_smooth=2"
    python benchmarks/validate_options.py --by-dataset --pairs 20 --seeds 2024 2025 -- shipped "noisy_denoise=2"

The options shipped on 2026-11-26 (prior_radius, noisy_smooth, saliency_smooth, restore_noise_floor,
restore_scale) were chosen with this script, and later that day ``noisy_denoise`` (with ``--seeds``) replaced
``noisy_smooth``; docs/results/README.md lists the runs.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from sweep_model import _classical, _model, seeded_degradation

from textdifuse_desktop.imaging.degrade import degrade, file_rng
from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.model.data import load_pack
from textdifuse_desktop.model.weights import load_model

RULES = ("laplacian", "guided")


def parse_variant(text: str) -> dict[str, float]:
    """``"a=1,b=0.5"`` -> ``{"a": 1.0, "b": 0.5}``; ``"shipped"`` -> no overrides."""
    if text == "shipped":
        return {}
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {key.strip(): float(value) for key, value in pairs}


def cli_degradation(record, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The degradation that ``textdifuse degrade`` (and so ``run_comparison.sh``) gives this pair's files:
    A with ``seed``, B with ``seed + 1``, each seeded by its file name."""
    name = record.name.split("/")[-1]
    planes = []
    for source, modality, source_seed in ((record.a, record.mod_a, seed), (record.b, record.mod_b, seed + 1)):
        degraded, _ = degrade(source / 255.0, modality, file_rng(source_seed, name), max_ops=3, p_clean=0.0)
        planes.append(np.clip(np.round(degraded * 255.0), 0, 255).astype(np.uint8))
    return planes[0], planes[1]


def spread_pairs(pack: str, per_task: int, by_dataset: bool = False) -> dict[str, list[tuple[int, object]]]:
    """``per_task`` records per task (or per dataset: the first folder of the record's name), evenly spread
    over the pack, with their index within the group."""
    by_task: dict[str, list] = defaultdict(list)
    for record in load_pack(pack):
        by_task[record.name.split("/")[0] if by_dataset else record.task].append(record)
    chosen = {}
    for task, records in by_task.items():
        idx = np.linspace(0, len(records) - 1, min(per_task, len(records))).round().astype(int)
        chosen[task] = [(int(i), records[i]) for i in idx]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="'shipped' or key=value,... overrides of the network config")
    parser.add_argument("--train-pack", default=".gpu_data/train_pack.npz")
    parser.add_argument("--pairs", type=int, default=12, help="training pairs per task")
    parser.add_argument("--by-dataset", action="store_true",
                        help="groups are datasets (MSRS and RoadScene apart) rather than tasks")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                        help="degrade as `textdifuse degrade --seed SEED` does (the test protocol), once per seed; "
                             "default: the torch degradation of sweep_model.py (seed 1000 + index)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_model(None, "cpu")
    shipped = dict(loaded.net.config)
    variants = [(text, parse_variant(text)) for text in args.variants]
    wins: dict[str, int] = defaultdict(int)
    margins: dict[str, list[float]] = defaultdict(list)
    for task, records in spread_pairs(args.train_pack, args.pairs, args.by_dataset).items():
        for condition in ("clean", "degraded"):
            scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
            draws = [(index, record, seed) for index, record in records for seed in (args.seeds or [None])]
            if condition == "clean":
                draws = [(index, record, None) for index, record in records]
            for index, record, seed in draws:
                if condition == "clean":
                    a, b = record.a, record.b
                else:
                    a, b = seeded_degradation(record, index) if seed is None else cli_degradation(record, seed)
                outputs = {rule: _classical(a, b, rule) for rule in RULES}
                for name, overrides in variants:
                    loaded.net.config = {**shipped, **overrides}
                    outputs[name] = _model(loaded, a, b, args.steps, "fcm")
                for name, fused in outputs.items():
                    metrics = compute_all(record.a, record.b, fused, ("VIF", "Qabf"))
                    scores[name].append((metrics["VIF"], metrics["Qabf"]))
            means = {name: np.mean(v, 0) for name, v in scores.items()}
            best_rule = np.max([means[rule] for rule in RULES], axis=0)
            for name, _ in variants:
                wins[name] += int(np.sum(np.round(means[name], 3) > np.round(best_rule, 3)))
                margins[name].extend(means[name] - best_rule)
            cells = " ".join(f"{name}={m[0]:.3f}/{m[1]:.3f}" for name, m in means.items())
            print(f"{task} {condition} ({len(draws)} fusions, VIF/Qabf) {cells}", flush=True)
    for name, _ in variants:
        print(f"{name}: beats the best rule in {wins[name]} of {len(margins[name])} cells, "
              f"mean margin {np.mean(margins[name]):+.4f}, worst {np.min(margins[name]):+.4f}")
    loaded.net.config = shipped
    return 0


if __name__ == "__main__":
    sys.exit(main())
