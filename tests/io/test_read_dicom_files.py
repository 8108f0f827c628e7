"""Single DICOM files: pydicom's own test files, an enhanced multi-frame object, PET SUV."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import EnhancedCTImageStorage, ExplicitVRLittleEndian, generate_uid

from textdifuse_desktop.errors import ReadError
from textdifuse_desktop.io import read_image

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def wheel_file(name: str) -> Path:
    """A test file shipped inside the pydicom wheel (no download)."""
    path = TEST_FILES / name
    if not path.is_file():
        pytest.skip(f"{name} is not in this pydicom wheel")
    return path


def test_ct_small_is_in_hounsfield_units() -> None:
    path = wheel_file("CT_small.dcm")
    image = read_image(path)
    ds = pydicom.dcmread(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert image.axes == "YX" and image.modality == "CT" and image.units == "HU"
    assert np.array_equal(image.pixels, expected.astype(np.float32))
    assert image.spacing[:2] == pytest.approx((float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0])))
    # LPS position (IPP) -> RAS: x and y change sign.
    assert np.allclose(
        image.affine[:3, 3],
        [-float(ds.ImagePositionPatient[0]), -float(ds.ImagePositionPatient[1]), float(ds.ImagePositionPatient[2])],
    )
    assert image.provenance.sop_instance_uids == (ds.SOPInstanceUID,)
    assert "PixelData" not in image.provenance.dicom_headers[0]


@pytest.mark.parametrize(
    "name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm"]
)
def test_compressed_transfer_syntaxes_match_uncompressed(name: str) -> None:
    reference = read_image(wheel_file("MR_small.dcm"))
    image = read_image(wheel_file(name))
    assert image.modality == "MR"
    assert np.array_equal(image.pixels, reference.pixels)
    assert np.allclose(image.affine, reference.affine)


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_gdcm.dcm", "SC_rgb_rle.dcm", "SC_ybr_full_422_uncompressed.dcm"])
def test_colour_dicom_is_rgb(name: str) -> None:
    image = read_image(wheel_file(name))
    assert image.axes == "YXC" and image.pixels.shape[-1] == 3
    assert image.pixels.max() > image.pixels.min()


def test_colour_multiframe_without_geometry_is_a_frame_stack() -> None:
    image = read_image(wheel_file("SC_rgb_rle_2frame.dcm"))
    assert image.axes == "TYXC" and image.pixels.shape[:1] == (2,)


def test_truncated_pixel_data_is_a_read_error() -> None:
    path = wheel_file("MR_truncated.dcm")
    with pytest.raises(ReadError, match="MR_truncated.dcm.*pixel data"):
        read_image(path)


def test_dicom_without_pixels_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="no pixel data .*RT Plan"):
        read_image(wheel_file("rtplan.dcm"))


def test_truncated_header_is_a_read_error(tmp_path: Path) -> None:
    data = wheel_file("CT_small.dcm").read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[:700])
    with pytest.raises(ReadError, match="cut.dcm"):
        read_image(path)


def _enhanced_ct(path: Path, distances: list[float], intercepts: list[float]) -> None:
    """Enhanced CT: shared pixel measures/orientation, per-frame positions and rescale, frames shuffled."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = EnhancedCTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", generate_uid(), generate_uid()
    ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 3, len(distances)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    measures, orientation, shared = Dataset(), Dataset(), Dataset()
    measures.PixelSpacing, measures.SliceThickness = [0.5, 0.7], 3.0
    orientation.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # sagittal
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = Sequence([measures]), Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames, stored = [], []
    for distance, intercept in zip(distances, intercepts):
        position, transform, item = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [distance, 0.0, 0.0]  # normal of (0,1,0)x(0,0,-1) is -x
        transform.RescaleSlope, transform.RescaleIntercept, transform.RescaleType = 1, intercept, "HU"
        item.PlanePositionSequence, item.PixelValueTransformationSequence = Sequence([position]), Sequence([transform])
        frames.append(item)
        stored.append(np.full((4, 3), 1000 - intercept - distance))
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.stack(stored).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_enhanced_multiframe_sorted_with_per_frame_rescale(tmp_path: Path) -> None:
    path = tmp_path / "enhanced.dcm"
    distances = [-4.0, 2.0, -1.0, 5.0]  # x positions; the normal points to -x (LPS)
    _enhanced_ct(path, distances, intercepts=[-1024.0, -1000.0, -1024.0, -900.0])
    image = read_image(path)
    assert image.axes == "ZYX" and image.pixels.shape == (4, 4, 3) and image.units == "HU"
    # Sorted along the normal (-x): x = 5, 2, -1, -4; value = 1000 - x.
    assert np.allclose(image.pixels[:, 0, 0], [995.0, 998.0, 1001.0, 1004.0])
    assert image.meta["frame_order"] == [3, 1, 2, 0]
    assert image.spacing == pytest.approx((0.7, 0.5, 3.0))
    assert image.orientation == "PIR"  # rows run posterior, columns inferior, slices along LPS -x = right
    world_first = image.affine @ np.array([0, 0, 0, 1.0])
    world_last = image.affine @ np.array([0, 0, 3, 1.0])
    assert world_first[0] == pytest.approx(-5.0) and world_last[0] == pytest.approx(4.0)  # RAS x = -LPS x


# --------------------------------------------------------------------------- PET SUV
PET = Path(__file__).resolve().parents[1] / "data" / "io" / "pet_acrin_flt_breast_slice.dcm"


def _hand_suv_factor() -> float:
    # Tags of the test file, transcribed by hand:
    # PatientWeight 69.7344 kg; RadionuclideTotalDose 178340011.59668 Bq; RadionuclideHalfLife 6586.2 s;
    # RadiopharmaceuticalStartTime 14:17:00; SeriesTime 15:23:16.921 (= AcquisitionTime); DecayCorrection START.
    elapsed = (15 * 3600 + 23 * 60 + 16.921) - (14 * 3600 + 17 * 60)
    decayed_dose = 178340011.59668 * math.exp(-math.log(2) * elapsed / 6586.2)
    return 69734.4 / decayed_dose


def test_pet_slice_converted_to_suv_body_weight() -> None:
    image = read_image(PET)
    assert image.modality == "PT" and image.units == "SUV"
    assert image.meta["suv_factor"] == pytest.approx(_hand_suv_factor(), rel=1e-9)
    raw = pydicom.dcmread(PET).pixel_array * 9.12329
    assert np.allclose(image.pixels, raw * _hand_suv_factor(), rtol=1e-5)
    assert 1.0 < image.pixels.max() < 20.0  # a plausible FLT uptake range
    assert image.window[0] == pytest.approx(30157 * _hand_suv_factor())


def test_pet_suv_can_be_switched_off() -> None:
    image = read_image(PET, suv=False)
    assert image.units == "Bq/ml"
    assert np.allclose(image.pixels, pydicom.dcmread(PET).pixel_array * 9.12329, rtol=1e-6)


@pytest.mark.parametrize(
    ("edit", "tag_text"),
    [
        (lambda ds: delattr(ds, "PatientWeight"), "PatientWeight"),
        (
            lambda ds: delattr(ds.RadiopharmaceuticalInformationSequence[0], "RadionuclideTotalDose"),
            "RadionuclideTotalDose",
        ),
        (
            lambda ds: delattr(ds.RadiopharmaceuticalInformationSequence[0], "RadiopharmaceuticalStartTime"),
            "RadiopharmaceuticalStartTime",
        ),
        (
            lambda ds: delattr(ds.RadiopharmaceuticalInformationSequence[0], "RadionuclideHalfLife"),
            "RadionuclideHalfLife",
        ),
        (lambda ds: delattr(ds, "DecayCorrection"), "DecayCorrection"),
    ],
)
def test_pet_missing_tag_keeps_bq_ml_and_names_the_tag(tmp_path: Path, edit, tag_text: str) -> None:
    ds = pydicom.dcmread(PET)
    edit(ds)
    path = tmp_path / "pet.dcm"
    ds.save_as(path)
    image = read_image(path)
    assert image.units == "Bq/ml"
    assert "suv_factor" not in image.meta
    assert any(tag_text in w and "SUV not available" in w for w in image.meta["warnings"])
    assert np.allclose(image.pixels, ds.pixel_array * 9.12329, rtol=1e-6)


def test_pet_decay_correction_admin_uses_the_injected_dose(tmp_path: Path) -> None:
    ds = pydicom.dcmread(PET)
    ds.DecayCorrection = "ADMIN"
    ds.save_as(tmp_path / "admin.dcm")
    image = read_image(tmp_path / "admin.dcm")
    assert image.meta["suv_factor"] == pytest.approx(69734.4 / 178340011.59668)


def test_pet_series_without_decay_correction_gets_per_slice_factors(tmp_path: Path) -> None:
    folder = tmp_path / "pet"
    folder.mkdir()
    base = pydicom.dcmread(PET)
    for k, time in enumerate(["152316.921", "153316.921"]):  # second slice acquired 600 s later
        ds = pydicom.dcmread(PET)
        ds.DecayCorrection, ds.AcquisitionTime = "NONE", time
        ds.CorrectedImage = ["ATTN"]
        ds.SOPInstanceUID = generate_uid()
        ds.ImagePositionPatient = [float(v) for v in base.ImagePositionPatient[:2]] + [k * 5.0]
        ds.save_as(folder / f"{k}.dcm")
    image = read_image(folder)
    factors = image.meta["suv_factor"]
    assert isinstance(factors, list) and len(factors) == 2
    assert factors[0] == pytest.approx(_hand_suv_factor(), rel=1e-9)
    assert factors[1] / factors[0] == pytest.approx(2 ** (600 / 6586.2), rel=1e-9)
    assert image.units == "SUV"
