"""DICOM reader: single files and folders holding one or more series.

A folder is scanned (recursively) with header-only reads; files are grouped
by ``SeriesInstanceUID`` and the series chosen with ``series_uid=`` (the
CLI's ``--series-uid``; default: the largest, with a warning listing the others).  Inside a series, slices
are sorted by ``ImagePositionPatient . normal``; gaps and irregular spacing
are reported in ``image.meta["warnings"]``.

Options: ``series_uid=``, ``modality=`` (override), ``suv=`` (default True:
PET in Bq/ml is converted to SUVbw when the tags allow it), ``frame=`` (which
image to keep where several share a slice position).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import ReadError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.readers import dicom_files as df
from textdifuse_desktop.io.readers import dicom_geometry as dg
from textdifuse_desktop.io.readers.dicom_image import (
    finish_image,
    frames_per_position,
    order_planes,
    read_dicom_file,
)

log = logging.getLogger(__name__)

#: Folders with more files than this are refused (a whole archive, not a series).
MAX_FOLDER_FILES = 50_000
_SKIP_NAMES = {"DICOMDIR", "LOCKFILE", "VERSION"}


class DicomReader:
    """Reads DICOM files (any transfer syntax pydicom can decode) and series folders."""

    name = "dicom"

    def can_read(self, path: Path) -> bool:
        """Folders, files with a DICOM suffix, or files with the ``DICM`` marker."""
        path = Path(path)
        try:
            return path.is_dir() or (path.is_file() and df.looks_like_dicom(path))
        except OSError:
            return False

    def read(self, path: Path, **options: Any) -> Image:
        """Read a DICOM file or a folder holding a series (see the module docstring for options)."""
        path = Path(path)
        if path.is_dir():
            return read_dicom_folder(path, **options)
        if path.name.upper() == "DICOMDIR":
            raise ReadError("a DICOMDIR is an index, not an image", path=path, hint="open its folder instead")
        return read_dicom_file(path, **options)


def _candidate_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.upper() in _SKIP_NAMES:
                continue
            files.append(Path(root) / name)
            if len(files) > MAX_FOLDER_FILES:
                raise ReadError(
                    f"folder holds more than {MAX_FOLDER_FILES} files",
                    path=folder,
                    hint="open the folder of one series",
                )
    return files


def _scan(folder: Path) -> tuple[list[tuple[Path, Any]], int]:
    """Header-only read of every DICOM image file in ``folder``: ``[(path, header)]`` and a count of skipped files."""
    files = _candidate_files(folder)
    if not files:
        raise ReadError("folder is empty", path=folder, hint="choose a folder that holds DICOM files")
    found: list[tuple[Path, Any]] = []
    skipped = 0
    for file in files:
        if not df.looks_like_dicom(file) or file.stat().st_size == 0:
            skipped += 1
            continue
        try:
            header = df.read_dataset(file, headers_only=True)
        except ReadError as error:
            log.debug("skipping %s: %s", file, error)
            skipped += 1
            continue
        if not df.has_pixels(header):
            skipped += 1
            continue
        found.append((file, header))
    if not found:
        raise ReadError(
            f"no DICOM image files found among {len(files)} file(s)",
            path=folder,
            hint="the folder may hold non-image DICOM objects or other formats",
        )
    return found, skipped


def _describe(uid: str, members: list[tuple[Path, Any]]) -> str:
    header = members[0][1]
    text = f"{uid} ({header.get('Modality', '?')}, {len(members)} file(s)"
    description = str(header.get("SeriesDescription", "") or "").strip()
    return text + (f", '{description}')" if description else ")")


def _choose_series(
    folder: Path, found: list[tuple[Path, Any]], series_uid: str | None
) -> tuple[list[tuple[Path, Any]], list[str]]:
    groups: dict[str, list[tuple[Path, Any]]] = defaultdict(list)
    for file, header in found:
        groups[str(header.get("SeriesInstanceUID", "") or "unknown")].append((file, header))
    if series_uid is not None:
        if str(series_uid) not in groups:
            listing = "; ".join(_describe(uid, members) for uid, members in groups.items())
            raise ReadError(f"series {series_uid} is not in this folder (found: {listing})", path=folder,
                            hint="pass one of these UIDs to --series-uid")
        return groups[str(series_uid)], []
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    warnings = []
    if len(ranked) > 1:
        others = "; ".join(_describe(uid, members) for uid, members in ranked[1:])
        warnings.append(
            f"folder holds {len(ranked)} series; read the largest, {_describe(*ranked[0])}; "
            f"others: {others} (choose one with --series-uid UID)"
        )
    return ranked[0][1], warnings


def read_dicom_folder(folder: Path, **options: Any) -> Image:
    """Read the series chosen in ``folder`` (see :class:`DicomReader`)."""
    found, skipped = _scan(folder)
    members, warnings = _choose_series(folder, found, options.get("series_uid"))
    if len(members) == 1:
        return _with_warnings(read_dicom_file(members[0][0], **options), warnings)
    multi = [(f, h) for f, h in members if df.number_of_frames(h) > 1]
    if multi:
        file = max(multi, key=lambda item: df.number_of_frames(item[1]))[0]
        warnings.append(f"series mixes {len(members)} files of which some are multi-frame; read only {file.name}")
        return _with_warnings(read_dicom_file(file, **options), warnings)
    maybe_planes = [dg.plane_from_dataset(h) for _, h in members]
    planes = [plane for plane in maybe_planes if plane is not None]
    if len(planes) != len(members):
        why = "files have no ImagePositionPatient"
        return _read_frame_stack(members, warnings + [f"{why}; ordered by InstanceNumber as a frame stack"], options)
    stacks: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for index, ((_, header), plane) in enumerate(zip(members, planes)):
        stacks[_stack_key(header, plane)].append(index)
    chosen = max(stacks.values(), key=len)
    if len(chosen) == 1 and len({(h.get("Rows"), h.get("Columns")) for _, h in members}) == 1:
        why = "every file has its own orientation (radial or localizer images)"
        return _read_frame_stack(members, warnings + [f"{why}; ordered by InstanceNumber as a frame stack"], options)
    if len(stacks) > 1:
        warnings.append(
            f"series mixes {len(stacks)} orientations or image sizes; read the largest stack "
            f"({len(chosen)} of {len(members)} files)"
        )
    members = [members[i] for i in chosen]
    stack_planes = [planes[i] for i in chosen]
    distances = dg.distances_along_normal(stack_planes)
    if len(members) > 1 and np.ptp(distances) < 1e-3:
        why = f"all {len(members)} images lie at one position (a time series or repeated acquisition)"
        return _read_frame_stack(
            members, warnings + [f"{why}; ordered by InstanceNumber as a frame stack"], options, plane=stack_planes[0]
        )
    keys = [(_instance_number(h), str(f)) for f, h in members]
    order, distances, dup_warnings = order_planes(stack_planes, keys, int(options.get("frame") or 0))
    step, spacing_warnings = dg.analyse_spacing(distances, stack_planes[0].thickness)
    affine, shear = dg.stack_affine([stack_planes[i] for i in order], step)
    warnings += dup_warnings + spacing_warnings + shear
    ordered = [members[i] for i in order]
    pixels, headers, colour = _load_pixels(ordered)
    axes = "ZYXC" if colour else "ZYX"
    meta = {"slice_positions_mm": [float(d) for d in distances], "skipped_files": skipped}
    frames = frames_per_position(stack_planes, keys)
    if frames > 1:
        meta.update(frame_count=frames, frame=int(options.get("frame") or 0))
    return finish_image(pixels, axes, affine, headers, [str(f) for f, _ in ordered], warnings, options, meta)


def _instance_number(header: Any) -> int:
    try:
        return int(header.get("InstanceNumber", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _load_pixels(ordered: list[tuple[Path, Any]]) -> tuple[np.ndarray, list[Any], bool]:
    """Decode each file's single frame (modality rescale per file) into one float32 stack."""
    pixels: np.ndarray | None = None
    headers = []
    colour = False
    for index, (file, header) in enumerate(ordered):
        ds = df.read_dataset(file)
        frame = df.decode_frames(ds, file)[0]
        if pixels is None:
            colour = frame.ndim == 3
            pixels = np.empty((len(ordered),) + frame.shape, dtype=np.float32)
        if frame.shape != pixels.shape[1:]:
            raise ReadError(
                f"image size {frame.shape} differs from the rest of the series {pixels.shape[1:]}", path=file
            )
        pixels[index] = frame if colour else df.rescale_frame(frame, ds, 0, file)
        headers.append(header)
    assert pixels is not None  # ordered is never empty
    return pixels, headers, colour


def _read_frame_stack(
    members: list[tuple[Path, Any]],
    warnings: list[str],
    options: dict[str, Any],
    plane: dg.PlaneGeometry | None = None,
) -> Image:
    """Files that do not form a volume: a ``TYX`` frame stack ordered by InstanceNumber."""
    ordered = sorted(members, key=lambda item: (_instance_number(item[1]), str(item[0])))
    pixels, headers, colour = _load_pixels(ordered)
    affine = dg.single_affine(plane, dg.pixel_spacing(headers[0]))
    paths = [str(f) for f, _ in ordered]
    return finish_image(pixels, "TYXC" if colour else "TYX", affine, headers, paths, warnings, options)


def _stack_key(header: Any, plane: dg.PlaneGeometry) -> tuple[Any, ...]:
    """Files that can share a volume have the same size, orientation and pixel spacing."""
    orientation = np.round(np.concatenate([plane.row_dir, plane.col_dir]), 3)
    return (
        int(header.get("Rows", 0)),
        int(header.get("Columns", 0)),
        tuple(orientation),
        tuple(np.round(plane.spacing, 4)),
    )


def _with_warnings(image: Image, warnings: list[str]) -> Image:
    if warnings:
        for warning in warnings:
            log.warning("%s", warning)
        image.meta["warnings"] = list(warnings) + list(image.meta.get("warnings", []))
    return image
