"""Information-theoretic metrics: MI and SCD (Ma-group MATLAB conventions, 2023 version)."""

from __future__ import annotations

import logging

import numpy as np

from textdifuse_desktop.metrics.basic import (
    _histogram_probabilities,
    entropy_bits,
    pearson,
)
from textdifuse_desktop.metrics.grey import as_float, to_grey_uint8

log = logging.getLogger(__name__)


def _joint_entropy(x: np.ndarray, y: np.ndarray, *, merge_top: bool) -> float:
    if merge_top:
        # MATLAB indexes h(x+1, y+1) on uint8 data: 255 + 1 saturates to 255,
        # so grey levels 254 and 255 share one joint bin (not the marginals).
        x = np.minimum(x, 254)
        y = np.minimum(y, 254)
    joint = np.bincount(x.ravel().astype(np.intp) * 256 + y.ravel(), minlength=256 * 256)
    return entropy_bits(joint.astype(np.float64) / joint.sum())


def mutual_information(x: np.ndarray, f: np.ndarray, *, merge_top: bool = True) -> float:
    """``I(F; X) = H(X) + H(F) - H(F, X)`` in bits, with 256-bin histograms of ``uint8`` images.

    ``merge_top=True`` reproduces the MATLAB joint histogram, in which grey
    levels 254 and 255 fall into the same joint bin.
    """
    xu, fu = to_grey_uint8(x), to_grey_uint8(f)
    hx = entropy_bits(_histogram_probabilities(xu))
    hf = entropy_bits(_histogram_probabilities(fu))
    return hx + hf - _joint_entropy(fu, xu, merge_top=merge_top)


def mi(a: np.ndarray, b: np.ndarray, f: np.ndarray, *, merge_top: bool = True) -> float:
    """MI, ``I(F; A) + I(F; B)`` in bits (log2), Ma-group convention.

    Marginal entropies use 256 bins of the ``uint8`` images; the joint
    histogram merges levels 254 and 255 (``merge_top``), as the MATLAB code
    does through ``uint8`` saturation.  With ``merge_top=False``,
    ``MI(F=A=B) = 2 EN(A)``.  Divide by ``log2(e)`` for the nats of the
    Python (CDDFuse) evaluator.
    """
    return mutual_information(a, f, merge_top=merge_top) + mutual_information(b, f, merge_top=merge_top)


def scd(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
    """SCD, sum of the correlations of differences: ``r(F - B, A) + r(F - A, B)``.

    Pearson ``r`` over the whole image on 0..255 values; equals 2 when
    ``F = A + B`` exactly (Aslantas & Bendes 2015).
    """
    xa, xb, xf = as_float(a), as_float(b), as_float(f)
    return pearson(xf - xb, xa) + pearson(xf - xa, xb)
