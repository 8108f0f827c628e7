"""Session files: round trip, relocation, missing sources, migrations."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

import numpy as np
import pytest

from textdifuse_desktop.errors import OverwriteInputError, SessionError
from textdifuse_desktop.session import document as doc_module
from textdifuse_desktop.session.document import SessionDocument
from textdifuse_desktop.session.regions import RegionSet
from textdifuse_desktop.session.view_state import PaneView, ViewState


@dataclass
class _Params:  # stands in for fusion.request.FusionParams
    method: str = "textdifuse"
    steps: int = 8
    seed: int = 3


def _sources(folder):
    a, b = folder / "mri.nii.gz", folder / "pet"
    a.write_bytes(b"not read by the session")
    b.mkdir()
    return a, b


def _document(folder) -> SessionDocument:
    a, b = _sources(folder)
    document = SessionDocument(notes="demo")
    document.set_source("A", a, frame=2)
    document.set_source("B", b, series_uid="1.2.3", suv=True, temperature_scale=[0.04, -273.15])
    document.set_fusion_params(_Params())
    document.view_state = ViewState(
        panes={"A": PaneView(slice_index=4, window=(40.0, 400.0), colormap="gray", x_range=(0, 64), y_range=(3, 50)),
               "fused": PaneView(colormap="hot", extra={"opacity": 0.5})},
        link_views=False, overlay_mode="regions", active_region=1)
    regions = RegionSet((6, 20, 30))
    regions.add("tumour", source="B", kappa=2.0)
    regions.stamp_disc(0, (10, 10), 4, slice_index=4)
    regions.add("liver", source="A", kappa=0.8, origin="box")
    regions.fill_box(1, (1, 1, 8, 8), slice_index=2)
    document.regions = regions
    return document


def test_round_trip(tmp_path):
    document = _document(tmp_path)
    path = document.save(tmp_path / "work.tdfsession")
    with zipfile.ZipFile(path) as archive:
        assert {"session.json", "regions/regions.json", "regions/mask_000.nii.gz"} <= set(archive.namelist())
    loaded = SessionDocument.load(path)
    assert loaded.sources == document.sources
    assert loaded.sources["B"].options["temperature_scale"] == [0.04, -273.15]
    assert loaded.fusion_params == {"method": "textdifuse", "steps": 8, "seed": 3}
    assert loaded.view_state == document.view_state
    assert loaded.notes == "demo"
    assert [r.name for r in loaded.regions] == ["tumour", "liver"]
    for a, b in zip(loaded.regions, document.regions):
        np.testing.assert_array_equal(a.mask, b.mask)
        assert (a.kappa, a.source, a.origin) == (b.kappa, b.source, b.origin)


def test_missing_source_names_the_file_and_can_be_relocated(tmp_path):
    document = _document(tmp_path)
    path = document.save(tmp_path / "s.tdfsession")
    (tmp_path / "mri.nii.gz").unlink()
    with pytest.raises(SessionError, match="source A") as info:
        SessionDocument.load(path)
    assert info.value.path == tmp_path / "mri.nii.gz"
    assert "relocate" in str(info.value).lower()
    lenient = SessionDocument.load(path, check_sources=False)
    assert lenient.missing_sources() == {"A": str(tmp_path / "mri.nii.gz")}
    new = tmp_path / "elsewhere.nii.gz"
    new.write_bytes(b"x")
    relocated = SessionDocument.load(path, relocate={"A": new})
    assert relocated.sources["A"].path == str(new) and relocated.sources["A"].options == {"frame": 2}


def test_moving_the_whole_folder_keeps_sources_found(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    path = _document(project).save(project / "s.tdfsession")
    moved = tmp_path / "moved"
    project.rename(moved)
    loaded = SessionDocument.load(moved / path.name)
    assert loaded.sources["A"].path == str(moved / "mri.nii.gz")


def test_refuses_to_overwrite_a_source(tmp_path):
    document = _document(tmp_path)
    with pytest.raises(OverwriteInputError):
        document.save(tmp_path / "mri.nii.gz")
    assert (tmp_path / "mri.nii.gz").read_bytes() == b"not read by the session"


def test_corrupt_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.tdfsession"
    bad.write_bytes(b"PK garbage")
    with pytest.raises(SessionError, match="corrupt"):
        SessionDocument.load(bad)
    with zipfile.ZipFile(tmp_path / "other.tdfsession", "w") as archive:
        archive.writestr("session.json", '{"format": "something-else", "schema_version": 1}')
    with pytest.raises(SessionError, match="not a TextDiFuse session"):
        SessionDocument.load(tmp_path / "other.tdfsession")
    with pytest.raises(SessionError, match="does not exist"):
        SessionDocument.load(tmp_path / "nope.tdfsession")


def test_schema_migration_hook_and_newer_versions(tmp_path, monkeypatch):
    path = SessionDocument(notes="x").save(tmp_path / "s.tdfsession")
    text = zipfile.ZipFile(path).read("session.json").decode()
    old = tmp_path / "old.tdfsession"
    with zipfile.ZipFile(old, "w") as archive:
        archive.writestr("session.json", text.replace('"schema_version": 1', '"schema_version": 0')
                         .replace('"notes": "x"', '"comment": "legacy"'))

    def v0_to_v1(data):
        data["notes"] = data.pop("comment")
        return data

    with pytest.raises(SessionError, match="no migration"):
        SessionDocument.load(old)
    monkeypatch.setitem(doc_module.MIGRATIONS, 0, v0_to_v1)
    assert SessionDocument.load(old).notes == "legacy"
    newer = tmp_path / "newer.tdfsession"
    with zipfile.ZipFile(newer, "w") as archive:
        archive.writestr("session.json", text.replace('"schema_version": 1', '"schema_version": 7'))
    with pytest.raises(SessionError, match="newer version"):
        SessionDocument.load(newer)


def test_view_state_is_lenient():
    state = ViewState.from_dict({"panes": {"A": {"slice_index": "x", "window": [1], "zoom_mode": "fit"}},
                                 "overlay_mode": None, "active_region": "2"})
    pane = state.panes["A"]
    assert pane.slice_index == 0 and pane.window is None and pane.extra == {"zoom_mode": "fit"}
    assert state.overlay_mode == "none" and state.active_region is None
    assert ViewState.from_dict(state.to_dict()) == state
