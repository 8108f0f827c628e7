"""The Sources dock and rigid registration in the real window: frames of 4-D sources, temperature scale,
registration with progress, cancel, the transform shown and saved in the session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

nib = pytest.importorskip("nibabel")


def _dynamic(path: Path, frames: int = 3) -> Path:
    data = np.zeros((10, 8, 6, frames), np.float32)
    for t in range(frames):
        data[2 * t: 2 * t + 3, 2:6, 1:5, t] = 100.0 * (t + 1)
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 2.0, 1.0])), str(path))
    return path


def _phantom_pair(tmp_path: Path) -> tuple[Path, Path]:
    from test_align_registration import (
        _phantom,  # tests/imaging helper (registration phantom)
    )

    volume = _phantom((24, 28, 28))
    a, b = tmp_path / "mr.nii.gz", tmp_path / "pet.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(volume, (2, 1, 0)), np.diag([2.0, 2.0, 2.0, 1.0])), str(a))
    shifted = np.diag([2.0, 2.0, 2.0, 1.0])
    shifted[0, 3] = 4.0  # B's scanner reported it 4 mm to the right of where it is
    nib.save(nib.Nifti1Image(np.transpose(200.0 - volume, (2, 1, 0)), shifted), str(b))
    return a, b


@pytest.fixture(autouse=True)
def _imaging_tests_on_path(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "imaging"))
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "cli"))


def test_frame_spin_box_rereads_a_4d_source_and_the_session_keeps_the_frame(make_window, tmp_path) -> None:
    from textdifuse_desktop.gui import session_actions

    window = make_window()
    path = _dynamic(tmp_path / "dyn.nii.gz")
    assert window.open_pair(path, path)
    spin = window.source_tools.frame_spins["b"]
    assert spin.isVisibleTo(window.source_tools) and spin.maximum() == 2 and spin.value() == 0
    spin.setValue(2)
    assert window.raw["b"].meta["frame"] == 2 and window.raw["a"].meta["frame"] == 0
    assert window.raw["b"].pixels.max() == 300
    saved = session_actions.save_session_as(window, tmp_path / "s.tdfsession")
    other = make_window()
    assert session_actions.open_session(other, saved)
    assert other.raw["b"].meta["frame"] == 2 and other.source_tools.frame_spins["b"].value() == 2


def test_frame_spin_boxes_hidden_for_plain_sources(make_window) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    assert not window.source_tools.frame_spins["a"].isVisibleTo(window.source_tools)
    # The demo's IR is an 8-bit display image opened as infrared: no temperature scale, and it says so.
    assert not window.source_tools.empty.isVisibleTo(window.source_tools)  # the modality combos are there
    assert not window.source_tools.thermal_labels["a"].isVisibleTo(window.source_tools)
    label = window.source_tools.thermal_labels["b"]
    assert label.isVisibleTo(window.source_tools) and "uncalibrated" in label.text()
    assert not window.source_tools.bars["b"].isVisibleTo(window.source_tools)


def test_temperature_scale_only_for_calibrated_thermal_images(make_window, tmp_path) -> None:
    from PIL import Image as PILImage

    counts = (np.linspace(7000, 9000, 40 * 50).reshape(40, 50)).astype(np.uint16)
    raw = tmp_path / "thermal.png"
    PILImage.fromarray(counts).save(raw)
    calibrated = tmp_path / "calibrated.png"
    PILImage.fromarray(counts).save(calibrated)
    (tmp_path / "calibrated.json").write_text(json.dumps({"temperature_gain": 0.01, "temperature_offset": -50}))
    window = make_window()
    assert window.open_pair(calibrated, raw)
    tools = window.source_tools
    assert tools.bars["a"].isVisibleTo(tools) and "\u00b0C = counts \u00d7 0.01 \u2212 50" in tools.thermal_labels["a"].text()
    low, high = tools.bars["a"].labels()
    assert low.endswith("\u00b0C") and 20.0 <= float(low.split()[0]) < float(high.split()[0]) <= 40.0
    assert not tools.bars["b"].isVisibleTo(tools)
    assert "uncalibrated" in tools.thermal_labels["b"].text() and "thermal.json" in tools.thermal_labels["b"].text()


def test_registration_runs_in_the_background_and_is_saved_in_the_session(make_window, qtbot, tmp_path,
                                                                         message_boxes) -> None:
    from textdifuse_desktop.gui import session_actions
    from textdifuse_desktop.session.document import SessionDocument

    path_a, path_b = _phantom_pair(tmp_path)
    window = make_window()
    assert window.open_pair(path_a, path_b)
    assert window.registration.action in window.findChildren(type(window.registration.action))
    window.registration.action.trigger()
    assert window.registration.is_running and window.registration.progress_dialog is not None
    assert window.registration.wait(60000)
    record = window.raw["b"].meta["registration"]
    assert abs(record["translation_mm"][0]) == pytest.approx(4.0, abs=1.5)
    assert message_boxes and "B registered to A: rotation" in message_boxes[-1]["text"]
    assert "mm" in window.statusBar().currentMessage()
    saved = session_actions.save_session_as(window, tmp_path / "reg.tdfsession")
    assert SessionDocument.load(saved).registration["matrix"] == record["matrix"]
    other = make_window()
    assert session_actions.open_session(other, saved)
    np.testing.assert_allclose(other.raw["b"].affine, window.raw["b"].affine, atol=1e-6)


def test_registration_cancel_leaves_b_unchanged(make_window, qtbot, tmp_path) -> None:
    path_a, path_b = _phantom_pair(tmp_path)
    window = make_window()
    assert window.open_pair(path_a, path_b)
    before = window.raw["b"]
    assert window.registration.start(iterations=5000)
    window.registration.progress_dialog.canceled.emit()  # what its Cancel button sends
    assert window.registration.wait(30000)
    assert window.raw["b"] is before and "cancelled" in window.statusBar().currentMessage()


def test_registration_of_2d_images_is_explained(make_window, message_boxes) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    assert not window.registration.start()
    assert any("two volumes" in box["text"] for box in message_boxes)


def test_old_sessions_without_registration_still_load(tmp_path) -> None:
    from textdifuse_desktop.session.document import SessionDocument

    data = SessionDocument().to_dict()
    data.pop("registration")  # as written before the field existed
    assert SessionDocument._from_dict(data, tmp_path / "old.tdfsession", None).registration is None


def test_modality_combo_names_a_plain_image_and_the_session_keeps_it(make_window, tmp_path) -> None:
    from PIL import Image as PILImage

    from textdifuse_desktop.gui import session_actions

    window = make_window()
    assert window.open_demo("ir_vis")  # the demo PNGs are opened as what they show
    combos = window.source_tools.modality_combos
    assert (window.raw["a"].modality, window.raw["b"].modality) == ("VIS", "IR")
    assert combos["b"].isVisibleTo(window.source_tools) and combos["b"].currentData() == "IR"
    rng = np.random.default_rng(0)
    for name in ("x.png", "y.png"):
        PILImage.fromarray(rng.integers(0, 256, (24, 30), dtype=np.uint8)).save(tmp_path / name)
    assert window.open_pair(tmp_path / "x.png", tmp_path / "y.png")
    assert combos["a"].currentData() == "OT"  # a plain PNG says nothing: unknown
    combos["a"].activated.emit(combos["a"].findData("MR"))  # as a user's pick does
    assert window.raw["a"].modality == "MR" and combos["a"].currentData() == "MR"
    assert window.raw["b"].modality == "OT"
    saved = session_actions.save_session_as(window, tmp_path / "m.tdfsession")
    other = make_window()
    assert session_actions.open_session(other, saved)
    assert other.raw["a"].modality == "MR" and other.source_tools.modality_combos["a"].currentData() == "MR"


def test_modality_combo_names_nifti_volumes_so_the_tone_correction_runs(make_window, qtbot, tmp_path) -> None:
    """NIfTI records no modality either: the user names both volumes, the re-read keeps the volume, and the
    fused result (shipped model) no longer warns that the tone correction was skipped."""
    from textdifuse_desktop.fusion import FusionParams

    def tone_warnings() -> list[str]:
        with qtbot.waitSignal(window.fusion_done, timeout=120000) as blocker:
            window.run_fusion(FusionParams(method="textdifuse", steps=1, device="cpu"))
        return [w for w in blocker.args[0].warnings if "tone correction" in w]

    window = make_window()
    a, b = _phantom_pair(tmp_path)
    assert window.open_pair(a, b)
    combos = window.source_tools.modality_combos
    assert window.raw["a"].modality == "OT" and combos["a"].isVisibleTo(window.source_tools)
    assert tone_warnings()
    shape = window.raw["a"].pixels.shape
    combos["a"].activated.emit(combos["a"].findData("MR"))
    combos["b"].activated.emit(combos["b"].findData("PT"))
    assert (window.raw["a"].modality, window.raw["b"].modality) == ("MR", "PT")
    assert window.raw["a"].pixels.shape == shape and window.raw["a"].units == ""  # the same volume, no unit claim
    assert combos["b"].currentData() == "PT"
    assert not tone_warnings()


def test_modality_combo_hidden_for_files_that_record_one(make_window, tmp_path) -> None:
    from test_cli_fuse_safety import _ct

    window = make_window()
    ct = _ct(tmp_path / "ct.dcm")
    assert window.open_pair(ct, ct)
    assert window.raw["a"].modality == "CT"
    assert not window.source_tools.modality_combos["a"].isVisibleTo(window.source_tools)
    assert not window.source_tools.set_modality("a", "MR") and window.raw["a"].modality == "CT"
