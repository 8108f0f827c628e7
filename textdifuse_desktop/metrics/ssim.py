"""SSIM as the Ma-group 2023 code reports it: the mean of MATLAB ``ssim(F, A)`` and ``ssim(F, B)``."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from textdifuse_desktop.metrics._cache import cached
from textdifuse_desktop.metrics.grey import as_float, to_grey_uint8
from textdifuse_desktop.metrics.vif import gaussian_1d

log = logging.getLogger(__name__)

#: MATLAB ``ssim`` defaults: Gaussian sigma 1.5, 11 x 11 window.
SSIM_SIGMA = 1.5
SSIM_SIZE = 11


def _gauss(x: np.ndarray) -> np.ndarray:
    g = gaussian_1d(SSIM_SIZE, SSIM_SIGMA)
    # 'nearest' is MATLAB's 'replicate' padding.
    return ndimage.correlate1d(ndimage.correlate1d(x, g, axis=0, mode="nearest"), g, axis=1, mode="nearest")


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = _gauss(x)
    mu2 = mu * mu
    return mu, mu2, _gauss(x * x) - mu2


def _ssim_many(refs: list[np.ndarray], x: np.ndarray, dynamic_range: float) -> list[float]:
    """``ssim(x, ref)`` for each ref; refs given as ``uint8`` are memoised by content."""
    c1 = (0.01 * dynamic_range) ** 2
    c2 = (0.03 * dynamic_range) ** 2
    mu_x, mu_x2, sigma_x2 = _moments(x)
    out = []
    for ref in refs:
        y = np.asarray(ref, dtype=np.float64)
        if ref.dtype == np.uint8:
            mu_y, mu_y2, sigma_y2 = cached("ssim-ref", ref, lambda y=y: _moments(y))
        else:
            mu_y, mu_y2, sigma_y2 = _moments(y)
        mu_xy = mu_x * mu_y
        sigma_xy = _gauss(x * y) - mu_xy
        num = (2.0 * mu_xy + c1) * (2.0 * sigma_xy + c2)
        den = (mu_x2 + mu_y2 + c1) * (sigma_x2 + sigma_y2 + c2)
        out.append(float(np.mean(num / den)))
    return out


def ssim_matlab(x: np.ndarray, y: np.ndarray, *, dynamic_range: float = 1.0) -> float:
    """MATLAB Image Processing Toolbox ``ssim(x, y)`` on ``double`` data.

    Gaussian window (sigma 1.5, 11 x 11), replicate padding, biased local
    variances, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``C3 = C2 / 2`` (so the
    three-term product reduces to the classic two-factor form), mean of the
    full map.  ``L`` defaults to 1, MATLAB's default for ``double`` input,
    even though the Ma-group code feeds 0..255 values.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return _ssim_many([y], x, dynamic_range)[0]


def ssim(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """SSIM (Ma-group 2023): ``0.5 ssim(F, A) + 0.5 ssim(F, B)`` with MATLAB defaults on 0..255 values.

    The dynamic range is MATLAB's default for ``double`` (``L = 1``), as the
    Ma-group code leaves it; values are therefore lower than a textbook SSIM
    with ``L = 255``.  ``SSIM(F = A = B) = 1``.
    """
    s_a, s_b = _ssim_many([to_grey_uint8(a), to_grey_uint8(b)], as_float(f), 1.0)
    return 0.5 * s_a + 0.5 * s_b
