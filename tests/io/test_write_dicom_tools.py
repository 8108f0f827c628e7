"""Exported DICOM checked by external tools: dciodvfy (dicom3tools) and dcm2niix.

Both are skipped cleanly when the tool is not installed
(``apt-get install dicom3tools``; ``pip install dcm2niix``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _writer_fixtures import make_ct_series, oblique_affine

from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers import write_image, write_seg


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _dciodvfy_errors(path: Path) -> list[str]:
    result = subprocess.run([_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


@pytest.fixture
def exports(tmp_path, rng):
    """One file of each kind of DICOM object we write."""
    source = make_ct_series(tmp_path / "src", nz=2)
    mr = Image(rng.uniform(0, 255, (2, 6, 5)), "ZYX", oblique_affine(), modality="MR")
    paths = {
        "ct derived": write_image(source.with_pixels(source.pixels * 0.3), tmp_path / "ct", format="dicom")[0],
        "mr new study": write_image(mr, tmp_path / "mr", format="dicom")[0],
        "grey sc": write_image(mr.with_pixels(mr.pixels, modality="PT"), tmp_path / "pt", format="dicom")[0],
        "colour sc": write_image(
            Image(rng.uniform(0, 255, (8, 6, 3)), "YXC", modality="MR"), tmp_path / "c.dcm", reference=source
        )[0],
        "colour mf": write_image(Image(rng.uniform(0, 255, (2, 4, 6, 3)), "ZYXC"), tmp_path / "mf.dcm")[0],
        "deidentified": write_image(source, tmp_path / "anon", format="dicom", deidentify=True)[0],
        "seg": write_seg([source.pixels > 0, source.pixels < 0], ["a", "b"], source, tmp_path / "seg.dcm"),
        "seg deidentified": write_seg([source.pixels > 0], ["a"], source, tmp_path / "segd.dcm", deidentify=True),
    }
    return paths


def test_dciodvfy_reports_no_errors(exports):
    _tool("dciodvfy")
    problems = {kind: _dciodvfy_errors(path) for kind, path in exports.items()}
    assert {kind: errors for kind, errors in problems.items() if errors} == {}


def _check_dcm2niix_geometry(folder: Path, image: Image, tmp_path: Path) -> None:
    import nibabel as nib

    out = tmp_path / "dcm2niix"
    out.mkdir()
    subprocess.run(
        [_tool("dcm2niix"), "-z", "n", "-b", "n", "-f", "converted", "-o", str(out), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (nifti_path,) = out.glob("*.nii")
    nifti = nib.load(nifti_path)
    theirs = nifti.affine
    data = np.asarray(nifti.get_fdata())
    nz, ny, nx = image.grid_shape
    # dcm2niix may flip rows/slices: compare the world position of every voxel centre.
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)])
    world = image.affine @ ijk
    their_index = np.linalg.inv(theirs) @ world
    rounded = np.rint(their_index[:3]).astype(int)
    assert np.abs(theirs @ np.vstack([rounded, np.ones(i.size)]) - world).max() < 1e-3  # mm
    values = data[rounded[0], rounded[1], rounded[2]]
    expected = image.pixels.reshape(-1)
    assert np.abs(values - expected).max() <= (expected.max() - expected.min()) / 65535 + 1e-3


def test_dcm2niix_reproduces_derived_series_geometry(tmp_path, rng):
    _tool("dcm2niix")
    volume = Image(rng.uniform(-5, 250, (4, 7, 5)), "ZYX", oblique_affine(degrees=25.0), modality="MR")
    files = write_image(volume, tmp_path / "series", format="dicom")
    _check_dcm2niix_geometry(files[0].parent, volume, tmp_path)


def test_dcm2niix_reproduces_ct_reference_geometry(tmp_path):
    _tool("dcm2niix")
    source = make_ct_series(tmp_path / "src", nz=3)
    files = write_image(source, tmp_path / "series", format="dicom", reference=source)
    _check_dcm2niix_geometry(files[0].parent, source, tmp_path)
