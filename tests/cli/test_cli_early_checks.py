"""Every command refuses a bad output folder before any work, and argument errors exit 2 (issue 15, case 3)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main


@pytest.fixture
def blocker(tmp_path):
    """A regular file: any output below it cannot be created."""
    path = tmp_path / "file.txt"
    path.write_text("x")
    return path


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        PILImage.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / name)
    return folder / "a.png", folder / "b.png"


def test_evaluate_checks_its_output_folder_first(tmp_path, blocker, capsys, monkeypatch) -> None:
    from textdifuse_desktop.metrics import evaluation

    monkeypatch.setattr(evaluation, "evaluate_folders", lambda *a, **k: pytest.fail("evaluated"))
    folder = str(tmp_path)
    assert main(["evaluate", folder, folder, folder, "-o", str(blocker / "report")]) == 5
    assert main(["evaluate", folder, folder, folder, "-o", str(blocker)]) == 5
    assert main(["evaluate", folder, folder, folder, "-o", str(tmp_path / "r"), "--reference-a", folder]) == 2
    assert len([line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]) == 3


def test_regions_checks_its_output_folder_before_reading(images, blocker, capsys, monkeypatch) -> None:
    from textdifuse_desktop import io

    monkeypatch.setattr(io, "read_image", lambda *a, **k: pytest.fail("read"))
    a, b = map(str, images)
    assert main(["regions", a, b, "--propose", "hot", "-o", str(blocker / "regions")]) == 5
    assert main(["regions", a, b, "--propose", "hot", "-o", str(blocker)]) == 5
    (first, second) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "not a folder" in first and "must be a folder" in second


def test_degrade_argument_and_output_errors(images, blocker, capsys) -> None:
    src = str(images[0].parent)
    assert main(["degrade", src, "-o", str(blocker.parent / "out"), "--modality", "ir", "--max-ops", "0"]) == 2
    assert main(["degrade", src, "-o", str(blocker / "out"), "--modality", "ir"]) == 5
    assert not (blocker.parent / "out").exists()
