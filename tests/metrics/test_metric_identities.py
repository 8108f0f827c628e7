"""Identities and hand-checkable values from docs/metrics.md section 3.5, plus convention checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.metrics import (
    METRICS,
    _cache,
    ag,
    compute_all,
    en,
    mi,
    qabf,
    rgb2gray,
    scd,
    sd,
    sf,
    ssim,
    vif,
)
from textdifuse_desktop.metrics.qabf import _sobel_conv_zero
from textdifuse_desktop.metrics.vif import vifp


@pytest.fixture
def textured(rng: np.random.Generator) -> np.ndarray:
    """A 96 x 128 uint8 image with structure at several scales, no flat areas."""
    y, x = np.mgrid[0:96, 0:128]
    base = 128 + 60 * np.sin(x / 7.0) * np.cos(y / 11.0) + 30 * np.sin((x + y) / 3.0)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).round().astype(np.uint8)


def test_en_constant_and_uniform() -> None:
    assert en(np.full((32, 32), 77, np.uint8)) == 0.0
    uniform = np.arange(256 * 4, dtype=np.int64).reshape(32, 32) % 256
    assert en(uniform.astype(np.uint8)) == pytest.approx(8.0, abs=1e-12)


def test_ramp_sf_and_ag() -> None:
    ramp = np.tile(np.arange(256, dtype=np.uint8), (256, 1))
    assert sf(ramp) == pytest.approx(1.0, abs=1e-12)
    assert ag(ramp) == pytest.approx(np.sqrt(0.5) * 256**2 / 255**2, abs=1e-6)
    assert ag(ramp) == pytest.approx(0.712664, abs=1e-6)


def test_sd_is_population_std(textured: np.ndarray) -> None:
    assert sd(textured) == pytest.approx(float(np.std(textured.astype(np.float64), ddof=0)), rel=1e-12)


def test_vif_of_identical_images_is_two(textured: np.ndarray) -> None:
    assert vif(textured, textured, textured) == pytest.approx(2.0, abs=1e-9)
    assert vifp(textured.astype(float), textured.astype(float)) == pytest.approx(1.0, abs=1e-9)


def test_vif_decreases_with_blur(textured: np.ndarray) -> None:
    from scipy import ndimage

    blurred = ndimage.uniform_filter(textured.astype(float), 5).round().astype(np.uint8)
    assert vif(textured, textured, blurred) < 1.8


def test_scd_of_sum_is_two(rng: np.random.Generator) -> None:
    a = rng.integers(0, 120, (64, 64)).astype(np.uint8)
    b = rng.integers(0, 120, (64, 64)).astype(np.uint8)
    f = (a.astype(np.int32) + b).astype(np.uint8)  # <= 238: exact
    assert scd(a, b, f) == pytest.approx(2.0, abs=1e-12)


def test_mi_of_identical_images(textured: np.ndarray) -> None:
    assert mi(textured, textured, textured, merge_top=False) == pytest.approx(2 * en(textured), abs=1e-9)
    # Without 254/255 in the image the MATLAB merge changes nothing.
    low = np.minimum(textured, 253)
    assert mi(low, low, low) == pytest.approx(2 * en(low), abs=1e-9)


def test_mi_merges_254_and_255_in_joint_histogram() -> None:
    img = np.array([[254, 255] * 8] * 16, dtype=np.uint8)
    # Marginals: 1 bit each; joint: one bin after the merge -> I = 1 + 1 - 0 per source.
    assert mi(img, img, img) == pytest.approx(4.0)
    assert mi(img, img, img, merge_top=False) == pytest.approx(2.0)


def test_qabf_identical_reaches_its_ceiling(textured: np.ndarray) -> None:
    # gA == gF everywhere -> G = gF (the quirk), which saturates Q_g for gF >> 0.5, and A = 1:
    # the maximum is Gamma_g Gamma_a / (1 + exp(-22 * 0.2)) = 0.975333 (metrics.md 3.5).
    ceiling = 0.9994 * 0.9879 / (1 + np.exp(-4.4))
    assert ceiling == pytest.approx(0.975333, abs=1e-6)
    value = qabf(textured, textured, textured)
    assert value == pytest.approx(ceiling, abs=1e-6)
    assert value <= ceiling + 1e-8  # float32 sigmoid


def test_sobel_matches_true_convolution(textured: np.ndarray) -> None:
    x = textured.astype(np.float64)
    sx, sy = _sobel_conv_zero(x)
    h3 = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    h1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], float)
    np.testing.assert_array_equal(sx, signal.convolve2d(x, h3, mode="same"))
    np.testing.assert_array_equal(sy, signal.convolve2d(x, h1, mode="same"))


def test_ssim_identical_is_one(textured: np.ndarray) -> None:
    assert ssim(textured, textured, textured) == pytest.approx(1.0, abs=1e-12)


def test_rgb2gray_matlab_weights_and_rounding() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    grey = rgb2gray(rgb)
    assert grey.dtype == np.uint8
    expected = np.floor(rgb.astype(float) @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103]) + 0.5)
    np.testing.assert_array_equal(grey, expected.astype(np.uint8))
    assert grey.tolist() == [[76, 150, 29, 18]]


def test_colour_input_equals_its_grey(textured: np.ndarray) -> None:
    rgb = np.stack([textured, np.flipud(textured), textured // 2], axis=-1)
    grey = rgb2gray(rgb)
    fused_rgb = np.maximum(rgb, textured[..., None])
    fused_grey = rgb2gray(fused_rgb)
    assert compute_all(textured, rgb, fused_rgb) == compute_all(textured, grey, fused_grey)


def test_symmetric_in_sources(textured: np.ndarray, rng: np.random.Generator) -> None:
    b = np.clip(255 - textured.astype(int) + rng.integers(-5, 6, textured.shape), 0, 255).astype(np.uint8)
    f = ((textured.astype(int) + b) // 2).astype(np.uint8)
    ab, ba = compute_all(textured, b, f), compute_all(b, textured, f)
    for name in METRICS:
        assert ab[name] == pytest.approx(ba[name], rel=1e-9, abs=1e-12), name


def test_memo_gives_same_values_as_cold(textured: np.ndarray, rng: np.random.Generator) -> None:
    b = rng.integers(0, 256, textured.shape).astype(np.uint8)
    f1 = ((textured.astype(int) + b) // 2).astype(np.uint8)
    f2 = np.maximum(textured, b)
    _cache.clear()
    cold = [compute_all(textured, b, f) for f in (f1, f2)]
    warm = [compute_all(textured, b, f) for f in (f1, f2)]
    assert cold == warm
    _cache.clear()
    assert compute_all(textured, b, f2) == warm[1]


def test_size_mismatch_raises(textured: np.ndarray) -> None:
    with pytest.raises(ImageDataError, match="size mismatch"):
        compute_all(textured, textured, textured[:-1])


def test_unknown_metric_name(textured: np.ndarray) -> None:
    with pytest.raises(KeyError):
        compute_all(textured, textured, textured, ["EN", "FMI"])


def test_small_images_do_not_crash(rng: np.random.Generator) -> None:
    a, b, f = (rng.integers(0, 256, (20, 24)).astype(np.uint8) for _ in range(3))
    values = compute_all(a, b, f)
    assert set(values) == set(METRICS)
    assert all(np.isfinite(v) for v in values.values())


def test_load_grey_modes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from textdifuse_desktop.errors import ReadError
    from textdifuse_desktop.metrics import load_grey

    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(grey).save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_grey(tmp_path / "g.png"), grey)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "g16.png")
    np.testing.assert_array_equal(load_grey(tmp_path / "g16.png"), grey)
    rgba = np.dstack([grey, grey, grey, np.zeros_like(grey)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "c.png")
    np.testing.assert_array_equal(load_grey(tmp_path / "c.png"), grey)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ReadError, match="bad.png"):
        load_grey(tmp_path / "bad.png")
    with pytest.raises(ReadError, match="file not found"):
        load_grey(tmp_path / "missing.png")
