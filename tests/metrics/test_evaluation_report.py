"""Folder pairing, skipping, per-method means and the CSV/Markdown/HTML report."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.metrics import METRICS, compute_all, load_grey
from textdifuse_desktop.metrics.evaluation import (
    evaluate_folders,
    list_images,
    pair_folders,
)
from textdifuse_desktop.metrics.report import csv_text, markdown_text, write_report

REF = Path(__file__).resolve().parents[1] / "data" / "metrics"
COLUMNS = "method,image,EN,SD,SF,AG,MI,SCD,VIF,Qabf,SSIM,CC,PSNR,Nabf"


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def folders(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    """A/B sources for x, y, z (z only in A), method m1 (x, y as JPEG-free BMP, extra w), m2 (x, broken y)."""
    shape = (40, 56)
    imgs = {s: (rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
            for s in ("x", "y", "z")}
    for stem, (a, b) in imgs.items():
        _save(tmp_path / "A" / f"{stem}.png", a)
        if stem != "z":
            _save(tmp_path / "B" / f"{stem}.png", b)
    _save(tmp_path / "m1" / "x.png", np.maximum(imgs["x"][0], imgs["x"][1][..., 0]))
    _save(tmp_path / "m1" / "y.bmp", imgs["y"][0] // 2 + imgs["y"][1][..., 1] // 2)
    _save(tmp_path / "m1" / "w.png", imgs["x"][0])
    _save(tmp_path / "m2" / "x.png", np.zeros((20, 20), np.uint8))  # size mismatch
    (tmp_path / "m2" / "y.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # unreadable
    (tmp_path / "m2" / "notes.txt").write_text("not an image")
    return {k: tmp_path / k for k in ("A", "B", "m1", "m2")}


def test_list_images_prefers_png_and_reports_duplicates(tmp_path: Path) -> None:
    _save(tmp_path / "a.jpg", np.zeros((8, 8), np.uint8))
    _save(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    images, issues = list_images(tmp_path)
    assert images == {"a": tmp_path / "a.png"}
    assert len(issues) == 1 and issues[0].path == tmp_path / "a.jpg"
    with pytest.raises(ReadError):
        list_images(tmp_path / "missing")


def test_pairing_reports_every_unpaired_file(folders: dict[str, Path]) -> None:
    sets, issues = pair_folders(folders["A"], folders["B"], {"m1": folders["m1"], "m2": folders["m2"]})
    assert [s.name for s in sets] == ["x.png", "y.png"]
    assert sets[1].fused["m1"].name == "y.bmp"
    reasons = {(i.method, i.image): i.reason for i in issues}
    assert "B" in reasons[(None, "z")]
    assert reasons[("m1", "w")] == "no matching source pair"


def test_evaluate_skips_bad_files_and_computes_the_rest(folders: dict[str, Path]) -> None:
    result = evaluate_folders(folders["A"], folders["B"], [folders["m1"], folders["m2"]])
    assert result.methods == ["m1", "m2"]
    assert [(m, i) for m, i, _ in result.rows] == [("m1", "x.png"), ("m1", "y.png")]
    by_key = {(i.method, i.image): i for i in result.issues}
    assert "size mismatch" in by_key[("m2", "x.png")].reason
    assert by_key[("m2", "y.png")].path == folders["m2"] / "y.png"
    assert result.counts() == {"m1": 2, "m2": 0}
    expected = compute_all(load_grey(folders["A"] / "x.png"), load_grey(folders["B"] / "x.png"),
                           load_grey(folders["m1"] / "x.png"))
    assert result.rows[0][2] == expected
    means = result.means()
    assert means["m1"]["EN"] == pytest.approx(np.mean([r[2]["EN"] for r in result.rows]))
    assert np.isnan(means["m2"]["EN"])


def test_references_replace_the_sources(folders: dict[str, Path], tmp_path: Path) -> None:
    ref_a, ref_b = tmp_path / "refA", tmp_path / "refB"
    for stem in ("x", "y"):
        _save(ref_a / f"{stem}.png", 255 - load_grey(folders["A"] / f"{stem}.png"))
        _save(ref_b / f"{stem}.png", load_grey(folders["B"] / f"{stem}.png") // 3)
    result = evaluate_folders(folders["A"], folders["B"], [folders["m1"]], reference_a=ref_a, reference_b=ref_b)
    assert result.uses_references
    expected = compute_all(load_grey(ref_a / "x.png"), load_grey(ref_b / "x.png"), load_grey(folders["m1"] / "x.png"))
    assert result.rows[0][2] == expected
    with pytest.raises(ImageDataError):
        evaluate_folders(folders["A"], folders["B"], [folders["m1"]], reference_a=ref_a)


def test_bad_method_names(folders: dict[str, Path]) -> None:
    with pytest.raises(ImageDataError, match="names"):
        evaluate_folders(folders["A"], folders["B"], [folders["m1"], folders["m2"]], names=["one"])
    with pytest.raises(ImageDataError, match="unique"):
        evaluate_folders(folders["A"], folders["B"], [folders["m1"], folders["m2"]], names=["s", "s"])


def test_report_files_contain_the_numbers(folders: dict[str, Path], tmp_path: Path) -> None:
    result = evaluate_folders(folders["A"], folders["B"], [folders["m1"], folders["m2"]], names=["Ours", "Bad"])
    paths = write_report(result, tmp_path / "report", thumbnails=2)
    assert [p.name for p in paths] == ["metrics.csv", "metrics.md", "report.html"]
    lines = paths[0].read_text().splitlines()
    assert lines[0] == COLUMNS
    rows = list(csv.DictReader(lines))
    assert [(r["method"], r["image"]) for r in rows] == [("Ours", "x.png"), ("Ours", "y.png"), ("Ours", "MEAN"),
                                                         ("Bad", "MEAN")]
    assert float(rows[0]["VIF"]) == pytest.approx(result.rows[0][2]["VIF"], abs=1e-6)
    assert float(rows[2]["SD"]) == pytest.approx(result.means()["Ours"]["SD"], abs=1e-6)
    md = paths[1].read_text()
    assert "| Method | EN | AG | SD | SCD | VIF | Qabf | SSIM | MI |" in md
    assert f"**{result.means()['Ours']['EN']:.4f}**" in md
    assert "y.png" in md and "Skipped files" in md  # the broken file is listed
    page = paths[2].read_text()
    assert page.count("data:image/png;base64,") >= 1 + 2 * 3  # charts + 2 rows x (A, B, Ours)
    assert f"{result.means()['Ours']['Qabf']:.4f}" in page
    assert "size mismatch" in page
    assert not list((tmp_path / "report").glob(".*.tmp"))


def test_parallel_equals_serial(folders: dict[str, Path]) -> None:
    serial = evaluate_folders(folders["A"], folders["B"], [folders["m1"]], jobs=1)
    parallel = evaluate_folders(folders["A"], folders["B"], [folders["m1"]], jobs=2)
    assert csv_text(serial) == csv_text(parallel)


def test_reference_set_means_match_expected_csv() -> None:
    # Per-image values of all three methods are checked in test_metric_reference.py; here the folder route.
    result = evaluate_folders(REF / "ir", REF / "vi", [REF / "fused" / "SeAFusion", REF / "fused" / "DenseFuse"])
    assert not result.issues
    expected: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader((REF / "expected.csv").open()):
        expected.setdefault(row["method"], []).append(row)
    means = result.means()
    for method in result.methods:
        rows = expected[method]
        for name in METRICS:
            want = np.mean([float(r[name]) for r in rows])
            assert means[method][name] == pytest.approx(want, rel=1e-2 if name == "Qabf" else 1e-3, abs=2e-6)
    table = markdown_text(result)
    assert re.search(r"\| SeAFusion \| \*\*", table)  # SeAFusion has the best EN
