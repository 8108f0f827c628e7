"""run_fusion / fuse with a per-pixel stand-in backend (no torch, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import FusionCancelled, GeometryError, ImageDataError
from textdifuse_desktop.fusion import CancelToken, FusionParams, FusionRequest
from textdifuse_desktop.fusion.engine import fuse, run_fusion
from textdifuse_desktop.imaging.color import rgb_to_ycbcr
from textdifuse_desktop.imaging.image import Image, Provenance, affine_from_spacing


def _grey(rng, shape=(40, 52), **kw) -> Image:
    return Image(np.round(rng.random(shape) * 255).astype(np.float32), axes="ZYX"[-len(shape):], **kw)


def _colour(rng, shape=(40, 52)) -> Image:
    """Colour blobs (smooth, as in a photograph: i.i.d. random chroma would be indistinguishable from noise)."""
    from scipy import ndimage

    blobs = ndimage.gaussian_filter(rng.random((*shape, 3)), (3, 3, 0))
    blobs = (blobs - blobs.min()) / (blobs.max() - blobs.min())
    return Image(np.round(blobs * 255).astype(np.float32), axes="YXC", modality="VIS")


def _drain(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return stop.value, items


def test_grey_pair_geometry_meta_and_progress(rng, pixel_backend) -> None:
    affine = affine_from_spacing((0.5, 0.7, 1.0), (10, 20, 30))
    prov = Provenance(source_paths=("/data/a.png",))
    a = _grey(rng, affine=affine, provenance=prov, modality="IR")
    b = _grey(rng)
    backend = pixel_backend(steps=3)
    result, progress = _drain(run_fusion(FusionRequest(a, b, FusionParams(steps=3)), backend=backend))
    image = result.image
    assert image.axes == "YX" and image.modality == "OT" and image.provenance == prov
    np.testing.assert_array_equal(image.affine, affine)
    np.testing.assert_allclose(image.pixels, np.maximum(a.pixels, b.pixels), atol=1e-3)
    assert [p.done for p in progress] == [1, 2, 3] and {p.total for p in progress} == {3}
    assert all(p.preview is not None and p.preview.shape == (40, 52) for p in progress)
    assert image.meta["fusion"]["params"]["steps"] == 3
    assert image.meta["fusion"]["intensity_windows"]["a"] == (127.5, 255.0)
    assert result.seconds >= 0 and result.params.steps == 3


def test_colour_source_gives_its_chroma(rng, pixel_backend) -> None:
    a, b = _grey(rng), _colour(rng)
    result = fuse(FusionRequest(a, b), backend=pixel_backend(steps=1))
    assert result.image.axes == "YXC" and result.image.meta["fusion"]["chroma_from"] == "b"
    ycc_out, ycc_b = rgb_to_ycbcr(result.image.pixels), rgb_to_ycbcr(b.pixels)
    expected_y = np.maximum(a.pixels, ycc_b[..., 0])
    inside = (result.image.pixels > 1).all(-1) & (result.image.pixels < 254).all(-1)  # not gamut-clipped
    np.testing.assert_allclose(ycc_out[..., 0][inside], expected_y[inside], atol=0.05)
    np.testing.assert_allclose(ycc_out[..., 1:][inside], ycc_b[..., 1:][inside], atol=1.0)  # clean chroma kept
    swapped = fuse(FusionRequest(b, a), backend=pixel_backend(steps=1))
    assert swapped.image.meta["fusion"]["chroma_from"] == "a"


def test_intensity_window_maps_to_unit_range(rng, pixel_backend) -> None:
    ct = Image(rng.uniform(-1000, 2000, (32, 32)).astype(np.float32), modality="CT", units="HU", window=(40, 400))
    mr = Image(np.zeros((32, 32), np.float32), modality="MR")
    result = fuse(FusionRequest(ct, mr), backend=pixel_backend(steps=1))
    expected = np.clip((ct.pixels - (40 - 200)) / 400, 0, 1) * 255
    np.testing.assert_allclose(result.image.pixels, expected, atol=1e-3)


def test_volume_is_fused_in_slice_batches(rng, pixel_backend, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _slice_runner

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 3 * 32 * 48)  # a stand-in backend runs on the CPU
    a, b = _grey(rng, (7, 30, 45)), _grey(rng, (7, 30, 45))
    backend = pixel_backend(steps=2)
    result, progress = _drain(run_fusion(FusionRequest(a, b), backend=backend))
    assert result.image.axes == "ZYX" and result.image.pixels.shape == (7, 30, 45)
    np.testing.assert_allclose(result.image.pixels, np.maximum(a.pixels, b.pixels), atol=1e-3)
    assert [c["shape"][0] for c in backend.calls] == [3, 3, 1]
    assert progress[-1].done == progress[-1].total == 6


def test_cancel_raises_between_steps(rng, pixel_backend) -> None:
    token = CancelToken()
    gen = run_fusion(FusionRequest(_grey(rng), _grey(rng)), token, backend=pixel_backend(steps=5))
    first = next(gen)
    assert first.done == 1
    token.cancel()
    with pytest.raises(FusionCancelled):
        next(gen)


def test_kappa_blend_and_base_cache(rng, pixel_backend) -> None:
    a, b = _grey(rng), _grey(rng)
    mask = np.zeros((40, 52), np.float32)
    mask[10:30, 10:30] = 1.0
    mask[10:30, 30:35] = 0.5
    kappa_b = np.where(mask > 0, 1.8, 1.0).astype(np.float32)
    backend = pixel_backend(steps=2)
    plain = fuse(FusionRequest(a, b), backend=backend).image.pixels
    result, progress = _drain(run_fusion(FusionRequest(a, b, kappa_b=kappa_b, blend_mask=mask), backend=backend))
    mod = np.clip(np.maximum(a.pixels / 255, b.pixels / 255 * kappa_b), 0, 1) * 255
    np.testing.assert_allclose(result.image.pixels, mask * mod + (1 - mask) * plain, atol=1e-2)
    assert [c["kappa"] for c in backend.calls] == [False, True]  # the plain result came from the cache
    assert progress[-1].done == progress[-1].total == 2
    fuse(FusionRequest(a, b, kappa_b=kappa_b * 1.1, blend_mask=mask), backend=backend)
    assert [c["kappa"] for c in backend.calls] == [False, True, True]
    fuse(FusionRequest(a, b, FusionParams(seed=5), kappa_b=kappa_b), backend=backend)
    assert [c["kappa"] for c in backend.calls][-2:] == [False, True]  # new params: base recomputed


def test_out_of_memory_shrinks_tiles(rng, pixel_backend) -> None:
    a, b = _grey(rng, (300, 300)), _grey(rng, (300, 300))
    backend = pixel_backend(steps=1, oom_above=160)
    result = fuse(FusionRequest(a, b, FusionParams(tile=512)), backend=backend)
    assert any("out of memory" in w for w in result.warnings)
    np.testing.assert_allclose(result.image.pixels, np.maximum(a.pixels, b.pixels), atol=1e-3)


def test_bad_inputs_raise_typed_errors(rng, pixel_backend) -> None:
    a = _grey(rng)
    bad = a.pixels.copy()
    bad[3, 3] = np.nan
    b = Image(bad, provenance=Provenance(source_paths=("/x/b.nii",)))
    with pytest.raises(ImageDataError, match="source B"):
        fuse(FusionRequest(a, b), backend=pixel_backend())
    with pytest.raises(GeometryError):
        fuse(FusionRequest(a, _grey(rng, (41, 52))), backend=pixel_backend())
    with pytest.raises(GeometryError):
        fuse(FusionRequest(a, a, kappa_a=np.ones((5, 5))), backend=pixel_backend())


@pytest.mark.parametrize("method", ["max", "mean", "laplacian", "guided"])
def test_classical_methods_run_without_torch(method, rng) -> None:
    pytest.importorskip("textdifuse_desktop.fusion.classical")
    a, b = _grey(rng), _colour(rng)
    result, progress = _drain(run_fusion(FusionRequest(a, b, FusionParams(method=method))))
    assert result.image.pixels.shape == (40, 52, 3) and result.weights_sha256 is None
    assert progress[-1].done == progress[-1].total == 1
    assert np.isfinite(result.image.pixels).all()


def test_video_fusion_frames_still_image_and_cancel(rng, pixel_backend) -> None:
    from textdifuse_desktop.fusion.engine import run_video_fusion

    class Clip(list):
        frame_count = property(lambda self: len(self))

    frames_a = Clip(_grey(rng, (24, 32)) for _ in range(4))
    frames_b = Clip(_colour(rng, (24, 32)) for _ in range(3))
    progress, notes = [], []
    out = list(run_video_fusion(frames_a, frames_b, FusionParams(steps=1), on_progress=progress.append,
                                warnings=notes, backend=pixel_backend(steps=1)))
    assert len(out) == 3 and out[0].shape == (24, 32, 3) and "fusing the first 3" in notes[0]
    assert [p.done for p in progress] == [1, 2, 3] and progress[-1].total == 3
    still = _grey(rng, (24, 32))
    out = list(run_video_fusion(still, frames_b, backend=pixel_backend(steps=1)))
    assert len(out) == 3
    token = CancelToken()
    gen = run_video_fusion(frames_a, still, cancel=token, backend=pixel_backend(steps=1))
    next(gen)
    token.cancel()
    with pytest.raises(FusionCancelled):
        next(gen)


def test_out_of_memory_at_smallest_tile_falls_back_to_cpu(rng, pixel_backend, monkeypatch) -> None:
    from textdifuse_desktop.fusion import _model_backend

    cpu_backend = pixel_backend(steps=1)
    monkeypatch.setattr(_model_backend, "cpu_fallback", lambda backend, weights: cpu_backend)
    a, b = _grey(rng, (200, 150)), _grey(rng, (200, 150))
    result = fuse(FusionRequest(a, b, FusionParams(tile=512)), backend=pixel_backend(steps=1, oom_above=0))
    assert any("falling back to the CPU" in w for w in result.warnings)
    assert [w for w in result.warnings if "retrying" in w][-1].endswith("128px tiles")
    assert cpu_backend.calls and max(cpu_backend.calls[0]["shape"][1:]) == 208  # CPU: the requested tile again
    np.testing.assert_allclose(result.image.pixels, np.maximum(a.pixels, b.pixels), atol=1e-3)


def test_background_empty_in_both_sources_stays_black(rng, pixel_backend) -> None:
    class HaloBackend(pixel_backend):
        """Adds a faint constant everywhere, like a model's halo around a head."""

        def run(self, ya, yb, ka, kb, preview):
            out = yield from super().run(ya, yb, ka, kb, preview)
            return np.clip(out + np.float32(0.02), 0, 1)

    a, b = _grey(rng), _grey(rng)
    a.pixels[:, :10] = 0
    b.pixels[:, :10] = 0
    b.pixels[:, 10:20] = 0  # empty in B only: A's signal (plus the halo) stays
    a.pixels[0, 0] = 255  # keep the window at 0..255 despite the zeros
    result, _ = _drain(run_fusion(FusionRequest(a, b, FusionParams(steps=1)), backend=HaloBackend(steps=1)))
    fused = result.image.pixels
    assert (fused[1:, :10] == 0).all()
    assert (fused[:, 10:20] > a.pixels[:, 10:20] - 1).all() and fused[:, 10:20].mean() > a.pixels[:, 10:20].mean()


def test_pet_reaches_the_model_through_its_body_window_not_the_header_window(rng) -> None:
    """A PET whose file window (17.9 / 32.3 SUV) is far wider than its data (max 7.2) must not reach the model
    nearly black; two sources sharing one window (kept units) keep it."""
    from textdifuse_desktop.fusion._sources import prepare_pair

    yy, xx = np.mgrid[:48, :48]
    body = ((yy - 24) ** 2 + (xx - 24) ** 2) < 400
    suv = np.where(body, 1.0 + rng.random((48, 48)), 0.0).astype(np.float32)
    suv[20:26, 20:26] = 7.2  # a lesion
    pet = Image(suv, modality="PT", units="SUV", window=(17.9, 32.3))
    mr = Image(rng.uniform(0, 400, (48, 48)).astype(np.float32), modality="MR")
    pair = prepare_pair(mr, pet)
    assert pair.yb[0][20:26, 20:26].mean() > 0.95 and np.median(pair.yb[0][body]) > 0.05  # header window: 0
    assert pair.yb[0][~body].max() == 0.0  # background stays black
    shared = (4.0, 8.0)
    kept = prepare_pair(pet.with_pixels(suv, window=shared), pet.with_pixels(suv * 0.5, window=shared))
    assert kept.windows["a"] == kept.windows["b"] == shared
