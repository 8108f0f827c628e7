"""Quick screen of a checkpoint (or an in-progress resume file) against the classical rules.

VIF, Qabf, SCD and SSIM on the first N test pairs per task of the packed test splits, clean or with a random
composite degradation (metrics against the clean sources).  For choosing between training runs; the real tables
come from ``quality_report.sh``.

    python benchmarks/spot_check.py runs/ts2/model.safetensors --pairs 3 --degraded
    python benchmarks/spot_check.py runs/ts2/resume.safetensors --output two_scale   # while a run trains
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))
from sweep_model import _classical, _model, first_test_pairs

from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.model.degrade_torch import degrade_batch
from textdifuse_desktop.model.network import build_model
from textdifuse_desktop.model.weights import load_model

COLUMNS = ("VIF", "Qabf", "SCD", "SSIM")


def _load(path: str, output: str):
    if not path.endswith("resume.safetensors"):
        return load_model(path, "cpu")
    loaded = load_model(None, "cpu")  # shipped sampler; the network comes from the resume file
    net = build_model({"output": output})
    tensors = load_file(path)
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    return loaded._replace(net=net.eval())


def _degrade(plane: np.ndarray, modality: str, gen: torch.Generator) -> np.ndarray:
    x = torch.from_numpy(plane / 255.0).float()[None, None]
    return (degrade_batch(x, modality, gen, p_clean=0.0)[0, 0].numpy() * 255).round().astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", help="model.safetensors, or a run's resume.safetensors")
    parser.add_argument("--test-pack", default=".gpu_data/test_pack.npz")
    parser.add_argument("--pairs", type=int, default=3, help="test pairs per task")
    parser.add_argument("--degraded", action="store_true", help="fuse degraded inputs (scored against clean)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", default="two_scale", help="network output design of a resume file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = _load(args.weights, args.output)
    per_task = first_test_pairs(args.test_pack, args.pairs)
    gen = torch.Generator().manual_seed(7)
    for task, records in per_task.items():
        scores: dict[str, list[tuple[float, ...]]] = defaultdict(list)
        for r in records:
            a, b = (_degrade(r.a, r.mod_a, gen), _degrade(r.b, r.mod_b, gen)) if args.degraded else (r.a, r.b)
            outputs = {"model": _model(loaded, a, b, 4, "fcm", (r.mod_a, r.mod_b)), **{m: _classical(a, b, m) for m in
                                                                    ("laplacian", "guided", "max")}}
            for name, fused in outputs.items():
                metrics = compute_all(r.a, r.b, fused, COLUMNS)
                scores[name].append(tuple(metrics[k] for k in COLUMNS))
        cells = [f"{name}=" + "/".join(f"{v:.3f}" for v in np.mean(rows, axis=0)) for name, rows in scores.items()]
        print(task, "degraded" if args.degraded else "clean", "(" + "/".join(COLUMNS) + ")", " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
