"""Write validated inference options into the shipped weights' config, tensors unchanged.

    python benchmarks/set_inference_option.py noise_edges=0.1 --note "Then ... (validate10.txt)."

Inference options (see :mod:`textdifuse_desktop.model.network`) live in the safetensors metadata, so setting one
changes the file's sha256; the card gets the new sha256 and ``--note`` appended to its ``command``, and the old
sha256 goes to ``lineage.option_history``.  The tensors are checked to be bit-identical before the file is
replaced (both writes are atomic).  Choose options on training pairs only (``validate_options.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from validate_options import parse_variant

from textdifuse_desktop.model.network import default_config
from textdifuse_desktop.model.weights import (
    default_weights_path,
    load_model,
    save_model,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("options", help="key=value,... (numbers), as for validate_options.py")
    parser.add_argument("--note", required=True, help="how the options were chosen, appended to the card's command")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args(argv)
    path = args.weights or default_weights_path()
    loaded = load_model(path, "cpu")
    before = {k: v.clone() for k, v in loaded.net.state_dict().items()}
    options = {k: int(v) if float(v).is_integer() else v for k, v in parse_variant(args.options).items()}
    unknown = sorted(set(options) - set(default_config()))
    if unknown:
        raise SystemExit(f"not options of this network's config: {', '.join(unknown)}")
    loaded.net.config = {**loaded.net.config, **options}
    card = dict(loaded.card)
    lineage = dict(card.get("lineage") or {})
    lineage.setdefault("option_history", []).append({"sha256": card.get("sha256"), "set": options})
    card["lineage"] = lineage
    card["command"] = f"{card.get('command', '')} {args.note}".strip()
    save_model(loaded.net, card["sampler"], path, card)
    reloaded = load_model(path, "cpu")
    for key, tensor in reloaded.net.state_dict().items():
        if not torch.equal(tensor, before[key]):
            raise SystemExit(f"tensor {key} changed on re-saving: restore the weights from git")
    print(f"{path}: {options} set, sha256 {reloaded.card['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
