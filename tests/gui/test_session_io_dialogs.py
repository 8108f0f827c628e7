"""gui.session_io (view-state protocol, relocation) and the settings dialog."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402

from textdifuse_desktop import config  # noqa: E402
from textdifuse_desktop.config import DEFAULT_STEPS, AppSettings  # noqa: E402
from textdifuse_desktop.gui import session_io  # noqa: E402
from textdifuse_desktop.gui.settings_dialog import SettingsDialog  # noqa: E402
from textdifuse_desktop.session.document import SessionDocument  # noqa: E402
from textdifuse_desktop.session.regions import RegionSet  # noqa: E402


class Pane(QtCore.QObject):
    """A pane following the documented view-state protocol."""

    def __init__(self):
        super().__init__()
        self.view_box = pg.ViewBox(invertY=True)
        self.view_box.addItem(pg.ImageItem(np.zeros((50, 80), np.float32), axisOrder="row-major"))
        self.current_slice = 0
        self.window = (0.5, 1.0)
        self.colormap = "Grey"

    def set_slice(self, index):
        self.current_slice = index

    def set_window(self, center, width):
        self.window = (center, width)

    def set_colormap(self, name):
        self.colormap = name


def test_view_state_round_trip_through_a_session_file(qtbot, tmp_path):
    panes = {"a": Pane(), "fused": Pane()}
    panes["a"].set_slice(7)
    panes["a"].set_window(40.0, 400.0)
    panes["fused"].set_colormap("Hot")
    panes["a"].view_box.setRange(xRange=(10, 30), yRange=(5, 25), padding=0)
    state = session_io.collect_view_state(panes, link_views=False, overlay_mode="regions", active_region=-1)
    assert state.active_region is None and state.panes["a"].slice_index == 7
    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    document = SessionDocument(view_state=state)
    document.set_source("A", source)
    path = session_io.save_session(document, tmp_path / "work")
    assert path.name == "work.tdfsession"
    loaded = session_io.open_session(path, chooser=lambda *_: pytest.fail("nothing is missing"))
    fresh = {"a": Pane(), "fused": Pane(), "b": Pane()}
    session_io.apply_view_state(fresh, loaded.view_state)
    assert fresh["a"].current_slice == 7 and fresh["a"].window == (40.0, 400.0)
    assert fresh["fused"].colormap == "Hot" and fresh["b"].colormap == "Grey"
    (x0, x1), (y0, y1) = fresh["a"].view_box.viewRange()
    assert (x0, x1, y0, y1) == pytest.approx((10, 30, 5, 25), abs=1e-6)
    assert loaded.view_state.link_views is False and loaded.view_state.overlay_mode == "regions"


def test_open_session_relocates_missing_sources(qtbot, tmp_path):
    source = tmp_path / "pet.nii.gz"
    source.write_bytes(b"x")
    document = SessionDocument(regions=RegionSet((4, 4)))
    document.set_source("B", source, suv=True)
    path = document.save(tmp_path / "s.tdfsession")
    source.unlink()
    assert session_io.open_session(path, chooser=lambda role, missing: None) is None
    new = tmp_path / "moved.nii.gz"
    new.write_bytes(b"x")
    asked = []

    def chooser(role, missing):
        asked.append((role, missing))
        return str(tmp_path / "still-missing") if len(asked) == 1 else str(new)

    loaded = session_io.open_session(path, chooser=chooser)
    assert asked[0] == ("B", str(source)) and len(asked) == 2  # a wrong pick is asked again
    assert loaded.sources["B"].path == str(new) and loaded.sources["B"].options == {"suv": True}


def test_settings_dialog_updates_in_place_and_saves(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_CONFIG_DIR, str(tmp_path))
    checkpoint = tmp_path / "clip.bin"
    checkpoint.write_bytes(b"x")
    settings = AppSettings(recent_files=["/data/x.png"])
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert "off" in dialog.clip_status.text()
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
    dialog.method_combo.setCurrentIndex(dialog.method_combo.findData("guided"))
    dialog.steps_spin.setValue(9)
    dialog.clip_edit.setText(str(checkpoint))
    assert "will use" in dialog.clip_status.text()
    with qtbot.waitSignal(dialog.settings_changed):
        dialog.accept()
    assert (settings.device, settings.default_method, settings.default_steps) == ("cpu", "guided", 9)
    assert settings.clip_available and settings.recent_files == ["/data/x.png"]
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert saved["clip_checkpoint"] == str(checkpoint) and saved["default_steps"] == 9


def test_settings_dialog_cancel_changes_nothing(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_CONFIG_DIR, str(tmp_path))
    settings = AppSettings()
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.steps_spin.setValue(50)
    dialog.reject()
    assert settings.default_steps == DEFAULT_STEPS and not (tmp_path / "settings.json").exists()
