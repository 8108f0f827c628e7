"""Region proposals that need no weights: hot objects (infrared) and high uptake (PET/SPECT).

Both follow the domain's own conventions:

* **Hot objects** - on a radiometric thermal image (``units == "degC"``) every
  pixel at or above a temperature (default :data:`HOT_CELSIUS`) is hot.
  Otherwise the infrared luminance is thresholded: a two-level Otsu split
  (Otsu on the whole image, then again on its bright class unless that
  class is small and unimodal, i.e. already the objects), never below the
  :data:`HOT_PERCENTILE` th percentile, so that a bright sky or a warm wall
  does not swallow the people and cars.
* **High uptake** - on a PET image in SUV (``units == "SUV"``) each connected
  component of ``SUV >= SUV_THRESHOLD`` (2.5, the usual malignancy cut-off)
  is kept where it reaches :data:`RELATIVE_MAX` (40 %) of its own SUVmax, as
  in fixed-fraction PET segmentation.  Without SUV (counts, Bq/ml, or the
  luminance of a colour-coded PET such as the Harvard atlas) the same 40 %
  of the local maximum is applied above the background (the image's low
  percentile) to the components of the Otsu foreground.

The masks are split into connected components (:func:`scipy.ndimage.label`)
larger than a minimum size and returned as
:class:`~textdifuse_desktop.session.region.Region` objects (``origin
"proposal"``, favouring the infrared/PET source, default kappa 1.5, named
``"hot 1"``, ``"uptake 2"``...), biggest first.  Volumes (``ZYX``) are
labelled in 3D.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.threshold import otsu_split, otsu_threshold
from textdifuse_desktop.session.region import (
    DEFAULT_KAPPA,
    PALETTE,
    Region,
    clamp_kappa,
)
from textdifuse_desktop.session.regions import RegionSet

log = logging.getLogger(__name__)

HOT_CELSIUS = 30.0
HOT_PERCENTILE = 90.0
SUV_THRESHOLD = 2.5
RELATIVE_MAX = 0.40
#: A first Otsu class smaller than this share of the image is taken as the hot objects themselves ...
HOT_FRACTION = 0.10
#: ... unless it is clearly bimodal: Otsu effectiveness above which the bright class is split again (one Gaussian mode gives about 0.64).
BIMODAL = 0.70
#: Accepted spellings of the proposal kinds (CLI and GUI names).
KINDS = {"hot": "hot", "hot_objects": "hot", "uptake": "uptake", "high_uptake": "uptake"}
HOT_MODALITIES = ("IR",)
UPTAKE_MODALITIES = ("PT", "NM")




def intensity_of(image: Image) -> np.ndarray:
    """Values to threshold: the pixels of a grey image (in its units), the BT.601 luma of a colour one.

    Video frames (``TYX``) give their first frame.  The result has the
    region grid's shape, ``(H, W)`` or ``(Z, H, W)``.
    """
    from textdifuse_desktop.imaging.color import split_luma

    if image.has_channels and image.pixels.shape[-1] >= 3:
        values, _ = split_luma(image)
    else:
        values = image.pixels[..., 0] if image.has_channels else image.pixels
    values = np.asarray(values, dtype=np.float32)
    if image.axes.startswith("T"):
        values = values[0]
    return values


def default_min_size(shape: Sequence[int]) -> int:
    """Smallest component kept: 0.02 % of the pixels (about 60 at 640x480), at least 20."""
    return max(20, round(2e-4 * float(np.prod(shape))))


def split_components(mask: np.ndarray, min_size: int, max_regions: int | None = None) -> list[np.ndarray]:
    """Connected components of ``mask`` (full connectivity) with at least ``min_size`` pixels, biggest first."""
    labels, count = ndimage.label(mask, structure=np.ones((3,) * mask.ndim, dtype=bool))
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel())[1:]
    order = [i + 1 for i in np.argsort(-sizes, kind="stable") if sizes[i] >= min_size]
    if max_regions is not None:
        order = order[:max_regions]
    return [labels == label for label in order]


def _regions(masks: list[np.ndarray], stem: str, source: str, kappa: float) -> list[Region]:
    provenance = "hot-object proposal" if stem == "hot" else "high-uptake proposal"
    return [
        Region(name=f"{stem} {i + 1}", mask=m, source=source, kappa=clamp_kappa(kappa), origin="proposal",
               color=PALETTE[i % len(PALETTE)], provenance=provenance)
        for i, m in enumerate(masks)
    ]


def hot_mask(image: Image, *, celsius: float | None = None, percentile: float = HOT_PERCENTILE) -> np.ndarray:
    """Boolean mask of hot pixels (see the module docstring for the thresholds)."""
    values = intensity_of(image)
    if image.units == "degC":
        threshold = HOT_CELSIUS if celsius is None else float(celsius)
        log.debug("hot objects: radiometric threshold %.1f degC", threshold)
        return np.nan_to_num(values, nan=-np.inf) >= threshold
    if celsius is not None:
        log.warning("the infrared source is not radiometric (units %r); the %.1f degC threshold is ignored",
                    image.units, celsius)
    finite = values[np.isfinite(values)]
    first = otsu_threshold(finite)
    bright = finite[finite > first]
    second, separation = otsu_split(bright) if bright.size else (first, 0.0)
    if bright.size < HOT_FRACTION * finite.size and separation < BIMODAL:
        second = first  # the bright class is already a few compact objects: do not cut them in two
    threshold = max(second, float(np.percentile(finite, percentile)))
    log.debug("hot objects: Otsu %.3g / %.3g, P%g, threshold %.3g", first, second, percentile, threshold)
    return values > threshold


def propose_hot(image: Image, *, source: str = "A", celsius: float | None = None,
                percentile: float = HOT_PERCENTILE, min_size: int | None = None,
                kappa: float = DEFAULT_KAPPA, max_regions: int | None = 16) -> list[Region]:
    """Hot-object regions of an infrared image.

    Parameters
    ----------
    image:
        The infrared source (radiometric in degC, or plain intensities).
    source:
        Which source of the pair ``image`` is (``"A"`` or ``"B"``); the regions favour it.
    celsius:
        Temperature threshold for radiometric images (default :data:`HOT_CELSIUS`).
    percentile:
        Lower bound of the intensity threshold for non-radiometric images.
    min_size:
        Smallest component in pixels (default :func:`default_min_size`).
    kappa:
        Strength given to the regions.
    max_regions:
        Keep at most this many (the biggest).

    Returns
    -------
    list of Region
        ``"hot 1"``, ``"hot 2"``... biggest first; empty when nothing is hot.
    """
    mask = hot_mask(image, celsius=celsius, percentile=percentile)
    size = default_min_size(mask.shape) if min_size is None else int(min_size)
    return _regions(split_components(mask, size, max_regions), "hot", source, kappa)


def uptake_mask(image: Image, *, suv: float = SUV_THRESHOLD, relative: float = RELATIVE_MAX,
                min_size: int | None = None) -> np.ndarray:
    """Boolean mask of high uptake (see the module docstring for the thresholds)."""
    values = np.nan_to_num(intensity_of(image), nan=0.0)
    size = default_min_size(values.shape) if min_size is None else int(min_size)
    if image.units == "SUV":
        candidates, background = values >= float(suv), 0.0
    else:
        background = float(np.percentile(values, 1.0))
        candidates = values > otsu_threshold(values)
    out = np.zeros(values.shape, dtype=bool)
    for component in split_components(candidates, size):
        local_max = float(values[component].max())
        cut = background + float(relative) * (local_max - background)
        if image.units == "SUV":
            cut = max(cut, float(suv))
        out |= component & (values >= cut)
    return out


def propose_uptake(image: Image, *, source: str = "B", suv: float = SUV_THRESHOLD,
                   relative: float = RELATIVE_MAX, min_size: int | None = None,
                   kappa: float = DEFAULT_KAPPA, max_regions: int | None = 16) -> list[Region]:
    """High-uptake regions of a PET/SPECT image.

    Parameters
    ----------
    image:
        The PET/SPECT source (in SUV when ``image.units == "SUV"``).
    source:
        Which source of the pair ``image`` is; the regions favour it.
    suv:
        Absolute SUV threshold (SUV images only).
    relative:
        Fraction of each component's maximum (above background) kept.
    min_size, kappa, max_regions:
        As in :func:`propose_hot`.

    Returns
    -------
    list of Region
        ``"uptake 1"``, ``"uptake 2"``... biggest first.
    """
    size = default_min_size(intensity_of(image).shape) if min_size is None else int(min_size)
    mask = uptake_mask(image, suv=suv, relative=relative, min_size=size)
    return _regions(split_components(mask, size, max_regions), "uptake", source, kappa)


def normalise_kind(kind: str) -> str:
    """``"hot"`` or ``"uptake"`` from any accepted spelling; ValueError otherwise."""
    try:
        return KINDS[str(kind).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown proposal kind {kind!r}; choose 'hot' or 'uptake'") from None


def pick_source(kind: str, a: Image, b: Image) -> str:
    """The source a proposal of ``kind`` looks at: ``"A"`` or ``"B"``.

    By modality first (IR for hot objects, PT/NM for uptake); otherwise, for
    hot objects the grey source when the other is in colour (infrared next to
    a colour visible image), else A; for uptake the colour source (a
    colour-coded PET next to a grey MRI), else B.
    """
    from textdifuse_desktop.imaging.color import is_colour

    kind = normalise_kind(kind)
    wanted = HOT_MODALITIES if kind == "hot" else UPTAKE_MODALITIES
    hits = [name for name, image in (("A", a), ("B", b)) if image.modality in wanted]
    if len(hits) == 1:
        return hits[0]
    colour_a, colour_b = is_colour(a), is_colour(b)
    if colour_a != colour_b:
        colour = "A" if colour_a else "B"
        return colour if kind == "uptake" else ("B" if colour == "A" else "A")
    return "A" if kind == "hot" else "B"


def salient_source(a: Image, b: Image) -> str:
    """The source a text-prompted region favours by default: the infrared / PET / SPECT one.

    By modality first; otherwise a colour source with a pure-black background (a
    colour-coded PET or SPECT) is salient, a colour photograph is not (its
    grey partner is then the infrared); two grey sources give ``"B"``.
    """
    from textdifuse_desktop.imaging.color import is_colour, is_colour_coded_nuclear

    hits = [name for name, image in (("A", a), ("B", b)) if image.modality in HOT_MODALITIES + UPTAKE_MODALITIES]
    if len(hits) == 1:
        return hits[0]
    colour_a, colour_b = is_colour(a), is_colour(b)
    if colour_a == colour_b:
        return "B"
    colour, grey = ("A", "B") if colour_a else ("B", "A")
    return colour if is_colour_coded_nuclear(a if colour == "A" else b) else grey


def propose(kind: str, a: Image, b: Image, *, source: str | None = None, kappa: float = DEFAULT_KAPPA,
            **options: object) -> list[Region]:
    """Proposals of ``kind`` (``"hot"`` / ``"uptake"``) for an aligned pair.

    ``source`` overrides :func:`pick_source`; ``options`` go to
    :func:`propose_hot` or :func:`propose_uptake`.
    """
    kind = normalise_kind(kind)
    source = pick_source(kind, a, b) if source is None else str(source).upper()
    image = a if source == "A" else b
    make = propose_hot if kind == "hot" else propose_uptake
    regions = make(image, source=source, kappa=kappa, **options)  # type: ignore[arg-type]
    log.info("%d %s proposal(s) on source %s", len(regions), kind, source)
    return regions


def add_regions(region_set: RegionSet, regions: Sequence[Region]) -> list[int]:
    """Add ``regions`` to ``region_set`` (one undo step each); returns their indices."""
    indices = []
    for region in regions:
        region_set.add(region.name, source=region.source, kappa=region.kappa, origin=region.origin,
                       mask=region.mask, color=region.color, visible=region.visible, provenance=region.provenance)
        indices.append(len(region_set) - 1)
    return indices
