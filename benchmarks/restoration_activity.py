"""How strongly the learned correction acts on degraded test fusions: the noise-adaptive restoration weight.

For every pair of a packed test split, degraded as ``textdifuse degrade --seed SEED`` does (the test protocol),
prints per set the mean restoration weight (0 = the correction is faded out, 1 = full) computed on the raw
sources, as the shipped model does, and on the pre-filtered sources, as the first version of the pre-filter did
(it then faded the correction out almost everywhere; see docs/results/README.md).

    python benchmarks/restoration_activity.py --test-pack .gpu_data/test_pack.npz [--seed 2024]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from validate_options import cli_degradation

from textdifuse_desktop.model.data import load_pack
from textdifuse_desktop.model.noise_level import restoration_weight
from textdifuse_desktop.model.weights import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-pack", required=True)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--weights", default=None)
    args = parser.parse_args(argv)
    net = load_model(args.weights, "cpu").net
    options = net.saliency_options()
    floor, edges = options["noise_floor"], options["noise_edges"]
    if floor <= 0:
        raise SystemExit("these weights have no noise floor: the correction is never faded out")
    weights: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in load_pack(args.test_pack):
        a, b = cli_degradation(record, args.seed)
        cond_a, cond_b = (torch.from_numpy(x / 127.5 - 1).float()[None, None] for x in (a, b))
        raw = float(restoration_weight(cond_a, cond_b, floor, edges))
        filtered = float(restoration_weight(*net.prefilter(cond_a, cond_b), floor, edges))
        weights[record.name.split("/")[0]].append((raw, filtered))
    print("| set | pairs | mean weight, raw sources (shipped) | after the pre-filter | share active (raw / filtered) |")
    print("|---|---:|---:|---:|---|")
    for name, values in weights.items():
        v = np.asarray(values)
        print(f"| {name} | {len(v)} | {v[:, 0].mean():.2f} | {v[:, 1].mean():.2f} | "
              f"{(v[:, 0] > 0).mean():.2f} / {(v[:, 1] > 0).mean():.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
