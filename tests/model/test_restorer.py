"""The learned source restorer: identity when fresh, local, learns to denoise, runs before the sampler, trains alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from textdifuse_desktop.model.inference import fuse, restore_sources
from textdifuse_desktop.model.losses import restorer_loss
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.restorer import Restorer
from textdifuse_desktop.model.sampler import DDIMSampler


def _scene(seed: int, n: int = 4, size: int = 64) -> torch.Tensor:
    """Smooth blobs and edges in [0, 1], ``[n, 1, size, size]``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    planes = []
    for _ in range(n):
        p = 0.2 + 0.3 * (xx > rng.uniform(0.2, 0.8))
        for _ in range(3):
            cx, cy, r = rng.uniform(0, 1, 3)
            p = p + 0.4 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (0.01 + 0.05 * r))
        planes.append(np.clip(p, 0, 1))
    return torch.from_numpy(np.stack(planes)[:, None].astype(np.float32))


def _non_identity(restorer: Restorer, seed: int = 0) -> Restorer:
    torch.manual_seed(seed)
    with torch.no_grad():
        restorer.out[1].weight.normal_(0, 0.05)
    return restorer.eval()


def _tiny_net_with_restorer():
    torch.manual_seed(0)
    net = build_model({**tiny_config(), "tone_head": 0, "restorer": 1}).eval()
    _non_identity(net.restorer)
    return net


def test_a_fresh_restorer_is_the_identity_and_strength_scales_its_correction() -> None:
    y = _scene(0)
    fresh = Restorer(widths=(8, 16, 16), blocks=(1, 1, 1))
    torch.testing.assert_close(fresh(y), y)
    trained = _non_identity(Restorer(widths=(8, 16, 16), blocks=(1, 1, 1)))
    with torch.no_grad():
        full, half = trained(y), trained(y, 0.5)
    assert (full - y).abs().max() > 1e-3
    torch.testing.assert_close(half, 0.5 * (y + full))
    with pytest.raises(ValueError, match="multiples of 8"):
        trained(torch.zeros(1, 1, 60, 64))


def test_the_restorer_is_local_so_tiles_and_slices_can_go_through_it_alone() -> None:
    """No normalisation or pooling over the image: changing a far region leaves a pixel's result unchanged."""
    restorer = _non_identity(Restorer(widths=(8, 16, 16), blocks=(1, 1, 1)))
    y = _scene(1, n=1, size=256)
    changed = y.clone()
    changed[..., 192:] = 1.0 - changed[..., 192:]
    with torch.no_grad():
        a, b = restorer(y), restorer(changed)
    torch.testing.assert_close(a[..., :96], b[..., :96])
    assert (a[..., 192:] - b[..., 192:]).abs().max() > 0.1


def test_training_the_restorer_learns_to_denoise_and_keeps_clean_sources() -> None:
    torch.manual_seed(0)
    restorer = Restorer(widths=(8, 16, 16), blocks=(1, 1, 1))
    opt = torch.optim.Adam(restorer.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(1)

    def batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        clean = _scene(seed)
        sigma = 0.1 * (torch.rand(clean.shape[0], 1, 1, 1, generator=gen) > 0.25)
        return (clean + sigma * torch.randn(clean.shape, generator=gen)).clamp(0, 1), clean

    clean_held_out = _scene(999)
    noisy_held_out = (clean_held_out + 0.1 * torch.randn(clean_held_out.shape, generator=gen)).clamp(0, 1)
    for step in range(150):
        degraded, clean = batch(step)
        loss, _ = restorer_loss(restorer(degraded), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        before = float(((noisy_held_out - clean_held_out) ** 2).mean())
        after = float(((restorer(noisy_held_out) - clean_held_out) ** 2).mean())
        clean_error = float((restorer(clean_held_out) - clean_held_out).abs().mean())
    assert after < 0.5 * before
    assert clean_error < 0.03


def test_fuse_restores_both_sources_before_sampling_and_restore_zero_skips_it() -> None:
    net, sampler = _tiny_net_with_restorer(), DDIMSampler()
    a, b = _scene(2, n=1, size=32), _scene(3, n=1, size=32)
    restored_a, restored_b = restore_sources(net, a, b)
    assert (restored_a - a).abs().max() > 1e-3 and restored_a.min() >= 0 and restored_a.max() <= 1
    fused = fuse(net, sampler, a, b, steps=1)
    restorer, net.restorer = net.restorer, None
    torch.testing.assert_close(fuse(net, sampler, restored_a, restored_b, steps=1), fused)
    unrestored = fuse(net, sampler, a, b, steps=1, restore=0.0)
    net.restorer = restorer
    torch.testing.assert_close(fuse(net, sampler, a, b, steps=1, restore=0.0), unrestored)
    assert restore_sources(net, a, None)[1] is None


def test_stage_r_trains_the_restorer_alone_and_the_weights_keep_it(tmp_path: Path) -> None:
    from test_model_train import _synthetic_pack

    from textdifuse_desktop.model.train import TrainConfig, train
    from textdifuse_desktop.model.weights import load_model

    pack = _synthetic_pack(tmp_path / "pack.npz", size=48)
    base = TrainConfig(out=str(tmp_path / "base"), train_pack=str(pack), tiny=True, iters_t=0, iters_a=1, iters_b=1,
                       batch_a=2, batch_b=2, crop_a=32, crop_b=32, rollout_steps=(1,), progress=False)
    first = train(base, "base")
    cfg = TrainConfig(out=str(tmp_path / "r"), train_pack=str(pack), tiny=True, iters_t=0, iters_r=4, iters_a=0,
                      iters_b=0, batch_r=2, crop_r=32, progress=False, init_from=str(first), model={"restorer": 1},
                      lr_r=1e-2, ema=0.0, impulse_share_r=0.5)
    loaded = load_model(train(cfg, "stage R"))
    assert loaded.card["training"]["stage_r"]["iteration"] == 4
    assert loaded.net.restorer is not None
    trained = loaded.net.state_dict()
    start = load_model(first).net.state_dict()
    moved = {k for k, v in trained.items() if k not in start or not torch.equal(v, start[k])}
    assert moved and all(k.startswith("restorer.") for k in moved)
    assert float(loaded.net.restorer.out[1].weight.detach().abs().sum()) > 0  # no longer the fresh identity
    cfg.impulse_share_r, cfg.out = 1.5, str(tmp_path / "refused")
    with pytest.raises(ValueError, match="--impulse-share-r"):
        train(cfg, "refused")
    assert not (tmp_path / "refused" / "model.safetensors").exists()


def test_the_shipped_restorer_removes_noise_and_stripes_and_leaves_a_clean_source_alone() -> None:
    """Through the shipped weights: the noise and the column stripes the restorer was trained on come out at a
    fraction of their energy, and a clean source comes out (nearly) as it went in."""
    from textdifuse_desktop.model.weights import load_model

    net = load_model(None).net
    assert net.restorer is not None
    clean = _scene(4, n=2, size=128)
    gen = torch.Generator().manual_seed(0)
    noisy = (clean + 0.05 * torch.randn(clean.shape, generator=gen)).clamp(0, 1)
    striped = (clean + 0.04 * torch.randn(2, 1, 1, 128, generator=gen)).clamp(0, 1)
    denoised, destriped = restore_sources(net, noisy, striped)

    def mse(x: torch.Tensor) -> float:
        return float(((x - clean) ** 2).mean())

    assert mse(denoised) < 0.3 * mse(noisy)
    assert mse(destriped) < 0.5 * mse(striped)
    kept = restore_sources(net, clean, None)[0]
    assert float((kept - clean).abs().mean()) < 0.005


def test_the_shipped_restorer_removes_salt_and_pepper_impulses() -> None:
    """Through the shipped weights: impulses (0.2 % of the pixels set to 0 or 1) are put back near the clean value, and
    the pixels between them are left nearly as they were.  The weights before run 31 left 70 % of them off by more than
    30 grey levels here; these leave about 10 %."""
    from textdifuse_desktop.model.degrade_torch import add_impulses
    from textdifuse_desktop.model.weights import load_model

    net = load_model(None).net
    clean = _scene(4, n=2, size=128)
    degraded = add_impulses(clean, 1.0, torch.Generator().manual_seed(0), (2e-3, 2e-3))
    impulses = (degraded - clean).abs() > 30 / 255
    assert int(impulses.sum()) > 50
    error = (restore_sources(net, degraded, None)[0] - clean).abs()
    assert float((error[impulses] > 30 / 255).float().mean()) < 0.25
    assert float(error[~impulses].mean()) < 1.0 / 255
