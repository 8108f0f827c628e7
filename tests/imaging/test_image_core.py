"""The Image type, windowing and resampling."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import GeometryError, ImageDataError
from textdifuse_desktop.imaging.image import LPS_TO_RAS, Image, affine_from_spacing
from textdifuse_desktop.imaging.intensity import (
    display_window,
    percentile_window,
    to_display_uint8,
    window_to_unit,
)
from textdifuse_desktop.imaging.resample import (
    overlap_fraction,
    resample_to,
    resize_to_shape,
)


def test_image_coerces_float32_and_checks_axes() -> None:
    image = Image(np.zeros((4, 5), dtype=np.uint16))
    assert image.pixels.dtype == np.float32
    with pytest.raises(ImageDataError):
        Image(np.zeros((4, 5)), axes="ZYX")
    with pytest.raises(ImageDataError):
        Image(np.zeros((0, 5)))


def test_spacing_and_orientation_from_affine() -> None:
    affine = LPS_TO_RAS @ affine_from_spacing((0.5, 0.7, 2.0))
    image = Image(np.zeros((3, 4, 5)), axes="ZYX", affine=affine)
    assert image.spacing == pytest.approx((0.5, 0.7, 2.0))
    assert image.orientation == "LPS"
    assert image.grid_shape == (3, 4, 5)


def test_window_maps_linearly_and_clips() -> None:
    out = window_to_unit(np.array([-100.0, 0.0, 40.0, 80.0, 1000.0, np.nan]), 40, 80)
    assert out.tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0, 0.0])


def test_display_window_prefers_image_window_then_8bit_then_percentiles() -> None:
    assert display_window(Image(np.zeros((2, 2)), window=(40.0, 400.0))) == (40.0, 400.0)
    photo = Image(np.arange(256, dtype=np.float32).reshape(16, 16))
    assert display_window(photo) == (127.5, 255.0)
    ct = Image(np.linspace(-1000, 3000, 10000).reshape(100, 100), units="HU")
    center, width = display_window(ct)
    assert width < 4000 and center == pytest.approx(1000, abs=30)
    assert to_display_uint8(photo).max() == 255


def test_percentile_window_of_constant_image_has_positive_width() -> None:
    assert percentile_window(np.full((8, 8), 7.0))[1] > 0


def _blob_volume(shape=(20, 24, 28)) -> np.ndarray:
    z, y, x = np.indices(shape)
    return np.exp(-((x - 12) ** 2 + (y - 10) ** 2 + (z - 9) ** 2) / 30.0).astype(np.float32) + x / 100.0


def test_resample_identity_is_exact() -> None:
    volume = Image(_blob_volume(), axes="ZYX", affine=affine_from_spacing((1, 1, 2)))
    out = resample_to(volume, volume)
    np.testing.assert_array_equal(out.pixels, volume.pixels)


def test_resample_translation_shifts_by_world_distance() -> None:
    data = _blob_volume()
    source = Image(data, axes="ZYX", affine=affine_from_spacing((1, 1, 2), origin=(0, 0, 0)))
    # Reference grid starts 3 mm further along x: its voxel i sits at source voxel i + 3.
    reference = Image(np.zeros_like(data), axes="ZYX", affine=affine_from_spacing((1, 1, 2), origin=(3, 0, 4)))
    out = resample_to(source, reference)
    np.testing.assert_allclose(out.pixels[:-2, :, :-3], data[2:, :, 3:], atol=1e-5)
    assert np.all(out.pixels[:, :, -3:] == 0)  # outside the source: fill


def test_resample_nearest_keeps_labels() -> None:
    labels = np.zeros((10, 10, 10), np.float32)
    labels[3:7, 3:7, 3:7] = 2
    source = Image(labels, axes="ZYX", affine=affine_from_spacing((1, 1, 1)))
    fine = Image(np.zeros((20, 20, 20)), axes="ZYX", affine=affine_from_spacing((0.5, 0.5, 0.5)))
    out = resample_to(source, fine, order=0)
    assert set(np.unique(out.pixels)) == {0.0, 2.0}


def test_resample_refuses_2d_to_volume() -> None:
    with pytest.raises(GeometryError):
        resample_to(Image(np.zeros((4, 4))), Image(np.zeros((2, 4, 4)), axes="ZYX"))


def test_resize_2d_colour_keeps_field_of_view() -> None:
    rgb = Image(np.random.default_rng(0).uniform(0, 255, (40, 60, 3)), axes="YXC")
    out = resize_to_shape(rgb, (20, 30))
    assert out.pixels.shape == (20, 30, 3)
    assert out.spacing[:2] == pytest.approx((2.0, 2.0))


def test_overlap_fraction() -> None:
    a = Image(np.zeros((10, 10, 10)), axes="ZYX")
    far = Image(np.zeros((10, 10, 10)), axes="ZYX", affine=affine_from_spacing(origin=(100, 0, 0)))
    half = Image(np.zeros((10, 10, 10)), axes="ZYX", affine=affine_from_spacing(origin=(5, 0, 0)))
    assert overlap_fraction(a, a) == 1.0
    assert overlap_fraction(a, far) == 0.0
    assert 0.3 < overlap_fraction(a, half) < 0.7
