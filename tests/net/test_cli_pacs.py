"""``textdifuse pacs echo|find|get|send`` against the test Orthanc: output, exit codes, one-line errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pydicom
from orthanc_server import ORTHANC_AET, OUR_AET, write_series

from textdifuse_desktop.cli.main import main


def _dimse(orthanc) -> list[str]:
    server = orthanc["server"]
    return ["--host", "127.0.0.1", "--port", str(server.dicom_port), "--aet", ORTHANC_AET,
            "--calling-aet", OUR_AET, "--move-port", str(server.move_port), "--listen-host", "127.0.0.1",
            "--timeout", "10"]


def test_echo_saves_the_node_and_find_uses_it(orthanc, capsys) -> None:
    assert main(["pacs", "echo", *_dimse(orthanc), "--save-as", "lab"]) == 0
    out = capsys.readouterr().out
    assert "C-ECHO to" in out and "saved node 'lab'" in out
    assert main(["pacs", "find", "--node", "lab", "--patient-id", "PID-SECRET*", "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["StudyInstanceUID"] for r in rows] == [orthanc["ct"]["study"]] and "1 study found" in captured.err
    assert main(["pacs", "find", "--url", orthanc["server"].dicomweb_url, "--level", "series",
                 "--study-uid", orthanc["ct"]["study"]]) == 0
    table = capsys.readouterr().out
    assert orthanc["mr"]["series"] in table and table.splitlines()[0].startswith("Modality")


def test_get_into_a_new_folder_and_never_over_an_existing_one(orthanc, tmp_path, capsys) -> None:
    ct = orthanc["ct"]
    out = tmp_path / "ct_copy"
    assert main(["pacs", "get", *_dimse(orthanc), "--method", "move", "--study-uid", ct["study"],
                 "--series-uid", ct["series"], "-o", str(out)]) == 0
    assert "retrieved 5 instances with move" in capsys.readouterr().out
    for path in out.iterdir():
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(ds.pixel_array, ct["pixels"][ds.SOPInstanceUID])
    assert main(["pacs", "get", *_dimse(orthanc), "--study-uid", ct["study"], "--series-uid", ct["series"],
                 "-o", str(out)]) == 5
    assert "never overwrites" in capsys.readouterr().err


def test_send_prints_one_status_per_instance(orthanc, tmp_path, capsys) -> None:
    series = write_series(tmp_path / "send", count=2, seed=11, patient_id="SENT-3")
    assert main(["pacs", "send", "--url", orthanc["server"].dicomweb_url, str(tmp_path / "send")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.endswith("ok") for line in lines)
    uid = next(iter(series["pixels"]))
    assert pydicom.dcmread(io.BytesIO(orthanc["server"].instance_file(uid))).SOPInstanceUID == uid


def test_errors_are_one_line_with_their_family(orthanc, capsys) -> None:
    args = _dimse(orthanc)
    args[args.index(ORTHANC_AET)] = "WRONGAE"
    assert main(["pacs", "echo", *args]) == 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rejected the association" in err
    assert main(["pacs", "find", *_dimse(orthanc), "--date", "2024-01-01"]) == 2
    assert "YYYYMMDD" in capsys.readouterr().err
    assert main(["pacs", "find", "--node", "missing"]) == 2
    assert main(["pacs", "get", "--url", orthanc["server"].dicomweb_url, "--method", "get",
                 "--study-uid", "1.2", "--series-uid", "1.3"]) == 2
