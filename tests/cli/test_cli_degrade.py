"""``textdifuse degrade`` end to end on a tiny synthetic folder."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli import cmd_degrade
from textdifuse_desktop.cli.main import main
from textdifuse_desktop.imaging import degrade as degrade_module
from textdifuse_desktop.imaging.color import rgb_to_ycbcr


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    yy, xx = np.mgrid[0:24, 0:33]
    grey = (40 + 4 * xx + 2 * yy).astype(np.uint8)
    PILImage.fromarray(grey).save(folder / "grey.png")
    rgb = np.stack([grey, 255 - grey, np.full_like(grey, 120)], axis=-1)
    PILImage.fromarray(rgb).save(folder / "colour.png")
    PILImage.fromarray(grey.astype(np.uint16) * 200).save(folder / "deep.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_degrade_folder_end_to_end(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _digest(src)
    out = tmp_path / "out"
    assert main(["degrade", str(src), "-o", str(out), "--modality", "vis", "--seed", "4"]) == 0
    assert _digest(src) == before  # the source is untouched
    assert sorted(p.name for p in out.iterdir()) == ["colour.png", "deep.png", "degradations.json", "grey.png"]
    for name in ("grey.png", "colour.png", "deep.png"):
        with PILImage.open(src / name) as a, PILImage.open(out / name) as b:
            assert (a.mode, a.size) == (b.mode, b.size)
            assert not np.array_equal(np.asarray(a), np.asarray(b))
    summary = json.loads((out / "degradations.json").read_text())
    assert summary["modality"] == "vis" and summary["seed"] == 4
    assert set(summary["files"]) == {"grey.png", "colour.png", "deep.png"}
    for records in summary["files"].values():
        assert 1 <= len(records) <= 3
        assert all(r["op"] in degrade_module.ORDER for r in records)
    assert "degraded 3 image(s)" in capsys.readouterr().out


def test_same_seed_reproduces_and_files_are_independent(src: Path, tmp_path: Path) -> None:
    args = ["--modality", "ir", "--seed", "9"]
    assert main(["degrade", str(src), "-o", str(tmp_path / "o1"), *args]) == 0
    assert main(["degrade", str(src), "-o", str(tmp_path / "o2"), *args]) == 0
    assert _digest(tmp_path / "o1") == _digest(tmp_path / "o2")
    single = tmp_path / "single"
    single.mkdir()
    shutil.copy(src / "grey.png", single / "grey.png")
    assert main(["degrade", str(single), "-o", str(tmp_path / "o3"), *args]) == 0
    assert _digest(tmp_path / "o3")["grey.png"] == _digest(tmp_path / "o1")["grey.png"]
    assert main(["degrade", str(src), "-o", str(tmp_path / "o4"), "--modality", "ir", "--seed", "10"]) == 0
    assert _digest(tmp_path / "o4")["grey.png"] != _digest(tmp_path / "o1")["grey.png"]


def test_colour_images_keep_their_chroma(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["degrade", str(src), "-o", str(out), "--modality", "mri", "--seed", "1"]) == 0
    with PILImage.open(src / "colour.png") as a, PILImage.open(out / "colour.png") as b:
        ycc_a = rgb_to_ycbcr(np.asarray(a, dtype=np.float32))
        ycc_b = rgb_to_ycbcr(np.asarray(b, dtype=np.float32))
    assert np.abs(ycc_a[..., 1:] - ycc_b[..., 1:]).mean() < 3.0


def test_never_writes_into_the_source(src: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _digest(src)
    assert main(["degrade", str(src), "-o", str(src), "--modality", "ct"]) != 0
    assert main(["degrade", str(src), "-o", str(src / "inner"), "--modality", "ct"]) != 0
    assert "source folder" in capsys.readouterr().err
    assert _digest(src) == before


def test_existing_outputs_need_force(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["degrade", str(src), "-o", str(out), "--modality", "pet"]) == 0
    assert main(["degrade", str(src), "-o", str(out), "--modality", "pet"]) == 5
    assert "--force" in capsys.readouterr().err
    assert main(["degrade", str(src), "-o", str(out), "--modality", "pet", "--seed", "2", "--force"]) == 0


def test_empty_or_missing_source_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["degrade", str(tmp_path / "empty"), "-o", str(tmp_path / "o"), "--modality", "ir"]) == 3
    assert main(["degrade", str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "--modality", "ir"]) == 3


def test_parser_modalities_match_the_library() -> None:
    assert set(cmd_degrade.MODALITIES) == set(degrade_module.MODALITIES)
