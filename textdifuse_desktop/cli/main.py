"""Entry point of the ``textdifuse`` command.

Each sub-command lives in its own module ``cli/cmd_<name>.py`` exposing
``add_parser(subparsers)`` (cheap: no torch, no Qt at import) and
``run(args) -> int``.  Errors derived from :class:`TextDifuseError` print one
line and exit with the error's code; ``--debug`` shows the traceback.

Exit codes (README, "Command line"): 0 success, 2 invalid arguments
(argparse usage errors and :class:`~textdifuse_desktop.errors.UsageError`),
3 unreadable input, 4 geometry (including sources of different patients),
5 write, 6 model weights, 7 optional feature off, 8 device, 9 session,
10 network (PACS / DICOMweb: unreachable, rejected, failure status, not DICOM),
130 interrupted.  A warning repeated word for word (one per video frame, one
per pair) is printed once.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from textdifuse_desktop import __version__
from textdifuse_desktop.errors import TextDifuseError

COMMANDS = ("info", "convert", "fuse", "evaluate", "degrade", "regions", "train", "benchmark", "pacs")

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="textdifuse", description="Diffusion-based multi-modal image fusion.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMANDS:
        module = _command_module(name)
        if module is not None:
            module.add_parser(subparsers)
    return parser


def _command_module(name: str):  # type: ignore[no-untyped-def]
    module_name = f"textdifuse_desktop.cli.cmd_{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise


class ProgressAwareHandler(logging.StreamHandler):
    """Write log lines above any tqdm progress bar on stderr instead of into its line."""

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record and hand it to ``tqdm.write``, which redraws the bar below it."""
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


class DuplicateFilter(logging.Filter):
    """Let each distinct warning message through once (video frames repeat the same resize warning)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a WARNING-or-above message already shown."""
        if record.levelno < logging.WARNING:
            return True
        key = (record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s: %(message)s",
        handlers=[ProgressAwareHandler(sys.stderr)],
    )
    # One filter per handler (each handler sees every record) and per run (a later run warns afresh).
    filters = [(handler, DuplicateFilter()) for handler in logging.getLogger().handlers]
    for handler, duplicates in filters:
        handler.addFilter(duplicates)
    try:
        return _run(args)
    finally:
        for handler, duplicates in filters:
            handler.removeFilter(duplicates)


def _run(args: argparse.Namespace) -> int:
    """Call the sub-command; TextDifuseError -> one line and its exit code."""
    try:
        return int(args.func(args) or 0)
    except TextDifuseError as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if args.debug:
            raise
        print("error: out of memory (try smaller tiles, fewer slices or --device cpu)", file=sys.stderr)
        return 8
