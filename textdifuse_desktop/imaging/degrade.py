"""Seeded composite degradations for training the restoration model.

Images are float32 in [0, 1] (``HxW``; ``HxWxC`` colour is filtered and
perturbed per channel with the same parameters).  A *plan* is a list of
:class:`DegradationOp` (name + parameters).  :func:`sample_plan` draws one for
a modality, :func:`draw_noise` draws its random fields and :func:`apply_plan`
applies it deterministically, so the torch twin
(:mod:`textdifuse_desktop.model.degrade_torch`) can reproduce the numpy result
exactly from the same plan and noise.  Ranges follow method.md §4.3 / §10.6
(DuS-DiFuse ``degradation_sys.py`` and the EMS data of Text-IF), in 0..255
units where the table says so:

==============  ==========================================  =================================
op              formula (x in [0, 1])                       parameters (range)
==============  ==========================================  =================================
motion_blur     correlate with a line kernel                length 1-10 px, angle 0-180 deg
gaussian_blur   correlate with a Gaussian                   kernel 3-11 (odd); sigma from the
                                                            kernel, OpenCV rule
low_light       y = gain * x**gamma, then Poisson-Gaussian  gain 0.1-0.5, gamma 1.5-3,
                noise y + sqrt(y/peak + (read/255)^2) * z   peak 60-200, read 1-10
over_exposure   y = clip(gain * x) ** gamma (one of them 1)  gain 1.5-3 or gamma 0.3-0.7
low_contrast    y = alpha * x + (1 - alpha) * level         alpha 0.3-0.9; level 1 (IR,
                                                            y = ax + 255(1-a)), 0-0.2 medical
poisson_noise   y = x + sqrt(x / peak) * z                  peak 60-200 (Gaussian approx.)
gaussian_noise  y = x + sigma/255 * z                       sigma 0-20
stripe_noise    y = x + beta/255 * z_col (one z per column)  beta 3-25
salt_pepper     u < amount/2 -> 1, u > 1 - amount/2 -> 0    amount 1e-4-5e-3
==============  ==========================================  =================================

Ops apply in that fixed physical order (optics, exposure, sensor noise,
read-out, defects) whatever order the plan lists them in; each result is
clipped to [0, 1].  A modality offers groups of mutually exclusive ops
(:data:`MODALITY_GROUPS`); a plan takes 1..``max_ops`` groups, or none with
probability ``p_clean`` (clean pass-through).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from textdifuse_desktop.errors import ImageDataError

log = logging.getLogger(__name__)

#: Application order of the ops (a plan is always applied in this order).
ORDER = (
    "motion_blur",
    "gaussian_blur",
    "low_light",
    "over_exposure",
    "low_contrast",
    "poisson_noise",
    "gaussian_noise",
    "stripe_noise",
    "salt_pepper",
)

#: Parameter ranges (low, high) sampled uniformly; see the module table.
RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "motion_blur": {"length": (1.0, 10.0), "angle": (0.0, 180.0)},
    "gaussian_blur": {"kernel": (3, 11)},
    "low_light": {"gain": (0.1, 0.5), "gamma": (1.5, 3.0), "peak": (60.0, 200.0), "read": (1.0, 10.0)},
    "over_exposure": {"gain": (1.5, 3.0), "gamma": (0.3, 0.7)},
    "low_contrast": {"alpha": (0.3, 0.9), "level": (1.0, 1.0)},
    "poisson_noise": {"peak": (60.0, 200.0)},
    "gaussian_noise": {"sigma": (0.0, 20.0)},
    "stripe_noise": {"beta": (3.0, 25.0)},
    "salt_pepper": {"amount": (1e-4, 5e-3)},
}

_MEDICAL_CONTRAST = {"low_contrast": {"alpha": (0.3, 0.9), "level": (0.0, 0.2)}}

#: Per-modality overrides of :data:`RANGES` (medical low contrast keeps the background dark).
MODALITY_RANGES: dict[str, dict[str, dict[str, tuple[float, float]]]] = {
    "mri": _MEDICAL_CONTRAST,
    "ct": _MEDICAL_CONTRAST,
    "pet": _MEDICAL_CONTRAST,
    "spect": _MEDICAL_CONTRAST,
}

#: Groups of mutually exclusive ops valid for each modality.
MODALITY_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "vis": (("low_light", "over_exposure"), ("gaussian_noise",), ("poisson_noise",), ("gaussian_blur",), ("motion_blur",)),
    "ir": (("low_contrast",), ("stripe_noise",), ("gaussian_noise",), ("poisson_noise",), ("salt_pepper",), ("gaussian_blur",)),
    "mri": (("gaussian_noise",), ("low_contrast",), ("gaussian_blur",)),
    "ct": (("gaussian_noise",), ("poisson_noise",), ("low_contrast",), ("gaussian_blur",)),
    "pet": (("poisson_noise",), ("gaussian_noise",), ("low_contrast",), ("gaussian_blur",)),
    "spect": (("poisson_noise",), ("gaussian_noise",), ("low_contrast",), ("gaussian_blur",)),
}

MODALITIES = tuple(MODALITY_GROUPS)

#: Image.modality codes -> degradation modality keys.
MODALITY_ALIASES = {"IR": "ir", "VIS": "vis", "MR": "mri", "CT": "ct", "PT": "pet", "NM": "spect"}

#: Largest kernel side (motion and Gaussian kernels are padded to it in the torch path).
MAX_KERNEL = 11

#: Random field each op consumes: "normal" (image shaped), "normal_col" (one value per column), "uniform".
NOISE_KIND = {"low_light": "normal", "poisson_noise": "normal", "gaussian_noise": "normal",
              "stripe_noise": "normal_col", "salt_pepper": "uniform"}


@dataclass(frozen=True)
class DegradationOp:
    """One degradation with its parameters (plain floats, JSON-friendly)."""

    name: str
    params: Mapping[str, float] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """``{"op": name, **params}`` for logs and ``degradations.json``."""
        return {"op": self.name, **{k: float(v) for k, v in self.params.items()}}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DegradationOp:
        """Inverse of :meth:`to_record`."""
        params = {k: float(v) for k, v in record.items() if k != "op"}
        return cls(_check_op(str(record["op"])), params)


def modality_key(modality: str) -> str:
    """Normalise ``"MR"``/``"mri"``/``"VIS"``... to a key of :data:`MODALITY_GROUPS`."""
    key = MODALITY_ALIASES.get(modality, modality.lower())
    if key not in MODALITY_GROUPS:
        raise ImageDataError(f"no degradation model for modality {modality!r}", hint=f"use one of {', '.join(MODALITIES)}")
    return key


def op_ranges(name: str, modality: str) -> dict[str, tuple[float, float]]:
    """Parameter ranges of op ``name`` for ``modality``."""
    return MODALITY_RANGES.get(modality_key(modality), {}).get(name, RANGES[_check_op(name)])


def sample_plan(
    modality: str,
    rng: np.random.Generator,
    *,
    n_ops: int | None = None,
    max_ops: int = 3,
    p_clean: float = 0.1,
) -> list[DegradationOp]:
    """Draw a degradation plan for one image.

    Parameters
    ----------
    modality:
        ``ir|vis|mri|pet|ct|spect`` (or an Image modality code).
    rng:
        Source of randomness; the same state gives the same plan.
    n_ops:
        Exact number of ops (0 = clean); default: clean with probability
        ``p_clean``, else uniform in 1..``max_ops``.
    """
    groups = MODALITY_GROUPS[modality_key(modality)]
    if n_ops is None:
        if rng.random() < p_clean or max_ops < 1:
            return []
        n_ops = int(rng.integers(1, min(max_ops, len(groups)) + 1))
    n_ops = max(0, min(int(n_ops), len(groups)))
    chosen = rng.choice(len(groups), size=n_ops, replace=False)
    names = [groups[i][int(rng.integers(len(groups[i])))] for i in sorted(chosen)]
    plan = [DegradationOp(name, _sample_params(name, modality, rng)) for name in names]
    return sorted(plan, key=lambda op: ORDER.index(op.name))


def draw_noise(plan: Sequence[DegradationOp], shape: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray | None]:
    """Random fields for ``plan`` on an image of ``shape`` (``HxW`` or ``HxWxC``), aligned with the plan."""
    fields: list[np.ndarray | None] = []
    for op in plan:
        kind = NOISE_KIND.get(op.name)
        if kind == "normal":
            fields.append(rng.standard_normal(shape, dtype=np.float32))
        elif kind == "normal_col":
            fields.append(rng.standard_normal((1, *shape[1:]), dtype=np.float32))
        elif kind == "uniform":
            fields.append(rng.random(shape, dtype=np.float32))
        else:
            fields.append(None)
    return fields


def apply_plan(x: np.ndarray, plan: Sequence[DegradationOp], noise: Sequence[np.ndarray | None] | None = None,
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply ``plan`` to ``x`` (float in [0, 1], ``HxW`` or ``HxWxC``).

    ``noise`` holds the fields from :func:`draw_noise`; when omitted they are
    drawn from ``rng`` (a fresh default generator if that is None too).
    """
    x = np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)
    if x.ndim not in (2, 3):
        raise ImageDataError(f"degradations need an HxW or HxWxC image, got shape {x.shape}")
    if noise is None:
        noise = draw_noise(plan, x.shape, rng if rng is not None else np.random.default_rng())
    for index in sorted(range(len(plan)), key=lambda i: ORDER.index(plan[i].name)):
        x = _apply_op(x, plan[index], noise[index])
    return x


def file_rng(seed: int, file_name: str) -> np.random.Generator:
    """The generator ``textdifuse degrade`` uses for one file: seeded by ``(seed, crc32(file name))``, so a
    file's degradation does not depend on which other files are degraded with it."""
    return np.random.default_rng([seed, zlib.crc32(file_name.encode("utf-8"))])


def degrade(
    y: np.ndarray,
    modality: str,
    rng: np.random.Generator,
    n_ops: int | None = None,
    *,
    max_ops: int = 3,
    p_clean: float = 0.1,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Degrade ``y`` with a random plan for ``modality``.

    Returns
    -------
    tuple
        The degraded float32 image in [0, 1] and the list of op records
        (``{"op": name, **params}``) that reproduce it with the same noise.

    Examples
    --------
    >>> import numpy as np
    >>> out, records = degrade(np.full((8, 8), 0.5, np.float32), "ir", np.random.default_rng(0), n_ops=2)
    >>> out.shape, len(records)
    ((8, 8), 2)
    """
    plan = sample_plan(modality, rng, n_ops=n_ops, max_ops=max_ops, p_clean=p_clean)
    out = apply_plan(y, plan, draw_noise(plan, np.shape(y), rng))
    return out, [op.to_record() for op in plan]


# ----------------------------------------------------------------- kernels
def gaussian_kernel1d(kernel: int) -> np.ndarray:
    """Normalised 1D Gaussian of odd size ``kernel``; sigma by OpenCV's rule."""
    size = int(kernel) | 1
    sigma = 0.3 * ((size - 1) * 0.5 - 1.0) + 0.8
    t = np.arange(size, dtype=np.float64) - size // 2
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def motion_kernel(length: float, angle: float, size: int = MAX_KERNEL) -> np.ndarray:
    """``size x size`` line kernel of ``length`` px at ``angle`` degrees (anti-aliased, sums to 1)."""
    n = max(2, int(np.ceil(length * 4)))
    t = np.linspace(-length / 2.0, length / 2.0, n)
    theta = np.deg2rad(angle)
    cx, cy = t * np.cos(theta) + size // 2, -t * np.sin(theta) + size // 2
    x0, y0 = np.floor(cx).astype(int), np.floor(cy).astype(int)
    fx, fy = cx - x0, cy - y0
    k = np.zeros((size, size), dtype=np.float64)
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xs, ys = np.clip(x0 + dx, 0, size - 1), np.clip(y0 + dy, 0, size - 1)
        np.add.at(k, (ys, xs), w)
    return (k / k.sum()).astype(np.float32)


# ----------------------------------------------------------------- internals
def _check_op(name: str) -> str:
    if name not in ORDER:
        raise ImageDataError(f"unknown degradation {name!r}", hint=f"known: {', '.join(ORDER)}")
    return name


def _sample_params(name: str, modality: str, rng: np.random.Generator) -> dict[str, float]:
    ranges = op_ranges(name, modality)
    if name == "gaussian_blur":
        lo, hi = ranges["kernel"]
        return {"kernel": float(2 * rng.integers(int(lo) // 2, int(hi) // 2 + 1) + 1)}
    params = {key: float(rng.uniform(lo, hi)) for key, (lo, hi) in ranges.items()}
    if name == "over_exposure":  # either a gain with clipping or a gamma, not both
        params["gain" if rng.random() < 0.5 else "gamma"] = 1.0
    return params


def _filter(x: np.ndarray, kernel2d: np.ndarray | None, kernel1d: np.ndarray | None) -> np.ndarray:
    out = np.empty_like(x)
    planes = [(...,)] if x.ndim == 2 else [(..., c) for c in range(x.shape[2])]
    for sl in planes:
        plane = x[sl]
        if kernel1d is not None:
            plane = ndimage.correlate1d(plane, kernel1d, axis=0, mode="nearest")
            plane = ndimage.correlate1d(plane, kernel1d, axis=1, mode="nearest")
        else:
            plane = ndimage.correlate(plane, kernel2d, mode="nearest")
        out[sl] = plane
    return out


def _apply_op(x: np.ndarray, op: DegradationOp, z: np.ndarray | None) -> np.ndarray:
    p = op.params
    f32 = np.float32
    if op.name == "motion_blur":
        y = _filter(x, motion_kernel(p["length"], p["angle"]), None)
    elif op.name == "gaussian_blur":
        y = _filter(x, None, gaussian_kernel1d(int(p["kernel"])))
    elif op.name == "low_light":
        y = f32(p["gain"]) * np.power(x, f32(p["gamma"]))
        y = y + np.sqrt(y / f32(p["peak"]) + f32((p["read"] / 255.0) ** 2)) * z
    elif op.name == "over_exposure":
        y = np.power(np.clip(f32(p["gain"]) * x, 0.0, 1.0), f32(p["gamma"]))
    elif op.name == "low_contrast":
        y = f32(p["alpha"]) * x + f32((1.0 - p["alpha"]) * p["level"])
    elif op.name == "poisson_noise":
        y = x + np.sqrt(x / f32(p["peak"])) * z
    elif op.name == "gaussian_noise":
        y = x + f32(p["sigma"] / 255.0) * z
    elif op.name == "stripe_noise":
        y = x + f32(p["beta"] / 255.0) * z
    elif op.name == "salt_pepper":
        half = f32(p["amount"] / 2.0)
        y = np.where(z < half, f32(1.0), np.where(z > 1.0 - half, f32(0.0), x))
    else:  # pragma: no cover - guarded by _check_op
        raise ImageDataError(f"unknown degradation {op.name!r}")
    return np.clip(y, 0.0, 1.0).astype(np.float32, copy=False)
