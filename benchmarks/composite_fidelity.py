#!/usr/bin/env python
"""Where a fusion's VIF comes from on composite-degraded pairs: each source's restoration fidelity and VIF term.

    .venv/bin/python benchmarks/composite_fidelity.py --pack .gpu_data/train_pack.npz --per-task 6 \
        [--tasks ir_vis mri_pet ...] [--weights W] [--out runs/composite_fidelity.md]

VIF sums two terms, VIFp(clean A, F) + VIFp(clean B, F), and each term grows with the local gain of F against that
source (its ``g**2 * var`` numerator), so a pipeline that stretches a washed-out source beyond its clean contrast
scores above one that restores it faithfully.  For the seeded composite degradation of ``sweep_model.py`` (the
same pairs and seeds as its degraded tables), this prints, per task and source:

* how each pipeline prepares the source before fusing: the network's restorer and tone curves (what its FCM
  fuses) against ``restore_then_fuse.restore_luma`` (bm3d, destriping, percentile stretch): PSNR against the clean
  source and the **contrast gain**, the least-squares slope of the prepared source on the clean one (1 = the clean
  contrast; a washed-out source has its ``alpha`` < 1; above 1 is over-stretched);
* the fused result's two VIF terms and its VIF / Qabf / SSIM, for the network (``--steps``) and restore_guided.

``--stretch-gains 1 1.25 1.5`` adds the control that shows VIF rewarding a stretch by itself: each *clean* source in
turn stretched around its 0.5 % quantile by each gain, fused with the guided filter, scored against the clean pair.

Use training pairs (``train_pack``) to reason about models; the test pack is for the final report only.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from restoration_quality import _padded
from restore_then_fuse import restore_luma
from sweep_model import _classical, _model, first_test_pairs, seeded_degradation

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.imaging.degrade import modality_key
from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.metrics.vif import vifp_many
from textdifuse_desktop.model.inference import prepare_sources
from textdifuse_desktop.model.weights import load_model

FUSED_METRICS = ("VIF", "Qabf", "SSIM")


def source_fidelity(clean_u8: np.ndarray, prepared: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and contrast gain of ``prepared`` ([0, 1]) against ``clean_u8``, over the pixels where the clean
    source is not black (a medical background says nothing about contrast)."""
    clean = clean_u8.astype(np.float64) / 255.0
    x = np.clip(np.round(prepared * 255.0), 0, 255) / 255.0
    mse = float(np.mean((x - clean) ** 2))
    psnr = float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)
    tissue = clean > 2 / 255
    gain = float(np.polyfit(clean[tissue], x[tissue], 1)[0]) if tissue.sum() > 16 else float("nan")
    return psnr, gain


def network_prepared(loaded, da: np.ndarray, db: np.ndarray, modalities: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Both degraded sources (uint8) as the network's FCM fuses them (restorer, then tone curves), in [0, 1]."""
    (ya, (h, w)), (yb, _) = _padded(loaded, da / 255.0), _padded(loaded, db / 255.0)
    pa, pb = prepare_sources(loaded.net, ya, yb, modalities=modalities)
    return pa[0, 0, :h, :w].numpy(), pb[0, 0, :h, :w].numpy()


def fused_scores(record, fused: np.ndarray, medical: bool) -> list[float]:
    """VIF term against A, against B, then :data:`FUSED_METRICS` of ``fused`` (uint8) against the clean pair."""
    if medical:  # the engine's rule, given to both pipelines: where both clean sources are black, so is the result
        fused = np.where((record.a == 0) & (record.b == 0), 0, fused).astype(np.uint8)
    vif_a, vif_b = vifp_many([record.a, record.b], fused.astype(np.float64))
    metrics = compute_all(record.a, record.b, fused, FUSED_METRICS)
    return [vif_a, vif_b, *(metrics[m] for m in FUSED_METRICS)]


def stretch_control(records: list, gains: list[float]) -> list[str]:
    """Table rows: per source side, the guided filter's VIF / Qabf / SSIM on the clean pairs ``records`` with that
    source's contrast multiplied by each of ``gains`` (around its 0.5 % quantile, clipped to 8 bits)."""
    rows = []
    for side in "ab":
        cells = []
        for gain in gains:
            scores = []
            for record in records:
                source = getattr(record, side).astype(np.float32)
                floor = np.percentile(source, 0.5)
                stretched = np.clip(np.round((source - floor) * gain + floor), 0, 255).astype(np.uint8)
                pair = (stretched, record.b) if side == "a" else (record.a, stretched)
                metrics = compute_all(record.a, record.b, _classical(*pair, "guided"), FUSED_METRICS)
                scores.append([metrics[m] for m in FUSED_METRICS])
            cells.append(" / ".join(f"{v:.3f}" for v in np.mean(scores, axis=0)))
        rows.append(f"| {side.upper()} | " + " | ".join(cells) + " |")
    return rows


def render(args: argparse.Namespace, sha256: str, sources: dict, fused: dict, controls: dict[str, list[str]]) -> str:
    """The Markdown tables of :func:`main`'s measurements."""
    tasks = sorted({t for t, _ in fused})
    lines = [(f"Weights sha256 {sha256[:12]}, {args.steps} step(s); first {args.per_task} pairs per task of "
              f"{Path(args.pack).name}, seeded composite degradation (sweep_model.py); all against the clean sources."),
             "", "Prepared sources, PSNR (dB) / contrast gain:", "",
             "| task | A: network | A: restore_guided | B: network | B: restore_guided |", "|---|---|---|---|---|"]
    for task in tasks:
        cells = [np.nanmean(sources[(task, side, who)], axis=0) for side in "AB" for who in ("network", "restore_guided")]
        lines.append(f"| {task} | " + " | ".join(f"{p:.1f} / {g:.2f}" for p, g in cells) + " |")
    lines += ["", "Fused: VIF against A + VIF against B = VIF; Qabf; SSIM:", "",
              "| task | pipeline | VIF(A) | VIF(B) | " + " | ".join(FUSED_METRICS) + " |", "|---|---|---:|---:|---:|---:|---:|"]
    for task in tasks:
        for who in ("network", "restore_guided"):
            means = np.mean(fused[(task, who)], axis=0)
            lines.append(f"| {task} | {who} | " + " | ".join(f"{v:.3f}" for v in means) + " |")
    if controls:
        lines += ["", "Control: one clean source stretched by each gain, guided filter, VIF / Qabf / SSIM:", "",
                  "| task | stretched | " + " | ".join(f"x{g:g}" for g in args.stretch_gains) + " |",
                  "|---|---|" + "---|" * len(args.stretch_gains)]
        lines += [f"| {task} " + row for task in tasks for row in controls[task]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print (and optionally write) the fidelity and VIF-term tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pack", required=True)
    parser.add_argument("--per-task", type=int, default=6)
    parser.add_argument("--tasks", nargs="*", default=None, help="default: every task in the pack")
    parser.add_argument("--by-set", action="store_true", help="every data set of a task apart (MSRS, RoadScene)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--stretch-gains", type=float, nargs="*", default=[],
                        help="also the clean-stretch control at these gains (e.g. 1 1.25 1.5 1.75)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    loaded = load_model(args.weights, "cpu")
    sources: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    fused: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    controls: dict[str, list[str]] = {}
    for task, records in first_test_pairs(args.pack, args.per_task, args.by_set).items():
        if args.tasks and task.split(":")[0] not in args.tasks:
            continue
        medical = not task.startswith("ir_vis")
        if args.stretch_gains:
            controls[task] = stretch_control(records, args.stretch_gains)
        for i, record in enumerate(records):
            da, db = seeded_degradation(record, i)
            modalities = (record.mod_a, record.mod_b)
            ours = network_prepared(loaded, da, db, modalities)
            baseline = [restore_luma(d / 255.0, modality_key(m))[0] for d, m in zip((da, db), modalities)]
            for side, clean, mine, theirs in zip("AB", (record.a, record.b), ours, baseline):
                sources[(task, side, "network")].append(source_fidelity(clean, mine))
                sources[(task, side, "restore_guided")].append(source_fidelity(clean, theirs))
            fused[(task, "network")].append(fused_scores(record, _model(loaded, da, db, args.steps, "fcm", modalities),
                                                         medical))
            restored = [np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8) for x in baseline]
            fused[(task, "restore_guided")].append(fused_scores(record, _classical(*restored, "guided"), medical))
    text = render(args, loaded.sha256, sources, fused, controls)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
