"""``textdifuse regions --prompt``: the word list without a model (and its provenance in the output and in
regions.json), the CLIP path fetched with --allow-download from a hub stand-in on 127.0.0.1, and a one-line error
with its exit code for every failure along the prompt path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fusion"))  # the hub stand-in

SHAPE = (64, 80)
BLOB = (slice(20, 36), slice(44, 60))


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTDIFUSE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))


@pytest.fixture
def pair(tmp_path) -> tuple[str, str]:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    ir = 50 + 20 * np.sin(xx / 5.0) + rng.normal(0, 4, SHAPE)
    ir[BLOB] = 240
    vis = np.stack([xx * 3, yy * 3, np.full(SHAPE, 100)], axis=-1) + rng.normal(0, 10, (*SHAPE, 3))
    PILImage.fromarray(np.clip(ir, 0, 255).astype(np.uint8)).save(tmp_path / "ir.png")
    PILImage.fromarray(np.clip(vis, 0, 255).astype(np.uint8)).save(tmp_path / "vi.png")
    return str(tmp_path / "ir.png"), str(tmp_path / "vi.png")


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_words_without_a_model_say_which_path_made_each_region(pair, tmp_path, capsys) -> None:
    out = tmp_path / "r"
    assert main(["regions", *pair, "--prompt", "person, vehicle", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("hot-object proposal for 'person'") and printed[0].startswith("person\tsource A")
    assert printed[1].endswith("hot-object proposal for 'vehicle'")
    index = json.loads((out / "regions.json").read_text())
    assert [r["provenance"] for r in index["regions"]] == ["hot-object proposal for 'person'",
                                                          "hot-object proposal for 'vehicle'"]
    from textdifuse_desktop.session.regions import RegionSet

    loaded = RegionSet.load(out)
    assert loaded[0].provenance == "hot-object proposal for 'person'" and loaded[0].origin == "text"
    assert loaded[0].mask[BLOB].all() and loaded[0].mask.sum() == 256


@pytest.mark.parametrize("prompt, expected", [
    ("", "empty"), (" ,, ", "empty"), ("car " * 125, "500 characters"), ("\u884c\u4eba", "non-Latin"),
    ("\u0430\u0432\u0442\u043e", "non-Latin"),
])
def test_bad_prompt_text_is_a_usage_error_before_reading(pair, tmp_path, capsys, prompt, expected) -> None:
    assert main(["regions", *pair, "--prompt", prompt, "-o", str(tmp_path / "r")]) == 2
    assert expected in _one_line_error(capsys) and not (tmp_path / "r").exists()


def test_unknown_word_without_consent_says_what_to_run(pair, tmp_path, capsys) -> None:
    assert main(["regions", *pair, "--prompt", "person, bicycle", "-o", str(tmp_path / "r")]) == 7
    line = _one_line_error(capsys)
    assert "'bicycle' needs a CLIP model" in line and "person, people, pedestrian, car" in line
    assert "--allow-download" in line and "605 MB" in line and "MIT" in line
    assert main(["regions", *pair, "--prompt", "bicycle", "--prompt-with", "words", "-o", str(tmp_path / "r")]) == 7


def test_missing_extra_is_one_line_with_the_install_command(pair, tmp_path, capsys, monkeypatch) -> None:
    from textdifuse_desktop.fusion import clip_models

    monkeypatch.setattr(clip_models, "open_clip_installed", lambda: False)
    assert main(["regions", *pair, "--prompt", "bicycle", "-o", str(tmp_path / "r")]) == 7
    assert "pip install" in _one_line_error(capsys)
    assert main(["regions", *pair, "--prompt", "car", "-o", str(tmp_path / "r")]) == 0  # the word list needs nothing
    monkeypatch.setitem(sys.modules, "open_clip", None)  # importing it fails
    with pytest.raises(Exception, match="pip install"):
        clip_models.require_open_clip()


def test_allow_download_fetches_once_and_clip_names_its_regions(pair, tmp_path, capsys, caplog, monkeypatch) -> None:
    pytest.importorskip("open_clip")
    from local_hub import (
        MODEL,
        TAG,
        point_hub_at,
        register_tiny_clip,
        serve_hub,
        tiny_checkpoint_bytes,
    )

    from textdifuse_desktop.fusion import clip_dense, prompt_regions

    register_tiny_clip(tmp_path / "configs", monkeypatch)
    clip_dense._load_cached.cache_clear()

    def stub(bundle, rgb, phrases):  # the downloaded tiny model is loaded for real; its maps are random
        out = np.full((len(phrases), *rgb.shape[:2]), -0.05, np.float32)
        if "bicycle" in phrases:  # a bicycle is there, nothing else
            out[list(phrases).index("bicycle"), BLOB[0], BLOB[1]] = 0.05
        return out

    monkeypatch.setattr(prompt_regions, "clip_similarity", stub)
    clip = ["--clip-model", MODEL, "--clip-pretrained", TAG]
    with serve_hub({"open_clip_model.safetensors": tiny_checkpoint_bytes()}) as hub:
        point_hub_at(hub.url, tmp_path / "hub-cache", monkeypatch)
        assert main(["regions", *pair, "--prompt", "bicycle", *clip, "-o", str(tmp_path / "a")]) == 7
        assert not [r for r in hub.requests if r[0] == "GET"]  # no consent, no download
        capsys.readouterr()
        assert main(["regions", *pair, "--prompt", "bicycle, dog", *clip, "--allow-download",
                     "-o", str(tmp_path / "b")]) == 0
        captured = capsys.readouterr()
    assert captured.out.splitlines()[0].endswith("CLIP TinyTest-ViT: 'bicycle'")
    assert "no region for 'dog'" in caplog.text  # absent: said so (a warning line), no region
    assert len(json.loads((tmp_path / "b" / "regions.json").read_text())["regions"]) == 1
    clip_dense._load_cached.cache_clear()
    assert main(["regions", *pair, "--prompt", "dog", *clip, "-o", str(tmp_path / "c")]) == 3  # cached: no consent
    assert "no region was found" in _one_line_error(capsys)


def test_corrupt_checkpoint_and_out_of_memory_are_one_line(pair, tmp_path, capsys, monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("open_clip")
    from textdifuse_desktop.fusion import clip_dense, prompt_regions

    clip_dense._load_cached.cache_clear()
    bad = tmp_path / "clip.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert main(["regions", *pair, "--prompt", "person", "--clip-checkpoint", str(bad), "-o", str(tmp_path / "r")]) == 6
    assert "cannot load it as open_clip model" in _one_line_error(capsys)

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(prompt_regions, "load_clip", lambda *args, **kwargs: object())
    monkeypatch.setattr(prompt_regions, "clip_similarity", no_memory)
    assert main(["regions", *pair, "--prompt", "person", "--clip-checkpoint", str(bad), "-o", str(tmp_path / "r")]) == 8
    assert "out of memory" in _one_line_error(capsys)
