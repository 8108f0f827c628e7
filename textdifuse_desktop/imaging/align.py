"""Put the two sources of a fusion on one grid.

Source A is the reference: its grid (usually the finer anatomy, MRI or the
infrared frame) defines the fused result.  Volumes are resampled through their
affines; 2D pairs of different size are resized with a warning (2D files carry
no trustworthy geometry); pairs with no spatial overlap raise
:class:`~textdifuse_desktop.errors.GeometryError`.
"""

from __future__ import annotations

import logging

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.resample import (
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
