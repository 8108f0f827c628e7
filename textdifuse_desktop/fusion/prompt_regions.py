"""Text prompts -> region masks with a user-provided open_clip checkpoint (MaskCLIP-style, no training).

Pipeline, one region per comma-separated phrase (``"person, car"``):

1. **Query image**: the per-pixel maximum fusion of the pair, in colour when
   one source is, so that both thermal targets and visible detail show.
2. **Dense similarity** (:func:`clip_similarity`): the image is scaled so its
   short side is ``scale`` times CLIP's input size and covered by
   overlapping windows of that size.  In each window the ViT runs up to its
   last block; there, as in MaskCLIP (Zhou et al., ECCV 2022), the patch
   tokens take the *value* path only (``ln_1 -> v -> out_proj``, skipping
   the query-key attention and the MLP), then ``ln_post`` and ``proj``.  The
   cosine similarity of every patch with each phrase's text embedding
   (averaged over a few templates, minus the best of some background
   phrases) is upsampled and averaged over the windows.
3. **Coarse mask** (:func:`coarse_masks`): per phrase, the similarity is
   min-max normalised over the image and thresholded; a pixel belongs to the
   phrase that scores best there.
4. **Refinement** (:func:`refine_mask`): CLIP patches are 32 px wide, so the
   mask is snapped to the favoured source: Otsu's threshold of that source
   inside the (slightly dilated) coarse region splits it into a bright and
   a dark class, and the class with the higher mean similarity is kept,
   holes filled, specks removed (unless the source is plain there).

The checkpoint is a local file only: ``HF_HUB_OFFLINE=1`` is set and the
path is passed as ``pretrained``, so no network access is ever attempted.
Without a checkpoint the feature is off (:class:`FeatureUnavailableError`).
The similarity function is injectable (``similarity=``) for tests and for
other text-to-region models.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import (
    FeatureUnavailableError,
    ImageDataError,
    ModelLoadError,
)
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.threshold import otsu_split

log = logging.getLogger(__name__)

DEFAULT_MODEL = "ViT-B-32"
TEMPLATES = ("a photo of a {}.", "a thermal image of a {}.")
BACKGROUND = ("background", "sky", "ground", "wall")
#: Otsu effectiveness needed to snap a region to the source (one Gaussian mode gives about 0.64).
SNAP_SEPARATION = 0.70
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
ENABLE_HINT = ("text prompts need a local open_clip checkpoint: pass --clip-checkpoint FILE or set "
               "'clip_checkpoint' in the settings (GUI: File > Settings); e.g. the ViT-B-32 "
               "open_clip_pytorch_model.bin or .safetensors file")

#: ``similarity(rgb HxWx3 float 0..255, phrases) -> (P, H, W) float`` maps.
SimilarityFn = Callable[[np.ndarray, Sequence[str]], np.ndarray]


@dataclass
class PromptMask:
    """The mask found for one phrase; the caller turns it into a region (``origin="text"``)."""

    name: str
    mask: np.ndarray
    source: str


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


def parse_prompt(text: str) -> list[str]:
    """Comma- (or semicolon-) separated phrases, stripped, empty ones dropped, order kept, no duplicates."""
    phrases: list[str] = []
    for part in str(text).replace(";", ",").split(","):
        phrase = " ".join(part.split())
        if phrase and phrase.lower() not in (p.lower() for p in phrases):
            phrases.append(phrase)
    return phrases


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
    import open_clip

    os.environ["HF_HUB_OFFLINE"] = "1"  # a local file only; never let open_clip reach the hub
    try:
        model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=path, device=device)
        tokenizer = open_clip.get_tokenizer(model_name)
    except (RuntimeError, ValueError, KeyError, OSError, AssertionError) as error:  # open_clip asserts shapes
        raise ModelLoadError(f"cannot load it as open_clip model {model_name!r}: {error}", path=path,
                             hint="check --clip-model matches the checkpoint (e.g. ViT-B-32, ViT-B-16)") from error
    model.eval()
    visual = model.visual
    mean = tuple(getattr(visual, "image_mean", None) or OPENAI_MEAN)
    std = tuple(getattr(visual, "image_std", None) or OPENAI_STD)
    log.info("loaded CLIP %s from %s", model_name, path)
    return ClipBundle(model, tokenizer, mean, std, model_name)


def load_clip(checkpoint: PathLike | None = None, model_name: str = DEFAULT_MODEL, device: str = "cpu") -> ClipBundle:
    """Load (once, then cached) an open_clip model from a local checkpoint file.

    Raises FeatureUnavailableError without a checkpoint, ModelLoadError when
    the file is not a ``model_name`` checkpoint.
    """
    path = resolve_checkpoint(checkpoint)
    return _load_cached(str(path.resolve()), str(model_name), str(device))


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
                    batch_size: int = 8) -> np.ndarray:
    """Dense phrase similarity ``(P, H, W)`` float32 of an RGB image (``H x W x 3``, 0..255).

    Without ``background`` the values are cosine similarities; with it, each
    phrase's similarity minus the best background phrase's.
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
            sim = torch.einsum("nhwd,pd->nphw", dense_features(bundle, windows), text)
            if background:
                sim = sim[:, :len(phrases)] - sim[:, len(phrases):].amax(dim=1, keepdim=True)
            sim = F.interpolate(sim, size=(size, size), mode="bilinear", align_corners=False)
            for (y, x), s in zip(chunk, sim):
                total[:, y:y + size, x:x + size] += s
                count[:, y:y + size, x:x + size] += 1
        out = F.interpolate((total / count)[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    return out.cpu().numpy().astype(np.float32)


def coarse_masks(similarity: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``(P, H, W)`` bool: min-max normalised similarity ``>= threshold`` where the phrase scores best."""
    sim = np.asarray(similarity, dtype=np.float32)
    lo = sim.reshape(len(sim), -1).min(axis=1)[:, None, None]
    hi = sim.reshape(len(sim), -1).max(axis=1)[:, None, None]
    norm = (sim - lo) / np.maximum(hi - lo, 1e-12)
    best = norm.argmax(axis=0)
    return np.stack([(norm[p] >= threshold) & (best == p) for p in range(len(sim))])


def refine_mask(coarse: np.ndarray, luma: np.ndarray, similarity: np.ndarray, *, dilate_px: int = 4,
                min_size: int | None = None) -> np.ndarray:
    """Snap a coarse mask to the favoured source's intensity (see the module docstring).

    Returns the coarse mask itself when the favoured source shows no
    distinct object there (Otsu effectiveness below :data:`SNAP_SEPARATION`)
    or the refinement would leave nothing.
    """
    coarse = np.asarray(coarse, dtype=bool)
    if not coarse.any():
        return coarse
    size = max(20, int(2e-4 * coarse.size)) if min_size is None else int(min_size)
    zone = ndimage.binary_dilation(coarse, iterations=dilate_px) if dilate_px > 0 else coarse
    values = luma[zone]
    if float(values.max() - values.min()) < 1e-6:
        return coarse
    cut, separation = otsu_split(values)
    if separation < SNAP_SEPARATION:
        return coarse
    bright, dark = zone & (luma > cut), zone & (luma <= cut)
    pick = bright if _mean(similarity, bright) >= _mean(similarity, dark) else dark
    pick = ndimage.binary_opening(pick, iterations=1)
    labels, count = ndimage.label(pick, structure=np.ones((3, 3), bool))
    if count:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        pick = np.isin(labels, np.flatnonzero(sizes >= size))
    pick = ndimage.binary_fill_holes(pick)
    return pick if pick.any() else coarse


def _luma(image: Image) -> np.ndarray:
    from textdifuse_desktop.imaging.color import split_luma

    if image.has_channels and image.pixels.shape[-1] >= 3:
        return np.asarray(split_luma(image)[0], dtype=np.float32)
    return np.asarray(image.pixels[..., 0] if image.has_channels else image.pixels, dtype=np.float32)


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else -np.inf


def query_image(a: Image, b: Image) -> np.ndarray:
    """The RGB image CLIP looks at (``H x W x 3`` float 0..255): a max-fusion of the aligned pair."""
    from textdifuse_desktop.fusion.classical import fuse_images
    from textdifuse_desktop.imaging.intensity import to_display_uint8

    fused = to_display_uint8(fuse_images(a, b, "max")).astype(np.float32)
    return fused if fused.ndim == 3 else np.repeat(fused[..., None], 3, axis=-1)


def prompt_masks(prompt: str, a: Image, b: Image, *, source: str = "B", similarity: SimilarityFn | None = None,
                 checkpoint: PathLike | None = None, model_name: str = DEFAULT_MODEL, device: str = "cpu",
                 threshold: float = 0.5, refine: bool = True, min_size: int | None = None) -> list[PromptMask]:
    """Masks for the phrases of ``prompt`` on an aligned 2D pair, one per phrase.

    Parameters
    ----------
    prompt:
        Comma-separated phrases, e.g. ``"person, car"``.
    a, b:
        The sources, on one 2D grid.
    source:
        ``"A"``/``"B"``: the source the regions favour; the refinement
        follows its intensities (the session's ``salient_source`` picks
        the infrared / PET one).
    similarity:
        Dense similarity function; default: CLIP from ``checkpoint``
        (:func:`load_clip`, :func:`clip_similarity`).
    checkpoint, model_name, device:
        The open_clip checkpoint file (default: the ``clip_checkpoint``
        setting), its architecture, and where to run it.
    threshold:
        Coarse threshold on the normalised similarity (0..1).
    refine:
        Snap the coarse masks to the favoured source (:func:`refine_mask`).
    min_size:
        Smallest kept component of a refined mask (pixels).

    Returns
    -------
    list of PromptMask
        Named after their phrase; phrases whose mask is empty are skipped
        with a warning.

    Raises
    ------
    FeatureUnavailableError
        No similarity function and no CLIP checkpoint.
    ImageDataError
        Empty prompt, or a volume/video pair.
    """
    phrases = parse_prompt(prompt)
    if not phrases:
        raise ImageDataError("the text prompt is empty", hint='give comma-separated phrases, e.g. "person, car"')
    if a.is_volume or a.axes.startswith("T") or a.spatial_shape[:2] != b.spatial_shape[:2]:
        raise ImageDataError("text prompts need two aligned 2D images",
                             hint="align the pair first; for volumes, draw regions or use proposals")
    source = str(source).upper()
    if source not in ("A", "B"):
        raise ValueError(f"source must be 'A' or 'B', got {source!r}")
    if similarity is None:
        bundle = load_clip(checkpoint, model_name, device)
        similarity = functools.partial(clip_similarity, bundle)
    shape = (len(phrases), *a.spatial_shape[:2])
    sim = np.asarray(similarity(query_image(a, b), phrases), dtype=np.float32)
    if sim.shape != shape:
        raise ValueError(f"similarity returned shape {sim.shape}, expected {shape}")
    luma = _luma(a if source == "A" else b)
    found = []
    for p, (phrase, coarse) in enumerate(zip(phrases, coarse_masks(sim, threshold))):
        mask = refine_mask(coarse, luma, sim[p], min_size=min_size) if refine else coarse
        if not mask.any():
            log.warning("no region found for %r", phrase)
            continue
        found.append(PromptMask(phrase, mask, source))
    return found
