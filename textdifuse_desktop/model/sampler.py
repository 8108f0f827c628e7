"""Cosine-schedule diffusion with a deterministic few-step DDIM sampler (diffusers style).

The sampler knows nothing about the network: the caller runs the loop::

    sampler.set_timesteps(4)
    for t in sampler.timesteps:
        out = sampler.step(net(x, t, ...), t, x)
        x = out.prev_sample

Tensors are in the network's range ``[-1, 1]``.  Timesteps use "trailing" spacing
(``999, 749, 499, 249`` for 4 steps) so that the first step always starts from pure noise
(ᾱ_999 ≈ 2e-9: a pure regression from the conditions), and the last step returns the x0 estimate.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

MAX_STEPS = 25
PREDICTION_TYPES = ("x0", "v")


class SamplerOutput(NamedTuple):
    """Result of one :meth:`DDIMSampler.step`."""

    prev_sample: Tensor
    pred_x0: Tensor


def cosine_alphas_cumprod(num_train_timesteps: int = 1000, s: float = 0.008) -> np.ndarray:
    """ᾱ_t of the Nichol & Dhariwal cosine schedule (betas clipped at 0.999), float64."""
    def alpha_bar(x: float) -> float:
        return math.cos((x + s) / (1 + s) * math.pi / 2) ** 2

    steps = np.arange(num_train_timesteps)
    betas = np.array([min(1 - alpha_bar((i + 1) / num_train_timesteps) / alpha_bar(i / num_train_timesteps), 0.999)
                      for i in steps])
    return np.cumprod(1.0 - betas)


class DDIMSampler:
    """Deterministic DDIM (η = 0) on a cosine schedule, predicting ``x0`` or ``v``.

    Parameters
    ----------
    num_train_timesteps:
        Length T of the training schedule.
    prediction_type:
        What the network predicts: ``"x0"`` (the clean image) or ``"v"`` (√ᾱ·ε − √(1−ᾱ)·x0).
    clip_sample:
        Clamp the x0 estimate to ``[-1, 1]`` at every step.
    """

    def __init__(self, num_train_timesteps: int = 1000, prediction_type: str = "x0", clip_sample: bool = True):
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, not {prediction_type!r}")
        self.num_train_timesteps = int(num_train_timesteps)
        self.prediction_type = prediction_type
        self.clip_sample = bool(clip_sample)
        self.alphas_cumprod = torch.from_numpy(cosine_alphas_cumprod(self.num_train_timesteps)).float()
        self.num_inference_steps = 0
        self.timesteps = torch.zeros(0, dtype=torch.long)

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this sampler; recorded with every result."""
        return {"class": "DDIMSampler", "num_train_timesteps": self.num_train_timesteps,
                "prediction_type": self.prediction_type, "schedule": "cosine", "clip_sample": self.clip_sample,
                "spacing": "trailing", "eta": 0.0, "num_inference_steps": self.num_inference_steps,
                "timesteps": [int(t) for t in self.timesteps]}

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose ``num_inference_steps`` (1..25) trailing-spaced timesteps, descending."""
        n = int(num_inference_steps)
        if not 1 <= n <= MAX_STEPS:
            raise ValueError(f"steps must be between 1 and {MAX_STEPS}, not {num_inference_steps}")
        ratio = self.num_train_timesteps / n
        self.timesteps = torch.from_numpy(np.round(np.arange(n, 0, -1) * ratio).astype(np.int64) - 1)
        self.num_inference_steps = n

    def _abar(self, t: Tensor | int, like: Tensor) -> Tensor:
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).long()
        a = self.alphas_cumprod[t].to(device=like.device, dtype=torch.float32)
        return a.reshape(-1, *([1] * (like.ndim - 1))) if a.ndim else a

    def predict_x0(self, model_output: Tensor, t: Tensor | int, sample: Tensor) -> Tensor:
        """x0 estimate from the network output (not clamped)."""
        if self.prediction_type == "x0":
            return model_output
        a = self._abar(t, sample)
        return a.sqrt() * sample - (1 - a).sqrt() * model_output

    def step(self, model_output: Tensor, t: Tensor | int, sample: Tensor) -> SamplerOutput:
        """One deterministic DDIM update from timestep ``t`` to the next one in :attr:`timesteps`."""
        if not self.num_inference_steps:
            raise RuntimeError("call set_timesteps(n) before step()")
        t_int = int(t)
        a_t = self._abar(t_int, sample)
        pred_x0 = self.predict_x0(model_output.float(), t_int, sample.float())
        if self.clip_sample:
            pred_x0 = pred_x0.clamp(-1.0, 1.0)
        eps = (sample - a_t.sqrt() * pred_x0) / (1 - a_t).sqrt()
        index = int((self.timesteps == t_int).nonzero()[0, 0]) if (self.timesteps == t_int).any() else -1
        if index < 0:
            raise ValueError(f"timestep {t_int} is not one of the sampler's timesteps {self.timesteps.tolist()}")
        if index + 1 < len(self.timesteps):
            a_prev = self._abar(int(self.timesteps[index + 1]), sample)
            prev = a_prev.sqrt() * pred_x0 + (1 - a_prev).sqrt() * eps
        else:
            prev = pred_x0
        return SamplerOutput(prev, pred_x0)

    # --- training helpers -------------------------------------------------------------------------
    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Forward diffusion: ``√ᾱ_t·x0 + √(1−ᾱ_t)·noise`` for a batch of timesteps ``t``."""
        a = self._abar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def training_target(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """What the network should output for ``x_t = q_sample(x0, t, noise)``."""
        if self.prediction_type == "x0":
            return x0
        a = self._abar(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DDIMSampler:
        """Rebuild a sampler from :attr:`config` (``num_inference_steps`` is re-applied if set)."""
        sampler = cls(config.get("num_train_timesteps", 1000), config.get("prediction_type", "x0"),
                      config.get("clip_sample", True))
        if config.get("num_inference_steps"):
            sampler.set_timesteps(int(config["num_inference_steps"]))
        return sampler
