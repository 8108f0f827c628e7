"""Send to a real Orthanc (C-STORE, STOW-RS) and read back; per-instance failures from a refusing SCP."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from orthanc_server import free_port, write_series

from textdifuse_desktop.errors import ReadError
from textdifuse_desktop.net import service
from textdifuse_desktop.net.nodes import PacsNode


def _run(gen):
    items = []
    try:
        while True:
            items.append(next(gen))
    except StopIteration as stop:
        return stop.value, items


@pytest.mark.parametrize("which", ["dimse", "web"])
def test_send_then_read_back_pixels_and_uids(orthanc, node, webnode, tmp_path, which) -> None:
    target = node if which == "dimse" else webnode
    series = write_series(tmp_path / "out", count=3, modality="MR", seed=7, patient_id="SENT-1")
    statuses, progress = _run(service.send_files(target, series["paths"]))
    assert [s.ok for s in statuses] == [True] * 3 and service.failures_error(target, statuses) is None
    assert [p.done for p in progress] == [1, 2, 3] and progress[-1].item is statuses[-1]
    for uid, pixels in series["pixels"].items():
        stored = pydicom.dcmread(io.BytesIO(orthanc["server"].instance_file(uid)))
        assert stored.SOPInstanceUID == uid and stored.SeriesInstanceUID == series["series"]
        np.testing.assert_array_equal(stored.pixel_array, pixels)
    assert all(p.exists() for p in series["paths"])


def test_send_refuses_a_file_that_is_not_dicom_before_connecting(node, tmp_path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not DICOM")
    with pytest.raises(ReadError, match="notes.txt"):
        _run(service.send_files(node, [bad]))


def test_per_instance_failure_names_the_instance_and_status_and_keeps_files(tmp_path) -> None:
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    series = write_series(tmp_path / "out", count=3, seed=3, patient_id="SENT-2")
    refused_uid = sorted(series["pixels"])[0]

    def on_store(event):
        return 0xA700 if event.request.AffectedSOPInstanceUID == refused_uid else 0x0000

    scp = AE(ae_title="FULLPACS")
    scp.supported_contexts = AllStoragePresentationContexts
    port = free_port()
    server = scp.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        node = PacsNode("full", ae_title="FULLPACS", host="127.0.0.1", port=port, timeout_s=5).validated()
        statuses, _ = _run(service.send_files(node, series["paths"]))
    finally:
        server.shutdown()
    assert sum(not s.ok for s in statuses) == 1
    error = service.failures_error(node, statuses)
    assert error is not None and refused_uid in str(error) and "0xA700" in str(error)
    assert "1 of 3 instances" in str(error) and error.exit_code == 10
    assert all(p.exists() for p in series["paths"])
