"""Sessions keep the fused result and the three-plane view state exactly (issue 18, point 5)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from textdifuse_desktop.errors import SessionError
from textdifuse_desktop.imaging.image import Image, affine_from_spacing
from textdifuse_desktop.session.document import SessionDocument
from textdifuse_desktop.session.result_io import (
    META_NAME,
    PIXELS_NAME,
    result_from_files,
    result_to_files,
)
from textdifuse_desktop.session.view_state import PaneView, ViewState


def _fused() -> Image:
    rng = np.random.default_rng(4)
    affine = affine_from_spacing((0.9, 1.3, 3.5), origin=(-10.0, 4.0, 22.0))
    return Image(rng.random((6, 10, 12)).astype(np.float32), axes="ZYX", affine=affine, modality="MR",
                 units="", window=(0.4, 0.9))


def test_result_files_round_trip_bit_exact() -> None:
    image = _fused()
    files = result_to_files(image, {"params": {"method": "laplacian"}, "seconds": 1.5})
    back, record = result_from_files(files.__getitem__)
    assert np.array_equal(back.pixels, image.pixels) and back.pixels.dtype == np.float32
    assert np.array_equal(back.affine, image.affine)
    assert (back.axes, back.modality, back.window) == ("ZYX", "MR", (0.4, 0.9))
    assert record["params"]["method"] == "laplacian"


def test_corrupt_or_incomplete_result_names_the_problem(tmp_path) -> None:
    files = result_to_files(_fused())
    with pytest.raises(SessionError, match="incomplete"):
        result_from_files({META_NAME: files[META_NAME]}.__getitem__, tmp_path / "s.tdfsession")
    with pytest.raises(SessionError, match="corrupt"):
        result_from_files({META_NAME: files[META_NAME], PIXELS_NAME: b"garbage"}.__getitem__)


def test_document_keeps_result_crosshair_and_planes(tmp_path) -> None:
    source = tmp_path / "a.nii.gz"
    source.write_bytes(b"x")
    document = SessionDocument()
    document.set_source("A", source)
    document.set_source("B", source)
    document.fused, document.fused_record = _fused(), {"device": "cpu"}
    document.view_state = ViewState(panes={"fused": PaneView(colormap="Hot", extra={"plane_ranges": {
        "axial": [[-1.0, 2.0], [3.0, 4.0]]}})}, crosshair=(1.25, -3.5, 40.0), planes="2x2")
    path = document.save(tmp_path / "s.tdfsession")
    with zipfile.ZipFile(path) as archive:
        assert {"result/fused.npy", "result/fused.json"} <= set(archive.namelist())
    loaded = SessionDocument.load(path)
    assert np.array_equal(loaded.fused.pixels, document.fused.pixels)
    assert loaded.fused_record == {"device": "cpu"}
    assert loaded.view_state == document.view_state
    assert loaded.view_state.crosshair == (1.25, -3.5, 40.0) and loaded.view_state.planes == "2x2"


def test_sessions_without_a_result_or_planes_still_load(tmp_path) -> None:
    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    document = SessionDocument()
    document.set_source("A", source)
    loaded = SessionDocument.load(document.save(tmp_path / "old.tdfsession"))
    assert loaded.fused is None and loaded.view_state.crosshair is None and loaded.view_state.planes == ""
    assert ViewState.from_dict({"crosshair": ["a", 1, 2]}).crosshair is None
