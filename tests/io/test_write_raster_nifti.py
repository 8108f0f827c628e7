"""PNG, TIFF and NIfTI writers: round trips of values and geometry."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import tifffile
from _writer_fixtures import oblique_affine
from PIL import Image as PILImage

from textdifuse_desktop.errors import GeometryError, WriteError
from textdifuse_desktop.imaging.image import Image, Provenance
from textdifuse_desktop.io.writers import infer_format, write_image, write_label_nifti


def test_png_grey_in_0_255_round_trips_exactly(tmp_path, rng):
    pixels = rng.integers(0, 256, (9, 7)).astype(np.float32)
    (path,) = write_image(Image(pixels), tmp_path / "g.png")
    back = np.asarray(PILImage.open(path))
    assert back.dtype == np.uint8 and back.shape == (9, 7)
    np.testing.assert_array_equal(back, pixels)


def test_png_rgb_and_window_mapping(tmp_path, rng):
    rgb = rng.integers(0, 256, (5, 6, 3)).astype(np.float32)
    (path,) = write_image(Image(rgb, "YXC"), tmp_path / "c.png")
    np.testing.assert_array_equal(np.asarray(PILImage.open(path).convert("RGB")), rgb)
    ct = Image(np.array([[-1000.0, 40.0, 240.0, 3000.0]]), window=(40.0, 400.0), units="HU")
    (path,) = write_image(ct, tmp_path / "ct.png")
    np.testing.assert_allclose(np.asarray(PILImage.open(path))[0], [0, 127.5, 255, 255], atol=0.5)


def test_png_without_window_uses_percentiles(tmp_path):
    pixels = np.linspace(0, 4000, 1000, dtype=np.float32).reshape(10, 100)
    (path,) = write_image(Image(pixels), tmp_path / "p.png")
    back = np.asarray(PILImage.open(path))
    assert back.min() == 0 and back.max() == 255 and 120 <= back[5, 0] <= 135


def test_png_volume_becomes_folder_of_slices(tmp_path, rng):
    volume = Image(rng.integers(0, 256, (3, 4, 5)).astype(np.float32), "ZYX")
    files = write_image(volume, tmp_path / "slices", format="png")
    assert [f.name for f in files] == ["slice_0000.png", "slice_0001.png", "slice_0002.png"]
    np.testing.assert_array_equal(np.asarray(PILImage.open(files[2])), volume.pixels[2])


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
def test_tiff_keeps_values_and_geometry(tmp_path, rng, dtype):
    pixels = rng.normal(300, 80, (6, 8)).astype(np.float32)
    image = Image(pixels, affine=oblique_affine(), modality="IR", units="degC")
    (path,) = write_image(image, tmp_path / "t.tiff", dtype=dtype)
    stored = tifffile.imread(path)
    meta = json.loads(tifffile.TiffFile(path).pages[0].description)
    assert stored.dtype == np.dtype(dtype) and meta["units"] == "degC" and meta["modality"] == "IR"
    np.testing.assert_allclose(meta["affine"], image.affine, atol=1e-8)
    if dtype == "float32":
        np.testing.assert_array_equal(stored, pixels)
    else:
        scale = meta["rescale"]
        values = stored * scale["slope"] + scale["intercept"]
        assert np.abs(values - pixels).max() <= scale["slope"] / 2 + 1e-6


def test_nifti_round_trip_values_affine_and_header(tmp_path, rng):
    volume = Image(
        rng.normal(0, 1, (4, 6, 5)).astype(np.float32),
        "ZYX",
        oblique_affine(),
        modality="PT",
        units="SUV",
        provenance=Provenance(frame_of_reference_uid="1.2.3"),
    )
    (path,) = write_image(volume, tmp_path / "v.nii.gz", description="fused")
    nifti = nib.load(path)
    assert nifti.shape == (5, 6, 4) and nifti.get_data_dtype() == np.float32
    np.testing.assert_array_equal(np.asarray(nifti.dataobj).transpose(2, 1, 0), volume.pixels)
    qform, qcode = nifti.get_qform(coded=True)
    sform, scode = nifti.get_sform(coded=True)
    assert int(qcode) == int(scode) == 1
    np.testing.assert_allclose(qform, volume.affine, atol=1e-5)
    np.testing.assert_allclose(sform, volume.affine, atol=1e-5)
    descrip = nifti.header["descrip"].tobytes().decode()
    assert "SUV" in descrip and "fused" in descrip
    assert nifti.header.get_xyzt_units()[0] == "mm"


def test_nifti_2d_and_rgb(tmp_path, rng):
    grey = Image(rng.uniform(0, 1, (4, 3)).astype(np.float32))
    nifti = nib.load(write_image(grey, tmp_path / "g.nii")[0])
    assert nifti.shape == (3, 4, 1)
    np.testing.assert_array_equal(np.asarray(nifti.dataobj)[:, :, 0].T, grey.pixels)
    assert int(nifti.get_sform(coded=True)[1]) == 2  # aligned: no scanner frame of reference
    rgb = Image(rng.integers(0, 256, (4, 3, 3)).astype(np.float32), "YXC")
    data = np.asarray(nib.load(write_image(rgb, tmp_path / "c.nii")[0]).dataobj)
    assert data.dtype.names == ("R", "G", "B")
    np.testing.assert_array_equal(data["G"][:, :, 0].T, rgb.pixels[..., 1])


def test_label_nifti_on_reference_grid(tmp_path):
    reference = Image(np.zeros((3, 4, 5), np.float32), "ZYX", oblique_affine())
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[1, 2, 3] = 2
    path = write_label_nifti(labels, reference, tmp_path / "labels.nii.gz")
    nifti = nib.load(path)
    assert nifti.get_data_dtype() == np.uint8 and nifti.header.get_intent()[0] == "label"
    np.testing.assert_array_equal(np.asarray(nifti.dataobj).transpose(2, 1, 0), labels)
    np.testing.assert_allclose(nifti.affine, reference.affine, atol=1e-5)
    with pytest.raises(GeometryError, match="reference grid"):
        write_label_nifti(labels[:2], reference, tmp_path / "bad.nii.gz")


def test_format_inference_and_unknown_suffix(tmp_path):
    assert infer_format("a/b.NII.GZ") == "nifti" and infer_format("x.tif") == "tiff"
    assert infer_format("folder") is None
    with pytest.raises(WriteError, match="format"):
        write_image(Image(np.zeros((2, 2))), tmp_path / "noext")
