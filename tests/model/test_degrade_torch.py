"""Torch degradations: numerical match with the numpy path, determinism, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging import degrade as np_degrade
from textdifuse_desktop.imaging.degrade import (
    MODALITIES,
    MODALITY_GROUPS,
    ORDER,
    RANGES,
    DegradationOp,
)
from textdifuse_desktop.model.degrade_torch import (
    add_impulses,
    apply_plan,
    apply_tone_ops,
    degrade_batch,
)

SHAPE = (29, 38)  # odd sizes on purpose


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(SHAPE, dtype=np.float32)


def _one_op(name: str, rng: np.random.Generator) -> DegradationOp:
    modality = next(m for m in MODALITIES if any(name in g for g in MODALITY_GROUPS[m]))
    while True:
        plan = np_degrade.sample_plan(modality, rng, n_ops=len(MODALITY_GROUPS[modality]))
        for op in plan:
            if op.name == name:
                return op


@pytest.mark.parametrize("name", ORDER)
def test_each_op_matches_numpy(name: str) -> None:
    rng = np.random.default_rng(ORDER.index(name))
    x = _image()
    for _ in range(3):
        plan = [_one_op(name, rng)]
        noise = np_degrade.draw_noise(plan, SHAPE, rng)
        expected = np_degrade.apply_plan(x, plan, noise)
        got = apply_plan(torch.from_numpy(x)[None, None], plan, noise)
        assert got.shape == (1, 1, *SHAPE)
        np.testing.assert_allclose(got[0, 0].numpy(), expected, atol=1e-5)


def test_per_sample_plans_match_numpy() -> None:
    rng = np.random.default_rng(11)
    xs = np.stack([_image(i) for i in range(len(MODALITIES))])
    plans = [np_degrade.sample_plan(m, rng, n_ops=3) for m in MODALITIES]
    noises = [np_degrade.draw_noise(p, SHAPE, rng) for p in plans]
    got = apply_plan(torch.from_numpy(xs)[:, None], plans, noises)
    for i, (plan, noise) in enumerate(zip(plans, noises)):
        np.testing.assert_allclose(got[i, 0].numpy(), np_degrade.apply_plan(xs[i], plan, noise), atol=1e-5)


def test_degrade_batch_is_deterministic_and_in_range() -> None:
    x = torch.from_numpy(np.stack([_image(i) for i in range(8)]))[:, None]
    out1, plans1 = degrade_batch(x, "vis", torch.Generator().manual_seed(5), return_plans=True)
    out2, plans2 = degrade_batch(x, "vis", torch.Generator().manual_seed(5), return_plans=True)
    out3 = degrade_batch(x, "vis", torch.Generator().manual_seed(6))
    assert plans1 == plans2
    assert torch.equal(out1, out2)
    assert not torch.equal(out1, out3)
    assert out1.shape == x.shape and out1.dtype == x.dtype
    assert float(out1.min()) >= 0.0 and float(out1.max()) <= 1.0
    for i, plan in enumerate(plans1):
        assert len(plan) <= 3
        if not plan:
            assert torch.equal(out1[i], x[i])


def test_degrade_batch_per_sample_modality_and_clean() -> None:
    x = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    modalities = ["ir", "vis", "mri", "pet", "ct", "spect"]
    _, plans = degrade_batch(x, modalities, torch.Generator().manual_seed(1), p_clean=0.0, return_plans=True)
    for modality, plan in zip(modalities, plans):
        valid = {n for g in MODALITY_GROUPS[modality] for n in g}
        assert plan and {op.name for op in plan} <= valid
    clean = degrade_batch(x, "ir", torch.Generator().manual_seed(1), p_clean=1.0)
    assert torch.equal(clean, x)


def test_bad_shapes_raise() -> None:
    with pytest.raises(ImageDataError):
        degrade_batch(torch.zeros(2, 3, 8, 8), "ir")
    with pytest.raises(ImageDataError):
        degrade_batch(torch.zeros(2, 1, 8, 8), ["ir"])


def test_apply_tone_ops_keeps_the_tones_and_drops_noise_stripes_and_blur() -> None:
    """The restorer's target: the plan's tone ops, noise-free (low light without its sensor noise)."""
    x = torch.rand(3, 1, 24, 32, generator=torch.Generator().manual_seed(0))
    contrast = DegradationOp("low_contrast", {"alpha": 0.5, "level": 1.0})
    dark = DegradationOp("low_light", {"gain": 0.3, "gamma": 2.0, "peak": 100.0, "read": 5.0})
    noise = DegradationOp("gaussian_noise", {"sigma": 15.0})
    blur = DegradationOp("gaussian_blur", {"kernel": 5})
    plans = [[blur, contrast, noise], [dark, DegradationOp("stripe_noise", {"beta": 10.0})], [noise]]
    target = apply_tone_ops(x, plans)
    torch.testing.assert_close(target[0], 0.5 * x[0] + 0.5)
    torch.testing.assert_close(target[1], 0.3 * x[1] ** 2)
    torch.testing.assert_close(target[2], x[2])
    degraded = apply_plan(x, plans, generator=torch.Generator().manual_seed(1))
    assert (degraded[1] - target[1]).abs().mean() > 1e-3  # the degraded source still carries the low-light noise


def test_add_impulses_sets_extremes_in_the_chosen_share_of_samples_only() -> None:
    """Stage R's extra impulses: only salt (1) and pepper (0) values change, in about ``share`` of the samples, at
    no more than the salt_pepper range's largest amount; share 0 changes nothing and the generator fixes the draw."""
    x = torch.full((200, 1, 64, 64), 0.5)
    y = add_impulses(x, 0.4, torch.Generator().manual_seed(3))
    changed = y != x
    assert set(torch.unique(y[changed]).tolist()) <= {0.0, 1.0}
    hit = changed.flatten(1).any(1).float().mean().item()
    assert 0.3 < hit < 0.5
    assert changed.flatten(1).float().mean(1).max().item() < 2 * RANGES["salt_pepper"]["amount"][1]
    assert torch.equal(y, add_impulses(x, 0.4, torch.Generator().manual_seed(3)))
    assert torch.equal(add_impulses(x, 0.0, torch.Generator().manual_seed(3)), x)
