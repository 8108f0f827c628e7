"""``textdifuse info PATH...``: what the readers see in each file or DICOM folder."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from textdifuse_desktop.cli._read_options import add_read_arguments, read_options
from textdifuse_desktop.errors import TextDifuseError

_KINDS = {
    "YX": "2D image",
    "YXC": "2D image (colour)",
    "ZYX": "volume",
    "ZYXC": "volume (colour)",
    "TYX": "frames",
    "TYXC": "frames (colour)",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``info`` sub-command."""
    parser = subparsers.add_parser(
        "info",
        help="describe images, volumes, DICOM folders and videos",
        description="Print what the readers see: kind, modality, shape, spacing, orientation, value range, "
        "units, SUV/temperature availability and warnings.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="file or DICOM folder")
    add_read_arguments(parser)
    parser.add_argument("--no-suv", action="store_true", help="keep PET in Bq/ml")
    parser.add_argument(
        "--temperature-scale",
        nargs=2,
        type=float,
        metavar=("GAIN", "OFFSET"),
        help="radiometric thermal image: degC = value * GAIN + OFFSET",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per path")
    parser.set_defaults(func=run)
    return parser


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options = read_options(args)
    if args.no_suv:
        options["suv"] = False
    if args.temperature_scale:
        options["temperature_scale"] = tuple(args.temperature_scale)
    return options


def describe(obj: Any) -> dict[str, Any]:
    """A plain-dict summary of an Image or a VideoSequence (what ``info`` prints)."""
    if hasattr(obj, "frame_count") and hasattr(obj, "fps"):
        return {
            "path": str(obj.path),
            "kind": "video",
            "modality": obj.modality,
            "frames": obj.frame_count,
            "fps": round(obj.fps, 3),
            "frame_shape": list(obj.frame_shape),
            "channels": "grey" if obj.is_grey else "RGB",
            "duration_s": round(obj.frame_count / obj.fps, 3) if obj.fps else None,
            "warnings": [],
        }
    low, high = obj.value_range()
    info: dict[str, Any] = {
        "path": obj.provenance.source_paths[0]
        if len(obj.provenance.source_paths) == 1
        else str(Path(obj.provenance.source_paths[0]).parent)
        if obj.provenance.source_paths
        else "",
        "source": obj.provenance.source_paths[0] if len(obj.provenance.source_paths) == 1 else "",
        "kind": _KINDS.get(obj.axes, obj.axes),
        "reader": obj.provenance.reader,
        "modality": obj.modality,
        "axes": obj.axes,
        "shape": list(obj.pixels.shape),
        "spacing_xyz_mm": [round(s, 4) for s in obj.spacing],
        "orientation": obj.orientation,
        "value_range": [round(low, 4), round(high, 4)],
        "units": obj.units or "(arbitrary)",
        "window": [round(v, 3) for v in obj.window] if obj.window else None,
    }
    if len(obj.provenance.source_paths) > 1:
        info["files"] = len(obj.provenance.source_paths)
    if obj.provenance.series_uid:
        info["series_uid"] = obj.provenance.series_uid
    if obj.provenance.description:
        info["description"] = obj.provenance.description
    if obj.modality == "PT" or "suv_factor" in obj.meta or "suv_unavailable" in obj.meta:
        info["suv"] = _suv_text(obj)
    if obj.modality == "IR" or obj.units == "degC":
        scale = obj.meta.get("temperature_scale")
        info["temperature"] = (
            f"yes (degC = value * {scale[0]:g} + {scale[1]:g})"
            if scale
            else "no (pass --temperature-scale GAIN OFFSET or a <name>.json sidecar)"
        )
    for key in ("frame_count", "affine_source"):
        if key in obj.meta:
            info[key] = obj.meta[key]
    info["warnings"] = list(obj.meta.get("warnings", []))
    return info


def _suv_text(image: Any) -> str:
    factor = image.meta.get("suv_factor")
    if isinstance(factor, list):
        factor_text = f"per-slice factors {min(factor):.6g}..{max(factor):.6g} g/Bq"
    elif factor is not None:
        factor_text = f"factor {factor:.6g} g/Bq"
    if image.units == "SUV":
        return f"yes, values are SUVbw ({factor_text})"
    if factor is not None:
        return f"available ({factor_text}) but not applied: {image.meta.get('suv_unavailable', '')}"
    return "no: " + str(image.meta.get("suv_unavailable", "not a PET image in Bq/ml"))


def _print_text(info: dict[str, Any]) -> None:
    print(info["path"])
    for key, value in info.items():
        if key in ("path", "warnings"):
            continue
        if isinstance(value, list):
            value = (
                " x ".join(str(v) for v in value)
                if key in ("shape", "spacing_xyz_mm", "frame_shape")
                else " .. ".join(str(v) for v in value)
                if key == "value_range"
                else ", ".join(str(v) for v in value)
            )
        print(f"  {key:<16} {value}")
    for warning in info.get("warnings", []):
        print(f"  warning          {warning}")


def run(args: argparse.Namespace) -> int:
    """Describe every path; an unreadable path prints one error line and makes the exit code non-zero."""
    from textdifuse_desktop.io import read_image

    options = _options(args)
    exit_code = 0
    io_logger = logging.getLogger("textdifuse_desktop.io")
    previous_level = io_logger.level
    if not getattr(args, "debug", False):
        io_logger.setLevel(logging.ERROR)  # reader warnings are printed below; do not echo them twice
    try:
        for path in args.paths:
            exit_code = _info_one(path, read_image, options, args) or exit_code
    finally:
        io_logger.setLevel(previous_level)
    return exit_code


def _info_one(path: str, read_image: Any, options: dict[str, Any], args: argparse.Namespace) -> int:
    """Print one path's description; returns 0, or the error's exit code after one error line."""
    try:
        obj = read_image(path, **options)
        try:
            info = describe(obj)
        finally:
            if hasattr(obj, "close"):
                obj.close()
    except TextDifuseError as error:
        if getattr(args, "debug", False):
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    info["path"] = str(path)
    if info.get("source") in ("", str(path)):
        info.pop("source")
    if args.json:
        print(json.dumps(info, default=str))
    else:
        _print_text(info)
    return 0
