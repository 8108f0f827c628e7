"""Chroma restoration after a fusion: noisy chroma is denoised along the fused luminance, clean chroma is kept."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from textdifuse_desktop.imaging.chroma import noise_sigma, restore_chroma


def _scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Luma with objects and chroma whose colour edges follow them, plus fine colour texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:96, :128]
    objects = ((yy - 40) ** 2 + (xx - 50) ** 2 < 400) * 1.0 + ((xx > 90) & (yy > 30)) * 0.6
    luma = 60 + 120 * objects + ndimage.gaussian_filter(rng.normal(0, 8, yy.shape), 1)
    cb = 128 + 40 * objects - 20 * (xx > 90) + ndimage.gaussian_filter(rng.normal(0, 3, yy.shape), 1)
    cr = 128 - 30 * objects + 10 * np.sin(xx / 3.0)
    return luma[None].astype(np.float32), np.stack([cb, cr], axis=-1)[None].astype(np.float32)


def test_noise_sigma_reads_white_noise() -> None:
    rng = np.random.default_rng(1)
    assert abs(noise_sigma(rng.normal(0, 5.0, (200, 200))) - 5.0) < 0.3
    assert noise_sigma(np.tile(np.linspace(0, 50, 64), (64, 1))) < 0.05


def test_clean_chroma_passes_through() -> None:
    luma, chroma = _scene()
    out = restore_chroma(chroma, luma)
    assert np.abs(out - chroma).mean() < 0.6


def test_noisy_chroma_is_denoised_along_the_luma() -> None:
    luma, clean = _scene()
    noisy = clean + np.random.default_rng(2).normal(0, 10, clean.shape).astype(np.float32)
    out = restore_chroma(noisy, luma)
    before, after = np.abs(noisy - clean).mean(), np.abs(out - clean).mean()
    assert after < 0.5 * before, (before, after)
