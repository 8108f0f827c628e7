"""Our test-split means against the published peers and against the baselines, cell by cell.

Reads the per-image ``metrics.csv`` of each ``docs/results/<set>_<condition>/`` report (made by
``run_comparison.sh``) and the published numbers of ``../shared/docs/peer-baselines.md`` (parsed, not copied), and
prints two Markdown tables:

1. clean sets with published numbers: our mean VIF, Qabf, SCD and SSIM beside the best published method's, and
   the share of (set, metric) cells where ours is at or above it;
2. degraded sets: our mean beside the classical rules and the restore-then-fuse pipeline on every metric, with
   the cells where ours is not the highest.

    python benchmarks/peer_cells.py [--results docs/results] [--peers ../shared/docs/peer-baselines.md]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

METRICS = ("VIF", "Qabf", "SCD", "SSIM")
PEER_SECTIONS = {"MSRS test": "msrs", "MRI-PET": "mri_pet", "MRI-SPECT": "mri_spect", "MRI-CT": "mri_ct"}
BASELINES = ("pixel-max", "pixel-mean")


def published_best(path: Path) -> dict[str, dict[str, tuple[str, float]]]:
    """``{set: {metric: (method, value)}}``: the best published method per metric (baselines excluded)."""
    best: dict[str, dict[str, tuple[str, float]]] = {}
    current, header = None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            current = next((v for k, v in PEER_SECTIONS.items() if k in line), None)
            header = []
        elif current and line.startswith("| method"):
            header = [c.strip() for c in line.strip("|").split("|")]
        elif current and header and line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            method = cells[0]
            if method in BASELINES:
                continue
            for name, cell in zip(header[1:], cells[1:]):
                value = float(re.sub(r"[*]", "", cell))
                if name in METRICS and value > best.setdefault(current, {}).get(name, ("", -1e9))[1]:
                    best[current][name] = (method, value)
    return best


def report_means(path: Path) -> dict[str, dict[str, float]]:
    """``{method: {metric: mean}}`` of one report's metrics.csv."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for metric in (*METRICS, "MI"):
                values[row["method"]][metric].append(float(row[metric]))
    return {m: {k: sum(v) / len(v) for k, v in d.items()} for m, d in values.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="docs/results", type=Path)
    parser.add_argument("--peers", default="../shared/docs/peer-baselines.md", type=Path)
    parser.add_argument("--ours", default="textdifuse")
    args = parser.parse_args(argv)
    lines = ["| set | " + " | ".join(f"{m} ours / best peer" for m in METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    won = total = 0
    if args.peers.is_file():
        for name, best in published_best(args.peers).items():
            report = args.results / f"{name}_clean" / "metrics.csv"
            if not report.is_file():
                continue
            ours = report_means(report)[args.ours]
            cells = []
            for metric in METRICS:
                peer, value = best[metric]
                ok = ours[metric] >= value
                won, total = won + ok, total + 1
                cells.append(f"{'**' if ok else ''}{ours[metric]:.3f}{'**' if ok else ''} / {value:.3f} ({peer})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", f"Clean cells at or above the best published method: {won} of {total}", ""]
    else:
        lines = [f"({args.peers} not found: no peer table)", ""]
    for report in sorted(args.results.glob("*_degraded/metrics.csv")):
        means = report_means(report)
        if args.ours not in means:
            continue
        others = [m for m in means if m not in (args.ours, "max", "mean")]
        lines += [f"### {report.parent.name}", "", "| method | " + " | ".join((*METRICS, "MI")) + " |",
                  "|---|" + "---:|" * (len(METRICS) + 1)]
        for method in [args.ours, *others]:
            lines.append(f"| {method} | " + " | ".join(f"{means[method][k]:.3f}" for k in (*METRICS, "MI")) + " |")
        lost = [f"{k} ({m})" for k in (*METRICS, "MI") for m in others if means[m][k] > means[args.ours][k]]
        lines += ["", "ours highest on every metric" if not lost else "not highest: " + ", ".join(lost), ""]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
