"""Quality vs sampling steps and the FCM-rule ablation, on the packed test splits.

For every test pair (up to ``--max-per-task`` per task) the sources are fused clean and with a seeded
composite degradation; metrics are always computed against the clean sources.  Prints Markdown tables
(one per task and condition) with the mean metrics and the mean seconds per image, and the default step
count chosen by the rule "fewest steps within 1 % of the best VIF and Qabf" (averaged over all tasks).

    python benchmarks/sweep_model.py --test-pack .gpu_data/test_pack.npz --max-per-task 6 \
        --steps 1 2 4 8 25 --rules fcm max add mean variance --out docs/results/sweep.md \
        --variants "without L_int=runs/no_int/model.safetensors" "without L_grad=runs/no_grad/model.safetensors"
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # restore_then_fuse.py, beside this script

from textdifuse_desktop.fusion.classical import fuse_luma
from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.model.data import load_pack
from textdifuse_desktop.model.degrade_torch import degrade_batch
from textdifuse_desktop.model.inference import fuse, pad_to_multiple
from textdifuse_desktop.model.weights import load_model

METRICS = ("EN", "AG", "SD", "SCD", "VIF", "Qabf", "SSIM", "MI")


def _model(loaded, a: np.ndarray, b: np.ndarray, steps: int, rule: str,
           modalities: tuple = (None, None)) -> np.ndarray:
    ya, (h, w) = pad_to_multiple(torch.from_numpy(a / 255.0).float()[None, None], loaded.net.multiple)
    yb, _ = pad_to_multiple(torch.from_numpy(b / 255.0).float()[None, None], loaded.net.multiple)
    out = fuse(loaded.net, loaded.sampler, ya, yb, steps=steps, rule=rule, modalities=modalities)[0, 0, :h, :w]
    out = out.numpy()
    out = np.where((a <= 0) & (b <= 0), 0.0, out)  # the engine's rule: where both sources are black, so is the result
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def _classical(a: np.ndarray, b: np.ndarray, method: str, modalities: tuple[str, str] = ("", "")) -> np.ndarray:
    """A classical rule on the grey planes; ``restore_guided`` first restores each plane as
    ``restore_then_fuse.py`` does for ``modalities`` (the restore-then-fuse baseline of issue 14), then fuses with
    the guided filter."""
    if method == "restore_guided":
        from restore_then_fuse import restore_luma

        a, b = (restore_luma(x / 255.0, m)[0] * 255.0 for x, m in zip((a, b), modalities))
        method = "guided"
    f = fuse_luma(a.astype(np.float32), b.astype(np.float32), method)
    return np.clip(np.round(f), 0, 255).astype(np.uint8)


def first_test_pairs(pack: str, per_task: int, by_set: bool = False) -> dict[str, list]:
    """The first ``per_task`` records of every task in a pack, by task; ``by_set``: of every data set of every task
    (``ir_vis:msrs_train``, ``ir_vis:roadscene``...: the folder the record's name starts with).  A pack lists a task's
    sets one after the other, so the first records of ``ir_vis`` in the training pack are all MSRS ones."""
    by_task: dict[str, list] = defaultdict(list)
    for record in load_pack(pack):
        key = f"{record.task}:{record.name.split('/')[0]}" if by_set and "/" in record.name else record.task
        if len(by_task[key]) < per_task:
            by_task[key].append(record)
    return by_task


def seeded_degradation(record, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The composite degradation of the ``index``-th pair of a task (seed 1000 + index), as uint8 planes."""
    gen = torch.Generator().manual_seed(1000 + index)
    pair = torch.from_numpy(np.stack([record.a, record.b])[:, None] / 255.0).float()
    deg = degrade_batch(pair, [record.mod_a, record.mod_b], gen, p_clean=0.0).clamp(0, 1)[:, 0].numpy() * 255
    da, db = deg.round().astype(np.uint8)
    return da, db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--test-pack", required=True)
    parser.add_argument("--max-per-task", type=int, default=4)
    parser.add_argument("--by-set", action="store_true",
                        help="take --max-per-task pairs of every data set of a task (MSRS and RoadScene apart)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8, 25])
    parser.add_argument("--rules", nargs="+", default=["fcm", "max", "add", "mean", "variance"])
    parser.add_argument("--rule-steps", type=int, default=4, help="steps for the rule ablation")
    parser.add_argument("--classical", nargs="*", default=["max", "mean", "laplacian", "guided"],
                        help="classical rules to list too: max, mean, laplacian, guided, restore_guided")
    parser.add_argument("--variants", nargs="*", default=[], metavar="NAME=WEIGHTS",
                        help="more checkpoints (e.g. loss ablations), run with the FCM at --rule-steps")
    parser.add_argument("--out", default=None, help="also write the tables to this Markdown file")
    args = parser.parse_args(argv)
    loaded = load_model(args.weights, "cpu")
    per_task = first_test_pairs(args.test_pack, args.max_per_task, args.by_set)
    configs = [(f"textdifuse {s} step{'s' * (s > 1)}", s, "fcm", loaded) for s in args.steps]
    configs += [(f"rule {r} ({args.rule_steps} steps)", args.rule_steps, r, loaded) for r in args.rules if r != "fcm"]
    for variant in args.variants:
        name, _, path = variant.partition("=")
        configs.append((f"{name} ({args.rule_steps} steps)", args.rule_steps, "fcm", load_model(path, "cpu")))
    rows: dict[tuple[str, str, str], list[dict[str, float]]] = defaultdict(list)
    times: dict[str, list[float]] = defaultdict(list)
    for task, records in per_task.items():
        for i, r in enumerate(records):
            deg = seeded_degradation(r, i)
            # Untimed: the first fusion of a new image size sets up oneDNN's convolutions (about a step's time),
            # which would otherwise be charged to whichever configuration runs first.
            _model(loaded, r.a, r.b, 1, "fcm", (r.mod_a, r.mod_b))
            for cond, (a, b) in (("clean", (r.a, r.b)), ("degraded", (deg[0], deg[1]))):
                for name, steps, rule, model in configs:
                    start = time.perf_counter()
                    fused = _model(model, a, b, steps, rule, (r.mod_a, r.mod_b))
                    times[name].append(time.perf_counter() - start)
                    rows[(task, cond, name)].append(compute_all(r.a, r.b, fused, METRICS))
                for method in args.classical:
                    start = time.perf_counter()
                    fused = _classical(a, b, method, (r.mod_a, r.mod_b))
                    times[method].append(time.perf_counter() - start)
                    rows[(task, cond, method)].append(compute_all(r.a, r.b, fused, METRICS))
    lines = [f"Weights sha256 {loaded.sha256[:12]}; pairs per task: "
             + ", ".join(f"{t} {len(r)}" for t, r in per_task.items())
             + "; metrics against the clean sources; seconds = mean CPU time per image (2 cores).", ""]
    means: dict[tuple[str, str, str], dict[str, float]] = {
        key: {m: float(np.mean([v[m] for v in vals])) for m in METRICS} for key, vals in rows.items()}
    for task in per_task:
        for cond in ("clean", "degraded"):
            lines += [f"### {task}, {cond}", "", "| method | " + " | ".join(METRICS) + " | s/image |",
                      "|---|" + "---:|" * (len(METRICS) + 1)]
            for name in [c[0] for c in configs] + list(args.classical):
                m = means[(task, cond, name)]
                lines.append(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in METRICS)
                             + f" | {np.mean(times[name]):.3f} |")
            lines.append("")
    overall = {s: {k: np.mean([means[(t, c, n)][k] for t in per_task for c in ("clean", "degraded")])
                   for k in ("VIF", "Qabf")} for n, s, rule, model in configs if rule == "fcm" and model is loaded}
    best = {k: max(v[k] for v in overall.values()) for k in ("VIF", "Qabf")}
    within = [s for s, v in overall.items() if all(v[k] >= 0.99 * best[k] for k in best)]
    if within:
        verdict = f"Fewest steps within 1 % of the best VIF and Qabf: **{min(within)}**"
    else:  # the best VIF and the best Qabf come from different step counts, more than 1 % apart
        closest = max(overall, key=lambda s: min(overall[s][k] / best[k] for k in best))
        verdict = (f"No step count is within 1 % of both the best VIF and the best Qabf; the closest to both is "
                   f"**{closest}**")
    lines += ["Mean over tasks and conditions: " + "; ".join(
        f"{s} steps VIF {v['VIF']:.3f} Qabf {v['Qabf']:.3f}" for s, v in overall.items()), verdict, ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
