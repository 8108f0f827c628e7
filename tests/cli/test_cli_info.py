"""``textdifuse info``: text and JSON descriptions, one-line errors with a non-zero exit code."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main

PET = Path(__file__).resolve().parents[1] / "data" / "io" / "pet_acrin_flt_breast_slice.dcm"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["info", "--json", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_info_text_for_png_and_nifti(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    PILImage.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).save(tmp_path / "a.png")
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), np.diag([1.0, 2.0, 3.0, 1.0])), tmp_path / "v.nii.gz")
    assert main(["info", str(tmp_path / "a.png"), str(tmp_path / "v.nii.gz")]) == 0
    out = capsys.readouterr().out
    assert "2D image" in out and "3 x 4" in out and "0.0 .. 11.0" in out
    assert "volume" in out and "6 x 5 x 4" in out and "1.0 x 2.0 x 3.0" in out and "RAS" in out


def test_info_json_pet_reports_suv(capsys: pytest.CaptureFixture[str]) -> None:
    (info,) = _json(capsys, str(PET))
    assert info["kind"] == "2D image" and info["modality"] == "PT" and info["units"] == "SUV"
    assert info["suv"].startswith("yes") and info["orientation"] == "LPS"
    (raw,) = _json(capsys, "--no-suv", str(PET))
    assert raw["units"] == "Bq/ml" and "not applied" in raw["suv"]


def test_info_thermal_temperature(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tifffile.imwrite(tmp_path / "t.tif", np.full((4, 4), 30000, np.uint16))
    (plain,) = _json(capsys, "--modality", "IR", str(tmp_path / "t.tif"))
    assert plain["temperature"].startswith("no")
    (hot,) = _json(capsys, "--temperature-scale", "0.01", "-273.15", str(tmp_path / "t.tif"))
    assert hot["units"] == "degC" and hot["temperature"].startswith("yes")
    assert hot["value_range"] == [pytest.approx(26.85), pytest.approx(26.85)]


def test_info_error_is_one_line_and_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    PILImage.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "bad.txt").write_text("x")
    code = main(["info", str(tmp_path / "bad.txt"), str(tmp_path / "ok.png")])
    captured = capsys.readouterr()
    assert code == 3
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and "bad.txt" in errors[0]
    assert "ok.png" in captured.out  # later paths are still described


def test_info_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import av

    with av.open(str(tmp_path / "v.mp4"), "w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((16, 32, 3), 20 * index, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    (info,) = _json(capsys, str(tmp_path / "v.mp4"))
    assert info["kind"] == "video" and info["frames"] == 6 and info["frame_shape"] == [16, 32]
    (frame,) = _json(capsys, "--frame", "2", str(tmp_path / "v.mp4"))
    assert frame["kind"] == "2D image" and frame["shape"] == [16, 32]
    assert main(["info", str(tmp_path / "v.mp4")]) == 0
    assert "video" in capsys.readouterr().out
