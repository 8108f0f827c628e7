"""``textdifuse fuse`` end to end on tiny synthetic files and a tiny random model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from textdifuse_desktop.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny") / "model.safetensors"
    save_model(build_model(tiny_config()), DDIMSampler().config, path)
    return path


def _png(path: Path, rng, shape=(30, 44), colour=False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = rng.integers(0, 256, (*shape, 3) if colour else shape, dtype=np.uint8)
    PILImage.fromarray(data).save(path)
    return path


def _model_args(weights: Path) -> list[str]:
    return ["--weights", str(weights), "--steps", "1", "--device", "cpu", "--quiet"]


def test_fuse_pair_with_model_and_mask(tmp_path, rng, tiny_weights, capsys) -> None:
    a, b = _png(tmp_path / "ir.png", rng), _png(tmp_path / "vi.png", rng, colour=True)
    out = tmp_path / "out" / "fused.png"
    assert main(["fuse", str(a), str(b), "-o", str(out), *_model_args(tiny_weights)]) == 0
    fused = np.asarray(PILImage.open(out))
    assert fused.shape == (30, 44, 3) and str(out) in capsys.readouterr().out
    mask = np.zeros((30, 44), np.uint8)
    mask[5:20, 5:25] = 255
    PILImage.fromarray(mask).save(tmp_path / "mask.png")
    out2 = tmp_path / "out" / "fused_mask.png"
    args = ["--mask", str(tmp_path / "mask.png"), "--kappa", "2.5", "--favour", "b", "--feather", "1"]
    assert main(["fuse", str(a), str(b), "-o", str(out2), *_model_args(tiny_weights), *args]) == 0
    masked = np.asarray(PILImage.open(out2)).astype(int)
    assert np.abs(masked[0:2, 30:] - fused[0:2, 30:]).max() <= 1  # far outside the mask: unchanged
    assert np.abs(masked[8:17, 8:22] - fused[8:17, 8:22]).max() > 1


def test_fuse_folder_of_pairs(tmp_path, rng, tiny_weights, caplog) -> None:
    for stem in ("001", "002", "003"):
        _png(tmp_path / "ir" / f"{stem}.png", rng, (24, 24))
        _png(tmp_path / "vi" / f"{stem}.png", rng, (24, 24), colour=True)
    _png(tmp_path / "ir" / "lonely.png", rng, (24, 24))
    out = tmp_path / "fused"
    code = main(["fuse", str(tmp_path / "ir"), str(tmp_path / "vi"), "-o", str(out), *_model_args(tiny_weights)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["001.png", "002.png", "003.png"]
    assert "lonely" in caplog.text


def test_fuse_nifti_volumes_classical(tmp_path, rng) -> None:
    nib = pytest.importorskip("nibabel")
    affine = np.diag([0.9, 0.9, 2.5, 1.0])
    for name in ("mr", "ct"):
        nib.save(nib.Nifti1Image(rng.normal(100, 20, (20, 18, 5)).astype(np.float32), affine), tmp_path / f"{name}.nii.gz")
    out = tmp_path / "fused.nii.gz"
    assert main(["fuse", str(tmp_path / "mr.nii.gz"), str(tmp_path / "ct.nii.gz"), "-o", str(out),
                 "--method", "max", "--quiet"]) == 0
    fused = nib.load(out)
    assert fused.shape == (20, 18, 5)
    np.testing.assert_allclose(fused.affine, affine, atol=1e-4)


def test_fuse_videos(tmp_path, rng, tiny_weights) -> None:
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.io.writers import write_video

    frames = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(3)]
    write_video(frames, tmp_path / "a.mp4", fps=5)
    write_video([f[..., 0] for f in frames], tmp_path / "b.mp4", fps=5)
    out = tmp_path / "fused.mp4"
    assert main(["fuse", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "-o", str(out),
                 *_model_args(tiny_weights)]) == 0
    video = read_image(out)
    assert video.frame_count == 3 and tuple(video.frame_shape)[:2] == (32, 48)


def test_fuse_errors_are_one_line_with_exit_codes(tmp_path, rng, capsys) -> None:
    a, b = _png(tmp_path / "a.png", rng), _png(tmp_path / "b.png", rng)
    assert main(["fuse", str(a), str(b), "-o", str(a), "--method", "max"]) == 5  # never overwrite an input
    assert main(["fuse", str(a), str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png")]) == 3
    assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "o.png"), "--weights", str(tmp_path / "no.safetensors"),
                 "--quiet"]) == 6
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 3 and "missing.png" in errors[1] and "no.safetensors" in errors[2]
    assert a.stat().st_size > 0


@pytest.mark.slow
@pytest.mark.parametrize("pair", [("ir_vis/ir.png", "ir_vis/vi.png"), ("mri_pet/mri.png", "mri_pet/pet.png")])
def test_fuse_demo_pair_with_shipped_weights(tmp_path, pair) -> None:
    from textdifuse_desktop.model.weights import default_weights_path

    if not default_weights_path().is_file():
        pytest.skip("shipped weights not present")
    demo = REPO / "resources" / "demo"
    out = tmp_path / "fused.png"
    assert main(["fuse", str(demo / pair[0]), str(demo / pair[1]), "-o", str(out), "--quiet"]) == 0
    fused = np.asarray(PILImage.open(out))
    source = np.asarray(PILImage.open(demo / pair[1]))
    assert fused.shape == source.shape and fused.std() > 10


def test_fuse_restoration_strength_is_recorded_and_checked(tmp_path, rng, tiny_weights, capsys) -> None:
    a, b = _png(tmp_path / "a.png", rng), _png(tmp_path / "b.png", rng)
    out = tmp_path / "fused.tiff"
    assert main(["fuse", str(a), str(b), "-o", str(out), *_model_args(tiny_weights), "--restore", "0"]) == 0
    assert out.is_file()
    code = main(["fuse", str(a), str(b), "-o", str(tmp_path / "bad.png"), *_model_args(tiny_weights),
                 "--restore", "5"])
    assert code != 0 and "restore must be within" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_fuse_restore_zero_removes_the_networks_correction(tmp_path) -> None:
    """The network restores clean and noisy sources alike (no noise threshold); ``--restore 0`` only fuses."""
    torch = pytest.importorskip("torch")
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    net = build_model(tiny_config())
    with torch.no_grad():  # a visible correction (a fresh decoder head is zero)
        net.decoder.out[2].bias.fill_(0.2)
    weights = tmp_path / "corr" / "model.safetensors"
    save_model(net, DDIMSampler().config, weights)
    ramp = np.add.outer(np.arange(40), np.arange(48)).astype(np.uint8) * 2
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    PILImage.fromarray(ramp).save(a)
    PILImage.fromarray(ramp[::-1].copy()).save(b)
    fused = {}
    for name, extra in (("auto", []), ("none", ["--restore", "0"])):
        out = tmp_path / f"{name}.png"
        assert main(["fuse", str(a), str(b), "-o", str(out), *_model_args(weights), *extra]) == 0
        fused[name] = np.asarray(PILImage.open(out)).astype(int)
    assert np.abs(fused["auto"] - fused["none"]).mean() > 5
