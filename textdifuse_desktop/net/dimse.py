"""DIMSE client (pynetdicom): C-ECHO, C-FIND, C-GET, C-MOVE and C-STORE against one :class:`PacsNode`.

Each call opens its own association and releases it; a failed connection is
diagnosed (refused, timed out, unknown host, not a DICOM port) and a
rejected association names the AE titles to check.  Identifiers and patient
values never reach the log: pynetdicom's own logger is silenced.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from typing import Any

from textdifuse_desktop.errors import (
    AssociationRejectedError,
    NetworkError,
    RemoteStatusError,
    TransferCancelled,
)
from textdifuse_desktop.net.nodes import PacsNode
from textdifuse_desktop.net.transfer import (
    Cancellable,
    abort_on_cancel,
    raise_if_cancelled,
)

log = logging.getLogger(__name__)
# pynetdicom logs identifiers (patient names) at DEBUG and repeats our one-line errors at ERROR.
logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)

PENDING = (0xFF00, 0xFF01)
MAX_CONTEXTS = 128


def _tls_args(node: PacsNode) -> tuple[ssl.SSLContext, str] | None:
    if not node.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=node.ca_file or None)
    if node.cert_file:
        context.load_cert_chain(node.cert_file, node.key_file or None)
    return context, node.host


def _diagnose(node: PacsNode) -> str:
    """Why no association came up, in words, from a plain TCP connection attempt."""
    try:
        with socket.create_connection((node.host, node.port), timeout=min(node.timeout_s, 10)) as sock:
            tls = _tls_args(node)
            if tls is not None:
                with tls[0].wrap_socket(sock, server_hostname=tls[1]):
                    pass
    except ssl.SSLError as error:
        return f"the TLS handshake with {node.host}:{node.port} failed: {error.reason or error} (check the CA file " \
               "and our certificate)"
    except socket.gaierror:
        return f"unknown host {node.host!r}"
    except ConnectionRefusedError:
        return f"connection refused by {node.host}:{node.port} (is the PACS running, is the port right?)"
    except TimeoutError:
        return f"no answer from {node.host}:{node.port} within {min(node.timeout_s, 10):g} s (firewall or wrong host?)"
    except OSError as error:
        return f"cannot reach {node.host}:{node.port}: {error.strerror or error}"
    return (f"{node.host}:{node.port} accepts connections but did not answer the DICOM association "
            f"within {node.timeout_s:g} s (is it a DICOM port? is TLS set as the PACS expects?)")


@contextlib.contextmanager
def associate(node: PacsNode, contexts: Sequence[Any], *, cancel: Cancellable | None = None,
              ext_neg: list[Any] | None = None, handlers: list[Any] | None = None) -> Iterator[Any]:
    """An established association with ``node`` offering ``contexts``; released (or aborted) afterwards.

    Raises
    ------
    AssociationRejectedError
        The PACS rejected it (reason and the AE titles named).
    NetworkError
        No connection or no answer (diagnosed), or a TLS failure.
    """
    from pynetdicom import AE, evt
    from pynetdicom.pdu import A_ASSOCIATE_RJ

    raise_if_cancelled(cancel)
    ae = AE(ae_title=node.calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = node.timeout_s
    ae.connection_timeout = node.timeout_s
    ae.requested_contexts = list(contexts)[:MAX_CONTEXTS]
    rejection: dict[str, str] = {}

    def on_pdu(event: Any) -> None:
        # A PACS that rejects often closes the connection at once; pynetdicom may see the close before it acts
        # on the A-ASSOCIATE-RJ and report an abort, so the rejection is read from the PDU itself.
        if isinstance(event.pdu, A_ASSOCIATE_RJ):
            rejection["reason"] = str(event.pdu.reason_str or "")

    try:
        assoc = ae.associate(node.host, node.port, ae_title=node.ae_title, ext_neg=ext_neg,
                             tls_args=_tls_args(node), evt_handlers=[(evt.EVT_PDU_RECV, on_pdu), *(handlers or [])])
    except (ssl.SSLError, OSError) as error:
        raise NetworkError(f"cannot open a connection to {node.describe()}: {error}",
                           hint="check the TLS CA/certificate files") from error
    if assoc.is_rejected or "reason" in rejection:
        reason = rejection.get("reason") or "no reason given"
        raise AssociationRejectedError(
            f"{node.describe()} rejected the association ({reason})",
            hint=f"check the called AE title {node.ae_title!r} and that the PACS knows our calling AE title "
                 f"{node.calling_ae!r}")
    if not assoc.is_established:
        raise NetworkError(f"cannot open a DICOM association with {node.describe()}: {_diagnose(node)}")
    try:
        with abort_on_cancel(assoc, cancel):
            yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def status_code(status: Any, node: PacsNode, cancel: Cancellable | None, what: str) -> int:
    """The Status of a response; an empty one means the association went away (cancelled or dropped)."""
    code = getattr(status, "Status", None) if status is not None else None
    if code is None:
        raise_if_cancelled(cancel, what)
        raise NetworkError(f"the association with {node.describe()} was dropped during the {what}",
                           hint="the PACS closed it or the network failed; try again")
    return int(code)


def echo(node: PacsNode) -> str:
    """C-ECHO; returns one line with the round-trip time."""
    from pynetdicom import build_context
    from pynetdicom.sop_class import Verification

    start = time.perf_counter()
    with associate(node, [build_context(Verification)]) as assoc:
        code = status_code(assoc.send_c_echo(), node, None, "C-ECHO")
    if code != 0:
        raise RemoteStatusError(f"{node.describe()} answered C-ECHO with status 0x{code:04X}")
    return f"C-ECHO to {node.describe()} succeeded in {1000 * (time.perf_counter() - start):.0f} ms"


def find(node: PacsNode, identifier: Any, limit: int, cancel: Cancellable | None = None) -> tuple[list[Any], bool]:
    """Study-root C-FIND; returns ``(identifiers, truncated)``, stopping after ``limit`` matches."""
    from pynetdicom import build_context
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelFind as FindModel,
    )

    answers: list[Any] = []
    truncated = False
    with associate(node, [build_context(FindModel)], cancel=cancel) as assoc:
        for status, found in assoc.send_c_find(identifier, FindModel):
            code = status_code(status, node, cancel, "query")
            if code in PENDING:
                if len(answers) >= limit:
                    truncated = True
                    assoc.abort()  # a PACS may ignore C-CANCEL; the cap must hold
                    break
                answers.append(found)
            elif code == 0:
                break
            elif code == 0xFE00:
                raise TransferCancelled("query cancelled")
            else:
                raise RemoteStatusError(f"{node.describe()} answered the query with status 0x{code:04X}",
                                        hint="the PACS may not support a matching key; simplify the query")
    log.info("C-FIND at %s: %d answers%s", node.name, len(answers), " (capped)" if truncated else "")
    return answers, truncated


def instances(node: PacsNode, study_uid: str, series_uid: str,
              cancel: Cancellable | None = None) -> list[tuple[str, str]]:
    """``(SOP Instance UID, SOP Class UID)`` of every instance of a series (C-FIND at IMAGE level)."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "IMAGE"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SOPInstanceUID = ""
    ds.SOPClassUID = ""
    answers, _ = find(node, ds, 1_000_000, cancel)
    return [(str(a.SOPInstanceUID), str(a.get("SOPClassUID", ""))) for a in answers if a is not None]
