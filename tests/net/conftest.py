"""A real Orthanc for the network tests: started once per session on free loopback ports, stopped after.

Skipped with the reason when the Debian packages ``orthanc`` and
``orthanc-dicomweb`` are not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from orthanc_server import (
    Orthanc,
    dicomweb_plugin,
    dimse_node,
    orthanc_binary,
    web_node,
    write_series,
)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings, node list and PACS cache go to the test's tmp folder."""
    monkeypatch.setenv("TEXTDIFUSE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TEXTDIFUSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TEXTDIFUSE_DICOMWEB_TOKEN", raising=False)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A running Orthanc with two uploaded series (CT, MR) of one study and the real PET slice of tests/data."""
    if orthanc_binary() is None or dicomweb_plugin() is None:
        pytest.skip("Orthanc with its DICOMweb plugin is not installed "
                    "(apt-get install orthanc orthanc-dicomweb; .ci/run does this)")
    work = tmp_path_factory.mktemp("orthanc")
    server = Orthanc(work).start()
    try:
        ct = write_series(work / "ct", count=5, modality="CT", seed=1)
        mr = write_series(work / "mr", count=3, modality="MR", study_uid=ct["study"], seed=2)
        pet = Path(__file__).parents[1] / "data" / "io" / "pet_acrin_flt_breast_slice.dcm"
        server.upload(ct["paths"] + mr["paths"] + [pet])
        yield {"server": server, "ct": ct, "mr": mr, "pet": pet, "work": work}
    finally:
        server.stop()


@pytest.fixture
def node(orthanc: dict):
    """DIMSE node of the test Orthanc."""
    return dimse_node(orthanc)


@pytest.fixture
def webnode(orthanc: dict):
    """DICOMweb node of the test Orthanc."""
    return web_node(orthanc)
