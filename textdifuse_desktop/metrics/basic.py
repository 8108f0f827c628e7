"""Simple statistics of the fused image and of its agreement with the sources.

All functions follow the Ma-group MATLAB evaluation code, 2023 version ("new
MA", see ``docs/metrics.md``): inputs are grey ``uint8`` images (colour inputs
are converted with MATLAB ``rgb2gray``), and every metric except EN works on
``double`` values 0..255.  ``a`` and ``b`` are the sources (IR/MRI first),
``f`` is the fused image.
"""

from __future__ import annotations

import logging

import numpy as np

from textdifuse_desktop.metrics.grey import as_float, to_grey_uint8

log = logging.getLogger(__name__)


def _histogram_probabilities(image_u8: np.ndarray) -> np.ndarray:
    counts = np.bincount(image_u8.ravel(), minlength=256).astype(np.float64)
    return counts / counts.sum()


def entropy_bits(p: np.ndarray) -> float:
    """Shannon entropy ``-sum p log2 p`` of a probability array, ignoring zeros."""
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation over the whole image (MATLAB ``corr2``); NaN if either is constant."""
    # Raw moments with one pass per product and no centred temporaries
    # (einsum, not BLAS dot: multi-threaded BLAS is slower on small vectors
    # on a busy machine).  On 0..255 integer-valued data every sum is exact in
    # float64, so the only rounding is in the final centring.
    xv = np.ascontiguousarray(x, dtype=np.float64).ravel()
    yv = np.ascontiguousarray(y, dtype=np.float64).ravel()
    n = xv.size
    sx, sy = xv.sum(), yv.sum()
    xx, yy = float(np.einsum("i,i->", xv, xv)), float(np.einsum("i,i->", yv, yv))
    sxy = float(np.einsum("i,i->", xv, yv)) - sx * sy / n
    sxx = xx - sx * sx / n
    syy = yy - sy * sy / n
    if sxx <= 1e-12 * xx or syy <= 1e-12 * yy:  # constant image (up to rounding)
        return float("nan")
    return float(sxy / np.sqrt(sxx * syy))


def en(f: np.ndarray) -> float:
    """EN, entropy of the fused image in bits.

    256-bin histogram of the ``uint8`` image (MATLAB ``entropy``):
    ``EN = -sum_k p_k log2 p_k``.  0 for a constant image, 8 for a uniform histogram.
    """
    return entropy_bits(_histogram_probabilities(to_grey_uint8(f)))


def sd(f: np.ndarray) -> float:
    """SD, population standard deviation (ddof = 0) of the fused image on 0..255 values."""
    return float(np.std(as_float(f)))


def sf(f: np.ndarray) -> float:
    """SF, spatial frequency ``sqrt(RF^2 + CF^2)`` on 0..255 values.

    RF^2 is the mean of the ``(M-1) x N`` squared vertical differences, CF^2 the
    mean of the ``M x (N-1)`` squared horizontal differences; no padding.
    """
    x = as_float(f)
    rf2 = np.mean(np.diff(x, axis=0) ** 2) if x.shape[0] > 1 else 0.0
    cf2 = np.mean(np.diff(x, axis=1) ** 2) if x.shape[1] > 1 else 0.0
    return float(np.sqrt(rf2 + cf2))


def ag(f: np.ndarray) -> float:
    """AG, average gradient (MA convention) on 0..255 values.

    Gradients as MATLAB ``gradient`` (central differences inside, one-sided
    at the borders); ``AG = sum sqrt((gx^2 + gy^2) / 2) / ((M-1)(N-1))`` with
    the sum over all ``M x N`` pixels (MA divides by ``(M-1)(N-1)``, not ``MN``).
    """
    x = as_float(f)
    m, n = x.shape
    if m < 2 or n < 2:
        return float("nan")
    gy, gx = np.gradient(x)
    return float(np.sum(np.sqrt((gx * gx + gy * gy) / 2.0)) / ((m - 1) * (n - 1)))


def cc(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """CC, ``(r(A, F) + r(B, F)) / 2`` with Pearson ``r`` over the whole image."""
    x = as_float(f)
    return (pearson(as_float(a), x) + pearson(as_float(b), x)) / 2.0


def mse(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """MSE (MA), ``(mean((F-A)^2) + mean((F-B)^2)) / 2`` with all images divided by 255 first."""
    xa, xb, xf = as_float(a) / 255.0, as_float(b) / 255.0, as_float(f) / 255.0
    return float((np.mean((xf - xa) ** 2) + np.mean((xf - xb) ** 2)) / 2.0)


def psnr(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """PSNR (MA), ``20 log10(255 / sqrt(MSE))`` with MSE measured on the [0, 1] scale.

    This mixes a peak of 255 with a [0, 1]-scale MSE, exactly as the Ma-group
    code does, so values are the usual 0..255 PSNR plus 48.13 dB.  ``inf`` if
    ``F = A = B``.
    """
    value = mse(a, b, f)
    if value == 0:
        return float("inf")
    return float(20.0 * np.log10(255.0 / np.sqrt(value)))
