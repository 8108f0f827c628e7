"""The network decides the fusion: every input (clean ones included) runs through it at every step, its pixel gate
sets the mix, and region kappa maps act through its gates."""

from __future__ import annotations

import torch

from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler


def _clean_pair(size: tuple[int, int] = (48, 64)) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth, noise-free sources (a ramp and a disc): what a noise threshold would have called clean."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size[0]), torch.linspace(0, 1, size[1]), indexing="ij")
    a = (0.2 + 0.6 * xx)[None, None]
    b = (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.08).float()[None, None] * 0.7 + 0.1
    return a, b


def _randomised(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build_model(tiny_config()).eval()
    with torch.no_grad():  # a fresh gate head is zero (the mean rule): make it decide something
        net.pixel_gate.head[0].weight.normal_(0, 0.3)
    return net


def test_clean_sources_run_through_the_pixel_gate_at_every_step() -> None:
    net = _randomised()
    calls = []
    net.pixel_gate.register_forward_hook(lambda *args: calls.append(1))
    a, b = _clean_pair()
    for steps in (1, 3):
        calls.clear()
        fuse(net, DDIMSampler(), a, b, steps=steps)
        assert len(calls) == steps


def test_the_learned_gate_decides_the_clean_fusion() -> None:
    """Two networks that differ only in the pixel gate's weights fuse the same clean pair differently."""
    a, b = _clean_pair()
    first, second = _randomised(0), _randomised(0)
    with torch.no_grad():
        second.pixel_gate.head[0].weight.neg_()
    out_first = fuse(first, DDIMSampler(), a, b, steps=1)
    out_second = fuse(second, DDIMSampler(), a, b, steps=1)
    assert float((out_first - out_second).abs().mean()) > 0.01  # 0 if the gate decided nothing


def test_kappa_moves_the_learned_mix_towards_the_emphasised_source_inside_the_region() -> None:
    net = _randomised(1)
    a, b = _clean_pair()
    x_t, t = torch.zeros_like(a), torch.full((1,), 999.0)
    kappa_b = torch.ones_like(a)
    kappa_b[..., 10:30, 20:44] = 2.0
    with torch.no_grad():  # restore 0: the two-scale mix of the pixel gate alone (the decoder spreads further;
        # the engine confines its change to the feathered region, tests/fusion/test_regions_apply.py)
        plain = net(x_t, t, a * 2 - 1, b * 2 - 1, restore=0.0)
        emphasised = net(x_t, t, a * 2 - 1, b * 2 - 1, kappa_b=kappa_b, restore=0.0)
    change = (emphasised - plain).abs()[0, 0]
    inside = change[12:28, 22:42].mean()
    outside = torch.cat([change[:, :8].flatten(), change[:, -8:].flatten()]).mean()
    assert inside > 0.02 and inside > 10 * outside
    # Towards B: inside the region the result moved closer to source B.
    dist_plain = ((plain + 1) / 2 - b).abs()[0, 0, 12:28, 22:42].mean()
    dist_emph = ((emphasised + 1) / 2 - b).abs()[0, 0, 12:28, 22:42].mean()
    assert dist_emph < dist_plain


def test_kappa_reaches_every_fcm_level() -> None:
    """The per-level FCM gates are multiplied by kappa: the fused features change inside the region."""
    net = _randomised(2)
    a, b = _clean_pair()
    t = torch.full((1,), 500.0)
    with torch.no_grad():
        for head in net.fcm:
            head.head.weight.normal_(0, 0.3)
        feats = net.encode(torch.cat([a, a]), torch.cat([a, b]) * 2 - 1, torch.cat([t, t]))
        f_a, f_b = zip(*(f.chunk(2) for f in feats))
        kappa_a = torch.ones_like(a)
        kappa_a[..., :24, :32] = 3.0
        plain = net.fuse_features(list(f_a), list(f_b), t)
        emphasised = net.fuse_features(list(f_a), list(f_b), t, kappa_a=kappa_a)
    for level_plain, level_emph in zip(plain, emphasised):
        diff = (level_emph - level_plain).abs().mean(dim=1)[0]
        h, w = diff.shape
        assert diff[: max(h // 2 - 1, 1), : max(w // 2 - 1, 1)].mean() > diff[h // 2 + 1:, w // 2 + 1:].mean()


def test_the_gate_context_starts_neutral_and_then_reaches_the_gates() -> None:
    """``gate_context``: the deepest features join the pixel gate, zero-initialised (weights trained without it
    fuse the same), and once trained they change the gates, so the gate sees more than its local window."""
    a, b = _clean_pair()
    plain = _randomised(2)
    with_context = build_model({**tiny_config(), "gate_context": 1}).eval()
    missing = with_context.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["pixel_gate.context.bias", "pixel_gate.context.weight"]
    x_t, t = torch.zeros_like(a), torch.full((1,), 999.0)
    with torch.no_grad():
        same = (with_context(x_t, t, a * 2 - 1, b * 2 - 1) - plain(x_t, t, a * 2 - 1, b * 2 - 1)).abs().max()
        with_context.pixel_gate.context.weight.normal_(0, 0.5)
        moved = (with_context(x_t, t, a * 2 - 1, b * 2 - 1) - plain(x_t, t, a * 2 - 1, b * 2 - 1)).abs().mean()
    assert float(same) == 0.0
    assert float(moved) > 1e-3
