"""Reader options shared by the commands that read sources (``info``, ``convert``, ``fuse``)."""

from __future__ import annotations

import argparse
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
