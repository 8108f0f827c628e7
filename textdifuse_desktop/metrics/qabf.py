"""Edge-based metrics: Qabf (Xydeas & Petrovic) and Nabf (fusion artefacts, Shreyamsha Kumar).

Both follow the Ma-group MATLAB functions ``analysis_Qabf`` and
``analysis_nabf`` on 0..255 ``double`` data, quirks included (see the
docstrings).
"""

from __future__ import annotations

import logging

import numpy as np

from textdifuse_desktop.metrics._cache import cached
from textdifuse_desktop.metrics.grey import as_float, to_grey_uint8

log = logging.getLogger(__name__)

# Qabf constants (Xydeas & Petrovic 2000, as in the Hong 2007 code).
_QG_GAMMA, _QG_KAPPA, _QG_SIGMA = 0.9994, -15.0, 0.5
_QA_GAMMA, _QA_KAPPA, _QA_SIGMA = 0.9879, -22.0, 0.8

# Nabf constants (Petrovic & Xydeas 2005, modified by B. K. Shreyamsha Kumar).
_N_TD, _N_WT_MIN = 2.0, 0.001  # weight exponent L = 1.5
_N_QG_GAMMA, _N_QG_KAPPA, _N_QG_SIGMA = 0.9999, 19.0, 0.5
_N_QA_GAMMA, _N_QA_KAPPA, _N_QA_SIGMA = 0.9995, 22.0, 0.5


def _exp32(x: np.ndarray) -> np.ndarray:
    # The sigmoid weights only need ~1e-7 relative precision, and numpy's
    # float32 exp is an order of magnitude faster than its float64 exp.
    return np.exp(x.astype(np.float32)).astype(np.float64)


def _sobel_conv_zero(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``conv2(x, h3, 'same')`` and ``conv2(x, h1, 'same')`` (true convolution, zero padding).

    h3 = [[-1,0,1],[-2,0,2],[-1,0,1]], h1 = [[1,2,1],[0,0,0],[-1,-2,-1]].
    """
    p = np.pad(x, 1, mode="constant")
    # Convolution flips the kernel: the column to the left gets +1, the right -1.
    left, mid, right = p[:, :-2], p[:, 1:-1], p[:, 2:]
    smooth_rows = left + 2.0 * mid + right  # [1 2 1] along columns
    horiz = left - right  # flipped [-1 0 1] along columns
    sx = horiz[:-2] + 2.0 * horiz[1:-1] + horiz[2:]
    sy = smooth_rows[2:] - smooth_rows[:-2]
    return sx, sy


def _qabf_edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sx, sy = _sobel_conv_zero(x)
    strength = np.sqrt(sx * sx + sy * sy)
    zero = sx == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.where(zero, np.pi / 2, np.arctan(sy / np.where(zero, 1.0, sx)))
    return strength, angle


def _qabf_preservation(g_src: np.ndarray, a_src: np.ndarray, g_f: np.ndarray, a_f: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(g_src > g_f, g_f / g_src, np.where(g_src == g_f, g_f, g_src / g_f))
    orient = 1.0 - np.abs(a_src - a_f) / (np.pi / 2)
    q_g = _QG_GAMMA / (1.0 + _exp32(_QG_KAPPA * (ratio - _QG_SIGMA)))
    q_a = _QA_GAMMA / (1.0 + _exp32(_QA_KAPPA * (orient - _QA_SIGMA)))
    return q_g * q_a


def qabf(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """Qabf, Xydeas & Petrovic edge-information preservation, Ma-group convention (0..255).

    Sobel by true convolution with zero padding; angle ``atan(sy / sx)`` with
    ``pi / 2`` where ``sx == 0``.  Relative strength ``gF / gA`` or ``gA / gF``
    and, as in the original code, ``gF`` itself (not 1) where ``gA == gF``.
    ``Qabf = sum(Q_AF gA + Q_BF gB) / sum(gA + gB)``.  Its maximum is about
    0.9753 (``F = A = B`` with non-zero gradients everywhere).
    """
    ua, ub = to_grey_uint8(a), to_grey_uint8(b)
    g_a, a_a = cached("qabf-edges", ua, lambda: _qabf_edges(as_float(ua)))
    g_b, a_b = cached("qabf-edges", ub, lambda: _qabf_edges(as_float(ub)))
    g_f, a_f = _qabf_edges(as_float(f))
    den = float(np.sum(g_a + g_b))
    if den == 0:
        return float("nan")
    num = np.sum(_qabf_preservation(g_a, a_a, g_f, a_f) * g_a + _qabf_preservation(g_b, a_b, g_f, a_f) * g_b)
    return float(num / den)


def _nabf_edges(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Correlation with the Sobel kernels / 8, mirror border without repeating the edge pixel.
    p = np.pad(x, 1, mode="reflect")
    left, mid, right = p[:, :-2], p[:, 1:-1], p[:, 2:]
    horiz = (right - left) / 8.0  # [-1 0 1] along columns
    smooth = (left + 2.0 * mid + right) / 8.0  # [1 2 1] along columns
    gv = horiz[:-2] + 2.0 * horiz[1:-1] + horiz[2:]
    gh = smooth[2:] - smooth[:-2]
    strength = np.sqrt(gh * gh + gv * gv)
    both_zero = (gv == 0) & (gh == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.where(both_zero, 0.0, np.arctan(gv / gh))
    weight = np.where(strength >= _N_TD, strength * np.sqrt(strength), _N_WT_MIN)  # g^1.5 above T_d
    return strength, angle, weight


def _nabf_preservation(g_src: np.ndarray, a_src: np.ndarray, g_f: np.ndarray, a_f: np.ndarray) -> np.ndarray:
    nonzero = (g_src != 0) & (g_f != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(nonzero, np.minimum(g_src, g_f) / np.maximum(g_src, g_f), 0.0)
    orient = np.abs(np.abs(a_src - a_f) - np.pi / 2) * 2.0 / np.pi
    q_g = _N_QG_GAMMA / (1.0 + _exp32(-_N_QG_KAPPA * (ratio - _N_QG_SIGMA)))
    q_a = _N_QA_GAMMA / (1.0 + _exp32(-_N_QA_KAPPA * (orient - _N_QA_SIGMA)))
    return np.sqrt(q_g * q_a)


def nabf_fused_first(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Nabf with the function's own argument order ``(fused, source 1, source 2)``.

    ``sum 1[gF > gA and gF > gB] ((1 - Q_AF) w_A + (1 - Q_BF) w_B) / sum(w_A + w_B)``
    with ``w = g^1.5`` where ``g >= 2`` and 0.001 elsewhere (/8 Sobel,
    0..255 scale).  Lower is better.
    """
    ua, ub = to_grey_uint8(a), to_grey_uint8(b)
    g_f, a_f, _ = _nabf_edges(as_float(f))
    g_a, a_a, w_a = cached("nabf-edges", ua, lambda: _nabf_edges(as_float(ua)))
    g_b, a_b, w_b = cached("nabf-edges", ub, lambda: _nabf_edges(as_float(ub)))
    artefact = (g_f > g_a) & (g_f > g_b)
    q_af = _nabf_preservation(g_a, a_a, g_f, a_f)
    q_bf = _nabf_preservation(g_b, a_b, g_f, a_f)
    num = np.sum(np.where(artefact, (1.0 - q_af) * w_a + (1.0 - q_bf) * w_b, 0.0))
    return float(num / np.sum(w_a + w_b))


def nabf(a: np.ndarray, b: np.ndarray, f: np.ndarray, *, ma2023_call_order: bool = False) -> float:
    """Nabf, rate of fusion artefacts of ``f`` against sources ``a`` and ``b`` (lower is better).

    By default the intended order, ``analysis_nabf(F, A, B)``, as the pre-2023
    Ma-group code and ``metric_reference/expected.csv`` use it.  The 2023
    MATLAB ``analysis_Reference`` calls ``analysis_nabf(A, B, F)`` although the
    function expects the fused image first, which treats source A as the
    fused image; ``ma2023_call_order=True`` reproduces that (buggy) number for
    comparison with tables made with it.
    """
    if ma2023_call_order:
        return nabf_fused_first(a, b, f)
    return nabf_fused_first(f, a, b)
