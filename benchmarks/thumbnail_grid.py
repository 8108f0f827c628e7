"""A thumbnail grid of representative test pairs: degraded inputs, our result, classical results.

One row per pair (the first ``--per-task`` test pairs of every task in the pack, never trained on); columns:
degraded A, degraded B, the model on the degraded pair, the classical rules on the degraded pair, and the
model on the clean pair.  Luminance only (the app puts the colour back).  The degradation is the seeded
composite one of ``sweep_model.py``.

    python benchmarks/thumbnail_grid.py --test-pack .gpu_data/test_pack.npz --out docs/results/thumbnails.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).parent))
from sweep_model import _classical, _model, first_test_pairs, seeded_degradation

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.model.weights import load_model

CELL = 200
LABEL_H = 18


def _cell(plane: np.ndarray) -> Image.Image:
    image = Image.fromarray(plane)
    image.thumbnail((CELL, CELL), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (CELL, CELL), 24)
    canvas.paste(image, ((CELL - image.width) // 2, (CELL - image.height) // 2))
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--test-pack", required=True)
    parser.add_argument("--per-task", type=int, default=2)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--classical", nargs="*", default=["laplacian", "guided"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    loaded = load_model(args.weights, "cpu")
    per_task = first_test_pairs(args.test_pack, args.per_task)
    headers = ["degraded A", "degraded B", "ours (degraded)", *[f"{m} (degraded)" for m in args.classical],
               "ours (clean)"]
    rows = []
    for task, records in per_task.items():
        for i, r in enumerate(records):
            da, db = seeded_degradation(r, i)
            mods = (r.mod_a, r.mod_b)
            cells = [da, db, _model(loaded, da, db, args.steps, "fcm", mods),
                     *[_classical(da, db, m) for m in args.classical], _model(loaded, r.a, r.b, args.steps, "fcm", mods)]
            rows.append((f"{task}: {r.name}", [_cell(c) for c in cells]))
    width = CELL * len(headers)
    grid = Image.new("L", (width, LABEL_H + len(rows) * (CELL + LABEL_H)), 0)
    draw = ImageDraw.Draw(grid)
    for j, header in enumerate(headers):
        draw.text((j * CELL + 4, 3), header, fill=255)
    for i, (label, cells) in enumerate(rows):
        top = LABEL_H + i * (CELL + LABEL_H)
        draw.text((4, top + 3), label, fill=200)
        for j, cell in enumerate(cells):
            grid.paste(cell, (j * CELL, top + LABEL_H))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out, optimize=True)
    print(f"{args.out}: {len(rows)} pairs x {len(headers)} columns (weights {loaded.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
