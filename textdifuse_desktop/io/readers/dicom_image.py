"""Turn decoded DICOM frames into an :class:`Image`: single files, multi-frame objects, and the shared finishing step.

The finishing step (:func:`finish_image`) sets modality, units (HU for CT;
Bq/ml or SUV for PET), the display window, provenance (pixel-free headers in
slice order) and the warnings, for both single files and folder series.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ReadError
from textdifuse_desktop.imaging.image import Image, Provenance
from textdifuse_desktop.io.readers import dicom_files as df
from textdifuse_desktop.io.readers import dicom_geometry as dg
from textdifuse_desktop.io.readers.pet_suv import suv_factors

log = logging.getLogger(__name__)

_MODALITY_MAP = {"MR": "MR", "CT": "CT", "PT": "PT", "NM": "NM", "SEG": "SEG"}


def order_planes(
    planes: list[dg.PlaneGeometry], keys: list[Any], pick: int = 0
) -> tuple[list[int], np.ndarray, list[str]]:
    """Indices of ``planes`` sorted along the normal, one per position.

    When several planes share a position (echoes, phases, time points), the
    ``pick``-th of each position (ordered by ``keys``) is kept and a warning
    says so.  Returns ``(indices, distances, warnings)``.
    """
    if pick < 0:
        raise ReadError(f"frame={pick} is out of range: frames are numbered from 0")
    distances, groups = _position_groups(planes, keys)
    warnings: list[str] = []
    counts = {len(group) for group in groups}
    if counts != {1}:
        per = max(counts)
        if pick >= min(counts):
            raise ReadError(f"frame={pick} is out of range: some positions hold only {min(counts)} image(s)")
        warnings.append(
            f"the series holds up to {per} images per slice position (echoes, phases or time points); "
            f"reading number {pick} of each (choose with frame=)"
        )
    chosen = [group[pick] if len(group) > pick else group[0] for group in groups]
    return chosen, distances[chosen], warnings


def _position_groups(planes: list[dg.PlaneGeometry], keys: list[Any]) -> tuple[np.ndarray, list[list[int]]]:
    """Distances along the normal, and the plane indices grouped by slice position (ordered by ``keys``)."""
    distances = dg.distances_along_normal(planes)
    order = sorted(range(len(planes)), key=lambda i: (distances[i], keys[i]))
    groups: list[list[int]] = []
    tol = 1e-3 * max(1.0, float(np.ptp(distances)) / max(len(planes), 1))
    for index in order:
        if groups and abs(distances[index] - distances[groups[-1][0]]) <= max(tol, 1e-4):
            groups[-1].append(index)
        else:
            groups.append([index])
    return distances, groups


def frames_per_position(planes: list[dg.PlaneGeometry], keys: list[Any]) -> int:
    """How many images (time points, phases, echoes) every slice position holds: the frames ``frame=`` chooses."""
    _, groups = _position_groups(planes, keys)
    return min(len(group) for group in groups) if groups else 1


def read_dicom_file(path: Path, **options: Any) -> Image:
    """Read one DICOM file: a single image, an (enhanced) multi-frame volume, or a frame stack."""
    ds = df.read_dataset(path)
    frames = df.decode_frames(ds, path)
    colour = frames.ndim == 4
    n = frames.shape[0]
    warnings: list[str] = []
    time_points = 1  # images (time points, phases, echoes) per slice position
    if n == 1:
        plane = dg.plane_from_dataset(ds)
        if plane is None and "SharedFunctionalGroupsSequence" in ds:
            planes = dg.planes_from_multiframe(ds, 1)
            plane = planes[0] if planes else None
        pixels = frames[0].astype(np.float32) if colour else df.rescale_frame(frames[0], ds, 0, path)
        affine = dg.single_affine(plane, dg.pixel_spacing(ds))
        axes = "YXC" if colour else "YX"
        order = [0]
    else:
        planes = dg.planes_from_multiframe(ds, n)
        if planes and all(p.same_orientation(planes[0]) for p in planes):
            order, distances, warnings = order_planes(planes, list(range(n)), int(options.get("frame") or 0))
            time_points = frames_per_position(planes, list(range(n)))
            step, spacing_warnings = dg.analyse_spacing(distances, planes[0].thickness)
            affine, shear = dg.stack_affine([planes[i] for i in order], step)
            warnings += spacing_warnings + shear
            axes = "ZYXC" if colour else "ZYX"
        else:
            warnings.append(
                "frames have different orientations; kept as a frame stack"
                if planes
                else "frames carry no slice positions; kept as a frame stack (TYX)"
            )
            order = list(range(n))
            affine = dg.single_affine(dg.plane_from_dataset(ds), dg.pixel_spacing(ds))
            axes = "TYXC" if colour else "TYX"
        pixels = np.empty((len(order),) + frames.shape[1:], dtype=np.float32)
        for out_index, frame in enumerate(order):
            pixels[out_index] = frames[frame] if colour else df.rescale_frame(frames[frame], ds, frame, path)
    del frames
    header = df.strip_pixels(ds)
    meta: dict[str, Any] = {"frame_order": order} if n > 1 else {}
    if time_points > 1:
        meta.update(frame_count=time_points, frame=int(options.get("frame") or 0))
    return finish_image(pixels, axes, affine, [header], [str(path)], warnings, options, meta)


def _modality(header: Any, override: str | None) -> str:
    if override:
        return str(override).upper()
    return _MODALITY_MAP.get(str(header.get("Modality", "")).upper(), "OT")


def finish_image(
    pixels: np.ndarray,
    axes: str,
    affine: np.ndarray,
    headers: list[Any],
    paths: list[str],
    warnings: list[str],
    options: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> Image:
    """Units, SUV, window, provenance and warnings for decoded DICOM pixels (slice order)."""
    first = headers[0]
    meta = dict(meta or {})
    warnings = list(warnings)
    modality = _modality(first, options.get("modality"))
    dicom_modality = str(first.get("Modality", "")).upper()
    window = _window(first)
    units = ""
    if dicom_modality == "CT" and axes in ("YX", "ZYX", "TYX"):
        units = "HU"
    elif dicom_modality == "PT":
        units, scale = _pet_units(pixels, axes, headers, options, meta, warnings)
        if window is not None and scale is not None:
            window = (window[0] * scale, window[1] * scale)
    photometric = str(first.get("PhotometricInterpretation", "")).strip()
    if photometric == "MONOCHROME1" and not units:
        low, high = float(pixels.min()), float(pixels.max())
        pixels = (low + high) - pixels
        if window is not None:
            window = (low + high - window[0], window[1])
        meta["inverted_monochrome1"] = True
    syntax = getattr(getattr(first, "file_meta", None), "TransferSyntaxUID", None)
    meta.update(
        dicom_modality=dicom_modality,
        photometric=photometric,
        transfer_syntax=getattr(syntax, "name", str(syntax or "")),
        warnings=warnings,
    )
    for warning in warnings:
        log.warning("%s: %s", paths[0] if len(paths) == 1 else Path(paths[0]).parent, warning)
    provenance = Provenance(
        source_paths=tuple(paths),
        reader="dicom",
        study_uid=_uid(first, "StudyInstanceUID"),
        series_uid=_uid(first, "SeriesInstanceUID"),
        frame_of_reference_uid=_uid(first, "FrameOfReferenceUID"),
        sop_instance_uids=tuple(str(h.get("SOPInstanceUID", "")) for h in headers),
        dicom_headers=tuple(headers),
        description=str(first.get("SeriesDescription", "") or ""),
    )
    return Image(
        pixels=pixels,
        axes=axes,
        affine=affine,
        modality=modality,
        units=units,
        window=window,
        provenance=provenance,
        meta=meta,
    )


def _uid(ds: Any, keyword: str) -> str | None:
    value = ds.get(keyword)
    return str(value) if value else None


def _window(ds: Any) -> tuple[float, float] | None:
    center, width = df.first_value(ds.get("WindowCenter")), df.first_value(ds.get("WindowWidth"))
    if center is None or width is None or width <= 0:
        return None
    return (center, width)


def _pet_units(
    pixels: np.ndarray,
    axes: str,
    headers: list[Any],
    options: dict[str, Any],
    meta: dict[str, Any],
    warnings: list[str],
) -> tuple[str, float | None]:
    """Convert PET pixels to SUV in place when possible; returns (units, window scale)."""
    units_tag = str(headers[0].get("Units", "") or "").strip().upper()
    units = "Bq/ml" if units_tag == "BQML" else ("SUV" if units_tag == "GML" else "")
    result = suv_factors(headers)
    warnings.extend(result.warnings)
    meta["suv_details"] = result.details
    if not result.available:
        meta["suv_unavailable"] = result.reason
        warnings.append(f"SUV not available: {result.reason}; values kept in {units or 'raw units'}")
        return units, None
    if units_tag == "GML":
        meta["suv_factor"] = 1.0
        return "SUV", None
    factors = np.asarray(result.factors, dtype=np.float64)
    if len(factors) > 1 and not np.allclose(factors, factors[0], rtol=1e-9):
        meta["suv_factor"] = [float(f) for f in factors]
    else:
        meta["suv_factor"] = float(factors[0])
    if options.get("suv", True) is False:
        meta["suv_unavailable"] = "SUV conversion switched off (suv=False)"
        return units, None
    if axes.startswith("Z") and len(factors) == pixels.shape[0]:
        pixels *= factors.astype(np.float32)[:, None, None]
    else:
        pixels *= np.float32(factors[0])
    return "SUV", float(factors.mean())
