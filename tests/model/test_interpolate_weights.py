"""benchmarks/interpolate_weights.py: the point between two models, loadable, with both parents on its card."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.weights import load_model, save_model

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "interpolate_weights.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("interpolate_weights", SCRIPT)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _saved(path: Path, seed: int, config: dict | None = None) -> str:  # type: ignore[type-arg]
    torch.manual_seed(seed)
    save_model(build_model(config or tiny_config()), DDIMSampler().config, path)
    return str(path)


def test_the_midpoint_is_the_mean_of_the_two_models(tmp_path: Path) -> None:
    a, b = _saved(tmp_path / "a" / "m.safetensors", 0), _saved(tmp_path / "b" / "m.safetensors", 1)
    out = tmp_path / "mid" / "m.safetensors"
    _script().interpolate(a, b, 0.5, out)
    mid = load_model(out)
    sa, sb = load_model(a).net.state_dict(), load_model(b).net.state_dict()
    moved = 0
    for name, tensor in mid.net.state_dict().items():
        assert torch.allclose(tensor, (sa[name] + sb[name]) / 2, atol=2e-3), name  # fp16 storage
        moved += int(not torch.equal(sa[name], sb[name]))
    assert moved > 10
    assert mid.card["interpolation"]["alpha"] == 0.5 and mid.card["interpolation"]["b"] == b


def test_different_designs_are_refused(tmp_path: Path) -> None:
    a = _saved(tmp_path / "a" / "m.safetensors", 0)
    b = _saved(tmp_path / "b" / "m.safetensors", 0, {**tiny_config(), "restorer": 1})
    with pytest.raises(SystemExit, match="different designs"):
        _script().interpolate(a, b, 0.5, tmp_path / "c" / "m.safetensors")
