"""Clean sources with the prior's fixed mix: the sampler skips the network and gets the identical result."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import (
    FusionDiffusionNet,
    build_model,
    tiny_config,
)
from textdifuse_desktop.model.sampler import DDIMSampler

SHIPPED_DESIGN = {"output": "two_scale", "gate_prior": "saliency", "base_radius": 15, "base_passes": 1,
                  "learned_mix": False, "noisy_denoise": 1, "restore_noise_floor": 3.0, "prior_full_res": 1}


def _net(**overrides: object) -> FusionDiffusionNet:
    torch.manual_seed(0)
    net = build_model({**tiny_config(), **SHIPPED_DESIGN, **overrides}).eval()
    for p in net.parameters():  # a random network whose correction would show if it reached the result
        p.data.add_(torch.randn_like(p) * 0.05)
    return net


def _pair(noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 96), indexing="ij")
    a = (0.5 + 0.3 * torch.sin(12 * xx) * torch.cos(9 * yy))[None, None]
    b = ((xx > 0.5).float() * 0.6 + 0.2)[None, None]
    return a, (b + noise * torch.randn(b.shape, generator=gen)).clamp(0, 1)


class _CountCalls:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = FusionDiffusionNet.forward

        def counting(net, *args, **kwargs):
            self.calls += 1
            return original(net, *args, **kwargs)

        monkeypatch.setattr(FusionDiffusionNet, "forward", counting)


def test_clean_sources_skip_the_network_with_an_identical_result(monkeypatch: pytest.MonkeyPatch) -> None:
    net, (a, b) = _net(), _pair(0.0)
    kappa = torch.ones_like(a)
    kappa[..., :, :40] = 2.0
    counter = _CountCalls(monkeypatch)
    fast = [fuse(net, DDIMSampler(), a, b, steps=3, seed=s, kappa_a=k) for s, k in ((1, None), (2, None), (1, kappa))]
    assert counter.calls == 0
    assert torch.equal(fast[0], fast[1])  # no dependence on the start noise
    assert float((fast[2] - fast[0]).abs().max()) > 0.01  # the emphasis still acts
    monkeypatch.setattr(FusionDiffusionNet, "fixed_mix", lambda *args, **kwargs: None)
    full = [fuse(net, DDIMSampler(), a, b, steps=3, seed=1, kappa_a=k) for k in (None, kappa)]
    assert counter.calls == 6
    torch.testing.assert_close(full[0], fast[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(full[1], fast[2], atol=1e-6, rtol=0)


def test_noisy_sources_and_learned_mixes_still_call_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _CountCalls(monkeypatch)
    noisy = _pair(0.08)
    fuse(_net(), DDIMSampler(), *noisy, steps=2)
    assert counter.calls == 2
    fuse(_net(learned_mix=True), DDIMSampler(), *_pair(0.0), steps=2)
    assert counter.calls == 4
    fuse(_net(), DDIMSampler(), *noisy, steps=2, restore=0.0)  # the user's restoration 0: the correction is off
    assert counter.calls == 4
