"""File > Open from PACS / Send to PACS in the real window (create_main_window) against a real Orthanc."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PySide6 import QtGui

sys.path.insert(0, str(Path(__file__).parents[1] / "net"))

from orthanc_server import (
    ORTHANC_AET,
    OUR_AET,
    Orthanc,
    dicomweb_plugin,
    orthanc_binary,
    write_series,
)

from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.gui import pacs_strings
from textdifuse_desktop.net.nodes import PacsNode, save_nodes


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if orthanc_binary() is None or dicomweb_plugin() is None:
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb)")
    work = tmp_path_factory.mktemp("orthanc-gui")
    orthanc = Orthanc(work).start()
    ct = write_series(work / "ct", count=5, modality="CT", seed=1)
    mr = write_series(work / "mr", count=5, modality="MR", study_uid=ct["study"], seed=2, frame_uid=ct["frame"])
    orthanc.upload(ct["paths"] + mr["paths"])
    yield {"server": orthanc, "ct": ct, "mr": mr}
    orthanc.stop()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTDIFUSE_CACHE_DIR", str(tmp_path / "cache"))


def _nodes(server, called: str = ORTHANC_AET) -> None:
    orthanc = server["server"]
    save_nodes([PacsNode("orthanc", ae_title=called, host="127.0.0.1", port=orthanc.dicom_port, calling_ae=OUR_AET,
                         move_port=orthanc.move_port, listen_host="127.0.0.1", timeout_s=10),
                PacsNode("orthanc-web", protocol="dicomweb", url=orthanc.dicomweb_url, timeout_s=10)])


def _trigger(window, text: str):
    action = next(a for a in window.findChildren(QtGui.QAction) if a.text() == text)
    action.trigger()


def _retrieve(window, qtbot, dialog, series_uid: str, key: str) -> None:
    dialog.form.patient_id.setText("PID-SECRET*")
    dialog.form.search_button.click()
    qtbot.waitUntil(lambda: dialog.studies.rowCount() == 1 and dialog._worker is None, timeout=20000)
    dialog.studies.selectRow(0)
    qtbot.waitUntil(lambda: dialog.series.rowCount() == 2 and dialog._worker is None, timeout=20000)
    uids = [dialog.series.item(r, 0).data(0x0101)["SeriesInstanceUID"] for r in range(2)]
    dialog.series.selectRow(uids.index(series_uid))
    (dialog.retrieve_a if key == "a" else dialog.retrieve_b).click()
    qtbot.waitUntil(lambda: dialog._worker is None, timeout=30000)


def test_retrieve_into_a_and_b_then_send_the_fusion_back(make_window, qtbot, server, message_boxes) -> None:
    _nodes(server)
    window = make_window()
    _trigger(window, pacs_strings.ACTION_OPEN_PACS)
    dialog = window._pacs_dialog
    assert dialog.isVisible() and dialog.nodes.combo.count() == 2
    _retrieve(window, qtbot, dialog, server["ct"]["series"], "a")
    assert not message_boxes, message_boxes
    source = window.raw["a"]
    assert source is not None and source.pixels.shape == (5, 16, 20)
    assert "Retrieved 5 instances with C-GET" in dialog.status.text()
    assert all(Path(p).parent.parent.name == "retrieved" for p in source.provenance.source_paths)
    assert set(dialog.timings) >= {"retrieved", "shown"}
    dialog.nodes.combo.setCurrentIndex(1)  # DICOMweb: WADO-RS
    _retrieve(window, qtbot, dialog, server["mr"]["series"], "b")
    assert window.raw["b"] is not None and "WADO-RS" in dialog.status.text()
    dialog.close()

    with qtbot.waitSignal(window.fusion_done, timeout=30000):
        window.run_fusion(FusionParams(method="mean"))
    assert window.wait_for_fusion(10000) and window.result is not None
    _trigger(window, pacs_strings.ACTION_SEND_PACS)
    sender = window._pacs_send_dialog
    sender.send()
    qtbot.waitUntil(lambda: sender._worker is None, timeout=60000)
    assert not message_boxes, message_boxes
    assert len(sender.statuses) == 5 and all(s.ok for s in sender.statuses)
    assert sender.table.rowCount() == 5 and sender.folder.is_dir()
    for status in sender.statuses:
        local = pydicom.dcmread(status.path)
        stored = pydicom.dcmread(io.BytesIO(server["server"].instance_file(status.sop_instance_uid)))
        assert stored.SOPInstanceUID == local.SOPInstanceUID and stored.StudyInstanceUID == server["ct"]["study"]
        np.testing.assert_array_equal(stored.pixel_array, local.pixel_array)
    sender.close()


def test_rejected_association_is_a_dialog_and_the_app_goes_on(make_window, qtbot, server, message_boxes) -> None:
    _nodes(server, called="WRONG")
    window = make_window()
    _trigger(window, pacs_strings.ACTION_OPEN_PACS)
    dialog = window._pacs_dialog
    dialog.form.search_button.click()
    qtbot.waitUntil(lambda: dialog._worker is None and bool(message_boxes), timeout=20000)
    assert "rejected the association" in message_boxes[0]["text"] + message_boxes[0]["info"]
    assert window.isVisible() and dialog.studies.rowCount() == 0
    dialog.nodes.test_connection()
    qtbot.waitUntil(lambda: dialog.nodes._worker is None, timeout=20000)
    assert dialog.nodes.test_label.text().startswith("Failed:") and "WRONG" in dialog.nodes.test_label.text()
    dialog.close()


def test_send_without_a_result_says_what_to_do(make_window, qtbot, server, message_boxes) -> None:
    _nodes(server)
    window = make_window()
    _trigger(window, pacs_strings.ACTION_SEND_PACS)
    sender = window._pacs_send_dialog
    sender.send()
    qtbot.waitUntil(lambda: sender._worker is None, timeout=20000)
    assert message_boxes and "run a fusion first" in message_boxes[0]["text"] + message_boxes[0]["info"]
    sender.close()


def test_nodes_editor_saves_nodes_and_keeps_the_token_out_of_the_file(make_window, qtbot, server) -> None:
    from textdifuse_desktop.gui.pacs_nodes_dialog import NodesDialog
    from textdifuse_desktop.net import secrets
    from textdifuse_desktop.net.nodes import load_nodes, nodes_path

    window = make_window()
    dialog = NodesDialog(window, window.report_error)
    dialog.add_node()
    dialog.name.setText("lab")
    dialog.ae_title.setText(ORTHANC_AET)
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(server["server"].dicom_port)
    dialog.test_connection()
    qtbot.waitUntil(lambda: dialog._worker is not None and not dialog._worker.is_running
                    and dialog.test_label.text() != pacs_strings.TESTING, timeout=20000)
    assert dialog.test_label.text().startswith("OK: C-ECHO to lab")
    dialog.add_node()
    dialog.name.setText("web")
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("dicomweb"))
    dialog.url.setText(server["server"].dicomweb_url)
    dialog.token.setText("bearer-secret-17")
    assert dialog.save()
    assert [n.name for n in load_nodes()] == ["lab", "web"]
    assert "bearer-secret-17" not in nodes_path().read_text()
    assert secrets.load_token("web") == "bearer-secret-17"
    secrets.store_token("web", None)
    dialog.deleteLater()
