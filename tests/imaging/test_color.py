"""Colour conversion (PIL-compatible BT.601 full range) and luma/chroma handling."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.color import (
    chroma_source,
    is_colour,
    merge_luma,
    rgb_to_ycbcr,
    split_luma,
    ycbcr_to_rgb,
)
from textdifuse_desktop.imaging.image import Image


def _rgb(rng: np.random.Generator, shape=(23, 31)) -> np.ndarray:
    return rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)


def test_matches_pillow_ycbcr(rng: np.random.Generator) -> None:
    rgb = _rgb(rng)
    ours = rgb_to_ycbcr(rgb.astype(np.float32))
    pil = np.asarray(PILImage.fromarray(rgb).convert("YCbCr")).astype(np.float32)
    assert ours.dtype == np.float32
    assert np.abs(ours - pil).max() <= 1.0  # PIL rounds with fixed-point arithmetic


def test_inverse_matches_pillow(rng: np.random.Generator) -> None:
    ycc = np.asarray(PILImage.fromarray(_rgb(rng)).convert("YCbCr"))
    ours = ycbcr_to_rgb(ycc.astype(np.float32))
    pil = np.asarray(PILImage.fromarray(ycc, mode="YCbCr").convert("RGB")).astype(np.float32)
    assert np.abs(ours - pil).max() <= 1.5


def test_known_values() -> None:
    colours = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.float32)
    ycc = rgb_to_ycbcr(colours)
    np.testing.assert_allclose(ycc[0], [255, 128, 128], atol=1e-3)
    np.testing.assert_allclose(ycc[1], [0, 128, 128], atol=1e-3)
    np.testing.assert_allclose(ycc[2], [76.245, 84.972, 255.5], atol=1e-2)
    np.testing.assert_allclose(ycc[3, 0], 29.07, atol=1e-2)


def test_round_trip_is_exact(rng: np.random.Generator) -> None:
    rgb = rng.uniform(0, 255, size=(9, 11, 3)).astype(np.float32)
    np.testing.assert_allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb, atol=2e-3)


def test_wrong_channel_count_raises() -> None:
    with pytest.raises(ImageDataError):
        rgb_to_ycbcr(np.zeros((4, 4, 2), np.float32))


def test_split_grey_keeps_pixels(rng: np.random.Generator) -> None:
    pixels = rng.uniform(0, 255, size=(8, 9)).astype(np.float32)
    y, cbcr = split_luma(Image(pixels, axes="YX", modality="IR"))
    assert cbcr is None
    np.testing.assert_array_equal(y, pixels)


def test_split_rgb_with_equal_channels_is_grey(rng: np.random.Generator) -> None:
    grey = rng.uniform(0, 255, size=(8, 9)).astype(np.float32)
    image = Image(np.repeat(grey[..., None], 3, axis=-1), axes="YXC", modality="IR")
    assert not is_colour(image)
    y, cbcr = split_luma(image)
    assert cbcr is None
    np.testing.assert_array_equal(y, grey)


def test_split_merge_colour_round_trip(rng: np.random.Generator) -> None:
    rgb = rng.uniform(0, 255, size=(12, 7, 3)).astype(np.float32)
    image = Image(rgb, axes="YXC", modality="VIS")
    y, cbcr = split_luma(image)
    assert y.shape == (12, 7) and cbcr is not None and cbcr.shape == (12, 7, 2)
    np.testing.assert_allclose(y, 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2], atol=1e-3)
    np.testing.assert_allclose(merge_luma(y, cbcr), rgb, atol=2e-3)


def test_split_maps_physical_units_to_0_255() -> None:
    hu = np.array([[-1000.0, 0.0], [500.0, 1000.0]], dtype=np.float32)
    y, _ = split_luma(Image(hu, axes="YX", modality="CT", units="HU"))
    np.testing.assert_allclose(y, [[0.0, 127.5], [191.25, 255.0]], atol=1e-3)
    y_win, _ = split_luma(Image(hu, axes="YX", modality="CT", units="HU", window=(0.0, 1000.0)))
    np.testing.assert_allclose(y_win, [[0.0, 127.5], [255.0, 255.0]], atol=1e-3)


def test_merge_grey_clips_and_shape_mismatch_raises() -> None:
    out = merge_luma(np.array([[-5.0, 300.0]]), None)
    np.testing.assert_array_equal(out, [[0.0, 255.0]])
    with pytest.raises(ImageDataError):
        merge_luma(np.zeros((3, 3)), np.zeros((3, 4, 2)))


def _grey(modality: str) -> Image:
    return Image(np.full((4, 4), 100, np.float32), axes="YX", modality=modality)


def _colour(modality: str) -> Image:
    pixels = np.zeros((4, 4, 3), np.float32)
    pixels[..., 0] = 200
    return Image(pixels, axes="YXC", modality=modality)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (_grey("IR"), _colour("VIS"), "b"),
        (_colour("VIS"), _grey("IR"), "a"),
        (_grey("MR"), _colour("PT"), "b"),
        (_grey("MR"), _grey("CT"), None),
        (_colour("IR"), _colour("VIS"), "b"),
        (_colour("PT"), _colour("OT"), "a"),
    ],
)
def test_chroma_source(a: Image, b: Image, expected: str | None) -> None:
    assert chroma_source(a, b) == expected
