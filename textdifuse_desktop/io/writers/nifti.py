"""NIfTI-1 writer (``.nii`` / ``.nii.gz``) with the image's RAS affine.

Our arrays are ``[z, y, x]`` with the affine indexed ``(x, y, z)`` =
(column, row, slice); nibabel's arrays are indexed ``[i, j, k]`` in the same
order as the affine, so the data is transposed on the way out.  Both the
qform and the sform hold the affine with code 1 (scanner-anatomical) when
the image came from a scanner (has a frame of reference) and 2 (aligned)
otherwise.  Grey data is float32 (values kept exactly); RGB becomes the
NIfTI ``RGB24`` type through the 8-bit display mapping.  Frames (``TYX``)
become a 4D image with one slice.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from textdifuse_desktop.errors import GeometryError, WriteError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers._mapping import to_uint8
from textdifuse_desktop.io.writers.atomic import atomic_file

log = logging.getLogger(__name__)

_RGB24 = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])


def _to_ijk(image: Image) -> np.ndarray:
    """Reorder the pixel array to nibabel's (i, j, k[, t]) order."""
    if image.has_channels:
        if image.pixels.shape[-1] != 3:
            raise WriteError(f"NIfTI colour output needs 3 channels, got {image.pixels.shape[-1]}")
        packed = np.ascontiguousarray(to_uint8(image)).view(_RGB24)[..., 0]
        data = packed
    else:
        data = image.pixels.astype(np.float32)
    if image.axes in ("YX", "YXC"):
        return np.ascontiguousarray(data.T)[:, :, None]
    if image.axes in ("ZYX", "ZYXC"):
        return np.ascontiguousarray(data.transpose(2, 1, 0))
    # TYX: (t, y, x) -> (x, y, 1, t)
    return np.ascontiguousarray(data.transpose(2, 1, 0))[:, :, None, :]


def header_description(image: Image, extra: str = "") -> str:
    """Up to 79 ASCII characters for the NIfTI ``descrip`` field."""
    parts = ["TextDiFuse", f"modality={image.modality}"]
    if image.units:
        parts.append(f"units={image.units}")
    if extra:
        parts.append(extra)
    return " ".join(parts).encode("ascii", "replace").decode("ascii")[:79]


def write_nifti(image: Image, path: Path, *, description: str = "") -> list[Path]:
    """Write ``image`` to ``path`` (``.nii`` or ``.nii.gz``) with its affine."""
    import nibabel as nib

    affine = image.affine
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise GeometryError("the image affine is singular or not finite; cannot write NIfTI geometry")
    data = _to_ijk(image)
    nifti = nib.Nifti1Image(data, affine)
    header = nifti.header
    code = 1 if image.provenance.frame_of_reference_uid else 2
    nifti.set_qform(affine, code=code)
    nifti.set_sform(affine, code=code)
    header.set_xyzt_units(xyz="mm", t="sec")
    header["descrip"] = header_description(image, description)
    if image.window is not None and data.dtype == np.float32:
        center, width = image.window
        header["cal_min"], header["cal_max"] = center - width / 2.0, center + width / 2.0
    if image.axes.startswith("T") and "fps" in image.meta:
        zooms = list(header.get_zooms())
        zooms[3] = 1.0 / float(image.meta["fps"])
        header.set_zooms(zooms)
    qform = nifti.get_qform()
    if not np.allclose(qform, affine, atol=1e-4):
        # qform cannot hold shears; the sform is exact, tell the user which to trust.
        log.warning("%s: affine has shear; the qform is approximate, the sform is exact", path)
    with atomic_file(path) as tmp:
        nib.save(nifti, str(tmp))
    return [path]


def write_label_nifti(label_map: np.ndarray, reference: Image, path: Path) -> Path:
    """Write an integer label map on ``reference``'s grid as a NIfTI (uint8/int16).

    ``label_map`` has ``reference``'s spatial shape (``[y, x]`` or
    ``[z, y, x]``); 0 is background.
    """
    import nibabel as nib

    labels = np.asarray(label_map)
    expected = reference.spatial_shape if reference.axes in ("YX", "YXC", "ZYX", "ZYXC") else None
    if expected is None or labels.shape != tuple(expected):
        raise GeometryError(
            f"label map shape {labels.shape} differs from the reference grid {expected}",
            path=path,
        )
    if labels.dtype.kind == "b":
        labels = labels.astype(np.uint8)
    if labels.dtype.kind not in "iu" and not np.all(labels == np.rint(labels)):
        raise WriteError("label map must hold integers", path=path)
    dtype = np.uint8 if labels.min() >= 0 and labels.max() <= 255 else np.int16
    data = labels.astype(dtype)
    data = data.T[:, :, None] if data.ndim == 2 else data.transpose(2, 1, 0)
    nifti = nib.Nifti1Image(np.ascontiguousarray(data), reference.affine)
    code = 1 if reference.provenance.frame_of_reference_uid else 2
    nifti.set_qform(reference.affine, code=code)
    nifti.set_sform(reference.affine, code=code)
    nifti.header.set_xyzt_units(xyz="mm")
    nifti.header.set_intent("label")
    nifti.header["descrip"] = b"TextDiFuse label map"
    with atomic_file(path) as tmp:
        nib.save(nifti, str(tmp))
    return path
