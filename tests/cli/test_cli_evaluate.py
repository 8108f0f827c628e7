"""``textdifuse evaluate`` end to end on tiny synthetic folders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textdifuse_desktop.cli.main import main
from textdifuse_desktop.metrics import compute_all, load_grey


def _make(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    dirs = {k: tmp_path / k for k in ("ir", "vi", "fusedA", "fusedB", "cleanA", "cleanB")}
    for d in dirs.values():
        d.mkdir()
    y, x = np.mgrid[0:48, 0:64]
    for i in range(3):
        a = np.clip(100 + 80 * np.sin(x / (3 + i)) + rng.normal(0, 5, x.shape), 0, 255).astype(np.uint8)
        b = np.clip(120 + 70 * np.cos(y / (4 + i)) + rng.normal(0, 5, x.shape), 0, 255).astype(np.uint8)
        rgb = np.stack([b, b // 2 + 60, 255 - b], axis=-1)
        Image.fromarray(a).save(dirs["ir"] / f"{i:03d}.png")
        Image.fromarray(rgb).save(dirs["vi"] / f"{i:03d}.jpg", quality=95)
        Image.fromarray(np.maximum(a, b)).save(dirs["fusedA"] / f"{i:03d}.png")
        Image.fromarray(((a.astype(int) + b) // 2).astype(np.uint8)).save(dirs["fusedB"] / f"{i:03d}.tif")
        Image.fromarray(np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)).save(dirs["cleanA"] / f"{i:03d}.png")
        Image.fromarray(rgb).save(dirs["cleanB"] / f"{i:03d}.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(dirs["fusedB"] / "999.png")  # no sources
    return dirs


def test_cli_evaluate_end_to_end(tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture) -> None:
    d = _make(tmp_path, rng)
    out = tmp_path / "report"
    code = main(["evaluate", str(d["ir"]), str(d["vi"]), str(d["fusedA"]), str(d["fusedB"]),
                 "--names", "Max", "Mean", "-o", str(out), "--jobs", "1"])
    assert code == 0
    captured = capsys.readouterr()
    assert "| Max |" in captured.out and "| Mean |" in captured.out
    assert "999.png" in captured.err and "no matching source pair" in captured.err
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert len(rows) == 2 * 3 + 2
    first = rows[0]
    assert (first["method"], first["image"]) == ("Max", "000.png")
    expected = compute_all(load_grey(d["ir"] / "000.png"), load_grey(d["vi"] / "000.jpg"),
                           load_grey(d["fusedA"] / "000.png"))
    for name, value in expected.items():
        assert float(first[name]) == pytest.approx(value, abs=1e-6)
    assert "999.png" in (out / "report.html").read_text()
    assert (out / "metrics.md").read_text().startswith("| Method |")


def test_cli_evaluate_with_references(tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture) -> None:
    d = _make(tmp_path, rng)
    out = tmp_path / "report"
    code = main(["evaluate", str(d["ir"]), str(d["vi"]), str(d["fusedA"]), "--reference-a", str(d["cleanA"]),
                 "--reference-b", str(d["cleanB"]), "-o", str(out), "--jobs", "1", "--thumbnails", "1"])
    assert code == 0
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert rows[0]["method"] == "fusedA"
    expected = compute_all(load_grey(d["cleanA"] / "000.png"), load_grey(d["cleanB"] / "000.png"),
                           load_grey(d["fusedA"] / "000.png"))
    assert float(rows[0]["MI"]) == pytest.approx(expected["MI"], abs=1e-6)
    assert "reference" in (out / "report.html").read_text().lower()


def test_cli_evaluate_errors(tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture) -> None:
    d = _make(tmp_path, rng)
    code = main(["evaluate", str(d["ir"]), str(d["vi"]), str(d["fusedA"]), "--reference-a", str(d["cleanA"]),
                 "-o", str(tmp_path / "r")])
    assert code == 2  # usage error: the two flags go together
    assert "--reference-b" in capsys.readouterr().err
    code = main(["evaluate", str(d["ir"]), str(tmp_path / "nope"), str(d["fusedA"]), "-o", str(tmp_path / "r")])
    assert code == 3
    assert "nope" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["evaluate", str(d["ir"]), str(d["vi"]), str(empty), "-o", str(tmp_path / "r"), "--jobs", "1"])
    assert code == 3
    err = capsys.readouterr().err
    assert "no image could be evaluated" in err and "no fused image" in err
    assert not (tmp_path / "r").exists()
