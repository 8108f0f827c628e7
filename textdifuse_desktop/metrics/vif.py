"""VIF as the Ma-group code computes it: Sheikh & Bovik's multiscale pixel VIF, summed over the sources.

Neither the MATLAB nor the CDDFuse evaluator implements Han et al.'s VIFF;
both compute ``VIFp(A, F) + VIFp(B, F)`` with Sheikh's ``vifp_mscale``
(4 scales, ``fspecial`` Gaussian windows, 'valid' filtering, sigma_n^2 = 2).
"""

from __future__ import annotations

import logging
from functools import cache

import numpy as np
from scipy import ndimage

from textdifuse_desktop.metrics._cache import cached
from textdifuse_desktop.metrics.grey import as_float, to_grey_uint8

log = logging.getLogger(__name__)

SIGMA_NSQ = 2.0
EPS = 1e-10
SCALES = 4


@cache
def gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', size, sigma)`` (the 2-D window is its outer product).

    fspecial zeroes entries below ``eps * max``; for the windows used here
    (``sigma = size / 5``, ``size`` <= 17) and for SSIM's 11 x 11, sigma 1.5 window
    no entry is that small, so the window is exactly separable.
    """
    r = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - r
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    g2 = np.outer(g, g)
    if np.any(g2 < np.finfo(np.float64).eps * g2.max()):  # pragma: no cover - not reached for our sizes
        raise ValueError("fspecial window is not separable for this size/sigma")
    return g / g.sum()


def filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(outer(g, g), x, 'valid')`` for a symmetric separable window ``g``."""
    n = g.size
    r = n // 2
    y = ndimage.correlate1d(x, g, axis=0, mode="constant")[r : x.shape[0] - (n - 1 - r)]
    y = ndimage.correlate1d(y, g, axis=1, mode="constant")[:, r : x.shape[1] - (n - 1 - r)]
    return y


def filter_valid_decimate(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``filter_valid(x, g)[::2, ::2]``, decimating the rows before the second pass (same values)."""
    n = g.size
    r = n // 2
    y = ndimage.correlate1d(x, g, axis=0, mode="constant")[r : x.shape[0] - (n - 1 - r) : 2]
    return ndimage.correlate1d(y, g, axis=1, mode="constant")[:, r : x.shape[1] - (n - 1 - r) : 2]


def _local_stats(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = filter_valid(x, g)
    return mu, np.maximum(filter_valid(x * x, g) - mu * mu, 0.0)


def _windows() -> list[np.ndarray]:
    return [gaussian_1d(2 ** (SCALES - s + 1) + 1, (2 ** (SCALES - s + 1) + 1) / 5.0) for s in range(1, SCALES + 1)]


def _pyramid(x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per scale: the image at that scale, its local mean and its clamped local variance."""
    levels = []
    for scale, g in enumerate(_windows(), start=1):
        if scale > 1:
            x = filter_valid_decimate(x, g)
        if x.shape[0] < g.size or x.shape[1] < g.size:
            log.debug("image too small for VIF scale %d; using scales 1..%d", scale, scale - 1)
            break
        levels.append((x, *_local_stats(x, g)))
    return levels


def _reference_levels(ref: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    # The denominator depends on the reference only (variances below EPS count as 0).
    return [(r, mu, var, float(np.sum(np.log(1.0 + np.where(var < EPS, 0.0, var) / SIGMA_NSQ))))
            for r, mu, var in _pyramid(ref)]


def vifp_many(refs: list[np.ndarray], dist: np.ndarray) -> list[float]:
    """``[vifp(ref, dist) for ref in refs]``, sharing the work done on ``dist``.

    The reference-side statistics of ``uint8`` refs are memoised by content,
    so scoring several fused images against the same sources is cheaper.
    """
    dist_levels = _pyramid(np.asarray(dist, dtype=np.float64))
    windows = _windows()
    out = []
    for ref in refs:
        ref = np.asarray(ref)
        r64 = ref.astype(np.float64)
        if ref.dtype == np.uint8:
            ref_levels = cached("vif-ref", ref, lambda r64=r64: _reference_levels(r64))
        else:
            ref_levels = _reference_levels(r64)
        num = den = 0.0
        for g, (r, mu1, var1, den_s), (d, mu2, sigma2_sq) in zip(windows, ref_levels, dist_levels):
            sigma12 = filter_valid(r * d, g) - mu1 * mu2
            gain = sigma12 / (var1 + EPS)
            sv_sq = np.maximum(sigma2_sq - gain * sigma12, EPS)
            # vifp_mscale.m overrides g and sv^2 where sigma1^2 < eps, sigma2^2 < eps
            # or g < 0; in all three cases g ends up 0, so the pixel adds
            # log(1 + 0) = 0 whatever sv^2 becomes.  Zeroing g is therefore exact.
            gain = np.where((var1 < EPS) | (sigma2_sq < EPS) | (gain < 0), 0.0, gain)
            # Natural log instead of log10: the base cancels in num / den, and
            # numpy's float64 log is several times faster than log10.
            num += float(np.sum(np.log(1.0 + gain * gain * var1 / (sv_sq + SIGMA_NSQ))))
            den += den_s
        ratio = num / den if den != 0 else float("nan")
        out.append(float(ratio) if np.isfinite(ratio) else 1.0)
    return out


def vifp(ref: np.ndarray, dist: np.ndarray) -> float:
    """Sheikh & Bovik multiscale pixel-domain VIF of ``dist`` against ``ref`` (0..255 scale).

    Scales s = 1..4 with window size ``2^(5-s) + 1`` and sigma = size / 5; for
    s > 1 both images are first filtered ('valid') and decimated by 2.  The
    local statistics, the clamping order and ``sigma_n^2 = 2`` follow
    ``vifp_mscale.m``.  ``VIFp(X, X) = 1``.  Returns 1.0 if the ratio is
    undefined (no texture at all), like the CDDFuse evaluator.
    """
    return vifp_many([ref], dist)[0]


def vif(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """VIF, ``VIFp(A, F) + VIFp(B, F)`` on 0..255 values (Ma-group / CDDFuse convention).

    Range 0 to about 2; ``VIF(F = A = B) = 2``.  The absolute noise variance
    sigma_n^2 = 2 makes it scale dependent, so inputs must be on 0..255.
    """
    return float(sum(vifp_many([to_grey_uint8(a), to_grey_uint8(b)], as_float(f))))
