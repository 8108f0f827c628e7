"""``textdifuse convert``: change the file format of an image, volume or DICOM series.

Examples::

    textdifuse convert ct_series/ -o ct.nii.gz              # DICOM series -> NIfTI
    textdifuse convert t1.nii.gz -o t1_dicom --format dicom  # NIfTI -> DICOM derived series
    textdifuse convert t1.nii.gz -o slices --format png      # volume -> slices/slice_0000.png ...
    textdifuse convert ct_series/ -o anon --format dicom --deidentify
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from textdifuse_desktop.cli._read_options import add_read_arguments, read_options

log = logging.getLogger(__name__)

FORMATS = ("png", "tiff", "nifti", "dicom", "mp4")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``convert`` sub-command."""
    parser = subparsers.add_parser(
        "convert",
        help="convert an image, volume or DICOM series to PNG, TIFF, NIfTI, DICOM or MP4",
        description=(
            "Read SRC (a file or a DICOM folder) and write it as DEST. The format comes from "
            "--format or DEST's suffix (.png .tif .nii .nii.gz .dcm .mp4). Volumes written as PNG "
            "become a folder DEST/slice_0000.png...; DICOM output is a derived series folder "
            "(grey) or a Secondary Capture (colour). Inputs are never overwritten."
        ),
    )
    parser.add_argument("src", metavar="SRC", help="input file or DICOM folder")
    parser.add_argument("-o", "--output", metavar="DEST", required=True, help="output file or folder")
    parser.add_argument("--format", choices=FORMATS, default=None, help="output format (default: from DEST's suffix)")
    parser.add_argument("--deidentify", action="store_true", help="de-identify DICOM output (PS3.15 basic profile)")
    add_read_arguments(parser)
    parser.add_argument("--description", default="", help="series description / NIfTI descrip text")
    parser.add_argument("--tiff-dtype", choices=("float32", "uint16"), default=None, help="TIFF sample type")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(func=run)
    return parser


def _is_video(source: Any) -> bool:
    return hasattr(source, "frame_count") and hasattr(source, "frame")


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` to ``args.output``; returns the exit code."""
    from textdifuse_desktop.errors import WriteError
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.io.writers import write_image, write_video
    from textdifuse_desktop.io.writers.atomic import check_not_input
    from textdifuse_desktop.io.writers.dispatch import check_output

    src = Path(args.src)
    dest = Path(args.output)
    # Unknown suffix or format, unwritable folder, an input as output: refused before reading.
    fmt = check_output(dest, args.format, inputs=[src])
    source = read_image(src, **read_options(args))
    if _is_video(source):
        if fmt != "mp4":
            if args.frame is None:
                raise WriteError(f"a video can only be converted to mp4, or one frame (--frame N) to {fmt}", path=dest)
        else:
            check_not_input(dest, [src])
            frames = (source.frame(i).pixels for i in range(source.frame_count))
            written = [write_video(frames, dest, fps=float(source.fps or 25.0))]
            _report(args, src, written)
            return 0
        source = source.frame(args.frame)
    written = write_image(
        source,
        dest,
        format=fmt,
        inputs=[src],
        reference=source,
        deidentify=args.deidentify,
        description=args.description,
        dtype=args.tiff_dtype,
    )
    if args.deidentify and fmt != "dicom":
        log.warning("--deidentify applies to DICOM output; %s files carry no patient data fields", fmt)
    _report(args, src, written)
    return 0


def _report(args: argparse.Namespace, src: Path, written: list[Path]) -> None:
    if args.quiet:
        return
    if len(written) == 1:
        print(f"{src} -> {written[0]}")
    else:
        print(f"{src} -> {written[0].parent} ({len(written)} files)")
