"""``textdifuse degrade``: write a synthetically degraded copy of a folder of images.

Each image gets its own plan drawn from a generator seeded with
``(seed, crc32(file name))``, so a file's result does not depend on which
other files are in the folder.  Grey images are degraded directly; colour
images have their luma (BT.601 Y) degraded and their chroma kept, matching
the model, which restores Y only.  Bit depth is kept (8 or 16 bit); JPEG
outputs are re-encoded at quality 95.  ``degradations.json`` in the output
folder lists the op records of every file.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
RECORD_NAME = "degradations.json"
#: Same as ``imaging.degrade.MODALITIES`` (kept here so building the parser stays cheap).
MODALITIES = ("ir", "vis", "mri", "pet", "ct", "spect")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Create the ``degrade`` sub-parser."""
    parser = subparsers.add_parser(
        "degrade",
        help="write a synthetically degraded copy of a folder of images",
        description=(
            "Apply 1..MAX_OPS random degradations valid for the modality (noise, blur, exposure, stripes, "
            "low contrast; see imaging/degrade.py) to every image of SRC_DIR and write the results under the "
            "same names to DST_DIR, with degradations.json recording each file's ops and parameters.  "
            "Colour images are degraded in luma only.  SRC_DIR is never written to."
        ),
    )
    parser.add_argument("src_dir", type=Path, metavar="SRC_DIR", help="folder of PNG/JPEG/BMP/TIFF images")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="DST_DIR", help="output folder")
    parser.add_argument("--modality", required=True, choices=MODALITIES, help="degradation model to use")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--max-ops", type=int, default=3, help="most degradations per image (default 3)")
    parser.add_argument("--p-clean", type=float, default=0.0,
                        help="probability of leaving an image clean (default 0: degrade every image)")
    parser.add_argument("--force", action="store_true", help="replace outputs that already exist in DST_DIR")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Degrade every image of ``args.src_dir``; returns 0."""

    from textdifuse_desktop.errors import (
        OverwriteInputError,
        ReadError,
        UsageError,
        WriteError,
    )
    from textdifuse_desktop.imaging.degrade import degrade, file_rng
    from textdifuse_desktop.io.writers.atomic import atomic_file, check_not_input
    from textdifuse_desktop.io.writers.dispatch import check_output_folder

    src, dst = Path(args.src_dir).expanduser().resolve(), Path(args.output).expanduser().resolve()
    if not src.is_dir():
        raise ReadError("is not a folder", path=args.src_dir, hint="pass a folder of images")
    if dst == src or src in dst.parents:
        raise OverwriteInputError("refusing to write into the source folder", path=args.output,
                                  hint="choose an output folder outside SRC_DIR")
    if args.max_ops < 1:
        raise UsageError(f"--max-ops must be at least 1, got {args.max_ops}")
    check_output_folder(dst)  # an unwritable output is refused before any image is degraded
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise ReadError("holds no PNG/JPEG/BMP/TIFF images", path=src, hint=f"supported: {', '.join(SUFFIXES)}")
    targets = [dst / f.name for f in files] + [dst / RECORD_NAME]
    existing = [t for t in targets if t.exists()]
    if existing and not args.force:
        raise WriteError(f"{len(existing)} output file(s) already exist", path=existing[0],
                         hint="use --force to replace them, or choose an empty output folder")
    records: dict[str, Any] = {}
    for path in files:
        pixels, mode = _read(path)
        rng = file_rng(args.seed, path.name)
        degraded, ops = _degrade_pixels(pixels, args.modality, rng, args.max_ops, args.p_clean, degrade)
        out = dst / path.name
        check_not_input(out, [path])
        with atomic_file(out) as tmp:
            _write(tmp, degraded, mode, path.suffix.lower())
        records[path.name] = ops
        log.info("%s: %s", path.name, ", ".join(op["op"] for op in ops) or "clean")
    summary = {
        "modality": args.modality, "seed": args.seed, "max_ops": args.max_ops, "p_clean": args.p_clean,
        "colour": "luma (BT.601 Y) degraded, chroma kept", "source": str(src), "files": records,
    }
    with atomic_file(dst / RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(f"degraded {len(files)} image(s) into {dst} ({RECORD_NAME} lists the operations)")
    return 0


def _read(path: Path) -> tuple[Any, str]:
    """Pixels scaled to [0, 1] (HxW or HxWxC) and the PIL mode to write back."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    from textdifuse_desktop.errors import ReadError

    try:
        with PILImage.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("P", "CMYK", "YCbCr", "LAB", "HSV"):
                im, mode = im.convert("RGB"), "RGB"
            elif mode in ("LA", "PA", "1"):
                im, mode = im.convert("L"), "L"
            array = np.asarray(im)
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise ReadError(f"cannot read the image: {error}", path=path, hint="check the file, or remove it") from error
    scale = 65535.0 if mode.startswith("I") else 255.0
    if mode == "F":
        raise ReadError("float TIFF images are not supported by degrade", path=path,
                        hint="convert to 8- or 16-bit first")
    return array.astype(np.float32) / scale, mode


def _degrade_pixels(pixels: Any, modality: str, rng: Any, max_ops: int, p_clean: float, degrade: Any) -> tuple[Any, list]:
    import numpy as np

    from textdifuse_desktop.imaging.color import rgb_to_ycbcr, ycbcr_to_rgb

    if pixels.ndim == 2:
        return degrade(pixels, modality, rng, max_ops=max_ops, p_clean=p_clean)
    rgb, alpha = pixels[..., :3], pixels[..., 3:]
    ycc = rgb_to_ycbcr(rgb * 255.0)
    y, ops = degrade(ycc[..., 0] / 255.0, modality, rng, max_ops=max_ops, p_clean=p_clean)
    ycc[..., 0] = y * 255.0
    out = ycbcr_to_rgb(ycc) / 255.0
    return np.concatenate([out, alpha], axis=-1), ops


def _write(tmp: Path, pixels: Any, mode: str, suffix: str) -> None:
    import numpy as np
    from PIL import Image as PILImage

    if mode.startswith("I"):
        data = np.round(np.clip(pixels, 0, 1) * 65535.0).astype(np.uint16)
        image = PILImage.fromarray(data)
    else:
        data = np.round(np.clip(pixels, 0, 1) * 255.0).astype(np.uint8)
        image = PILImage.fromarray(data)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, "PNG")
    image.save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
