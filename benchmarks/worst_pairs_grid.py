"""A thumbnail grid of the test pairs on which the model does worst (lowest SSIM), beside the classical rules.

Every clean test pair of the pack (never trained on) is fused by the model; the ``--count`` pairs with the lowest
SSIM (the mean of ssim(F, A) and ssim(F, B)) get one row each: A, B, ours, then the classical rules, each labelled
with its SSIM.  Luminance only (the app puts the colour back).  Prints the rows' SSIM table.

    python benchmarks/worst_pairs_grid.py --test-pack .gpu_data/test_pack.npz --out docs/results/worst_pairs.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from sweep_model import _classical, _model
from thumbnail_grid import CELL, LABEL_H, _cell

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.metrics import compute_all
from textdifuse_desktop.model.data import load_pack
from textdifuse_desktop.model.weights import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--test-pack", required=True)
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--classical", nargs="*", default=["guided", "laplacian", "max"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    loaded = load_model(args.weights, "cpu")
    scored = []
    for record in load_pack(args.test_pack):
        ours = _model(loaded, record.a, record.b, args.steps, "fcm", (record.mod_a, record.mod_b))
        scored.append((compute_all(record.a, record.b, ours, ("SSIM",))["SSIM"], record, ours))
    scored.sort(key=lambda item: item[0])
    headers = ["A", "B", "ours", *args.classical]
    rows, lines = [], ["| pair | ours | " + " | ".join(args.classical) + " |", "|---|" + "---:|" * (1 + len(args.classical))]
    for ssim, record, ours in scored[: args.count]:
        others = [_classical(record.a, record.b, m) for m in args.classical]
        ssims = [ssim] + [compute_all(record.a, record.b, f, ("SSIM",))["SSIM"] for f in others]
        planes = [record.a, record.b, ours, *others]
        labels = ["", ""] + [f"SSIM {s:.3f}" for s in ssims]
        rows.append((f"{record.task}: {record.name}", planes, labels))
        lines.append(f"| {record.task} {record.name} | " + " | ".join(f"{s:.3f}" for s in ssims) + " |")
    grid = Image.new("L", (CELL * len(headers), LABEL_H + len(rows) * (CELL + 2 * LABEL_H)), 0)
    draw = ImageDraw.Draw(grid)
    for j, header in enumerate(headers):
        draw.text((j * CELL + 4, 3), header, fill=255)
    for i, (name, planes, labels) in enumerate(rows):
        top = LABEL_H + i * (CELL + 2 * LABEL_H)
        draw.text((4, top + 3), name, fill=200)
        for j, (plane, label) in enumerate(zip(planes, labels)):
            grid.paste(_cell(plane), (j * CELL, top + LABEL_H))
            draw.text((j * CELL + 4, top + LABEL_H + CELL + 2), label, fill=220)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out, optimize=True)
    print("\n".join(lines))
    print(f"{args.out}: the {len(rows)} lowest-SSIM of {len(scored)} clean test pairs (weights {loaded.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
