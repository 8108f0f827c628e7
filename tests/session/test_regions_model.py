"""Region edits, undo/redo as bounding-box diffs, feathering and kappa maps."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.session.feather import feather_mask
from textdifuse_desktop.session.region import KAPPA_RANGE
from textdifuse_desktop.session.regions import RegionSet


def _disc(shape, cx, cy, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_stamp_disc_matches_reference_disc():
    rs = RegionSet((64, 80))
    rs.add("r")
    rs.stamp_disc(0, (30.0, 20.0), 6)
    np.testing.assert_array_equal(rs[0].mask, _disc((64, 80), 30, 20, 6))


def test_disc_is_clipped_at_the_border_and_erase_clears():
    rs = RegionSet((32, 32))
    rs.add()
    rs.stamp_disc(0, (0, 0), 5)
    assert rs[0].mask[0, 0] and rs[0].pixel_count == int(_disc((32, 32), 0, 0, 5).sum())
    rs.stamp_disc(0, (0, 0), 3, erase=True)
    assert not rs[0].mask[0, 0] and rs[0].mask[4, 0]
    rs.stamp_disc(0, (500, 500), 5)  # fully outside: no error, no undo step
    assert rs[0].pixel_count == int((_disc((32, 32), 0, 0, 5) & ~_disc((32, 32), 0, 0, 3)).sum())


def test_fill_box_in_any_corner_order_and_volume_slice():
    rs = RegionSet((4, 20, 30))
    rs.add(origin="box")
    rs.fill_box(0, (12, 9, 3, 2), slice_index=2)
    expected = np.zeros((4, 20, 30), bool)
    expected[2, 2:10, 3:13] = True
    np.testing.assert_array_equal(rs[0].mask, expected)
    rs.fill_box(0, (0, 0, 1, 1))  # no slice on a volume: every slice
    assert rs[0].mask[:, 0:2, 0:2].all()
    with pytest.raises(ValueError):
        rs.stamp_disc(0, (1, 1), 2)  # volume needs a slice


def test_stroke_is_one_undo_step_and_undo_redo_restore_exactly():
    rs = RegionSet((50, 60))
    rs.add()
    rs.stamp_disc(0, (10, 10), 3)
    after_first = rs[0].mask.copy()
    with rs.stroke(0):
        for x in range(10, 50, 2):
            rs.stamp_disc(0, (x, 30), 4)
        rs.stamp_disc(0, (20, 30), 2, erase=True)
    after_stroke = rs[0].mask.copy()
    assert rs.undo()
    np.testing.assert_array_equal(rs[0].mask, after_first)
    assert rs.undo()
    assert not rs[0].mask.any()
    assert rs.redo() and rs.redo()
    np.testing.assert_array_equal(rs[0].mask, after_stroke)
    assert not rs.redo()


def test_stroke_undo_stack_is_small_on_a_big_volume():
    shape = (300, 512, 512)
    rs = RegionSet(shape)
    rs.add("tumour", source="B", kappa=2.0)
    with rs.stroke(0):
        for i in range(100):
            rs.stamp_disc(0, (100 + 3 * i, 150 + i), 12, slice_index=150)
    painted = rs[0].mask.copy()
    full_mask_bytes = int(np.prod(shape))
    # the stroke's bounding box is ~25 x 322 x 124 pixels -> 2 x 5 kB packed, against a 78 MB mask
    assert 0 < rs.undo_nbytes < 16_000
    assert rs.undo_nbytes < full_mask_bytes / 1000
    rs.undo()
    assert not rs[0].mask.any()
    rs.redo()
    np.testing.assert_array_equal(rs[0].mask, painted)


def test_stamp_line_has_no_gaps():
    rs = RegionSet((40, 100))
    rs.add()
    rs.stamp_line(0, (5, 20), (95, 20), radius=3)
    assert rs[0].mask[20, 5:96].all()
    assert rs.undo() and not rs[0].mask.any()
    assert rs.undo() and len(rs) == 0 and not rs.can_undo  # the add step


def test_set_mask_diff_and_list_and_property_undo():
    rs = RegionSet((30, 30))
    seen = []
    rs.changed.connect(seen.append)
    a = rs.add("a", source="A")
    b = rs.add("b")
    mask = np.zeros((30, 30), bool)
    mask[5:9, 20:25] = True
    rs.set_mask(1, mask)
    rs.rename(0, "hot")
    rs.set_kappa(0, 2.0)
    rs.set_kappa(0, 2.5)  # merges with the previous kappa step
    rs.set_kappa(0, 99)  # clipped
    assert a.kappa == KAPPA_RANGE[1]
    rs.set_source(1, "a")
    assert b.source == "A"
    rs.remove(0)
    assert rs.regions == [b]
    assert {"list", "mask", "property"} <= set(seen)
    rs.undo()
    assert rs.regions == [a, b]
    rs.undo()  # source
    assert b.source == "B"
    rs.undo()  # all kappa changes in one step
    assert a.kappa == pytest.approx(1.5)
    rs.undo()
    assert a.name == "a"
    rs.undo()
    assert not b.mask.any()
    rs.redo()
    np.testing.assert_array_equal(b.mask, mask)
    rs.stamp_disc(0, (2, 2), 1)  # a new edit drops the redo steps
    assert not rs.can_redo


def test_bad_mask_shape_and_source_are_rejected():
    rs = RegionSet((10, 10))
    with pytest.raises(ImageDataError):
        rs.add(mask=np.ones((5, 5), bool))
    with pytest.raises(ValueError):
        rs.add(source="C")
    with pytest.raises(ImageDataError):
        RegionSet((10,))


def test_feathered_mask_has_soft_edges_and_full_interior():
    mask = np.zeros((64, 64), bool)
    mask[20:40, 20:40] = True
    soft = feather_mask(mask, 3.0)
    assert soft.dtype == np.float32
    assert np.all(soft[mask] == 1.0)
    ring = soft[18:42, 18:42][~mask[18:42, 18:42]]  # the two pixels just outside the square
    assert np.all((ring > 0.0) & (ring < 1.0))
    assert soft[0, 0] == 0.0
    # no jump bigger than a fraction of the range between neighbours: a smooth ramp, not a seam
    assert np.abs(np.diff(soft, axis=1)).max() < 0.2
    assert feather_mask(np.zeros((5, 5), bool), 2.0) is None


def test_feathering_of_volume_is_in_plane_only():
    mask = np.zeros((5, 30, 30), bool)
    mask[2, 10:20, 10:20] = True
    soft = feather_mask(mask, 2.0)
    assert soft[1].max() == 0.0 and soft[3].max() == 0.0
    assert 0.0 < soft[2, 9, 15] < 1.0


def test_kappa_maps_values():
    rs = RegionSet((60, 60))
    rs.add("ir", source="A", kappa=2.0)
    rs.fill_box(0, (5, 5, 20, 20))
    rs.add("vis", source="B", kappa=0.5)
    rs.fill_box(1, (35, 35, 50, 50))
    rs.add("hidden", source="A", kappa=3.0, visible=False)
    rs.fill_box(2, (5, 40, 15, 55))
    ka, kb, blend = rs.kappa_maps(feather_px=2.0)
    assert ka.shape == kb.shape == blend.shape == (60, 60)
    assert ka.dtype == kb.dtype == blend.dtype == np.float32
    assert ka[10, 10] == pytest.approx(2.0) and kb[10, 10] == 1.0
    assert kb[40, 40] == pytest.approx(0.5) and ka[40, 40] == 1.0
    assert ka[45, 10] == 1.0 and blend[45, 10] == 0.0  # hidden region ignored
    assert blend[10, 10] == 1.0 and blend[27, 27] == 0.0
    assert 1.0 < ka[10, 21] < 2.0 and 0.0 < blend[10, 21] < 1.0  # feathered edge
    hard_a, _, hard_blend = rs.kappa_maps(feather_px=0)
    assert hard_a[10, 21] == 1.0 and hard_blend[10, 21] == 0.0


def test_kappa_maps_of_one_slice_match_the_volume():
    rs = RegionSet((6, 40, 40))
    rs.add(source="B", kappa=2.5)
    rs.stamp_disc(0, (20, 20), 6, slice_index=3)
    full = rs.kappa_maps(3.0)
    part = rs.kappa_maps(3.0, slice_index=3)
    for vol, sl in zip(full, part):
        np.testing.assert_array_equal(vol[3], sl)
    empty = RegionSet((8, 8)).kappa_maps()
    assert np.all(empty[0] == 1) and np.all(empty[1] == 1) and not empty[2].any()


def test_for_image_uses_the_grid_and_affine():
    from textdifuse_desktop.imaging.image import Image, affine_from_spacing

    affine = affine_from_spacing((0.5, 0.5, 2.0))
    volume = Image(np.zeros((4, 10, 12), np.float32), axes="ZYX", affine=affine)
    rs = RegionSet.for_image(volume)
    assert rs.shape == (4, 10, 12) and np.allclose(rs.affine, affine)
    assert RegionSet.for_image(Image(np.zeros((10, 12, 3), np.float32), axes="YXC")).shape == (10, 12)
    assert RegionSet.for_image(Image(np.zeros((5, 10, 12), np.float32), axes="TYX")).shape == (10, 12)
