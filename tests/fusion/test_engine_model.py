"""The engine with a real (tiny, random) FusionDiffusionNet saved as safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from textdifuse_desktop.errors import DeviceError, ModelLoadError
from textdifuse_desktop.fusion import (
    FusionParams,
    FusionRequest,
    _model_backend,
)
from textdifuse_desktop.fusion.engine import fuse
from textdifuse_desktop.imaging.image import Image


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "model.safetensors"
    save_model(build_model(tiny_config()), DDIMSampler().config, path)
    return path


def _pair(rng, shape=(37, 53)):
    xx = np.mgrid[: shape[0], : shape[1]][1]
    a = Image((np.sin(xx / 5.0) * 100 + 120).astype(np.float32), modality="IR")
    b = Image(np.clip(rng.normal(128, 40, (*shape, 3)), 0, 255).astype(np.float32), axes="YXC", modality="VIS")
    return a, b


def test_tiny_model_odd_size_colour_and_record(tiny_weights, rng) -> None:
    from textdifuse_desktop.model.weights import sha256_of

    a, b = _pair(rng)
    params = FusionParams(steps=2, device="cpu", weights=str(tiny_weights), seed=3)
    result = fuse(FusionRequest(a, b, params))
    assert result.image.pixels.shape == (37, 53, 3) and np.isfinite(result.image.pixels).all()
    assert 0 <= result.image.pixels.min() and result.image.pixels.max() <= 255
    assert result.weights_sha256 == sha256_of(tiny_weights) == result.image.meta["fusion"]["weights_sha256"]
    assert result.device == "cpu" and len(result.sampler_config["timesteps"]) == 2
    again = fuse(FusionRequest(a, b, params))
    np.testing.assert_array_equal(again.image.pixels, result.image.pixels)  # same seed, same result


def test_model_is_loaded_once_per_weights_and_device(tiny_weights, monkeypatch) -> None:
    _model_backend.clear_model_cache()
    calls = []
    from textdifuse_desktop.model import weights as weights_module

    original = weights_module.load_model
    monkeypatch.setattr(weights_module, "load_model", lambda *a, **k: calls.append(a) or original(*a, **k))
    first = _model_backend.get_loaded_model(str(tiny_weights), torch.device("cpu"))
    second = _model_backend.get_loaded_model(str(tiny_weights), torch.device("cpu"))
    assert first is second and len(calls) == 1


def test_region_modulation_changes_only_the_masked_area(tiny_weights, rng) -> None:
    a, b = _pair(rng, (32, 48))
    params = FusionParams(steps=1, device="cpu", weights=str(tiny_weights))
    mask = np.zeros((32, 48), np.float32)
    mask[8:24, 8:24] = 1.0
    plain = fuse(FusionRequest(a, b, params)).image.pixels
    modulated = fuse(FusionRequest(a, b, params, kappa_b=1 + mask, blend_mask=mask)).image.pixels
    outside = mask == 0
    np.testing.assert_allclose(modulated[outside], plain[outside], atol=1e-3)
    assert np.abs(modulated[~outside] - plain[~outside]).max() > 1e-3


def test_missing_weights_and_device_errors(tmp_path, rng) -> None:
    a, b = _pair(rng, (16, 16))
    with pytest.raises(ModelLoadError):
        fuse(FusionRequest(a, b, FusionParams(device="cpu", weights=str(tmp_path / "none.safetensors"))))
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError):
            fuse(FusionRequest(a, b, FusionParams(device="cuda")))
