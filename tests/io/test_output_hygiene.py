"""Outputs validated before any work, umask-respecting folders, truncated DICOM errors (issue 15, case 3)."""

from __future__ import annotations

import logging
import os
import stat

import numpy as np
import pytest
from _writer_fixtures import make_ct_series
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from textdifuse_desktop.errors import OverwriteInputError, ReadError, WriteError
from textdifuse_desktop.io import read_image
from textdifuse_desktop.io.writers import write_image
from textdifuse_desktop.io.writers.dispatch import check_output


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_dicom_series_folder_and_files_follow_the_umask(tmp_path, umask_022) -> None:
    source = make_ct_series(tmp_path / "src", nz=2)
    files = write_image(source, tmp_path / "out" / "series", format="dicom")
    folder = files[0].parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # mkdtemp would give 0o700
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}


def test_check_output_accepts_good_paths_and_names_the_format(tmp_path) -> None:
    assert check_output(tmp_path / "new" / "deeper" / "f.nii.gz") == "nifti"
    assert check_output(tmp_path / "series", "dicom") == "dicom"
    assert not (tmp_path / "new").exists()  # nothing created by the check
    assert [p.name for p in tmp_path.iterdir()] == []


def test_check_output_refuses_unknown_suffix_bad_parent_and_inputs(tmp_path) -> None:
    with pytest.raises(WriteError, match="cannot tell the output format"):
        check_output(tmp_path / "fused.xyz")
    with pytest.raises(WriteError, match="unknown output format"):
        check_output(tmp_path / "fused.png", "bmp")
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(WriteError, match="is a file"):
        check_output(blocker / "sub" / "fused.png")
    with pytest.raises(OverwriteInputError):
        check_output(blocker.with_suffix(".png"), inputs=[blocker.with_suffix(".png")])


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_check_output_refuses_a_read_only_folder(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(WriteError, match="permission denied"):
            check_output(locked / "fused.png")
    finally:
        locked.chmod(0o700)


def _dual_personality_dicom(path, rows=32, cols=32) -> None:
    """A CT file whose 128-byte preamble starts with a TIFF header (as pydicom's CT_small.dcm)."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, generate_uid(), "CT"
    ds.PatientID, ds.PatientName = "P1", "Doe^John"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = np.zeros((rows, cols), np.int16).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CTImageStorage, ds.SOPInstanceUID
    ds.preamble = b"II*\x00" + b"\x08\x00\x00\x00" + b"\x00" * 120
    ds.save_as(path, enforce_file_format=True)


def test_truncated_dicom_is_one_clear_error_without_tiff_warning(tmp_path, caplog) -> None:
    whole = tmp_path / "whole.dcm"
    _dual_personality_dicom(whole)
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(whole.read_bytes()[:-1000])
    with caplog.at_level(logging.DEBUG), pytest.raises(ReadError) as caught:
        read_image(truncated)
    text = str(caught.value)
    assert "truncated" in text and "\n" not in text and "TIFF" not in text
    assert "tiff" not in caplog.text.lower()
    assert read_image(whole).pixels.shape == (32, 32)
