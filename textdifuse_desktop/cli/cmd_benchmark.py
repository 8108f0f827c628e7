"""``textdifuse benchmark``: speed (ms per megapixel) and peak memory of fusion.

Each configuration runs in its own subprocess (see
:mod:`textdifuse_desktop.fusion.benchmark`); the result is a Markdown table
on stdout.  torch is only imported inside :func:`run`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _sizes(text: str) -> list[tuple[int, int]]:
    try:
        return [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",")]  # type: ignore[misc]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"sizes must look like 256x256,640x480, got {text!r}") from error


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``benchmark`` sub-command."""
    parser = subparsers.add_parser(
        "benchmark",
        help="measure fusion speed and memory",
        description="Milliseconds per megapixel and peak memory of the diffusion model (per step count) and "
        "of the classical rules, on the CPU and on CUDA when present. Prints a Markdown table.",
    )
    parser.add_argument("--sizes", type=_sizes, default=[(256, 256), (640, 480), (1280, 1024)],
                        help="WxH list (default: 256x256,640x480,1280x1024)")
    parser.add_argument("--steps", type=_ints, default=[1, 2, 4, 8], help="step counts (default: 1,2,4,8)")
    parser.add_argument("--devices", default=None, help="comma-separated devices (default: cpu, plus cuda if present)")
    parser.add_argument("--methods", default="textdifuse,max,mean,laplacian,guided",
                        help="comma-separated methods (default: %(default)s)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="weights to time (default: shipped; a random model of the shipped config if absent)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per configuration (default: %(default)s)")
    parser.add_argument("--in-process", action="store_true", help="no subprocess per configuration (peak memory is then cumulative)")
    parser.add_argument("--output", type=Path, default=None, help="also write the table to this Markdown file")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table."""
    from textdifuse_desktop.errors import UsageError
    from textdifuse_desktop.fusion.benchmark import markdown_table, run_benchmark
    from textdifuse_desktop.fusion.request import METHODS

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise UsageError(f"unknown method(s) {', '.join(unknown)}", hint=f"choose from {', '.join(METHODS)}")
    devices = [d.strip() for d in args.devices.split(",")] if args.devices else None

    def report(row: Any) -> None:
        print(f"  {row.method} {row.device} {row.width}x{row.height} steps={row.steps}: "
              f"{'failed: ' + row.error if row.error else f'{row.seconds:.3f} s'}", file=sys.stderr)

    rows = run_benchmark(sizes=args.sizes, steps=args.steps, devices=devices, methods=methods,
                         weights=str(args.weights) if args.weights else None, repeats=args.repeats,
                         isolate=not args.in_process, on_row=report)
    table = markdown_table(rows)
    print(table)
    if args.output is not None:
        from textdifuse_desktop.io.writers.atomic import atomic_file

        with atomic_file(args.output) as tmp:
            Path(tmp).write_text(table + "\n", encoding="utf-8")
    return 1 if any(row.error for row in rows) else 0
