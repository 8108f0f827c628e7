"""The edge-preserving pre-filter of noisy sources (``noisy_denoise``)."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.noise_level import noise_sigma
from textdifuse_desktop.model.noisy_prefilter import denoise_noisy
from textdifuse_desktop.model.saliency_prior import saliency_weights
from textdifuse_desktop.model.sampler import DDIMSampler


def _noisy(y: torch.Tensor, sigma_grey: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (y + torch.randn(y.shape, generator=gen) * sigma_grey / 255.0).clamp(0, 1)


def _step(h: int = 64, w: int = 96) -> torch.Tensor:
    """A dark left half and a bright right half, in [0, 1]."""
    y = torch.full((1, 1, h, w), 0.3)
    y[..., w // 2:] = 0.7
    return y


def _grating(amplitude: float, h: int = 64, w: int = 96, period: int = 16) -> torch.Tensor:
    columns = torch.arange(float(w))[None, None, None, :].expand(1, 1, h, w)
    return 0.5 + amplitude * torch.sin(columns * 2 * torch.pi / period)


def test_a_noisy_source_loses_its_noise_but_keeps_a_strong_edge() -> None:
    noisy = _noisy(_step(), 12.0) * 2 - 1
    out = denoise_noisy(noisy, floor=3.0, radius=1)
    assert float(noise_sigma(out)) < 0.5 * float(noise_sigma(noisy))
    rows = ((out + 1) / 2)[0, 0].mean(0)  # column profile: the step stays a step
    assert float(rows[44] - rows[42]) < 0.05 and float(rows[53] - rows[51]) < 0.05
    assert float(rows[51] - rows[44]) > 0.35


def test_clean_sources_pass_unchanged_and_a_bad_radius_is_refused() -> None:
    clean = _step() * 2 - 1
    assert denoise_noisy(clean, floor=3.0, radius=1) is clean
    with pytest.raises(ValueError, match="radius"):
        denoise_noisy(clean, floor=3.0, radius=0)


def test_each_sample_of_a_batch_is_filtered_by_its_own_noise() -> None:
    batch = torch.cat([_noisy(_step(), 12.0), _step()]) * 2 - 1
    out = denoise_noisy(batch, floor=3.0, radius=1)
    torch.testing.assert_close(out[1:], batch[1:])
    torch.testing.assert_close(out[:1], denoise_noisy(batch[:1], floor=3.0, radius=1))


def test_a_sharp_noisy_source_keeps_its_details_against_a_weak_clean_one() -> None:
    """The failure that the pre-filter replaces: with ``noisy_smooth`` a noisy source's real structure lost
    every detail to a clean but weak source (a blurred CT, a dim infrared frame)."""
    sharp_noisy = _noisy(_grating(0.25, period=8), 12.0, seed=3) * 2 - 1
    weak_clean = _grating(0.05, period=8) * 2 - 1  # a fifth of the contrast
    _, smoothed = saliency_weights(sharp_noisy, weak_clean, smooth=1, noisy_smooth=8, noise_floor=3.0)
    assert float(smoothed.mean()) < 0.2
    _, prefiltered = saliency_weights(denoise_noisy(sharp_noisy, 3.0, 1), weak_clean, smooth=1, noise_floor=3.0)
    assert float(prefiltered.mean()) > 0.8


def test_the_network_prefilters_only_when_configured_and_restoring() -> None:
    torch.manual_seed(0)
    config = {**tiny_config(), "restore_noise_floor": 3.0}
    plain = build_model(config).eval()
    filtering = build_model({**config, "noisy_denoise": 1, "noisy_denoise_k": 2.0}).eval()
    filtering.load_state_dict(plain.state_dict())
    noisy, clean = _noisy(_step(), 12.0), _step().flip(-1)
    a, b = noisy * 2 - 1, clean * 2 - 1
    assert plain.prefilter(a, b) == (a, b)
    fa, fb = filtering.prefilter(a, b)
    assert fb is b and not torch.allclose(fa, a)
    sampler = DDIMSampler()
    torch.testing.assert_close(fuse(filtering, sampler, noisy, clean, steps=2, restore=0.0),
                               fuse(plain, sampler, noisy, clean, steps=2, restore=0.0))
    assert not torch.allclose(fuse(filtering, sampler, noisy, clean, steps=2), fuse(plain, sampler, noisy, clean, steps=2))


def test_the_correction_still_restores_a_source_that_measures_clean_after_the_filter() -> None:
    """The filtered sources feed the mix only: the restoration weight sees the raw noise."""
    from textdifuse_desktop.model.noise_level import restoration_weight

    torch.manual_seed(0)
    net = build_model({**tiny_config(), "restore_noise_floor": 3.0, "noisy_denoise": 1, "noisy_denoise_k": 3.0}).eval()
    with torch.no_grad():  # a fresh decoder head is zero: give it a visible correction
        net.decoder.out[2].weight.normal_(0, 0.05)
        net.decoder.out[2].bias.fill_(0.1)
    noisy, clean = _noisy(_step(), 12.0), _step().flip(-1)
    a, b = noisy * 2 - 1, clean * 2 - 1
    assert float(restoration_weight(*net.prefilter(a, b), 3.0)) == 0.0  # filtered, both measure as clean
    without = build_model(net.config).eval()
    without.load_state_dict(net.state_dict())
    with torch.no_grad():
        without.decoder.out[2].weight.zero_()
        without.decoder.out[2].bias.zero_()
    sampler = DDIMSampler()
    restored, unrestored = fuse(net, sampler, noisy, clean, steps=2), fuse(without, sampler, noisy, clean, steps=2)
    assert float((restored - unrestored).abs().mean()) > 0.01  # only the correction differs between the two
