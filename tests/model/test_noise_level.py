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


def test_a_noisy_source_loses_detail_weight_when_its_saliency_is_smoothed() -> None:
    """``noisy_smooth``: noise no longer reads as detail, so the clean textured source keeps its details."""
    from textdifuse_desktop.model.saliency_prior import saliency_weights

    columns = torch.arange(96.0)[None, None, None, :].expand(1, 1, 64, 96)
    grating = (0.5 + 0.1 * torch.sin(columns * 2 * torch.pi / 16)) * 2 - 1  # clean structure, period 16 px
    noisy_flat = _noisy(torch.full((1, 1, 64, 96), 0.5), 12.0, seed=2).clamp(0, 1) * 2 - 1
    _, plain = saliency_weights(grating, noisy_flat, smooth=1, noisy_smooth=0, noise_floor=3.0)
    _, adapted = saliency_weights(grating, noisy_flat, smooth=1, noisy_smooth=8, noise_floor=3.0)
    assert float(plain.mean()) < 0.1  # without it the noise wins every pixel's detail
    assert float(adapted.mean()) > 0.9
    clean_other = _smooth() * 2 - 1  # both clean: the option changes nothing
    both = [saliency_weights(grating, clean_other, smooth=1, noisy_smooth=n, noise_floor=3.0) for n in (0, 8)]
    torch.testing.assert_close(both[0], both[1])


def test_restore_scale_is_the_shipped_calibration_of_the_strength() -> None:
    net, sampler = _model_with_a_correction(0.0), DDIMSampler()
    scaled = build_model({**tiny_config(), "restore_scale": 0.5}).eval()
    scaled.load_state_dict(net.state_dict())
    a, b = _noisy(_smooth(), 15.0).clamp(0, 1), _smooth().flip(-1)
    torch.testing.assert_close(fuse(scaled, sampler, a, b, steps=2), fuse(net, sampler, a, b, steps=2, restore=0.5))


def _structured(h: int = 128, w: int = 160) -> torch.Tensor:
    """A clean scene with structure the Immerkær mask responds to: a sharp disc boundary and sparse
    one-pixel dots (1 %), the way vessels, sulci and a skull rim make clean MRI measure as noisy."""
    yy, xx = torch.meshgrid(torch.arange(float(h)), torch.arange(float(w)), indexing="ij")
    disc = (((xx - w / 2) ** 2 + (yy - h / 2) ** 2).sqrt() < h / 3).float()
    dots = (torch.rand(h, w, generator=torch.Generator().manual_seed(4)) < 0.01).float()
    return (_smooth(h, w) + 0.4 * disc + 0.6 * dots).clamp(0, 1)


def test_leaving_out_the_strongest_gradients_ignores_structure_but_still_measures_noise() -> None:
    clean = _structured() * 2 - 1
    plain, excluded = float(noise_sigma(clean)[0]), float(noise_sigma(clean, 0.1)[0])
    assert plain > 3.0  # above the shipped floor: structure alone would read as a noisy source
    assert excluded < 0.5 * plain and excluded < 1.5
    noisy = _noisy(_structured(), 6.0, seed=1) * 2 - 1
    plain_error, excluded_error = (abs(float(noise_sigma(noisy, f)[0]) - 6.0) for f in (0.0, 0.1))
    assert excluded_error < 0.4 * plain_error and excluded_error < 1.0
    pure = _noisy(_smooth(128, 160), 10.0) * 2 - 1  # noise only: leaving edges out must not bias the estimate
    assert float(noise_sigma(pure, 0.1)[0]) == pytest.approx(10.0, rel=0.05)


def test_the_edge_fraction_is_applied_per_sample_and_reaches_the_restoration_weight() -> None:
    clean, structured = _smooth(128, 160) * 2 - 1, _structured() * 2 - 1
    noisy = _noisy(_smooth(128, 160), 12.0) * 2 - 1
    batch = torch.cat([structured, noisy])
    torch.testing.assert_close(noise_sigma(batch, 0.1), torch.cat([noise_sigma(structured, 0.1), noise_sigma(noisy, 0.1)]))
    weights = restoration_weight(batch, torch.cat([clean, clean]), floor=3.0, edge_fraction=0.1)
    assert weights.flatten().tolist() == [0.0, 1.0]
    assert float(restoration_weight(structured, clean, floor=3.0)[0]) > 0.0  # plain Immerkær restores it
