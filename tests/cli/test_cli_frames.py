"""``textdifuse fuse --frame-a/--frame-b``: one time point of each 4-D source, checked before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from textdifuse_desktop.cli.main import main

nib = pytest.importorskip("nibabel")


def _dynamic(path: Path, frames: int, axis: int) -> Path:
    """A 4-D file whose bright block moves along ``axis`` (0 = i, 1 = j) from frame to frame."""
    data = np.zeros((8, 6, 4, frames), np.float32)
    for t in range(frames):
        box = [slice(None)] * 3
        box[axis] = slice(2 * t, 2 * t + 2)
        data[(*box, t)] = 50.0
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return path


def test_frame_a_and_frame_b_pick_each_sources_time_point(tmp_path: Path) -> None:
    a, b = _dynamic(tmp_path / "a.nii.gz", 3, axis=0), _dynamic(tmp_path / "b.nii.gz", 2, axis=1)
    out = tmp_path / "fused.nii.gz"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--method", "max", "--quiet",
                 "--frame-a", "2", "--frame-b", "1"]) == 0
    fused = np.asarray(nib.load(out).dataobj)
    expected = np.zeros((8, 6, 4), bool)
    expected[4:6] = True  # A's block in frame 2
    expected[:, 2:4] = True  # B's block in frame 1
    assert fused.shape == (8, 6, 4)
    np.testing.assert_array_equal(fused > 1, expected)


def test_frame_out_of_range_is_an_input_error_before_fusion(tmp_path: Path, capsys) -> None:
    a, b = _dynamic(tmp_path / "a.nii.gz", 3, axis=0), _dynamic(tmp_path / "b.nii.gz", 2, axis=1)
    out = tmp_path / "fused.nii.gz"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--method", "max", "--quiet", "--frame-b", "2"]) == 3
    err = capsys.readouterr().err
    assert "frame=2 is out of range: the file has 2 frame(s)" in err and "b.nii.gz" in err
    assert not out.exists()


def test_negative_frame_is_a_usage_error(tmp_path: Path, capsys) -> None:
    a, b = _dynamic(tmp_path / "a.nii.gz", 2, axis=0), _dynamic(tmp_path / "b.nii.gz", 2, axis=1)
    assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "f.nii.gz"), "--frame-a", "-1"]) == 2
    assert "--frame-a must be 0 or more" in capsys.readouterr().err
