"""Pair alignment and rigid registration."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.align import align_pair
from textdifuse_desktop.imaging.image import Image, Provenance, affine_from_spacing
from textdifuse_desktop.imaging.registration import apply_rigid, register_rigid
from textdifuse_desktop.imaging.resample import resample_to


def _rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = {"x": (1, 2), "y": (0, 2), "z": (0, 1)}[axis]
    matrix = np.eye(4)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def _phantom(shape=(40, 48, 48)) -> np.ndarray:
    """An asymmetric head-like phantom: ellipsoid shell, two off-centre blobs, a bar."""
    z, y, x = np.indices(shape).astype(np.float32)
    cz, cy, cx = (np.array(shape) - 1) / 2
    r = ((x - cx) / 18) ** 2 + ((y - cy) / 20) ** 2 + ((z - cz) / 15) ** 2
    volume = np.where(r < 1, 40.0, 0.0) + np.where((r > 0.8) & (r < 1), 60.0, 0.0)
    volume += 80 * np.exp(-((x - cx - 8) ** 2 + (y - cy + 6) ** 2 + (z - cz - 4) ** 2) / 12)
    volume += 50 * np.exp(-((x - cx + 6) ** 2 + (y - cy - 9) ** 2 + (z - cz + 5) ** 2) / 20)
    volume += np.where((abs(x - cx + 2) < 2) & (abs(z - cz) < 8) & (abs(y - cy - 3) < 10), 30.0, 0.0)
    return volume.astype(np.float32)


def test_2d_pairs_of_different_size_are_resized_with_warning() -> None:
    a = Image(np.zeros((48, 64)))
    b = Image(np.ones((24, 32, 3)), axes="YXC")
    _, b2, warnings = align_pair(a, b)
    assert b2.pixels.shape == (48, 64, 3)
    assert warnings and "resized" in warnings[0]


def test_2d_volume_mix_is_refused() -> None:
    with pytest.raises(GeometryError, match="cannot fuse"):
        align_pair(Image(np.zeros((4, 4))), Image(np.zeros((3, 4, 4)), axes="ZYX"))


def test_volumes_without_overlap_raise_clear_error() -> None:
    a = Image(np.zeros((10, 10, 10)), axes="ZYX", provenance=Provenance(source_paths=("mri.nii",)))
    b = Image(np.zeros((10, 10, 10)), axes="ZYX", affine=affine_from_spacing(origin=(500, 0, 0)),
              provenance=Provenance(source_paths=("pet.nii",)))
    with pytest.raises(GeometryError, match="no spatial overlap") as info:
        align_pair(a, b)
    assert "pet.nii" in str(info.value)


def test_volumes_are_put_on_reference_grid_by_affine() -> None:
    a = Image(np.zeros((20, 24, 24)), axes="ZYX", affine=affine_from_spacing((1, 1, 1)))
    b = Image(_phantom((10, 12, 12)), axes="ZYX", affine=affine_from_spacing((2, 2, 2)))
    _, b2, _ = align_pair(a, b)
    assert b2.pixels.shape == (20, 24, 24)
    np.testing.assert_allclose(b2.affine, a.affine)


def test_rigid_registration_recovers_known_transform() -> None:
    spacing = 2.0
    fixed_data = _phantom()
    fixed = Image(fixed_data, axes="ZYX", affine=affine_from_spacing((spacing,) * 3, origin=(-47, -47, -39)))
    # Truth: fixed world -> moving world.
    truth = _rotation("z", 7.0) @ _rotation("x", -4.0)
    truth[:3, 3] = (5.0, -6.0, 3.0)
    # Build the moving image on its own grid: sample the fixed content through the inverse map,
    # with a different contrast (inverted intensities) so mutual information is needed.
    moving_grid = Image(np.zeros_like(fixed_data), axes="ZYX", affine=truth @ fixed.affine)
    moving = resample_to(fixed, moving_grid)
    # Pretend the scanner reported no motion (same affine as fixed): registration must find it.
    moving = moving.with_pixels(200.0 - moving.pixels, affine=fixed.affine.copy())
    result = register_rigid(fixed, moving, iterations=300, sampling=0.3)
    # Compare the recovered fixed->moving world map with the truth at points spread over the phantom.
    nz, ny, nx = fixed.grid_shape
    pts = np.array([[i, j, k, 1.0] for i in (10, nx - 10) for j in (10, ny - 10) for k in (8, nz - 8)]).T
    world = fixed.affine @ pts
    true_moving_world = fixed.affine @ np.linalg.inv(truth @ fixed.affine) @ world
    found_moving_world = result.matrix @ world
    error_mm = np.linalg.norm(true_moving_world[:3] - found_moving_world[:3], axis=0).max()
    print(f"max point error {error_mm:.3f} mm, angle {result.rotation_degrees:.3f}")
    assert error_mm < spacing, f"max point error {error_mm:.2f} mm"
    true_angle = np.degrees(np.arccos((np.trace(truth[:3, :3]) - 1) / 2))
    assert abs(result.rotation_degrees - true_angle) < 1.0
    registered = apply_rigid(moving, result)
    aligned = resample_to(registered, fixed)
    inner = (slice(8, -8), slice(10, -10), slice(10, -10))
    corr_after = np.corrcoef(aligned.pixels[inner].ravel(), fixed_data[inner].ravel())[0, 1]
    corr_before = np.corrcoef(moving.pixels[inner].ravel(), fixed_data[inner].ravel())[0, 1]
    assert corr_after < -0.9 and corr_after < corr_before  # inverted contrast: strongly negative when aligned
