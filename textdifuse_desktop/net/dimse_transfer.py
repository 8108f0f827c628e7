"""DIMSE transfers: C-GET and C-MOVE of one series into a folder, C-STORE of files, with progress.

Each is a generator yielding :class:`TransferProgress` (instances so far of
the number announced) and returning its result; a Cancel aborts the
association through :func:`~.transfer.abort_on_cancel`.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textdifuse_desktop.errors import NetworkError, ReadError, RemoteStatusError
from textdifuse_desktop.net import dimse
from textdifuse_desktop.net.nodes import PacsNode
from textdifuse_desktop.net.storage_scp import InstanceSink, move_destination
from textdifuse_desktop.net.transfer import (
    Cancellable,
    TransferProgress,
    raise_if_cancelled,
)

log = logging.getLogger(__name__)

STORE_OK = (0x0000, 0xB000, 0xB006, 0xB007)  # success and the warnings that still store the instance


@dataclass(frozen=True)
class InstanceStatus:
    """Outcome of sending one file: ``status`` is the DIMSE status or the HTTP code (DICOMweb)."""

    path: Path
    sop_instance_uid: str
    status: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the server stored the instance."""
        return self.status in STORE_OK or 200 <= self.status < 300


def _series_identifier(study_uid: str, series_uid: str) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    return ds


def _final_status(code: int, node: PacsNode, what: str, failed: int) -> None:
    if code == 0:
        return
    if code == 0xB000:
        raise RemoteStatusError(f"{node.describe()} could not send {failed or 'some'} instances of the series "
                                f"({what} status 0xB000)", hint="retry; the PACS log names the failures")
    if what == "C-MOVE" and (code == 0xA801 or 0xC000 <= code <= 0xCFFF):
        raise RemoteStatusError(f"{node.describe()} refused the C-MOVE (status 0x{code:04X}); it may not know "
                                f"the destination AE title {node.calling_ae!r}",
                                hint=f"ask the PACS administrator to add {node.calling_ae!r} with our host and "
                                     f"port {node.move_port}, or retrieve with C-GET")
    raise RemoteStatusError(f"{node.describe()} answered the {what} with status 0x{code:04X}")


def _drive(responses: Any, node: PacsNode, sink: InstanceSink, total: int, what: str,
           cancel: Cancellable | None) -> Generator[TransferProgress, None, int]:
    failed = 0
    for status, _identifier in responses:
        code = dimse.status_code(status, node, cancel, what)
        failed = int(getattr(status, "NumberOfFailedSuboperations", failed) or failed)
        if code in dimse.PENDING:
            yield TransferProgress(sink.received, total, f"{what}: {sink.received} of {total} instances")
            continue
        _final_status(code, node, what, failed)
        break
    raise_if_cancelled(cancel, what)
    yield TransferProgress(sink.received, total, f"{what}: {sink.received} of {total} instances")
    return sink.received


def get_series(node: PacsNode, study_uid: str, series_uid: str, folder: Path, expected: Sequence[tuple[str, str]],
               cancel: Cancellable | None = None) -> Generator[TransferProgress, None, int]:
    """C-GET the series into ``folder``; returns the number of instances received."""
    from pynetdicom import ALL_TRANSFER_SYNTAXES, build_context, build_role, evt
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelGet as GetModel,
    )

    classes = sorted({sop_class for _, sop_class in expected if sop_class})
    if len(classes) >= dimse.MAX_CONTEXTS:
        raise NetworkError(f"the series mixes {len(classes)} SOP classes, more than one C-GET can negotiate")
    contexts = [build_context(GetModel)] + [build_context(c, ALL_TRANSFER_SYNTAXES) for c in classes]
    roles = [build_role(c, scp_role=True) for c in classes]
    sink = InstanceSink(folder, series_uid)
    with dimse.associate(node, contexts, cancel=cancel, ext_neg=roles,
                         handlers=[(evt.EVT_C_STORE, sink.handle_store)]) as assoc:
        responses = assoc.send_c_get(_series_identifier(study_uid, series_uid), GetModel)
        return (yield from _drive(responses, node, sink, len(expected), "C-GET", cancel))


def move_series(node: PacsNode, study_uid: str, series_uid: str, folder: Path, expected: Sequence[tuple[str, str]],
                cancel: Cancellable | None = None) -> Generator[TransferProgress, None, int]:
    """C-MOVE the series to our own storage SCP (``node.calling_ae`` on ``node.move_port``) into ``folder``."""
    from pynetdicom import build_context
    from pynetdicom.sop_class import (
        StudyRootQueryRetrieveInformationModelMove as MoveModel,
    )

    sink = InstanceSink(folder, series_uid)
    with move_destination(node, sink), dimse.associate(node, [build_context(MoveModel)], cancel=cancel) as assoc:
        responses = assoc.send_c_move(_series_identifier(study_uid, series_uid), node.calling_ae, MoveModel)
        return (yield from _drive(responses, node, sink, len(expected), "C-MOVE", cancel))


def read_headers(paths: Sequence[Path]) -> list[Any]:
    """Headers (no pixels) of files to send; :class:`ReadError` names a file that is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    headers = []
    for path in paths:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            ds.SOPInstanceUID, ds.SOPClassUID, ds.file_meta.TransferSyntaxUID  # noqa: B018 - must exist
        except (InvalidDicomError, OSError, AttributeError, ValueError) as error:
            raise ReadError(f"cannot send a file that is not a DICOM instance: {error}", path=path,
                            hint="send the DICOM files of an export") from error
        headers.append(ds)
    return headers


def store_files(node: PacsNode, paths: Sequence[Path],
                cancel: Cancellable | None = None) -> Generator[TransferProgress, None, list[InstanceStatus]]:
    """C-STORE each file; yields one progress (with its :class:`InstanceStatus` as ``item``) per instance."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import build_context

    paths = [Path(p) for p in paths]
    headers = read_headers(paths)
    syntaxes: dict[str, list[str]] = {}
    for ds in headers:
        offered = syntaxes.setdefault(str(ds.SOPClassUID), [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        if str(ds.file_meta.TransferSyntaxUID) not in offered:
            offered.insert(0, str(ds.file_meta.TransferSyntaxUID))
    contexts = [build_context(sop_class, ts) for sop_class, ts in syntaxes.items()]
    statuses: list[InstanceStatus] = []
    with dimse.associate(node, contexts, cancel=cancel) as assoc:
        for index, (path, ds) in enumerate(zip(paths, headers)):
            raise_if_cancelled(cancel, "send")
            try:
                status = assoc.send_c_store(path)
            except ValueError as error:  # no accepted context for its SOP class / transfer syntax
                statuses.append(InstanceStatus(path, str(ds.SOPInstanceUID), 0x0122, f"not accepted: {error}"))
            else:
                code = dimse.status_code(status, node, cancel, "C-STORE")
                detail = str(status.get("ErrorComment", "")) if code not in STORE_OK else ""
                statuses.append(InstanceStatus(path, str(ds.SOPInstanceUID), code, detail))
            yield TransferProgress(index + 1, len(paths), f"sent {index + 1} of {len(paths)}", statuses[-1])
    return statuses
