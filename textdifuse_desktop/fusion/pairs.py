"""Matching folders of source pairs by file name (torch-free).

``ir/00001.png`` pairs with ``vi/00001.png`` (or ``vi/00001.jpg``): the match
is on the file *stem* (``.nii.gz`` counts as one suffix).  A folder holding
DICOM files is a series, not a folder of pairs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from textdifuse_desktop._typing import PathLike

log = logging.getLogger(__name__)

#: Suffixes of files that can be one member of a pair (2D images, volumes, videos).
PAIR_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp",
    ".nii", ".nii.gz", ".nrrd", ".mha", ".mhd",
    ".mp4", ".avi", ".mov", ".mkv",
)


def split_suffix(path: Path) -> tuple[str, str]:
    """``(stem, suffix)`` with double suffixes such as ``.nii.gz`` kept together."""
    name = path.name
    lower = name.lower()
    for suffix in sorted(PAIR_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)], lower[-len(suffix):]
    return path.stem, path.suffix.lower()


def _candidates(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        stem, suffix = split_suffix(path)
        if suffix in PAIR_SUFFIXES and stem not in found:
            found[stem] = path
    return found


def _has_dicom(folder: Path) -> bool:
    for path in folder.iterdir():
        if path.suffix.lower() == ".dcm" or path.name == "DICOMDIR":
            return True
    return False


def match_pairs(folder_a: PathLike, folder_b: PathLike) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Pairs ``(stem, path_a, path_b)`` of files with the same stem, sorted by stem.

    Returns the pairs and a list of warnings about files without a partner.
    """
    a, b = _candidates(Path(folder_a)), _candidates(Path(folder_b))
    common = sorted(set(a) & set(b))
    warnings = []
    for name, only in (("A", set(a) - set(b)), ("B", set(b) - set(a))):
        if only:
            listed = ", ".join(sorted(only)[:5]) + (" ..." if len(only) > 5 else "")
            warnings.append(f"{len(only)} file(s) only in folder {name} were skipped: {listed}")
    return [(stem, a[stem], b[stem]) for stem in common], warnings


def is_pair_folder(folder_a: PathLike, folder_b: PathLike) -> bool:
    """True when both are folders of image files (not DICOM series) sharing at least one stem."""
    a, b = Path(folder_a), Path(folder_b)
    if not (a.is_dir() and b.is_dir()) or _has_dicom(a) or _has_dicom(b):
        return False
    return bool(set(_candidates(a)) & set(_candidates(b)))
