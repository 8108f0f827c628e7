"""Raster reader: PNG/JPEG/BMP/TIFF, bit depths, colour modes, thermal temperature scale, size limit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.io import read_image
from textdifuse_desktop.io.readers import raster


def test_png_8bit_grey(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.integers(0, 256, (7, 9), dtype=np.uint8)
    PILImage.fromarray(data).save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert image.axes == "YX" and np.array_equal(image.pixels, data)
    assert image.modality == "OT" and np.array_equal(image.affine, np.eye(4))


def test_png_16bit_keeps_full_range(tmp_path: Path) -> None:
    data = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    PILImage.fromarray(data).save(tmp_path / "g16.png")
    assert np.array_equal(read_image(tmp_path / "g16.png").pixels, data)


def test_rgba_and_palette_become_rgb(tmp_path: Path, rng: np.random.Generator) -> None:
    rgba = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.axes == "YXC" and np.array_equal(image.pixels, rgba[..., :3])
    assert any("alpha" in w for w in image.meta["warnings"])
    palette = PILImage.fromarray(rgba[..., :3], "RGB").convert("P", palette=PILImage.Palette.ADAPTIVE, colors=8)
    palette.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.axes == "YXC" and np.array_equal(image.pixels, np.asarray(palette.convert("RGB")))


def test_rgb_with_identical_channels_is_grey(tmp_path: Path, rng: np.random.Generator) -> None:
    grey = rng.integers(0, 256, (4, 4), dtype=np.uint8)
    PILImage.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "c.bmp")
    image = read_image(tmp_path / "c.bmp")
    assert image.axes == "YX" and np.array_equal(image.pixels, grey) and image.meta["grey_from_rgb"]


def test_jpeg_colour(tmp_path: Path) -> None:
    data = np.zeros((16, 16, 3), np.uint8)
    data[..., 0] = 200
    PILImage.fromarray(data).save(tmp_path / "c.jpg", quality=95)
    image = read_image(tmp_path / "c.jpg")
    assert image.axes == "YXC" and abs(image.pixels[..., 0].mean() - 200) < 3


def test_png_content_with_wrong_suffix_is_sniffed(tmp_path: Path) -> None:
    PILImage.fromarray(np.full((3, 3), 7, np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "x.dat").write_bytes((tmp_path / "x.png").read_bytes())
    assert read_image(tmp_path / "x.dat").pixels.max() == 7


def test_thermal_tiff_temperature_option_and_sidecar(tmp_path: Path) -> None:
    raw = np.array([[7000, 7500], [8000, 9000]], dtype=np.uint16)
    tifffile.imwrite(tmp_path / "t.tiff", raw)
    plain = read_image(tmp_path / "t.tiff")
    assert plain.units == "" and np.array_equal(plain.pixels, raw)
    hot = read_image(tmp_path / "t.tiff", temperature_scale=(0.01, -273.15))
    assert hot.units == "degC" and hot.modality == "IR"
    assert np.allclose(hot.pixels, raw * 0.01 - 273.15, atol=1e-3)
    (tmp_path / "t.json").write_text(json.dumps({"temperature_gain": 0.04, "temperature_offset": -273.15}))
    side = read_image(tmp_path / "t.tiff")
    assert side.units == "degC" and side.meta["temperature_scale"] == (0.04, -273.15)
    with pytest.raises(ImageDataError, match="temperature scale"):
        read_image(tmp_path / "t.tiff", temperature_scale=("a", 1))


def test_temperature_scale_refused_for_colour(tmp_path: Path, rng: np.random.Generator) -> None:
    PILImage.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    with pytest.raises(ImageDataError, match="single-channel"):
        read_image(tmp_path / "c.png", temperature_scale=(1, 0))


def test_multipage_and_planar_tiff(tmp_path: Path, rng: np.random.Generator) -> None:
    pages = rng.integers(0, 4096, (3, 6, 5), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "m.tif", pages, photometric="minisblack")
    image = read_image(tmp_path / "m.tif", frame=2)
    assert np.array_equal(image.pixels, pages[2]) and any("3 pages" in w for w in image.meta["warnings"])
    rgb = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", rgb, photometric="rgb", planarconfig="separate")
    image = read_image(tmp_path / "planar.tif")
    assert image.axes == "YXC" and np.array_equal(image.pixels, np.moveaxis(rgb, 0, -1))


def test_pixel_limit_gives_image_data_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raster, "MAX_PIXELS", 100)
    PILImage.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "big.png")
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((20, 20), np.uint8))
    for name in ("big.png", "big.tif"):
        with pytest.raises(ImageDataError, match="megapixel.*downsample"):
            read_image(tmp_path / name)


def test_truncated_png_is_a_read_error(tmp_path: Path, rng: np.random.Generator) -> None:
    PILImage.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "t.png")
    (tmp_path / "t.png").write_bytes((tmp_path / "t.png").read_bytes()[:200])
    with pytest.raises(ReadError, match="t.png"):
        read_image(tmp_path / "t.png")
