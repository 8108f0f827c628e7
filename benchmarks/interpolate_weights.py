"""Weights on the straight line between two models of the same design: ``a + alpha (b - a)``.

Asks whether a fine-tune's gains can be kept at a fraction of its costs without training again (a "model soup" of
two checkpoints; validation.md, run 30).  The result is a loadable model folder whose card names both parents and
their sha256.

    python benchmarks/interpolate_weights.py models/textdifuse-compact/model.safetensors runs/fb1/model.safetensors \
        --alpha 0.3 --out runs/soup_fb1_0.3/model.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from textdifuse_desktop.model.weights import load_model, save_model


def interpolate(a: str, b: str, alpha: float, out: Path) -> Path:
    """Write ``a + alpha (b - a)`` (float tensors; the rest from ``a``) to ``out``; returns the card's path."""
    start, end = load_model(a), load_model(b)
    if start.net.config != end.net.config:
        raise SystemExit(f"{a} and {b} are different designs; interpolating them means nothing")
    ends = end.net.state_dict()
    mixed = {k: v + alpha * (ends[k] - v) if v.is_floating_point() else v for k, v in start.net.state_dict().items()}
    start.net.load_state_dict(mixed)
    out.parent.mkdir(parents=True, exist_ok=True)
    card = {"interpolation": {"a": a, "a_sha256": start.sha256, "b": b, "b_sha256": end.sha256, "alpha": alpha}}
    return save_model(start.net, start.sampler.config, out, card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="weights at alpha 0")
    parser.add_argument("b", help="weights at alpha 1")
    parser.add_argument("--alpha", type=float, required=True, help="where on the line (0..1 between the two)")
    parser.add_argument("--out", type=Path, required=True, help="new model.safetensors (its card is written beside)")
    args = parser.parse_args()
    if args.out.exists():
        raise SystemExit(f"{args.out} exists; choose a new path")
    print(interpolate(args.a, args.b, args.alpha, args.out))


if __name__ == "__main__":
    main()
