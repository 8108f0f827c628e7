"""Nodes: validation, the JSON file (without tokens), token storage, query validation (no server needed)."""

from __future__ import annotations

import json

import pytest

from textdifuse_desktop.errors import SessionError, UsageError
from textdifuse_desktop.net import secrets
from textdifuse_desktop.net.nodes import (
    PacsNode,
    find_node,
    load_nodes,
    nodes_path,
    save_nodes,
)
from textdifuse_desktop.net.query import QueryFilter, QueryResult, find_identifier


def test_nodes_round_trip_and_tokens_stay_out_of_the_file(tmp_path) -> None:
    dimse = PacsNode("ward", ae_title="PACS1", host="pacs.local", port=11112, retrieve="move", move_port=11113)
    web = PacsNode("cloud", protocol="dicomweb", url="https://pacs.example/dicom-web")
    where = secrets.store_token("cloud", "s3cr3t-token")
    path = save_nodes([dimse, web])
    assert path == nodes_path() and path.parent == tmp_path / "config"
    assert load_nodes() == [dimse, web]
    assert "s3cr3t-token" not in path.read_text() and where in ("keyring", "memory")
    assert secrets.load_token("cloud") == "s3cr3t-token"
    secrets.store_token("cloud", None)
    assert secrets.load_token("cloud") is None
    assert find_node(load_nodes(), "ward").port == 11112
    with pytest.raises(UsageError, match="known: ward, cloud"):
        find_node(load_nodes(), "nope")


def test_environment_token_wins(monkeypatch) -> None:
    monkeypatch.setenv(secrets.ENV_TOKEN, "from-env")
    assert secrets.load_token("any") == "from-env"
    assert "keyring" in secrets.storage_note() or "memory" in secrets.storage_note()


@pytest.mark.parametrize("changes, message", [
    ({"ae_title": ""}, "called AE title must have 1 to 16"),
    ({"ae_title": "A" * 17}, "1 to 16"),
    ({"calling_ae": "BAD\\AE"}, "without backslash"),
    ({"port": 0}, "port must be 1..65535"),
    ({"host": " "}, "host is empty"),
    ({"retrieve": "push"}, "retrieve must be"),
    ({"protocol": "dicomweb", "url": "ftp://x"}, "must start with http"),
    ({"timeout_s": 0}, "timeout"),
])
def test_invalid_nodes_name_the_field(changes, message) -> None:
    values = dict(name="n", ae_title="PACS", host="h", port=104)
    values.update(changes)
    with pytest.raises(UsageError, match=message):
        PacsNode(**values).validated()


def test_duplicate_names_and_a_corrupt_file(tmp_path) -> None:
    node = PacsNode("same", ae_title="A", host="h")
    with pytest.raises(UsageError, match="same name"):
        save_nodes([node, node])
    nodes_path().parent.mkdir(parents=True, exist_ok=True)
    nodes_path().write_text(json.dumps({"nodes": [{"name": "x", "port": "many"}]}))
    with pytest.raises(SessionError, match="unreadable"):
        load_nodes()


def test_query_validation_and_identifier() -> None:
    with pytest.raises(UsageError, match="YYYYMMDD"):
        find_identifier("study", QueryFilter(date_from="2024-01-01"))
    with pytest.raises(UsageError, match="empty"):
        find_identifier("study", QueryFilter(date_from="20240201", date_to="20240101"))
    with pytest.raises(UsageError, match="study instance UID"):
        find_identifier("series", QueryFilter())
    ds = find_identifier("study", QueryFilter(patient_name="DOE*", date_from="20240101", modality="CT"))
    assert ds.QueryRetrieveLevel == "STUDY" and ds.StudyDate == "20240101-" and ds.ModalitiesInStudy == "CT"
    assert ds.PatientName == "DOE*" and ds.StudyInstanceUID == ""
    assert QueryResult("series", [{}]).message == "1 series found"
    assert QueryResult("study", [{}, {}]).message == "2 studies found"
