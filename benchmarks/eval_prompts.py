"""Score typed-prompt regions against labelled boxes or masks: mask IoU and precision/recall per word.

    python benchmarks/eval_prompts.py                       # the word list (no model) on the bundled labels
    python benchmarks/eval_prompts.py --prompt-with clip --clip-checkpoint FILE   # or --allow-download

Labels: a JSON like ``benchmarks/data/ir_vis_prompt_boxes.json`` (``pairs``:
file name -> class -> boxes ``[x0, y0, x1, y1]``; optional ``masks``: class ->
a PNG path relative to the JSON) with pairs under ``--data`` /``root``/``ir|vi``.
Each class is asked as a word (``--words person=person,people car=car``).

Per word and class, over all pairs:

* **mask IoU** of the prompt mask with the union of the class's boxes (or mask);
* **pixel precision / recall**: share of the prompt mask inside the class's
  boxes / share of the boxes' pixels covered (boxes are coarser than objects:
  a perfect person mask covers roughly half to two thirds of its box);
* **object recall**: labelled objects with at least ``--hit`` (10 %) of their
  box covered; **object precision**: connected components of the prompt mask
  with at least half their pixels inside a box of the class (``any``: inside
  any labelled object, whatever its class - the word list cannot tell a
  person from a car, so both are reported).

Prints one line per word and a total; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_LABELS = ROOT / "benchmarks" / "data" / "ir_vis_prompt_boxes.json"
DEFAULT_DATA = Path("/work/shared/data")


def box_mask(boxes: list[list[int]], shape: tuple[int, int]) -> np.ndarray:
    """Union of ``[x0, y0, x1, y1]`` boxes as a boolean mask."""
    mask = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes:
        mask[max(0, y0):y1, max(0, x0):x1] = True
    return mask


def score(pred: np.ndarray, boxes: list[list[int]], any_label: np.ndarray, hit: float) -> dict[str, float]:
    """Pixel and object counts of one prompt mask against one class's boxes."""
    truth = box_mask(boxes, pred.shape)
    labels, count = ndimage.label(pred, structure=np.ones((3, 3), bool))
    inside = [(labels == i) for i in range(1, count + 1)]
    return {
        "inter": float((pred & truth).sum()), "union": float((pred | truth).sum()),
        "pred": float(pred.sum()), "truth": float(truth.sum()),
        "objects": len(boxes),
        "found": sum(pred[max(0, y0):y1, max(0, x0):x1].mean() >= hit for x0, y0, x1, y1 in boxes if x1 > x0),
        "parts": count,
        "parts_in_class": sum(float(truth[c].mean()) >= 0.5 for c in inside),
        "parts_in_any": sum(float(any_label[c].mean()) >= 0.5 for c in inside),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    """Totals over pairs -> IoU, precision, recall."""
    t = {k: sum(r[k] for r in rows) for k in rows[0]}
    return {"mask_iou": _ratio(t["inter"], t["union"]), "pixel_precision": _ratio(t["inter"], t["pred"]),
            "pixel_recall": _ratio(t["inter"], t["truth"]), "object_recall": _ratio(t["found"], t["objects"]),
            "object_precision": _ratio(t["parts_in_class"], t["parts"]),
            "object_precision_any": _ratio(t["parts_in_any"], t["parts"]), "objects": t["objects"],
            "components": t["parts"]}


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the labels' root")
    parser.add_argument("--words", nargs="+", default=["person=person,people,pedestrian", "car=car,vehicle"],
                        help="class=word,word... (each word is one prompt)")
    parser.add_argument("--prompt-with", choices=("words", "clip"), default="words")
    parser.add_argument("--clip-checkpoint", type=Path, default=None)
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--clip-pretrained", default="laion2b_s34b_b79k")
    parser.add_argument("--allow-download", action="store_true")
    parser.add_argument("--hit", type=float, default=0.10, help="box share covered for an object to count as found")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.session.prompt_plan import find_prompt_regions
    from textdifuse_desktop.session.proposals import salient_source

    spec = json.loads(args.labels.read_text())
    folder = args.data / spec["root"]
    if not folder.is_dir():
        print(f"skipped: {folder} is not here (the labelled pairs live in the shared data folder)")
        return 0
    words = {w: cls for item in args.words for cls, ws in [item.split("=", 1)] for w in ws.split(",")}
    rows: dict[str, list[dict[str, float]]] = {w: [] for w in words}
    for name, classes in spec["pairs"].items():
        a, b = read_image(folder / "ir" / name), read_image(folder / "vi" / name)
        shape = a.spatial_shape[:2]
        every = box_mask([box for boxes in classes.values() for box in boxes], shape)
        clip = None
        if args.prompt_with == "clip":
            from textdifuse_desktop.fusion.prompt_regions import prompt_masks

            def clip(phrases, a=a, b=b):  # noqa: ANN001 - bound per pair
                return prompt_masks(", ".join(phrases), a, b, source=salient_source(a, b),
                                    checkpoint=args.clip_checkpoint, model_name=args.clip_model,
                                    pretrained=None if args.clip_checkpoint else args.clip_pretrained,
                                    allow_download=args.allow_download)
        for word, cls in words.items():
            outcome = find_prompt_regions(word, a, b, clip=clip)
            pred = outcome.regions[0].mask if outcome.regions else np.zeros(shape, bool)
            rows[word].append(score(pred, classes.get(cls, []), every, args.hit))
    path = "word list (hot-object proposal)" if args.prompt_with == "words" else f"CLIP {args.clip_model}"
    print(f"{len(spec['pairs'])} pairs, {path}; boxes: {args.labels.name}")
    print(f"{'word':<12}{'class':<8}{'IoU':>6}{'pix P':>7}{'pix R':>7}{'obj R':>7}{'obj P':>7}{'P any':>7}"
          f"{'objects':>9}{'parts':>7}")
    figures = {}
    for word, cls in words.items():
        s = summarise(rows[word])
        figures[word] = {"class": cls, **s}
        print(f"{word:<12}{cls:<8}{s['mask_iou']:6.3f}{s['pixel_precision']:7.3f}{s['pixel_recall']:7.3f}"
              f"{s['object_recall']:7.3f}{s['object_precision']:7.3f}{s['object_precision_any']:7.3f}"
              f"{int(s['objects']):9d}{int(s['components']):7d}")
    if args.json is not None:
        args.json.write_text(json.dumps({"path": path, "labels": str(args.labels), "words": figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
