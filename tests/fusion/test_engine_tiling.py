"""Padding and overlapping tiles (model-independent machinery)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from textdifuse_desktop.fusion._tiling import (
    _ramp_1d,
    count_tiles,
    pad_to_multiple,
    run_tiled,
    tile_spans,
)


def _drain(gen):
    ticks = []
    while True:
        try:
            ticks.append(next(gen))
        except StopIteration as stop:
            return stop.value, ticks


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (17, 33), (16, 16), (31, 1)])
def test_pad_to_multiple_keeps_original_pixels(shape, rng) -> None:
    x = rng.random((2, *shape)).astype(np.float32)
    padded = pad_to_multiple(x, 16)
    assert padded.shape[1] % 16 == 0 and padded.shape[2] % 16 == 0
    assert padded.shape[1] - shape[0] < 16 and padded.shape[2] - shape[1] < 16
    np.testing.assert_array_equal(padded[:, : shape[0], : shape[1]], x)
    if shape[0] > 1 and padded.shape[1] > shape[0]:  # reflect, not zeros
        np.testing.assert_array_equal(padded[:, shape[0], : shape[1]], x[:, shape[0] - 2])


@pytest.mark.parametrize("length", [257, 640, 1000, 1024, 4099])
def test_tile_spans_cover_with_overlap_and_balanced_sizes(length) -> None:
    spans = tile_spans(length, 256, 32, 16)
    starts = [s for s, _ in spans]
    size = spans[0][1]
    assert all(sz == size for _, sz in spans) and size <= 256 and size % 16 == 0
    assert starts[0] == 0 and starts[-1] + size == length
    assert all(b - a <= size - 31 for a, b in itertools.pairwise(starts))  # overlap >= 32 (rounding: 31)
    assert len(spans) == -(-(length - 32) // (256 - 32))  # the fewest tiles
    assert tile_spans(100, 256, 32, 16) == [(0, 100)]


def test_raised_cosine_ramps_sum_to_one() -> None:
    overlap = 16
    left = _ramp_1d(64, overlap, False, True)
    right = _ramp_1d(64, overlap, True, False)
    np.testing.assert_allclose(left[-overlap:] + right[:overlap], 1.0, atol=1e-6)
    assert left[0] == 1.0 and right[-1] == 1.0 and (left > 0).all()


@pytest.mark.parametrize("shape", [(67, 45), (300, 200), (129, 513)])
def test_tiled_equals_untiled_for_per_pixel_backend(shape, rng, pixel_backend) -> None:
    ya = rng.random((2, *shape)).astype(np.float32)
    yb = rng.random((2, *shape)).astype(np.float32)
    kb = np.full_like(yb, 1.5)
    backend = pixel_backend(steps=2)
    untiled, ticks_u = _drain(run_tiled(backend, ya, yb, None, kb, tile=0))
    tiled_backend = pixel_backend(steps=2)
    tiled, ticks_t = _drain(run_tiled(tiled_backend, ya, yb, None, kb, tile=64))
    assert untiled.shape == ya.shape and tiled.shape == ya.shape
    np.testing.assert_allclose(tiled, untiled, atol=1e-5)
    np.testing.assert_allclose(untiled, np.clip(np.maximum(ya, yb * 1.5), 0, 1), atol=1e-6)
    n_tiles = count_tiles(shape, 64, 16)
    assert len(tiled_backend.calls) == n_tiles > 1
    assert all(max(c["shape"][1:]) <= 64 for c in tiled_backend.calls)
    assert sum(t.counts for t in ticks_t) == 2 * n_tiles and len(ticks_u) == 2


def test_tiled_blending_is_smooth_for_a_context_dependent_backend(rng, pixel_backend) -> None:
    class OffsetBackend(pixel_backend):
        """Adds a per-tile constant: seams must be blended, not stepped."""

        def run(self, ya, yb, ka, kb, preview):
            out = yield from super().run(ya, yb, ka, kb, preview)
            return out + np.float32(len(self.calls) % 2) * 0.1

    ya = np.full((1, 200, 200), 0.5, np.float32)
    out, _ = _drain(run_tiled(OffsetBackend(steps=1), ya, ya, tile=64))
    assert out.min() >= 0.5 - 1e-6 and out.max() <= 0.6 + 1e-6
    assert np.abs(np.diff(out[0], axis=1)).max() < 0.02  # no hard seam


def test_tiled_preview_is_full_size(rng, pixel_backend) -> None:
    ya = rng.random((1, 100, 150)).astype(np.float32)
    _, ticks = _drain(run_tiled(pixel_backend(steps=1), ya, ya, tile=64, preview=True))
    previews = [t.preview for t in ticks if t.preview is not None]
    assert previews and all(p.shape == ya.shape for p in previews)


def test_tiles_start_from_crops_of_one_noise_field(rng, pixel_backend) -> None:
    """A backend with ``start_noise`` gets, per tile, the crop of one field: overlaps agree."""

    class NoiseBackend(pixel_backend):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.noises = []

        def start_noise(self, shape):
            return np.arange(np.prod(shape), dtype=np.float32).reshape(shape)

        def run(self, ya, yb, ka, kb, preview, noise=None):
            self.noises.append(noise)
            return (yield from super().run(ya, yb, ka, kb, preview))

    ya = rng.random((1, 100, 150)).astype(np.float32)
    backend = NoiseBackend(steps=1)
    _drain(run_tiled(backend, ya, ya, tile=64))
    field = backend.start_noise((1, 100, 150))
    assert len(backend.noises) == len(backend.calls) > 1
    for noise in backend.noises:
        # Each crop is a contiguous window of the field (its top-left value locates it).
        y0, x0 = divmod(int(noise[0, 0, 0]), 150)
        th, tw = noise.shape[1:]
        np.testing.assert_array_equal(noise[:, : min(th, 100 - y0), : min(tw, 150 - x0)],
                                      field[:, y0:y0 + th, x0:x0 + tw][:, : min(th, 100 - y0), : min(tw, 150 - x0)])


def test_model_backend_noise_matches_the_seeded_noise(tmp_path) -> None:
    import torch

    from textdifuse_desktop.fusion._model_backend import ModelBackend
    from textdifuse_desktop.model.inference import initial_noise
    from textdifuse_desktop.model.network import build_model, tiny_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import load_model, save_model

    torch.manual_seed(0)
    net = build_model(tiny_config())
    with torch.no_grad():  # non-zero heads, so that the start noise matters
        for p in net.parameters():
            if p.ndim > 1 and not p.abs().sum():
                p.normal_(0, 0.05)
    path = tmp_path / "model.safetensors"
    save_model(net, DDIMSampler().config, path)
    backend = ModelBackend(load_model(path), torch.device("cpu"), steps=2, rule="fcm", seed=4)
    ya = np.random.default_rng(0).random((1, 32, 48)).astype(np.float32)
    field = backend.start_noise((1, 32, 48))
    np.testing.assert_array_equal(field, initial_noise((1, 1, 32, 48), 4, "cpu")[:, 0].numpy())
    plain, _ = _drain(backend.run(ya, ya, None, None, False))
    given, _ = _drain(backend.run(ya, ya, None, None, False, noise=field))
    np.testing.assert_allclose(plain, given, atol=1e-6)
    other, _ = _drain(backend.run(ya, ya, None, None, False, noise=field[:, ::-1].copy()))
    assert not np.allclose(plain, other)
