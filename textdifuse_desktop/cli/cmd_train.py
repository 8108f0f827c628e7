"""``textdifuse train``: two-stage training of the compact Text-DiFuse model.

Examples::

    python -m textdifuse_desktop.model.pack_data --out .gpu_data/train_pack.npz
    textdifuse train --train-pack .gpu_data/train_pack.npz --out runs/my_model \\
        --time-budget-a 300 --time-budget-b 120
    torchrun --nproc_per_node 4 -m textdifuse_desktop.model.train --ddp --train-pack ...   (several GPUs)
"""

from __future__ import annotations

import argparse
import logging
import sys

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Register the ``train`` sub-command (torch is imported only when it runs)."""
    parser = subparsers.add_parser("train", help="train the fusion model (stage A restoration, stage B FCM)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from textdifuse_desktop.model.train_config import add_arguments  # torch-free

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Train and print where the weights went."""
    from textdifuse_desktop.model.train import train
    from textdifuse_desktop.model.train_config import config_from_args

    logging.getLogger("textdifuse_desktop.model").setLevel(logging.INFO)
    command = "textdifuse train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "textdifuse train"
    weights = train(config_from_args(args), command)
    if weights is not None:
        print(f"weights: {weights}")
        print(f"model card: {weights.parent / 'model_card.json'}")
    return 0
