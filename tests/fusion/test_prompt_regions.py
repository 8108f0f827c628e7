"""Text prompts -> masks: the open_clip pipeline on a tiny random CLIP, the calibrated decision (an absent object
gives no region) and refinement with stubbed evidence maps, and the clear error when no model is configured."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from textdifuse_desktop.errors import FeatureUnavailableError, UsageError
from textdifuse_desktop.fusion import prompt_regions as pr
from textdifuse_desktop.imaging.image import Image

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="module")
def tiny_bundle() -> pr.ClipBundle:
    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY).eval()
    return pr.ClipBundle(model, open_clip.get_tokenizer("ViT-B-32"), name="tiny")


@pytest.fixture
def no_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTDIFUSE_CONFIG_DIR", str(tmp_path / "config"))


def _pair(shape=(90, 120)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    ir = np.full(shape, 40.0, np.float32) + 10 * np.sin(xx / 7.0)
    person = (yy - 45) ** 2 / 15**2 + (xx - 80) ** 2 / 8**2 <= 1
    ir[person] = 220.0
    ir[:, :30] = 40.0 + np.random.default_rng(5).normal(0, 3, (shape[0], 30))  # a plain "road" band
    vis = np.stack([np.clip(60 + xx, 0, 255), np.clip(80 + yy, 0, 255), np.full(shape, 90.0)], -1)
    return Image(ir, modality="IR"), Image(vis.astype(np.float32), axes="YXC", modality="VIS"), person


def test_parse_prompt() -> None:
    assert pr.parse_prompt(" person,  car ;Person, , red  truck") == ["person", "car", "red truck"]
    assert pr.parse_prompt(" , ") == []


def test_truncated_text_encoder_matches_encode_text(tiny_bundle) -> None:
    tokens = tiny_bundle.tokenizer(["a photo of a person.", "car", "a thermal image of a big red fire truck."])
    with torch.inference_mode():
        full = tiny_bundle.model.encode_text(tokens)
        short = pr._encode_text(tiny_bundle.model, tokens)
    torch.testing.assert_close(short, full, atol=1e-5, rtol=1e-5)


def test_dense_features_take_the_value_path(tiny_bundle) -> None:
    visual = tiny_bundle.model.visual
    windows = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        feats = pr.dense_features(tiny_bundle, windows)
        assert feats.shape == (2, 4, 4, 32)
        torch.testing.assert_close(feats.norm(dim=-1), torch.ones(2, 4, 4))
        # Reference: value projection of the last block by hand, no attention, no MLP, no residual.
        x = visual.transformer.resblocks[0](visual._embeds(windows))
        last = visual.transformer.resblocks[-1]
        w_v, b_v = last.attn.in_proj_weight[128:], last.attn.in_proj_bias[128:]  # q, k, v stacked
        value = last.attn.out_proj(torch.nn.functional.linear(last.ln_1(x), w_v, b_v))
        ref = torch.nn.functional.normalize(visual.ln_post(value[:, 1:]) @ visual.proj, dim=-1)
    torch.testing.assert_close(feats.reshape(2, 16, 32), ref)


def test_clip_similarity_shapes_determinism_and_windows(tiny_bundle) -> None:
    rgb = np.random.default_rng(0).uniform(0, 255, (70, 150, 3)).astype(np.float32)
    sim = pr.clip_similarity(tiny_bundle, rgb, ["person", "car"], scale=1.5)
    assert sim.shape == (2, 70, 150) and sim.dtype == np.float32 and np.isfinite(sim).all()
    np.testing.assert_array_equal(sim, pr.clip_similarity(tiny_bundle, rgb, ["person", "car"], scale=1.5))
    raw = pr.clip_similarity(tiny_bundle, rgb, ["person"], scale=1.5, background=(), floor=None)
    assert np.abs(raw).max() <= 1.0 + 1e-5  # plain cosine without background or floor
    assert not np.allclose(raw[0], sim[0])
    floor_only = pr.clip_similarity(tiny_bundle, rgb, ["person"], scale=1.5, background=(), floor=0.25)
    np.testing.assert_allclose(floor_only, raw - 0.25, atol=1e-5)
    evidence = pr.clip_similarity(tiny_bundle, rgb, ["person", "car"], scale=1.5, floor=0.25)
    assert (evidence <= sim + 1e-6).all() and (evidence <= floor_only.max() + 1e-6).all()  # min of both rules
    assert pr._window_starts(96, 64, 32) == [0, 32] and pr._window_starts(50, 64, 32) == [0]
    assert pr._window_starts(200, 64, 32) == [0, 32, 64, 96, 128, 136]


def test_coarse_masks_threshold_and_exclusive_phrases() -> None:
    yy, xx = np.mgrid[:40, :60]
    bump = lambda cx: 0.05 - 0.0002 * ((xx - cx) ** 2 + (yy - 20.0) ** 2)
    sim = np.stack([bump(10.0), bump(50.0)]).astype(np.float32)
    low, high = pr.coarse_masks(sim, 0.0), pr.coarse_masks(sim, 0.03)
    assert low.shape == (2, 40, 60) and not (low[0] & low[1]).any()
    assert (high <= low).all() and high.sum() < low.sum()
    assert low[0, 20, 10] and low[1, 20, 50] and not low[0, 20, 50] and not low[0, 0, 59]


def test_absent_object_gives_no_mask_present_object_its_mask() -> None:
    """The decision is on the evidence itself: a map that is nowhere positive is empty, never rescaled to a peak."""
    rng = np.random.default_rng(0)
    absent = (-0.02 + 0.01 * rng.standard_normal((1, 60, 80))).clip(-1, -1e-4).astype(np.float32)
    assert not pr.coarse_masks(absent).any()
    scaled = absent * 0.001  # any per-image rescaling would turn the least bad patch into a region
    assert not pr.coarse_masks(scaled).any()
    present = absent.copy()
    present[0, 20:40, 30:50] = 0.03
    mask = pr.coarse_masks(present, 0.0, min_size=20)[0]
    assert mask[20:40, 30:50].all() and mask.sum() == 400
    speck = absent.copy()
    speck[0, 5:7, 5:7] = 0.05
    assert not pr.coarse_masks(speck, 0.0, min_size=20).any()  # a 4-pixel speck is not an object


def test_refinement_snaps_a_coarse_box_to_the_favoured_source() -> None:
    a, _, person = _pair()
    sim = np.full((90, 120), -0.05, np.float32)
    sim[20:70, 60:100] = 0.02  # a stubbed, blocky CLIP answer around the person
    sim[person] += 0.01
    coarse = pr.coarse_masks(sim[None])[0]
    refined = pr.refine_mask(coarse, a.pixels, sim)
    iou = lambda m: (m & person).sum() / (m | person).sum()
    assert iou(coarse) < 0.5 and iou(refined) > 0.9


def test_prompt_masks_with_a_stubbed_similarity() -> None:
    a, b, person = _pair()
    calls = []

    def similarity(rgb, phrases):
        calls.append((rgb.shape, tuple(phrases)))
        out = np.full((len(phrases), *rgb.shape[:2]), -0.03, np.float32)
        out[0, 20:70, 60:100] = 0.02
        out[1, :, :30] = 0.02  # "road": the left band, plain in A: nothing to snap to
        return out  # "dog" (third) is nowhere above the background: absent

    found = pr.prompt_masks("person, road, dog", a, b, source="A", similarity=similarity, label="stub")
    assert calls == [((90, 120, 3), ("person", "road", "dog"))]
    assert [f.name for f in found] == ["person", "road"] and all(f.source == "A" for f in found)
    assert found[0].provenance == "stub: 'person'"
    assert (found[0].mask & person).sum() / (found[0].mask | person).sum() > 0.9
    assert found[1].mask[:, :30].all()
    assert pr.prompt_masks("dog", a, b, similarity=lambda rgb, p: np.full((1, 90, 120), -0.01, np.float32)) == []
    with pytest.raises(UsageError, match="empty"):
        pr.prompt_masks(" , ", a, b, similarity=similarity)
    with pytest.raises(ValueError, match="shape"):
        pr.prompt_masks("x", a, b, similarity=lambda rgb, p: np.zeros((1, 5, 5)))


def test_prompt_pipeline_end_to_end_with_a_random_clip(tiny_bundle) -> None:
    import functools

    a, b, _ = _pair()
    sim = functools.partial(pr.clip_similarity, tiny_bundle)
    evidence = sim(pr.query_image(a, b), ["person", "car"])
    first = pr.prompt_masks("person, car", a, b, source="A", similarity=sim)
    again = pr.prompt_masks("person, car", a, b, source="A", similarity=sim)
    assert len(first) == int((evidence[0] > 0).any()) + int((evidence[1] > 0).any())  # random weights: usually none
    assert all(f.mask.shape == (90, 120) and f.mask.dtype == bool for f in first)
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(first, again))


def test_without_checkpoint_the_feature_is_off_and_offline(no_settings, monkeypatch, tmp_path) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("open_clip must not be asked to load anything")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", no_network)
    a, b, _ = _pair()
    with pytest.raises(FeatureUnavailableError, match="--allow-download") as info:
        pr.prompt_masks("person", a, b)
    assert info.value.exit_code == 7
    with pytest.raises(FeatureUnavailableError, match="does not exist"):
        pr.load_clip(tmp_path / "missing.safetensors")


def test_load_clip_from_a_local_file(tmp_path, monkeypatch) -> None:
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "TinyTest-ViT.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(config_dir)
    torch.manual_seed(3)
    checkpoint = tmp_path / "tiny_clip.pt"
    torch.save(open_clip.CLIP(**TINY).state_dict(), checkpoint)
    bundle = pr.load_clip(checkpoint, "TinyTest-ViT")
    assert bundle.image_size == 64
    assert pr.load_clip(checkpoint, "TinyTest-ViT") is bundle  # cached
    from textdifuse_desktop.errors import ModelLoadError

    (config_dir / "TinyTest-ViT-wide.json").write_text(json.dumps({**TINY, "embed_dim": 48}))
    open_clip.add_model_config(config_dir)
    with pytest.raises(ModelLoadError, match="TinyTest-ViT-wide"):
        pr.load_clip(checkpoint, "TinyTest-ViT-wide")
