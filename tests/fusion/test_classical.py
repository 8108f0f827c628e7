"""Classical fusion rules: ranges, identities, selection behaviour, colour handling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from textdifuse_desktop.errors import GeometryError, ImageDataError
from textdifuse_desktop.fusion.classical import METHODS, fuse_images, fuse_luma
from textdifuse_desktop.imaging.color import rgb_to_ycbcr
from textdifuse_desktop.imaging.image import Image, Provenance

SHAPES = [(1, 1), (2, 3), (17, 23), (64, 47), (97, 130)]


def _texture(shape: tuple[int, ...], seed: int, amplitude: float = 60.0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.clip(128.0 + amplitude * ndimage.gaussian_filter(noise, 1.0) * 3, 0, 255).astype(np.float32)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", SHAPES)
def test_shape_range_and_identity(method: str, shape: tuple[int, int]) -> None:
    a, b = _texture(shape, 1), _texture(shape, 2)
    fused = fuse_luma(a, b, method)
    assert fused.shape == shape and fused.dtype == np.float32
    assert fused.min() >= 0.0 and fused.max() <= 255.0
    assert np.abs(fuse_luma(a, a, method) - a).max() <= 1.0


def test_max_and_mean_rules() -> None:
    a, b = _texture((31, 40), 3), _texture((31, 40), 4)
    fused = fuse_luma(a, b, "max")
    assert np.all(fused >= a) and np.all(fused >= b)
    np.testing.assert_allclose(fuse_luma(a, b, "mean"), (a + b) / 2, atol=1e-4)


def test_extreme_inputs_stay_in_range() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random((60, 70)) > 0.5).astype(np.float32) * 255  # harsh edges provoke overshoot
    b = 255 - a
    for method in METHODS:
        fused = fuse_luma(a, b, method)
        assert fused.min() >= 0.0 and fused.max() <= 255.0


@pytest.mark.parametrize("method", ["laplacian", "guided"])
def test_multiscale_rules_keep_the_detailed_source(method: str) -> None:
    """Fusing a texture with a flat image of the same mean returns (nearly) the texture."""
    textured = _texture((96, 128), 5)
    flat = np.full_like(textured, float(textured.mean()))
    fused = fuse_luma(textured, flat, method)
    hp = lambda x: x - ndimage.uniform_filter(x, 9)
    assert np.corrcoef(hp(fused).ravel(), hp(textured).ravel())[0, 1] > 0.95
    assert hp(fused).std() > 0.8 * hp(textured).std()  # "mean" would halve it
    assert hp(fuse_luma(textured, flat, "mean")).std() < 0.6 * hp(textured).std()


def test_spatially_complementary_details_are_both_kept() -> None:
    textured = _texture((80, 120), 6)
    mean = float(textured.mean())
    a, b = textured.copy(), textured.copy()
    a[:, 60:], b[:, :60] = mean, mean
    fused = fuse_luma(a, b, "laplacian")
    inner = (slice(8, -8), slice(8, 52))
    assert np.abs(fused[inner] - textured[inner]).mean() < 6.0
    inner = (slice(8, -8), slice(68, -8))
    assert np.abs(fused[inner] - textured[inner]).mean() < 6.0


@pytest.mark.parametrize("method", METHODS)
def test_black_background_stays_black(method: str) -> None:
    a = np.zeros((128, 128), np.float32)
    b = np.zeros((128, 128), np.float32)
    a[30:60, 30:60] = 200.0
    b[70:100, 60:90] = 150.0
    fused = fuse_luma(a, b, method)
    far = np.ones_like(a, bool)
    far[10:120, 10:110] = False
    assert np.abs(fused[far]).max() < 1.0
    assert fused[40:50, 40:50].mean() > 90.0 and fused[80:90, 70:80].mean() > 70.0


def test_volumes_are_fused_slice_by_slice() -> None:
    a = np.stack([_texture((20, 30), i) for i in range(3)])
    b = np.stack([_texture((20, 30), 10 + i) for i in range(3)])
    fused = fuse_luma(a, b, "laplacian")
    np.testing.assert_array_equal(fused[1], fuse_luma(a[1], b[1], "laplacian"))


def test_bad_arguments_raise() -> None:
    with pytest.raises(GeometryError):
        fuse_luma(np.zeros((4, 5)), np.zeros((5, 4)), "max")
    with pytest.raises(ImageDataError):
        fuse_luma(np.zeros((4, 5)), np.zeros((4, 5)), "wavelet")


def test_fuse_images_restores_colour_from_the_visible_source() -> None:
    rng = np.random.default_rng(2)
    ir = Image(_texture((40, 50), 7), axes="YX", modality="IR", provenance=Provenance(source_paths=("ir.png",)))
    vis_rgb = np.clip(rng.uniform(60, 190, (40, 50, 3)), 0, 255).astype(np.float32)
    vis = Image(vis_rgb, axes="YXC", modality="VIS", provenance=Provenance(source_paths=("vis.png",)))
    fused = fuse_images(ir, vis, "laplacian")
    assert fused.axes == "YXC" and fused.pixels.shape == (40, 50, 3)
    ycc = rgb_to_ycbcr(fused.pixels)
    expected_y = fuse_luma(ir.pixels, rgb_to_ycbcr(vis_rgb)[..., 0], "laplacian")
    unclipped = (fused.pixels > 0.5).all(-1) & (fused.pixels < 254.5).all(-1)
    assert unclipped.mean() > 0.9
    np.testing.assert_allclose(ycc[..., 0][unclipped], expected_y[unclipped], atol=0.05)
    np.testing.assert_allclose(ycc[..., 1:][unclipped], rgb_to_ycbcr(vis_rgb)[..., 1:][unclipped], atol=0.05)
    assert fused.provenance.source_paths == ("ir.png", "vis.png")
    assert fused.meta["fusion"]["chroma_source"] == "b"


def test_fuse_images_grey_pair_and_volume() -> None:
    mri = Image(np.stack([_texture((16, 18), i) for i in range(2)]), axes="ZYX", modality="MR")
    ct = Image(np.stack([_texture((16, 18), 5 + i) for i in range(2)]), axes="ZYX", modality="CT")
    fused = fuse_images(mri, ct, "max")
    assert fused.axes == "ZYX" and fused.pixels.shape == (2, 16, 18)
    np.testing.assert_array_equal(fused.pixels, np.maximum(mri.pixels, ct.pixels))
    np.testing.assert_array_equal(fused.affine, mri.affine)


def test_fuse_images_refuses_different_grids() -> None:
    with pytest.raises(GeometryError):
        fuse_images(Image(np.zeros((4, 5)), axes="YX"), Image(np.zeros((5, 5)), axes="YX"), "mean")
