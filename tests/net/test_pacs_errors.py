"""Failures give one clear message: rejected association, closed port, silent server, non-DICOM HTTP,
capped C-FIND, dropped association, cancel mid-retrieve; the storage SCP refuses strangers."""

from __future__ import annotations

import http.server
import socket
import threading
from types import SimpleNamespace

import pytest
from orthanc_server import dimse_node, free_port, web_node, write_series

from textdifuse_desktop.errors import (
    AssociationRejectedError,
    NetworkError,
    RemoteStatusError,
    TransferCancelled,
)
from textdifuse_desktop.fusion.request import CancelToken
from textdifuse_desktop.net import service
from textdifuse_desktop.net.nodes import PacsNode
from textdifuse_desktop.net.query import QueryFilter


def test_wrong_called_ae_title_is_a_rejected_association(orthanc) -> None:
    with pytest.raises(AssociationRejectedError, match="rejected the association") as info:
        service.echo(dimse_node(orthanc, ae_title="NOTORTHANC"))
    assert "NOTORTHANC" in str(info.value) and info.value.exit_code == 10


def test_rejection_seen_after_the_connection_closed_is_still_a_rejection(monkeypatch) -> None:
    """A PACS that rejects often closes the connection at once, and pynetdicom can act on the close first and end
    the association as aborted.  The A-ASSOCIATE-RJ did arrive: the user must be told that the PACS rejected the
    association and why, not that it did not answer."""
    from pynetdicom import AE, evt
    from pynetdicom.pdu import A_ASSOCIATE_RJ

    def associate(self, addr, port, ae_title, evt_handlers=(), **kwargs):
        rejection = A_ASSOCIATE_RJ()
        rejection.decode(bytes([0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7]))  # permanent; called AE title not recognised
        for event_type, handler in evt_handlers:
            if event_type is evt.EVT_PDU_RECV:
                handler(SimpleNamespace(pdu=rejection))
        return SimpleNamespace(is_rejected=False, is_aborted=True, is_established=False)

    monkeypatch.setattr(AE, "associate", associate)
    node = PacsNode("strict", ae_title="WRONG", host="127.0.0.1", port=free_port(), timeout_s=2)
    with pytest.raises(AssociationRejectedError, match="Called AE title not recognised") as info:
        service.echo(node)
    assert "WRONG" in str(info.value)


def test_closed_port_says_connection_refused() -> None:
    node = PacsNode("nobody", ae_title="X", host="127.0.0.1", port=free_port(), timeout_s=2)
    with pytest.raises(NetworkError, match="connection refused"):
        service.echo(node)


def test_silent_server_times_out_with_a_message() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # accepts connections, never speaks DICOM
    try:
        node = PacsNode("silent", ae_title="X", host="127.0.0.1", port=listener.getsockname()[1], timeout_s=1)
        with pytest.raises(NetworkError, match="did not answer the DICOM association"):
            service.echo(node)
    finally:
        listener.close()


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Hospital intranet login</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_web_page_instead_of_dicomweb_is_not_dicom() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        node = PacsNode("web", protocol="dicomweb", url=f"http://127.0.0.1:{server.server_port}/", timeout_s=5)
        with pytest.raises(NetworkError, match="not DICOM"):
            service.echo(node)
        with pytest.raises(NetworkError, match="not DICOM"):
            service.find(node, "study", QueryFilter())
    finally:
        server.shutdown()
        server.server_close()


def test_wrong_base_url_is_http_404_with_a_hint(orthanc) -> None:
    with pytest.raises(RemoteStatusError, match="HTTP 404") as info:
        service.echo(web_node(orthanc, url=orthanc["server"].url + "/not-dicom-web"))
    assert "DICOMweb root" in str(info.value)


@pytest.fixture(scope="module")
def bulk_studies(orthanc, tmp_path_factory) -> int:
    """Twelve one-instance studies of patients BULK-00..11."""
    folder = tmp_path_factory.mktemp("bulk")
    paths = []
    for index in range(12):
        paths += write_series(folder / f"s{index}", count=1, patient_id=f"BULK-{index:02d}",
                              patient_name=f"BULK^{index}", shape=(4, 4), seed=index)["paths"]
    orthanc["server"].upload(paths)
    return 12


@pytest.mark.parametrize("which", ["dimse", "web"])
def test_many_matches_are_capped_with_a_clear_message(orthanc, bulk_studies, which) -> None:
    node = dimse_node(orthanc) if which == "dimse" else web_node(orthanc)
    capped = service.find(node, "study", QueryFilter(patient_id="BULK*"), limit=5)
    assert len(capped.rows) == 5 and capped.truncated
    assert capped.message == ("more than 5 studies match; showing the first 5 "
                              "(narrow the query: patient ID, dates, modality)")
    everything = service.find(node, "study", QueryFilter(patient_id="BULK*"), limit=100)
    assert len(everything.rows) == bulk_studies and not everything.truncated
    assert service.echo(node)  # the aborted association left the server usable


def test_dropped_association_during_a_query() -> None:
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    def on_find(event):
        event.assoc.abort()
        yield 0xFF00, None

    scp = AE(ae_title="FLAKY")
    scp.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    port = free_port()
    server = scp.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_FIND, on_find)])
    try:
        node = PacsNode("flaky", ae_title="FLAKY", host="127.0.0.1", port=port, timeout_s=5)
        with pytest.raises(NetworkError, match="dropped"):
            service.find(node, "study", QueryFilter())
    finally:
        server.shutdown()


@pytest.mark.parametrize("method", ["get", "wado"])
def test_cancel_mid_retrieve_aborts_and_leaves_no_folder(orthanc, method, tmp_path) -> None:
    node = web_node(orthanc) if method == "wado" else dimse_node(orthanc)
    ct, cancel = orthanc["ct"], CancelToken()
    gen = service.retrieve_series(node, ct["study"], ct["series"], cancel=cancel, cache_root=tmp_path)
    with pytest.raises(TransferCancelled, match="cancelled"):
        for progress in gen:
            if progress.done >= 1:
                cancel.cancel()
    retrieved = tmp_path / "retrieved"
    assert list(retrieved.iterdir()) == []
    assert service.echo(node)


def test_move_destination_accepts_only_the_pacs_and_only_storage(tmp_path) -> None:
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage, Verification

    from textdifuse_desktop.net.storage_scp import InstanceSink, move_destination

    node = PacsNode("p", ae_title="THEPACS", host="127.0.0.1", port=104, calling_ae="TEXTDIFUSE",
                    retrieve="move", move_port=free_port(), listen_host="127.0.0.1", timeout_s=5).validated()
    sink = InstanceSink(tmp_path, "1.2.3")
    series = write_series(tmp_path / "other", count=1)

    def associate(calling: str, called: str, context) -> object:
        ae = AE(ae_title=calling)
        ae.add_requested_context(context)
        return ae.associate("127.0.0.1", node.move_port, ae_title=called)

    with move_destination(node, sink):
        stranger = associate("INTRUDER", "TEXTDIFUSE", CTImageStorage)
        assert stranger.is_rejected
        misaddressed = associate("THEPACS", "SOMEONE", CTImageStorage)
        assert misaddressed.is_rejected
        echo = associate("THEPACS", "TEXTDIFUSE", Verification)
        assert not echo.is_established or not echo.accepted_contexts
        if echo.is_established:
            echo.release()
        pacs = associate("THEPACS", "TEXTDIFUSE", CTImageStorage)
        assert pacs.is_established
        status = pacs.send_c_store(series["paths"][0])  # another series than the one expected
        pacs.release()
    assert status.Status == 0xC000 and sink.received == 0 and sink.refused == 1
    assert not any(tmp_path.glob("*.dcm"))
