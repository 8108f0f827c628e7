"""Arguments shared by the ``pacs`` actions: which node, and the query keys."""

from __future__ import annotations

import argparse
from typing import Any

from textdifuse_desktop.errors import UsageError


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """``--node`` or an inline DIMSE (``--host/--port/--aet``) or DICOMweb (``--url``) node."""
    group = parser.add_argument_group("node (a saved one, or given inline)")
    group.add_argument("--node", metavar="NAME", help="a node saved in File > Open from PACS (or with echo --save-as)")
    group.add_argument("--host", help="PACS host (DIMSE)")
    group.add_argument("--port", type=int, help="PACS port (DIMSE)")
    group.add_argument("--aet", metavar="AE_TITLE", help="the PACS's (called) AE title")
    group.add_argument("--calling-aet", metavar="AE_TITLE", help="our AE title (default TEXTDIFUSE)")
    group.add_argument("--move-port", type=int, help="port of our C-MOVE storage SCP")
    group.add_argument("--listen-host", help="address the C-MOVE storage SCP listens on (default all)")
    group.add_argument("--tls", action="store_true", help="DICOM over TLS")
    group.add_argument("--ca", help="TLS CA file")
    group.add_argument("--cert", help="TLS client certificate")
    group.add_argument("--key", help="TLS client key")
    group.add_argument("--url", help="DICOMweb base URL (token: $TEXTDIFUSE_DICOMWEB_TOKEN or the keyring)")
    group.add_argument("--timeout", type=float, help="seconds to wait for the server (default 30)")


def node_from_args(args: argparse.Namespace) -> Any:
    """The validated node the arguments describe (saved node values overridden by inline ones)."""
    from textdifuse_desktop.net.nodes import PacsNode, find_node, load_nodes

    if args.node:
        node = find_node(load_nodes(), args.node)
    elif args.url:
        node = PacsNode("command-line", protocol="dicomweb", url=args.url)
    elif args.host or args.port or args.aet:
        missing = [flag for flag, value in (("--host", args.host), ("--port", args.port), ("--aet", args.aet))
                   if not value]
        if missing:
            raise UsageError(f"an inline DIMSE node needs {', '.join(missing)}")
        node = PacsNode("command-line", ae_title=args.aet, host=args.host, port=args.port)
    else:
        raise UsageError("no node given", hint="use --node NAME, --host/--port/--aet (DIMSE) or --url (DICOMweb)")
    overrides = {"calling_ae": args.calling_aet, "move_port": args.move_port, "listen_host": args.listen_host,
                 "ca_file": args.ca, "cert_file": args.cert, "key_file": args.key, "timeout_s": args.timeout}
    for name, value in overrides.items():
        if value is not None:
            setattr(node, name, value)
    if args.tls:
        node.tls = True
    if getattr(args, "method", None) == "move":
        node.retrieve = "move"
    return node.validated()


def add_query_arguments(parser: argparse.ArgumentParser) -> None:
    """Query level and matching keys (``*`` and ``?`` wildcards in names and IDs)."""
    parser.add_argument("--level", choices=("study", "series"), default="study", help="default: study")
    parser.add_argument("--patient-id", default="", help="PatientID, wildcards allowed")
    parser.add_argument("--patient-name", default="", help="PatientName, e.g. 'DOE^J*'")
    parser.add_argument("--modality", default="", help="e.g. CT, MR, PT")
    parser.add_argument("--date", default="", metavar="FROM[-TO]",
                        help="study date YYYYMMDD, or a range YYYYMMDD-YYYYMMDD (either end may be empty)")
    parser.add_argument("--accession", default="", help="AccessionNumber")
    parser.add_argument("--study-uid", default="", help="StudyInstanceUID (required with --level series)")
    parser.add_argument("--limit", type=int, default=500, help="at most this many rows (default 500)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")


def query_from_args(args: argparse.Namespace) -> tuple[Any, str]:
    """``(QueryFilter, level)`` from the arguments (validated)."""
    from textdifuse_desktop.net.query import QueryFilter

    date_from, _, date_to = args.date.partition("-")
    if args.date and "-" not in args.date:
        date_to = date_from
    query = QueryFilter(patient_id=args.patient_id, patient_name=args.patient_name, modality=args.modality,
                        date_from=date_from, date_to=date_to, accession=args.accession, study_uid=args.study_uid)
    return query.validated(), args.level
