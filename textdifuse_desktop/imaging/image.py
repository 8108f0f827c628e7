"""The one image/volume type of the package.

Conventions (kept everywhere in the package):

* **Pixels** are ``float32`` numpy arrays.  ``axes`` names the array axes:
  ``"YX"`` (2D grey), ``"YXC"`` (2D colour, C = 3 for RGB), ``"ZYX"``
  (volume: slice, row, column), ``"ZYXC"``, ``"TYX"`` / ``"TYXC"`` (frames).
* **World space is RAS+ in millimetres** (NIfTI/nibabel convention): +x Right,
  +y Anterior, +z Superior.  DICOM's LPS coordinates are converted on read
  and back on write with :data:`LPS_TO_RAS`.
* **The affine maps voxel indices ``(i, j, k, 1)`` = (column, row, slice)**
  to world millimetres, i.e. index order is the *reverse* of the array's
  ``Z, Y, X`` axes (as in ITK/SimpleITK).  ``pixels[k, j, i]`` lies at
  ``affine @ (i, j, k, 1)``.  For 2D images ``k = 0``.
* 2D images without geometry (PNG, video frames) get the identity affine
  (1 mm spacing), so that index and world coordinates coincide.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ImageDataError

#: Flip between DICOM LPS and NIfTI RAS world coordinates (its own inverse).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

VALID_AXES = ("YX", "YXC", "ZYX", "ZYXC", "TYX", "TYXC")

#: Modality codes: DICOM's where one exists, plus IR (thermal) and VIS.
MODALITIES = ("MR", "CT", "PT", "NM", "IR", "VIS", "OT", "SEG")


@dataclass(frozen=True)
class Provenance:
    """Where an image came from.

    ``dicom_headers`` holds pixel-free pydicom datasets of the source
    instances (one per slice, in slice order) when the source was DICOM, so
    that writers can derive a series from them; it is typed ``Any`` because
    the imaging core never imports pydicom.
    """

    source_paths: tuple[str, ...] = ()
    reader: str = ""
    study_uid: str | None = None
    series_uid: str | None = None
    frame_of_reference_uid: str | None = None
    sop_instance_uids: tuple[str, ...] = ()
    dicom_headers: tuple[Any, ...] = ()
    description: str = ""


@dataclass
class Image:
    """A 2D image, a volume, or a stack of frames, with geometry and meaning.

    Attributes
    ----------
    pixels:
        float32 array laid out as ``axes`` says.
    axes:
        One of :data:`VALID_AXES`.
    affine:
        4x4 float64 map from ``(col, row, slice, 1)`` to RAS millimetres.
    modality:
        One of :data:`MODALITIES`.
    units:
        Physical unit of the values: ``"HU"``, ``"SUV"``, ``"Bq/ml"``,
        ``"degC"`` or ``""`` (arbitrary).
    window:
        Default display window as ``(center, width)`` in ``units``, or None
        (then a percentile window is used).
    provenance:
        Source files and DICOM identifiers.
    meta:
        Free-form extras (e.g. ``"suv_factor"``, ``"temperature_scale"``,
        ``"warnings"`` list).
    """

    pixels: np.ndarray
    axes: str = "YX"
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    modality: str = "OT"
    units: str = ""
    window: tuple[float, float] | None = None
    provenance: Provenance = field(default_factory=Provenance)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.axes not in VALID_AXES:
            raise ImageDataError(f"axes must be one of {VALID_AXES}, got {self.axes!r}")
        pixels = np.asarray(self.pixels)
        if pixels.dtype != np.float32:
            pixels = pixels.astype(np.float32)
        if pixels.ndim != len(self.axes):
            raise ImageDataError(f"pixels have {pixels.ndim} dimensions but axes are {self.axes!r}")
        if pixels.size == 0:
            raise ImageDataError("image has no pixels")
        self.pixels = pixels
        affine = np.asarray(self.affine, dtype=np.float64)
        if affine.shape != (4, 4):
            raise ImageDataError(f"affine must be 4x4, got shape {affine.shape}")
        self.affine = affine

    # ------------------------------------------------------------------ shape
    @property
    def is_volume(self) -> bool:
        """True for ``ZYX``/``ZYXC`` data."""
        return self.axes.startswith("Z")

    @property
    def has_channels(self) -> bool:
        """True when the last axis holds colour channels."""
        return self.axes.endswith("C")

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape without the channel axis (and with frames, if any)."""
        return self.pixels.shape[:-1] if self.has_channels else self.pixels.shape

    @property
    def grid_shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)`` of the spatial grid; 1 slice for 2D images and frames."""
        shape = self.spatial_shape
        if self.is_volume:
            return (shape[0], shape[1], shape[2])
        return (1, shape[-2], shape[-1])

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along (column, row, slice), derived from the affine."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(norms[0]), float(norms[1]), float(norms[2]))

    @property
    def orientation(self) -> str:
        """Three-letter RAS axis code (nibabel style, e.g. ``"LPS"`` for a DICOM axial)."""
        labels = (("L", "R"), ("P", "A"), ("I", "S"))
        code = ""
        for column in self.affine[:3, :3].T:
            axis = int(np.argmax(np.abs(column)))
            code += labels[axis][1] if column[axis] > 0 else labels[axis][0]
        return code

    def with_pixels(self, pixels: np.ndarray, axes: str | None = None, **changes: Any) -> Image:
        """A copy with new pixels (and optionally other fields), same geometry."""
        return replace(self, pixels=pixels, axes=axes or self.axes, meta=dict(self.meta), **changes)

    def value_range(self) -> tuple[float, float]:
        """Finite minimum and maximum of the pixels (NaN-safe)."""
        if self.pixels.size:
            low, high = self.pixels.min(), self.pixels.max()  # no copy; NaN or inf make them non-finite
            if np.isfinite(low) and np.isfinite(high):
                return (float(low), float(high))
        finite = self.pixels[np.isfinite(self.pixels)]
        if finite.size == 0:
            return (float("nan"), float("nan"))
        return (float(finite.min()), float(finite.max()))

    def __repr__(self) -> str:
        return (
            f"Image(axes={self.axes!r}, shape={self.pixels.shape}, modality={self.modality!r}, "
            f"units={self.units!r}, spacing={tuple(round(s, 4) for s in self.spacing)}, "
            f"orientation={self.orientation!r})"
        )


def affine_from_spacing(spacing: tuple[float, ...] = (1.0, 1.0, 1.0), origin: tuple[float, ...] = (0, 0, 0)) -> np.ndarray:
    """Axis-aligned affine with the given (col, row, slice) spacing and origin."""
    affine = np.eye(4)
    spacing = tuple(spacing) + (1.0,) * (3 - len(spacing))
    affine[:3, :3] = np.diag(spacing[:3])
    affine[:3, 3] = tuple(origin) + (0.0,) * (3 - len(origin))
    return affine


def tone_corrections(record: dict[str, Any] | None) -> dict[str, list[dict[str, float]]]:
    """The tone corrections of a fusion record (``meta["fusion"]["tone_curves"]``) that changed values, by source
    (``"a"``/``"b"``); empty when the network left both sources' tones as they were."""
    changed: dict[str, list[dict[str, float]]] = {}
    for side, curves in ((record or {}).get("tone_curves") or {}).items():
        kept = [c for c in curves if c.get("weight", 1.0) > 1e-3 and (abs(c["offset"]) > 1e-3
                or abs(c["gain"] - 1) > 1e-3 or abs(c["power"] - 1) > 1e-3)]
        if kept:
            changed[side] = kept
    return changed
