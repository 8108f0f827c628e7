"""Feathering of boolean masks: soft edges, so that regions leave no seams.

The painted pixels keep the full weight 1.0; outside them the weight falls
off as a Gaussian of the distance ``d`` to the mask, ``exp(-d**2 / (2 sigma**2))``,
and is cut to 0 beyond ``4 sigma`` (where it is below 4e-4).  Feathering
outwards (rather than blurring the mask) keeps small or thin regions at full
strength, which is what the user painted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import distance_transform_edt

from textdifuse_desktop.session._undo import bbox_of

if TYPE_CHECKING:
    from textdifuse_desktop.session.region import Region

#: Feather reach in sigmas.
TRUNCATE = 4.0


def _feather_plane(mask: np.ndarray, sigma: float) -> np.ndarray:
    distance = distance_transform_edt(~mask).astype(np.float32)
    soft = mask.astype(np.float32)
    band = (distance > 0) & (distance <= TRUNCATE * sigma)
    soft[band] = np.exp(-0.5 * (distance[band] / np.float32(sigma)) ** 2)
    return soft


def feather_block(mask: np.ndarray, sigma_px: float) -> tuple[tuple[slice, ...], np.ndarray] | None:
    """Feathered weights of ``mask`` within the block they can be non-zero.

    Returns ``(block, soft)`` where ``block`` is a tuple of slices into
    ``mask`` and ``soft`` the float32 weights there, or None for an empty
    mask.  See :func:`feather_mask`.
    """
    mask = np.asarray(mask, dtype=bool)
    bbox = bbox_of(mask)
    if bbox is None:
        return None
    if sigma_px <= 0:
        return bbox, np.ones(tuple(s.stop - s.start for s in bbox), np.float32) * mask[bbox]
    pad = int(math.ceil(TRUNCATE * sigma_px)) + 1
    first_plane_axis = mask.ndim - 2
    block = tuple(
        slice(max(s.start - pad, 0), min(s.stop + pad, mask.shape[axis])) if axis >= first_plane_axis else s
        for axis, s in enumerate(bbox)
    )
    sub = mask[block]
    if sub.ndim == 2:
        return block, _feather_plane(sub, float(sigma_px))
    soft = np.zeros(sub.shape, np.float32)
    for z in range(sub.shape[0]):
        if sub[z].any():
            soft[z] = _feather_plane(sub[z], float(sigma_px))
    return block, soft


def feather_mask(mask: np.ndarray, sigma_px: float) -> np.ndarray | None:
    """Soft version of a boolean mask.

    Only the mask's bounding box, padded by the feather's reach, is
    processed, so small regions on big volumes stay cheap.  3D masks
    ``(Z, H, W)`` are feathered within each slice, since slices are often
    much thicker than pixels are wide.

    Parameters
    ----------
    mask:
        Boolean array, 2D or 3D.
    sigma_px:
        Gaussian sigma of the fall-off, in pixels; ``<= 0`` returns the hard
        mask as float.

    Returns
    -------
    numpy.ndarray or None
        float32 array of ``mask.shape`` in ``[0, 1]`` (1 inside the mask,
        strictly between 0 and 1 just outside it), or None when the mask is
        empty.
    """
    found = feather_block(mask, sigma_px)
    if found is None:
        return None
    block, sub = found
    soft = np.zeros(np.shape(mask), dtype=np.float32)
    soft[block] = sub
    return soft


def strength_maps(regions: Iterable[tuple[Region, np.ndarray]], shape: tuple[int, ...], feather_px: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feathered ``kappa_a``, ``kappa_b`` and blend maps of ``(region, mask)`` pairs over ``shape``.

    Inside a visible region favouring A, ``kappa_a == kappa`` (``1 + (kappa - 1) * soft`` on its
    feathered edge), and likewise for B; 1.0 elsewhere.  Where regions overlap, the value
    furthest from 1 wins.  The blend map is the maximum of the feathered masks (0..1).
    """
    kappa = {"A": np.ones(shape, np.float32), "B": np.ones(shape, np.float32)}
    blend = np.zeros(shape, np.float32)
    for region, mask in regions:
        if not region.visible:
            continue
        found = feather_block(mask, feather_px)
        if found is None:
            continue
        block, soft = found
        np.maximum(blend[block], soft, out=blend[block])
        value = np.float32(1.0) + np.float32(region.kappa - 1.0) * soft
        target = kappa[region.source][block]
        stronger = np.abs(value - 1.0) > np.abs(target - 1.0)
        target[stronger] = value[stronger]
    return kappa["A"], kappa["B"], blend
