"""Saving, loading and exporting region sets.

Layout of a saved set (a folder, or the ``regions/`` part of a session file)::

    regions.json          schema_version, shape, affine, one entry per region
    mask_000.png          2D masks: 8-bit PNG, 255 = inside
    mask_001.nii.gz       3D masks: uint8 NIfTI with the source image's affine

Exports to other tools go through :mod:`textdifuse_desktop.io.writers`:
:func:`export_seg` (DICOM SEG) and :func:`export_label_nifti` (label map).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import (
    FeatureUnavailableError,
    ImageDataError,
    SessionError,
)
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers.atomic import atomic_file, write_error
from textdifuse_desktop.session.region import ORIGINS, Region, check_source, clamp_kappa
from textdifuse_desktop.session.regions import RegionSet

log = logging.getLogger(__name__)

REGIONS_SCHEMA_VERSION = 1
INDEX_NAME = "regions.json"
_MASK_PREFIX = "mask_"


# ------------------------------------------------------------------ encoding
def _mask_to_bytes(mask: np.ndarray, affine: np.ndarray) -> tuple[str, bytes]:
    if mask.ndim == 2:
        from PIL import Image as PILImage

        buffer = io.BytesIO()
        PILImage.fromarray(mask.astype(np.uint8) * 255, mode="L").save(buffer, format="PNG", optimize=False)
        return ".png", buffer.getvalue()
    import nibabel as nib

    # NIfTI indexes (i, j, k) = (column, row, slice), the reverse of our (Z, Y, X).
    # The transposed view is Fortran-ordered, which is NIfTI's on-disk order: no copy.
    nifti = nib.Nifti1Image(mask.view(np.uint8).transpose(2, 1, 0), affine)
    nifti.header.set_xyzt_units("mm")
    return ".nii.gz", gzip.compress(nifti.to_bytes(), compresslevel=1)


def _mask_from_bytes(name: str, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    if name.endswith(".png"):
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(data)) as img:
            mask = np.asarray(img.convert("L")) > 127
    elif name.endswith((".nii.gz", ".nii")):
        import nibabel as nib

        raw = gzip.decompress(data) if name.endswith(".gz") else data
        nifti = nib.Nifti1Image.from_bytes(raw)
        mask = np.asarray(nifti.dataobj).transpose(2, 1, 0).astype(bool)
    else:
        raise ValueError(f"unknown mask format {name!r}")
    if mask.shape != shape:
        raise ValueError(f"mask shape {mask.shape} differs from the region set's {shape}")
    return mask


def regions_to_files(region_set: RegionSet) -> dict[str, bytes]:
    """Encode a region set as ``{file name: content}`` (index first)."""
    entries, files = [], {}
    for i, region in enumerate(region_set):
        suffix, data = _mask_to_bytes(region.mask, region_set.affine)
        mask_name = f"{_MASK_PREFIX}{i:03d}{suffix}"
        files[mask_name] = data
        entries.append({
            "name": region.name, "source": region.source, "kappa": region.kappa, "origin": region.origin,
            "color": list(region.color), "visible": region.visible, "mask": mask_name,
            **({"provenance": region.provenance} if region.provenance else {}),
        })
    index = {
        "schema_version": REGIONS_SCHEMA_VERSION,
        "kind": "textdifuse-regions",
        "shape": list(region_set.shape),
        "affine": np.asarray(region_set.affine).tolist(),
        "regions": entries,
    }
    return {INDEX_NAME: json.dumps(index, indent=2).encode("utf-8"), **files}


def regions_from_files(read: Callable[[str], bytes], where: PathLike) -> RegionSet:
    """Decode a region set; ``read(name)`` returns a file's bytes.

    Raises
    ------
    SessionError
        Naming ``where`` (the folder or session file) when the index or a
        mask is missing, corrupt, or of the wrong shape.
    """
    try:
        index = json.loads(read(INDEX_NAME).decode("utf-8"))
    except (OSError, KeyError) as error:
        raise SessionError(f"no {INDEX_NAME} found", path=where, hint="choose a folder saved by TextDiFuse") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SessionError(f"{INDEX_NAME} is corrupt: {error}", path=where) from error
    version = index.get("schema_version") if isinstance(index, dict) else None
    if not isinstance(version, int) or version > REGIONS_SCHEMA_VERSION:
        raise SessionError(f"unsupported regions schema version {version!r}", path=where,
                           hint="update TextDiFuse Desktop to open regions saved by a newer version")
    try:
        shape = tuple(int(s) for s in index["shape"])
        region_set = RegionSet(shape, affine=np.asarray(index.get("affine", np.eye(4)), dtype=np.float64))
        for entry in index["regions"]:
            mask_name = str(entry["mask"])
            try:
                data = read(mask_name)
            except (OSError, KeyError) as error:
                raise SessionError(f"the mask file {mask_name} is missing", path=where) from error
            origin = entry.get("origin", "brush")
            region_set.append_region(Region(
                name=str(entry["name"]),
                mask=_mask_from_bytes(mask_name, data, shape),
                source=check_source(entry.get("source", "B")),
                kappa=clamp_kappa(entry.get("kappa", 1.5)),
                origin=origin if origin in ORIGINS else "brush",
                color=tuple(int(c) for c in entry.get("color", (255, 0, 0)))[:3],
                visible=bool(entry.get("visible", True)),
                provenance=str(entry.get("provenance", "")),
            ))
    except SessionError:
        raise
    except Exception as error:  # any malformed entry or undecodable mask: one clear message
        raise SessionError(f"the saved regions are corrupt: {error}", path=where) from error
    region_set.clear_history()
    return region_set


# ------------------------------------------------------------------ folders
def save_regions(region_set: RegionSet, folder: PathLike) -> Path:
    """Save ``region_set`` into ``folder`` (created if needed); returns the index path.

    Each file is written atomically; mask files left over from an earlier
    save with more regions are removed.
    """
    folder = Path(folder)
    files = regions_to_files(region_set)
    for name, data in files.items():
        with atomic_file(folder / name) as tmp:
            tmp.write_bytes(data)
    for stale in folder.glob(f"{_MASK_PREFIX}[0-9][0-9][0-9]*"):
        if stale.name not in files:
            try:
                stale.unlink()
            except OSError as error:
                raise write_error(stale, error) from error
    log.info("saved %d regions to %s", len(region_set), folder)
    return folder / INDEX_NAME


def load_regions(folder: PathLike) -> RegionSet:
    """Load a region set saved by :func:`save_regions`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SessionError("the regions folder does not exist", path=folder)
    return regions_from_files(lambda name: (folder / name).read_bytes(), folder)


# ------------------------------------------------------------------ exports
def label_map(region_set: RegionSet) -> np.ndarray:
    """uint16 label array: region ``i`` -> label ``i + 1``; later regions win overlaps."""
    labels = np.zeros(region_set.shape, dtype=np.uint16)
    for i, region in enumerate(region_set):
        labels[region.mask] = i + 1
    return labels


def _non_empty(region_set: RegionSet, reference: Image) -> list[Region]:
    grid = reference.grid_shape
    expected = grid if region_set.is_volume else grid[1:]
    if tuple(region_set.shape) != tuple(expected):
        raise ImageDataError(f"the regions cover a {region_set.shape} grid but the reference image is {expected}",
                             hint="export against the image the regions were drawn on")
    regions = [r for r in region_set if r.mask.any()]
    if not regions:
        raise ImageDataError("there are no painted regions to export", hint="draw a region first")
    return regions


def export_seg(region_set: RegionSet, reference: Image, path: PathLike, *, deidentify: bool = False) -> Path:
    """Write the non-empty regions as a DICOM SEG derived from ``reference``."""
    regions = _non_empty(region_set, reference)
    try:
        from textdifuse_desktop.io.writers import write_seg
    except ImportError as error:
        raise FeatureUnavailableError("DICOM SEG export is not available in this build", path=path) from error
    return write_seg([r.mask for r in regions], [r.name for r in regions], reference, path, deidentify=deidentify)


def export_label_nifti(region_set: RegionSet, reference: Image, path: PathLike) -> Path:
    """Write all regions as one NIfTI label map on ``reference``'s grid."""
    _non_empty(region_set, reference)
    try:
        from textdifuse_desktop.io.writers import write_label_nifti
    except ImportError as error:
        raise FeatureUnavailableError("NIfTI label export is not available in this build", path=path) from error
    return write_label_nifti(label_map(region_set), reference, path)
