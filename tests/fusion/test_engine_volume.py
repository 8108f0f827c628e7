"""Whole-volume fusion: partial results per slice batch, cancel within a batch, slice-to-slice consistency."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.fusion import CancelToken, FusionParams, FusionRequest
from textdifuse_desktop.fusion.engine import fuse, run_fusion
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.metrics.consistency import flicker_report, neighbour_difference


class NoisyBackend:
    """``max(ya, yb)`` plus a tenth of the start noise: like the network, its output depends on the noise."""

    multiple = 16
    steps = 1

    def __init__(self) -> None:
        self.calls: list[int] = []

    def start_noise(self, shape):
        return np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def run(self, ya, yb, ka, kb, preview, noise=None):
        self.calls.append(ya.shape[0])
        if noise is None:  # what a backend does when the engine gives no noise: a fresh draw per batch
            noise = self.start_noise(ya.shape)
        yield None
        return np.clip(np.maximum(ya, yb) + 0.1 * noise, 0, 1).astype(np.float32)


def _smooth_volume(rng, shape=(9, 32, 40)) -> np.ndarray:
    from scipy import ndimage

    return (ndimage.gaussian_filter(rng.random(shape), 3) * 2000).astype(np.float32)


def _drain(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return stop.value, items


def test_partial_volume_is_reported_slice_batch_by_batch(rng, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _slice_runner

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 2 * 32 * 48)  # two slices per batch
    a = Image(_smooth_volume(rng), axes="ZYX", modality="MR")
    b = Image(_smooth_volume(rng), axes="ZYX", modality="MR")
    gen = run_fusion(FusionRequest(a, b), backend=NoisyBackend())
    partials = []
    while True:
        try:
            report = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if report.partial is not None:  # the engine's buffer: copy it as the GUI does
            partials.append((report.slices_done, report.partial.copy(), report.message))
    assert [done for done, _, _ in partials] == [2, 4, 6, 8, 9]
    final = result.image.pixels / 255.0
    for done, partial, _ in partials:
        np.testing.assert_allclose(partial[:done], final[:done], atol=1e-5)
        assert not partial[done:].any()  # unfused slices are 0 until their batch is done
    assert "slices 9-9/9" in partials[-1][2]


def test_cancel_stops_within_one_slice_batch(rng, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _slice_runner

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 1 * 32 * 48)
    backend = NoisyBackend()
    token = CancelToken()
    volume = Image(_smooth_volume(rng), axes="ZYX")
    gen = run_fusion(FusionRequest(volume, volume.with_pixels(volume.pixels[::-1].copy())), token, backend=backend)
    while True:
        report = next(gen)
        if report.partial is not None:
            break
    assert report.slices_done == 1
    token.cancel()
    with pytest.raises(FusionCancelled):
        next(gen)
    assert backend.calls == [1]  # no further slice was started after the cancel


def test_identical_slices_fuse_identically_whatever_the_batch(rng, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _slice_runner

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 3 * 32 * 48)
    plane_a, plane_b = _smooth_volume(rng, (1, 32, 40)), _smooth_volume(rng, (1, 32, 40))
    a = Image(np.repeat(plane_a, 7, axis=0), axes="ZYX")
    b = Image(np.repeat(plane_b, 7, axis=0), axes="ZYX")
    fused = fuse(FusionRequest(a, b), backend=NoisyBackend()).image.pixels
    assert neighbour_difference(fused, axis=0) == 0.0  # one noise plane for all slices: no flicker


def test_fused_volume_is_as_consistent_as_its_sources(rng, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _slice_runner
    from textdifuse_desktop.fusion._sources import prepare_pair

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 2 * 32 * 48)
    a = Image(_smooth_volume(rng, (12, 32, 40)), axes="ZYX")
    b = Image(_smooth_volume(rng, (12, 32, 40)), axes="ZYX")
    fused = fuse(FusionRequest(a, b), backend=NoisyBackend()).image.pixels
    pair = prepare_pair(a, b)
    rows = flicker_report(pair.ya * 255, pair.yb * 255, fused)
    z_axis = rows[0]
    assert z_axis.passes, z_axis
    # The metric itself catches flicker: a tone change from slice to slice fails it.
    flicker = fused + np.where(np.arange(12) % 2, 12.0, 0.0).astype(np.float32)[:, None, None]
    assert not flicker_report(pair.ya * 255, pair.yb * 255, flicker)[0].passes


@pytest.mark.parametrize("shape", [(5, 3, 4)])
def test_flicker_report_rejects_mismatched_volumes(shape) -> None:
    from textdifuse_desktop.errors import ImageDataError

    with pytest.raises(ImageDataError):
        flicker_report(np.zeros(shape), np.zeros(shape), np.zeros((4, 3, 4)))


def test_real_network_gives_identical_slices_identical_results(rng, tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_model(build_model(tiny_config()), DDIMSampler().config, weights)
    plane_a, plane_b = _smooth_volume(rng, (1, 32, 48)), _smooth_volume(rng, (1, 32, 48))
    a = Image(np.repeat(plane_a, 3, axis=0), axes="ZYX", modality="MR")
    b = Image(np.repeat(plane_b, 3, axis=0), axes="ZYX", modality="MR")
    fused = fuse(FusionRequest(a, b, FusionParams(device="cpu", weights=str(weights)))).image.pixels
    assert fused.std() > 0
    np.testing.assert_allclose(fused[1:], fused[:1].repeat(2, axis=0), atol=1e-4)


def test_slices_empty_in_both_sources_are_not_sent_to_the_model(rng, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _slice_runner

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 2 * 32 * 48)
    pixels = _smooth_volume(rng, (8, 32, 40))
    pixels[:4] = 0.0  # air above the head in both sources
    backend = NoisyBackend()
    result, progress = _drain(run_fusion(FusionRequest(Image(pixels, axes="ZYX"), Image(pixels * 0.5, axes="ZYX")),
                                         backend=backend))
    assert backend.calls == [2, 2] and not result.image.pixels[:4].any() and result.image.pixels[4:].any()
    assert progress[-1].done == progress[-1].total == 4


def test_one_progress_count_runs_over_the_restorer_pass_and_the_fusion(rng, tmp_path) -> None:
    """The engine restores whole volumes before it fuses them; the progress it reports counts both passes once, so
    a progress bar never runs back."""
    torch = pytest.importorskip("torch")
    from textdifuse_desktop.fusion import _model_backend
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_model(build_model({**tiny_config(), "restorer": 1}), DDIMSampler().config, weights)
    _model_backend.clear_model_cache()
    a = Image(_smooth_volume(rng, (4, 32, 48)), axes="ZYX", modality="MR")
    b = Image(_smooth_volume(rng, (4, 32, 48)), axes="ZYX", modality="PT")
    params = FusionParams(device="cpu", weights=str(weights), steps=2)
    _, progress = _drain(run_fusion(FusionRequest(a, b, params)))
    messages = [p.message for p in progress]
    assert any("restoring the sources" in m for m in messages) and any("fusing" in m for m in messages)
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len({p.total for p in progress}) == 1  # one total from the first report on
