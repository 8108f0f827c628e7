"""The saliency (guided-filter fusion) prior of the two-scale output, the clean-fidelity term and gate resets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from textdifuse_desktop.fusion.classical import fuse_luma
from textdifuse_desktop.model.fusion_heads import base_layer, two_scale_mix
from textdifuse_desktop.model.inference import fuse
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.saliency_prior import prior_fusion, saliency_weights
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.train import TrainConfig, train

PRIOR = {"output": "two_scale", "gate_prior": "saliency", "base_radius": 15, "base_passes": 1}


def _textured_left_and_right(h: int = 64, w: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    """A: fine texture on the left half, flat grey on the right; B the mirror image."""
    gen = torch.Generator().manual_seed(0)
    texture = torch.rand(1, 1, h, w, generator=gen) * 0.6 + 0.2
    left = torch.zeros(1, 1, h, w)
    left[..., : w // 2] = 1.0
    a = left * texture + (1 - left) * 0.5
    b = (1 - left) * texture + left * 0.5
    return a * 2 - 1, b * 2 - 1


def test_the_textured_source_wins_the_weights_where_it_has_texture() -> None:
    a, b = _textured_left_and_right()
    base_share, detail_share = saliency_weights(a, b)
    assert base_share.shape == detail_share.shape == a.shape
    assert 0.0 <= float(detail_share.min()) and float(detail_share.max()) <= 1.0 + 1e-5
    assert float(detail_share[..., 8:-8, 8:40].mean()) > 0.9  # A's textured half, away from the border
    assert float(detail_share[..., 8:-8, 56:-8].mean()) < 0.1
    assert float(base_share[..., :, :24].mean()) > float(base_share[..., :, -24:].mean()) + 0.4


def test_flat_areas_go_to_the_brighter_source_and_equal_ones_share() -> None:
    a = torch.full((1, 1, 40, 40), 0.2)
    b = torch.full((1, 1, 40, 40), -0.6)
    base_share, detail_share = saliency_weights(a, b)
    torch.testing.assert_close(base_share, torch.ones_like(a), atol=1e-4, rtol=0)
    base_share, _ = saliency_weights(a, a.clone())
    torch.testing.assert_close(base_share, torch.full_like(a, 0.5), atol=1e-4, rtol=0)


def test_zero_logits_reproduce_the_classical_guided_fusion() -> None:
    """With the prior, an untrained gate (zero logits, no correction) is the guided-filter fusion rule."""
    gen = np.random.default_rng(3)
    a8 = (gen.random((96, 128)) ** 2 * 255).astype(np.float32)
    b8 = np.clip(np.add.outer(np.arange(96), np.arange(128)) * 1.1, 0, 255).astype(np.float32)
    a, b = (torch.from_numpy(x / 127.5 - 1)[None, None] for x in (a8, b8))
    gates = torch.zeros(1, 4, 96, 128)
    bases = (base_layer(a, 15, 1), base_layer(b, 15, 1))
    out = two_scale_mix(gates, torch.zeros_like(a), a, b, "fcm", None, None, bases, saliency_weights(a, b))
    ours = (out[0, 0].numpy() + 1) * 127.5
    classical = fuse_luma(a8, b8, "guided")
    assert np.abs(ours - classical).mean() < 1.0  # grey levels; the two differ only in filter details


def test_a_network_with_the_prior_fuses_and_validates_its_config() -> None:
    net = build_model({**tiny_config(), **PRIOR}).eval()
    a, b = torch.rand(1, 1, 32, 48), torch.rand(1, 1, 32, 48)
    out = fuse(net, DDIMSampler(), a, b, steps=2)
    assert out.shape == a.shape and torch.isfinite(out).all()
    assert float(net.pixel_gate.head[0].bias[-1].detach()) == 0.0  # restoration gate starts half open
    assert build_model({**tiny_config(), "output": "gated_residual", "gate_prior": "saliency"}).gate_prior is None
    with pytest.raises(ValueError, match="gate_prior"):
        build_model({**tiny_config(), "gate_prior": "edges"})


def test_shipped_design_learns_only_the_restoration_gate() -> None:
    """``learned_mix=False``: the pixel gate's mix and detail logits are ignored, only r acts."""
    torch.manual_seed(0)
    net = build_model({**tiny_config(), **PRIOR, "learned_mix": False}).eval()
    a, b, x_t = (torch.rand(1, 1, 32, 48) * 2 - 1 for _ in range(3))
    t = torch.tensor([300.0])
    with torch.no_grad():
        before = net(x_t, t, a, b, restore=0.0)
        net.pixel_gate.head[0].bias[: 3 * 4].fill_(3.0)  # the mix and detail maps (stem 2 -> 4 channels each)
        torch.testing.assert_close(net(x_t, t, a, b, restore=0.0), before)


def test_restoration_term_is_returned_separately() -> None:
    torch.manual_seed(0)
    net = build_model({**tiny_config(), **PRIOR}).eval()
    with torch.no_grad():
        net.decoder.out[2].weight.normal_(0, 0.1)
    a, b, x_t = (torch.rand(1, 1, 32, 48) * 2 - 1 for _ in range(3))
    t = torch.tensor([500.0])
    with torch.no_grad():
        x0, restoration = net(x_t, t, a, b, return_restoration=True)
        plain = net(x_t, t, a, b, restore=0.0)
    assert float(restoration.abs().mean()) > 0
    torch.testing.assert_close(x0 - restoration, plain)


def _pack(path: Path, n: int = 4, size: int = 40) -> Path:
    from textdifuse_desktop.model.data import PairRecord, save_pack

    gen = np.random.default_rng(0)
    records = [PairRecord("ir_vis", f"p{i}", "ir", "vis", (gen.random((size, size)) * 255).astype(np.uint8),
                          (gen.random((size, size)) * 255).astype(np.uint8)) for i in range(n)]
    return save_pack(records, path)


def test_clean_fidelity_is_logged_and_the_pixel_gate_can_be_reset(tmp_path: Path) -> None:
    pack = _pack(tmp_path / "pack.npz")
    common = dict(train_pack=str(pack), tiny=True, batch_b=4, crop_b=32, rollout_steps=(1,), progress=False,
                  log_every=1, clean_share_b=0.5)
    first = train(TrainConfig(out=str(tmp_path / "first"), iters_a=2, iters_b=2, batch_a=2, crop_a=32,
                              **common), "first")
    cfg = TrainConfig(out=str(tmp_path / "prior"), iters_a=0, iters_b=3, init_from=str(first), model=PRIOR,
                      reset_pixel_gate=True, clean_fidelity=1.0, **common)
    second = train(cfg, "prior")
    lines = [json.loads(x) for x in (tmp_path / "prior" / "losses.jsonl").read_text().splitlines()]
    assert all("fid" in line for line in lines if line["stage"] == "B")
    from textdifuse_desktop.model.weights import load_model

    loaded = load_model(second, "cpu")
    assert loaded.net.gate_prior == "saliency"
    source = load_model(first, "cpu").net
    torch.testing.assert_close(loaded.net.encoder.stem[1].weight, source.encoder.stem[1].weight)


def test_emphasis_pulls_even_a_hard_selection() -> None:
    from textdifuse_desktop.model.fusion_heads import pull_share

    share = torch.tensor([[[[0.0, 0.5, 1.0]]]])
    three = torch.full_like(share, 3.0)
    torch.testing.assert_close(pull_share(share, three, None), torch.tensor([[[[2 / 3, 5 / 6, 1.0]]]]))
    torch.testing.assert_close(pull_share(share, None, three), share / 3)
    assert pull_share(share, None, None) is share
    torch.testing.assert_close(pull_share(share, three, three), share)  # equal emphasis: unchanged


def test_a_smaller_prior_radius_keeps_the_base_weights_closer_to_the_winner() -> None:
    """``prior_radius`` (the guided filter behind the base weights): at 20 the textured half keeps its base
    within 40 px of the boundary, where GFF's 45 already blends it halfway towards the other source."""
    a, b = _textured_left_and_right(64, 160)
    wide, _ = saliency_weights(a, b, 0, 45)
    narrow, _ = saliency_weights(a, b, 0, 20)
    assert float(narrow[..., 40].mean()) > 0.97 > float(wide[..., 40].mean()) + 0.1
    assert float(narrow[..., 120].mean()) < 0.02 < float(wide[..., 120].mean()) - 0.1
    net = build_model({**tiny_config(), **PRIOR, "prior_radius": 20})
    assert net._mix_inputs(a, b)[1][0].equal(narrow)


def test_full_resolution_weights_keep_the_winning_texture_closer() -> None:
    """``full_resolution`` computes the saliency and detail weights on the full grid: inside A's textured half the
    two-scale prior is then closer to A itself than with the fast half-grid weights (measured 0.003 vs 0.005)."""
    a, b = _textured_left_and_right()
    interior = (..., slice(8, -8), slice(8, 40))
    errors = {}
    for full in (False, True):
        fused = prior_fusion(a, b, 15, 1, smooth=0, base_filter_radius=20, full_resolution=full)
        errors[full] = float((fused - a)[interior].abs().mean())
    assert errors[True] < 0.7 * errors[False]
    small_a, small_b = a[..., :24, :24], b[..., :24, :24]  # below 32 px both compute on the full grid
    for half_grid, full_grid in zip(saliency_weights(small_a, small_b), saliency_weights(small_a, small_b, full_resolution=True)):
        assert torch.equal(half_grid, full_grid)


def test_a_clipped_sky_keeps_its_brightness_against_faint_noise_but_not_against_structure() -> None:
    """``saturated_flat``: where A is clipped white, B's faint noise no longer wins the base (the blotches of
    a saturated visible sky), while B's real structure there still does (a pedestrian in glare)."""
    gen = torch.Generator().manual_seed(1)
    h, w = 64, 256
    a = torch.full((1, 1, h, w), 0.4)
    a[..., :128] = 1.0  # clipped on the left half
    a[..., 128:] += 0.2 * torch.sin(torch.arange(128.0) * 2 * torch.pi / 8)  # texture on the right
    faint = 0.3 + torch.randn(1, 1, h, w, generator=gen) * 1.5 / 255
    plain, _ = saliency_weights(a * 2 - 1, faint * 2 - 1, 1, 20)
    aware, _ = saliency_weights(a * 2 - 1, faint * 2 - 1, 1, 20, saturated_flat=4.0)
    assert float(plain[..., :64].mean()) < 0.05  # the faint noise wins the clipped half
    assert float(aware[..., :64].mean()) > 0.95
    structured = faint.clone()
    structured[..., 16:48, 16:48] += 0.3 * (torch.arange(32.0) % 4 < 2).float()  # a bar pattern under the glare
    base, detail = saliency_weights(a * 2 - 1, structured * 2 - 1, 1, 20, saturated_flat=4.0)
    assert float(detail[..., 20:44, 20:44].mean()) < 0.1  # the object's details come from B
    assert float(base[..., 24:40, 24:40].mean()) < 0.6


def test_more_saliency_smoothing_compares_the_sources_over_wider_regions() -> None:
    """``saliency_passes``: each pass widens the window over which the two saliencies are compared, so an isolated
    bright spot in A stops winning the detail around it against B's texture that fills the whole window."""
    b = (torch.rand(1, 1, 96, 96, generator=torch.Generator().manual_seed(2)) - 0.5) * 0.1
    a = torch.zeros(1, 1, 96, 96)
    a[..., 46:50, 46:50] = 0.8
    shares = [float(saliency_weights(a, b, saliency_passes=p, full_resolution=True)[1][..., 36:60, 36:60].mean())
              for p in (1, 2, 4)]
    assert shares[0] > shares[1] > shares[2] - 1e-6 and shares[0] > shares[2] + 0.1


def test_the_network_passes_its_saliency_options_to_the_prior() -> None:
    gen = torch.Generator().manual_seed(4)
    a, b = (torch.rand(1, 1, 64, 96, generator=gen) * 2 - 1 for _ in range(2))
    for passes in (2, 4):
        net = build_model({**tiny_config(), **PRIOR, "saliency_passes": passes, "prior_full_res": 1})
        assert net.saliency_options()["saliency_passes"] == passes
        expected = saliency_weights(a, b, **net.saliency_options())
        torch.testing.assert_close(net.compute_mix_inputs(a, b)[1], expected)
    assert not torch.allclose(saliency_weights(a, b, saliency_passes=2)[1], saliency_weights(a, b, saliency_passes=4)[1])
