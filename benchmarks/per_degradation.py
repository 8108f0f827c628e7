#!/usr/bin/env python
"""Quality per single degradation: the model against the guided filter and restore-then-fuse, one op at a time.

    .venv/bin/python benchmarks/per_degradation.py --pack .gpu_data/train_pack.npz --per-task 3 \
        [--variants NAME=WEIGHTS ...] [--out runs/per_degradation.md]

For the first ``--per-task`` pairs of IR/VIS, MRI-PET and MRI-SPECT, each source in turn gets ONE degradation at
a fixed mid-range strength (the other source stays clean), and the pair is fused by the shipped model (``--steps``,
the default sampling steps unless given),
each ``--variants`` model, the guided filter, and ``restore_then_fuse.py``'s pipeline (bm3d, destriping, tone
stretch; needs the ``bench`` extra).  VIF / Qabf / SSIM are scored against the CLEAN sources.  Where the
composite tables of ``sweep_model.py`` say "worse", this says which degradation is the cause.  Use training
pairs (``train_pack``) to choose between models; the test pack is for the final report only.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from restore_then_fuse import restore_luma
from sweep_model import _classical, _model, first_test_pairs

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.imaging.degrade import (
    DegradationOp,
    apply_plan,
    draw_noise,
    modality_key,
)
from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.model.data import PairRecord
from textdifuse_desktop.model.weights import load_model

METRICS = ("VIF", "Qabf", "SSIM")
TASKS = ("ir_vis", "mri_pet", "mri_spect")
#: One mid-range setting of every op each modality can get (imaging/degrade.py ranges).
OPS = {
    "vis": [("low_light", {"gain": 0.25, "gamma": 2.0, "peak": 120, "read": 5}),
            ("over_exposure", {"gain": 2.0, "gamma": 1.0}), ("gaussian_noise", {"sigma": 12}),
            ("gaussian_blur", {"kernel": 7})],
    "ir": [("low_contrast", {"alpha": 0.5, "level": 1.0}), ("stripe_noise", {"beta": 12}),
           ("gaussian_noise", {"sigma": 12}), ("salt_pepper", {"amount": 2e-3})],
    "mri": [("gaussian_noise", {"sigma": 12}), ("low_contrast", {"alpha": 0.5, "level": 0.1})],
    "pet": [("poisson_noise", {"peak": 100}), ("low_contrast", {"alpha": 0.5, "level": 0.1})],
    "spect": [("poisson_noise", {"peak": 100})],
}


def degraded_source(plane: np.ndarray, op: str, params: dict[str, float], seed: int) -> np.ndarray:
    """``plane`` (uint8) with one op applied, as float in [0, 1]."""
    src = plane.astype(np.float32) / 255.0
    plan = [DegradationOp(op, params)]
    return apply_plan(src, plan, draw_noise(plan, src.shape, np.random.default_rng(seed)))


class SingleOpCase(NamedTuple):
    """One source of one pair with one op applied (the other source stays clean)."""

    task: str
    record: PairRecord
    side: str  # "a" or "b": the degraded source
    modality: str  # its degradation modality key
    op: str
    degraded: np.ndarray  # float in [0, 1]


def single_op_cases(pack: str, per_task: int) -> Iterator[SingleOpCase]:
    """Every case of the table: the first ``per_task`` pairs of each of :data:`TASKS`, each source in turn, each op
    of :data:`OPS` its modality can get (seeded by the pair's index)."""
    for task, records in first_test_pairs(pack, per_task).items():
        if task not in TASKS:
            continue
        for index, record in enumerate(records):
            for side, modality in (("a", record.mod_a), ("b", record.mod_b)):
                key_mod = modality_key(modality)
                for op, params in OPS.get(key_mod, []):
                    degraded = degraded_source(getattr(record, side), op, params, index)
                    yield SingleOpCase(task, record, side, key_mod, op, degraded)


def load_variants(specs: list[str]) -> dict:  # type: ignore[type-arg] - name -> LoadedModel
    """The shipped model, then each ``NAME=WEIGHTS`` of ``specs``, by name."""
    return {"shipped": load_model(None)} | {n: load_model(p) for n, p in (v.split("=", 1) for v in specs)}


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the per-degradation table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--per-task", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=[], metavar="NAME=WEIGHTS")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    models = load_variants(args.variants)
    names = [*models, "guided", "restore_guided"]
    scores: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for task, record, side, key_mod, op, degraded in single_op_cases(args.pack, args.per_task):
        planes = {"a": record.a, "b": record.b}
        planes[side] = np.clip(np.round(degraded * 255), 0, 255).astype(np.uint8)
        case = f"{task} {side}:{key_mod} {op}"
        for name, loaded in models.items():
            fused = _model(loaded, planes["a"], planes["b"], args.steps, "fcm", (record.mod_a, record.mod_b))
            scores[(case, name)].append(compute_all(record.a, record.b, fused, METRICS))
        fused = _classical(planes["a"].astype(np.float32), planes["b"].astype(np.float32), "guided")
        scores[(case, "guided")].append(compute_all(record.a, record.b, fused, METRICS))
        restored = {k: v.astype(np.float32) for k, v in planes.items()}
        restored[side] = restore_luma(degraded, key_mod)[0] * np.float32(255.0)
        fused = _classical(restored["a"], restored["b"], "guided")
        scores[(case, "restore_guided")].append(compute_all(record.a, record.b, fused, METRICS))
    title = f"VIF / Qabf / SSIM against the clean sources, mean of {args.per_task} pairs per task, {args.steps} step(s)."
    lines = [title, "",
             "| case | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for case in sorted({c for c, _ in scores}):
        cells = [" / ".join(f"{np.mean([s[m] for s in scores[(case, n)]]):.3f}" for m in METRICS) for n in names]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
