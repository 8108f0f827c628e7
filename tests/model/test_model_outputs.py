"""The network's output designs (direct, gated residual, two-scale) and their fusion rules."""

from __future__ import annotations

import pytest
import torch

from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.losses import fusion_loss
from textdifuse_desktop.model.network import (
    OUTPUTS,
    RULES,
    base_layer,
    build_model,
    edge_preserving_base,
    tiny_config,
)
from textdifuse_desktop.model.sampler import DDIMSampler


def _pair(h: int = 32, w: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 1, h, w, generator=gen), torch.rand(1, 1, h, w, generator=gen)


def _randomised(output: str) -> torch.nn.Module:
    torch.manual_seed(0)
    net = build_model({**tiny_config(), "output": output}).eval()
    with torch.no_grad():
        for p in net.parameters():
            if p.ndim > 1 and not p.abs().sum():
                p.normal_(0, 0.05)
    return net


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("rule", RULES)
def test_every_output_and_rule_runs(output: str, rule: str) -> None:
    a, b = _pair()
    out = fuse(_randomised(output), DDIMSampler(), a, b, steps=2, rule=rule)
    assert out.shape == a.shape and torch.isfinite(out).all()


def test_unknown_output_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown output"):
        build_model({**tiny_config(), "output": "pyramid"})
    with pytest.raises(ValueError, match="needs prediction_type"):
        build_model({**tiny_config(), "output": "two_scale", "prediction_type": "v"})


def test_base_layer_keeps_constants_and_splits_exactly() -> None:
    flat = torch.full((1, 1, 20, 30), 0.3)
    torch.testing.assert_close(base_layer(flat), flat)
    a, _ = _pair()
    base = base_layer(a)
    assert base.shape == a.shape
    assert float((a - base).abs().mean()) > 0.05  # random pixels are almost all detail
    assert float(base.std()) < float(a.std()) / 3


def test_edge_preserving_base_keeps_a_step_so_the_details_hold_no_lobe_beside_it() -> None:
    """A bright object's edge stays in the base: the detail layer beside it is texture, not the wide negative
    lobe of a box base that darkens a ring around the object when a fusion keeps the object's details."""
    x = torch.full((1, 1, 64, 64), -0.7)
    x[..., 20:44, 24:40] = 0.8  # a hot figure on a flat background ([-1, 1] units)
    box_lobe = float((x - base_layer(x, 15, 1))[..., 32, 18:24].abs().max())
    kept_lobe = float((x - edge_preserving_base(x, 15, 0.02))[..., 32, 18:24].abs().max())
    assert box_lobe > 0.4 and kept_lobe < 0.03, (box_lobe, kept_lobe)
    texture = 0.05 * torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    detail = texture - edge_preserving_base(texture, 15, 0.02)
    assert float(detail.std()) > 0.8 * float(texture.std())  # faint texture still goes to the details


def test_edge_preserving_base_leaks_little_into_a_black_background() -> None:
    x = torch.full((1, 1, 48, 48), -1.0)
    x[..., 10:30, 12:36] = torch.linspace(-0.2, 0.9, 24)
    far = (slice(None), slice(None), slice(36, 48), slice(None))  # 6-18 px below the content
    leak = float((edge_preserving_base(x, 15, 0.02) - x)[far].abs().max())
    box_leak = float((base_layer(x, 15, 1) - x)[far].abs().max())
    assert leak < 0.03 and box_leak > 10 * leak, (leak, box_leak)
    flat = torch.full((1, 1, 40, 40), -1.0)
    assert torch.equal(edge_preserving_base(flat, 15, 0.02), flat)


def test_network_splits_with_the_edge_preserving_base_when_configured() -> None:
    a, b = _pair()
    net = build_model(tiny_config())
    assert net.base_eps > 0
    base_a, _ = net.compute_bases(a, b)
    torch.testing.assert_close(base_a, edge_preserving_base(a, net.base_shape[0], net.base_eps))
    box = build_model({**tiny_config(), "base_eps": 0.0})
    torch.testing.assert_close(box.compute_bases(a, b)[0], base_layer(a, *box.base_shape))


@pytest.mark.parametrize("radius", [2, 7, 15])
def test_cpu_running_sum_base_layer_matches_a_pooled_box_filter(radius: int) -> None:
    """The CPU path of ``base_layer`` (running sums) must equal reflect-padded average pooling."""
    import torch.nn.functional as F

    a, _ = _pair(h=40, w=52, seed=5)
    a = a * 2000.0  # large values: partial sums must not lose float32 precision
    size, expected = 2 * radius + 1, a
    for _ in range(2):
        expected = F.avg_pool2d(F.pad(expected, (radius, radius, 0, 0), mode="reflect"), (1, size), stride=1)
        expected = F.avg_pool2d(F.pad(expected, (0, 0, radius, radius), mode="reflect"), (size, 1), stride=1)
    torch.testing.assert_close(base_layer(a, radius, 2), expected, atol=1e-3, rtol=1e-6)


def test_fresh_two_scale_network_adds_both_details_on_the_mean_base() -> None:
    """Zero-initialised heads: m = 0.5, gains 1 and a zero decoded residual."""
    net = build_model({**tiny_config(), "output": "two_scale"}).eval()
    a, b = _pair(seed=3)
    x_t, t = torch.randn_like(a), torch.tensor([500.0])
    with torch.no_grad():
        x0 = net(x_t, t, a * 2 - 1, b * 2 - 1)
    ca, cb = a * 2 - 1, b * 2 - 1
    base_a, base_b = net.compute_bases(ca, cb)
    expected = 0.5 * (base_a + base_b) + (ca - base_a) + (cb - base_b)
    torch.testing.assert_close(x0, expected, atol=1e-5, rtol=1e-5)


def test_two_scale_max_rule_picks_the_stronger_detail() -> None:
    net = build_model({**tiny_config(), "output": "two_scale"}).eval()
    h, w = 32, 32
    stripes = torch.zeros(1, 1, h, w)
    stripes[..., :, ::2] = 0.1  # faint: texture that any base (box or edge-preserving) leaves in the details
    flat = torch.full((1, 1, h, w), 0.6)
    with torch.no_grad():
        x0 = net(torch.zeros_like(flat), torch.tensor([250.0]), stripes, flat, rule="max")
    # The brighter base (the flat source) wins and the striped source's detail survives at full strength.
    expected = flat + stripes - net.compute_bases(stripes, flat)[0]
    torch.testing.assert_close(x0, expected, atol=1e-5, rtol=0)


def test_two_scale_kappa_acts_mainly_inside_its_region() -> None:
    net = _randomised("two_scale")
    a, b = _pair(64, 64, seed=2)
    kappa = torch.ones_like(a)
    kappa[..., 8:24, 8:24] = 2.5
    plain = fuse(net, DDIMSampler(), a, b, steps=1)
    mod = fuse(net, DDIMSampler(), a, b, steps=1, kappa_b=kappa)
    diff = (mod - plain).abs()[0, 0]
    assert float(diff[8:24, 8:24].mean()) > 5 * float(diff[40:, 40:].mean()) and float(diff[8:24, 8:24].mean()) > 1e-3


def test_intensity_weight_zero_leaves_the_gradient_loss() -> None:
    a, b = _pair(16, 16, seed=4)
    x0 = (a + b) / 2
    full, parts = fusion_loss(x0, a, b, grad_weight=2.0)
    grad_only, _ = fusion_loss(x0, a, b, grad_weight=2.0, int_weight=0.0)
    assert float(full) == pytest.approx(parts["int"] + 2 * parts["grad"], rel=1e-5)
    assert float(grad_only) == pytest.approx(2 * parts["grad"], rel=1e-5)


@pytest.mark.parametrize("output", ["gated_residual", "two_scale"])
def test_restore_zero_drops_the_decoded_correction(output: str) -> None:
    net = _randomised(output)
    a, b = _pair(seed=5)
    x_t, t = torch.randn_like(a), torch.tensor([500.0])
    with torch.no_grad():
        full = net(x_t, t, a, b)
        none = net(x_t, t, a, b, restore=0.0)
        single = net(x_t, t, a, None, restore=0.0)
    assert not torch.allclose(full, none)
    torch.testing.assert_close(single, a)  # single-source restoration switched off returns the input
    # Without the correction the result no longer depends on the noisy state's decoding of details:
    # zeroing the decoder's output layer changes nothing.
    with torch.no_grad():
        net.decoder.out[2].weight.zero_()
        net.decoder.out[2].bias.zero_()
        torch.testing.assert_close(net(x_t, t, a, b, restore=0.0), none)


def test_base_layers_are_reused_within_a_fusion_but_never_across_fusions() -> None:
    net = _randomised("two_scale")
    fresh = _randomised("two_scale")
    first, second = _pair(seed=6), _pair(seed=7)
    fuse(net, DDIMSampler(), *first, steps=3)
    again = fuse(net, DDIMSampler(), *second, steps=3)
    torch.testing.assert_close(again, fuse(fresh, DDIMSampler(), *second, steps=3))
    a, b = second
    cond_a, cond_b = a * 2 - 1, b * 2 - 1
    with torch.no_grad():
        bases = net._bases(cond_a, cond_b)
        assert net._bases(cond_a, cond_b)[0] is bases[0]  # same tensors: cached
        assert net._bases(cond_a.clone(), cond_b)[0] is not bases[0]
