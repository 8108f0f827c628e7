"""Network + inference: shapes after padding, rules, kappa behaviour, device selection."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.errors import DeviceError
from textdifuse_desktop.model.device import select_device
from textdifuse_desktop.model.inference import fuse, iter_fuse, pad_to_multiple
from textdifuse_desktop.model.network import (
    RULES,
    build_model,
    count_parameters,
    default_config,
    tiny_config,
)
from textdifuse_desktop.model.sampler import DDIMSampler


@pytest.fixture(scope="module")
def tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model(tiny_config()).eval()
    # Random (non-zero) heads so that every part of the network affects the output.
    with torch.no_grad():
        for p in net.parameters():
            if p.ndim > 1 and not p.abs().sum():
                p.normal_(0, 0.05)
    return net


def _pair(h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 1, h, w, generator=gen), torch.rand(1, 1, h, w, generator=gen)


def test_default_network_is_compact() -> None:
    net = build_model(default_config())
    assert count_parameters(net) < 5_000_000
    assert net.multiple == 16


@pytest.mark.parametrize(("h", "w"), [(37, 50), (8, 8), (23, 9)])
def test_odd_sizes_after_padding(tiny_net: torch.nn.Module, h: int, w: int) -> None:
    a, b = _pair(h, w)
    pa, size = pad_to_multiple(a, tiny_net.multiple)
    pb, _ = pad_to_multiple(b, tiny_net.multiple)
    assert size == (h, w) and pa.shape[-1] % tiny_net.multiple == 0 and pa.shape[-2] % tiny_net.multiple == 0
    out = fuse(tiny_net, DDIMSampler(), pa, pb, steps=2)
    assert out.shape == pa.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_unpadded_input_is_rejected(tiny_net: torch.nn.Module) -> None:
    a, b = _pair(10, 16)
    with pytest.raises(ValueError, match="multiples"):
        fuse(tiny_net, DDIMSampler(), a, b, steps=1)


def test_iter_fuse_yields_every_step_and_is_deterministic(tiny_net: torch.nn.Module) -> None:
    a, b = _pair(16, 24)
    gen = iter_fuse(tiny_net, DDIMSampler(), a, b, steps=3, seed=5)
    infos = []
    while True:
        try:
            infos.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert [i.step for i in infos] == [1, 2, 3] and all(i.total == 3 for i in infos)
    torch.testing.assert_close(result, infos[-1].pred_x0)
    again = fuse(tiny_net, DDIMSampler(), a, b, steps=3, seed=5)
    torch.testing.assert_close(result, again)
    other = fuse(tiny_net, DDIMSampler(), a, b, steps=3, seed=6)
    assert not torch.equal(result, other)


@pytest.mark.parametrize("rule", RULES)
def test_ablation_rules_run(tiny_net: torch.nn.Module, rule: str) -> None:
    a, b = _pair(16, 16)
    out = fuse(tiny_net, DDIMSampler(), a, b, steps=1, rule=rule)
    assert out.shape == a.shape and torch.isfinite(out).all()


def test_rules_differ_and_unknown_rule_fails(tiny_net: torch.nn.Module) -> None:
    a, b = _pair(16, 16)
    outs = {r: fuse(tiny_net, DDIMSampler(), a, b, steps=1, rule=r) for r in ("max", "mean", "add")}
    assert not torch.allclose(outs["max"], outs["mean"]) and not torch.allclose(outs["add"], outs["mean"])
    with pytest.raises(ValueError, match="unknown fusion rule"):
        fuse(tiny_net, DDIMSampler(), a, b, steps=1, rule="median")


def test_single_source_mode(tiny_net: torch.nn.Module) -> None:
    a, _ = _pair(16, 16)
    out = fuse(tiny_net, DDIMSampler(), a, None, steps=2)
    assert out.shape == a.shape


def test_kappa_one_equals_no_map(tiny_net: torch.nn.Module) -> None:
    a, b = _pair(32, 32)
    ones = torch.ones_like(a)
    plain = fuse(tiny_net, DDIMSampler(), a, b, steps=2)
    with_ones = fuse(tiny_net, DDIMSampler(), a, b, steps=2, kappa_a=ones, kappa_b=ones)
    torch.testing.assert_close(plain, with_ones)


def test_kappa_acts_mainly_inside_its_region(tiny_net: torch.nn.Module) -> None:
    a, b = _pair(64, 64, seed=2)
    kappa = torch.ones_like(a)
    kappa[..., 8:24, 8:24] = 2.5
    plain = fuse(tiny_net, DDIMSampler(), a, b, steps=1, rule="mean")
    mod = fuse(tiny_net, DDIMSampler(), a, b, steps=1, rule="mean", kappa_b=kappa)
    diff = (mod - plain).abs()[0, 0]
    inside = diff[8:24, 8:24].mean()
    outside = diff[40:, 40:].mean()
    assert float(inside) > 1e-4
    assert float(inside) > 5 * float(outside)


def test_select_device() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError):
            select_device("cuda:0")
    with pytest.raises(DeviceError):
        select_device("tpu")


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels-last"])
def test_nearest_up_conv_equals_upsampling_then_convolving(channels_last: bool) -> None:
    """The decoder's and restorer's upsampling convolution, computed at the input's resolution, gives what the
    convolution of the nearest-upsampled input gives (borders included), and the same weight gradients."""
    from textdifuse_desktop.model.layers import NearestUpConv, nearest_up_conv

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 5, 3, padding=1)
    x = torch.randn(2, 6, 7, 9)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    reference = conv(torch.nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
    grads = torch.autograd.grad(reference.square().sum(), conv.parameters())
    folded = nearest_up_conv(x, conv)
    folded_grads = torch.autograd.grad(folded.square().sum(), conv.parameters())
    assert folded.shape == reference.shape == (2, 5, 14, 18)
    assert folded.is_contiguous(memory_format=torch.channels_last) == channels_last
    torch.testing.assert_close(folded, reference, atol=1e-5, rtol=1e-5)
    for g, ref in zip(folded_grads, grads):
        torch.testing.assert_close(g, ref, atol=1e-4, rtol=1e-4)
    module = NearestUpConv(6, 5)
    assert [name for name, _ in module.named_parameters()] == ["1.weight", "1.bias"]  # saved weights' names
    torch.testing.assert_close(module(x), module[1](module[0](x)), atol=1e-5, rtol=1e-5)
