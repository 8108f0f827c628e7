"""NIfTI-1/2 reader (``.nii``, ``.nii.gz``) through nibabel.

nibabel's array is indexed ``(i, j, k[, t])``; we transpose to our ``ZYX``
layout (``pixels[k, j, i]``) and keep the affine, which already maps
``(i, j, k)`` to RAS mm.  The affine is nibabel's best one (sform when its
code is set, else qform, else a pixdim-only fallback); ``meta["affine_source"]``
says which.  Data are copied slab by slab through ``img.dataobj`` so that a
large volume is never held in float64.

Options: ``frame=`` (4D files; default 0, with a warning that others exist),
``modality=`` (default ``"OT"``; ``"CT"`` also sets units to HU).
"""

from __future__ import annotations

import logging
import warnings as pywarnings
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ImageDataError, ReadError
from textdifuse_desktop.imaging.image import Image, Provenance

log = logging.getLogger(__name__)

#: Bytes of float64 handled per slab while copying.
_SLAB_BYTES = 64 * 1024 * 1024
#: Volumes above this many voxels (per frame) are refused: 8 GB as float32.
MAX_VOXELS = 2_000_000_000
_UNIT_TO_MM = {"meter": 1000.0, "mm": 1.0, "micron": 0.001}


def _is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


class NiftiReader:
    """Reads 3D and 4D NIfTI volumes."""

    name = "nifti"

    def can_read(self, path: Path) -> bool:
        """Files named ``*.nii`` or ``*.nii.gz``."""
        return _is_nifti(Path(path))

    def read(self, path: Path, **options: Any) -> Image:
        """Read one volume (or one frame of a 4D file) as ``ZYX`` (``YX`` when it has one slice)."""
        import nibabel as nib

        path = Path(path)
        try:
            with pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore")
                img = nib.load(str(path), mmap=True)
        except Exception as error:  # nibabel raises ImageFileError, EOFError, zlib/gzip errors...
            raise ReadError(f"not a readable NIfTI file ({type(error).__name__}: {error})", path=path) from error
        if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
            raise ReadError(f"{type(img).__name__} is not a NIfTI image", path=path)
        warnings: list[str] = []
        shape = tuple(int(s) for s in img.shape)
        while len(shape) > 4 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) < 2 or len(shape) > 4:
            raise ImageDataError(f"unsupported NIfTI dimensionality {img.shape}", path=path, hint="expected 3D or 4D")
        frame_count = shape[3] if len(shape) == 4 else 1
        frame = int(options.get("frame") or 0)
        if not 0 <= frame < frame_count:
            raise ImageDataError(f"frame={frame} is out of range: the file has {frame_count} frame(s)", path=path)
        if frame_count > 1 and options.get("frame") is None:
            warnings.append(f"4D file with {frame_count} frames; read frame 0 (choose with frame=)")
        pixels = _copy_volume(img, path, shape, frame)
        pixels = _clean_non_finite(pixels, path, warnings)
        affine, source = _affine(img, warnings)
        modality = str(options.get("modality") or "OT").upper()
        units = "HU" if modality == "CT" else ""
        meta: dict[str, Any] = {
            "affine_source": source,
            "frame_count": frame_count,
            "frame": frame,
            "nifti_shape": tuple(int(s) for s in img.shape),
            "warnings": warnings,
        }
        description = _description(img)
        if description:
            meta["description"] = description
        for warning in warnings:
            log.warning("%s: %s", path, warning)
        axes = "ZYX"
        if pixels.shape[0] == 1:
            pixels, axes = pixels[0], "YX"
        return Image(
            pixels=pixels,
            axes=axes,
            affine=affine,
            modality=modality,
            units=units,
            window=_window(img),
            meta=meta,
            provenance=Provenance(source_paths=(str(path),), reader=self.name, description=description),
        )


def _copy_volume(img: Any, path: Path, shape: tuple[int, ...], frame: int) -> np.ndarray:
    """``(k, j, i)`` float32 copy of one 3D frame, slab by slab along k."""
    ni, nj = shape[0], shape[1]
    nk = shape[2] if len(shape) >= 3 else 1
    dtype = img.get_data_dtype()
    if dtype.names:  # RGB24 / RGBA32
        raise ImageDataError("colour (RGB) NIfTI files are not supported", path=path, hint="convert to greyscale")
    if ni * nj * nk > MAX_VOXELS:
        raise ImageDataError(
            f"volume of {ni}x{nj}x{nk} voxels is above the {MAX_VOXELS:.0e} voxel limit",
            path=path,
            hint="crop or downsample it first",
        )
    if not path.name.lower().endswith(".gz"):
        needed = int(img.header.get_data_offset()) + int(np.prod(img.shape, dtype=np.int64)) * dtype.itemsize
        if path.stat().st_size < needed:
            raise ReadError(
                f"file is truncated ({path.stat().st_size} bytes, the header announces {needed})", path=path
            )
    out = np.empty((nk, nj, ni), dtype=np.float32)
    try:
        if len(img.shape) <= 3:
            # Native-dtype read, then cast and scale in place in float32: never a float64 copy.
            raw = np.asanyarray(img.dataobj.get_unscaled()).reshape(ni, nj, nk, order="F")
            slope, inter = float(img.dataobj.slope), float(img.dataobj.inter)
            out[...] = raw.T  # casting assignment: no temporary copy
            del raw
            if slope != 1.0:
                out *= np.float32(slope)
            if inter != 0.0:
                out += np.float32(inter)
        else:
            # 4D: slabs of the chosen frame (nibabel scales each slab, in float64 at most 64 MB).
            slab = max(1, _SLAB_BYTES // max(1, ni * nj * 8))
            extra = (0,) * (len(img.shape) - 4)
            for k0 in range(0, nk, slab):
                block = img.dataobj[(slice(None), slice(None), slice(k0, k0 + slab), frame) + extra]
                out[k0 : k0 + slab] = np.asarray(block, dtype=np.float32).T
    except MemoryError as error:
        raise ImageDataError("not enough memory for this volume", path=path) from error
    except Exception as error:  # truncated gzip streams, short files
        raise ReadError(
            f"cannot read the voxel data ({type(error).__name__}: {error})", path=path, hint="the file may be truncated"
        ) from error
    return out


def _clean_non_finite(pixels: np.ndarray, path: Path, warnings: list[str]) -> np.ndarray:
    finite = np.isfinite(pixels)
    if finite.all():
        return pixels
    count = int(pixels.size - np.count_nonzero(finite))
    if count == pixels.size:
        raise ImageDataError("every voxel is NaN or infinite", path=path, hint="the volume holds no data")
    pixels[~finite] = 0.0
    warnings.append(f"{count} NaN/infinite voxel(s) ({100.0 * count / pixels.size:.2f} %) replaced with 0")
    return pixels


def _affine(img: Any, warnings: list[str]) -> tuple[np.ndarray, str]:
    header = img.header
    sform_code = int(header["sform_code"])
    qform_code = int(header["qform_code"])
    if sform_code > 0:
        source = "sform"
        if qform_code > 0 and not np.allclose(header.get_sform(), header.get_qform(), atol=1e-3):
            warnings.append("sform and qform disagree; using the sform")
    elif qform_code > 0:
        source = "qform"
    else:
        source = "fallback"
        warnings.append("no sform/qform in the header; geometry from voxel sizes only (orientation unknown)")
    affine = np.array(img.affine, dtype=np.float64)
    spatial_unit = header.get_xyzt_units()[0]
    scale = _UNIT_TO_MM.get(spatial_unit, 1.0)
    if scale != 1.0:
        affine[:3, :] *= scale
        warnings.append(f"spatial unit is {spatial_unit}; converted to mm")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        warnings.append("the affine is singular; replaced with voxel sizes")
        affine = np.diag(list(header.get_zooms()[:3]) + [1.0])
    return affine, source


def _window(img: Any) -> tuple[float, float] | None:
    low, high = float(img.header["cal_min"]), float(img.header["cal_max"])
    if np.isfinite(low) and np.isfinite(high) and high > low:
        return ((low + high) / 2.0, high - low)
    return None


def _description(img: Any) -> str:
    raw = img.header["descrip"]
    value = raw.item() if hasattr(raw, "item") else raw
    if isinstance(value, bytes):
        value = value.split(b"\x00")[0].decode("latin-1", "replace")
    return str(value).strip()
