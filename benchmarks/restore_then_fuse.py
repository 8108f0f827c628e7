#!/usr/bin/env python
"""Restore-then-fuse baseline: restore each source with well-kept libraries, then fuse with the guided filter.

    .venv/bin/python benchmarks/restore_then_fuse.py A_DIR B_DIR -o OUT_DIR --modality-a ir --modality-b vis
    [--save-restored DIR]  (also writes the restored sources, DIR/a and DIR/b, for inspection)

The pipeline baseline of issue 14: every pair of files with the same stem in A_DIR and B_DIR is read with
the project's readers, each source is restored on its own, and the restored sources are fused exactly as
``textdifuse fuse --method guided`` does (``imaging.align.align_pair``, ``fusion.engine.fuse`` with
``FusionParams(method="guided")``, ``io.writers.write_image``): luma fused by the GFF rule of
``fusion/classical.py``, chroma of the colour source put back, so colour inputs give colour results.
Outputs are written as PNG with the stem of the pair (``OUT_DIR/<stem>.png``), like ``textdifuse fuse``
on folders, so that ``textdifuse evaluate`` can score them next to the other methods.

Restoration works on the source's luma in [0, 1] (the project's display window, full 0..255 for 8-bit
files; colour sources are split into full-range BT.601 Y/CbCr with ``imaging.color`` and only Y is
restored, the chroma is kept, which matches ``textdifuse degrade``, which degrades the luma only).
Every step is decided from the image itself; the degradation plan is never read.  The modality only
selects which corrections make physical sense (exposure correction is for visible-light photographs).
In this order:

1. **Impulses** (salt-and-pepper): pixels at the ends of the range (<= 1/255 or >= 254/255) that differ
   by more than 0.25 from every one of their 8 neighbours are replaced by their 3x3 median
   (``scipy.ndimage``).  Thin real structures (one-pixel lines, small bright dots) have a neighbour like
   them and stay.  Done only when at least max(4, 2e-5 x pixels) such pixels are found (clean Harvard
   MRI-CT test images have 0-2, salt-and-pepper IR frames hundreds).
2. **Stripes** (fixed-pattern column or row offsets of uncooled IR sensors), before BM3D so that it then
   sees white noise only.  Detection: the median over the lines of the along-line second difference
   ``x[c] - (x[c-1] + x[c+1]) / 2`` keeps offsets that are constant along the lines and ignores content
   (edges do not run through the whole image); its std / sqrt(1.5) is the offset level, compared with
   max(2.5/255, 3x what white noise alone leaves in a median over the lines, ``1.25 * sigma / sqrt(lines)``).
   Removal (simple column-mean destriping, robust form): subtract the median over the lines of
   ``x - gaussian_filter1d(x, 20 px, along the line)``; only the smooth low-frequency part of the offsets
   stays.  Clean Harvard / RoadScene images measure <= 1.1/255, striped ones 8-26/255.
3. **Noise**: ``bm3d.bm3d`` (Makinen, Azzari & Foi's BM3D for correlated noise, PyPI ``bm3d``, the
   ``bench`` extra) with the white-noise sigma estimated from the image: the finest diagonal Haar band
   ``HH = (a - b - c + d) / 2`` (white noise keeps its sigma, smooth content cancels, column stripes
   cancel too), its RMS over 16x16-px windows whose pixels are all strictly inside (0, 1) (so that a black
   background, clean or with clipped noise, does not bias it), taken at the 10th percentile over the
   windows (the flattest ones: texture and edges do not count as noise) and divided by that percentile
   of the chi distribution of pure noise; Donoho's global MAD ``median(|HH|) / 0.6745`` (the estimator of
   ``skimage.restoration.estimate_sigma``; scikit-image is not a dependency) when too few windows exist.
   On the Harvard MRI-CT test split it reads the added noise within about 1/255.  Skipped below 4/255:
   clean sources measure 0-3.6/255 (acquisition texture), which is also the project's "clean" bound.
   Signal-dependent (Poisson / low-light) noise is treated as white with that global sigma.
4. **Contrast / exposure**: a global tone curve, the inverse form of the usual degradations (affine
   contrast loss ``a*x + (1-a)*level``, exposure ``gain * x**gamma``), from the 0.5-99.5 % percentiles
   (the project's percentile display window) and the mean of the denoised luma.
   ``ir`` and medical sources: when the percentile span is narrower than 0.75 or its floor above 0.20,
   the window is stretched linearly onto [0, 1] (clean sources span 0.79-1).
   ``vis``: photographs legitimately have lifted blacks (hazy RoadScene frames span 0.55-0.65), so only
   exposure is corrected: mean below 0.25 (low light): stretch, then a gamma (0.3-1) moving the mean to
   0.40; mean above 0.83 (over-exposed): a gamma (1-3) moving it to 0.60.
   CLAHE was not used: neither scikit-image nor OpenCV is installed, and local equalisation rewrites
   clean-looking regions, which the metrics score against the clean sources.  Blur is not undone (no
   deconvolution in this baseline).

Timing (per pair, one process) is printed at the end; BM3D dominates it.  Set ``OMP_NUM_THREADS`` to
limit the BLAS threads.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

log = logging.getLogger("restore_then_fuse")

#: Modality codes of the project's readers for the degradation keys used on the command line.
MODALITY_CODES = {"ir": "IR", "vis": "VIS", "mri": "MR", "ct": "CT", "pet": "PT", "spect": "NM"}

NOISE_SKIP = 4.0 / 255.0  # sigma below which BM3D is skipped
SIGMA_WINDOW, SIGMA_QUANTILE = 8, 0.10  # noise estimation in the flattest Haar windows
STRIPE_MIN = 2.5 / 255.0  # line-offset std below which no destriping is done
STRIPE_SMOOTH = 20.0  # sigma (px) of the along-line smoothing that separates offsets from content
IMPULSE_JUMP = 0.25
IMPULSE_MIN_COUNT, IMPULSE_MIN_FRACTION = 4, 2e-5  # fewer isolated extremes than this: left alone
SPAN_MIN, FLOOR_MAX = 0.75, 0.20  # contrast stretch when the percentile span is narrower / floor higher
DARK, BRIGHT = 0.25, 0.83  # exposure correction thresholds on the mean luma (vis only)
DARK_TARGET, BRIGHT_TARGET = 0.40, 0.60


# ------------------------------------------------------------------ estimators
def estimate_sigma(y: np.ndarray) -> float:
    """White-noise sigma of ``y`` (in [0, 1]) from the finest diagonal Haar band, in its flattest windows.

    ``HH = (a - b - c + d) / 2`` over 2x2 blocks keeps white noise at sigma and cancels smooth content.
    Its RMS over 8x8-coefficient windows (16x16 px) whose pixels are all strictly inside (0, 1) (a black
    background, clean or with clipped noise, would bias it) is taken at the 10th percentile over the
    windows, so that texture and edges do not count as noise, and divided by that percentile of the RMS of
    pure noise (chi distribution, 64 degrees of freedom).  Falls back to Donoho's global MAD
    (``median(|HH|) / 0.6745``, the estimator of ``skimage.restoration.estimate_sigma``) when fewer than
    16 such windows exist.
    """
    from scipy import stats

    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    a, b = y[0:h:2, 0:w:2], y[0:h:2, 1:w:2]
    c, d = y[1:h:2, 0:w:2], y[1:h:2, 1:w:2]
    hh = (a - b - c + d) * 0.5  # orthonormal Haar: white noise keeps its sigma
    lo = np.minimum(np.minimum(a, b), np.minimum(c, d))
    hi = np.maximum(np.maximum(a, b), np.maximum(c, d))
    inside = ((lo > 0.5 / 255.0) & (hi < 254.5 / 255.0)).astype(np.float32)
    window = SIGMA_WINDOW
    full = ndimage.uniform_filter(inside, window, mode="constant") > 1.0 - 1e-4
    if int(full.sum()) >= 16:
        rms = np.sqrt(np.maximum(ndimage.uniform_filter(hh * hh * inside, window, mode="constant")[full], 0.0))
        dof = window * window
        factor = np.sqrt(stats.chi2.ppf(SIGMA_QUANTILE, dof) / dof)
        return float(np.quantile(rms, SIGMA_QUANTILE) / factor)
    values = hh[inside > 0] if inside.sum() >= 64 else hh.ravel()
    return float(np.median(np.abs(values)) / 0.6745)


def remove_impulses(y: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace isolated extreme pixels (salt and pepper) by their 3x3 median; returns (image, count).

    Salt: >= 254/255 while all 8 neighbours are darker by more than 0.25; pepper: <= 1/255 while all 8
    neighbours are brighter by more than 0.25.  One-pixel lines and dots of several pixels (a CT couch
    line, calcifications) have a neighbour like them and stay.
    """
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    salt = (y >= 254.0 / 255.0) & (ndimage.maximum_filter(y, footprint=ring, mode="reflect") < y - IMPULSE_JUMP)
    pepper = (y <= 1.0 / 255.0) & (ndimage.minimum_filter(y, footprint=ring, mode="reflect") > y + IMPULSE_JUMP)
    impulses = salt | pepper
    count = int(impulses.sum())
    if count < max(IMPULSE_MIN_COUNT, IMPULSE_MIN_FRACTION * y.size):
        return y, 0
    median = ndimage.median_filter(y, size=3, mode="reflect")
    return np.where(impulses, median, y).astype(np.float32), count


def stripe_level(y: np.ndarray, axis: int) -> float:
    """Std of the line offsets along ``axis`` (axis=1: one offset per column), from second differences.

    The median over the lines of ``x[c] - (x[c-1] + x[c+1]) / 2`` ignores content (edges do not run
    through the whole image) and keeps offsets constant along the lines; white offsets of std beta give
    a profile of std ``beta * sqrt(1.5)``.
    """
    x = np.moveaxis(y, axis, 1)
    second = x[:, 1:-1] - 0.5 * (x[:, :-2] + x[:, 2:])
    return float(np.std(np.median(second, axis=0)) / np.sqrt(1.5))


def stripe_profile(y: np.ndarray, axis: int) -> np.ndarray:
    """Offsets of the lines along ``axis`` (axis=1: columns): median over them of the along-line high-pass."""
    detail = y - ndimage.gaussian_filter1d(y, STRIPE_SMOOTH, axis=axis, mode="reflect")
    return np.median(detail, axis=1 - axis)


def destripe(y: np.ndarray, sigma: float) -> tuple[np.ndarray, list[str]]:
    """Subtract column (and row) offsets that stand out of the noise; returns (image, notes)."""
    notes = []
    for axis, name in ((1, "columns"), (0, "rows")):
        level = stripe_level(y, axis)
        lines = y.shape[1 - axis]
        if level > max(STRIPE_MIN, 3.0 * 1.25 * sigma / np.sqrt(lines)):
            profile = stripe_profile(y, axis)
            y = (y - (profile[None, :] if axis == 1 else profile[:, None])).astype(np.float32)
            notes.append(f"destriped {name} ({level * 255:.1f}/255)")
    return y, notes


# ------------------------------------------------------------------ restoration of one luma plane
def restore_luma(y: np.ndarray, modality: str) -> tuple[np.ndarray, list[str]]:
    """Restore a luma plane in [0, 1]; returns the restored plane and what was done."""
    import bm3d

    y = np.clip(np.asarray(y, dtype=np.float32), 0.0, 1.0)
    notes: list[str] = []
    y, count = remove_impulses(y)
    if count:
        notes.append(f"{count} impulses")
    sigma = estimate_sigma(y)
    y, stripe_notes = destripe(y, sigma)
    notes += stripe_notes
    if stripe_notes:
        sigma = estimate_sigma(np.clip(y, 0.0, 1.0))
    if sigma >= NOISE_SKIP:
        y = np.asarray(bm3d.bm3d(y.astype(np.float64), sigma), dtype=np.float32)
        notes.append(f"bm3d sigma {sigma * 255:.1f}/255")
    y = np.clip(y, 0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(y, (0.5, 99.5)))
    mean = float(y.mean())
    if modality == "vis":
        # exposure: low light (gain * x**gamma) -> stretch to the percentile window, then a gamma;
        # over-exposure -> a gamma only
        gamma = 1.0
        if 1e-3 < mean < DARK and hi - lo > 1e-3:
            y = np.clip((y - lo) / (hi - lo), 0.0, 1.0)
            notes.append(f"stretch {lo * 255:.0f}..{hi * 255:.0f}")
            mean = float(y.mean())
            if 1e-3 < mean < DARK_TARGET:
                gamma = float(np.clip(np.log(DARK_TARGET) / np.log(mean), 0.3, 1.0))
        elif BRIGHT < mean < 1.0 - 1e-3:
            gamma = float(np.clip(np.log(BRIGHT_TARGET) / np.log(mean), 1.0, 3.0))
        if gamma != 1.0:
            y = np.power(y, np.float32(gamma))
            notes.append(f"gamma {gamma:.2f}")
    elif hi - lo > 1e-3 and (hi - lo < SPAN_MIN or lo > FLOOR_MAX):
        # contrast loss (a * x + (1 - a) * level): linear stretch of the percentile window onto [0, 1]
        y = np.clip((y - lo) / (hi - lo), 0.0, 1.0)
        notes.append(f"stretch {lo * 255:.0f}..{hi * 255:.0f}")
    return y.astype(np.float32), notes


def restore_image(image, modality: str):  # noqa: ANN001, ANN201 - Image in, Image out
    """The source Image restored (pixels 0..255 float32, full window), and the notes."""
    from textdifuse_desktop.imaging.color import is_colour, rgb_to_ycbcr, ycbcr_to_rgb
    from textdifuse_desktop.imaging.intensity import display_window, window_to_unit

    if image.is_volume or image.axes.startswith("T"):
        raise SystemExit("restore_then_fuse.py handles 2D images only")
    unit = window_to_unit(image.pixels, *display_window(image)).astype(np.float32)
    if image.has_channels and unit.shape[-1] >= 3 and is_colour(image):
        ycc = rgb_to_ycbcr(unit[..., :3] * np.float32(255.0))
        y, notes = restore_luma(ycc[..., 0] / np.float32(255.0), modality)
        ycc[..., 0] = y * np.float32(255.0)
        pixels, axes = ycbcr_to_rgb(ycc), image.axes
    else:
        grey = unit[..., 0] if image.has_channels else unit
        y, notes = restore_luma(grey, modality)
        pixels = y * np.float32(255.0)
        axes = image.axes[:-1] if image.has_channels else image.axes
    return image.with_pixels(pixels.astype(np.float32), axes=axes, window=(127.5, 255.0)), notes


# ------------------------------------------------------------------ command line
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="folder of source A images")
    parser.add_argument("b", type=Path, help="folder of source B images (same file names)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--modality-a", required=True, choices=sorted(MODALITY_CODES))
    parser.add_argument("--modality-b", required=True, choices=sorted(MODALITY_CODES))
    parser.add_argument("--save-restored", type=Path, default=None,
                        help="also write the restored sources to DIR/a and DIR/b")
    parser.add_argument("--quiet", action="store_true", help="no per-pair lines")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from textdifuse_desktop.fusion.engine import fuse
    from textdifuse_desktop.fusion.pairs import match_pairs
    from textdifuse_desktop.fusion.request import FusionParams, FusionRequest
    from textdifuse_desktop.imaging.align import align_pair
    from textdifuse_desktop.io import read_image
    from textdifuse_desktop.io.writers import write_image

    pairs, notes = match_pairs(args.a, args.b)
    for note in notes:
        log.warning(note)
    if not pairs:
        print(f"error: no pairs of files with the same name in {args.a} and {args.b}", file=sys.stderr)
        return 3
    args.output.mkdir(parents=True, exist_ok=True)
    params = FusionParams(method="guided")
    restore_s = fuse_s = 0.0
    started = time.perf_counter()
    for stem, path_a, path_b in pairs:
        a, b = read_image(path_a), read_image(path_b)
        t0 = time.perf_counter()
        ra, notes_a = restore_image(a, args.modality_a)
        rb, notes_b = restore_image(b, args.modality_b)
        t1 = time.perf_counter()
        ra, rb, _ = align_pair(ra, rb)
        result = fuse(FusionRequest(ra, rb, params))
        fuse_s += time.perf_counter() - t1
        restore_s += t1 - t0
        write_image(result.image, args.output / f"{stem}.png", format="png", inputs=[path_a, path_b],
                    reference=ra, description="restore-then-fuse baseline (bm3d + tone curve, guided filter)")
        if args.save_restored is not None:
            for side, image, source in (("a", ra, path_a), ("b", rb, path_b)):
                folder = args.save_restored / side
                folder.mkdir(parents=True, exist_ok=True)
                write_image(image, folder / f"{stem}.png", format="png", inputs=[source])
        if not args.quiet:
            print(f"{stem}: A[{', '.join(notes_a) or 'as is'}] B[{', '.join(notes_b) or 'as is'}]  "
                  f"{t1 - t0:.2f} s restore", file=sys.stderr)
    total = time.perf_counter() - started
    n = len(pairs)
    print(f"restore_then_fuse: {n} pairs in {total:.1f} s ({total / n:.2f} s/pair: restore "
          f"{restore_s / n:.2f}, fuse {fuse_s / n:.3f}) -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
