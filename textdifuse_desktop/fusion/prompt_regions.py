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
3. **Decision** (:func:`coarse_masks`), calibrated, never normalised per
   image: a pixel belongs to a phrase when the phrase's cosine similarity
   beats every background phrase's *and* an absolute floor
   (:data:`COSINE_FLOOR`), i.e. its evidence ``min(sim - best background,
   sim - floor)`` is above ``threshold`` (default 0), the phrase scores best
   there, and the component is not a speck.  An absent object gives no
   pixel and no region, never the image's least bad patch.
4. **Refinement** (:func:`refine_mask`): CLIP patches are 32 px wide, so the
   mask is snapped to the favoured source: Otsu's threshold of that source
   inside the (slightly dilated) coarse region splits it into a bright and
   a dark class, and the class with the higher mean similarity is kept,
   holes filled, specks removed (unless the source is plain there).

The model is a local checkpoint file or standard open_clip weights from the
hub cache, fetched only with the user's consent
(:mod:`textdifuse_desktop.fusion.clip_models`).  Without either the feature
is off (:class:`FeatureUnavailableError`).  The similarity function is
injectable (``similarity=``) for tests and for other text-to-region models.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import DeviceError, ImageDataError, UsageError
from textdifuse_desktop.fusion.clip_dense import (  # noqa: F401 - re-exported: the prompt API in one place
    BACKGROUND,
    COSINE_FLOOR,
    ENABLE_HINT,
    OPENAI_MEAN,
    OPENAI_STD,
    TEMPLATES,
    ClipBundle,
    _encode_text,
    _load_cached,
    _window_starts,
    clip_similarity,
    dense_features,
    load_clip,
    resolve_checkpoint,
)
from textdifuse_desktop.fusion.clip_models import DEFAULT_MODEL, Progress
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.threshold import otsu_split

log = logging.getLogger(__name__)

#: Otsu effectiveness needed to snap a region to the source (one Gaussian mode gives about 0.64).
SNAP_SEPARATION = 0.70

#: ``similarity(rgb HxWx3 float 0..255, phrases) -> (P, H, W) float`` maps.
SimilarityFn = Callable[[np.ndarray, Sequence[str]], np.ndarray]


@dataclass
class PromptMask:
    """The mask found for one phrase; the caller turns it into a region (``origin="text"``)."""

    name: str
    mask: np.ndarray
    source: str
    provenance: str = ""


def parse_prompt(text: str) -> list[str]:
    """Comma- (or semicolon-) separated phrases, stripped, empty ones dropped, order kept, no duplicates."""
    phrases: list[str] = []
    for part in str(text).replace(";", ",").split(","):
        phrase = " ".join(part.split())
        if phrase and phrase.lower() not in (p.lower() for p in phrases):
            phrases.append(phrase)
    return phrases


def coarse_masks(similarity: np.ndarray, threshold: float = 0.0, min_size: int = 0) -> np.ndarray:
    """``(P, H, W)`` bool: evidence above ``threshold`` where the phrase scores best, specks removed.

    ``similarity`` holds each phrase's evidence (:func:`clip_similarity`:
    positive where the phrase beats the background phrases and the floor);
    it is compared as it is, never rescaled per image, so a map that is
    nowhere positive gives an empty mask.
    """
    sim = np.asarray(similarity, dtype=np.float32)
    best = sim.argmax(axis=0)
    masks = np.stack([(sim[p] > threshold) & (best == p) for p in range(len(sim))])
    if min_size > 1:
        for p, mask in enumerate(masks):
            labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
            if count:
                sizes = np.bincount(labels.ravel())
                sizes[0] = 0
                masks[p] = np.isin(labels, np.flatnonzero(sizes >= min_size))
    return masks


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
                 pretrained: str | None = None, allow_download: bool = False, progress: Progress | None = None,
                 threshold: float = 0.0, refine: bool = True, min_size: int | None = None,
                 label: str | None = None) -> list[PromptMask]:
    """Masks for the phrases of ``prompt`` on an aligned 2D pair, one per phrase found.

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
        Dense evidence function; default: CLIP (:func:`load_clip`,
        :func:`clip_similarity`).
    checkpoint, model_name, device, pretrained, allow_download, progress:
        The model: as :func:`load_clip`.
    threshold:
        Evidence a pixel needs (cosine units; 0 = the phrase just beats
        the background phrases and the floor).
    refine:
        Snap the coarse masks to the favoured source (:func:`refine_mask`).
    min_size:
        Smallest kept component (pixels; default 0.02 % of the image, at least 20).
    label:
        What produced the masks, for their provenance (default ``"CLIP <model>"``).

    Returns
    -------
    list of PromptMask
        Named after their phrase, provenance ``"CLIP ViT-B-32: 'person'"``;
        phrases with no evidence anywhere are left out (absent object: no region).

    Raises
    ------
    UsageError
        Empty prompt.
    ImageDataError
        A volume/video pair.
    FeatureUnavailableError, ModelLoadError, DeviceError
        No usable model, a bad file, out of memory.
    """
    phrases = parse_prompt(prompt)
    if not phrases:
        raise UsageError("the text prompt is empty", hint='give comma-separated phrases, e.g. "person, car"')
    if a.is_volume or a.axes.startswith("T") or a.spatial_shape[:2] != b.spatial_shape[:2]:
        raise ImageDataError("text prompts need two aligned 2D images",
                             hint="align the pair first; for volumes, draw regions or use proposals")
    source = str(source).upper()
    if source not in ("A", "B"):
        raise ValueError(f"source must be 'A' or 'B', got {source!r}")
    if similarity is None:
        bundle = load_clip(checkpoint, model_name, device, pretrained=pretrained, allow_download=allow_download,
                           progress=progress)
        similarity = functools.partial(clip_similarity, bundle)
        label = label or f"CLIP {getattr(bundle, 'name', model_name)}"
    label = label or "similarity"
    shape = (len(phrases), *a.spatial_shape[:2])
    try:
        sim = np.asarray(similarity(query_image(a, b), phrases), dtype=np.float32)
    except (torch.OutOfMemoryError, MemoryError) as error:
        raise DeviceError(f"out of memory finding {prompt!r} on {device}",
                          hint="use a smaller image or --device cpu") from error
    if sim.shape != shape:
        raise ValueError(f"similarity returned shape {sim.shape}, expected {shape}")
    luma = _luma(a if source == "A" else b)
    size = max(20, int(2e-4 * luma.size)) if min_size is None else int(min_size)
    found = []
    for p, (phrase, coarse) in enumerate(zip(phrases, coarse_masks(sim, threshold, size))):
        mask = refine_mask(coarse, luma, sim[p], min_size=size) if refine else coarse
        if not mask.any():
            log.info("no region for %r: no evidence above %.3g", phrase, threshold)
            continue
        found.append(PromptMask(phrase, mask, source, f"{label}: '{phrase}'"))
    return found
