"""Sampler: schedule values, timestep spacing, oracle recovery, pinned few-step results."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.model.sampler import DDIMSampler, cosine_alphas_cumprod


def test_cosine_schedule_matches_reference_values() -> None:
    # Reference values from the official 25-step respacing (method.md appendix A).
    abar = cosine_alphas_cumprod(1000)
    assert abar[999] == pytest.approx(2.4e-9, rel=0.05)
    assert abar[749] == pytest.approx(0.144, abs=1e-3)
    assert abar[500] == pytest.approx(0.492, abs=1e-3)
    assert abar[42] == pytest.approx(0.994, abs=1e-3)
    assert (abar[1:] < abar[:-1]).all()


@pytest.mark.parametrize(("n", "expected"), [(1, [999]), (2, [999, 499]), (4, [999, 749, 499, 249])])
def test_trailing_timesteps(n: int, expected: list[int]) -> None:
    sampler = DDIMSampler()
    sampler.set_timesteps(n)
    assert sampler.timesteps.tolist() == expected
    assert sampler.config["timesteps"] == expected


def test_step_count_is_validated() -> None:
    sampler = DDIMSampler()
    for bad in (0, 26):
        with pytest.raises(ValueError):
            sampler.set_timesteps(bad)
    with pytest.raises(ValueError):
        DDIMSampler(prediction_type="eps")


@pytest.mark.parametrize("prediction_type", ["x0", "v"])
@pytest.mark.parametrize("steps", [1, 3, 8])
def test_oracle_network_recovers_x0(prediction_type: str, steps: int) -> None:
    gen = torch.Generator().manual_seed(3)
    x0 = torch.rand(2, 1, 8, 8, generator=gen) * 1.6 - 0.8
    sampler = DDIMSampler(prediction_type=prediction_type)
    sampler.set_timesteps(steps)
    x = torch.randn(x0.shape, generator=gen)
    for t in sampler.timesteps:
        a = sampler.alphas_cumprod[int(t)]
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        out = x0 if prediction_type == "x0" else a.sqrt() * eps - (1 - a).sqrt() * x0
        x = sampler.step(out, t, x).prev_sample
    torch.testing.assert_close(x, x0, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("prediction_type", "pinned_sum", "pinned_mean_abs"),
                         [("x0", 11.830931, 0.378680), ("v", -4.641948, 0.245416)])
def test_dummy_network_pinned(prediction_type: str, pinned_sum: float, pinned_mean_abs: float) -> None:
    sampler = DDIMSampler(prediction_type=prediction_type)
    sampler.set_timesteps(4)
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for t in sampler.timesteps:
        x = sampler.step(0.5 * x + 0.1, t, x).prev_sample
    assert float(x.sum()) == pytest.approx(pinned_sum, abs=1e-3)
    assert float(x.abs().mean()) == pytest.approx(pinned_mean_abs, abs=1e-4)


def test_q_sample_and_target_are_consistent() -> None:
    sampler = DDIMSampler(prediction_type="v")
    gen = torch.Generator().manual_seed(1)
    x0, noise = torch.rand(3, 1, 4, 4, generator=gen), torch.randn(3, 1, 4, 4, generator=gen)
    t = torch.tensor([0, 500, 999])
    x_t = sampler.q_sample(x0, t, noise)
    v = sampler.training_target(x0, t, noise)
    torch.testing.assert_close(sampler.predict_x0(v, t, x_t), x0, atol=1e-5, rtol=0)


def test_config_round_trip() -> None:
    sampler = DDIMSampler(prediction_type="v")
    sampler.set_timesteps(2)
    again = DDIMSampler.from_config(sampler.config)
    assert again.config == sampler.config
