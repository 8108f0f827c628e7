"""Classical pixel-space fusion rules, for previews and as baselines.

All rules fuse luma (float32 Y in 0..255); :func:`fuse_images` restores the
chroma of the colour source.  Methods:

``max``
    Per-pixel maximum.
``mean``
    Per-pixel average.
``laplacian``
    Laplacian-pyramid fusion (Burt & Adelson): on each detail level keep the
    coefficient of the source with the larger local energy (3x3 window), and
    average the coarsest (base) level.
``guided``
    Guided-filtering fusion, GFF (Li, Kang & Hu, IEEE TIP 2013): two-scale
    split with a 31x31 mean filter, saliency = Gaussian-smoothed |Laplacian|,
    winner-take-all weights refined by guided filters (r=45, eps=0.3 for the
    base, r=7, eps=1e-6 for the detail).  The large-radius filter runs on a
    4x subsampled grid (He & Sun's fast guided filter) to stay fast.

Every rule maps two black pixels to black (no lift of a medical background)
and keeps the result in 0..255.  numpy/scipy only.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Literal

import numpy as np
from scipy import ndimage

from textdifuse_desktop.errors import GeometryError, ImageDataError
from textdifuse_desktop.imaging.color import chroma_source, merge_luma, split_luma
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

Method = Literal["max", "mean", "laplacian", "guided"]
METHODS: tuple[str, ...] = ("max", "mean", "laplacian", "guided")

_MIN_LEVEL_SIDE = 8
#: Saliency (smoothed |Laplacian| of [0, 1] data) below which a pixel counts as flat in both sources.
_FLAT_SALIENCY = 1e-4
_MAX_LEVELS = 6


def fuse_luma(y_a: np.ndarray, y_b: np.ndarray, method: Method | str = "laplacian") -> np.ndarray:
    """Fuse two luma images with a classical rule.

    Parameters
    ----------
    y_a, y_b:
        Same-shape float arrays in 0..255, ``HxW`` (or ``ZxHxW``: fused slice by slice).
    method:
        One of :data:`METHODS`.

    Returns
    -------
    np.ndarray
        float32 fused luma in 0..255, shaped like the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((5, 7), np.float32); b = np.full((5, 7), 200, np.float32)
    >>> float(fuse_luma(a, b, "max").min())
    200.0
    """
    if method not in METHODS:
        raise ImageDataError(f"unknown classical fusion method {method!r}", hint=f"use one of {', '.join(METHODS)}")
    a = np.asarray(y_a, dtype=np.float32)
    b = np.asarray(y_b, dtype=np.float32)
    if a.shape != b.shape:
        raise GeometryError(
            f"sources have different shapes {a.shape} and {b.shape}", hint="align the sources onto one grid first"
        )
    if a.ndim == 3:
        return np.stack([fuse_luma(sa, sb, method) for sa, sb in zip(a, b)])
    if a.ndim != 2:
        raise ImageDataError(f"fusion needs HxW or ZxHxW luma, got shape {a.shape}")
    a = np.nan_to_num(a, nan=0.0)
    b = np.nan_to_num(b, nan=0.0)
    if method == "max":
        out = np.maximum(a, b)
    elif method == "mean":
        out = (a + b) * np.float32(0.5)
    elif method == "laplacian":
        out = _laplacian_fusion(a, b)
    else:
        out = _guided_fusion(a, b)
    return np.clip(out, 0.0, 255.0, out=out)


def fuse_images(a: Image, b: Image, method: Method | str = "laplacian") -> Image:
    """Fuse two aligned images: Y with :func:`fuse_luma`, chroma from the colour source.

    Both images must share the spatial shape (see ``imaging.align.align_pair``).
    The result keeps ``a``'s geometry, has modality ``"OT"``, values in 0..255,
    and lists both sources in its provenance.
    """
    if a.spatial_shape != b.spatial_shape or a.is_volume != b.is_volume:
        raise GeometryError(
            f"sources have different grids {a.spatial_shape} and {b.spatial_shape}",
            path=(a.provenance.source_paths or (None,))[0],
            hint="align the sources onto one grid first (imaging.align.align_pair)",
        )
    if a.axes.startswith("T") or b.axes.startswith("T"):
        raise ImageDataError("frame stacks are fused frame by frame; pass one frame at a time")
    y_a, cbcr_a = split_luma(a)
    y_b, cbcr_b = split_luma(b)
    source = chroma_source(a, b)
    cbcr = {"a": cbcr_a, "b": cbcr_b}.get(source) if source else None
    fused = merge_luma(fuse_luma(y_a, y_b, method), cbcr)
    axes = ("ZYX" if a.is_volume else "YX") + ("C" if cbcr is not None else "")
    provenance = replace(
        a.provenance,
        source_paths=tuple(a.provenance.source_paths) + tuple(b.provenance.source_paths),
        reader="fusion.classical",
        series_uid=None,
        sop_instance_uids=(),
        dicom_headers=(),
        description=f"classical {method} fusion",
    )
    image = a.with_pixels(fused, axes=axes, modality="OT", units="", window=(127.5, 255.0), provenance=provenance)
    image.meta["fusion"] = {"method": str(method), "chroma_source": source, "modalities": [a.modality, b.modality]}
    return image


# ------------------------------------------------------------ Laplacian pyramid
def _reduce_axis(image: np.ndarray, axis: int) -> np.ndarray:
    """Binomial [1 4 6 4 1]/16 blur along ``axis``, evaluated only at the kept (even) samples."""
    g = np.moveaxis(image, axis, 0)
    n = g.shape[0]
    if n < 3:
        return np.moveaxis(g[::2].copy(), 0, axis)
    # mirror padding by two samples (d c | a b c d | c b) without copying the whole image twice
    padded = np.concatenate([g[2:0:-1], g, g[-2:-4:-1]])
    m = (n + 1) // 2
    out = (padded[0 : 2 * m : 2] + padded[4 : 4 + 2 * m : 2]) * np.float32(1 / 16)
    out += (padded[1 : 1 + 2 * m : 2] + padded[3 : 3 + 2 * m : 2]) * np.float32(4 / 16)
    out += padded[2 : 2 + 2 * m : 2] * np.float32(6 / 16)
    return np.moveaxis(out, 0, axis)


def _reduce(image: np.ndarray) -> np.ndarray:
    """Blur with the 5-tap binomial kernel and keep every other row/column."""
    return _reduce_axis(_reduce_axis(image, 0), 1)


def _box3_sum(image: np.ndarray) -> np.ndarray:
    """Sum over each 3x3 neighbourhood (edge-replicated); the local energy window."""
    p = np.pad(image, 1, mode="edge")
    rows = p[:-2] + p[1:-1] + p[2:]
    return rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]


def _expand_axis(image: np.ndarray, axis: int, length: int) -> np.ndarray:
    """Polyphase 2x upsampling along ``axis`` with the binomial kernel, cropped to ``length``."""
    g = np.moveaxis(image, axis, 0)
    padded = np.concatenate([g[1:2] if g.shape[0] > 1 else g[:1], g, g[-2:-1] if g.shape[0] > 1 else g[-1:]])
    out = np.empty((2 * g.shape[0],) + g.shape[1:], dtype=np.float32)
    out[0::2] = (padded[:-2] + padded[2:]) * np.float32(0.125) + padded[1:-1] * np.float32(0.75)
    out[1::2] = (padded[1:-1] + padded[2:]) * np.float32(0.5)
    return np.moveaxis(out[:length], 0, axis)


def _expand(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return _expand_axis(_expand_axis(image, 0, shape[0]), 1, shape[1])


def _pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = []
    current = image
    for _ in range(levels):
        smaller = _reduce(current)
        pyramid.append(current - _expand(smaller, current.shape))
        current = smaller
    pyramid.append(current)
    return pyramid


def _level_count(shape: tuple[int, ...]) -> int:
    side = min(shape)
    levels = 0
    while side // 2 >= _MIN_LEVEL_SIDE and levels < _MAX_LEVELS:
        side = (side + 1) // 2
        levels += 1
    return levels


def _laplacian_fusion(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    levels = _level_count(a.shape)
    pyr_a, pyr_b = _pyramid(a, levels), _pyramid(b, levels)
    fused = (pyr_a[-1] + pyr_b[-1]) * np.float32(0.5)
    for d_a, d_b in zip(reversed(pyr_a[:-1]), reversed(pyr_b[:-1])):
        energy_a, energy_b = _box3_sum(d_a * d_a), _box3_sum(d_b * d_b)
        fused = _expand(fused, d_a.shape) + np.where(energy_a >= energy_b, d_a, d_b)
    return fused


# ------------------------------------------------------------ guided filtering
def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return ndimage.uniform_filter(image, size=2 * radius + 1, mode="reflect")


def _laplace(image: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian with replicated borders."""
    p = np.pad(image, 1, mode="edge")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - np.float32(4.0) * image


def _upsample(image: np.ndarray, shape: tuple[int, ...], factor: int) -> np.ndarray:
    """Bilinear upsampling of an ``image[::factor, ::factor]`` subsample back to ``shape``.

    Polyphase: output sample ``i * factor + k`` interpolates between inputs
    ``i`` and ``i + 1`` with weight ``k / factor``; the phases are written to
    a new axis next to the upsampled one and reshaped away (no gathers, no
    transposes).
    """
    out = image
    for axis, length in enumerate(shape[:2]):
        n = out.shape[axis]
        nxt = np.concatenate([out[1:], out[-1:]]) if axis == 0 else np.concatenate([out[:, 1:], out[:, -1:]], axis=1)
        step = nxt - out
        up = np.empty(out.shape[: axis + 1] + (factor,) + out.shape[axis + 1 :], dtype=np.float32)
        for k in range(factor):
            phase = up[:, k] if axis == 0 else up[:, :, k]
            np.multiply(step, np.float32(k / factor), out=phase)
            phase += out
        up = up.reshape(out.shape[:axis] + (n * factor,) + out.shape[axis + 1 :])
        out = up[:length] if axis == 0 else up[:, :length]
    return out


def _guided_filter(
    guide: np.ndarray, src: np.ndarray, radius: int, eps: float, factor: int = 1, *, full: bool = True
) -> np.ndarray:
    """He et al.'s guided filter with a grey guide, fast variant for ``factor`` > 1.

    ``src`` lives on the ``guide[::factor, ::factor]`` grid.  The linear
    coefficients are computed there with the radius divided by ``factor``
    and upsampled bilinearly (He & Sun 2015); the full-resolution guide
    keeps the edges sharp.  ``full=False`` returns the output on the coarse
    grid instead (for maps that are smooth anyway).
    """
    g = guide[::factor, ::factor] if factor > 1 else guide
    radius = max(1, round(radius / factor))
    mean_g, mean_p = _box(g, radius), _box(src, radius)
    var_g = _box(g * g, radius) - mean_g * mean_g
    cov_gp = _box(g * src, radius) - mean_g * mean_p
    coef_a = cov_gp / (var_g + np.float32(eps))
    coef_b = mean_p - coef_a * mean_g
    mean_a, mean_b = _box(coef_a, radius), _box(coef_b, radius)
    if not full:
        return mean_a * g + mean_b
    if factor > 1:
        mean_a = _upsample(mean_a, guide.shape, factor)
        mean_b = _upsample(mean_b, guide.shape, factor)
    return mean_a * guide + mean_b


def _guided_fusion(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    scale = np.float32(1.0 / 255.0)
    guides = (a * scale, b * scale)
    bases = [_box(g, 15) for g in guides]
    # Saliency and the winner-take-all map are only needed on the subsampled
    # grids of the fast guided filters, so they are computed at half size.
    small = min(a.shape) >= 32
    factor = 2 if small else 1
    saliency = [_smooth_saliency(np.abs(_laplace(g)), small) for g in guides]
    # Flat areas have no saliency in either source (large in medical images):
    # there the brighter source wins, and equal ones (black background) share.
    sub = (slice(None, None, factor), slice(None, None, factor))
    flat = np.maximum(saliency[0], saliency[1]) < _FLAT_SALIENCY
    brighter = np.sign(guides[0][sub] - guides[1][sub]) * np.float32(0.5) + np.float32(0.5)
    winner_a = np.where(flat, brighter, saliency[0] >= saliency[1]).astype(np.float32)
    masks = (winner_a, np.float32(1.0) - winner_a)
    # The base weights (r=45, eps=0.3) are smooth: normalise them on the
    # quarter grid and upsample the one normalised map.
    w_base = [np.maximum(_guided_filter(g, m[::2, ::2] if small else m, 45, 0.3, 4 if small else 1, full=False), 0.0)
              for g, m in zip(guides, masks)]
    share_base = _share(w_base)
    if small:
        share_base = _upsample(share_base, a.shape, 4)
    w_detail = [np.maximum(_guided_filter(g, m, 7, 1e-6, factor), 0.0) for g, m in zip(guides, masks)]
    base = bases[1] + share_base * (bases[0] - bases[1])
    detail_a, detail_b = guides[0] - bases[0], guides[1] - bases[1]
    detail = detail_b + _share(w_detail) * (detail_a - detail_b)
    return (base + detail) * np.float32(255.0)


def _smooth_saliency(edges: np.ndarray, half: bool) -> np.ndarray:
    """GFF's Gaussian low-pass (sigma 5, radius 5) of the edge map, approximated by box passes.

    With ``half`` the result is on the ``[::2, ::2]`` grid: a binomial
    reduce (sigma ~1) then two 5-px boxes (sigma ~2 px there, ~4.5 px at
    full size).
    """
    if half:
        return _box(_box(_reduce(edges), 2), 2)
    return _box(_box(edges, 5), 5)


def _share(weights: list[np.ndarray]) -> np.ndarray:
    """Normalised weight of the first source, ``w_a / (w_a + w_b)``; 0.5 where both vanish."""
    total = weights[0] + weights[1]
    share = np.full_like(total, 0.5)
    np.divide(weights[0], total, out=share, where=total > 1e-6)
    return share
