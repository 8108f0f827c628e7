"""Axial, coronal and sagittal planes in world orientation (imaging.planes): labels, aspect, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.image import LPS_TO_RAS, Image, affine_from_spacing
from textdifuse_desktop.imaging.planes import (
    PLANES,
    VolumeGeometry,
    assign_axes,
    plane_labels,
    value_at,
)

SHAPE = (7, 9, 11)  # nz, ny, nx


def _affines() -> dict[str, np.ndarray]:
    ras = affine_from_spacing((0.8, 1.5, 3.0), origin=(-4.0, 10.0, 20.0))
    lps = LPS_TO_RAS @ affine_from_spacing((0.8, 1.5, 3.0), origin=(4.0, -10.0, 20.0))  # DICOM axial, read to RAS
    sagittal = np.zeros((4, 4))  # columns run A, rows run S (downwards: -S), slices run R
    sagittal[1, 0], sagittal[2, 1], sagittal[0, 2], sagittal[3, 3] = 1.2, -0.9, 2.5, 1.0
    sagittal[:3, 3] = (-8.0, -5.0, 30.0)
    angle = np.deg2rad(12.0)
    oblique = affine_from_spacing((1.0, 1.0, 2.0))
    oblique[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                                [0, 0, 1]]) @ oblique[:3, :3]
    return {"ras": ras, "lps": lps, "sagittal": sagittal, "oblique": oblique}


@pytest.fixture(params=list(_affines()))
def geometry(request: pytest.FixtureRequest) -> VolumeGeometry:
    return VolumeGeometry(_affines()[request.param], SHAPE)


def test_labels_follow_3d_slicer_radiological_convention() -> None:
    assert plane_labels("axial") == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert plane_labels("coronal") == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert plane_labels("sagittal") == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    with pytest.raises(ImageDataError, match="unknown plane"):
        plane_labels("oblique")


def test_assign_axes_handles_permutations_and_flips() -> None:
    world_of, flipped = assign_axes(_affines()["sagittal"][:3, :3])
    assert world_of == (1, 2, 0)
    assert flipped == (False, True, False)
    world_of, flipped = assign_axes(_affines()["lps"][:3, :3])
    assert world_of == (0, 1, 2) and flipped == (True, True, False)
    with pytest.raises(ImageDataError, match="degenerate"):
        assign_axes(np.zeros((3, 3)))


def test_world_voxel_round_trip(geometry: VolumeGeometry) -> None:
    ijk = np.array([3.0, 4.5, 2.0])
    assert np.allclose(geometry.world_to_voxel(geometry.voxel_to_world(ijk)), ijk)
    assert np.allclose(geometry.canonical_to_voxel(geometry.voxel_to_canonical(ijk)), ijk)


def test_marker_voxel_appears_under_its_screen_point_in_every_plane(geometry: VolumeGeometry) -> None:
    pixels = np.zeros(SHAPE, dtype=np.float32)
    k, j, i = 2, 6, 3
    pixels[k, j, i] = 1.0
    xyz = geometry.voxel_to_world(np.array([i, j, k], dtype=float))
    for plane in PLANES:
        index = geometry.slice_index(plane, xyz)
        image = geometry.plane_pixels(pixels, plane, index)
        horizontal, vertical, normal = {"axial": (0, 1, 2), "coronal": (0, 2, 1), "sagittal": (1, 2, 0)}[plane]
        assert image.shape == (geometry.size[vertical], geometry.size[horizontal])
        assert image.max() == 1.0, plane
        row, col = np.unravel_index(int(np.argmax(image)), image.shape)
        left, top, width, height = geometry.plane_rect(plane)
        # Pixel size on screen is the voxel spacing along the plane's axes: anisotropic voxels keep their aspect.
        assert width / image.shape[1] == pytest.approx(geometry.spacing[horizontal])
        assert height / image.shape[0] == pytest.approx(geometry.spacing[vertical])
        u, v = geometry.screen_point(plane, xyz)
        assert left + (col + 0.5) * width / image.shape[1] == pytest.approx(u)
        assert top + (row + 0.5) * height / image.shape[0] == pytest.approx(v)
        back = geometry.world_from_screen(plane, u, v, xyz)
        assert np.allclose(back, xyz, atol=1e-9)


def test_screen_directions_are_anatomical() -> None:
    """A point further Right is further left on screen; further Anterior/Superior is higher (smaller v)."""
    for affine in _affines().values():
        geometry = VolumeGeometry(affine, SHAPE)
        base = geometry.center
        for plane in PLANES:
            u0, v0 = geometry.screen_point(plane, base)
            horizontal, vertical, _ = {"axial": (0, 1, 2), "coronal": (0, 2, 1), "sagittal": (1, 2, 0)}[plane]
            step_h = np.zeros(3)
            step_h[horizontal] = 5.0
            step_v = np.zeros(3)
            step_v[vertical] = 5.0
            assert geometry.screen_point(plane, base + step_h)[0] < u0
            assert geometry.screen_point(plane, base + step_v)[1] < v0


def test_at_slice_and_clamping(geometry: VolumeGeometry) -> None:
    xyz = geometry.center
    for plane in PLANES:
        moved = geometry.at_slice(plane, 0, xyz)
        assert geometry.slice_index(plane, moved) == 0
        assert geometry.slice_index(plane, geometry.at_slice(plane, 999, xyz)) == geometry.slice_count(plane) - 1
    far = geometry.center + 1e4
    assert geometry.nearest_voxel(far) is None
    assert geometry.nearest_voxel(geometry.clamp(far)) is not None


def test_colour_volumes_keep_channels_and_value_at_reads_the_voxel() -> None:
    rng = np.random.default_rng(1)
    image = Image(rng.random((*SHAPE, 3)), axes="ZYXC", affine=_affines()["lps"])
    geometry = VolumeGeometry.of(image)
    assert geometry.plane_pixels(image.pixels, "coronal", 3).shape == (SHAPE[0], SHAPE[2], 3)
    grey = Image(rng.random(SHAPE), axes="ZYX", affine=_affines()["sagittal"])
    geo = VolumeGeometry.of(grey)
    xyz = geo.voxel_to_world(np.array([4, 5, 6]))
    assert value_at(grey, geo, xyz) == pytest.approx(float(grey.pixels[6, 5, 4]))
    assert value_at(grey, geo, xyz + 1e4) is None
    with pytest.raises(ImageDataError, match="volume"):
        VolumeGeometry.of(Image(np.zeros((4, 4)), axes="YX"))
