"""CUDA-graph replay of the fusion denoiser: identical to eager calls, refreshed between fusions, off on the CPU."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.model.cuda_graphs import graphed_denoiser, graphs_enabled
from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler

SHIPPED_DESIGN = {"output": "two_scale", "gate_sources": 1, "base_radius": 15, "base_passes": 1}


def _pair(seed: int, device: str, size: tuple[int, int] = (64, 96)) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand((1, 1, *size), generator=gen)
    b = (a.flip(-1) * 0.7 + 0.1 * torch.randn((1, 1, *size), generator=gen)).clamp(0, 1)  # noisy: restoration on
    return a.to(device), b.to(device)


def test_graphs_are_off_on_the_cpu_and_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    net = build_model({**tiny_config(), **SHIPPED_DESIGN}).eval()
    a, b = _pair(0, "cpu")
    assert not graphs_enabled(torch.device("cpu"))
    with torch.inference_mode():
        assert graphed_denoiser(net, a, torch.ones(1), a, b, 1.0) is None
    monkeypatch.setenv("TEXTDIFUSE_CUDA_GRAPHS", "0")
    assert not graphs_enabled(torch.device("cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_graphed_fusions_equal_eager_ones_and_do_not_reuse_the_last_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    net = build_model({**tiny_config(), **SHIPPED_DESIGN}).eval().cuda()
    for p in net.parameters():  # a random network that does something, so stale inputs would show
        p.data.add_(torch.randn_like(p) * 0.02)
    sampler = DDIMSampler()
    pairs = [_pair(seed, "cuda") for seed in (1, 2, 3)] + [_pair(4, "cuda", (96, 64))]
    monkeypatch.setenv("TEXTDIFUSE_CUDA_GRAPHS", "0")
    eager = [fuse(net, sampler, a, b, steps=3, seed=7) for a, b in pairs]
    monkeypatch.setenv("TEXTDIFUSE_CUDA_GRAPHS", "1")
    graphed = [fuse(net, sampler, a, b, steps=3, seed=7) for a, b in pairs]
    assert len(net.__dict__["_cuda_graphs"]) == 2  # one per shape, reused for the same shape
    for expected, got in zip(eager, graphed):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert float((graphed[0] - graphed[1]).abs().max()) > 0.05  # different pairs, different results
