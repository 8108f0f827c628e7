"""Standard CLIP weights by name: resolved through open_clip's table, fetched with huggingface_hub from a hub
stand-in on 127.0.0.1 (tests/fusion/local_hub.py), only with consent; interrupted and damaged downloads are never
loaded; offline is one clear error."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
pytest.importorskip("huggingface_hub")

from local_hub import (
    MODEL,
    REPO,
    TAG,
    point_hub_at,
    register_tiny_clip,
    serve_hub,
    tiny_checkpoint_bytes,
)

from textdifuse_desktop.errors import (
    FeatureUnavailableError,
    ModelLoadError,
    WeightsIntegrityError,
)
from textdifuse_desktop.fusion import clip_dense, clip_models
from textdifuse_desktop.fusion import prompt_regions as pr


@pytest.fixture(scope="module")
def checkpoint_bytes() -> bytes:
    return tiny_checkpoint_bytes()


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    register_tiny_clip(tmp_path / "configs", monkeypatch)
    clip_dense._load_cached.cache_clear()
    yield tmp_path / "hub-cache"
    clip_dense._load_cached.cache_clear()


def _blobs(cache) -> list:
    return [p for p in cache.rglob("*") if p.is_file()]


def test_default_weights_resolve_through_open_clip_without_network() -> None:
    weights = clip_models.standard_weights()
    assert weights.repo_id == "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
    assert weights.filenames == ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    text = weights.describe()
    assert "ViT-B-32" in text and "605 MB" in text and "MIT" in text
    with pytest.raises(FeatureUnavailableError, match="no downloadable weights"):
        clip_models.standard_weights("ViT-B-32", "no-such-tag")


def test_download_with_consent_then_loads_from_the_cache(tiny, monkeypatch, checkpoint_bytes) -> None:
    seen = []
    with serve_hub({"open_clip_model.safetensors": checkpoint_bytes}) as hub:
        point_hub_at(hub.url, tiny, monkeypatch)
        weights = clip_models.standard_weights(MODEL, TAG)
        assert clip_models.cached_weights(weights) is None
        with pytest.raises(FeatureUnavailableError, match="not downloaded yet"):
            pr.load_clip(model_name=MODEL, pretrained=TAG)  # no consent: nothing is fetched
        assert not [r for r in hub.requests if r[0] == "GET"]
        bundle = pr.load_clip(model_name=MODEL, pretrained=TAG, allow_download=True,
                              progress=lambda done, total: seen.append((done, total)))
    assert bundle.image_size == 64 and seen and seen[-1] == (len(checkpoint_bytes), len(checkpoint_bytes))
    assert ("GET", f"/{REPO}/resolve/main/open_clip_model.safetensors") in hub.requests
    path = clip_models.cached_weights(weights)
    assert path is not None and path.read_bytes() == checkpoint_bytes and tiny in path.parents
    clip_dense._load_cached.cache_clear()
    assert pr.load_clip(model_name=MODEL, pretrained=TAG).image_size == 64  # server gone: the cache is enough


def test_interrupted_download_leaves_nothing_loadable(tiny, monkeypatch, checkpoint_bytes) -> None:
    with serve_hub({"open_clip_model.safetensors": checkpoint_bytes}, cut_after=len(checkpoint_bytes) // 3) as hub:
        point_hub_at(hub.url, tiny, monkeypatch)
        with pytest.raises(FeatureUnavailableError, match="failed") as info:
            pr.load_clip(model_name=MODEL, pretrained=TAG, allow_download=True)
    assert "\n" not in str(info.value) and info.value.exit_code == 7
    weights = clip_models.standard_weights(MODEL, TAG)
    assert clip_models.cached_weights(weights) is None
    assert not [p for p in _blobs(tiny) if p.stat().st_size > 0 and "incomplete" not in p.name
                and p.parent.name == "blobs"]
    with pytest.raises(FeatureUnavailableError, match="not downloaded yet"):
        pr.load_clip(model_name=MODEL, pretrained=TAG)


def test_checksum_mismatch_is_refused_and_deleted(tiny, monkeypatch, checkpoint_bytes) -> None:
    with serve_hub({"open_clip_model.safetensors": checkpoint_bytes}, wrong_etag="ab" * 32) as hub:
        point_hub_at(hub.url, tiny, monkeypatch)
        with pytest.raises(WeightsIntegrityError, match="damaged") as info:
            pr.load_clip(model_name=MODEL, pretrained=TAG, allow_download=True)
    assert info.value.exit_code == 6 and "\n" not in str(info.value)
    assert clip_models.cached_weights(clip_models.standard_weights(MODEL, TAG)) is None
    assert not [p for p in _blobs(tiny) if p.parent.name == "blobs"]


def test_safetensors_missing_falls_back_to_the_bin_file(tiny, monkeypatch, checkpoint_bytes, tmp_path) -> None:
    state = open_clip.CLIP(**__import__("local_hub").TINY).state_dict()
    torch.save(state, tmp_path / "tiny.bin")
    with serve_hub({"open_clip_pytorch_model.bin": (tmp_path / "tiny.bin").read_bytes()}) as hub:
        point_hub_at(hub.url, tiny, monkeypatch)
        path = clip_models.download_weights(clip_models.standard_weights(MODEL, TAG))
    assert path.name == "open_clip_pytorch_model.bin"


def test_server_down_is_one_line(tiny, monkeypatch) -> None:
    with serve_hub({}) as hub:
        url = hub.url  # the port is closed once the block ends
    point_hub_at(url, tiny, monkeypatch)
    with pytest.raises(FeatureUnavailableError) as info:
        clip_models.download_weights(clip_models.standard_weights(MODEL, TAG))
    assert "\n" not in str(info.value) and "brushing" in str(info.value)


def test_offline_mode_is_one_line_and_asks_nothing(tiny, monkeypatch, checkpoint_bytes) -> None:
    import huggingface_hub.constants

    with serve_hub({"open_clip_model.safetensors": checkpoint_bytes}) as hub:
        point_hub_at(hub.url, tiny, monkeypatch)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        with pytest.raises(FeatureUnavailableError, match="offline") as info:
            pr.load_clip(model_name=MODEL, pretrained=TAG, allow_download=True)
    assert "\n" not in str(info.value) and not hub.requests


def test_cancel_stops_the_download_and_keeps_nothing(tiny, monkeypatch, checkpoint_bytes) -> None:
    with serve_hub({"open_clip_model.safetensors": checkpoint_bytes}) as hub:
        point_hub_at(hub.url, tiny, monkeypatch)
        weights = clip_models.standard_weights(MODEL, TAG)
        with pytest.raises(clip_models.DownloadCancelled):
            clip_models.download_weights(weights, cancelled=lambda: True)
    assert clip_models.cached_weights(weights) is None


@pytest.mark.parametrize("content", [b"not a checkpoint at all", b"\x80\x02}q\x00(X\x05"])
def test_corrupt_checkpoint_is_one_line(tmp_path, content, tiny) -> None:
    path = tmp_path / "clip.bin"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        pr.load_clip(path, MODEL)
    assert "\n" not in str(info.value) and str(path) in str(info.value) and info.value.exit_code == 6


def test_out_of_memory_while_finding_is_a_device_error() -> None:
    from textdifuse_desktop.errors import DeviceError
    from textdifuse_desktop.imaging.image import Image

    a = Image(np.zeros((40, 50), np.float32), modality="IR")

    def exhausted(rgb, phrases):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(DeviceError, match="out of memory") as info:
        pr.prompt_masks("person", a, a, similarity=exhausted)
    assert info.value.exit_code == 8
