"""Otsu thresholding (used by the weight-free region proposals and by the prompt-mask refinement)."""

from __future__ import annotations

import numpy as np

from textdifuse_desktop.errors import ImageDataError


def otsu_split(values: np.ndarray, bins: int = 256) -> tuple[float, float]:
    """Otsu's threshold of the finite ``values`` and its effectiveness (between-class / total variance, 0..1).

    Pixels ``> threshold`` form the bright class.  The effectiveness is
    about 0.64 for one Gaussian mode and approaches 1 for two well-separated
    modes.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ImageDataError("cannot threshold an empty set of values")
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo, 0.0
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centers = (edges[:-1] + edges[1:]) / 2.0
    weight0 = np.cumsum(counts)[:-1].astype(np.float64)
    weight1 = values.size - weight0
    sum0 = np.cumsum(counts * centers)[:-1]
    mean0 = sum0 / np.maximum(weight0, 1)
    mean1 = (float((counts * centers).sum()) - sum0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2 / float(values.size) ** 2
    best = int(np.argmax(between))
    total = float(np.average((centers - values.mean()) ** 2, weights=counts))
    return float(edges[1:-1][best]), float(between[best] / total) if total > 0 else 0.0


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of the finite ``values`` (maximises the between-class variance)."""
    return otsu_split(values, bins)[0]
