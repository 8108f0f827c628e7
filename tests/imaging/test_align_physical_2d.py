"""2-D DICOM pairs are aligned by physical pixel spacing, not by pixel count (issue 15, case 2)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.align import align_pair
from textdifuse_desktop.imaging.image import Image, Provenance


def _dicom_2d(pixels: np.ndarray, spacing: float, origin=(0.0, 0.0), frame: str = "1.2.3") -> Image:
    """A 2D image as the DICOM reader gives it: RAS affine from spacing and origin, a header."""
    affine = np.diag([spacing, spacing, 5.0, 1.0])
    affine[:2, 3] = origin
    header = Dataset()
    header.PixelSpacing = [spacing, spacing]
    provenance = Provenance(source_paths=(f"s{spacing}.dcm",), dicom_headers=(header,),
                            frame_of_reference_uid=frame)
    return Image(pixels.astype(np.float32), "YX", affine, provenance=provenance)


def _square(size: int, spacing: float, centre_mm: tuple[float, float], half_mm: float) -> np.ndarray:
    """A bright square of half side ``half_mm`` centred at ``centre_mm`` (x, y) on a grid of ``spacing``."""
    coords = np.arange(size) * spacing
    x, y = np.meshgrid(coords, coords)
    return ((np.abs(x - centre_mm[0]) <= half_mm) & (np.abs(y - centre_mm[1]) <= half_mm)).astype(np.float32)


def test_same_frame_pair_is_resampled_by_world_position() -> None:
    # A: 64 x 0.5 mm (32 mm field); B: 40 x 2 mm (80 mm field) shifted by -20 mm, square at world (10, 20) mm.
    a = _dicom_2d(np.zeros((64, 64)), 0.5)
    b = _dicom_2d(_square(40, 2.0, (30.0, 40.0), 4.0), 2.0, origin=(-20.0, -20.0))
    _, b_on_a, warnings = align_pair(a, b)
    assert b_on_a.pixels.shape == (64, 64)
    ys, xs = np.nonzero(b_on_a.pixels > 0.5)
    centre_mm = (xs.mean() * 0.5, ys.mean() * 0.5)
    np.testing.assert_allclose(centre_mm, (10.0, 20.0), atol=1.0)
    width_mm = (xs.max() - xs.min()) * 0.5
    assert 6.0 <= width_mm <= 10.0  # an 8 mm square stays 8 mm, not 64/40 times bigger
    assert any("pixel spacing" in w for w in warnings) and not any("resized" in w for w in warnings)


def test_different_frames_are_placed_centre_on_centre_at_their_own_spacing() -> None:
    # The case: 128 x 0.66 mm CT against 168 x 4.07 mm PET.
    a = _dicom_2d(np.zeros((128, 128)), 0.66, frame="1.1")
    centre = 83.5 * 4.07  # B's centre pixel, in B's own millimetres
    b = _dicom_2d(_square(168, 4.07, (centre, centre), 20.0), 4.07, origin=(300.0, -50.0), frame="2.2")
    _, b_on_a, warnings = align_pair(a, b)
    inside = b_on_a.pixels > 0.5
    assert 0.0 < inside.mean() < 1.0  # a 40 mm square inside an 84 mm field, not the whole PET squeezed in
    ys, xs = np.nonzero(inside)
    width_mm = (xs.max() - xs.min() + 1) * 0.66
    assert 32.0 <= width_mm <= 48.0
    np.testing.assert_allclose((xs.mean(), ys.mean()), (63.5, 63.5), atol=3.0)
    assert any("centre on centre" in w for w in warnings)


def test_same_frame_without_overlap_is_refused() -> None:
    a = _dicom_2d(np.zeros((20, 20)), 1.0)
    b = _dicom_2d(np.ones((20, 20)), 1.0, origin=(500.0, 500.0))
    with pytest.raises(GeometryError, match="no spatial overlap"):
        align_pair(a, b)


def test_plain_2d_files_are_still_resized() -> None:
    a = Image(np.zeros((20, 30), np.float32))
    b = Image(np.ones((10, 15), np.float32))
    _, b_on_a, warnings = align_pair(a, b)
    assert b_on_a.pixels.shape == (20, 30) and any("resized" in w for w in warnings)


def test_dicom_without_pixel_spacing_is_resized_like_a_raster() -> None:
    a = _dicom_2d(np.zeros((20, 30)), 0.5)
    b = Image(np.ones((10, 15), np.float32), provenance=Provenance(dicom_headers=(Dataset(),)))
    _, b_on_a, warnings = align_pair(a, b)
    assert b_on_a.pixels.shape == (20, 30) and any("resized" in w for w in warnings)
