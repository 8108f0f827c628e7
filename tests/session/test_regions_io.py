"""Saving/loading region sets (2D PNG, 3D NIfTI) and the export helpers."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from textdifuse_desktop.errors import ImageDataError, SessionError
from textdifuse_desktop.imaging.image import Image, affine_from_spacing
from textdifuse_desktop.session import region_io
from textdifuse_desktop.session.regions import RegionSet


def _assert_same(a: RegionSet, b: RegionSet) -> None:
    assert a.shape == b.shape and len(a) == len(b)
    np.testing.assert_allclose(a.affine, b.affine)
    for ra, rb in zip(a, b):
        assert (ra.name, ra.source, ra.kappa, ra.origin, ra.color, ra.visible) == \
               (rb.name, rb.source, rb.kappa, rb.origin, rb.color, rb.visible)
        np.testing.assert_array_equal(ra.mask, rb.mask)


def test_round_trip_2d_png(tmp_path, rng):
    rs = RegionSet((37, 53))
    rs.add("hot objects", source="A", kappa=2.25, origin="proposal", mask=rng.random((37, 53)) > 0.7)
    rs.add("road", source="B", kappa=0.75, origin="box", visible=False)
    rs.fill_box(1, (3, 4, 20, 10))
    rs.save(tmp_path / "regions")
    files = sorted(p.name for p in (tmp_path / "regions").iterdir())
    assert files == ["mask_000.png", "mask_001.png", "regions.json"]
    loaded = RegionSet.load(tmp_path / "regions")
    _assert_same(rs, loaded)
    assert not loaded.can_undo


def test_round_trip_3d_nifti_keeps_the_affine(tmp_path):
    affine = affine_from_spacing((0.9, 0.8, 3.0), origin=(-100.0, -90.0, 20.0))
    rs = RegionSet((7, 24, 31), affine=affine)
    rs.add("lesion", source="B", kappa=3.0)
    rs.stamp_disc(0, (12, 9), 4, slice_index=5)
    rs.fill_box(0, (0, 0, 30, 2), slice_index=0)
    rs.save(tmp_path)
    mask_file = tmp_path / "mask_000.nii.gz"
    nifti = nib.load(mask_file)
    # other tools see the mask in NIfTI (column, row, slice) order with the source affine
    assert nifti.shape == (31, 24, 7)
    np.testing.assert_allclose(nifti.affine, affine)
    assert np.asarray(nifti.dataobj)[12, 9, 5] == 1
    _assert_same(rs, RegionSet.load(tmp_path))


def test_saving_fewer_regions_removes_stale_masks(tmp_path):
    rs = RegionSet((8, 8))
    rs.add()
    rs.add()
    rs.save(tmp_path)
    rs.remove(1)
    rs.save(tmp_path)
    assert not (tmp_path / "mask_001.png").exists()
    assert len(RegionSet.load(tmp_path)) == 1


def test_load_errors_name_the_folder(tmp_path):
    with pytest.raises(SessionError, match="regions.json"):
        RegionSet.load(tmp_path)
    rs = RegionSet((8, 8))
    rs.add()
    rs.save(tmp_path)
    (tmp_path / "mask_000.png").unlink()
    with pytest.raises(SessionError, match="mask_000.png") as info:
        RegionSet.load(tmp_path)
    assert info.value.path == tmp_path
    (tmp_path / "regions.json").write_text("{not json")
    with pytest.raises(SessionError, match="corrupt"):
        RegionSet.load(tmp_path)
    index = {"schema_version": 99, "shape": [8, 8], "regions": []}
    (tmp_path / "regions.json").write_text(json.dumps(index))
    with pytest.raises(SessionError, match="schema"):
        RegionSet.load(tmp_path)


def test_label_map_and_exports_call_the_writers(tmp_path, monkeypatch):
    rs = RegionSet((10, 12))
    rs.add("a")
    rs.fill_box(0, (0, 0, 5, 5))
    rs.add("b")
    rs.fill_box(1, (4, 4, 8, 8))
    rs.add("empty")
    labels = region_io.label_map(rs)
    assert labels.dtype == np.uint16
    assert labels[0, 0] == 1 and labels[4, 4] == 2 and labels[9, 11] == 0

    calls = {}
    from textdifuse_desktop.io import writers

    def fake_seg(masks, names, reference, path, *, deidentify=False):
        calls["seg"] = (len(masks), list(names), deidentify)
        return tmp_path / "seg.dcm"

    def fake_label(label_map, reference, path):
        calls["label"] = label_map.copy()
        return tmp_path / "labels.nii.gz"

    monkeypatch.setattr(writers, "write_seg", fake_seg, raising=False)
    monkeypatch.setattr(writers, "write_label_nifti", fake_label, raising=False)
    reference = Image(np.zeros((10, 12), np.float32), modality="MR")
    assert region_io.export_seg(rs, reference, tmp_path / "seg.dcm", deidentify=True) == tmp_path / "seg.dcm"
    assert calls["seg"] == (2, ["a", "b"], True)  # the empty region is skipped
    region_io.export_label_nifti(rs, reference, tmp_path / "labels.nii.gz")
    np.testing.assert_array_equal(calls["label"], labels)
    with pytest.raises(ImageDataError, match="grid"):
        region_io.export_seg(rs, Image(np.zeros((5, 5), np.float32)), tmp_path / "x.dcm")
    with pytest.raises(ImageDataError, match="no painted"):
        region_io.export_label_nifti(RegionSet((10, 12)), reference, tmp_path / "y.nii.gz")
