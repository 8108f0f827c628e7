"""``textdifuse fuse A B -o OUT``: fuse two images, volumes, videos or folders of pairs.

The diffusion model is used by default (``--method textdifuse``); classical
rules (``max``, ``mean``, ``laplacian``, ``guided``) need no model.  Sources
are put on one grid with :func:`textdifuse_desktop.imaging.align.align_pair`
first.  ``--mask`` favours one source inside a region (kappa, feathered
blend, Eq. 13 of Text-DiFuse).  torch is only imported inside :func:`run`.

Everything that can be checked without computing is checked first: argument
values (exit 2), the output path and format (exit 5), then, once the sources
are read, that they belong to one patient and one frame of reference
(:mod:`textdifuse_desktop.io.patient_identity`, exit 4;
``--allow-different-patients`` fuses them anyway and writes the result
without any patient identity: a new anonymous DICOM study) and, with
``--keep-units``, that their units can be kept.  Fused values are display
intensities in arbitrary units unless ``--keep-units`` maps them back to the
sources' common unit (HU, SUV...).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from textdifuse_desktop.cli._read_options import (
    add_read_arguments,
    add_source_modality_arguments,
    read_options,
    read_source,
)
from textdifuse_desktop.config import DEFAULT_STEPS

log = logging.getLogger(__name__)

METHODS = ("textdifuse", "max", "mean", "laplacian", "guided")
RULES = ("fcm", "max", "add", "mean", "variance")
FORMATS = ("png", "tiff", "nifti", "dicom", "mp4")
FOLDER_SUFFIX = {"png": ".png", "tiff": ".tif", "nifti": ".nii.gz", "dicom": "", "mp4": ".mp4"}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``fuse`` sub-command."""
    parser = subparsers.add_parser(
        "fuse",
        help="fuse two images, volumes, videos or folders of pairs",
        description="Fuse source A and source B into one image (the luminance is fused; colour comes from "
        "the colour source). A and B may be files, DICOM series folders, NIfTI volumes, videos, or two "
        "folders of pairs matched by file name.",
    )
    parser.add_argument("a", type=Path, help="source A (e.g. infrared or MRI)")
    parser.add_argument("b", type=Path, help="source B (e.g. visible or PET/SPECT/CT)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="output file, or folder when A and B are folders of pairs")
    parser.add_argument("--method", choices=METHODS, default="textdifuse", help="fusion method (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="diffusion sampling steps (default: %(default)s)")
    parser.add_argument("--rule", choices=RULES, default="fcm", help="feature fusion rule (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the start noise (default: %(default)s)")
    parser.add_argument("--weights", type=Path, default=None, help="model weights (.safetensors); default: shipped")
    parser.add_argument("--restore", type=float, default=1.0,
                        help="restoration strength 0..1.5: 1 = as shipped (the network's learned restorer: noise, "
                             "stripes, impulses, blur; and its tone correction: contrast, low light, exposure), "
                             "0 = fuse only (default: %(default)s)")
    parser.add_argument("--tile", type=int, default=1536, help="tile size in pixels, 0 = no tiling (default: %(default)s)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="output format (default: from the output suffix; png for folders)")
    parser.add_argument("--mask", type=Path, default=None, help="region mask image (non-zero = inside)")
    parser.add_argument("--kappa", type=float, default=1.5, help="weight of the favoured source in the mask (default: %(default)s)")
    parser.add_argument("--favour", choices=("a", "b"), default="b", help="source favoured inside the mask (default: %(default)s)")
    parser.add_argument("--feather", type=float, default=4.0, help="mask feather sigma in pixels (default: %(default)s)")
    parser.add_argument("--register", action="store_true", help="rigidly register B to A before fusing")
    add_read_arguments(parser, modality=False)
    parser.add_argument("--frame-a", type=int, default=None,
                        help="frame (time point) of source A when it is a 4-D NIfTI or a DICOM series with several "
                             "images per slice position (overrides --frame for A; from 0)")
    parser.add_argument("--frame-b", type=int, default=None, help="the same for source B")
    add_source_modality_arguments(parser)
    parser.add_argument("--deidentify", action="store_true", help="de-identify DICOM outputs")
    parser.add_argument("--allow-different-patients", action="store_true",
                        help="fuse sources of different patients (or frames of reference without --register) "
                             "deliberately; the output then carries no patient identity (new anonymous study)")
    parser.add_argument("--keep-units", action="store_true",
                        help="for two sources of one modality in one unit (HU, SUV, Bq/ml, degC): fuse them "
                             "through one shared window, without the network's tone curves, and write the result in "
                             "that unit (default: arbitrary units, never labelled HU or SUV)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from textdifuse_desktop.cli.region_args import add_region_arguments

    add_region_arguments(parser)  # --propose, --prompt, --clip-checkpoint...
    parser.set_defaults(func=run)
    return parser


def _params(args: argparse.Namespace) -> Any:
    from textdifuse_desktop.errors import UsageError
    from textdifuse_desktop.fusion.request import FusionParams

    try:
        return FusionParams(method=args.method, steps=args.steps, rule=args.rule, device=args.device,
                            seed=args.seed, weights=str(args.weights) if args.weights else None, tile=args.tile,
                            restore=args.restore, tone=not args.keep_units)
    except ValueError as error:
        raise UsageError(str(error), hint="see `textdifuse fuse --help`") from error


def _region_maps(args: argparse.Namespace, a: Any) -> dict[str, Any]:
    """kappa_a / kappa_b / blend_mask from ``--mask`` on A's grid."""
    if args.mask is None:
        return {}
    import numpy as np

    from textdifuse_desktop.errors import ImageDataError
    from textdifuse_desktop.imaging.resample import resample_to, resize_to_shape
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.session.feather import feather_mask

    mask_image = read_image(args.mask)
    if mask_image.has_channels:
        mask_image = mask_image.with_pixels(mask_image.pixels.max(axis=-1), axes=mask_image.axes[:-1])
    if a.is_volume or mask_image.is_volume:
        mask_image = resample_to(mask_image, a, order=0)
    elif mask_image.spatial_shape != a.spatial_shape[:2]:
        log.warning("mask %s resized to the image size %s", mask_image.spatial_shape, a.spatial_shape[:2])
        mask_image = resize_to_shape(mask_image, a.spatial_shape[:2], order=0)
    soft = feather_mask(mask_image.pixels > 0, args.feather)
    if soft is None:
        raise ImageDataError("the mask is empty (no non-zero pixels)", path=args.mask,
                             hint="paint the region in white on black")
    kappa = (1.0 + (float(args.kappa) - 1.0) * soft).astype(np.float32)
    return {f"kappa_{args.favour}": kappa, "blend_mask": soft}


class _Bar:
    """tqdm progress bar on stderr fed with Progress objects."""

    def __init__(self, quiet: bool, desc: str, unit: str = "step"):
        from tqdm import tqdm

        self.bar = tqdm(total=0, desc=desc, unit=unit, file=sys.stderr, disable=quiet, leave=False)

    def __call__(self, progress: Any) -> None:
        if self.bar.total != progress.total:
            self.bar.total = progress.total
        self.bar.n = progress.done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _fuse_images(args: argparse.Namespace, a: Any, b: Any, out: Path, fmt: str | None, quiet: bool,
                 inputs: list[Path]) -> list[Path]:
    from textdifuse_desktop.fusion._sources import restore_units, shared_unit_window
    from textdifuse_desktop.fusion.engine import fuse
    from textdifuse_desktop.fusion.request import FusionRequest
    from textdifuse_desktop.imaging.align import align_pair
    from textdifuse_desktop.io.patient_identity import (
        check_same_patient,
        mixed_patient_output,
        without_identity,
    )
    from textdifuse_desktop.io.writers import write_image

    # Refused before any computation: different patients / frames of reference, incompatible --keep-units.
    check_same_patient(a, b, allow_different=args.allow_different_patients, registered=args.register)
    anonymous = mixed_patient_output(a, b)
    if args.keep_units:
        a, b = shared_unit_window(a, b)
    a, b, _ = align_pair(a, b, register=args.register)  # its warnings are logged
    from textdifuse_desktop.cli.region_args import region_maps_from_args

    maps = region_maps_from_args(args, a, b, base=_region_maps(args, a))
    request = FusionRequest(a, b, _params(args), **maps)
    bar = _Bar(quiet, out.name)
    try:
        result = fuse(request, on_progress=bar)
    finally:
        bar.close()
    image = restore_units(result.image, a, b) if args.keep_units else result.image
    reference = a
    if anonymous:
        log.warning("sources of different patients: the output carries no patient identity (new anonymous study)")
        image, reference = without_identity(image), without_identity(a)
    description = f"Text-DiFuse fusion ({args.method})"
    return list(write_image(image, out, format=fmt, inputs=inputs, reference=reference,
                            deidentify=args.deidentify, description=description))


def _fuse_videos(args: argparse.Namespace, a: Any, b: Any, out: Path, quiet: bool, inputs: list[Path]) -> list[Path]:
    from textdifuse_desktop.fusion.video import run_video_fusion
    from textdifuse_desktop.io.writers import write_video
    from textdifuse_desktop.io.writers.atomic import check_not_input

    if args.mask is not None or getattr(args, "propose", None) or getattr(args, "prompt", None):
        log.warning("--mask/--propose/--prompt are not supported for videos; ignored")
    check_not_input(out, inputs)
    fps = getattr(a, "fps", None) or getattr(b, "fps", None) or 25.0
    bar = _Bar(quiet, out.name, unit="frame")
    try:
        path = write_video(run_video_fusion(a, b, _params(args), on_progress=bar), out, fps=fps)
    finally:
        bar.close()
    return [Path(path)]


def _fuse_one(args: argparse.Namespace, path_a: Path, path_b: Path, out: Path, fmt: str | None,
              quiet: bool) -> list[Path]:
    from textdifuse_desktop.imaging.image import Image

    options = read_options(args)
    a = read_source(path_a, _frame_option(options, args.frame_a), args.modality_a, "a")
    b = read_source(path_b, _frame_option(options, args.frame_b), args.modality_b, "b")
    if isinstance(a, Image) and isinstance(b, Image):
        return _fuse_images(args, a, b, out, fmt, quiet, [path_a, path_b])
    return _fuse_videos(args, a, b, out, quiet, [path_a, path_b])


def _frame_option(options: dict[str, Any], frame: int | None) -> dict[str, Any]:
    return options if frame is None else {**options, "frame": frame}


def _fuse_folders(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from textdifuse_desktop.errors import TextDifuseError, WriteError
    from textdifuse_desktop.fusion.pairs import match_pairs
    from textdifuse_desktop.io.writers.atomic import check_not_input
    from textdifuse_desktop.io.writers.dispatch import check_output, check_output_folder

    check_not_input(args.output, [args.a, args.b])
    out_dir: Path = args.output
    if out_dir.exists() and not out_dir.is_dir():
        raise WriteError("the output must be a folder when A and B are folders", path=out_dir)
    check_output_folder(out_dir)
    fmt = check_output(out_dir / f"probe{FOLDER_SUFFIX[args.format or 'png']}", args.format or "png")
    pairs, notes = match_pairs(args.a, args.b)
    for note in notes:
        log.warning(note)
    exit_code = 0
    for stem, path_a, path_b in tqdm(pairs, desc="pairs", unit="pair", file=sys.stderr, disable=args.quiet):
        try:
            written = _fuse_one(args, path_a, path_b, out_dir / f"{stem}{FOLDER_SUFFIX[fmt]}", fmt, True)
        except TextDifuseError as error:
            print(f"error: {error}", file=sys.stderr)
            exit_code = exit_code or error.exit_code
            continue
        for path in written:
            print(path)
    return exit_code


def _check_arguments(args: argparse.Namespace) -> None:
    """Argument values that argparse cannot check (UsageError, exit 2)."""
    from textdifuse_desktop.errors import UsageError

    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    if not 0.5 <= args.kappa <= 3.0:
        raise UsageError(f"--kappa must be within 0.5..3.0, got {args.kappa}")
    for flag, frame in (("--frame", args.frame), ("--frame-a", args.frame_a), ("--frame-b", args.frame_b)):
        if frame is not None and frame < 0:
            raise UsageError(f"{flag} must be 0 or more (frames are numbered from 0), got {frame}")
    _params(args)  # every FusionParams range (steps, restore, tile, device)
    from textdifuse_desktop.cli.region_args import check_region_args

    check_region_args(args)  # the prompt text too, before any reading


def run(args: argparse.Namespace) -> int:
    """Run ``textdifuse fuse``; returns the exit code."""
    from textdifuse_desktop.fusion.pairs import is_pair_folder
    from textdifuse_desktop.io.writers.dispatch import check_output

    _check_arguments(args)
    if args.a.is_dir() and args.b.is_dir() and is_pair_folder(args.a, args.b):
        return _fuse_folders(args)
    fmt = args.format
    if not _is_video(args.a) and not _is_video(args.b):
        # Fail before the (slow) reading and fusion, not after: unknown suffix, unwritable folder, an input.
        fmt = check_output(args.output, args.format, inputs=[args.a, args.b])
    else:
        check_output(args.output, args.format or "mp4", inputs=[args.a, args.b])
    for path in _fuse_one(args, args.a, args.b, args.output, fmt, args.quiet):
        print(path)
    return 0


def _is_video(path: Path) -> bool:
    from textdifuse_desktop.io.readers.video import VIDEO_SUFFIXES

    return path.suffix.lower() in VIDEO_SUFFIXES
