"""Pack the training and test pairs into compressed ``.npz`` files for a bare GPU machine.

Usage::

    python -m textdifuse_desktop.model.pack_data --root /work/shared/data --out .gpu_data/train_pack.npz

writes ``train_pack.npz`` and ``test_pack.npz`` (same folder) and prints their sizes.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from textdifuse_desktop.model.data import load_pairs, save_pack

log = logging.getLogger(__name__)

DEFAULT_ROOT = "/work/shared/data"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=DEFAULT_ROOT, help="data root holding ir_vis/ and medical/harvard/")
    parser.add_argument("--out", default=".gpu_data/train_pack.npz", help="training pack; the test pack goes "
                        "next to it as test_pack.npz")
    parser.add_argument("--train-short-side", type=int, default=360,
                        help="downscale IR/VIS training pairs to this short side (keeps the pack small)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for split, path in (("train", out), ("test", out.with_name("test_pack.npz"))):
        records = load_pairs(args.root, split, args.train_short_side if split == "train" else 480)
        save_pack(records, path)
        counts = Counter(r.task for r in records)
        print(f"{split}: {len(records)} pairs {dict(counts)} -> {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
