"""Apply regions to a fusion: kappa/blend maps for the engine, a re-fuse helper, and the locality measure.

Regions become per-pixel maps (:meth:`session.regions.RegionSet.kappa_maps`): ``kappa_a`` /
``kappa_b`` multiply the model's gates at every level and sampling step,
and the engine blends the modulated result with the plain one through the
feathered ``blend_mask`` (Eq. 13 of Text-DiFuse), so nothing changes
outside the feathered regions.

Changing a region's strength and re-fusing only re-runs the modulated pass:
the engine caches the plain result per (sources, parameters, model).
:class:`ReFuser` keeps the request and reports whether each run hit that
cache.  Nothing else can be reused exactly: after the first sampling step
the noisy state, hence every encoder feature, depends on kappa.  What can
be saved is area: with ``crop=True`` only the regions' bounding box (plus a
context margin) is re-fused, and the change it makes there,
``blend * (modulated - plain)`` of the crop, is added to the full plain
result.  This is an approximation (the network sees less context, as with
tiling), exact outside the feathered regions.  The default 96 px margin covers
the network's receptive field and the two-scale base layers; it was chosen with
the retired saliency-prior design (with 32 px the cropped change differed from
the full one by 19.6 grey levels inside an IR/VIS region, with 96 px 1.2;
re-measure with ``benchmarks/bench_region_refuse.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.fusion.request import (
    CancelToken,
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


class HasKappaMaps(Protocol):
    """What is needed of a region set (``session.regions.RegionSet``; fusion may not import session)."""

    def kappa_maps(self, feather_px: float = ..., slice_index: int | None = ...
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def __iter__(self) -> Any: ...

MAP_KEYS = ("kappa_a", "kappa_b", "blend_mask")
DEFAULT_FEATHER_PX = 4.0


def region_maps(region_set: HasKappaMaps | None, *, feather_px: float = DEFAULT_FEATHER_PX,
                slice_index: int | None = None) -> dict[str, np.ndarray]:
    """``{"kappa_a", "kappa_b", "blend_mask"}`` for the engine, or ``{}`` without visible, non-empty regions.

    A map that stays 1.0 everywhere (no region favours that source) is left out.
    """
    if region_set is None or not any(r.visible and r.mask.any() for r in region_set):
        return {}
    kappa_a, kappa_b, blend = region_set.kappa_maps(feather_px, slice_index=slice_index)
    maps = {"kappa_a": kappa_a, "kappa_b": kappa_b, "blend_mask": blend}
    return {k: v for k, v in maps.items() if k == "blend_mask" or bool(np.any(v != 1.0))}


def merge_maps(*maps: Mapping[str, np.ndarray | None]) -> dict[str, np.ndarray]:
    """Combine several map dicts: per pixel the kappa furthest from 1 wins, the blend masks take their maximum.

    A dict with a kappa map but no ``blend_mask`` counts as blending
    everywhere (the engine's convention), so the result then has none either.
    """
    out: dict[str, np.ndarray] = {}
    full_blend = False
    for entry in maps:
        if not entry or all(entry.get(k) is None for k in MAP_KEYS):
            continue
        blend = entry.get("blend_mask")
        full_blend = full_blend or blend is None
        for key in MAP_KEYS:
            value = entry.get(key)
            if value is None:
                continue
            value = np.asarray(value, dtype=np.float32)
            if key not in out:
                out[key] = value.copy()
                continue
            if out[key].shape != value.shape:
                raise GeometryError(f"{key} maps of different shapes: {out[key].shape} vs {value.shape}")
            if key == "blend_mask":
                np.maximum(out[key], value, out=out[key])
            else:
                stronger = np.abs(value - 1.0) > np.abs(out[key] - 1.0)
                out[key][stronger] = value[stronger]
    if full_blend:
        out.pop("blend_mask", None)
    return out


def with_regions(request: FusionRequest, region_set: HasKappaMaps | None = None, *,
                 maps: Mapping[str, np.ndarray | None] | None = None,
                 feather_px: float = DEFAULT_FEATHER_PX) -> FusionRequest:
    """A copy of ``request`` modulated by ``region_set`` and/or ready ``maps`` (merged with any it had)."""
    own = {k: getattr(request, k) for k in MAP_KEYS}
    merged = merge_maps(own, region_maps(region_set, feather_px=feather_px), maps or {})
    return dataclasses.replace(request, **{k: merged.get(k) for k in MAP_KEYS})


class ReFuser:
    """Re-fuse one aligned pair as its regions change, re-using the engine's cached plain result.

    Parameters
    ----------
    a, b:
        The sources, on one grid.
    params:
        Fusion parameters (default :class:`FusionParams`).
    backend:
        A stand-in for the diffusion model (tests, benchmarks); see :func:`engine.run_fusion`.
    feather_px:
        Feather sigma of the region masks.

    Attributes
    ----------
    last_hit_cache:
        True when the last :meth:`fuse` re-used the cached plain fusion.
    last_seconds:
        Wall time of the last :meth:`fuse`.
    """

    def __init__(self, a: Image, b: Image, params: FusionParams | None = None, *, backend: Any = None,
                 feather_px: float = DEFAULT_FEATHER_PX, crop: bool = False, margin: int = 96,
                 max_crop_fraction: float = 0.5):
        self.a, self.b = a, b
        self.params = params or FusionParams()
        self.backend = backend
        self.feather_px = float(feather_px)
        self.crop = bool(crop)
        self.margin = int(margin)
        self.max_crop_fraction = float(max_crop_fraction)
        self.last_hit_cache = False
        self.last_seconds = 0.0
        self.last_crop: tuple[slice, slice] | None = None
        self._plain: FusionResult | None = None
        self._plain_crops: dict[tuple[int, int, int, int], FusionResult] = {}

    def fuse(self, regions: HasKappaMaps | Mapping[str, np.ndarray | None] | None = None,
             cancel: CancelToken | None = None,
             on_progress: Callable[[Progress], None] | None = None) -> FusionResult:
        """Fuse with ``regions`` (a RegionSet, a map dict, or None for the plain fusion)."""
        if hasattr(regions, "kappa_maps"):
            maps = region_maps(regions, feather_px=self.feather_px)
        else:
            maps = merge_maps(regions or {})  # type: ignore[arg-type]
        started = time.perf_counter()
        box = self._crop_box(maps) if self.crop else None
        self.last_crop = box
        if box is not None:
            result = self._fuse_crop(maps, box, cancel, on_progress)
            self.last_seconds = time.perf_counter() - started
            return result
        request = FusionRequest(self.a, self.b, self.params, **{k: maps.get(k) for k in MAP_KEYS})
        result = self._run(request, cancel, on_progress)
        self.last_seconds = time.perf_counter() - started
        log.debug("re-fuse in %.2f s (plain result %s)", self.last_seconds,
                  "cached" if self.last_hit_cache else "computed")
        return result

    def _run(self, request: FusionRequest, cancel: CancelToken | None,
             on_progress: Callable[[Progress], None] | None) -> FusionResult:
        from textdifuse_desktop.fusion.engine import run_fusion

        computed_base = False
        gen = run_fusion(request, cancel, backend=self.backend)
        while True:
            try:
                progress = next(gen)
            except StopIteration as stop:
                result: FusionResult = stop.value
                break
            computed_base = computed_base or progress.message.startswith("fusing")
            if on_progress is not None:
                on_progress(progress)
        self.last_hit_cache = request.modulated and not computed_base
        if not request.modulated and request.a is self.a:
            self._plain = result
        return result

    def _crop_box(self, maps: Mapping[str, np.ndarray]) -> tuple[slice, slice] | None:
        """The regions' box plus the margin, or None when cropping does not pay (or does not apply)."""
        blend = maps.get("blend_mask")
        if blend is None or blend.ndim != 2 or self.a.is_volume or self.a.axes.startswith("T"):
            return None
        rows, cols = np.flatnonzero(blend.any(axis=1)), np.flatnonzero(blend.any(axis=0))
        if rows.size == 0:
            return None
        h, w = blend.shape
        y0, y1 = max(int(rows[0]) - self.margin, 0), min(int(rows[-1]) + 1 + self.margin, h)
        x0, x1 = max(int(cols[0]) - self.margin, 0), min(int(cols[-1]) + 1 + self.margin, w)
        if (y1 - y0) * (x1 - x0) > self.max_crop_fraction * h * w:
            return None
        return slice(y0, y1), slice(x0, x1)

    def _fuse_crop(self, maps: Mapping[str, np.ndarray], box: tuple[slice, slice], cancel: CancelToken | None,
                   on_progress: Callable[[Progress], None] | None) -> FusionResult:
        from textdifuse_desktop.imaging.intensity import display_window

        if self._plain is None:
            self._run(FusionRequest(self.a, self.b, self.params), cancel, on_progress)
        plain = self._plain
        assert plain is not None
        # The crop keeps each source's full-image window, so intensities map exactly as in the full fusion.
        a = self.a.with_pixels(self.a.pixels[box], window=display_window(self.a))
        b = self.b.with_pixels(self.b.pixels[box], window=display_window(self.b))
        kappa = {k: maps[k][box] for k in ("kappa_a", "kappa_b") if maps.get(k) is not None}
        key = (box[0].start, box[0].stop, box[1].start, box[1].stop)
        plain_crop = self._plain_crops.get(key)
        if plain_crop is None:  # the engine also caches it, so the modulated run below re-uses it
            plain_crop = self._plain_crops[key] = self._run(FusionRequest(a, b, self.params), cancel, on_progress)
        modulated = self._run(FusionRequest(a, b, self.params, **kappa), cancel, on_progress)
        blend = maps["blend_mask"][box]
        if plain.image.pixels.ndim == 3:
            blend = blend[..., None]
        pixels = plain.image.pixels.copy()
        delta = blend * (modulated.image.pixels - plain_crop.image.pixels)
        pixels[box] = np.clip(pixels[box] + delta, 0.0, 255.0)
        image = plain.image.with_pixels(pixels)
        image.meta["fusion"] = {**image.meta.get("fusion", {}), "modulated": True,
                                "crop": [box[0].start, box[0].stop, box[1].start, box[1].stop]}
        return dataclasses.replace(modulated, image=image, warnings=list(plain.warnings) + list(modulated.warnings))


def _luma(image: Image | np.ndarray) -> np.ndarray:
    pixels = image.pixels if isinstance(image, Image) else np.asarray(image)
    pixels = np.asarray(pixels, dtype=np.float64)
    if pixels.ndim >= 3 and pixels.shape[-1] == 3:
        return pixels @ np.array([0.299, 0.587, 0.114])
    return pixels


def locality(plain: Image | np.ndarray, modulated: Image | np.ndarray, mask: np.ndarray,
             blend_mask: np.ndarray | None = None) -> dict[str, float]:
    """How local a modulation is: mean absolute luma change inside ``mask`` versus outside.

    Returns ``inside``, ``outside`` (every pixel not in the mask, the feather
    band included), ``outside_band`` (the feather band only, if
    ``blend_mask`` is given; beyond it the change is zero by construction)
    and ``ratio = inside / outside``.
    """
    diff = np.abs(_luma(modulated) - _luma(plain))
    mask = np.asarray(mask, dtype=bool)
    if diff.shape != mask.shape:
        raise GeometryError(f"mask shape {mask.shape} differs from the image's {diff.shape}")
    inside = float(diff[mask].mean()) if mask.any() else 0.0
    outside = float(diff[~mask].mean()) if (~mask).any() else 0.0
    out = {"inside": inside, "outside": outside, "ratio": inside / max(outside, 1e-12)}
    if blend_mask is not None:
        band = (np.asarray(blend_mask) > 0) & ~mask
        out["outside_band"] = float(diff[band].mean()) if band.any() else 0.0
    return out
