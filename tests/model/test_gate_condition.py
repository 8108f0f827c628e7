"""The pixel gate's degradation statistics (``gate_condition``): what they measure, that the gate reads them, and
that they leave weights trained without them unchanged."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from textdifuse_desktop.model.gate_condition import N_STATISTICS, degradation_statistics
from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler

DIAG, VERT, HORIZ, DIAG2, VERT2, HORIZ2, STRIPES, NOISE, MEAN, SPREAD, BLACK = range(N_STATISTICS)


def _scene(seed: int = 0, shape: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A finely textured image in [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(0.5 + 0.15 * ndimage.gaussian_filter(rng.normal(0, 1, shape), 1) * 4, 0, 1)


def _stats(image: np.ndarray) -> np.ndarray:
    return degradation_statistics(torch.from_numpy(image).float()[None, None] * 2 - 1)[0].numpy()


def test_statistics_tell_noise_stripes_blur_and_low_light_from_a_clean_image() -> None:
    clean = _scene()
    rng = np.random.default_rng(1)
    noisy = np.clip(clean + rng.normal(0, 12 / 255, clean.shape), 0, 1)
    striped = np.clip(clean + rng.normal(0, 12 / 255, clean.shape[1])[None, :], 0, 1)
    blurred = ndimage.gaussian_filter(clean, 2)
    dark = clean * 0.25
    s_clean, s_noisy, s_striped, s_blurred, s_dark = map(_stats, (clean, noisy, striped, blurred, dark))
    assert s_noisy[DIAG] > s_clean[DIAG] + 0.1 and s_noisy[NOISE] > s_clean[NOISE] + 0.1  # noise fills the finest band
    assert s_striped[STRIPES] > s_clean[STRIPES] + 0.2  # column offsets show in the column means' steps...
    assert abs(s_striped[DIAG] - s_clean[DIAG]) < 0.05  # ...and cancel in the diagonal band
    # Blur empties the finest bands more than the next scale's.
    assert s_blurred[VERT] - s_clean[VERT] < s_blurred[VERT2] - s_clean[VERT2] - 0.05 < -0.2
    assert s_dark[MEAN] < s_clean[MEAN] / 2 and s_dark[SPREAD] < s_clean[SPREAD] / 2
    scan = clean.copy()
    scan[:, :80] = 0  # a medical image's black background
    assert _stats(scan)[BLACK] > 0.5 > s_clean[BLACK]


def test_statistics_have_one_row_per_sample_and_do_not_depend_on_the_batch() -> None:
    a, b = (torch.from_numpy(_scene(s)).float()[None, None] * 2 - 1 for s in (0, 1))
    both = degradation_statistics(torch.cat([a, b]))
    assert both.shape == (2, N_STATISTICS) and torch.isfinite(both).all()
    torch.testing.assert_close(both[1:], degradation_statistics(b))


def _conditioned(randomise: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model({**tiny_config(), "tone_head": 0, "gate_condition": 1}).eval()
    with torch.no_grad():
        for p in net.parameters():
            if randomise and p.ndim > 1 and not p.abs().sum():
                p.normal_(0, 0.3)
    return net


def test_a_fresh_condition_leaves_weights_trained_without_it_unchanged() -> None:
    conditioned = _conditioned(randomise=False)
    plain = build_model({**tiny_config(), "tone_head": 0}).eval()
    result = plain.load_state_dict(conditioned.state_dict(), strict=False)
    assert result.missing_keys == [] and all(k.startswith("pixel_gate.condition.") for k in result.unexpected_keys)
    with torch.no_grad():  # give the plain gates something to do, the same in both
        for p_plain, (name, p_cond) in zip(plain.parameters(), conditioned.named_parameters()):
            if "condition" not in name and p_plain.ndim > 1 and not p_plain.abs().sum():
                p_plain.normal_(0, 0.3)
                p_cond.copy_(p_plain)
    a, b = (torch.from_numpy(_scene(s)).float()[None, None] for s in (0, 1))
    torch.testing.assert_close(fuse(conditioned, DDIMSampler(), a, b, steps=2), fuse(plain, DDIMSampler(), a, b, steps=2))


def test_the_gate_reads_each_sources_statistics() -> None:
    net = _conditioned(randomise=True)
    clean = torch.from_numpy(_scene()).float()[None, None] * 2 - 1
    x, t = torch.zeros_like(clean), torch.full((1,), 500.0)
    with torch.no_grad():
        feats_a, feats_b = net.encode_pair(x, t, clean, clean)
        stats = net.gate_statistics(clean, clean)
        noisier = stats.clone()
        noisier[:, DIAG] += 1.0  # source A said to be noisy, features unchanged
        same = net.pixel_gates(feats_a, feats_b, t, clean, clean, stats)
        changed = net.pixel_gates(feats_a, feats_b, t, clean, clean, noisier)
        computed = net.pixel_gates(feats_a, feats_b, t, clean, clean)
    torch.testing.assert_close(computed, same)  # computed from the conditions when not given
    assert float((changed - same).abs().mean()) > 1e-3


def test_the_statistics_are_computed_once_per_fusion_with_the_bases() -> None:
    net = _conditioned(randomise=True)
    a, b = (torch.from_numpy(_scene(s)).float()[None, None] * 2 - 1 for s in (0, 1))
    with torch.no_grad():
        fixed = net.compute_bases(a, b)
    assert len(fixed) == 3 and fixed[2].shape == (1, 2 * N_STATISTICS)
    torch.testing.assert_close(fixed[2], net.gate_statistics(a, b))


def test_one_images_acquisition_statistics_are_the_networks_own() -> None:
    """Given explicitly (what the engine does for every tile) or computed by the network from a whole image, the
    statistics and so the fusion are the same; a volume gets one row for all its slices."""
    from textdifuse_desktop.model.inference import acquisition_statistics

    net = _conditioned(randomise=True)
    a, b = (torch.from_numpy(_scene(s)).float()[None, None] for s in (0, 1))
    statistics = acquisition_statistics(net, a, b)
    assert statistics.shape == (1, 2 * N_STATISTICS)
    torch.testing.assert_close(fuse(net, DDIMSampler(), a, b, steps=2, statistics=statistics),
                               fuse(net, DDIMSampler(), a, b, steps=2))
    volume_a, volume_b = torch.cat([a, a * 0.2]), torch.cat([b, b])
    shared = acquisition_statistics(net, volume_a, volume_b)
    assert shared.shape == (1, 2 * N_STATISTICS)
    per_slice = fuse(net, DDIMSampler(), volume_a, volume_b, steps=2)
    as_one = fuse(net, DDIMSampler(), volume_a, volume_b, steps=2, statistics=shared)
    assert float((as_one - per_slice).abs().max()) > 1e-4  # the slices now read the volume's statistics
    assert acquisition_statistics(build_model({**tiny_config(), "tone_head": 0}), a, b) is None


def test_the_engine_gives_every_tile_the_whole_images_statistics(tmp_path, monkeypatch) -> None:
    """Through the real engine with a tiled fusion: the statistics are computed once, over the whole image."""
    from textdifuse_desktop.fusion import FusionParams, FusionRequest
    from textdifuse_desktop.fusion.engine import fuse as engine_fuse
    from textdifuse_desktop.imaging.image import Image
    from textdifuse_desktop.model import inference
    from textdifuse_desktop.model.weights import save_model

    path = tmp_path / "model.safetensors"
    save_model(_conditioned(randomise=True), DDIMSampler().config, path)
    seen, computed = [], []
    original = inference.acquisition_statistics
    monkeypatch.setattr(inference, "acquisition_statistics",
                        lambda net, ya, yb: seen.append(tuple(ya.shape)) or original(net, ya, yb))
    own = type(_conditioned(randomise=False)).gate_statistics
    monkeypatch.setattr(type(_conditioned(randomise=False)), "gate_statistics",
                        lambda self, ca, cb: computed.append(tuple(ca.shape)) or own(self, ca, cb))
    image_a, image_b = (Image((_scene(s, (96, 160)) * 255).astype(np.float32), modality=m)
                        for s, m in ((0, "IR"), (1, "VIS")))
    result = engine_fuse(FusionRequest(image_a, image_b, FusionParams(steps=1, device="cpu", weights=str(path),
                                                                       tile=64)))
    assert np.isfinite(result.image.pixels).all()
    assert seen == [(1, 1, 96, 160)]  # once, over the whole image...
    assert computed == [(1, 1, 96, 160)]  # ...and never again per tile
