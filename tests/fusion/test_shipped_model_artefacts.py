"""The shipped model on synthetic scenes that the old saliency-prior default got visibly wrong: a saturated bright
disc in the visible image over flat infrared (it became a dark hole), a hot figure on a dark visible background
(it got a dark ring) and a clipped sky over infrared foliage (it got grey bands).  Through the real engine, with
the default parameters; about 1 s on 2 CPU cores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from textdifuse_desktop.fusion import FusionParams, FusionRequest
from textdifuse_desktop.fusion.engine import fuse
from textdifuse_desktop.imaging.image import Image

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "textdifuse-compact" / "model.safetensors"
pytestmark = pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped weights not present")

SHAPE = (128, 160)


def _fuse(ir: np.ndarray, vis: np.ndarray) -> np.ndarray:
    request = FusionRequest(Image(ir.astype(np.float32), modality="IR"), Image(vis.astype(np.float32), modality="VIS"),
                            FusionParams(device="cpu"))
    return fuse(request).image.pixels.astype(np.float32)


def _texture(rng: np.random.Generator, level: float, amplitude: float) -> np.ndarray:
    return np.clip(level + amplitude * ndimage.gaussian_filter(rng.normal(0, 1, SHAPE), 1.5) * 3, 0, 255)


def _disc(radius: float, centre: tuple[float, float]) -> np.ndarray:
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def test_saturated_visible_disc_over_flat_infrared_stays_bright() -> None:
    rng = np.random.default_rng(0)
    ir = np.full(SHAPE, 70.0) + rng.normal(0, 1.0, SHAPE)
    vis = _texture(rng, 90, 12)
    disc = _disc(22, (64, 80))
    vis[disc] = 255.0  # a headlight's glow, clipped
    fused = _fuse(ir, vis)
    core = _disc(18, (64, 80))
    assert fused[core].mean() >= 200, fused[core].mean()  # bright, not a hole
    assert np.percentile(fused[core], 1) >= ir[core].mean()  # no pixel of it darker than the flat infrared


@pytest.mark.parametrize(("level", "amplitude"), [(35, 6), (120, 20)], ids=["dark visible", "lit visible"])
def test_hot_figure_on_visible_background_gets_no_dark_ring(level: float, amplitude: float) -> None:
    """A hot figure on cold, flat infrared: over a dark visible frame (night), and over a visible frame brighter
    than the infrared background (a lit street), where keeping the figure's edge by its infrared details would
    darken a ring beside it."""
    rng = np.random.default_rng(1)
    ir = np.full(SHAPE, 40.0) + rng.normal(0, 1.0, SHAPE)
    figure = np.zeros(SHAPE, bool)
    figure[30:100, 70:90] = True
    ir[figure] = 230.0
    vis = _texture(rng, level, amplitude)
    fused = _fuse(ir, vis)
    ring = ndimage.binary_dilation(figure, iterations=10) & ~ndimage.binary_dilation(figure, iterations=2)
    background = ~ndimage.binary_dilation(figure, iterations=25)
    floor = min(np.median(ir[ring]), np.median(vis[ring]))
    # The ring around the figure is no darker than the darker source there, nor than the far background.
    assert np.percentile(fused[ring], 5) >= floor - 8, (np.percentile(fused[ring], 5), floor)
    # Nor darker, against the far background, than either source is there (the texture's own ring-to-background
    # difference is a few grey levels by chance).
    def shift(image: np.ndarray) -> float:
        return float(image[ring].mean() - image[background].mean())

    assert shift(fused) >= min(shift(ir), shift(vis)) - 3, (shift(fused), shift(ir), shift(vis))
    assert fused[figure].mean() >= 180  # and the hot figure stands out


def test_clipped_sky_over_infrared_foliage_shows_no_bands() -> None:
    rng = np.random.default_rng(2)
    ir = _texture(rng, 110, 25)  # foliage texture across the whole infrared frame
    vis = _texture(rng, 100, 15)
    vis[:56] = 255.0  # clipped sky in the top rows
    fused = _fuse(ir, vis)
    sky = fused[4:48, 4:-4]
    assert sky.mean() >= 200, sky.mean()
    rows, cols = sky.mean(axis=1), sky.mean(axis=0)
    # No band: the row and column profiles of the sky stay flat.
    assert rows.max() - rows.min() <= 20 and cols.max() - cols.min() <= 20, (np.ptp(rows), np.ptp(cols))
