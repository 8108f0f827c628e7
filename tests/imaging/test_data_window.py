"""Default display windows come from the data: PET/SPECT body percentiles, CT preset, MR percentiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.intensity import (
    WINDOW_PRESETS,
    body_values,
    data_window,
    display_window,
    nice_ceiling,
    suv_range_window,
    window_to_unit,
)

PET_SLICE = Path(__file__).resolve().parents[1] / "data" / "io" / "pet_acrin_flt_breast_slice.dcm"


def synthetic_pet(header_window: tuple[float, float] | None = (17.9, 32.3), seed: int = 0) -> Image:
    """A 2D PET slice in SUV: air 0, a body disc around 0.8 SUV, a lesion of 7.2 SUV (its maximum)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:128, :128]
    body = (yy - 64) ** 2 / 45**2 + (xx - 64) ** 2 / 55**2 <= 1
    pixels = np.where(body, rng.gamma(8.0, 0.1, (128, 128)), 0.0).astype(np.float32)
    pixels[60:64, 70:74] = 7.2
    return Image(pixels, modality="PT", units="SUV", window=header_window)


def visible_share(image: Image, window: tuple[float, float], mask: np.ndarray) -> float:
    """Share of the masked pixels shown neither black nor white through ``window``."""
    unit = window_to_unit(image.pixels, *window)[mask]
    return float(np.mean((unit > 0.02) & (unit < 0.98)))


def test_pet_with_a_wrong_header_window_opens_visible() -> None:
    pet = synthetic_pet()
    body = pet.pixels > 0.05
    assert visible_share(pet, display_window(pet), body) < 0.05  # the header window: body black (issue 15, 5)
    center, width = data_window(pet)
    low, high = center - width / 2, center + width / 2
    assert 0.0 < low < 0.5 and 1.0 < high < 7.2
    assert visible_share(pet, (center, width), body) > 0.9
    assert window_to_unit(np.array([7.2]), center, width)[0] == 1.0  # the lesion stays brightest


def test_suv_preset_follows_the_data_range() -> None:
    pet = synthetic_pet()
    center, width = suv_range_window(pet.pixels)
    assert (center - width / 2, center + width / 2) == (0.0, nice_ceiling(np.percentile(body_values(pet.pixels),
                                                                                        99.5)))
    assert center + width / 2 <= 10.0  # not the fixed 0-10 that left a max-7.2 slice dim
    hot = synthetic_pet()
    hot.pixels[hot.pixels > 0] *= 3.0
    assert suv_range_window(hot.pixels)[1] > width  # a hotter scan gets a wider range


@pytest.mark.parametrize("value, expected", [(7.2, 8.0), (17.9, 20.0), (0.83, 0.9), (4.0, 4.0), (0.0, 1.0),
                                             (np.nan, 1.0), (123.0, 200.0)])
def test_nice_ceiling(value, expected) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)


def test_real_pet_slice_opens_within_its_data() -> None:
    pytest.importorskip("pydicom")
    from textdifuse_desktop.io import read_image

    pet = read_image(PET_SLICE)
    assert pet.units == "SUV" and pet.window is not None and pet.window[0] > pet.value_range()[1]
    center, width = data_window(pet)
    assert center + width / 2 < pet.value_range()[1] and center - width / 2 >= 0.0


def test_ct_gets_the_modality_preset_and_mr_percentiles() -> None:
    ct = Image(np.linspace(-1000, 2000, 64 * 64, dtype=np.float32).reshape(64, 64), modality="CT", units="HU",
               window=(3000.0, 10.0))
    assert data_window(ct) == WINDOW_PRESETS["soft tissue"]
    rng = np.random.default_rng(1)
    mr = Image(rng.uniform(100, 2000, (64, 64)).astype(np.float32), modality="MR", window=(600.0, 20.0))
    center, width = data_window(mr)
    assert visible_share(mr, (center, width), np.ones((64, 64), bool)) > 0.95


def test_every_modality_opens_visible() -> None:
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:96, :96]
    body = (yy - 48) ** 2 + (xx - 48) ** 2 < 35**2
    cases = {
        "PT": (np.where(body, rng.gamma(6, 0.2, body.shape), 0), "SUV", (40.0, 80.0)),
        "NM": (np.where(body, rng.poisson(200, body.shape), 0), "", None),
        "CT": (np.where(body, rng.normal(40, 30, body.shape), -1000), "HU", None),
        "MR": (np.where(body, rng.normal(800, 150, body.shape), 5), "", (10.0, 5.0)),
        "IR": (np.where(body, rng.normal(160, 20, body.shape), 30), "", None),
        "OT": (np.where(body, rng.normal(30000, 3000, body.shape), 1000), "", None),
    }
    for modality, (pixels, units, window) in cases.items():
        image = Image(np.asarray(pixels, np.float32), modality=modality, units=units, window=window)
        assert visible_share(image, data_window(image), body) > 0.5, modality


def test_body_values_fall_back_to_everything_on_background_only_images() -> None:
    assert body_values(np.zeros((10, 10))).size == 100
    assert body_values(np.full((4, 4), np.nan)).size == 0
    assert data_window(Image(np.zeros((8, 8), np.float32), modality="PT", units="SUV"))[1] > 0
