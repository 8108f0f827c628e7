"""``textdifuse regions`` and the region options of ``textdifuse fuse`` (--propose, --prompt)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main

SHAPE = (64, 80)
BLOB = (slice(20, 36), slice(44, 60))


@pytest.fixture(autouse=True)
def _no_user_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTDIFUSE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))  # no CLIP weights cached


@pytest.fixture
def pair(tmp_path, rng) -> tuple[Path, Path]:
    """A grey infrared PNG with one hot square and a colour visible PNG."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    ir = 50 + 20 * np.sin(xx / 5.0) + rng.normal(0, 4, SHAPE)
    ir[BLOB] = 240
    vis = np.stack([xx * 3, yy * 3, np.full(SHAPE, 100)], axis=-1) + rng.normal(0, 10, (*SHAPE, 3))
    folder = tmp_path / "in"
    folder.mkdir()
    PILImage.fromarray(np.clip(ir, 0, 255).astype(np.uint8)).save(folder / "ir.png")
    PILImage.fromarray(np.clip(vis, 0, 255).astype(np.uint8)).save(folder / "vi.png")
    return folder / "ir.png", folder / "vi.png"


def test_regions_propose_hot_writes_masks_and_overlay(pair, tmp_path, capsys) -> None:
    out = tmp_path / "regions"
    assert main(["regions", str(pair[0]), str(pair[1]), "--propose", "hot", "--kappa", "2", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("hot 1\tsource A\tkappa 2.00") and str(out) in printed
    index = json.loads((out / "regions.json").read_text())
    assert [r["name"] for r in index["regions"]] == ["hot 1"] and index["regions"][0]["origin"] == "proposal"
    from textdifuse_desktop.session.regions import RegionSet

    loaded = RegionSet.load(out)
    expected = np.zeros(SHAPE, bool)
    expected[BLOB] = True
    assert np.array_equal(loaded[0].mask, expected) and loaded[0].source == "A"
    overlay = np.asarray(PILImage.open(out / "overlay.png"))
    assert overlay.shape == (*SHAPE, 3)
    inside, outside = overlay[26, 50], overlay[5, 5]
    assert inside[0] != inside[2] and outside[0] == outside[1] == outside[2]  # tinted only inside


def test_regions_errors(pair, tmp_path, capsys) -> None:
    a, b = map(str, pair)
    assert main(["regions", a, b, "-o", str(tmp_path / "r")]) == 2  # usage error
    assert "--propose" in capsys.readouterr().err
    assert main(["regions", a, b, "--prompt", "bicycle", "-o", str(tmp_path / "r")]) == 7
    err = capsys.readouterr().err
    assert "'bicycle' needs a CLIP model" in err and "--allow-download" in err and "--clip-checkpoint" in err
    missing = tmp_path / "nope.safetensors"
    assert main(["regions", a, b, "--prompt", "person", "--clip-checkpoint", str(missing), "-o", str(tmp_path / "r")]) == 7
    assert str(missing) in capsys.readouterr().err
    assert main(["regions", a, b, "--propose", "hot", "-o", str(pair[0].parent.parent)]) == 5  # would hold inputs
    assert main(["regions", a, b, "--propose", "hot", "--kappa", "9", "-o", str(tmp_path / "r")]) == 2  # usage error
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    net = build_model(tiny_config())
    with torch.no_grad():
        for fcm in net.fcm:
            fcm.head.weight.normal_(0.0, 0.05)
    path = tmp_path_factory.mktemp("tiny_cli_regions") / "model.safetensors"
    save_model(net, DDIMSampler().config, path)
    return path


def test_fuse_with_proposals_changes_only_the_region(pair, tmp_path, tiny_weights, capsys) -> None:
    a, b = map(str, pair)
    model = ["--weights", str(tiny_weights), "--steps", "1", "--device", "cpu", "--quiet", "--tile", "0"]
    plain, local = tmp_path / "plain.png", tmp_path / "local.png"
    assert main(["fuse", a, b, "-o", str(plain), *model]) == 0
    assert main(["fuse", a, b, "-o", str(local), *model, "--propose", "hot", "--kappa", "2.5", "--feather", "2"]) == 0
    diff = np.abs(np.asarray(PILImage.open(local), float) - np.asarray(PILImage.open(plain), float)).sum(-1)
    near = np.zeros(SHAPE, bool)
    near[14:42, 38:66] = True  # the hot square plus the feather's reach
    assert diff[BLOB].mean() > 1.0 and diff[~near].max() == 0.0
    assert main(["fuse", a, b, "-o", str(tmp_path / "x.png"), *model, "--prompt", "bicycle"]) == 7
    assert "--allow-download" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
    assert main(["fuse", a, b, "-o", str(tmp_path / "words.png"), *model, "--prompt", "person", "--kappa", "2.5",
                 "--feather", "2"]) == 0  # the word list: the hot-object proposal, no model
    words = np.asarray(PILImage.open(tmp_path / "words.png"), float)
    assert np.array_equal(words, np.asarray(PILImage.open(local), float))


def test_fuse_parser_has_the_region_options() -> None:
    from textdifuse_desktop.cli.main import build_parser

    args = build_parser().parse_args(["fuse", "a", "b", "-o", "c", "--propose", "hot", "--propose", "uptake",
                                      "--prompt", "person, car", "--clip-checkpoint", "m.bin"])
    assert args.propose == ["hot", "uptake"] and args.prompt == "person, car" and args.clip_model is None
    assert args.prompt_with == "auto" and not args.allow_download
    assert args.kappa == 1.5 and args.mask is None
