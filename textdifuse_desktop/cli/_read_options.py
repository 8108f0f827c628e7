"""Reader options shared by the commands that read sources (``info``, ``convert``, ``fuse``), and ``fuse``'s
per-source modality (:func:`add_source_modality_arguments`, :func:`read_source`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_read_arguments(parser: argparse.ArgumentParser, *, modality: bool = True) -> None:
    """``--frame``, ``--series-uid`` and (optionally) ``--modality``."""
    parser.add_argument("--frame", type=int, default=None, help="frame of a 4D NIfTI, multi-page TIFF or video")
    parser.add_argument("--series-uid", default=None, help="series to read from a DICOM folder holding several")
    if modality:
        parser.add_argument("--modality", default=None, help="override the modality (MR, CT, PT, NM, IR, VIS, OT)")


def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword options for :func:`textdifuse_desktop.io.read_image` from the parsed arguments."""
    options: dict[str, Any] = {}
    if getattr(args, "frame", None) is not None:
        options["frame"] = args.frame
    if getattr(args, "series_uid", None):
        options["series_uid"] = args.series_uid
    if getattr(args, "modality", None):
        options["modality"] = args.modality.upper()
    return options


MODALITY_CHOICES = ("IR", "VIS", "MR", "CT", "PT", "NM")


def _modality_code(text: str) -> str:
    """``"mri"`` -> ``"MR"``, ``"pet"`` -> ``"PT"``...: the degradation keys map to the DICOM codes."""
    from textdifuse_desktop.imaging.degrade import MODALITY_ALIASES

    codes = {key: code for code, key in MODALITY_ALIASES.items()}
    return codes.get(text.lower(), text.upper())


def add_source_modality_arguments(parser: argparse.ArgumentParser) -> None:
    """``--modality-a`` and ``--modality-b``: what a source whose file records no modality shows."""
    for side in ("a", "b"):
        parser.add_argument(f"--modality-{side}", type=_modality_code, choices=MODALITY_CHOICES, default=None,
                            help=f"modality of source {side.upper()} ({', '.join(MODALITY_CHOICES)}; ir, vis, mri, "
                                 "ct, pet, spect also work) where its file records none (plain images and NIfTI "
                                 "read as OT); the network's tone correction reads it.  A file's own modality is "
                                 "never overridden: a different value is an error")


def read_source(path: Path, options: dict[str, Any], modality: str | None, side: str) -> Any:
    """``path`` read with ``options``; where its file records no modality (``OT``) and the user named one, read
    again as that modality, as the GUI's Sources panel does (a NIfTI named CT then reads in HU).  A file's own,
    different modality is a UsageError: a clinical label is never silently replaced."""
    from textdifuse_desktop.errors import UsageError
    from textdifuse_desktop.io import read_image

    source = read_image(path, **options)
    recorded = str(getattr(source, "modality", "") or "OT").upper()
    if modality is None or recorded == modality:
        return source
    if recorded != "OT":
        raise UsageError(f"{path} records modality {recorded}; --modality-{side} {modality} contradicts it",
                         hint="leave the option out for files that record a modality")
    return read_image(path, **options, modality=modality)
