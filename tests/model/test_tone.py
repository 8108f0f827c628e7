"""The learned global tone correction (model/tone.py) and how inference and the engine apply it."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from textdifuse_desktop.model import tone as tone_module
from textdifuse_desktop.model.inference import (
    correct_tones,
    fuse,
    prepare_sources,
    restore_sources,
)
from textdifuse_desktop.model.losses import tone_loss
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.tone import (
    ToneHead,
    apply_tone,
    image_statistics,
    tone_parameters,
)


def _scene(seed: int, n: int = 8, size: int = 48) -> torch.Tensor:
    """Smooth random scenes spanning most of [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.rand(n, 1, size, size, generator=gen), 9, 1, 4)
    lo, hi = x.amin(dim=(1, 2, 3), keepdim=True), x.amax(dim=(1, 2, 3), keepdim=True)
    return 0.05 + 0.9 * (x - lo) / (hi - lo)


def _non_identity_head(seed: int = 0) -> ToneHead:
    torch.manual_seed(seed)
    head = ToneHead()
    torch.nn.init.normal_(head.mlp[-1].weight, std=0.3)
    return head


def test_a_fresh_head_is_the_identity_and_strength_zero_leaves_the_input() -> None:
    x = _scene(0)
    params_a, params_b = tone_parameters(ToneHead(), (x, x.flip(0)), (x, x.flip(0)))
    assert torch.equal(params_a, torch.zeros_like(params_a)) and torch.equal(params_b, torch.zeros_like(params_b))
    torch.testing.assert_close(apply_tone(x, params_a), x)
    curve = torch.tensor([[0.2, 0.5, -0.3, 3.0]]).expand(x.shape[0], -1)
    assert not torch.allclose(apply_tone(x, curve), x, atol=1e-2)
    torch.testing.assert_close(apply_tone(x, curve, 0.0), x)


def test_the_curve_inverts_contrast_loss_and_low_light_exactly() -> None:
    x = _scene(1)
    washed = 0.5 * x + 0.5  # infrared contrast loss towards white
    inverse = torch.tensor([[0.5, float(np.log(2.0)), 0.0, 12.0]]).expand(x.shape[0], -1)
    torch.testing.assert_close(apply_tone(washed, inverse), x, atol=1e-5, rtol=0)
    dark = 0.3 * x**2.0  # low light: gain * x ** gamma
    inverse = torch.tensor([[0.0, float(np.log(1 / 0.3)), float(np.log(0.5)), 12.0]]).expand(x.shape[0], -1)
    torch.testing.assert_close(apply_tone(dark, inverse), x, atol=1e-4, rtol=0)
    off = inverse * torch.tensor([1.0, 1.0, 1.0, -1.0])  # the weight's sigmoid saturated low: the curve is off
    torch.testing.assert_close(apply_tone(dark, off), dark, atol=1e-5, rtol=0)


def test_statistics_quantiles_on_the_cpu_equal_torch_quantile() -> None:
    """The CPU's numpy selection gives torch.quantile's (linearly interpolated) values, which the GPU uses."""
    from textdifuse_desktop.model.tone import QUANTILES

    x = _scene(3)
    expected = torch.quantile(x.reshape(x.shape[0], -1), torch.tensor(QUANTILES), dim=1).T
    torch.testing.assert_close(image_statistics(x)[:, :len(QUANTILES)], expected, atol=1e-6, rtol=0)


def test_statistics_see_noise_and_clipping() -> None:
    x = _scene(2)
    noisy = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    clean_stats, noisy_stats = image_statistics(x), image_statistics(noisy)
    assert (noisy_stats[:, -1] > clean_stats[:, -1] + 0.2).all()  # the noise estimate (x10) rises
    assert (image_statistics((x * 3).clamp(0, 1))[:, -2] > 0.2).all()  # share of clipped pixels


def test_training_the_head_learns_to_undo_contrast_loss_and_keep_clean_images() -> None:
    torch.manual_seed(0)
    head = ToneHead()
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)

    def batch(seed: int) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        a, b = _scene(seed), _scene(seed + 10_000)
        alpha = 0.4 + 0.5 * torch.rand(a.shape[0], 1, 1, 1, generator=gen)
        washed = torch.rand(a.shape[0], 1, 1, 1, generator=gen) < 0.6
        return (torch.where(washed, alpha * a + (1 - alpha), a), b), (a, b)

    def loss_of(pairs):  # no restorer here: the restored pair is the degraded one
        degraded, clean = pairs
        return tone_loss(head, degraded, degraded, clean)

    held_out = batch(999)
    with torch.no_grad():
        before = float(loss_of(held_out))
    for step in range(400):
        loss = loss_of(batch(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(loss_of(held_out))
        clean, other = _scene(5000), _scene(6000)
        params, _ = tone_parameters(head, (clean, other), (clean, other))
        clean_error = float((apply_tone(clean, params) - clean).abs().mean())
    assert after < 0.4 * before
    assert clean_error < 0.02


def test_inference_corrects_both_sources_and_one_acquisition_gets_one_curve() -> None:
    torch.manual_seed(0)
    net = build_model(tiny_config()).eval()
    net.tone = _non_identity_head()
    dark_slice, bright_slice = 0.4 * _scene(3, n=1), 0.6 + 0.4 * _scene(4, n=1)
    stack_a = torch.cat([dark_slice, bright_slice])
    stack_b = _scene(5, n=2)
    mods = ("MR", "PT")
    per_slice_a, _ = prepare_sources(net, stack_a, stack_b, modalities=mods)
    one_a, one_b = prepare_sources(net, stack_a, stack_b, modalities=mods, one_acquisition=True)
    whole_a, whole_b = stack_a.reshape(1, 2, 48, 48), stack_b.reshape(1, 2, 48, 48)
    params_a, params_b = net.tone_parameters((whole_a, whole_b), (whole_a, whole_b), mods)
    torch.testing.assert_close(one_a, apply_tone(stack_a, params_a.expand(2, -1)))
    torch.testing.assert_close(one_b, apply_tone(stack_b, params_b.expand(2, -1)))
    assert not torch.allclose(per_slice_a, one_a, atol=1e-3)  # per-slice curves differ from the volume's
    half_a, _ = prepare_sources(net, stack_a, stack_b, restore=0.5, modalities=mods)
    torch.testing.assert_close(half_a, 0.5 * (stack_a + per_slice_a))
    for unknown in ((None, "PT"), ("MR", "OT"), (None, None)):  # a source of unknown modality: no curve at all
        a, b, curves = prepare_sources(net, stack_a, stack_b, modalities=unknown, return_curves=True)
        assert a is stack_a and b is stack_b and curves is None


def test_the_curves_read_the_raw_and_the_restored_sources_and_apply_after_the_restorer() -> None:
    torch.manual_seed(0)
    net = build_model({**tiny_config(), "restorer": 1}).eval()
    net.tone = _non_identity_head()
    torch.nn.init.normal_(net.tone.mlp[0].weight, std=0.3)
    with torch.no_grad():  # a restorer that changes its input, so that raw and restored differ
        for p in net.restorer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    a, b = _scene(11, n=2), _scene(12, n=2)
    mods = ("MR", "CT")
    ra, rb = restore_sources(net, a, b)
    assert (ra - a).abs().max() > 1e-3
    params = net.tone_parameters((a, b), (ra, rb), mods)
    prepared = prepare_sources(net, a, b, modalities=mods)
    for out, restored, p in zip(prepared, (ra, rb), params):
        torch.testing.assert_close(out, apply_tone(restored, p))
    # Both inputs matter: the same restored sources with other raw ones get other curves, and the other way round.
    assert not torch.allclose(net.tone_parameters((a * 0.5, b), (ra, rb), mods)[0], params[0])
    assert not torch.allclose(net.tone_parameters((a, b), (ra * 0.5, rb), mods)[0], params[0])
    torch.testing.assert_close(correct_tones(net, (a, b), (ra, rb), modalities=mods)[0], prepared[0])


def test_fuse_runs_the_tone_correction_and_restore_zero_skips_it() -> None:
    torch.manual_seed(0)
    net = build_model(tiny_config()).eval()
    sampler = DDIMSampler()
    a, b = _scene(7, n=1, size=32), _scene(8, n=1, size=32)
    mods = ("IR", "VIS")
    plain = fuse(net, sampler, a, b, steps=1, modalities=mods)
    net.tone = _non_identity_head()
    corrected = fuse(net, sampler, a, b, steps=1, modalities=mods)
    assert (corrected - plain).abs().max() > 1e-3
    ca, cb = prepare_sources(net, a, b, modalities=mods)
    torch.testing.assert_close(fuse(net, sampler, ca, cb, steps=1, prepared=True), corrected)
    torch.testing.assert_close(fuse(net, sampler, a, b, steps=1, restore=0, modalities=mods),
                               fuse(net, sampler, a, b, steps=1, restore=0))


def _weights_with_a_tone_head(folder):
    """A tiny model with a non-identity tone head saved where the engine can load it."""
    from textdifuse_desktop.fusion import _model_backend
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    net = build_model(tiny_config())
    net.tone = _non_identity_head()
    weights = folder / "model.safetensors"
    save_model(net, DDIMSampler().config, weights)
    _model_backend.clear_model_cache()
    return weights


def test_the_engine_computes_one_curve_per_source_before_tiling(tmp_path, monkeypatch) -> None:
    from textdifuse_desktop.fusion import FusionParams, FusionRequest
    from textdifuse_desktop.fusion.engine import fuse as engine_fuse
    from textdifuse_desktop.imaging.image import Image

    weights = _weights_with_a_tone_head(tmp_path)
    calls = []
    original = tone_module.image_statistics
    monkeypatch.setattr(tone_module, "image_statistics", lambda y: calls.append(tuple(y.shape)) or original(y))
    rng = np.random.default_rng(0)
    a = Image((rng.random((150, 170)) * 255).astype(np.float32), modality="IR")
    b = Image((rng.random((150, 170)) * 255).astype(np.float32), modality="VIS")
    params = FusionParams(steps=1, device="cpu", weights=str(weights), tile=64)
    engine_fuse(FusionRequest(a, b, params))
    # Each whole plane once as given and once restored, not once per tile.
    assert calls == [(1, 1, 150, 170)] * 4


def test_the_head_reads_each_sources_modality_and_unknown_codes_are_zeros() -> None:
    codes = tone_module.modality_one_hot(["IR", "mri", None, "OT"], 4, torch.device("cpu"))
    keys = tone_module.MODALITY_KEYS
    assert codes[0, keys.index("ir")] == 1 and codes[1, keys.index("mri")] == 1 and codes[0].sum() == 1
    assert codes[2:].abs().sum() == 0  # unknown (None, a plain image's OT): no modality
    assert torch.equal(tone_module.modality_one_hot("PT", 2, torch.device("cpu")).argmax(1), torch.tensor([4, 4]))
    with pytest.raises(ValueError, match="3 modalities for a batch of 2"):
        tone_module.modality_one_hot(["IR", "VIS", "MR"], 2, torch.device("cpu"))
    head = _non_identity_head()
    x = _scene(11, n=2)
    infrared, _ = tone_parameters(head, (x, x.flip(0)), (x, x.flip(0)), ("IR", "VIS"))
    mri, _ = tone_parameters(head, (x, x.flip(0)), (x, x.flip(0)), ("MR", "PT"))
    unknown, _ = tone_parameters(head, (x, x.flip(0)), (x, x.flip(0)))
    assert not torch.allclose(infrared, mri) and not torch.allclose(infrared, unknown)
    per_sample, _ = tone_parameters(head, (x, x.flip(0)), (x, x.flip(0)), (["IR", "MR"], ["VIS", "PT"]))
    torch.testing.assert_close(per_sample, torch.stack([infrared[0], mri[1]]))
    # A pair given the other way round (visible as A) gets the curves it would get in training's order.
    visible_first = tone_parameters(head, (x.flip(0), x), (x.flip(0), x), ("VIS", "IR"))
    torch.testing.assert_close(visible_first[1], infrared)


def test_the_engine_hands_the_sources_modalities_to_the_tone_head(tmp_path) -> None:
    from textdifuse_desktop.fusion import FusionParams, FusionRequest
    from textdifuse_desktop.fusion.engine import fuse as engine_fuse
    from textdifuse_desktop.imaging.image import Image

    weights = _weights_with_a_tone_head(tmp_path)
    rng = np.random.default_rng(2)
    pixels = [(rng.random((40, 48)) * 255).astype(np.float32) for _ in range(2)]
    params = FusionParams(steps=1, device="cpu", weights=str(weights))

    def fused(mod_a: str, mod_b: str):
        request = FusionRequest(Image(pixels[0], modality=mod_a), Image(pixels[1], modality=mod_b), params)
        return engine_fuse(request)

    def curves(mod_a: str, mod_b: str) -> dict:
        return fused(mod_a, mod_b).image.meta["fusion"]["tone_curves"]

    assert curves("MR", "VIS")["a"] != curves("IR", "VIS")["a"]
    unknown = fused("IR", "OT")  # a plain image: no curve for either source, and the result says why
    assert unknown.image.meta["fusion"]["tone_curves"] is None
    assert any("modality of source B is unknown" in w for w in unknown.warnings)
    assert not any("modality" in w for w in fused("IR", "VIS").warnings)


def test_units_are_never_restored_after_a_tone_curve_and_keep_units_turns_it_off(tmp_path) -> None:
    import argparse

    from textdifuse_desktop.cli.cmd_fuse import _params
    from textdifuse_desktop.errors import ImageDataError
    from textdifuse_desktop.fusion import FusionParams, FusionRequest
    from textdifuse_desktop.fusion._sources import restore_units, shared_unit_window
    from textdifuse_desktop.fusion.engine import fuse as engine_fuse
    from textdifuse_desktop.imaging.image import Image

    weights = _weights_with_a_tone_head(tmp_path)
    rng = np.random.default_rng(1)
    a, b = (Image((rng.random((40, 40)) * 1000 - 500).astype(np.float32), modality="CT", units="HU")
            for _ in range(2))
    a, b = shared_unit_window(a, b)
    toned = engine_fuse(FusionRequest(a, b, FusionParams(steps=1, device="cpu", weights=str(weights))))
    curves = toned.image.meta["fusion"]["tone_curves"]
    assert set(curves) == {"a", "b"} and set(curves["a"][0]) == {"offset", "gain", "power", "weight"}
    with pytest.raises(ImageDataError, match="tone correction"):
        restore_units(toned.image, a, b)
    from textdifuse_desktop.io.writers.dicom_semantics import derivation_description

    assert "source A tone-corrected by the network" in derivation_description(toned.image, "", "stored")
    assert "learned restoration of the sources at strength 1.0" in derivation_description(toned.image, "", "stored")
    plain = engine_fuse(FusionRequest(a, b, FusionParams(steps=1, device="cpu", weights=str(weights), tone=False)))
    assert plain.image.meta["fusion"]["tone_curves"] is None
    assert restore_units(plain.image, a, b).units == "HU"
    assert "tone-corrected" not in derivation_description(plain.image, "", "stored")
    args = {"method": "textdifuse", "steps": 1, "rule": "fcm", "device": "cpu", "seed": 0, "weights": None, "tile": 0,
            "restore": 1.0}
    assert _params(argparse.Namespace(**args, keep_units=True)).tone is False
    assert _params(argparse.Namespace(**args, keep_units=False)).tone is True


def test_weights_saved_before_the_tone_head_existed_load_without_one(tmp_path) -> None:
    import json

    from safetensors.torch import save_file

    from textdifuse_desktop.model.weights import CARD_NAME, load_model, sha256_of

    net = build_model({**tiny_config(), "tone_head": 0})
    config = {k: v for k, v in net.config.items() if k != "tone_head"}  # as written before the option existed
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path),
              metadata={"format": "textdifuse-compact", "config": json.dumps(config), "sampler": "{}"})
    (tmp_path / CARD_NAME).write_text(json.dumps({"sha256": sha256_of(path)}))
    loaded = load_model(path)
    assert loaded.net.tone is None


def test_weights_with_the_first_tone_head_load_with_its_curves(tmp_path) -> None:
    """A head saved before it read the restored statistics (tone_head 1) loads as the current one with zero weights
    on them: the same curves from the same statistics."""
    import json

    from safetensors.torch import save_file

    from textdifuse_desktop.model.weights import CARD_NAME, load_model, sha256_of

    net = build_model({**tiny_config(), "tone_head": 0})
    net.tone = _non_identity_head()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    state["tone.mlp.0.weight"] = state["tone.mlp.0.weight"][:, :ToneHead.N_INPUTS_RAW_ONLY].contiguous()
    path = tmp_path / "model.safetensors"
    save_file(state, str(path), metadata={"format": "textdifuse-compact",
                                          "config": json.dumps({**net.config, "tone_head": 1}), "sampler": "{}"})
    (tmp_path / CARD_NAME).write_text(json.dumps({"sha256": sha256_of(path)}))
    loaded = load_model(path).net.tone
    x = _scene(13, n=2)
    old = ToneHead()
    old.load_state_dict({k[len("tone."):]: v for k, v in state.items() if k.startswith("tone.")} | {
        "mlp.0.weight": torch.cat([state["tone.mlp.0.weight"],
                                   torch.zeros(96, ToneHead.N_INPUTS - ToneHead.N_INPUTS_RAW_ONLY)], 1)})
    restored = (x * 0.5, x.flip(0) * 0.5)  # whatever the restored statistics, the old head ignores them
    torch.testing.assert_close(tone_parameters(loaded.float(), (x, x.flip(0)), restored, ("IR", "VIS"))[0],
                               tone_parameters(old, (x, x.flip(0)), (x, x.flip(0)), ("IR", "VIS"))[0])
    assert loaded.mlp[0].weight[:, ToneHead.N_INPUTS_RAW_ONLY:].abs().max() == 0
    with pytest.raises(ValueError, match="tone_head must be 0"):
        build_model({**tiny_config(), "tone_head": 1})


def test_the_engine_prepares_the_sources_as_iter_fuse_does(tmp_path) -> None:
    """The engine restores whole planes, computes the curves from the raw and restored planes and fuses the result;
    on an untiled image that is exactly what iter_fuse does by itself (the path training and the benchmarks use)."""
    from textdifuse_desktop.fusion import FusionParams, FusionRequest, _model_backend
    from textdifuse_desktop.fusion.engine import fuse as engine_fuse
    from textdifuse_desktop.imaging.image import Image
    from textdifuse_desktop.model.weights import load_model, save_model

    torch.manual_seed(0)
    net = build_model({**tiny_config(), "restorer": 1})
    net.tone = _non_identity_head()
    with torch.no_grad():
        for p in net.restorer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    weights = tmp_path / "model.safetensors"
    save_model(net, DDIMSampler().config, weights)
    _model_backend.clear_model_cache()
    rng = np.random.default_rng(3)
    pixels = [(rng.random((48, 64)) * 200 + 30).astype(np.float32) for _ in range(2)]  # IR/VIS: window 0-255
    result = engine_fuse(FusionRequest(Image(pixels[0], modality="IR"), Image(pixels[1], modality="VIS"),
                                       FusionParams(steps=2, device="cpu", weights=str(weights))))
    assert result.image.meta["fusion"]["tone_curves"] is not None
    loaded = load_model(weights)
    a, b = (torch.from_numpy(p / 255.0)[None, None].float() for p in pixels)
    direct = fuse(loaded.net, loaded.sampler, a, b, steps=2, modalities=("IR", "VIS"))
    np.testing.assert_allclose(result.image.pixels, direct[0, 0].numpy() * 255.0, atol=0.05)


def _fixed_curve_head(offset: float, gain: float) -> ToneHead:
    """A head whose curve is ``clamp((y - offset) * gain)``, taken in full, whatever it reads."""
    head = ToneHead()
    with torch.no_grad():
        head.mlp[-1].bias.copy_(torch.tensor([np.arctanh(offset / tone_module.OFFSET_SCALE),
                                              np.arctanh(np.log(gain) / tone_module.LOG_GAIN_SCALE), 0.0,
                                              np.arctanh(0.9)]))
    return head


def test_the_detail_term_counts_dark_tissue_that_an_offset_clips() -> None:
    """A washed-out scan (``0.5 * x + 0.05``) with faint dark tissue: the exact inverse keeps the tissue, an offset
    a few grey levels too large clips it to black.  The detail term adds the clipped texture to what the 4x4 means
    see."""
    gen = torch.Generator().manual_seed(0)
    clean = torch.zeros(2, 1, 64, 64)
    clean[..., 8:56, 8:32] = 0.03 + 0.02 * torch.rand(2, 1, 48, 24, generator=gen)  # faint dark tissue
    clean[..., 8:56, 36:56] = 0.8  # bright tissue
    washed = 0.5 * clean + 0.05
    pair_degraded, pair_clean = (washed, washed), (clean, clean)
    exact, clipping = _fixed_curve_head(0.05, 2.0), _fixed_curve_head(0.08, 2.0)

    def excess(weight: float) -> float:
        with torch.no_grad():
            return float(tone_loss(clipping, pair_degraded, pair_degraded, pair_clean, detail_weight=weight)
                         - tone_loss(exact, pair_degraded, pair_degraded, pair_clean, detail_weight=weight))

    assert excess(0.0) > 0  # the clipping curve is worse either way...
    assert excess(2.0) > excess(0.0) + 0.005  # ...and the detail term adds the clipped texture's loss
