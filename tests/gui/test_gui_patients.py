"""Different patients in the app: a confirmation names both files and the field; Cancel loses nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtWidgets

from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.imaging.image import Image, Provenance

pydicom = pytest.importorskip("pydicom")


def _dicom_like(path: str, patient_id: str, seed: int, frame: str = "1.2.3") -> Image:
    header = pydicom.Dataset()
    header.PatientID = patient_id
    header.PatientName = f"DOE^{patient_id}"
    rng = np.random.default_rng(seed)
    return Image(rng.uniform(0, 200, (40, 48)).astype(np.float32), modality="MR",
                 provenance=Provenance(source_paths=(path,), dicom_headers=(header,),
                                       frame_of_reference_uid=frame))


@pytest.fixture
def answer(monkeypatch):
    """Set ``answer.button`` to what every QMessageBox returns; ``answer.shown`` lists (title, text, info)."""

    class Answer:
        button = QtWidgets.QMessageBox.StandardButton.Cancel
        shown: list[tuple[str, str, str]] = []

    def fake_exec(box):
        Answer.shown.append((box.windowTitle(), box.text(), box.informativeText()))
        return int(Answer.button.value)

    monkeypatch.setattr(QtWidgets.QMessageBox, "exec", fake_exec)
    Answer.shown = []
    return Answer


def _two_patients(window) -> None:
    window.set_sources(_dicom_like("/scans/alice/mr.dcm", "ALICE-1", 0), _dicom_like("/scans/bob/mr.dcm", "BOB-2", 1))


def test_cancel_keeps_everything(make_window, answer) -> None:
    window = make_window()
    _two_patients(window)
    regions_before = window.regions.region_set
    assert not window.run_fusion(FusionParams(method="mean"))
    assert len(answer.shown) == 1
    title, text, info = answer.shown[0]
    assert "patients" in title.lower()
    assert "/scans/alice/mr.dcm" in text and "/scans/bob/mr.dcm" in text and "PatientID" in text
    assert "ALICE-1" in text and "BOB-2" in text and "anyway" in info
    assert not window.controller.is_running and window.result is None
    assert window.raw["a"] is not None and window.raw["b"] is not None and window.paired is not None
    assert window.regions.region_set is regions_before
    assert "different patients" in window.statusBar().currentMessage()
    assert window.isVisible() and not window.errors_shown


def test_fuse_anyway_fuses_and_is_asked_once_per_pair(make_window, answer, monkeypatch) -> None:
    from textdifuse_desktop.io import patient_identity

    calls: list[bool] = []
    real = patient_identity.check_same_patient

    def spy(a, b, *, allow_different=False, registered=False):
        calls.append(allow_different)
        return real(a, b, allow_different=allow_different, registered=registered)

    monkeypatch.setattr(patient_identity, "check_same_patient", spy)
    answer.button = QtWidgets.QMessageBox.StandardButton.Yes
    window = make_window()
    _two_patients(window)
    assert window.run_fusion(FusionParams(method="mean"))
    assert window.wait_for_fusion(30000) and window.result is not None
    assert calls == [False, True]  # refused, then deliberately allowed
    assert window.run_fusion(FusionParams(method="max")) and window.wait_for_fusion(30000)
    assert len(answer.shown) == 1  # the answer holds for this pair
    _two_patients(window)  # a new pair asks again
    answer.button = QtWidgets.QMessageBox.StandardButton.Cancel
    assert not window.run_fusion(FusionParams(method="mean"))
    assert len(answer.shown) == 2


def test_same_patient_is_not_asked(make_window, answer) -> None:
    window = make_window()
    window.set_sources(_dicom_like("/a.dcm", "SAME", 0), _dicom_like("/b.dcm", "SAME", 1))
    assert window.run_fusion(FusionParams(method="mean")) and window.wait_for_fusion(30000)
    assert answer.shown == [] and window.result is not None


def test_different_frames_of_reference_are_named(make_window, answer) -> None:
    window = make_window()
    window.set_sources(_dicom_like("/a.dcm", "SAME", 0, frame="1.1"), _dicom_like("/b.dcm", "SAME", 1, frame="2.2"))
    assert not window.run_fusion(FusionParams(method="mean"))
    title, text, _ = answer.shown[0]
    assert "frames of reference" in title.lower() and "FrameOfReferenceUID" in text


def test_headless_refuses_unless_allowed(make_window, answer) -> None:
    window = make_window()
    window.interactive = False
    _two_patients(window)
    assert not window.run_fusion(FusionParams(method="mean"))
    assert answer.shown == [] and "PatientID" in str(window.errors_shown[-1])
    window.allow_different_patients = True  # textdifuse-desktop --allow-different-patients
    assert window.run_fusion(FusionParams(method="mean")) and window.wait_for_fusion(30000)
    assert window.result is not None


def test_export_of_a_confirmed_mixed_pair_carries_no_patient_identity(make_window, answer, qtbot, tmp_path) -> None:
    from pathlib import Path

    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm")
    pet = Path(__file__).resolve().parents[1] / "data" / "io" / "pet_acrin_flt_breast_slice.dcm"
    ids = {str(pydicom.dcmread(ct).PatientID), str(pydicom.dcmread(pet).PatientID)}
    answer.button = QtWidgets.QMessageBox.StandardButton.Yes
    window = make_window()
    assert window.open_pair(ct, pet)
    assert window.run_fusion(FusionParams(method="mean")) and window.wait_for_fusion(30000)
    assert len(answer.shown) == 1 and window.result is not None
    dialog = window.make_export_dialog()
    dialog.set_format("dicom")
    dialog.set_path(tmp_path / "fused_dicom")
    dialog.start_export()
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled(), timeout=60000)
    assert dialog.written
    files = [p for p in dialog.written if p.is_file()] or sorted(Path(dialog.written[0]).rglob("*.dcm"))
    for path in files:
        written = pydicom.dcmread(path)
        assert str(written.get("PatientID", "")) not in ids
        assert str(written.get("PatientName", "")) not in {str(pydicom.dcmread(ct).PatientName)}
    dialog.deleteLater()
