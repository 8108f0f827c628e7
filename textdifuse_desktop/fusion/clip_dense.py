"""Dense CLIP similarity (MaskCLIP-style, no training) and loading the open_clip model it runs.

:func:`clip_similarity` covers the image with overlapping windows of CLIP's
input size; in each, the ViT runs up to its last block, where (as in
MaskCLIP, Zhou et al., ECCV 2022) the patch tokens take the *value* path
only (``ln_1 -> v -> out_proj``), then ``ln_post`` and ``proj``.  Each
patch's cosine similarity with a phrase's text embedding (a template
average) becomes *evidence*: ``min(cosine - best background phrase,
cosine - COSINE_FLOOR)``, positive only where the phrase is there.

:func:`load_clip` loads a local checkpoint or standard weights (hub cache,
download only with consent: :mod:`textdifuse_desktop.fusion.clip_models`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import FeatureUnavailableError
from textdifuse_desktop.fusion.clip_models import (
    DEFAULT_MODEL,
    Progress,
    cached_weights,
    download_weights,
    load_model,
    standard_weights,
)

log = logging.getLogger(__name__)

TEMPLATES = ("a photo of a {}.", "a thermal image of a {}.")
BACKGROUND = ("background", "sky", "ground", "wall")
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
#: Absolute floor on a phrase's patch cosine similarity: below it the phrase is not there, whatever the background says.
COSINE_FLOOR = 0.10
ENABLE_HINT = ("allow the one-time download of the standard CLIP weights (--allow-download), or pass "
               "--clip-checkpoint FILE / set 'clip_checkpoint' in the settings (GUI: File > Settings)")


@dataclass
class ClipBundle:
    """An open_clip model ready for dense similarity."""

    model: Any
    tokenizer: Any
    mean: tuple[float, ...] = OPENAI_MEAN
    std: tuple[float, ...] = OPENAI_STD
    name: str = DEFAULT_MODEL
    text_cache: dict[tuple[str, tuple[str, ...]], torch.Tensor] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        """Side of CLIP's square input (pixels)."""
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)


def resolve_checkpoint(checkpoint: PathLike | None) -> Path:
    """The checkpoint to use: ``checkpoint``, else the ``clip_checkpoint`` setting.

    Raises
    ------
    FeatureUnavailableError
        None is configured, or the file does not exist.
    """
    if checkpoint is None:
        from textdifuse_desktop.config import load_settings

        checkpoint = load_settings().clip_checkpoint
    if not checkpoint:
        raise FeatureUnavailableError("text prompts are off: no CLIP checkpoint is configured", hint=ENABLE_HINT)
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FeatureUnavailableError("the CLIP checkpoint does not exist", path=path, hint=ENABLE_HINT)
    return path


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, model_name: str, device: str) -> ClipBundle:
    model, tokenizer = load_model(path, model_name, device)
    visual = model.visual
    mean = tuple(getattr(visual, "image_mean", None) or OPENAI_MEAN)
    std = tuple(getattr(visual, "image_std", None) or OPENAI_STD)
    log.info("loaded CLIP %s from %s", model_name, path)
    return ClipBundle(model, tokenizer, mean, std, model_name)


def load_clip(checkpoint: PathLike | None = None, model_name: str = DEFAULT_MODEL, device: str = "cpu", *,
              pretrained: str | None = None, allow_download: bool = False,
              progress: Progress | None = None) -> ClipBundle:
    """Load (once, then cached) an open_clip model.

    From ``checkpoint`` (a local file) when given; else, with
    ``pretrained``, the standard weights from the hub cache, downloaded
    first only when ``allow_download`` (the user's consent); else from the
    ``clip_checkpoint`` setting.  Raises FeatureUnavailableError (nothing
    usable, no consent), ModelLoadError (not a ``model_name`` file),
    WeightsIntegrityError, DeviceError (out of memory).
    """
    if checkpoint is None and pretrained:
        weights = standard_weights(model_name, pretrained)
        path = cached_weights(weights)
        if path is None and not allow_download:
            raise FeatureUnavailableError(f"{weights.label} is not downloaded yet ({weights.describe()})",
                                          hint=ENABLE_HINT)
        path = path or download_weights(weights, progress=progress)
    else:
        path = resolve_checkpoint(checkpoint)
    return _load_cached(str(path.absolute()), str(model_name), str(device))  # not resolved: a hub blob has no suffix


def _encode_text(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text`` on the shortest context that holds every prompt.

    With a causal mask and end-of-text pooling, tokens after the last
    end-of-text never influence the pooled output, so cutting the 77-token
    context to the longest prompt gives the same embeddings several times
    faster.  Models of another layout fall back to ``encode_text``.
    """
    parts = ("token_embedding", "positional_embedding", "transformer", "ln_final", "text_projection")
    mask = getattr(model, "attn_mask", None)
    if mask is None or getattr(model, "text_pool_type", "argmax") != "argmax" or not all(
            hasattr(model, p) for p in parts):
        return model.encode_text(tokens)
    length = int(tokens.argmax(dim=-1).max()) + 1
    x = model.token_embedding(tokens[:, :length]) + model.positional_embedding[:length]
    x = model.ln_final(model.transformer(x, attn_mask=mask[:length, :length]))
    x = x[torch.arange(x.shape[0], device=x.device), tokens[:, :length].argmax(dim=-1)]
    projection = model.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, torch.nn.Module) else x @ projection


def _text_features(bundle: ClipBundle, phrases: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """Unit text embeddings ``[P, D]`` (template average), cached per phrase on the bundle."""
    model = bundle.model
    device = next(model.parameters()).device
    cache = bundle.text_cache
    missing = [p for p in dict.fromkeys(phrases) if (p, tuple(templates)) not in cache]
    if missing:
        texts = [t.format(p) for p in missing for t in templates]
        emb = _encode_text(model, bundle.tokenizer(texts).to(device)).float()
        emb = F.normalize(emb, dim=-1).reshape(len(missing), len(templates), -1).mean(dim=1)
        for phrase, e in zip(missing, F.normalize(emb, dim=-1)):
            cache[(phrase, tuple(templates))] = e
    return torch.stack([cache[(p, tuple(templates))] for p in phrases])


def dense_features(bundle: ClipBundle, batch: torch.Tensor) -> torch.Tensor:
    """MaskCLIP patch embeddings ``[N, gh, gw, D]`` (unit length) of normalised windows ``[N, 3, S, S]``."""
    visual = bundle.model.visual
    x = visual._embeds(batch)
    transformer = visual.transformer
    batch_first = getattr(transformer, "batch_first", True)
    if not batch_first:
        x = x.transpose(0, 1)
    blocks = transformer.resblocks
    for block in blocks[:-1]:
        x = block(x)
    last = blocks[-1]
    attn = last.attn
    y = last.ln_1(x)
    dim = y.shape[-1]
    bias = None if attn.in_proj_bias is None else attn.in_proj_bias[2 * dim:]
    value = F.linear(y, attn.in_proj_weight[2 * dim:], bias)
    value = getattr(attn, "ln_inner", torch.nn.Identity())(value)
    value = last.ls_1(attn.out_proj(value))
    if not batch_first:
        value = value.transpose(0, 1)
    tokens = visual.ln_post(value[:, 1:])
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    grid = round(tokens.shape[1] ** 0.5)
    return F.normalize(tokens.float(), dim=-1).reshape(tokens.shape[0], grid, grid, -1)


def _window_starts(length: int, window: int, stride: int) -> list[int]:
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride))
    return starts + [length - window]


def clip_similarity(bundle: ClipBundle, rgb: np.ndarray, phrases: Sequence[str], *, scale: float = 1.5,
                    templates: Sequence[str] = TEMPLATES, background: Sequence[str] = BACKGROUND,
                    floor: float | None = COSINE_FLOOR, batch_size: int = 8) -> np.ndarray:
    """Dense phrase evidence ``(P, H, W)`` float32 of an RGB image (``H x W x 3``, 0..255).

    Without ``background`` and ``floor`` the values are cosine
    similarities; with them, ``min(cosine - best background cosine,
    cosine - floor)``: positive only where the phrase beats every
    background phrase and the absolute floor.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    size = bundle.image_size
    factor = scale * size / min(h, w)
    sh, sw = max(size, round(h * factor)), max(size, round(w * factor))
    device = next(bundle.model.parameters()).device
    with torch.inference_mode():
        image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(device) / 255.0
        image = F.interpolate(image, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(bundle.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(bundle.std, device=device).view(1, 3, 1, 1)
        image = (image - mean) / std
        text = _text_features(bundle, list(phrases) + list(background), templates)
        stride = max(size // 2, 1)
        boxes = [(y, x) for y in _window_starts(sh, size, stride) for x in _window_starts(sw, size, stride)]
        total = torch.zeros((len(phrases), sh, sw), device=device)
        count = torch.zeros((1, sh, sw), device=device)
        for i in range(0, len(boxes), batch_size):
            chunk = boxes[i:i + batch_size]
            windows = torch.cat([image[:, :, y:y + size, x:x + size] for y, x in chunk])
            cosine = torch.einsum("nhwd,pd->nphw", dense_features(bundle, windows), text)
            raw = cosine[:, :len(phrases)]
            sim = raw if floor is None else raw - float(floor)
            if background:
                sim = torch.minimum(sim, raw - cosine[:, len(phrases):].amax(dim=1, keepdim=True))
            sim = F.interpolate(sim, size=(size, size), mode="bilinear", align_corners=False)
            for (y, x), s in zip(chunk, sim):
                total[:, y:y + size, x:x + size] += s
                count[:, y:y + size, x:x + size] += 1
        out = F.interpolate((total / count)[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    return out.cpu().numpy().astype(np.float32)
