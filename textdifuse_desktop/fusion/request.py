"""Torch-free description of a fusion job and of its result.

These dataclasses are shared by the engine (:mod:`textdifuse_desktop.fusion.engine`),
the CLI and the GUI.  They never import torch, so the GUI and the session can
build requests and read results without loading the model stack.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

#: Diffusion method name; every other method is a classical per-pixel rule.
MODEL_METHOD = "textdifuse"
CLASSICAL_METHODS = ("max", "mean", "laplacian", "guided")
METHODS = (MODEL_METHOD, *CLASSICAL_METHODS)
RULES = ("fcm", "max", "add", "mean", "variance")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: Most sampling steps the DDIM sampler accepts (``model.sampler.MAX_STEPS``).
MAX_STEPS = 25
#: Default tile side.  Tiles see only their own content (the FCM's attention pools over the whole input),
#: so a tiled image can differ in tone from tile to tile; whole images up to this side fuse in one piece
#: (1280x1024 at about 550 MB on the CPU) and the GPU out-of-memory fallback still shrinks tiles.
DEFAULT_TILE = 1536
#: Range of the restoration strength (1 = as trained; above 1 exaggerates the correction).
RESTORE_RANGE = (0.0, 1.5)


@dataclass
class FusionParams:
    """User-chosen parameters of one fusion.

    Attributes
    ----------
    method:
        ``"textdifuse"`` (the diffusion model) or a classical rule
        (``"max"``, ``"mean"``, ``"laplacian"``, ``"guided"``).
    steps:
        Number of DDIM sampling steps (model only).
    rule:
        Feature-fusion rule inside the network: ``"fcm"`` (learned gates),
        ``"max"``, ``"add"``, ``"mean"`` or ``"variance"``.
    device:
        ``"auto"`` (cuda > mps > cpu), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``.
    seed:
        Seed of the initial noise; the same seed gives the same result.
    weights:
        Path of a ``.safetensors`` weights file, or None for the shipped model.
    tile:
        Largest tile side in pixels; bigger images are fused in overlapping
        tiles blended with a raised-cosine window.  0 disables tiling.
    restore:
        Restoration strength of the model (0..1.5): scales the correction that the network decides on
        (denoise, lift low light, remove stripes); 1 = as trained, 0 only fuses.
    tone:
        Run the network's learned global tone correction of each source (contrast loss, low light,
        over-exposure; scaled by ``restore``).  Off when the result must keep the sources' units
        (``textdifuse fuse --keep-units``): a tone curve changes every value.
    """

    method: str = MODEL_METHOD
    steps: int = DEFAULT_STEPS
    rule: str = "fcm"
    device: str = "auto"
    seed: int = 0
    weights: str | None = None
    tile: int = DEFAULT_TILE
    restore: float = 1.0
    tone: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {self.rule!r}")
        if not 1 <= int(self.steps) <= MAX_STEPS:
            raise ValueError(f"steps must be within 1..{MAX_STEPS}, got {self.steps!r}")
        if not RESTORE_RANGE[0] <= float(self.restore) <= RESTORE_RANGE[1]:
            raise ValueError(f"restore must be within {RESTORE_RANGE[0]}..{RESTORE_RANGE[1]}, got {self.restore!r}")
        self.restore = float(self.restore)
        self.tone = bool(self.tone)
        if int(self.tile) < 0:
            raise ValueError(f"tile must be >= 0 (0 = no tiling), got {self.tile!r}")
        base_device = str(self.device).split(":")[0]
        if base_device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES} (optionally 'cuda:N'), got {self.device!r}")
        self.steps = int(self.steps)
        self.seed = int(self.seed)
        self.tile = int(self.tile)
        if self.weights is not None:
            self.weights = str(self.weights)

    @property
    def uses_model(self) -> bool:
        """True when the diffusion model runs (``method == "textdifuse"``)."""
        return self.method == MODEL_METHOD

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (recorded in result metadata and session files)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionParams:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (forward compatibility)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def cache_key(self) -> tuple[Any, ...]:
        """Hashable key of every parameter that changes the unmodulated result."""
        weights = str(Path(self.weights).resolve()) if self.weights else None
        return (self.method, self.steps, self.rule, self.device, self.seed, weights, self.tile, self.restore,
                self.tone)


@dataclass
class FusionRequest:
    """Two sources on one grid plus parameters and optional region modulation.

    ``a`` and ``b`` must already share a grid (use
    :func:`textdifuse_desktop.imaging.align.align_pair` first).  ``kappa_a`` /
    ``kappa_b`` are float maps at image resolution (1.0 = no change, > 1
    favours that source) and ``blend_mask`` a feathered map in [0, 1]; all are
    2D (HxW) or, for volumes, 3D (ZxHxW).  When any of them is given, the
    engine computes the plain fusion and the modulated one and blends them
    as ``blend_mask * modulated + (1 - blend_mask) * plain``.
    """

    a: Image
    b: Image
    params: FusionParams = field(default_factory=FusionParams)
    kappa_a: np.ndarray | None = None
    kappa_b: np.ndarray | None = None
    blend_mask: np.ndarray | None = None

    @property
    def modulated(self) -> bool:
        """True when a region modulation (kappa or blend mask) is requested."""
        return any(m is not None for m in (self.kappa_a, self.kappa_b, self.blend_mask))


@dataclass
class Progress:
    """One progress report of a running fusion.

    ``preview`` is an optional float32 array in 0..255 (the current estimate
    of the fused luminance, HxW), meant for live display.

    ``partial`` is, for volumes, the fused luminance stack ``(N, H, W)`` in
    [0, 1] as far as it is done: slices ``[0, slices_done)`` are final
    (before colour is put back), the others are 0.  It is the engine's working
    buffer, still being written: copy what you keep.
    """

    done: int
    total: int
    message: str = ""
    preview: np.ndarray | None = None
    partial: np.ndarray | None = None
    slices_done: int = 0

    @property
    def fraction(self) -> float:
        """``done / total`` clipped to [0, 1]."""
        return min(1.0, max(0.0, self.done / self.total)) if self.total > 0 else 0.0


@dataclass
class FusionResult:
    """The fused image and everything needed to reproduce it."""

    image: Image
    params: FusionParams
    sampler_config: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str | None = None
    seconds: float = 0.0
    device: str = "cpu"
    warnings: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """JSON-serialisable record of how the result was made."""
        return {
            "params": self.params.to_dict(),
            "sampler_config": dict(self.sampler_config),
            "weights_sha256": self.weights_sha256,
            "seconds": round(float(self.seconds), 4),
            "device": self.device,
            "warnings": list(self.warnings),
        }


class CancelToken:
    """Thread-safe cancellation flag shared between a UI and a running fusion."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the running fusion to stop at its next check point."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` has been called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`FusionCancelled` if cancellation was requested."""
        if self._event.is_set():
            raise FusionCancelled("fusion cancelled by the user")
