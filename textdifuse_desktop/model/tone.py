"""The learned global tone correction of each source: part of the network's restoration.

Contrast loss, low light and over-exposure change a whole image by one tone curve (``a*x + (1-a)*level``,
``gain * x**gamma``), which a convolutional network with a receptive field of about 100 px cannot undo
reliably: it needs the image's global statistics.  :class:`ToneHead` reads them (intensity quantiles, mean,
spread, the share of clipped pixels and a noise estimate: image statistics as input features) and a small
MLP predicts the inverse curve ``c(y) = clamp((y - offset) * gain, 0, 1) ** power`` and how much of it to take,
``y' = y + w * (c(y) - y)`` with ``w = sigmoid(logit)``.  The MLP decides alone: no threshold, no hand-set rule;
trained on clean and degraded images alike it learns to leave a clean image as it is.  The weight ``w`` is what
makes that exact: a saturated sigmoid turns the curve off, where an offset would have to hit exactly 0 (a few
grey levels of offset erase a faint medical background).

The head is also told both sources' modalities (:data:`MODALITY_KEYS`, one-hot).  The statistics alone cannot tell
a clean infrared frame with a lifted black level (one in six of the training frames) from a washed-out one, nor
infrared from MRI on side A, whose contrast loss lifts its black level too; the modality and the partner's narrow
that down.  Training hides them for a quarter of the pairs (all-zero rows), but a head without them still
stretched the synthetic dark-night scene of the no-halo checks into a dark ring, so inference applies the curves
only when both modalities are known (:func:`modalities_known`; a plain PNG reads as ``OT``, and the user names
its modality: ``--modality-a``/``-b``, the GUI's Sources panel).  validation.md, run 17.

The curve is applied to the *restored* source (:mod:`.restorer` runs first), and the head reads both the raw and
the restored statistics of both sources.  Stretching a noisy source before the restorer amplified its noise (a noisy
MRI's clipped noise lifts its black level, which read as contrast loss); reading only the restored statistics lost
low light, whose grain the restorer removes with the cue the curve needs (validation.md, runs 18 and 19).

The correction is computed once per source over a whole image or volume (:func:`tone_parameters`), before
any tiling, so that tiles and slices of one acquisition get one curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from textdifuse_desktop.imaging.degrade import MODALITY_ALIASES
from textdifuse_desktop.model.gate_condition import haar_level, strided_subsample

QUANTILES = (0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.995)
N_FEATURES = len(QUANTILES) + 5
#: Ranges of the predicted curve: offset in (-1, 1), log gain in (-2.5, 2.5), log power in (-1.5, 1.5); the
#: weight's logit in (-12, 12).
OFFSET_SCALE, LOG_GAIN_SCALE, LOG_POWER_SCALE, LOGIT_SCALE = 1.0, 2.5, 1.5, 12.0
N_PARAMS = 4
MAX_SAMPLES = 1 << 18  # statistics of larger images come from a fixed strided subsample
#: The modalities the head knows, in the order of its one-hot input (the degradation model's keys).
MODALITY_KEYS = ("ir", "vis", "mri", "ct", "pet", "spect")


def modality_code(modality: str | None) -> str | None:
    """``"MR"``, ``"mri"``, ``"PT"``... -> a key of :data:`MODALITY_KEYS`; None for unknown codes (``"OT"``)."""
    if not modality:
        return None
    key = MODALITY_ALIASES.get(str(modality).upper(), str(modality).lower())
    return key if key in MODALITY_KEYS else None


def modalities_known(modalities: tuple) -> bool:
    """Whether every source's modality in ``modalities`` (each one, None, or one per sample) is known: the tone
    correction runs only then (see the module docstring)."""
    per_sample = [m for entry in modalities for m in (entry if isinstance(entry, (list, tuple)) else [entry])]
    return bool(per_sample) and all(modality_code(m) is not None for m in per_sample)


#: The modalities that were source A in every training pair (B: visible, CT, PET, SPECT).
SIDE_A_KEYS = ("ir", "mri")


def _swapped(modalities: tuple) -> bool:
    """Whether a pair's known modalities come in the opposite order to training's (e.g. visible as A)."""
    if not all(isinstance(m, str) for m in modalities):
        return False
    key_a, key_b = (modality_code(m) for m in modalities)
    return key_b in SIDE_A_KEYS and key_a is not None and key_a not in SIDE_A_KEYS


def modality_one_hot(modalities: str | None | Sequence[str | None], batch: int, device: torch.device) -> Tensor:
    """``[batch, len(MODALITY_KEYS)]`` one-hot rows (all zeros where unknown); one modality for every sample or
    one per sample."""
    per_sample = [modalities] * batch if modalities is None or isinstance(modalities, str) else list(modalities)
    if len(per_sample) != batch:
        raise ValueError(f"{len(per_sample)} modalities for a batch of {batch}")
    rows = torch.zeros(batch, len(MODALITY_KEYS), device=device)
    for i, modality in enumerate(per_sample):
        key = modality_code(modality)
        if key is not None:
            rows[i, MODALITY_KEYS.index(key)] = 1.0
    return rows


def image_statistics(y: Tensor) -> Tensor:
    """``[B, N_FEATURES]`` global statistics of ``[B, C, H, W]`` (or ``[B, N, H, W]`` stacks) in [0, 1].

    Quantiles, mean, standard deviation, the shares of pixels at 0 and at 1, and the noise level (median
    absolute value of the finest diagonal Haar band / 0.6745, which smooth content and column stripes cancel).
    """
    y = y.float().clamp(0, 1)
    flat = strided_subsample(y, MAX_SAMPLES)
    q = _quantiles(flat)
    diagonal = haar_level(y)[3]
    sigma = strided_subsample(diagonal, MAX_SAMPLES).abs().median(dim=1).values / 0.6745
    extra = torch.stack([flat.mean(1), flat.std(1), (flat <= 0).float().mean(1), (flat >= 1).float().mean(1),
                         sigma * 10], dim=1)
    return torch.cat([q, extra], dim=1)


def _quantiles(flat: Tensor) -> Tensor:
    """:data:`QUANTILES` of each row of ``[B, n]`` (linear interpolation), ``[B, len(QUANTILES)]``.  On the CPU
    numpy's selection (O(n)) does it in half the time of ``torch.quantile``'s full sort (4 against 8 ms for a
    640x480 image); the values agree to float rounding."""
    if flat.device.type == "cpu" and not flat.requires_grad:
        return torch.from_numpy(np.quantile(flat.numpy(), QUANTILES, axis=1).T.astype(np.float32))
    return torch.quantile(flat, torch.tensor(QUANTILES, device=flat.device), dim=1).T


class ToneHead(nn.Module):
    """Both sources' raw and restored statistics -> ``(offset, log gain, log power, weight logit)`` of one source's
    inverse curve.

    The other source's statistics, which side is corrected and both modalities (one-hot, zeros where unknown)
    are inputs too: the pair tells the task (a dark clean infrared frame and a low-light photograph look alike on
    their own).
    """

    #: Inputs of the first layer: raw statistics (own, other), side flag, modalities (own, other), restored
    #: statistics (own, other), in this order.
    N_INPUTS = 4 * N_FEATURES + 1 + 2 * len(MODALITY_KEYS)
    #: Inputs of the head before it read the restored statistics (tone_head 1, weights of the sixteenth session).
    N_INPUTS_RAW_ONLY = 2 * N_FEATURES + 1 + 2 * len(MODALITY_KEYS)

    def __init__(self, hidden: int = 96):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(self.N_INPUTS, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                 nn.SiLU(), nn.Linear(hidden, N_PARAMS))
        nn.init.zeros_(self.mlp[-1].weight)  # identity curve at the start: a clean image passes unchanged
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, stats: Tensor, other: Tensor, side: float, codes: Tensor | None, other_codes: Tensor | None,
                restored: Tensor, restored_other: Tensor) -> Tensor:
        """``[B, 4]`` curve parameters (scaled to their ranges) from the raw (``stats``, ``other``) and restored
        statistics of the corrected source and its partner; ``side`` 0 for source A, 1 for B; ``codes`` and
        ``other_codes`` the modalities' one-hot rows (:func:`modality_one_hot`; None: unknown)."""
        flag = torch.full_like(stats[:, :1], float(side))
        unknown = stats.new_zeros(stats.shape[0], len(MODALITY_KEYS))
        codes = unknown if codes is None else codes.to(stats)
        other_codes = unknown if other_codes is None else other_codes.to(stats)
        z = torch.tanh(self.mlp(torch.cat([stats, other, flag, codes, other_codes, restored, restored_other], dim=1)))
        scales = torch.tensor([OFFSET_SCALE, LOG_GAIN_SCALE, LOG_POWER_SCALE, LOGIT_SCALE], device=z.device)
        return z * scales.to(z.dtype)


def apply_tone(y: Tensor, params: Tensor, strength: float = 1.0) -> Tensor:
    """``y`` (``[B, C, H, W]`` in [0, 1]) through the curves ``params`` (``[B, 4]``), each taken at its weight
    times ``strength`` (the user's restoration strength; 0 leaves ``y`` unchanged)."""
    offset, log_gain, log_power, logit = (p[:, None, None, None] for p in params.to(y.dtype).unbind(1))
    stretched = ((y - offset) * log_gain.exp()).clamp(0, 1)
    # The power's slope is unbounded at 0; a floor keeps the gradient finite (1e-4 is below half a grey level).
    curved = stretched.clamp_min(1e-4).pow(log_power.exp()) * (stretched > 0)
    return (y + strength * torch.sigmoid(logit) * (curved - y)).clamp(0, 1)


def tone_parameters(head: ToneHead, raw: tuple[Tensor, Tensor | None], restored: tuple[Tensor, Tensor | None],
                    modalities: tuple = (None, None)) -> tuple[Tensor, Tensor | None]:
    """The curve parameters (``[B, 4]``) of every sample of both sources, from the sources as given (``raw``) and
    as the restorer returned them (``restored``), each ``(A, B)`` of ``[B, C, H, W]`` in [0, 1] (statistics over
    C, H, W); a single source (B None) is paired with itself.  ``modalities``: source A's and B's, each one for the
    batch or one per sample (see :func:`modality_one_hot`), None where unknown.  The curves apply to ``restored``."""
    if raw[1] is not None and _swapped(modalities):
        # Trained with infrared or MRI as source A: a pair given the other way round is shown to it that way.
        params_b, params_a = tone_parameters(head, raw[::-1], restored[::-1], modalities[::-1])
        return params_a, params_b
    single = raw[1] is None
    stats_a, restored_a = image_statistics(raw[0]), image_statistics(restored[0])
    stats_b, restored_b = ((stats_a, restored_a) if single
                           else (image_statistics(raw[1]), image_statistics(restored[1])))
    batch, device = raw[0].shape[0], raw[0].device
    code_a = modality_one_hot(modalities[0], batch, device)
    code_b = code_a if single else modality_one_hot(modalities[1], batch, device)
    params_a = head(stats_a, stats_b, 0.0, code_a, code_b, restored_a, restored_b)
    return params_a, (None if single else head(stats_b, stats_a, 1.0, code_b, code_a, restored_b, restored_a))


def widen_raw_only_state(state: dict[str, Tensor], prefix: str = "tone.") -> dict[str, Tensor]:
    """A head saved before it read the restored statistics (``tone_head`` 1) as this head's state: zero weights on
    the restored statistics, so it computes the same curves (now applied after the restorer)."""
    key = f"{prefix}mlp.0.weight"
    old = state[key]
    if old.shape[1] != ToneHead.N_INPUTS_RAW_ONLY:
        raise ValueError(f"{key} has {old.shape[1]} inputs, not the {ToneHead.N_INPUTS_RAW_ONLY} of a tone_head 1")
    widened = old.new_zeros(old.shape[0], ToneHead.N_INPUTS)
    widened[:, :old.shape[1]] = old
    return {**state, key: widened}
