"""Image-fusion quality metrics (pure numpy/scipy, torch-free).

Every metric is one function ``metric(a, b, f) -> float`` registered in
:data:`METRICS` under the name used in the literature.  ``a`` and ``b`` are
the two sources (IR/MRI first, VIS/PET second) and ``f`` the fused image; all
three are grey ``uint8`` arrays or anything :func:`to_grey_uint8` accepts
(colour images are converted with MATLAB ``rgb2gray``).  The conventions are
those of the Ma-group MATLAB evaluation code, 2023 version ("new MA" in
``docs/metrics.md``): MI in bits, VIF = VIFp(A, F) + VIFp(B, F), AG divided
by (M-1)(N-1), PSNR with a 255 peak over a [0, 1]-scale MSE, SSIM the mean of
MATLAB ``ssim`` against each source.  Nabf uses the intended argument order
(fused image first), not the swapped order of the 2023 script.

Examples
--------
>>> import numpy as np
>>> from textdifuse_desktop.metrics import compute_all
>>> a = np.tile(np.arange(64, dtype=np.uint8), (64, 1))
>>> round(compute_all(a, a, a)["EN"], 3)
6.0
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.metrics.basic import ag, cc, en, psnr, sd, sf
from textdifuse_desktop.metrics.grey import load_grey, rgb2gray, to_grey_uint8
from textdifuse_desktop.metrics.information import mi, scd
from textdifuse_desktop.metrics.qabf import nabf, qabf
from textdifuse_desktop.metrics.ssim import ssim
from textdifuse_desktop.metrics.vif import vif

log = logging.getLogger(__name__)

MetricFn = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def _fused_only(fn: Callable[[np.ndarray], float]) -> MetricFn:
    def metric(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        return fn(f)

    metric.__name__ = fn.__name__
    metric.__doc__ = fn.__doc__
    return metric


#: Metric name -> ``fn(a, b, f) -> float``, in the column order of ``metrics.csv``.
METRICS: dict[str, MetricFn] = {
    "EN": _fused_only(en),
    "SD": _fused_only(sd),
    "SF": _fused_only(sf),
    "AG": _fused_only(ag),
    "MI": mi,
    "SCD": scd,
    "VIF": vif,
    "Qabf": qabf,
    "SSIM": ssim,
    "CC": cc,
    "PSNR": psnr,
    "Nabf": nabf,
}

#: Metrics where a lower value is better (all others: higher is better).
LOWER_IS_BETTER = frozenset({"Nabf"})


def compute_all(a: np.ndarray, b: np.ndarray, f: np.ndarray, names: Iterable[str] | None = None) -> dict[str, float]:
    """Compute several metrics of one fused image.

    Parameters
    ----------
    a, b:
        The source images (grey or RGB, 0..255).
    f:
        The fused image, same height and width as the sources.
    names:
        Metric names from :data:`METRICS`; all of them by default.

    Returns
    -------
    dict
        ``{name: value}`` in the order requested.

    Raises
    ------
    ImageDataError
        The three images do not have the same height and width, or are not images.
    KeyError
        An unknown metric name.
    """
    ga, gb, gf = to_grey_uint8(a), to_grey_uint8(b), to_grey_uint8(f)
    if not (ga.shape == gb.shape == gf.shape):
        raise ImageDataError(
            f"size mismatch: A {ga.shape[::-1]}, B {gb.shape[::-1]}, fused {gf.shape[::-1]} (width, height)",
            hint="the sources and the fused image must have the same size",
        )
    selected = list(METRICS) if names is None else list(names)
    unknown = [n for n in selected if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; known: {list(METRICS)}")
    return {name: float(METRICS[name](ga, gb, gf)) for name in selected}


__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "MetricFn",
    "ag",
    "cc",
    "compute_all",
    "en",
    "load_grey",
    "mi",
    "nabf",
    "psnr",
    "qabf",
    "rgb2gray",
    "scd",
    "sd",
    "sf",
    "ssim",
    "to_grey_uint8",
    "vif",
]
