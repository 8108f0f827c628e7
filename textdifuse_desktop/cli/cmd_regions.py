"""``textdifuse regions A B --propose hot|uptake [--prompt ...] -o regions/``: regions for inspection.

Writes the region set into the output folder (``regions.json`` plus one mask
per region, the layout ``fuse``, the GUI and session files read) and
``overlay.png``: the regions drawn on source A (for a volume, on the slice
where they are largest).  Prints one line per region.  torch is imported
only for ``--prompt``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.cli.region_args import add_region_arguments

log = logging.getLogger(__name__)

OVERLAY_NAME = "overlay.png"
OVERLAY_ALPHA = 0.45


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``regions`` sub-command."""
    parser = subparsers.add_parser(
        "regions",
        help="propose regions (hot objects, high uptake, text prompts) and save them for inspection",
        description="Find regions on an aligned pair - weight-free proposals (--propose hot|uptake) and/or "
        "text prompts (--prompt: a word list without a model, or CLIP) - and save them (masks + regions.json) with an "
        "overlay PNG on source A. Use the folder in the GUI or to check what `fuse --propose` would modulate.",
    )
    parser.add_argument("a", type=Path, help="source A (e.g. infrared or MRI)")
    parser.add_argument("b", type=Path, help="source B (e.g. visible or PET/SPECT/CT)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--register", action="store_true", help="rigidly register B to A first")
    parser.add_argument("--frame", type=int, default=None, help="frame of a 4D NIfTI or video to use")
    parser.add_argument("--series-uid", default=None, help="series to read from a DICOM folder with several")
    parser.add_argument("--device", default="auto", help="device for the CLIP model (default: %(default)s)")
    add_region_arguments(parser, strength_options=True)
    parser.set_defaults(func=run)
    return parser


def overlay_rgb(base: Any, region_set: Any, slice_index: int | None = None) -> np.ndarray:
    """``H x W x 3`` uint8: ``base`` (an Image, shown through its window) with the regions tinted and outlined."""
    from scipy import ndimage

    from textdifuse_desktop.imaging.intensity import to_display_uint8

    pixels = to_display_uint8(base)
    if base.axes.startswith("T"):
        pixels = pixels[0]
    if base.is_volume:
        pixels = pixels[slice_index or 0]
    rgb = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=-1)
    out = rgb[..., :3].astype(np.float32)
    for region in region_set:
        mask = region.mask if region.mask.ndim == 2 else region.mask[slice_index or 0]
        if not mask.any():
            continue
        color = np.asarray(region.color, dtype=np.float32)
        out[mask] = (1.0 - OVERLAY_ALPHA) * out[mask] + OVERLAY_ALPHA * color
        out[mask & ~ndimage.binary_erosion(mask)] = color
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _busiest_slice(region_set: Any) -> int | None:
    if not region_set.is_volume:
        return None
    counts = np.zeros(region_set.shape[0], dtype=np.int64)
    for region in region_set:
        counts += region.mask.reshape(region.mask.shape[0], -1).sum(axis=1)
    return int(np.argmax(counts))


def write_overlay(path: Path, rgb: np.ndarray) -> Path:
    """Write ``rgb`` as a PNG atomically."""
    from PIL import Image as PILImage

    from textdifuse_desktop.io.writers.atomic import atomic_file

    with atomic_file(path) as tmp:
        PILImage.fromarray(rgb, mode="RGB").save(tmp, format="PNG")
    return path


def run(args: argparse.Namespace) -> int:
    """Run ``textdifuse regions``; returns the exit code."""
    from textdifuse_desktop.cli.region_args import build_region_set
    from textdifuse_desktop.errors import ImageDataError, UsageError
    from textdifuse_desktop.imaging.align import align_pair
    from textdifuse_desktop.imaging.image import Image
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.io.writers.dispatch import check_output_folder

    if not args.propose and args.prompt is None:
        raise UsageError("nothing to do", hint="give --propose hot|uptake and/or --prompt TEXT")
    from textdifuse_desktop.cli.region_args import check_region_args

    check_region_args(args)  # kappa, threshold and the prompt text before any reading
    out: Path = args.output
    check_output_folder(out, inputs=[args.a, args.b])  # before reading and proposing
    options: dict[str, Any] = {}
    if args.frame is not None:
        options["frame"] = args.frame
    if args.series_uid:
        options["series_uid"] = args.series_uid
    a, b = read_image(args.a, **options), read_image(args.b, **options)
    if not isinstance(a, Image) or not isinstance(b, Image):
        a = a if isinstance(a, Image) else a.frame(args.frame or 0)
        b = b if isinstance(b, Image) else b.frame(args.frame or 0)
    a, b, _ = align_pair(a, b, register=args.register)
    region_set = build_region_set(args, a, b)
    if len(region_set) == 0:
        raise ImageDataError("no region was found", path=args.a,
                             hint="the object may be absent; lower --min-region or --prompt-threshold, or try the "
                                  "other --region-source")
    region_set.save(out)
    write_overlay(out / OVERLAY_NAME, overlay_rgb(a, region_set, _busiest_slice(region_set)))
    for region in region_set:
        made_by = f"\t{region.provenance}" if region.provenance else ""
        print(f"{region.name}\tsource {region.source}\tkappa {region.kappa:.2f}\t{region.pixel_count} px{made_by}")
    print(out)
    return 0
