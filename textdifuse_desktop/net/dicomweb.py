"""DICOMweb client (dicomweb-client): QIDO-RS queries, WADO-RS series retrieve, STOW-RS send.

HTTP failures become one-line :class:`NetworkError` messages (refused,
timed out, 401/403 token, 404 wrong base URL, an answer that is not DICOM or
JSON).  The bearer token comes from :mod:`.secrets` and is sent only in the
``Authorization`` header, never logged.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from textdifuse_desktop.errors import NetworkError, RemoteStatusError
from textdifuse_desktop.net.cache import safe_uid
from textdifuse_desktop.net.dimse_transfer import InstanceStatus, read_headers
from textdifuse_desktop.net.nodes import PacsNode
from textdifuse_desktop.net.secrets import load_token
from textdifuse_desktop.net.transfer import (
    Cancellable,
    TransferProgress,
    raise_if_cancelled,
)

log = logging.getLogger(__name__)
STOW_BATCH = 10


def client(node: PacsNode) -> Any:
    """A DICOMwebClient for ``node`` (with its bearer token when one is stored)."""
    from dicomweb_client.api import DICOMwebClient

    token = load_token(node.name)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return DICOMwebClient(url=node.url.rstrip("/"), headers=headers, timeout=node.timeout_s)


@contextlib.contextmanager
def _http_errors(node: PacsNode, what: str) -> Iterator[None]:
    import requests

    try:
        yield
    except requests.exceptions.Timeout as error:
        raise NetworkError(f"no answer from {node.url} within {node.timeout_s:g} s during the {what}") from error
    except requests.exceptions.ConnectionError as error:
        raise NetworkError(f"cannot connect to {node.url} ({_root_cause(error)})",
                           hint="check the URL and that the server runs") from error
    except requests.exceptions.HTTPError as error:
        code = error.response.status_code if error.response is not None else 0
        hint = {401: "the server wants a token: set it for the node", 403: "the token was refused",
                404: "is the base URL the DICOMweb root (e.g. http://host:8042/dicom-web)?"}.get(code)
        raise RemoteStatusError(f"{node.url} answered the {what} with HTTP {code}", hint=hint) from error
    except (ValueError, KeyError, TypeError) as error:  # JSON or multipart that is not DICOM
        raise NetworkError(f"{node.url} answered the {what} with something that is not DICOM ({_short(error)})",
                           hint="is the URL a DICOMweb endpoint and not a web page?") from error


def _root_cause(error: BaseException) -> str:
    while error.__context__ is not None and error.__context__ is not error:
        error = error.__context__
    return type(error).__name__


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120]


def qido(node: PacsNode, resource: str, params: dict[str, Any], what: str = "QIDO-RS query") -> list[dict]:
    """GET ``<url>/<resource>?<params>`` as DICOM JSON.

    The query string is built here, not by dicomweb-client, so that the
    wildcards ``*`` and ``?`` reach the server unescaped (Orthanc does not
    decode ``%2A``).
    """
    import requests

    query = urlencode(params, doseq=True, safe="*?,")
    token = load_token(node.name)
    headers = {"Accept": "application/dicom+json", **({"Authorization": f"Bearer {token}"} if token else {})}
    with _http_errors(node, what):
        response = requests.get(f"{node.url.rstrip('/')}/{resource}?{query}", headers=headers,
                                timeout=node.timeout_s)
        response.raise_for_status()
        if response.status_code == 204 or not response.content:
            return []
        kind = response.headers.get("Content-Type", "")
        if "json" not in kind:
            raise ValueError(f"content type {kind or 'missing'!r}")
        answer = response.json()
        if not isinstance(answer, list):
            raise ValueError("the JSON answer is not a list")
        return answer


def echo(node: PacsNode) -> str:
    """A one-result QIDO-RS study query; returns one line with the round-trip time."""
    start = time.perf_counter()
    qido(node, "studies", {"limit": 1}, "QIDO-RS test query")
    return f"QIDO-RS at {node.describe()} answered in {1000 * (time.perf_counter() - start):.0f} ms"


def search(node: PacsNode, level: str, keys: dict[str, str], fields: Sequence[str], limit: int) -> list[Any]:
    """QIDO-RS study or series search (``limit`` + 1 asked, to detect a capped result); Datasets."""
    from pydicom.dataset import Dataset

    params: dict[str, Any] = {k: v for k, v in keys.items() if k != "StudyInstanceUID" or level == "study"}
    params["includefield"] = list(fields)
    params["limit"] = limit + 1
    resource = "studies" if level == "study" else f"studies/{keys['StudyInstanceUID']}/series"
    answers = qido(node, resource, params)
    with _http_errors(node, "QIDO-RS query"):
        return [Dataset.from_json(item) for item in answers]


def instances(node: PacsNode, study_uid: str, series_uid: str) -> list[tuple[str, str]]:
    """``(SOP Instance UID, SOP Class UID)`` of every instance of the series (QIDO-RS)."""
    answers = qido(node, f"studies/{study_uid}/series/{series_uid}/instances", {"includefield": "SOPClassUID"},
                   "QIDO-RS instance query")
    with _http_errors(node, "QIDO-RS instance query"):
        return [(str(a["00080018"]["Value"][0]), str(a.get("00080016", {}).get("Value", [""])[0])) for a in answers]


def retrieve_series(node: PacsNode, study_uid: str, series_uid: str, folder: Path, total: int,
                    cancel: Cancellable | None = None) -> Generator[TransferProgress, None, int]:
    """WADO-RS the series into ``folder`` one instance at a time (streamed); returns the count."""
    received = 0
    web = client(node)
    with _http_errors(node, "WADO-RS retrieve"):
        stream = web.iter_series(study_instance_uid=study_uid, series_instance_uid=series_uid)
        try:
            for ds in stream:
                raise_if_cancelled(cancel, "retrieve")
                if str(ds.get("SeriesInstanceUID", "")) != series_uid:
                    raise NetworkError(f"{node.url} sent an instance of another series")
                path = folder / f"{safe_uid(str(ds.SOPInstanceUID))}.dcm"
                tmp = path.with_name(path.name + ".tmp")
                ds.save_as(tmp, enforce_file_format=True)
                tmp.replace(path)
                received += 1
                yield TransferProgress(received, total, f"WADO-RS: {received} of {total} instances")
        finally:
            with contextlib.suppress(Exception):
                stream.close()
    raise_if_cancelled(cancel, "retrieve")
    return received


def store_files(node: PacsNode, paths: Sequence[Path],
                cancel: Cancellable | None = None) -> Generator[TransferProgress, None, list[InstanceStatus]]:
    """STOW-RS in batches of :data:`STOW_BATCH`; per-instance status from the server's answer."""
    import pydicom

    paths = [Path(p) for p in paths]
    read_headers(paths)  # every file is DICOM before anything is sent
    statuses: list[InstanceStatus] = []
    web = client(node)
    for start in range(0, len(paths), STOW_BATCH):
        raise_if_cancelled(cancel, "send")
        batch = paths[start:start + STOW_BATCH]
        datasets = [pydicom.dcmread(p) for p in batch]
        statuses += _stow_batch(node, web, batch, datasets)
        for offset in range(len(batch)):
            done = start + offset + 1
            yield TransferProgress(done, len(paths), f"sent {done} of {len(paths)}", statuses[start + offset])
    return statuses


def _stow_batch(node: PacsNode, web: Any, batch: list[Path], datasets: list[Any]) -> list[InstanceStatus]:
    import requests

    uids = [str(ds.SOPInstanceUID) for ds in datasets]
    try:
        with _http_errors(node, "STOW-RS send"):
            answer = web.store_instances(datasets)
    except RemoteStatusError as error:
        cause = error.__cause__
        code = cause.response.status_code if isinstance(cause, requests.HTTPError) and cause.response is not None else 0
        return [InstanceStatus(p, uid, code or 500, str(error)) for p, uid in zip(batch, uids)]
    failed = {str(item.get("ReferencedSOPInstanceUID", "")): int(item.get("FailureReason", 0xC000))
              for item in answer.get("FailedSOPSequence", [])}
    stored = {str(item.get("ReferencedSOPInstanceUID", "")) for item in answer.get("ReferencedSOPSequence", [])}
    result = []
    for path, uid in zip(batch, uids):
        if uid in failed:
            result.append(InstanceStatus(path, uid, failed[uid], "STOW-RS failure reason"))
        elif uid in stored:
            result.append(InstanceStatus(path, uid, 0))
        else:
            result.append(InstanceStatus(path, uid, 0xC000, "not listed in the STOW-RS answer"))
    return result
