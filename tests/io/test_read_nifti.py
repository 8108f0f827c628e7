"""NIfTI reader: nibabel's example files and synthetic volumes."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.io import read_image


def _save(path: Path, data: np.ndarray, affine: np.ndarray | None = None, *, sform: bool = True) -> Path:
    affine = np.diag([2.0, 3.0, 4.0, 1.0]) if affine is None else affine
    img = nib.Nifti1Image(data, affine)
    if not sform:
        img.header.set_sform(None, code=0)
        img.header.set_qform(affine, code=1)
    nib.save(img, path)
    return path


def test_array_is_transposed_to_zyx_with_affine_unchanged(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.normal(size=(5, 4, 3)).astype(np.float32)  # (i, j, k)
    affine = np.array([[0, 0, 2.0, -10], [-1.5, 0, 0, 20], [0, 3.0, 0, 5], [0, 0, 0, 1]])
    image = read_image(_save(tmp_path / "v.nii.gz", data, affine))
    assert image.axes == "ZYX" and image.pixels.shape == (3, 4, 5)
    assert np.array_equal(image.pixels, data.transpose(2, 1, 0))
    assert np.allclose(image.affine, affine)
    assert image.meta["affine_source"] == "sform" and image.meta["frame_count"] == 1
    # pixels[k, j, i] lies at affine @ (i, j, k)
    assert image.pixels[2, 1, 4] == data[4, 1, 2]


def test_qform_only_is_recorded(tmp_path: Path) -> None:
    image = read_image(_save(tmp_path / "q.nii", np.ones((3, 3, 3), np.int16), sform=False))
    assert image.meta["affine_source"] == "qform"
    assert image.spacing == pytest.approx((2.0, 3.0, 4.0))


def test_nibabel_example_4d_frames() -> None:
    path = Path(data_path) / "example4d.nii.gz"
    first = read_image(path)
    assert first.meta["frame_count"] == 2 and any("2 frames" in w for w in first.meta["warnings"])
    second = read_image(path, frame=1)
    img = nib.load(path)
    assert np.allclose(second.pixels, np.asarray(img.dataobj[..., 1], dtype=np.float32).transpose(2, 1, 0))
    assert second.meta["warnings"] == []
    with pytest.raises(ImageDataError, match="frame=2"):
        read_image(path, frame=2)


def test_nibabel_anatomical_matches_get_fdata() -> None:
    path = Path(data_path) / "anatomical.nii"
    image = read_image(path)
    img = nib.load(path)
    assert np.allclose(image.pixels, img.get_fdata().transpose(2, 1, 0))
    assert np.allclose(image.affine, img.affine)


def test_nans_replaced_with_warning(tmp_path: Path) -> None:
    data = np.ones((4, 4, 2), np.float32)
    data[0, 0, 0] = np.nan
    data[1, 1, 1] = np.inf
    image = read_image(_save(tmp_path / "nan.nii", data))
    assert np.isfinite(image.pixels).all() and image.pixels[0, 0, 0] == 0
    assert any("2 NaN" in w for w in image.meta["warnings"])


def test_all_nan_is_an_image_data_error(tmp_path: Path) -> None:
    with pytest.raises(ImageDataError, match="nan.nii.*NaN"):
        read_image(_save(tmp_path / "nan.nii", np.full((3, 3, 3), np.nan, np.float32)))


def test_single_slice_is_2d_and_ct_gets_hu(tmp_path: Path) -> None:
    image = read_image(_save(tmp_path / "s.nii", np.zeros((6, 5, 1), np.int16) - 1000), modality="ct")
    assert image.axes == "YX" and image.pixels.shape == (5, 6)
    assert image.modality == "CT" and image.units == "HU"


def test_truncated_gzip_is_a_read_error(tmp_path: Path, rng: np.random.Generator) -> None:
    path = _save(tmp_path / "t.nii.gz", rng.normal(size=(20, 20, 20)).astype(np.float32))
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ReadError, match="t.nii.gz"):
        read_image(path)
