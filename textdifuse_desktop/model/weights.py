"""Model weights: safetensors only (never pickle), verified against the model card's sha256.

A model folder holds ``model.safetensors`` (fp16 tensors; the network config and the sampler config are
stored in the file's metadata) and ``model_card.json`` next to it (data and splits, the exact command,
iterations, hardware, wall time, metrics, config and the ``sha256`` of the weights file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ModelLoadError, WeightsIntegrityError, WriteError
from textdifuse_desktop.model.network import (
    TONE_HEAD_VERSION,
    FusionDiffusionNet,
    build_model,
)
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.tone import widen_raw_only_state

log = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "model_card.json"
ENV_WEIGHTS = "TEXTDIFUSE_WEIGHTS"


LEGACY_TWO_SCALE = {"base_radius": 4, "base_passes": 2, "gate_sources": 0}
#: Weights saved before the edge-preserving base existed split with box filters.
LEGACY_BASE = {"base_eps": 0.0}


class LoadedModel(NamedTuple):
    """A ready-to-run model: network (eval mode), its sampler, the model card and the file's sha256."""

    net: FusionDiffusionNet
    sampler: DDIMSampler
    card: dict[str, Any]
    sha256: str


def default_weights_path() -> Path:
    """The shipped weights (``models/textdifuse-compact/model.safetensors``), or ``$TEXTDIFUSE_WEIGHTS``."""
    if os.environ.get(ENV_WEIGHTS):
        return Path(os.environ[ENV_WEIGHTS])
    return Path(__file__).resolve().parents[2] / "models" / "textdifuse-compact" / WEIGHTS_NAME


def sha256_of(path: PathLike) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    # A temporary name next to ``path``, renamed on success, with the permissions the user's umask gives (safetensors
    # and mkstemp create 0600 files).  Not io.writers.atomic: training runs on machines without the DICOM stack that
    # the io package imports.
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(str(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as error:
        raise WriteError(f"cannot write: {error}", path=path) from error
    finally:
        tmp.unlink(missing_ok=True)


def save_model(net: FusionDiffusionNet, sampler_config: dict[str, Any], path: PathLike,
               card: dict[str, Any] | None = None, *, dtype: torch.dtype = torch.float16) -> Path:
    """Write ``net`` to ``path`` (safetensors, ``dtype``) and the model card next to it.

    The card gets ``config``, ``sampler``, ``weights_file``, ``size_bytes``, ``parameters`` and the
    ``sha256`` of the written file.  Returns the card's path.
    """
    path = Path(path)
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
             for k, v in net.state_dict().items()}
    metadata = {"format": "textdifuse-compact", "config": json.dumps(net.config),
                "sampler": json.dumps(sampler_config)}
    _atomic_write(path, lambda tmp: save_file(state, tmp, metadata=metadata))
    full = dict(card or {})
    full.update({"weights_file": path.name, "sha256": sha256_of(path), "size_bytes": path.stat().st_size,
                 "parameters": sum(v.numel() for v in state.values()), "config": net.config,
                 "sampler": sampler_config, "dtype": str(dtype).replace("torch.", "")})
    card_path = path.parent / CARD_NAME

    def write_card(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")

    _atomic_write(card_path, write_card)
    return card_path


def load_card(weights: PathLike) -> dict[str, Any]:
    """The model card next to ``weights`` (ModelLoadError if missing or unreadable)."""
    card_path = Path(weights).parent / CARD_NAME
    if not card_path.is_file():
        raise ModelLoadError("the model card is missing next to the weights", path=card_path,
                             hint=f"keep {CARD_NAME} in the same folder as the weights or re-download the model")
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"the model card is unreadable: {error}", path=card_path,
                             hint="restore the file from the release") from error


def with_option_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A network config as saved with some weights, with every option added since at the value those weights were
    trained with (off), and a first-format tone head (``tone_head`` 1) as the current one, which loads it."""
    config = {"output": "direct", **LEGACY_TWO_SCALE, **LEGACY_BASE, "tone_head": 0, "restorer": 0, **config}
    return {**config, "tone_head": TONE_HEAD_VERSION} if config["tone_head"] == 1 else config


def saved_config(path: PathLike) -> dict[str, Any] | None:
    """The network config in a weights file's metadata (:func:`with_option_defaults`), None where it has none."""
    with safe_open(str(path), framework="pt") as handle:
        config = json.loads((handle.metadata() or {}).get("config", "null"))
    return with_option_defaults(config) if isinstance(config, dict) else None


def load_model(path: PathLike | None = None, device: str | torch.device = "cpu", *,
               verify: bool = True) -> LoadedModel:
    """Load weights (default: the shipped model) onto ``device`` after checking their sha256.

    Raises
    ------
    ModelLoadError
        The weights or the card are missing, unreadable, or do not match the code.
    WeightsIntegrityError
        The file's sha256 differs from the card's.
    """
    weights = Path(path) if path is not None else default_weights_path()
    if weights.is_dir():
        weights = weights / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelLoadError("model weights not found", path=weights,
                             hint="pass --weights PATH, or train one with `textdifuse train`")
    card = load_card(weights)
    digest = sha256_of(weights)
    if verify and card.get("sha256") != digest:
        raise WeightsIntegrityError(f"sha256 {digest[:12]}... differs from the model card's "
                                    f"{str(card.get('sha256'))[:12]}...", path=weights,
                                    hint="the file is corrupt or was replaced; re-download it or restore the card")
    try:
        state = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as handle:
            metadata = handle.metadata() or {}
        config = json.loads(metadata.get("config", "null")) or card.get("config")
        sampler_config = json.loads(metadata.get("sampler", "null")) or card.get("sampler") or {}
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelLoadError(f"not a readable safetensors file: {error}", path=weights,
                             hint="re-download the weights") from error
    if isinstance(config, dict):
        if config.get("gate_prior") or config.get("learned_mix") is False:
            raise ModelLoadError("these weights were made for the saliency-prior design, which this version no "
                                 "longer has", path=weights, hint="use the shipped weights or retrain with "
                                 "`textdifuse train`")
        if config.get("tone_head") == 1 and "tone.mlp.0.weight" in state:
            # The first tone head read the raw statistics only: the current one with zeros on the restored ones.
            state = widen_raw_only_state({k: v.float() for k, v in state.items()})
        config = with_option_defaults(config)  # weights saved before an option existed were trained without it
    net = build_model(config)
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as error:
        raise ModelLoadError(f"weights do not match the network code: {str(error).splitlines()[0]}",
                             path=weights, hint="use weights made for this version") from error
    net = net.eval().to(device)
    if torch.device(device).type == "cpu":
        # iter_fuse feeds channels-last tensors on the CPU; weights in the same layout save a conversion per
        # convolution (0.56 s -> 0.49 s for a 640x480 pair at 2 steps, benchmarks/bench_fusion.py).
        net = net.to(memory_format=torch.channels_last)
    sampler = DDIMSampler.from_config(sampler_config)
    log.info("loaded %s (sha256 %s) on %s", weights, digest[:12], device)
    return LoadedModel(net, sampler, card, digest)
