"""Weight-free proposals: hot objects (infrared) and high uptake (PET), on planted blobs and a real PET slice."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.session.proposals import (
    add_regions,
    default_min_size,
    hot_mask,
    normalise_kind,
    otsu_threshold,
    pick_source,
    propose,
    propose_hot,
    propose_uptake,
    salient_source,
    split_components,
    uptake_mask,
)
from textdifuse_desktop.session.regions import RegionSet


def _disc(shape, center, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius**2


def _iou(a, b):
    return np.count_nonzero(a & b) / max(np.count_nonzero(a | b), 1)


@pytest.fixture
def ir_scene(rng):
    """Textured 0..255 infrared background with three hot blobs and one speck too small to keep."""
    shape = (120, 160)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    pixels = 60 + 30 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 6, shape)
    pixels[:30] += 40  # a warmer "sky" band that must not become a hot object
    blobs = [_disc(shape, (80, 40), 12), _disc(shape, (60, 110), 8), _disc(shape, (20, 140), 5)]
    for blob in blobs:
        pixels[blob] = 235 + rng.normal(0, 4, np.count_nonzero(blob))
    pixels[100, 100] = 250  # a single hot pixel: noise, below the minimum size
    return Image(np.clip(pixels, 0, 255).astype(np.float32), modality="OT"), blobs


def test_otsu_splits_two_modes(rng) -> None:
    values = np.concatenate([rng.normal(50, 5, 3000), rng.normal(200, 5, 1000)])
    assert 70 < otsu_threshold(values) < 180
    assert otsu_threshold(np.full(10, 3.0)) == 3.0


def test_hot_objects_find_the_planted_blobs_biggest_first(ir_scene) -> None:
    image, blobs = ir_scene
    regions = propose_hot(image, source="A", min_size=30)
    assert [r.name for r in regions] == ["hot 1", "hot 2", "hot 3"]
    for region, blob in zip(regions, blobs):
        assert _iou(region.mask, blob) > 0.8
        assert region.origin == "proposal" and region.source == "A" and region.kappa == pytest.approx(1.5)
    assert not any(r.mask[100, 100] for r in regions)  # the speck is dropped
    band = np.zeros_like(blobs[0])
    band[:30] = True
    assert not any((r.mask & band & ~blobs[2]).any() for r in regions)  # the warm band is not "hot"


def test_hot_objects_radiometric_threshold_in_celsius() -> None:
    shape = (64, 64)
    temps = np.full(shape, 20.0, np.float32)
    person, warm_car = _disc(shape, (20, 20), 6), _disc(shape, (45, 45), 7)
    temps[person], temps[warm_car] = 35.0, 27.0
    image = Image(temps, modality="IR", units="degC")
    assert np.array_equal(hot_mask(image), person)  # default 30 degC
    assert np.array_equal(hot_mask(image, celsius=25.0), person | warm_car)
    regions = propose_hot(image, celsius=25.0, min_size=10, kappa=2.2)
    assert len(regions) == 2 and all(r.kappa == pytest.approx(2.2) for r in regions)


def test_suv_uptake_uses_2_5_and_40_percent_of_local_max() -> None:
    shape = (80, 80)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    suv = np.full(shape, 1.0, np.float32)
    lesion = 10.0 * np.exp(-((yy - 25) ** 2 + (xx - 25) ** 2) / (2 * 6.0**2))
    faint = 1.3 * np.exp(-((yy - 60) ** 2 + (xx - 60) ** 2) / (2 * 5.0**2))  # peaks at SUV 2.3: not uptake
    suv = (suv + lesion + faint).astype(np.float32)
    image = Image(suv, modality="PT", units="SUV")
    mask = uptake_mask(image, min_size=5)
    local_max = suv[:50, :50].max()
    expected = np.zeros(shape, bool)
    expected[:50, :50] = suv[:50, :50] >= 0.4 * local_max
    assert np.array_equal(mask, expected)
    assert not mask[40:, 40:].any()
    regions = propose_uptake(image, source="B", min_size=5)
    assert [r.name for r in regions] == ["uptake 1"] and regions[0].source == "B"


def test_suv_uptake_on_a_volume_is_labelled_in_3d() -> None:
    suv = np.ones((6, 40, 40), np.float32)
    suv[2:5, 10:16, 10:16] = 8.0  # one lesion over three slices
    suv[1, 30:33, 30:33] = 6.0  # a second, separate one
    regions = propose_uptake(Image(suv, axes="ZYX", modality="PT", units="SUV"), min_size=5)
    assert len(regions) == 2 and regions[0].mask.shape == suv.shape
    assert regions[0].pixel_count == 3 * 36 and regions[1].pixel_count == 9


def test_uptake_on_a_real_colour_pet_slice(data_dir) -> None:
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.session.proposals import intensity_of

    pet = read_image(data_dir / "regions" / "harvard_pet_25038.png")
    regions = propose_uptake(pet)
    assert regions and regions[0].name == "uptake 1"
    luma = intensity_of(pet)
    head = luma > 10
    mask = regions[0].mask
    assert 0.2 < mask.sum() / head.sum() < 0.95  # part of the head, not all of it, not a speck
    assert luma[mask].mean() > 2.0 * luma[head & ~mask].mean()  # the brightest tracer uptake
    assert all(r.pixel_count >= default_min_size(mask.shape) for r in regions)


def test_components_respect_min_size_and_max_regions() -> None:
    mask = np.zeros((30, 30), bool)
    mask[2:8, 2:8] = True
    mask[20:23, 20:23] = True
    mask[12, 12] = True
    assert [c.sum() for c in split_components(mask, 5)] == [36, 9]
    assert [c.sum() for c in split_components(mask, 5, max_regions=1)] == [36]
    assert split_components(np.zeros((4, 4), bool), 1) == []


def test_source_choice_by_modality_and_colour() -> None:
    grey = Image(np.zeros((8, 8), np.float32))
    photo = Image(np.random.default_rng(0).uniform(0, 255, (8, 8, 3)).astype(np.float32), axes="YXC")
    pet_rgb = np.zeros((8, 8, 3), np.float32)
    pet_rgb[3:5, 3:5] = (255, 128, 0)
    pet = Image(pet_rgb, axes="YXC")
    assert pick_source("hot", grey, photo) == "A" and pick_source("hot", photo, grey) == "B"
    assert pick_source("uptake", grey, pet) == "B" and pick_source("high_uptake", pet, grey) == "A"
    assert pick_source("hot", Image(np.zeros((8, 8), np.float32), modality="VIS"),
                       Image(np.zeros((8, 8), np.float32), modality="IR")) == "B"
    assert salient_source(grey, photo) == "A" and salient_source(grey, pet) == "B"
    with pytest.raises(ValueError, match="hot"):
        normalise_kind("warm")


def test_propose_and_add_regions_is_undoable(ir_scene) -> None:
    image, _ = ir_scene
    other = Image(np.stack([image.pixels] * 3, axis=-1) * np.array([1.0, 0.8, 0.6], np.float32), axes="YXC")
    regions = propose("hot_objects", image, other, min_size=30)
    assert regions and all(r.source == "A" for r in regions)
    region_set = RegionSet((120, 160))
    assert add_regions(region_set, regions) == [0, 1, 2]
    assert region_set[0].origin == "proposal" and region_set.can_undo
    region_set.undo()
    assert len(region_set) == 2


def test_a_dark_night_photograph_is_not_taken_for_a_colour_coded_pet() -> None:
    rng = np.random.default_rng(1)
    night = Image(rng.uniform(5, 40, (32, 32, 3)).astype(np.float32), axes="YXC")  # dark, never black
    night.pixels[:2, :2] = 250.0  # one street lamp
    infrared = Image(rng.uniform(0, 255, (32, 32)).astype(np.float32))
    assert salient_source(infrared, night) == "A" and salient_source(night, infrared) == "B"
