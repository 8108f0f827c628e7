"""``textdifuse fuse`` safety: one patient per fusion, early validation, exit codes, deduplicated warnings.

Issue 15, cases 2 and 3.  Synthetic DICOM files are written with pydicom, so
nothing here needs ../shared or the model (classical methods only).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from textdifuse_desktop.cli.main import main
from textdifuse_desktop.io.writers import dicom_common as dc

PATIENT = {"PatientID": "P1", "PatientName": "Doe^John", "PatientBirthDate": "19700101"}


def _ct(path: Path, *, spacing: float = 0.5, size: int = 32, frame: str = "1.2.826.0.1.3680043.2.1125.1",
        study: str | None = None, seed: int = 0, **patient: str) -> Path:
    """A 2-D CT file in HU with a patient identity and a frame of reference."""
    rng = np.random.default_rng(seed)
    ds = Dataset()
    for key, value in {**PATIENT, **patient}.items():
        setattr(ds, key, value)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, generate_uid(), "CT"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study or generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = frame
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.ImagePositionPatient = [f"{-size * spacing / 2:.3f}", f"{-size * spacing / 2:.3f}", "0"]
    ds.PixelSpacing = [f"{spacing}", f"{spacing}"]
    ds.SliceThickness = "2"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
    ds.PixelData = rng.integers(-1000, 1500, (size, size)).astype(np.int16).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CTImageStorage, ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def no_fusion(monkeypatch):
    """Fail the test if any fusion starts (checks must come before any computation)."""
    from textdifuse_desktop.fusion import engine

    def refuse(*args, **kwargs):
        raise AssertionError("fusion started although the inputs should have been refused")

    monkeypatch.setattr(engine, "fuse", refuse)


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.mark.parametrize(("field", "value"), [("PatientID", "P2"), ("PatientName", "Roe^Jane"),
                                              ("PatientBirthDate", "19810202")])
def test_different_patients_are_refused_before_fusion(tmp_path, capsys, no_fusion, field, value) -> None:
    a = _ct(tmp_path / "a.dcm")
    b = _ct(tmp_path / "b.dcm", **{field: value})
    out = tmp_path / "out.dcm"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--method", "mean", "--quiet"]) == 4
    (line,) = _errors(capsys)
    assert line.startswith("error:") and str(a) in line and str(b) in line and field in line
    assert "--allow-different-patients" in line
    assert not out.exists()


def test_different_frames_of_reference_are_refused_without_registration(tmp_path, capsys, no_fusion) -> None:
    a = _ct(tmp_path / "a.dcm", frame="1.2.3.1")
    b = _ct(tmp_path / "b.dcm", frame="1.2.3.2")
    assert main(["fuse", str(a), str(b), "-o", str(tmp_path / "o.dcm"), "--method", "mean", "--quiet"]) == 4
    (line,) = _errors(capsys)
    assert "FrameOfReferenceUID" in line and str(a) in line and str(b) in line and "--register" in line


def test_allowed_different_patients_give_an_anonymous_new_study(tmp_path, caplog) -> None:
    # The case: 0.5 mm against 4 mm pixels, two patients, two studies.
    a = _ct(tmp_path / "a.dcm", spacing=0.5, size=64, frame="1.2.3.1", study="1.2.3.10")
    b = _ct(tmp_path / "b.dcm", spacing=4.0, size=40, frame="1.2.3.2", study="1.2.3.20",
            PatientID="P2", PatientName="Roe^Jane", seed=1)
    out = tmp_path / "out.dcm"
    code = main(["fuse", str(a), str(b), "-o", str(out), "--method", "mean", "--quiet", "--allow-different-patients"])
    assert code == 0
    d = pydicom.dcmread(out)
    assert d.PatientID == "ANON" and str(d.PatientName).startswith("Anonymous") and not d.PatientBirthDate
    assert d.StudyInstanceUID not in ("1.2.3.10", "1.2.3.20")
    assert d.FrameOfReferenceUID not in ("1.2.3.1", "1.2.3.2")
    assert "SourceImageSequence" not in d and "ReferencedImageSequence" not in d
    assert d.SOPClassUID == dc.SC_IMAGE_STORAGE and d.Modality == "OT" and d.RescaleType == "US"
    assert (d.Rows, d.Columns) == (64, 64)
    assert "centre on centre" in caplog.text and "no patient identity" in caplog.text
    tool = shutil.which("dciodvfy")
    if tool:  # dicom3tools is optional: the object is still checked above without it
        result = subprocess.run([tool, str(out)], capture_output=True, text=True, timeout=60)
        assert not [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def test_same_patient_fusion_keeps_the_study_and_keep_units_writes_hu(tmp_path) -> None:
    a = _ct(tmp_path / "a.dcm", study="1.2.3.10")
    b = _ct(tmp_path / "b.dcm", study="1.2.3.10", seed=1)
    out = tmp_path / "kept.dcm"
    assert main(["fuse", str(a), str(b), "-o", str(out), "--method", "mean", "--quiet", "--keep-units"]) == 0
    d = pydicom.dcmread(out)
    assert d.PatientID == "P1" and d.StudyInstanceUID == "1.2.3.10"
    assert d.SOPClassUID == dc.CT_IMAGE_STORAGE and d.Modality == "CT"
    values = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
    expected = (pydicom.dcmread(a).pixel_array.astype(float) + pydicom.dcmread(b).pixel_array) / 2
    assert np.abs(values - expected).max() <= 2500 / 255 + 1


def test_keep_units_for_different_modalities_is_refused_early(tmp_path, capsys, no_fusion) -> None:
    from PIL import Image as PILImage

    a = _ct(tmp_path / "a.dcm")
    png = tmp_path / "b.png"
    PILImage.fromarray(np.zeros((32, 32), np.uint8)).save(png)
    assert main(["fuse", str(a), str(png), "-o", str(tmp_path / "o.dcm"), "--method", "mean", "--keep-units"]) == 3
    (line,) = _errors(capsys)
    assert "one modality" in line


def test_bad_output_is_refused_before_reading(tmp_path, capsys, monkeypatch) -> None:
    from textdifuse_desktop import io

    def no_read(*args, **kwargs):
        raise AssertionError("an input was read although the output is invalid")

    monkeypatch.setattr(io, "read_image", no_read)
    a, b = str(tmp_path / "a.dcm"), str(tmp_path / "b.dcm")  # never read: need not exist
    assert main(["fuse", a, b, "-o", str(tmp_path / "fused.xyz"), "--method", "mean"]) == 5
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["fuse", a, b, "-o", str(blocker / "fused.png"), "--method", "mean"]) == 5
    lines = _errors(capsys)
    assert len(lines) == 2 and "fused.xyz" in lines[0] and "not a folder" in lines[1]


def test_argument_errors_exit_2(tmp_path, capsys) -> None:
    a, b, out = str(tmp_path / "a.png"), str(tmp_path / "b.png"), str(tmp_path / "o.png")
    assert main(["fuse", a, b, "-o", out, "--steps", "0"]) == 2
    assert main(["fuse", a, b, "-o", out, "--kappa", "9"]) == 2
    assert main(["fuse", a, b, "-o", out, "--restore", "5"]) == 2
    with pytest.raises(SystemExit) as caught:
        main(["fuse", a, b, "-o", out, "--method", "foo"])
    assert caught.value.code == 2
    assert len([line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]) == 3


def test_truncated_dicom_is_one_line_exit_3(tmp_path, capsys) -> None:
    whole = _ct(tmp_path / "whole.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole.read_bytes()[:-500])
    assert main(["fuse", str(cut), str(whole), "-o", str(tmp_path / "o.png"), "--method", "mean"]) == 3
    (line,) = _errors(capsys)
    assert "truncated" in line and str(cut) in line


def test_video_resize_warning_is_printed_once(tmp_path) -> None:
    pytest.importorskip("av")
    from textdifuse_desktop.io.writers import write_video

    rng = np.random.default_rng(0)
    write_video([rng.integers(0, 256, (32, 48), dtype=np.uint8) for _ in range(4)], tmp_path / "a.mp4", fps=5)
    write_video([rng.integers(0, 256, (16, 32), dtype=np.uint8) for _ in range(4)], tmp_path / "b.mp4", fps=5)
    code = ("import sys; from textdifuse_desktop.cli.main import main; "
            "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run(
        [sys.executable, "-c", code, "fuse", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"),
         "-o", str(tmp_path / "f.mp4"), "--method", "max", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    resize = [line for line in result.stderr.splitlines() if "resized" in line]
    assert len(resize) == 1, result.stderr


def test_convert_checks_the_output_before_reading(tmp_path, capsys, monkeypatch) -> None:
    from textdifuse_desktop import io

    monkeypatch.setattr(io, "read_image", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read")))
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert main(["convert", str(tmp_path / "in.dcm"), "-o", str(tmp_path / "out.xyz")]) == 5
    assert main(["convert", str(tmp_path / "in.dcm"), "-o", str(blocker / "out.nii.gz")]) == 5
    assert len(_errors(capsys)) == 2


def test_duplicate_filter_lets_each_warning_through_once_per_run() -> None:
    import logging

    from textdifuse_desktop.cli.main import DuplicateFilter

    duplicates = DuplicateFilter()

    def record(message: str, level: int = logging.WARNING) -> logging.LogRecord:
        return logging.LogRecord("t", level, __file__, 1, message, (), None)

    assert duplicates.filter(record("B resized"))
    assert not duplicates.filter(record("B resized"))
    assert duplicates.filter(record("another"))
    assert duplicates.filter(record("debug", logging.DEBUG)) and duplicates.filter(record("debug", logging.DEBUG))
    assert DuplicateFilter().filter(record("B resized"))  # a new run starts afresh


def test_a_warning_during_a_progress_bar_gets_its_own_line() -> None:
    import io
    import logging
    import re

    from tqdm import tqdm

    from textdifuse_desktop.cli.main import ProgressAwareHandler

    stderr = io.StringIO()
    handler = ProgressAwareHandler(stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    with tqdm(total=4, desc="pair.png", file=stderr, mininterval=0) as bar:
        bar.update(2)
        handler.emit(logging.LogRecord("t", logging.WARNING, __file__, 1, "modalities unknown", (), None))
        bar.update(2)
    segments = [s.strip() for s in re.split(r"[\r\n]", stderr.getvalue())]
    assert "WARNING: modalities unknown" in segments, stderr.getvalue()
