"""Resampling of one image onto another's grid through world coordinates."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from scipy import ndimage

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


def index_to_index(source: Image, reference: Image) -> np.ndarray:
    """4x4 map from reference voxel indices (i, j, k) to source voxel indices."""
    return np.linalg.inv(source.affine) @ reference.affine


def _channels_last(image: Image) -> np.ndarray:
    """Pixels as ``(..., C)``, adding a singleton channel axis for grey images."""
    return image.pixels if image.has_channels else image.pixels[..., None]


def resample_to(image: Image, reference: Image, *, order: int = 1, fill: float = 0.0) -> Image:
    """Resample ``image`` onto ``reference``'s grid.

    Each reference voxel is mapped to world millimetres through the reference
    affine and back into ``image`` through the inverse of its affine.

    Parameters
    ----------
    order:
        1 (trilinear) for intensities, 0 (nearest) for label maps.
    fill:
        Value for reference voxels that fall outside ``image``.

    Returns
    -------
    Image
        Same values, modality, units and provenance as ``image``, with
        ``reference``'s affine and grid shape.
    """
    if order not in (0, 1, 3):
        raise ValueError(f"order must be 0, 1 or 3, got {order}")
    if image.axes[0] == "T" or reference.axes[0] == "T":
        raise GeometryError("frame sequences are resampled frame by frame; pass single frames")
    if image.is_volume != reference.is_volume:
        raise GeometryError("cannot resample between a 2D image and a volume; choose a slice of the volume first")
    mapping = index_to_index(image, reference)
    source = _channels_last(image)
    if image.is_volume:
        source_vol = source
        out_shape = reference.grid_shape
        # Array axes are (k, j, i); the affine works on (i, j, k): reverse both.
        matrix = mapping[:3, :3][::-1, ::-1]
        offset = mapping[:3, 3][::-1]
    else:
        source_vol = source
        out_shape = reference.grid_shape[1:]
        matrix = mapping[:2, :2][::-1, ::-1]
        offset = mapping[:2, 3][::-1]
    if np.allclose(matrix, np.eye(len(out_shape))) and np.allclose(offset, 0) and source_vol.shape[:-1] == tuple(out_shape):
        out = source_vol.astype(np.float32, copy=True)
    else:
        channels = [
            ndimage.affine_transform(
                np.ascontiguousarray(source_vol[..., c]),
                matrix,
                offset=offset,
                output_shape=tuple(out_shape),
                output=np.float32,
                order=order,
                mode="constant",
                cval=fill,
                prefilter=order > 1,
            )
            for c in range(source_vol.shape[-1])
        ]
        out = np.stack(channels, axis=-1)
    if not image.has_channels:
        out = out[..., 0]
    axes = ("ZYX" if reference.is_volume else "YX") + ("C" if image.has_channels else "")
    return replace(image, pixels=out, axes=axes, affine=reference.affine.copy(), meta=dict(image.meta))


def resize_to_shape(image: Image, shape: tuple[int, int], *, order: int = 1) -> Image:
    """Resize a 2D image to ``(rows, cols)``, smoothing first when shrinking.

    The result takes an affine whose spacing is scaled so that it still
    covers the same physical field of view.
    """
    rows, cols = image.pixels.shape[:2]
    factors = (shape[0] / rows, shape[1] / cols)
    source = _channels_last(image)
    channels = []
    for c in range(source.shape[-1]):
        plane = source[..., c].astype(np.float32)
        if order > 0 and min(factors) < 1:
            sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
            plane = ndimage.gaussian_filter(plane, sigma)
        zoomed = ndimage.zoom(plane, factors, order=order, mode="nearest", grid_mode=True, output=np.float32)
        channels.append(zoomed[: shape[0], : shape[1]])
    out = np.stack(channels, axis=-1)
    if not image.has_channels:
        out = out[..., 0]
    affine = image.affine.copy()
    affine[:3, 0] /= factors[1]
    affine[:3, 1] /= factors[0]
    return replace(image, pixels=out, affine=affine, meta=dict(image.meta))


def world_bounds(image: Image) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned world bounding box (min, max) of the voxel centres, in mm."""
    nz, ny, nx = image.grid_shape
    corners = np.array(
        [[i, j, k, 1.0] for i in (0, nx - 1) for j in (0, ny - 1) for k in (0, nz - 1)]
    )
    world = (image.affine @ corners.T)[:3].T
    return world.min(axis=0), world.max(axis=0)


def overlap_fraction(a: Image, b: Image) -> float:
    """Fraction of ``a``'s voxels whose centres lie inside ``b``'s grid (sampled)."""
    nz, ny, nx = a.grid_shape
    steps = [max(1, n // 16) for n in (nx, ny, nz)]
    grid = np.mgrid[0:nx:steps[0], 0:ny:steps[1], 0:nz:steps[2]].reshape(3, -1)
    points = np.vstack([grid, np.ones(grid.shape[1])])
    in_b = index_to_index(b, a) @ points
    bz, by, bx = b.grid_shape
    tol = 0.5
    inside = (
        (in_b[0] >= -tol) & (in_b[0] <= bx - 1 + tol)
        & (in_b[1] >= -tol) & (in_b[1] <= by - 1 + tol)
        & (in_b[2] >= -tol) & (in_b[2] <= bz - 1 + tol)
    )
    return float(inside.mean())
