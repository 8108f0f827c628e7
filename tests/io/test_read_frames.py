"""Readers expose the frames (time points, phases, echoes) of 4-D NIfTI and multi-image DICOM series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_read_dicom_series import COLS, ROWS, write_slice

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.io import read_image


def _nifti_4d(path: Path, frames: int = 3) -> Path:
    nib = pytest.importorskip("nibabel")
    data = np.zeros((6, 5, 4, frames), np.float32)
    for t in range(frames):
        data[..., t] = 10.0 * (t + 1)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def test_4d_nifti_reports_its_frames_and_reads_the_chosen_one(tmp_path: Path) -> None:
    path = _nifti_4d(tmp_path / "dyn.nii.gz")
    first = read_image(path)
    assert first.meta["frame_count"] == 3 and first.meta["frame"] == 0 and first.pixels.max() == 10
    third = read_image(path, frame=2)
    assert third.meta["frame"] == 2 and np.all(third.pixels == 30)
    with pytest.raises(ImageDataError, match="frame=3 is out of range: the file has 3 frame"):
        read_image(path, frame=3)


def test_dicom_series_with_time_points_reports_frames(tmp_path: Path) -> None:
    folder = tmp_path / "dynamic"
    folder.mkdir()
    for t in range(3):
        for k in range(2):
            write_slice(folder / f"t{t}_{k}.dcm", series="1.2.3.78", position=(0, 0, 3.0 * k),
                        stored=np.full((ROWS, COLS), 1124 + 10 * k + 50 * t), instance=1 + k + 2 * t)
    first = read_image(folder)
    assert first.meta["frame_count"] == 3 and first.meta["frame"] == 0
    last = read_image(folder, frame=2)
    assert last.meta["frame"] == 2 and np.allclose(last.pixels[:, 1, 1], [200, 210])
    with pytest.raises(ReadError, match="frame=3 is out of range"):
        read_image(folder, frame=3)
    with pytest.raises(ReadError, match="frame=-1 is out of range"):
        read_image(folder, frame=-1)


def test_single_frame_sources_report_no_frames(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    for k in range(2):
        write_slice(folder / f"s{k}.dcm", series="1.2.3.79", position=(0, 0, 3.0 * k),
                    stored=np.full((ROWS, COLS), 1124), instance=1 + k)
    assert "frame_count" not in read_image(folder).meta
