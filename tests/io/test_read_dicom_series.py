"""DICOM series folders built in tmp_path: sorting along the normal, geometry, gaps, several series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from textdifuse_desktop.errors import ReadError
from textdifuse_desktop.imaging.image import LPS_TO_RAS
from textdifuse_desktop.io import read_image

ROWS, COLS = 6, 5


def write_slice(
    path: Path,
    *,
    series: str,
    position,
    orientation=(1, 0, 0, 0, 1, 0),
    spacing=(0.8, 0.6),
    stored: np.ndarray,
    slope: float = 1.0,
    intercept: float = -1024.0,
    instance: int = 1,
    study: str = "1.2.3.4",
    frame_of_reference: str = "1.2.3.5",
) -> str:
    """Write one CT slice; returns its SOPInstanceUID."""
    uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, uid
    ds.Modality = "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame_of_reference
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = list(spacing)
    ds.SliceThickness = 2.0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = stored.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return uid


def oblique_orientation(angle_deg: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Row and column directions rotated about the LPS y axis and then tilted about x."""
    a = np.radians(angle_deg)
    row = np.array([np.cos(a), 0.0, np.sin(a)])
    col = np.array([0.0, np.cos(a / 2), -np.sin(a / 2)])
    col -= row * np.dot(row, col)
    return row, col / np.linalg.norm(col)


def make_series(
    folder: Path,
    distances,
    *,
    row=(1, 0, 0),
    col=(0, 1, 0),
    origin=(10.0, -20.0, 5.0),
    series: str | None = None,
    names=None,
    rng=None,
    slopes=None,
    instance_numbers=None,
) -> dict:
    """Slices at ``distances`` (mm) along the normal; slice with distance d holds the value 100 + d."""
    folder.mkdir(parents=True, exist_ok=True)
    series = series or generate_uid()
    row, col = np.asarray(row, float), np.asarray(col, float)
    normal = np.cross(row, col)
    rng = rng or np.random.default_rng(0)
    names = names or [f"{rng.integers(1e9):09d}.dcm" for _ in distances]
    uids = {}
    for index, (distance, name) in enumerate(zip(distances, names)):
        position = np.asarray(origin) + distance * normal
        slope = slopes[index] if slopes else 1.0
        value = (100.0 + distance + 1024.0) / slope
        stored = np.full((ROWS, COLS), value)
        stored[0, 0] = 0  # a marker pixel: its world position is checked through the affine
        number = instance_numbers[index] if instance_numbers else index + 1
        uids[distance] = write_slice(
            folder / name,
            series=series,
            position=position,
            orientation=(*row, *col),
            stored=stored,
            slope=slope,
            instance=number,
        )
    return {"series": series, "normal": normal, "row": row, "col": col, "origin": np.asarray(origin), "uids": uids}


def test_slices_sorted_along_normal_not_by_name_or_instance(tmp_path: Path) -> None:
    distances = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    names = ["f.dcm", "a.dcm", "e.dcm", "b.dcm", "d.dcm", "c.dcm"]
    info = make_series(tmp_path / "s", distances, names=names, instance_numbers=[6, 1, 5, 2, 4, 3])
    image = read_image(tmp_path / "s")
    assert image.axes == "ZYX" and image.pixels.shape == (6, ROWS, COLS)
    assert np.allclose(image.pixels[:, 1, 1], [100 + d for d in distances])
    assert image.units == "HU" and image.modality == "CT"
    assert image.spacing == pytest.approx((0.6, 0.8, 2.0))
    assert image.orientation == "LPS"
    assert image.meta["warnings"] == []
    assert [Path(p).name for p in image.provenance.source_paths] == names
    assert image.provenance.sop_instance_uids == tuple(info["uids"][d] for d in distances)
    assert image.provenance.series_uid == info["series"]
    assert image.provenance.study_uid == "1.2.3.4" and image.provenance.frame_of_reference_uid == "1.2.3.5"
    assert all("PixelData" not in header for header in image.provenance.dicom_headers)
    assert [float(h.ImagePositionPatient[2]) for h in image.provenance.dicom_headers] == [5 + d for d in distances]
    assert image.window == (40.0, 400.0)


def test_oblique_series_affine_and_sorting(tmp_path: Path) -> None:
    row, col = oblique_orientation(30.0)
    distances = [6.0, -2.0, 10.0, 2.0, -6.0]  # written in shuffled order
    info = make_series(tmp_path / "obl", distances, row=row, col=col, rng=np.random.default_rng(3))
    image = read_image(tmp_path / "obl")
    expected_order = sorted(distances)
    assert np.allclose(image.pixels[:, 2, 2], [100 + d for d in expected_order])
    normal = info["normal"]
    for k, distance in enumerate(expected_order):
        for i, j in [(0, 0), (4, 5), (2, 3)]:
            lps = info["origin"] + distance * normal + i * 0.6 * row + j * 0.8 * col
            world = image.affine @ np.array([i, j, k, 1.0])
            assert np.allclose(world[:3], (LPS_TO_RAS[:3, :3] @ lps), atol=1e-4)
    assert image.spacing == pytest.approx((0.6, 0.8, 4.0))
    assert image.meta["warnings"] == []


def test_missing_slice_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_series(tmp_path / "gap", [0.0, 2.0, 4.0, 8.0, 10.0])
    image = read_image(tmp_path / "gap")
    assert image.pixels.shape[0] == 5
    assert image.spacing[2] == pytest.approx(2.0)
    (warning,) = image.meta["warnings"]
    assert "1 missing slice" in warning and "slices 2 and 3" in warning
    assert "missing slice" in caplog.text


def test_irregular_spacing_is_reported(tmp_path: Path) -> None:
    make_series(tmp_path / "irr", [0.0, 2.0, 4.0, 6.0, 7.3, 9.3])
    image = read_image(tmp_path / "irr")
    assert any("inconsistent slice spacing" in w for w in image.meta["warnings"])


def test_two_series_largest_by_default_and_pick_by_uid(tmp_path: Path) -> None:
    big = make_series(tmp_path / "mixed", [0.0, 3.0, 6.0, 9.0], rng=np.random.default_rng(1))
    small = make_series(tmp_path / "mixed", [0.0, 5.0], rng=np.random.default_rng(2), origin=(0, 0, 100))
    image = read_image(tmp_path / "mixed")
    assert image.provenance.series_uid == big["series"] and image.pixels.shape[0] == 4
    assert any(small["series"] in w and "--series-uid" in w and "series_uid=" not in w for w in image.meta["warnings"])
    other = read_image(tmp_path / "mixed", series_uid=small["series"])
    assert other.pixels.shape[0] == 2 and other.spacing[2] == pytest.approx(5.0)
    with pytest.raises(ReadError, match=big["series"]):
        read_image(tmp_path / "mixed", series_uid="9.9.9")


def test_per_file_rescale_applied_before_stacking(tmp_path: Path) -> None:
    make_series(tmp_path / "slopes", [0.0, 1.0, 2.0], slopes=[1.0, 0.5, 2.0])
    image = read_image(tmp_path / "slopes")
    assert np.allclose(image.pixels[:, 3, 3], [100.0, 101.0, 102.0], atol=1.0)


def test_non_dicom_files_in_folder_are_skipped(tmp_path: Path) -> None:
    make_series(tmp_path / "extra", [0.0, 1.0, 2.0])
    (tmp_path / "extra" / "notes.txt").write_text("hello")
    (tmp_path / "extra" / "DICOMDIR").write_bytes(b"\0" * 10)
    image = read_image(tmp_path / "extra")
    assert image.pixels.shape[0] == 3 and image.meta["skipped_files"] == 1


def test_folder_without_dicom_is_a_read_error(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("not an image")
    with pytest.raises(ReadError, match="no DICOM image files") as info:
        read_image(tmp_path / "x")
    assert str(tmp_path / "x") in str(info.value)


def test_repeated_positions_pick_one_image_per_slice(tmp_path: Path) -> None:
    # Two echoes per position: instance numbers 1..3 = first echo, 4..6 = second echo (value + 50).
    folder = tmp_path / "echoes"
    folder.mkdir()
    for echo in range(2):
        for k in range(3):
            stored = np.full((ROWS, COLS), 1124 + 10 * k + 50 * echo)
            write_slice(
                folder / f"e{echo}_{k}.dcm",
                series="1.2.3.77",
                position=(0, 0, 3.0 * k),
                stored=stored,
                instance=1 + k + 3 * echo,
            )
    first = read_image(folder)
    assert np.allclose(first.pixels[:, 1, 1], [100, 110, 120])
    assert any("2 images per slice position" in w for w in first.meta["warnings"])
    second = read_image(folder, frame=1)
    assert np.allclose(second.pixels[:, 1, 1], [150, 160, 170])


def test_gantry_tilt_gives_a_sheared_affine(tmp_path: Path) -> None:
    folder = tmp_path / "tilt"
    folder.mkdir()
    tilt = np.radians(15.0)
    positions = [(0.0, k * 5.0 * np.tan(tilt), k * 5.0) for k in range(4)]  # axial slices shifted in y
    for k, position in enumerate(positions):
        write_slice(folder / f"{k}.dcm", series="1.2.3.78", position=position, stored=np.full((ROWS, COLS), 1124 + k))
    image = read_image(folder)
    assert any("sheared by 15.0 degrees" in w for w in image.meta["warnings"])
    for k, position in enumerate(positions):
        world = image.affine @ np.array([0, 0, k, 1.0])
        assert np.allclose(world[:3], LPS_TO_RAS[:3, :3] @ np.array(position), atol=1e-6)


def test_images_at_one_position_form_a_frame_stack(tmp_path: Path) -> None:
    folder = tmp_path / "cine"
    folder.mkdir()
    for phase in (3, 1, 2, 0):
        write_slice(folder / f"p{phase}.dcm", series="1.2.3.79", position=(0, 0, 0),
                    stored=np.full((ROWS, COLS), 1124 + phase), instance=phase + 1)
    image = read_image(folder)
    assert image.axes == "TYX" and np.allclose(image.pixels[:, 0, 1], [100, 101, 102, 103])
    assert any("one position" in w for w in image.meta["warnings"])
