"""``textdifuse evaluate``: fusion metrics of folders of fused images, with CSV/Markdown/HTML reports."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Create the ``evaluate`` sub-parser."""
    parser = subparsers.add_parser(
        "evaluate",
        help="compute fusion metrics (EN, SD, SF, AG, MI, SCD, VIF, Qabf, SSIM, CC, PSNR, Nabf) for folders",
        description=(
            "Pair files by name across A_DIR, B_DIR and each FUSED_DIR, compute every metric per image "
            "(Ma-group MATLAB conventions, 2023 version) and the mean per method, and write metrics.csv, "
            "metrics.md and report.html to the report folder.  Files without a partner, unreadable files "
            "and size mismatches are reported and skipped."
        ),
    )
    parser.add_argument("a_dir", type=Path, metavar="A_DIR", help="source A images (infrared / MRI)")
    parser.add_argument("b_dir", type=Path, metavar="B_DIR", help="source B images (visible / PET / SPECT / CT)")
    parser.add_argument("fused_dirs", type=Path, nargs="+", metavar="FUSED_DIR", help="one folder per method")
    parser.add_argument("--reference-a", type=Path, metavar="DIR",
                        help="clean A images to score against (A_DIR then holds the degraded inputs)")
    parser.add_argument("--reference-b", type=Path, metavar="DIR", help="clean B images to score against")
    parser.add_argument("--names", nargs="+", metavar="METHOD", help="method names (default: folder names)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="REPORT_DIR", help="report folder")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPU count, at most 8)")
    parser.add_argument("--thumbnails", type=int, default=4, help="images shown in the HTML thumbnail grid")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the report, print the Markdown table; 0 if at least one image was evaluated."""
    from textdifuse_desktop.errors import ImageDataError, UsageError
    from textdifuse_desktop.io.writers.dispatch import check_output_folder
    from textdifuse_desktop.metrics.evaluation import default_jobs, evaluate_folders
    from textdifuse_desktop.metrics.report import markdown_text, write_report

    if (args.reference_a is None) != (args.reference_b is None):
        raise UsageError("--reference-a and --reference-b must be given together",
                         hint="pass both clean source folders, or neither")
    check_output_folder(args.output)  # before the (slow) evaluation, not after
    result = evaluate_folders(
        args.a_dir, args.b_dir, args.fused_dirs, names=args.names,
        reference_a=args.reference_a, reference_b=args.reference_b,
        jobs=args.jobs if args.jobs is not None else default_jobs(),
    )
    for issue in result.issues:
        print(f"warning: skipped {issue}", file=sys.stderr)
    if not result.rows:
        raise ImageDataError("no image could be evaluated", path=args.a_dir,
                             hint="check that the folders hold images with matching names and sizes")
    paths = write_report(result, args.output, thumbnails=args.thumbnails)
    print(markdown_text(result).split("\n### Skipped files")[0].rstrip())
    print(f"\n{len(result.rows)} results, {len(result.issues)} skipped; wrote " + ", ".join(str(p) for p in paths))
    return 0
