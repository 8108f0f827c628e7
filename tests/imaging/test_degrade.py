"""Synthetic degradations: determinism, parameter ranges, op effects."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.degrade import (
    MODALITIES,
    MODALITY_GROUPS,
    ORDER,
    DegradationOp,
    apply_plan,
    degrade,
    draw_noise,
    gaussian_kernel1d,
    modality_key,
    motion_kernel,
    op_ranges,
    sample_plan,
)


@pytest.fixture
def image() -> np.ndarray:
    yy, xx = np.mgrid[0:37, 0:45]
    return (0.2 + 0.6 * (xx / 44.0) * (yy / 36.0)).astype(np.float32)


@pytest.mark.parametrize("modality", MODALITIES)
def test_same_seed_same_output(image: np.ndarray, modality: str) -> None:
    out1, rec1 = degrade(image, modality, np.random.default_rng(7), n_ops=3)
    out2, rec2 = degrade(image, modality, np.random.default_rng(7), n_ops=3)
    out3, rec3 = degrade(image, modality, np.random.default_rng(8), n_ops=3)
    assert rec1 == rec2
    np.testing.assert_array_equal(out1, out2)
    assert rec1 != rec3 or not np.array_equal(out1, out3)
    assert out1.dtype == np.float32 and out1.shape == image.shape
    assert out1.min() >= 0.0 and out1.max() <= 1.0


@pytest.mark.parametrize("modality", MODALITIES)
def test_sampled_parameters_stay_in_range(modality: str) -> None:
    rng = np.random.default_rng(0)
    valid = {name for group in MODALITY_GROUPS[modality] for name in group}
    seen: set[str] = set()
    for _ in range(300):
        plan = sample_plan(modality, rng, max_ops=3, p_clean=0.0)
        names = [op.name for op in plan]
        assert 1 <= len(plan) <= 3
        assert len(set(names)) == len(names)
        assert names == sorted(names, key=ORDER.index)
        assert set(names) <= valid
        assert not {"low_light", "over_exposure"} <= set(names)
        for op in plan:
            seen.add(op.name)
            for key, (lo, hi) in op_ranges(op.name, modality).items():
                value = op.params[key]
                if op.name == "over_exposure" and value == 1.0:
                    continue
                assert lo <= value <= hi, (op.name, key, value)
            if op.name == "gaussian_blur":
                assert op.params["kernel"] % 2 == 1
            if op.name == "over_exposure":
                assert (op.params["gain"] == 1.0) != (op.params["gamma"] == 1.0)
    assert seen == valid  # every op of the modality is reachable


def test_clean_probability_and_exact_counts(image: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    clean = sum(not sample_plan("vis", rng, p_clean=0.25) for _ in range(2000))
    assert 400 < clean < 600
    out, records = degrade(image, "ir", rng, p_clean=1.0)
    assert records == []
    np.testing.assert_array_equal(out, image)
    assert len(sample_plan("mri", rng, n_ops=2)) == 2
    assert sample_plan("ct", rng, n_ops=0) == []


def test_records_reproduce_the_output(image: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    plan = sample_plan("vis", rng, n_ops=3)
    noise = draw_noise(plan, image.shape, rng)
    reference = apply_plan(image, plan, noise)
    rebuilt = [DegradationOp.from_record(op.to_record()) for op in plan]
    np.testing.assert_array_equal(apply_plan(image, rebuilt, noise), reference)
    # listed order does not matter: ops always run in the physical order
    np.testing.assert_array_equal(apply_plan(image, rebuilt[::-1], noise[::-1]), reference)


def test_gaussian_noise_has_requested_sigma() -> None:
    flat = np.full((200, 200), 0.5, np.float32)
    out = apply_plan(flat, [DegradationOp("gaussian_noise", {"sigma": 12.0})], rng=np.random.default_rng(0))
    assert abs(float(np.std(out - flat)) * 255 - 12.0) < 0.5


def test_stripe_noise_is_constant_down_each_column() -> None:
    flat = np.full((50, 60), 0.5, np.float32)
    out = apply_plan(flat, [DegradationOp("stripe_noise", {"beta": 15.0})], rng=np.random.default_rng(0))
    diff = out - flat
    assert np.allclose(diff, diff[:1])
    assert 8.0 < float(diff[0].std()) * 255 < 22.0


def test_exposure_and_contrast_formulas(image: np.ndarray) -> None:
    low = apply_plan(image, [DegradationOp("low_contrast", {"alpha": 0.5, "level": 1.0})])
    np.testing.assert_allclose(low, 0.5 * image + 0.5, atol=1e-6)
    over = apply_plan(image, [DegradationOp("over_exposure", {"gain": 2.0, "gamma": 1.0})])
    np.testing.assert_allclose(over, np.clip(2 * image, 0, 1), atol=1e-6)
    dark = apply_plan(image, [DegradationOp("low_light", {"gain": 0.2, "gamma": 2.0, "peak": 100.0, "read": 2.0})],
                      rng=np.random.default_rng(0))
    assert dark.mean() < 0.5 * image.mean()


def test_salt_pepper_amount() -> None:
    flat = np.full((300, 300), 0.5, np.float32)
    out = apply_plan(flat, [DegradationOp("salt_pepper", {"amount": 4e-3})], rng=np.random.default_rng(0))
    changed = float(np.mean(out != 0.5))
    assert 2.5e-3 < changed < 5.5e-3
    assert set(np.unique(out)) <= {0.0, 0.5, 1.0}


def test_blur_kernels_are_normalised_and_blur_preserves_mean(image: np.ndarray) -> None:
    for k in (3, 5, 11):
        assert gaussian_kernel1d(k).size == k
        assert abs(float(gaussian_kernel1d(k).sum()) - 1) < 1e-6
    kernel = motion_kernel(9.0, 0.0)
    assert abs(float(kernel.sum()) - 1) < 1e-6
    assert np.count_nonzero(kernel.sum(axis=1)) == 1  # horizontal line: one row
    checker = (np.indices((32, 32)).sum(axis=0) % 2).astype(np.float32)
    out = apply_plan(checker, [DegradationOp("gaussian_blur", {"kernel": 5.0})])
    assert out.std() < 0.2 * checker.std()
    assert abs(float(out.mean()) - float(checker.mean())) < 0.02


def test_colour_images_are_supported() -> None:
    rgb = np.random.default_rng(0).random((16, 20, 3), dtype=np.float32)
    out, records = degrade(rgb, "vis", np.random.default_rng(5), n_ops=3)
    assert out.shape == rgb.shape and len(records) == 3


def test_bad_inputs_raise() -> None:
    with pytest.raises(ImageDataError):
        modality_key("ultrasound")
    with pytest.raises(ImageDataError):
        DegradationOp.from_record({"op": "rain"})
    with pytest.raises(ImageDataError):
        apply_plan(np.zeros((2, 3, 4, 5), np.float32), [])
    assert modality_key("PT") == "pet" and modality_key("VIS") == "vis"
