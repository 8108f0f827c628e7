"""Query and retrieve against a real Orthanc: C-FIND, C-GET, C-MOVE, QIDO-RS, WADO-RS; pixels and UIDs compared."""

from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest
from orthanc_server import SECRET_ID, SECRET_NAME, dimse_node

from textdifuse_desktop.io import read_image
from textdifuse_desktop.net import service
from textdifuse_desktop.net.query import QueryFilter


def test_echo_dimse_and_dicomweb(node, webnode) -> None:
    assert service.echo(node).startswith("C-ECHO to orthanc")
    assert service.echo(webnode).startswith("QIDO-RS at orthanc-web")


@pytest.mark.parametrize("which", ["dimse", "web"])
def test_study_and_series_query(orthanc, node, webnode, which) -> None:
    target = node if which == "dimse" else webnode
    studies = service.find(target, "study", QueryFilter(patient_id="PID-SECRET*"))
    assert [row["StudyInstanceUID"] for row in studies.rows] == [orthanc["ct"]["study"]]
    assert studies.rows[0]["PatientName"] == SECRET_NAME and not studies.truncated
    series = service.find(target, "series", QueryFilter(study_uid=orthanc["ct"]["study"]))
    by_uid = {row["SeriesInstanceUID"]: row for row in series.rows}
    assert set(by_uid) == {orthanc["ct"]["series"], orthanc["mr"]["series"]}
    assert by_uid[orthanc["mr"]["series"]]["Modality"] == "MR"
    assert service.find(target, "study", QueryFilter(date_from="20240301", date_to="20240331",
                                                     modality="CT")).rows
    assert service.find(target, "study", QueryFilter(accession="NOPE")).rows == []


@pytest.mark.parametrize("method", ["get", "move", "wado"])
def test_retrieve_series_matches_what_was_uploaded(orthanc, node, webnode, method, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    target = webnode if method == "wado" else node
    ct = orthanc["ct"]
    progress = []
    gen = service.retrieve_series(target, ct["study"], ct["series"], method=method)
    try:
        while True:
            progress.append(next(gen))
    except StopIteration as stop:
        result = stop.value
    assert result.count == len(ct["pixels"]) and result.folder.is_dir() and not result.folder.name.startswith(".")
    assert progress[-1].done == progress[-1].total == len(ct["pixels"])
    for path in result.files:
        ds = pydicom.dcmread(path)
        assert ds.SeriesInstanceUID == ct["series"] and path.name == f"{ds.SOPInstanceUID}.dcm"
        np.testing.assert_array_equal(ds.pixel_array, ct["pixels"][ds.SOPInstanceUID])
    volume = read_image(result.folder)
    assert volume.pixels.shape == (5, 16, 20)
    assert SECRET_NAME not in caplog.text and SECRET_ID not in caplog.text


def test_two_retrieves_never_share_a_folder(orthanc, node) -> None:
    mr = orthanc["mr"]
    first = _run(service.retrieve_series(node, mr["study"], mr["series"]))
    second = _run(service.retrieve_series(node, mr["study"], mr["series"]))
    assert first.folder != second.folder and all(p.exists() for p in first.files)


def test_real_pet_slice_round_trips(orthanc, node) -> None:
    ref = pydicom.dcmread(orthanc["pet"])
    result = _run(service.retrieve_series(node, ref.StudyInstanceUID, ref.SeriesInstanceUID))
    got = pydicom.dcmread(result.files[0])
    assert got.SOPInstanceUID == ref.SOPInstanceUID
    np.testing.assert_array_equal(got.pixel_array, ref.pixel_array)


def test_move_to_an_unknown_destination_names_the_ae_title(orthanc) -> None:
    from textdifuse_desktop.errors import RemoteStatusError

    node = dimse_node(orthanc, calling_ae="STRANGER", retrieve="move")
    ct = orthanc["ct"]
    with pytest.raises(RemoteStatusError, match="STRANGER"):
        _run(service.retrieve_series(node, ct["study"], ct["series"]))


def _run(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value
