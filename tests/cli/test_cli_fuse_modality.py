"""``textdifuse fuse --modality-a/--modality-b``: plain images (read as OT) get a modality, which the network's tone
correction reads; a file's own modality is never replaced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def weights_with_tone_head(tmp_path_factory) -> Path:
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.tone import MODALITY_KEYS, N_FEATURES, ToneHead
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    net = build_model(tiny_config())
    net.tone = ToneHead()
    torch.nn.init.normal_(net.tone.mlp[-1].weight, std=0.3)  # a head whose curves depend on its inputs,
    with torch.no_grad():
        codes = 2 * N_FEATURES + 1  # the first modality input (ToneHead.forward's order)
        net.tone.mlp[0].weight[:, codes:codes + 2 * len(MODALITY_KEYS)] *= 30  # most of all on the modalities
    path = tmp_path_factory.mktemp("tone") / "model.safetensors"
    save_model(net, DDIMSampler().config, path)
    return path


def _pair(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    paths = folder / "ir.png", folder / "vi.png"
    for path in paths:
        PILImage.fromarray(rng.integers(0, 256, (32, 40), dtype=np.uint8)).save(path)
    return paths


def _fuse(a: Path, b: Path, out: Path, weights: Path, *extra: str) -> np.ndarray:
    code = main(["fuse", str(a), str(b), "-o", str(out), "--weights", str(weights), "--steps", "1",
                 "--device", "cpu", "--quiet", *extra])
    assert code == 0
    return np.asarray(PILImage.open(out)).astype(int)


def test_the_modality_options_reach_the_networks_tone_correction(tmp_path, weights_with_tone_head) -> None:
    a, b = _pair(tmp_path)
    unknown = _fuse(a, b, tmp_path / "ot.png", weights_with_tone_head)
    named = _fuse(a, b, tmp_path / "ir_vis.png", weights_with_tone_head, "--modality-a", "IR", "--modality-b", "vis")
    assert np.abs(named - unknown).mean() > 2, np.abs(named - unknown).mean()
    keys = _fuse(a, b, tmp_path / "keys.png", weights_with_tone_head, "--modality-a", "ir", "--modality-b", "VIS")
    assert np.array_equal(keys, named)  # the degradation keys name the same modalities


def test_a_files_own_modality_is_never_replaced(tmp_path, weights_with_tone_head, capsys) -> None:
    from tests.cli.test_cli_fuse_safety import _ct

    ct = _ct(tmp_path / "ct.dcm")
    _, vis = _pair(tmp_path)
    out = tmp_path / "fused.png"
    code = main(["fuse", str(ct), str(vis), "-o", str(out), "--weights", str(weights_with_tone_head),
                 "--device", "cpu", "--quiet", "--modality-a", "MR"])
    err = capsys.readouterr().err
    assert code == 2 and "records modality CT; --modality-a MR contradicts it" in err and str(ct) in err
    assert not out.exists()
