"""``textdifuse pacs echo|find|get|send``: the hospital network from the command line.

The node is a saved one (``--node NAME``, from ``pacs_nodes.json`` beside
the settings) or given inline: ``--host --port --aet`` for DIMSE,
``--url`` for DICOMweb.  Failures print one line; network failures exit with
10 (see ``cli/main.py`` for the families), a cancelled transfer with 130.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

from textdifuse_desktop.cli import pacs_args
from textdifuse_desktop.errors import UsageError, WriteError

ACTIONS = ("echo", "find", "get", "send")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``pacs`` with its four actions."""
    parser = subparsers.add_parser(
        "pacs", help="query, retrieve and send with a PACS (DIMSE or DICOMweb)",
        description="Talk to a PACS: C-ECHO/C-FIND/C-GET/C-MOVE/C-STORE (DIMSE) or QIDO-RS/WADO-RS/STOW-RS "
                    "(DICOMweb). Exit status 10 for network and server failures.")
    actions = parser.add_subparsers(dest="pacs_action", metavar="ACTION")
    actions.required = True
    echo = actions.add_parser("echo", help="test the connection (C-ECHO or a QIDO-RS query)")
    pacs_args.add_node_arguments(echo)
    echo.add_argument("--save-as", metavar="NAME", help="save the node under NAME once the test succeeded")
    find = actions.add_parser("find", help="query studies or the series of a study")
    pacs_args.add_node_arguments(find)
    pacs_args.add_query_arguments(find)
    get = actions.add_parser("get", help="retrieve one series into the cache (and optionally a new folder)")
    pacs_args.add_node_arguments(get)
    get.add_argument("--study-uid", required=True, help="StudyInstanceUID")
    get.add_argument("--series-uid", required=True, help="SeriesInstanceUID")
    get.add_argument("--method", choices=("get", "move", "wado"),
                     help="C-GET, C-MOVE or WADO-RS (default: the node's choice)")
    get.add_argument("-o", "--output", type=Path, help="also copy the series into this new folder")
    send = actions.add_parser("send", help="send DICOM files (or folders of them) with C-STORE or STOW-RS")
    pacs_args.add_node_arguments(send)
    send.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="DICOM file or folder")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action."""
    node = pacs_args.node_from_args(args)
    return {"echo": _echo, "find": _find, "get": _get, "send": _send}[args.pacs_action](node, args)


def _echo(node: Any, args: argparse.Namespace) -> int:
    from textdifuse_desktop.net import nodes as node_store
    from textdifuse_desktop.net import service

    print(service.echo(node))
    if args.save_as:
        saved = [n for n in node_store.load_nodes() if n.name != args.save_as]
        node.name = args.save_as
        path = node_store.save_nodes([*saved, node])
        print(f"saved node {args.save_as!r} in {path}")
    return 0


def _find(node: Any, args: argparse.Namespace) -> int:
    from textdifuse_desktop.net import service

    query, level = pacs_args.query_from_args(args)
    result = service.find(node, level, query, limit=args.limit)
    if args.json:
        print(json.dumps(result.rows, indent=1))
    else:
        _print_table(result.rows)
    print(result.message, file=sys.stderr)
    return 0


def _print_table(rows: list[dict[str, str]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    widths = {c: min(64, max(len(c), *(len(r.get(c, "")) for r in rows))) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(row.get(c, "")[:64].ljust(widths[c]) for c in columns))


def _drive(gen: Generator[Any, None, Any], cancel: Any) -> Any:
    """Run a transfer, showing progress on a terminal; Ctrl+C aborts the association."""
    tty = sys.stderr.isatty()
    try:
        while True:
            progress = next(gen)
            if tty and progress.message:
                print(f"\r{progress.message}\033[K", end="", file=sys.stderr, flush=True)
    except StopIteration as stop:
        return stop.value
    except KeyboardInterrupt:
        cancel.cancel()
        gen.close()
        raise
    finally:
        if tty:
            print("\r\033[K", end="", file=sys.stderr)


def _get(node: Any, args: argparse.Namespace) -> int:
    from textdifuse_desktop.fusion.request import CancelToken
    from textdifuse_desktop.net import service

    if args.output is not None and args.output.exists():
        raise WriteError("the output folder exists; retrieved data never overwrites local files",
                         path=args.output, hint="give a new folder name")
    cancel = CancelToken()
    result = _drive(service.retrieve_series(node, args.study_uid, args.series_uid, method=args.method,
                                            cancel=cancel, read="all"), cancel)
    folder = result.folder
    if args.output is not None:
        folder = _copy_new(result.folder, args.output)
    print(f"retrieved {result.count} instances with {result.method} in {result.seconds:.2f} s into {folder}")
    return 0


def _copy_new(source: Path, target: Path) -> Path:
    tmp = target.with_name(f".{target.name}.part")
    try:
        shutil.copytree(source, tmp)
        tmp.rename(target)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise WriteError(f"cannot copy the retrieved series: {error.strerror or error}", path=target) from error
    return target


def _send(node: Any, args: argparse.Namespace) -> int:
    from textdifuse_desktop.fusion.request import CancelToken
    from textdifuse_desktop.net import service

    files = service.expand_paths(args.paths)
    if not files:
        raise UsageError("the folders hold no files to send")
    cancel = CancelToken()
    statuses = _drive(service.send_files(node, files, cancel=cancel), cancel)
    for status in statuses:
        state = "ok" if status.ok else f"FAILED status 0x{status.status:04X} {status.detail}".rstrip()
        print(f"{status.path}  {status.sop_instance_uid}  {state}")
    error = service.failures_error(node, statuses)
    if error is not None:
        raise error
    print(f"sent {len(statuses)} instances to {node.describe()}", file=sys.stderr)
    return 0
