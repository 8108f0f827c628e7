"""``textdifuse convert``: format conversions through read_image and the writers."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main


def _nifti(path, rng, shape=(6, 7, 3)):
    angle = np.deg2rad(15)
    affine = np.array(
        [
            [0.9 * np.cos(angle), -0.8 * np.sin(angle), 0, -20],
            [0.9 * np.sin(angle), 0.8 * np.cos(angle), 0, 15],
            [0, 0, 2.5, 30],
            [0, 0, 0, 1],
        ]
    )
    data = rng.uniform(0, 1000, shape).astype(np.float32)
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return data, affine


def test_nifti_to_dicom_and_back(tmp_path, rng, capsys):
    data, affine = _nifti(tmp_path / "t1.nii.gz", rng)
    assert main(["convert", str(tmp_path / "t1.nii.gz"), "-o", str(tmp_path / "dicom"), "--format", "dicom"]) == 0
    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert len(files) == 3 and "3 files" in capsys.readouterr().out
    assert pydicom.dcmread(files[0]).ImageType[0] == "DERIVED"
    assert main(["convert", str(tmp_path / "dicom"), "-o", str(tmp_path / "back.nii.gz")]) == 0
    back = nib.load(tmp_path / "back.nii.gz")
    np.testing.assert_allclose(back.affine, affine, atol=1e-4)
    slope = (data.max() - data.min()) / 65535
    assert np.abs(back.get_fdata() - data).max() <= slope / 2 + 1e-3


def test_volume_to_png_slices(tmp_path, rng):
    _nifti(tmp_path / "v.nii", rng)
    assert main(["convert", str(tmp_path / "v.nii"), "-o", str(tmp_path / "slices"), "--format", "png", "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "slices").iterdir())
    assert names == ["slice_0000.png", "slice_0001.png", "slice_0002.png"]
    assert np.asarray(PILImage.open(tmp_path / "slices" / names[0])).shape == (7, 6)


def test_png_to_tiff(tmp_path, rng):
    pixels = rng.integers(0, 256, (5, 4), dtype=np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "a.png")
    assert main(["convert", str(tmp_path / "a.png"), "-o", str(tmp_path / "a.tif"), "-q"]) == 0
    import tifffile

    np.testing.assert_array_equal(tifffile.imread(tmp_path / "a.tif"), pixels)


def test_deidentified_dicom_conversion(tmp_path, rng):
    _nifti(tmp_path / "v.nii", rng)
    main(["convert", str(tmp_path / "v.nii"), "-o", str(tmp_path / "d"), "--format", "dicom", "-q"])
    assert (
        main(["convert", str(tmp_path / "d"), "-o", str(tmp_path / "anon"), "--format", "dicom", "--deidentify", "-q"])
        == 0
    )
    first = pydicom.dcmread(sorted((tmp_path / "anon").glob("*.dcm"))[0])
    original = pydicom.dcmread(sorted((tmp_path / "d").glob("*.dcm"))[0])
    assert first.PatientIdentityRemoved == "YES"
    assert first.StudyInstanceUID != original.StudyInstanceUID


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["missing.nii", "-o", "x.png"], 3, "not found"),
        (["in.png", "-o", "in.png"], 5, "refusing to overwrite"),
        (["in.png", "-o", "noformat"], 5, "output format"),
    ],
)
def test_errors_are_one_line_with_nonzero_exit(tmp_path, monkeypatch, capsys, args, code, text):
    monkeypatch.chdir(tmp_path)
    PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "in.png")
    before = (tmp_path / "in.png").read_bytes()
    assert main(["convert", *args]) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and text in err and "\n" not in err
    assert (tmp_path / "in.png").read_bytes() == before
