"""Weights: safetensors round trip, sha256 verification, missing files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from textdifuse_desktop.errors import ModelLoadError, WeightsIntegrityError
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.weights import (
    CARD_NAME,
    default_weights_path,
    load_model,
    save_model,
)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = build_model(tiny_config())
    path = tmp_path / "m" / "model.safetensors"
    save_model(net, DDIMSampler(prediction_type="v").config, path, {"name": "test"})
    return path, net


def test_round_trip(saved: tuple[Path, torch.nn.Module]) -> None:
    path, net = saved
    loaded = load_model(path)
    card = json.loads((path.parent / CARD_NAME).read_text())
    assert loaded.sha256 == card["sha256"] and card["name"] == "test"
    assert loaded.sampler.prediction_type == "v"
    assert loaded.net.config == net.config and not loaded.net.training
    for key, value in net.state_dict().items():
        torch.testing.assert_close(loaded.net.state_dict()[key], value.half().float())
    assert load_model(path.parent).sha256 == loaded.sha256  # a folder works too


def test_wrong_hash_is_rejected(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    card_path = path.parent / CARD_NAME
    card = json.loads(card_path.read_text())
    card["sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsIntegrityError) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_tampered_file_is_rejected(saved: tuple[Path, torch.nn.Module]) -> None:
    path, _ = saved
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError):
        load_model(path)


def test_missing_files(tmp_path: Path, saved: tuple[Path, torch.nn.Module]) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_model(tmp_path / "nope.safetensors")
    assert "nope.safetensors" in str(info.value)
    path, _ = saved
    (path.parent / CARD_NAME).unlink()
    with pytest.raises(ModelLoadError, match="model card"):
        load_model(path)


def test_incompatible_config_is_a_load_error(saved: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    path, _ = saved
    state = load_file(str(path))
    state.pop(next(iter(state)))
    save_file(state, str(path), metadata={"config": json.dumps(tiny_config()), "sampler": "{}"})
    card_path = path.parent / CARD_NAME
    card = json.loads(card_path.read_text())
    from textdifuse_desktop.model.weights import sha256_of

    card["sha256"] = sha256_of(path)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="do not match"):
        load_model(path)


def test_shipped_weights_load_if_present() -> None:
    path = default_weights_path()
    if not path.is_file():
        pytest.skip("no shipped weights in this checkout")
    loaded = load_model(path)
    assert loaded.net.multiple >= 8 and path.stat().st_size <= 20 * 1024 * 1024


def test_weights_saved_before_an_option_load_as_they_were_trained(tmp_path: Path) -> None:
    """A config without the newer keys means the design of its day (no source inputs to the pixel gate)."""
    from textdifuse_desktop.model.weights import LEGACY_BASE, LEGACY_TWO_SCALE

    net = build_model({**tiny_config(), "gate_sources": 0, "base_eps": 0.0})
    for key in {**LEGACY_TWO_SCALE, **LEGACY_BASE}:
        net.config.pop(key)
    path = tmp_path / "old" / "model.safetensors"
    save_model(net, DDIMSampler().config, path)
    loaded = load_model(path, "cpu").net
    assert not loaded.gate_sources and loaded.base_shape == (4, 2) and loaded.base_eps == 0
    assert build_model({"widths": [8, 16, 16], "groups": 4, "emb_dim": 16, "restorer": 0}).gate_sources  # today's


def test_saliency_prior_weights_are_refused(tmp_path: Path) -> None:
    """Weights of the retired saliency-prior design would run with a different meaning: refused, with a hint."""
    net = build_model(tiny_config())
    net.config.update({"gate_prior": "saliency", "learned_mix": False})
    path = tmp_path / "prior" / "model.safetensors"
    save_model(net, DDIMSampler().config, path)
    with pytest.raises(ModelLoadError, match="saliency-prior design"):
        load_model(path, "cpu")


def test_saved_weights_follow_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        path = tmp_path / "w" / "model.safetensors"
        save_model(build_model(tiny_config()), DDIMSampler().config, path)
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644 and ((path.parent / "model_card.json").stat().st_mode & 0o777) == 0o644
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left
