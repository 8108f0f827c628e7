"""Put the two sources of a fusion on one grid.

Source A is the reference: its grid (usually the finer anatomy, MRI or the
infrared frame) defines the fused result.  Volumes are resampled through their
affines.  2D DICOM pairs (both with DICOM headers, hence a pixel spacing) are
resampled onto A's physical grid through their affines, never by pixel count:
in one frame of reference by world position, across frames of reference (a
deliberate fusion, see :mod:`textdifuse_desktop.io.patient_identity`) centre on
centre at each image's own pixel spacing; B is smoothed first where it is
finer than A.  Other 2D pairs of different size (PNG, video frames: no
trustworthy geometry) are resized with a warning.  Pairs with no spatial
overlap raise :class:`~textdifuse_desktop.errors.GeometryError`.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.resample import (
    index_to_index,
    overlap_fraction,
    resample_to,
    resize_to_shape,
)

log = logging.getLogger(__name__)

#: Below this fraction of A's voxels covered by B, the pair is refused.
MIN_OVERLAP = 0.05


def _name(image: Image, fallback: str) -> str:
    return image.provenance.source_paths[0] if image.provenance.source_paths else fallback


def align_pair(a: Image, b: Image, *, register: bool = False) -> tuple[Image, Image, list[str]]:
    """Return ``(a, b_on_a_grid, warnings)``.

    Parameters
    ----------
    register:
        For volumes, run a rigid mutual-information registration of B to A
        first (for studies that are not co-registered).

    Raises
    ------
    GeometryError
        One source is 2D and the other a volume, or the volumes do not
        overlap in world space.
    """
    warnings: list[str] = []
    name_a, name_b = _name(a, "source A"), _name(b, "source B")
    if a.axes[0] == "T" or b.axes[0] == "T":
        raise GeometryError("frame sequences are aligned frame by frame; pass single frames", path=name_b)
    if a.is_volume != b.is_volume:
        raise GeometryError(
            f"cannot fuse a {'volume' if a.is_volume else '2D image'} ({name_a}) with a "
            f"{'volume' if b.is_volume else '2D image'}",
            path=name_b,
            hint="open two volumes or two 2D images (export a slice first)",
        )
    if not a.is_volume and _has_pixel_spacing(a) and _has_pixel_spacing(b):
        b = _align_2d_physical(a, b, warnings)
        for message in warnings:
            log.warning(message)
        return a, b, warnings
    if not a.is_volume:
        if a.spatial_shape != b.spatial_shape:
            message = (
                f"B resized from {b.spatial_shape[1]}x{b.spatial_shape[0]} to "
                f"{a.spatial_shape[1]}x{a.spatial_shape[0]} to match A"
            )
            ratio_a = a.spatial_shape[1] / a.spatial_shape[0]
            ratio_b = b.spatial_shape[1] / b.spatial_shape[0]
            if abs(ratio_a / ratio_b - 1.0) > 0.02:
                message += " (aspect ratios differ: check that the images show the same field of view)"
            warnings.append(message)
            log.warning(message)
            b = resize_to_shape(b, a.spatial_shape[:2])
        return a, b.with_pixels(b.pixels, affine=a.affine.copy()), warnings

    if register:
        from textdifuse_desktop.imaging.registration import apply_rigid, register_rigid

        result = register_rigid(a, b)
        b = apply_rigid(b, result)
        warnings.append(
            f"B registered to A: rotation {result.rotation_degrees:.1f} deg, "
            f"translation {result.translation_mm.round(1).tolist()} mm"
        )
    elif (
        a.provenance.frame_of_reference_uid
        and b.provenance.frame_of_reference_uid
        and a.provenance.frame_of_reference_uid != b.provenance.frame_of_reference_uid
    ):
        warnings.append("A and B have different DICOM frames of reference; consider rigid registration")
    overlap = overlap_fraction(a, b)
    if overlap < MIN_OVERLAP:
        raise GeometryError(
            f"no spatial overlap with {name_a} ({overlap:.0%} of A is covered by B)",
            path=name_b,
            hint="check that both volumes are of the same patient and study, or enable registration",
        )
    if overlap < 0.5:
        warnings.append(f"B covers only {overlap:.0%} of A; the rest is filled with zeros")
    for message in warnings:
        log.warning(message)
    return a, resample_to(b, a, order=1), warnings


def _has_pixel_spacing(image: Image) -> bool:
    """A 2D image whose affine comes from DICOM headers that state a pixel spacing.

    DICOM without PixelSpacing (many Secondary Captures, scanned films) has
    no physical scale and is resized like any raster image.
    """
    headers = image.provenance.dicom_headers
    if not headers or image.axes.startswith(("T", "Z")):
        return False
    header = headers[0]
    return any(hasattr(header, keyword) for keyword in
               ("PixelSpacing", "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"))


def _fmt(spacing: tuple[float, ...]) -> str:
    return f"{spacing[0]:.3g} x {spacing[1]:.3g} mm"


def _centred_affine(a: Image, b: Image) -> np.ndarray:
    """B's affine placed on A's plane: A's directions, B's pixel spacing, centre on centre."""
    directions = a.affine[:3, :3] / np.linalg.norm(a.affine[:3, :3], axis=0)
    affine = np.eye(4)
    affine[:3, 0] = directions[:, 0] * b.spacing[0]
    affine[:3, 1] = directions[:, 1] * b.spacing[1]
    affine[:3, 2] = a.affine[:3, 2]
    _, ny_a, nx_a = a.grid_shape
    _, ny_b, nx_b = b.grid_shape
    centre_a = a.affine @ np.array([(nx_a - 1) / 2.0, (ny_a - 1) / 2.0, 0.0, 1.0])
    affine[:3, 3] = centre_a[:3] - affine[:3, :2] @ np.array([(nx_b - 1) / 2.0, (ny_b - 1) / 2.0])
    return affine


def _in_plane(a: Image, b: Image) -> tuple[float, float]:
    """``(fraction of A's pixels inside B in-plane, distance in mm between the planes)``."""
    _, ny, nx = a.grid_shape
    j, i = np.mgrid[0:ny:max(1, ny // 32), 0:nx:max(1, nx // 32)]
    points = np.vstack([i.ravel(), j.ravel(), np.zeros(i.size), np.ones(i.size)])
    in_b = index_to_index(b, a) @ points
    _, by, bx = b.grid_shape
    inside = (in_b[0] >= -0.5) & (in_b[0] <= bx - 0.5) & (in_b[1] >= -0.5) & (in_b[1] <= by - 0.5)
    distance = float(np.abs(in_b[2]).mean() * b.spacing[2])
    return float(inside.mean()), distance


def _antialiased(b: Image, a: Image) -> Image:
    """B smoothed along each axis where its pixels are finer than A's (no aliasing when shrinking)."""
    ratios = (a.spacing[1] / b.spacing[1], a.spacing[0] / b.spacing[0])  # rows, columns
    sigmas = [0.45 * r if r > 1.2 else 0.0 for r in ratios]
    if not any(sigmas):
        return b
    if b.has_channels:
        sigmas.append(0.0)
    return b.with_pixels(ndimage.gaussian_filter(b.pixels, sigmas).astype(np.float32))


def _align_2d_physical(a: Image, b: Image, warnings: list[str]) -> Image:
    """B resampled onto A's 2D grid by physical position or, across frames of reference, by spacing."""
    frame_a, frame_b = a.provenance.frame_of_reference_uid, b.provenance.frame_of_reference_uid
    same_frame = bool(frame_a) and frame_a == frame_b
    placed = b if same_frame else b.with_pixels(b.pixels, affine=_centred_affine(a, b))
    if not same_frame:
        warnings.append(
            f"B placed centre on centre at its own pixel spacing ({_fmt(b.spacing)}) on A's grid "
            f"({_fmt(a.spacing)}): the images have no common frame of reference"
        )
    elif not np.allclose(a.spacing[:2], b.spacing[:2], rtol=1e-3):
        warnings.append(f"B resampled from {_fmt(b.spacing)} to A's pixel spacing {_fmt(a.spacing)}")
    overlap, distance = _in_plane(a, placed)
    if overlap < MIN_OVERLAP:
        raise GeometryError(
            f"no spatial overlap with {_name(a, 'source A')} ({overlap:.0%} of A is covered by B)",
            path=_name(b, "source B"),
            hint="check that both images are of the same patient and study",
        )
    if overlap < 0.5:
        warnings.append(f"B covers only {overlap:.0%} of A; the rest is filled with zeros")
    if same_frame and distance > max(a.spacing[2], b.spacing[2], 1.0):
        warnings.append(f"A and B are {distance:.1f} mm apart along the slice normal")
    return resample_to(_antialiased(placed, a), a, order=1)
