"""Write the full test-split means of ``docs/results`` into the shipped model card's ``evaluation`` section.

    python benchmarks/card_evaluation.py [--card models/textdifuse-compact/model_card.json] [--steps 2]

The card is not part of the weights' sha256, so this never invalidates the weights.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

SETS = ("msrs", "roadscene", "mri_pet", "mri_spect", "mri_ct")
COLUMNS = ("VIF", "Qabf", "SCD", "SSIM")


def split_means(results: Path, method: str = "textdifuse") -> dict[str, dict[str, list[float]]]:
    """``{set: {condition: [VIF, Qabf, SCD, SSIM]}}`` for ``method`` from the reports' metrics.csv files."""
    out: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for name in SETS:
        for condition in ("clean", "degraded"):
            path = results / f"{name}_{condition}" / "metrics.csv"
            if not path.is_file():
                continue
            values = defaultdict(list)
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    if row["method"] == method:
                        for key in COLUMNS:
                            values[key].append(float(row[key]))
            out[name][condition] = [round(sum(values[k]) / len(values[k]), 3) for k in COLUMNS]
    return dict(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", default="models/textdifuse-compact/model_card.json")
    parser.add_argument("--results", default="docs/results")
    parser.add_argument("--steps", type=int, default=2, help="the step count the reports were made with")
    args = parser.parse_args()
    card_path = Path(args.card)
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card["evaluation"] = {
        "summary_file": "docs/results/README.md",
        "command": "DATA=../shared/data bash benchmarks/quality_report.sh",
        "protocol": f"Full test splits (MSRS test 11, RoadScene held-out 25, Harvard MRI-PET 24 / MRI-SPECT 22 / "
                    f"MRI-CT 16), {args.steps} steps through the engine, clean and seeded composite degradation, "
                    f"metrics against the clean sources.",
        "test_splits_" + "_".join(COLUMNS): split_means(Path(args.results)),
        "classical_VIF_Qabf": {m: {s: {c: v[:2] for c, v in conds.items()}
                                   for s, conds in split_means(Path(args.results), m).items()}
                               for m in ("laplacian", "guided")},
    }
    fd, tmp = tempfile.mkstemp(dir=card_path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, card_path)
    print(json.dumps(card["evaluation"]["test_splits_" + "_".join(COLUMNS)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
