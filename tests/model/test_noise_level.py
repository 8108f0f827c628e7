"""Noise-adaptive restoration: the noise estimate, the restoration weight and its effect on fusion."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.noise_level import noise_sigma, restoration_weight
from textdifuse_desktop.model.sampler import DDIMSampler


def _smooth(h: int = 64, w: int = 96) -> torch.Tensor:
    """A smooth scene in [0, 1]: a ramp plus a soft blob (no noise)."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return (0.2 + 0.4 * xx + 0.3 * torch.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.05))[None, None]


def _noisy(y: torch.Tensor, sigma_grey: float, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return y + torch.randn(y.shape, generator=gen) * sigma_grey / 255.0


@pytest.mark.parametrize("sigma", [5.0, 10.0, 20.0])
def test_the_estimate_measures_added_gaussian_noise(sigma: float) -> None:
    clean = _smooth()
    assert float(noise_sigma(clean * 2 - 1)[0]) < 0.3
    measured = float(noise_sigma(_noisy(clean, sigma) * 2 - 1)[0])
    assert measured == pytest.approx(sigma, rel=0.1)


def test_the_weight_is_zero_for_clean_sources_and_one_when_either_is_noisy() -> None:
    clean = _smooth() * 2 - 1
    noisy = _noisy(_smooth(), 12.0) * 2 - 1
    batch_a, batch_b = torch.cat([clean, clean, noisy]), torch.cat([clean, noisy, clean])
    weight = restoration_weight(batch_a, batch_b, floor=3.0)
    assert weight.shape == (3, 1, 1, 1)
    assert weight.flatten().tolist() == [0.0, 1.0, 1.0]
    halfway = _noisy(_smooth(), 4.5) * 2 - 1  # between the floor (3) and twice the floor
    assert 0.2 < float(restoration_weight(halfway, clean, floor=3.0)) < 0.8


def _model_with_a_correction(floor: float):
    torch.manual_seed(0)
    net = build_model({**tiny_config(), "restore_noise_floor": floor}).eval()
    with torch.no_grad():  # a fresh decoder head is zero: give it a visible correction
        net.decoder.out[2].weight.normal_(0, 0.05)
        net.decoder.out[2].bias.fill_(0.1)
    return net


def test_clean_sources_are_fused_without_the_correction_and_noisy_ones_with_it() -> None:
    net, sampler = _model_with_a_correction(3.0), DDIMSampler()
    plain = build_model({**tiny_config(), "restore_noise_floor": 0.0}).eval()
    plain.load_state_dict(net.state_dict())
    clean_a, clean_b = _smooth(), _smooth().flip(-1)
    adaptive = fuse(net, sampler, clean_a, clean_b, steps=2)
    torch.testing.assert_close(adaptive, fuse(plain, sampler, clean_a, clean_b, steps=2, restore=0.0))
    assert not torch.allclose(adaptive, fuse(plain, sampler, clean_a, clean_b, steps=2))  # the correction is real
    noisy_a = _noisy(clean_a, 15.0).clamp(0, 1)
    torch.testing.assert_close(fuse(net, sampler, noisy_a, clean_b, steps=2),
                               fuse(plain, sampler, noisy_a, clean_b, steps=2))
