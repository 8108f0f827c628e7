"""DICOM plane geometry: positions, slice sorting along the normal, spacing checks, affines.

DICOM coordinates are LPS millimetres.  ``ImageOrientationPatient`` holds the
direction of a *row* (the direction of increasing column index) and then of a
*column* (increasing row index); ``PixelSpacing`` is ``(row spacing, column
spacing)``, i.e. (distance between rows, distance between columns).  Slices
are sorted by their position projected on the slice normal, never by file
name or instance number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from textdifuse_desktop.imaging.image import LPS_TO_RAS
from textdifuse_desktop.io.readers.dicom_files import first_value, functional_group

log = logging.getLogger(__name__)

#: Relative tolerance on slice steps before a spacing warning is raised.
SPACING_TOLERANCE = 0.05


@dataclass(frozen=True)
class PlaneGeometry:
    """Where one 2D frame lies in patient space (LPS mm)."""

    position: np.ndarray
    row_dir: np.ndarray
    col_dir: np.ndarray
    spacing: tuple[float, float]
    thickness: float | None = None

    @property
    def normal(self) -> np.ndarray:
        """Unit slice normal ``row_dir x col_dir``."""
        normal = np.cross(self.row_dir, self.col_dir)
        return normal / (np.linalg.norm(normal) or 1.0)

    def same_orientation(self, other: PlaneGeometry, tol: float = 1e-3) -> bool:
        """True when both planes have the same orientation and pixel spacing."""
        return bool(
            np.allclose(self.row_dir, other.row_dir, atol=tol)
            and np.allclose(self.col_dir, other.col_dir, atol=tol)
            and np.allclose(self.spacing, other.spacing, rtol=1e-3)
        )


def _vector(value: Any, length: int) -> np.ndarray | None:
    try:
        array = np.asarray([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if array.shape != (length,) or not np.all(np.isfinite(array)):
        return None
    return array


def _plane(position: Any, orientation: Any, spacing: Any, thickness: Any) -> PlaneGeometry | None:
    pos = _vector(position, 3) if position is not None else None
    ori = _vector(orientation, 6) if orientation is not None else None
    if pos is None or ori is None:
        return None
    row_dir, col_dir = ori[:3], ori[3:]
    if np.linalg.norm(row_dir) < 1e-6 or np.linalg.norm(col_dir) < 1e-6:
        return None
    row_dir, col_dir = row_dir / np.linalg.norm(row_dir), col_dir / np.linalg.norm(col_dir)
    pix = _vector(spacing, 2) if spacing is not None else None
    if pix is None or np.any(pix <= 0):
        pix = np.array([1.0, 1.0])
    return PlaneGeometry(pos, row_dir, col_dir, (float(pix[0]), float(pix[1])), first_value(thickness))


def pixel_spacing(ds: Any) -> tuple[float, float] | None:
    """``PixelSpacing`` (or the imager/scanned spacing of projection images), or None."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        value = _vector(ds.get(keyword), 2) if keyword in ds else None
        if value is not None and np.all(value > 0):
            return float(value[0]), float(value[1])
    return None


def plane_from_dataset(ds: Any) -> PlaneGeometry | None:
    """Geometry of a single-frame image from its top-level tags, or None when absent."""
    return _plane(
        ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient"), pixel_spacing(ds), ds.get("SliceThickness")
    )


def planes_from_multiframe(ds: Any, n_frames: int) -> list[PlaneGeometry] | None:
    """Per-frame geometry of a multi-frame object, or None when frames have no positions.

    Handles enhanced objects (Plane Position / Plane Orientation / Pixel
    Measures functional groups), RT Dose (``GridFrameOffsetVector``) and
    NM/legacy multi-frame volumes (one position plus ``SpacingBetweenSlices``).
    """
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        planes = []
        for frame in range(n_frames):
            position = functional_group(ds, frame, "PlanePositionSequence")
            orientation = functional_group(ds, frame, "PlaneOrientationSequence")
            measures = functional_group(ds, frame, "PixelMeasuresSequence")
            plane = _plane(
                position.get("ImagePositionPatient") if position is not None else None,
                orientation.get("ImageOrientationPatient") if orientation is not None else None,
                measures.get("PixelSpacing") if measures is not None else None,
                measures.get("SliceThickness") if measures is not None else None,
            )
            if plane is None:
                return None
            planes.append(plane)
        return planes
    source = ds
    if "ImagePositionPatient" not in ds and ds.get("DetectorInformationSequence"):
        source = ds.DetectorInformationSequence[0]
    base = _plane(
        source.get("ImagePositionPatient"),
        source.get("ImageOrientationPatient"),
        pixel_spacing(ds),
        ds.get("SliceThickness"),
    )
    if base is None:
        return None
    offsets = _vector(ds.get("GridFrameOffsetVector"), n_frames) if "GridFrameOffsetVector" in ds else None
    if offsets is None:
        step = first_value(ds.get("SpacingBetweenSlices")) or base.thickness
        if not step:
            return None
        offsets = np.arange(n_frames, dtype=np.float64) * step
    return [
        PlaneGeometry(base.position + off * base.normal, base.row_dir, base.col_dir, base.spacing, base.thickness)
        for off in offsets
    ]


def distances_along_normal(planes: list[PlaneGeometry]) -> np.ndarray:
    """Signed distance of each plane's position along the first plane's normal (IPP . n)."""
    normal = planes[0].normal
    return np.array([float(np.dot(plane.position, normal)) for plane in planes])


def analyse_spacing(distances: np.ndarray, nominal: float | None = None) -> tuple[float, list[str]]:
    """Slice step (median of sorted differences) and warnings about gaps or irregular spacing.

    ``distances`` must be sorted ascending and free of duplicates.
    """
    warnings: list[str] = []
    if distances.size < 2:
        return (nominal or 1.0), warnings
    steps = np.diff(distances)
    step = float(np.median(steps))
    if step <= 0:
        return (nominal or 1.0), ["slice positions are not distinct"]
    tol = max(0.01, SPACING_TOLERANCE * step)
    gaps = [(i, s) for i, s in enumerate(steps) if s > 1.5 * step]
    for i, s in gaps:
        missing = int(round(s / step)) - 1
        warnings.append(
            f"gap in the series: about {missing} missing slice(s) between slices {i} and {i + 1} "
            f"({s:.2f} mm apart instead of {step:.2f} mm); positions past the gap are approximate"
        )
    irregular = [s for i, s in enumerate(steps) if abs(s - step) > tol and all(i != g for g, _ in gaps)]
    if irregular:
        warnings.append(
            f"inconsistent slice spacing: {len(irregular)} step(s) differ from {step:.3f} mm "
            f"(range {steps.min():.3f}..{steps.max():.3f} mm); using {step:.3f} mm"
        )
    return step, warnings


def affine_lps(plane: PlaneGeometry, slice_vector: np.ndarray) -> np.ndarray:
    """Affine (col, row, slice) -> LPS mm for a stack starting at ``plane``."""
    affine = np.eye(4)
    affine[:3, 0] = plane.row_dir * plane.spacing[1]
    affine[:3, 1] = plane.col_dir * plane.spacing[0]
    affine[:3, 2] = slice_vector
    affine[:3, 3] = plane.position
    return affine


def stack_affine(sorted_planes: list[PlaneGeometry], step: float) -> tuple[np.ndarray, list[str]]:
    """RAS affine of planes sorted along the normal, and a warning if the stack is sheared.

    The slice axis follows the line through the first and last positions
    (so a gantry tilt gives a sheared affine), scaled so its component
    along the normal equals ``step``.
    """
    first = sorted_planes[0]
    warnings: list[str] = []
    slice_vector = first.normal * step
    if len(sorted_planes) > 1:
        delta = sorted_planes[-1].position - first.position
        along = float(np.dot(delta, first.normal))
        lateral = float(np.linalg.norm(delta - along * first.normal))
        # Rounded positions give tiny lateral offsets; only a real tilt moves slices by half a pixel.
        if abs(along) > 1e-6 and lateral > 0.5 * min(first.spacing):
            slice_vector = delta / along * step
            angle = float(np.degrees(np.arctan2(lateral, abs(along))))
            warnings.append(f"slices are sheared by {angle:.1f} degrees (gantry tilt); affine kept sheared")
    return LPS_TO_RAS @ affine_lps(first, slice_vector), warnings


def single_affine(plane: PlaneGeometry | None, spacing: tuple[float, float] | None = None) -> np.ndarray:
    """RAS affine of one plane (slice step = thickness or 1 mm); pixel-spacing-only without a plane."""
    if plane is None:
        affine = np.eye(4)
        if spacing is not None:
            affine[0, 0], affine[1, 1] = spacing[1], spacing[0]
        return affine
    return LPS_TO_RAS @ affine_lps(plane, plane.normal * (plane.thickness or 1.0))
