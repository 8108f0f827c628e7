"""Where retrieved instances arrive: the C-STORE handler of C-GET and our C-MOVE storage SCP.

:class:`InstanceSink` writes each incoming instance of the expected series
as ``<SOP Instance UID>.dcm`` in the retrieve's ``.part`` folder (raw bytes,
no re-encoding) and refuses anything else.  :func:`move_destination` runs a
storage SCP for one C-MOVE: it answers only associations addressed to our AE
title and coming from the node's AE title, and supports only storage SOP
classes, so nothing else on the network can use it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from textdifuse_desktop.errors import NetworkError
from textdifuse_desktop.net.cache import safe_uid
from textdifuse_desktop.net.nodes import PacsNode

log = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
STATUS_REFUSED = 0xC000  # "cannot understand": not the series we asked for
STATUS_OUT_OF_RESOURCES = 0xA700


class InstanceSink:
    """Thread-safe writer of the instances of one series into ``folder``."""

    def __init__(self, folder: Path, series_uid: str):
        self.folder = Path(folder)
        self.series_uid = series_uid
        self.received = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def handle_store(self, event: Any) -> int:
        """pynetdicom ``EVT_C_STORE`` handler; returns the C-STORE status."""
        try:
            ds = event.dataset
            series = str(ds.get("SeriesInstanceUID", ""))
            sop_uid = safe_uid(str(ds.SOPInstanceUID))
        except Exception as error:  # noqa: BLE001 - a malformed instance is refused, not fatal
            log.warning("refused a retrieved instance that cannot be decoded: %s", type(error).__name__)
            self.refused += 1
            return STATUS_REFUSED
        if series != self.series_uid:
            log.warning("refused an instance of another series than the one requested")
            self.refused += 1
            return STATUS_REFUSED
        with self._lock:
            if sop_uid in self._seen:
                return STATUS_SUCCESS  # sent twice: keep the first copy
            self._seen.add(sop_uid)
        try:
            self._write(event, self.folder / f"{sop_uid}.dcm")
        except OSError as error:
            log.error("cannot write a retrieved instance: %s", error)
            return STATUS_OUT_OF_RESOURCES
        with self._lock:
            self.received += 1
        return STATUS_SUCCESS

    @staticmethod
    def _write(event: Any, path: Path) -> None:
        from pydicom.filewriter import write_file_meta_info

        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(b"\x00" * 128 + b"DICM")
            write_file_meta_info(handle, event.file_meta, enforce_standard=True)
            handle.write(event.request.DataSet.getvalue())
        tmp.replace(path)


def storage_contexts() -> list[Any]:
    """Every storage SOP class with every transfer syntax (what the C-MOVE SCP supports)."""
    from pynetdicom import (
        ALL_TRANSFER_SYNTAXES,
        AllStoragePresentationContexts,
        build_context,
    )

    return [build_context(ctx.abstract_syntax, ALL_TRANSFER_SYNTAXES) for ctx in AllStoragePresentationContexts]


@contextlib.contextmanager
def move_destination(node: PacsNode, sink: InstanceSink) -> Iterator[Any]:
    """Run a storage SCP on ``node.listen_host:node.move_port`` as ``node.calling_ae`` while the block runs."""
    from pynetdicom import AE, evt

    ae = AE(ae_title=node.calling_ae)
    ae.require_called_aet = True
    ae.require_calling_aet = [node.ae_title]
    ae.network_timeout = ae.acse_timeout = ae.dimse_timeout = node.timeout_s
    ae.supported_contexts = storage_contexts()
    try:
        server = ae.start_server((node.listen_host, node.move_port), block=False,
                                 evt_handlers=[(evt.EVT_C_STORE, sink.handle_store)])
    except OSError as error:
        raise NetworkError(f"cannot listen on port {node.move_port} for the C-MOVE: {error.strerror or error}",
                           hint="another program uses the port; choose another C-MOVE port for the node "
                                "(and tell the PACS)") from error
    try:
        yield server
    finally:
        server.shutdown()
