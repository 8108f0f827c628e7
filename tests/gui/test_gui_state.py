"""The window never shows stale state: read-out, pairing, progress, status and reopened sessions (issue 15, 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gui_helpers import make_volume

from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.gui import pipeline
from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.intensity import data_window


def _pair(folder: Path, size: tuple[int, int], seed: int) -> tuple[Path, Path]:
    """A grey PNG pair of ``size`` (rows, columns) in ``folder``."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = (folder / "a.png", folder / "b.png")
    for path in paths:
        PILImage.fromarray(rng.integers(0, 255, size, dtype=np.uint8)).save(path)
    return paths


def test_readout_resets_when_new_sources_open(make_window, tmp_path) -> None:
    window = make_window()
    window.open_pair(*_pair(tmp_path / "one", (48, 64), 0))
    window.panes["a"].cursor_moved.emit((10.0, 10.0))
    window._on_cursor((10.0, 10.0))
    assert window.readout.text() and window.panes["a"]._footer.text().strip()
    window.open_pair(*_pair(tmp_path / "two", (40, 50), 1))
    assert window.readout.text() == ""
    assert all(pane._footer.text().strip() == "" for pane in window.panes.values())


def test_a_new_pair_is_never_paired_with_the_old_b(make_window, tmp_path, monkeypatch) -> None:
    window = make_window()
    old_a, old_b = _pair(tmp_path / "old", (48, 64), 0)
    new_a, new_b = _pair(tmp_path / "new", (60, 40), 1)
    window.open_pair(old_a, old_b)
    calls: list[tuple[str, str]] = []
    real = pipeline.pair_sources

    def spy(a, b):
        calls.append((a.provenance.source_paths[0], b.provenance.source_paths[0]))
        return real(a, b)

    monkeypatch.setattr(pipeline, "pair_sources", spy)
    assert window.open_pair(new_a, new_b)
    assert calls == [(str(new_a), str(new_b))]  # before: (new A, old B) first, with a coverage warning
    assert window.pair_warnings == []
    assert window.panes["b"].source.provenance.source_paths[0] == str(new_b)


def test_a_new_pair_whose_b_fails_shows_a_alone(make_window, tmp_path, message_boxes) -> None:
    window = make_window()
    window.open_pair(*_pair(tmp_path / "old", (48, 64), 0))
    new_a, _ = _pair(tmp_path / "new", (60, 40), 1)
    assert not window.open_pair(new_a, tmp_path / "missing.png")
    assert window.raw["b"] is None and window.panes["b"].source is None and window.paired is None
    assert len(message_boxes) == 1 and "missing.png" in message_boxes[0]["text"]


def test_progress_stays_below_100_until_the_result(make_window, qtbot, sleepy_backend) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    window.controller.backend = sleepy_backend(steps=4, delay=0.02)
    bar = window.fusion_panel.progress
    seen: list[tuple[int, int, bool]] = []
    window.controller.progress.connect(lambda _p: seen.append((bar.value(), bar.maximum(),
                                                               window.controller.is_running)))
    with qtbot.waitSignal(window.fusion_done, timeout=30000):
        window.run_fusion(FusionParams(method="textdifuse", steps=4))
    assert window.wait_for_fusion(10000)
    assert seen and all(running for *_, running in seen)
    assert all(value < maximum for value, maximum, _ in seen)  # before: 100 % after the classical preview
    assert any(value >= 0.1 * maximum for value, maximum, _ in seen)
    assert bar.value() == bar.maximum()  # 100 % once the result is in


def test_no_finished_status_next_to_an_empty_pane(make_window, qtbot, tmp_path) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    window.run_fusion(FusionParams(method="mean"))
    assert window.wait_for_fusion(30000) and window.result is not None
    assert "Fused with" in window.fusion_panel.status_label.text()
    window.open_pair(*_pair(tmp_path / "next", (40, 50), 3))
    assert window.panes["fused"].image is None
    assert "Fused" not in window.statusBar().currentMessage()
    assert window.fusion_panel.status_label.text() == ""
    assert window.fusion_panel.progress.value() < window.fusion_panel.progress.maximum()


def _new_pair_while_fusing(make_window, qtbot, tmp_path, sleepy_backend):
    """A window whose slow diffusion run on the demo pair is under way when a new pair is opened."""
    window = make_window()
    window.open_demo("ir_vis")
    window.controller.backend = sleepy_backend(steps=20, delay=0.05)
    with qtbot.waitSignal(window.controller.progress, timeout=10000):
        window.run_fusion(FusionParams(method="textdifuse", steps=20))
    window.open_pair(*_pair(tmp_path / "next", (40, 50), 3))
    return window


def test_result_of_replaced_sources_is_dropped(make_window, qtbot, tmp_path, sleepy_backend) -> None:
    window = _new_pair_while_fusing(make_window, qtbot, tmp_path, sleepy_backend)
    assert window.wait_for_fusion(20000)
    qtbot.wait(50)
    assert window.result is None and window.panes["fused"].image is None
    message = window.statusBar().currentMessage()
    assert "Fused" not in message and "cancelled" not in message.lower()
    assert window.fusion_panel.run_button.isEnabled()


def test_reopened_session_shows_its_fused_result(make_window, png_pair, tmp_path, qtbot) -> None:
    from textdifuse_desktop.gui import session_actions

    window = make_window()
    window.open_pair(*png_pair)
    window.run_fusion(FusionParams(method="guided"))
    assert window.wait_for_fusion(30000) and window.result is not None
    saved = session_actions.save_session_as(window, tmp_path / "case")
    other = make_window()
    with qtbot.waitSignal(other.fusion_done, timeout=30000) as blocker:
        assert session_actions.open_session(other, saved)  # no Run pressed
    assert blocker.args[0].params.method == "guided"
    assert other.panes["fused"].image is blocker.args[0].image
    np.testing.assert_allclose(other.result.image.pixels, window.result.image.pixels, atol=1e-4)


def test_pet_with_wrong_header_window_opens_visible_in_the_pane(make_window) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96]
    pixels = np.where((yy - 48) ** 2 + (xx - 48) ** 2 < 40**2, rng.gamma(8, 0.1, (96, 96)), 0).astype(np.float32)
    pixels[40:52, 50:62] = 7.2
    pet = Image(pixels, modality="PT", units="SUV", window=(17.9, 32.3))  # as the ACRIN slice's header
    window = make_window()
    window.set_sources(Image(rng.normal(500, 50, (96, 96)).astype(np.float32), modality="MR"), pet)
    pane = window.panes["b"]
    assert pane.window == data_window(pet)
    low = pane.window[0] - pane.window[1] / 2
    high = pane.window[0] + pane.window[1] / 2
    assert 0 <= low < 0.5 and high <= 7.2  # before: 1.8..34 SUV, the body black
    window.apply_preset("b", display.SUV_PRESET)
    assert pane.window == (4.0, 8.0)  # SUV 0-8: follows the data, not a fixed 0-10
    window.apply_preset("b", display.FILE_PRESET)
    assert pane.window == (17.9, 32.3)
    combo = window.display_panel.preset_combos["b"]
    index = combo.findText(display.SUV_PRESET)
    assert index >= 0 and combo.model().item(index).isEnabled()
    assert not window.display_panel.preset_combos["a"].model().item(index).isEnabled()  # MR: no SUV


def test_volume_default_window_is_shared_by_all_slices(make_window) -> None:
    volume = make_volume(shape=(6, 24, 32), units="SUV", modality="PT")
    volume.pixels[:] = np.abs(volume.pixels)
    volume.pixels[0] *= 10.0  # one hot slice: the window comes from the whole volume, not the middle slice
    window = make_window()
    window.set_sources(volume, make_volume(shape=(6, 24, 32), units="SUV", modality="PT", seed=2))
    assert window.panes["a"].window == data_window(volume)


def test_run_for_new_sources_while_the_old_job_stops(make_window, qtbot, tmp_path, sleepy_backend) -> None:
    window = _new_pair_while_fusing(make_window, qtbot, tmp_path, sleepy_backend)
    assert window.controller.is_running  # the old job is still stopping
    assert window.run_fusion(FusionParams(method="mean"))  # e.g. a reopened session's own fusion
    with qtbot.waitSignal(window.fusion_done, timeout=20000) as blocker:
        pass
    assert blocker.args[0].params.method == "mean"
    assert window.panes["fused"].image is blocker.args[0].image
    assert blocker.args[0].image.grid_shape[1:] == (40, 50)
