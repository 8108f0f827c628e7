"""The PACS operations the CLI and the GUI call, whatever the node's protocol (DIMSE or DICOMweb).

* :func:`echo` - C-ECHO or a QIDO-RS test query, one line.
* :func:`find` - study or series query, capped, as a :class:`QueryResult`.
* :func:`retrieve_series` - C-GET, C-MOVE or WADO-RS into a new cache
  folder, verified (announced UIDs, our reader) before it is published.
* :func:`send_files` - C-STORE or STOW-RS with one status per instance;
  :func:`failures_error` turns failed statuses into one error message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

from textdifuse_desktop.errors import NetworkError, RemoteStatusError, UsageError
from textdifuse_desktop.net import cache, dicomweb, dimse, dimse_transfer
from textdifuse_desktop.net.dimse_transfer import InstanceStatus
from textdifuse_desktop.net.nodes import PacsNode
from textdifuse_desktop.net.query import (
    DEFAULT_MAX_RESULTS,
    SERIES_FIELDS,
    STUDY_FIELDS,
    QueryFilter,
    QueryResult,
    check_limit,
    filter_keys,
    find_identifier,
    row_from_dataset,
)
from textdifuse_desktop.net.transfer import Cancellable, TransferProgress
from textdifuse_desktop.net.verify import verify_series

log = logging.getLogger(__name__)

METHODS = ("get", "move", "wado")


def echo(node: PacsNode) -> str:
    """Test the connection; one line on success, a NetworkError otherwise."""
    node.validated()
    return dicomweb.echo(node) if node.is_dicomweb else dimse.echo(node)


def find(node: PacsNode, level: str, query: QueryFilter, *, limit: int = DEFAULT_MAX_RESULTS,
         cancel: Cancellable | None = None) -> QueryResult:
    """Study- or series-level query; at most ``limit`` rows, ``truncated`` when there were more."""
    node.validated()
    check_limit(limit)
    if node.is_dicomweb:
        fields = STUDY_FIELDS if level == "study" else SERIES_FIELDS
        answers = dicomweb.search(node, level, filter_keys(level, query), fields, limit)
        truncated = len(answers) > limit
        answers = answers[:limit]
    else:
        answers, truncated = dimse.find(node, find_identifier(level, query), limit, cancel)
    rows = [row_from_dataset(ds, level) for ds in answers if ds is not None]
    return QueryResult(level, rows, truncated, limit)


def list_instances(node: PacsNode, study_uid: str, series_uid: str,
                   cancel: Cancellable | None = None) -> list[tuple[str, str]]:
    """``(SOP Instance UID, SOP Class UID)`` of each instance the server announces for the series."""
    if node.is_dicomweb:
        return dicomweb.instances(node, study_uid, series_uid)
    return dimse.instances(node, study_uid, series_uid, cancel)


@dataclass(frozen=True)
class RetrievedSeries:
    """A verified series in the cache."""

    folder: Path
    files: tuple[Path, ...]
    method: str
    seconds: float

    @property
    def count(self) -> int:
        """Number of instances."""
        return len(self.files)


def default_method(node: PacsNode) -> str:
    """WADO-RS for a DICOMweb node, else the node's C-GET / C-MOVE choice."""
    return "wado" if node.is_dicomweb else node.retrieve


def retrieve_series(node: PacsNode, study_uid: str, series_uid: str, *, method: str | None = None,
                    cancel: Cancellable | None = None, cache_root: Path | None = None, read: str = "one",
                    ) -> Generator[TransferProgress, None, RetrievedSeries]:
    """Retrieve one series into a new cache folder; yields progress, returns the verified folder.

    Raises
    ------
    UsageError
        A method the node cannot do (WADO-RS on a DIMSE node, C-GET on DICOMweb).
    NetworkError, AssociationRejectedError, RemoteStatusError
        Connection, rejection, server failure, missing or unexpected instances.
    TransferCancelled
        Cancelled; the partial folder is removed.
    """
    node.validated()
    method = method or default_method(node)
    if method not in METHODS or (method == "wado") != node.is_dicomweb:
        raise UsageError(f"node {node.name!r} ({node.protocol}) cannot retrieve with {method!r}",
                         hint="DICOMweb nodes use wado; DIMSE nodes use get or move")
    uids = (cache.safe_uid(study_uid), cache.safe_uid(series_uid)) if _valid(study_uid, series_uid) else None
    if uids is None:
        raise UsageError("study and series instance UIDs must be DICOM UIDs (digits and dots)")
    start = time.perf_counter()
    yield TransferProgress(0, 0, "asking the server which instances the series holds")
    expected = list_instances(node, study_uid, series_uid, cancel)
    if not expected:
        raise NetworkError(f"{node.describe()} lists no instances for the series", hint="query again; it may be gone")
    partial, final = cache.new_folder("retrieved", series_uid, cache_root)
    try:
        if method == "wado":
            yield from dicomweb.retrieve_series(node, study_uid, series_uid, partial, len(expected), cancel)
        elif method == "get":
            yield from dimse_transfer.get_series(node, study_uid, series_uid, partial, expected, cancel)
        else:
            yield from dimse_transfer.move_series(node, study_uid, series_uid, partial, expected, cancel)
        verify_series(partial, series_uid, [uid for uid, _ in expected], read=read)
        cache.publish(partial, final)
    except BaseException:
        cache.discard(partial)
        raise
    files = tuple(sorted(final.iterdir()))
    seconds = time.perf_counter() - start
    log.info("retrieved %d instances with %s from %s in %.2f s", len(files), method, node.name, seconds)
    return RetrievedSeries(final, files, method, seconds)


def _valid(*uids: str) -> bool:
    try:
        for uid in uids:
            cache.safe_uid(uid)
    except ValueError:
        return False
    return True


def send_files(node: PacsNode, paths: Sequence[Path], *,
               cancel: Cancellable | None = None) -> Generator[TransferProgress, None, list[InstanceStatus]]:
    """C-STORE or STOW-RS every file; yields one progress per instance (``item`` = its status)."""
    node.validated()
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("nothing to send", hint="give DICOM files or a folder of them")
    send = dicomweb.store_files if node.is_dicomweb else dimse_transfer.store_files
    return (yield from send(node, paths, cancel))


def failures_error(node: PacsNode, statuses: Sequence[InstanceStatus]) -> RemoteStatusError | None:
    """One error naming the failed instances and their status codes (None when all succeeded)."""
    failed = [s for s in statuses if not s.ok]
    if not failed:
        return None
    shown = "; ".join(f"{s.path.name} ({s.sop_instance_uid}): status 0x{s.status:04X}"
                      + (f" {s.detail}" if s.detail else "") for s in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    return RemoteStatusError(f"{len(failed)} of {len(statuses)} instances were not stored by {node.describe()}: "
                             f"{shown}{more}", hint="the local files are kept; retry or check the PACS log")


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders replaced by their files (sorted, hidden ones skipped)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"not found: {path}")
    return files
