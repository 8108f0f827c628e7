"""Every control of the real main window (built by ``gui.app.create_main_window``) is wired and does something."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.config import AppSettings
from textdifuse_desktop.gui import region_actions, strings

# Actions Qt adds itself or that stand for "nothing here".
_PLACEHOLDER_ACTIONS = {strings.ACTION_RECENT_EMPTY}


def _receivers(obj: QtCore.QObject, signature: str) -> int:
    return obj.receivers(QtCore.SIGNAL(signature))


def _internal_listeners(action: QtGui.QAction) -> int:
    # Menus and tool buttons showing an action connect to its triggered signal themselves.
    return sum(isinstance(o, (QtWidgets.QMenu, QtWidgets.QToolButton)) for o in action.associatedObjects())


def _unwired(window: QtWidgets.QMainWindow) -> list[str]:
    problems = []
    for action in window.findChildren(QtGui.QAction):
        if action.isSeparator() or action.menu() is not None or action.text() in _PLACEHOLDER_ACTIONS:
            continue
        if _receivers(action, "triggered(bool)") + _receivers(action, "toggled(bool)") <= _internal_listeners(action):
            problems.append(f"action {action.text()!r} has no slot")
    for button in window.findChildren(QtWidgets.QAbstractButton):
        if button.objectName().startswith("qt_") or type(button) is QtWidgets.QAbstractButton:
            continue  # Qt's own dock title buttons
        if button.objectName() in ("ScrollLeftButton", "ScrollRightButton"):
            continue  # the dock tab bar's scroll arrows
        action = button.defaultAction() if isinstance(button, QtWidgets.QToolButton) else None
        if action is not None:
            continue  # checked as an action above
        if _receivers(button, "clicked(bool)") + _receivers(button, "toggled(bool)") == 0:
            problems.append(f"button {button.text()!r} has no slot")
    # Widgets that delegate their work to a handler object (the regions panel) must have it set.
    for widget in [window, *window.findChildren(QtWidgets.QWidget)]:
        for name, value in vars(widget).items():
            if name.endswith("_handler") and value is None:
                problems.append(f"{type(widget).__name__}.{name} is not set")
    return problems


def test_every_action_and_button_of_the_main_window_is_connected(make_window) -> None:
    window = make_window()
    assert _unwired(window) == []
    window.open_demo("ir_vis")  # the regions panel is (re)built for the pair
    assert _unwired(window) == []


def test_the_walk_catches_an_unwired_control(make_window) -> None:
    window = make_window()
    window.regions.panel.proposal_handler = None
    QtGui.QAction("Does nothing", window)
    orphan = QtWidgets.QPushButton("Orphan", window.fusion_panel)
    problems = _unwired(window)
    assert any("proposal_handler" in p for p in problems) and any("Does nothing" in p for p in problems)
    assert any("Orphan" in p for p in problems)
    orphan.deleteLater()


def test_hot_objects_button_adds_regions_in_the_real_app(make_window, qtbot) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    panel = window.regions.panel
    with qtbot.waitSignal(window.regions.actions.proposals_added, timeout=20000) as blocker:
        qtbot.mouseClick(panel.proposal_buttons["hot_objects"], QtCore.Qt.MouseButton.LeftButton)
    kind, count = blocker.args
    region_set = window.regions.region_set
    assert kind == "hot_objects" and count > 0 and len(region_set) == count
    assert all(r.origin == "proposal" and r.mask.any() for r in region_set)
    assert panel.tree.topLevelItemCount() == count and panel.active_index == 0
    assert "hot objects" in window.statusBar().currentMessage()
    assert window.regions.has_regions()


def test_high_uptake_button_adds_regions_in_the_real_app(make_window, qtbot) -> None:
    window = make_window()
    window.open_demo("mri_pet")
    panel = window.regions.panel
    qtbot.mouseClick(panel.proposal_buttons["high_uptake"], QtCore.Qt.MouseButton.LeftButton)
    region_set = window.regions.region_set
    assert len(region_set) > 0 and region_set[0].name.startswith("uptake")
    assert region_set[0].mask.shape == window.paired[0].grid_shape[1:]
    assert "high uptake" in window.statusBar().currentMessage()


def test_proposal_that_finds_nothing_says_so(make_window, qtbot) -> None:
    from textdifuse_desktop.imaging.image import Image

    window = make_window()
    flat = Image(np.full((40, 50), 7.0, np.float32), modality="IR")
    window.set_sources(flat, Image(np.full((40, 50), 3.0, np.float32)))
    qtbot.mouseClick(window.regions.panel.proposal_buttons["hot_objects"], QtCore.Qt.MouseButton.LeftButton)
    assert len(window.regions.region_set) == 0
    assert window.statusBar().currentMessage().startswith("No hot objects found")


def test_find_without_any_model_uses_the_word_list(make_window, qtbot, message_boxes) -> None:
    """No checkpoint, no weights: "person" on the infrared/visible demo is the hot-object proposal, said so."""
    window = make_window()
    window.open_demo("ir_vis")
    panel = window.regions.panel
    assert panel.prompt_button.isEnabled() and not panel.prompt_hint.isHidden()
    assert "person" in panel.prompt_hint.text()
    panel.prompt_edit.setText("person")
    with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
        qtbot.mouseClick(panel.prompt_button, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args[1] == 1 and not message_boxes
    region = window.regions.region_set[0]
    assert region.provenance == "hot-object proposal for 'person'"
    assert panel.tree.topLevelItem(0).text(3) == region.provenance
    assert "hot-object proposal for 'person'" in window.statusBar().currentMessage()
    assert window.regions.actions.wait(10000) and window.isVisible()


def test_find_without_open_clip_explains_in_a_dialog(make_window, qtbot, message_boxes, tmp_path,
                                                     monkeypatch) -> None:
    checkpoint = tmp_path / "ViT-B-32.safetensors"
    checkpoint.write_bytes(b"weights")
    window = make_window(settings=AppSettings(clip_checkpoint=str(checkpoint)))
    window.open_demo("ir_vis")
    monkeypatch.setattr(region_actions, "open_clip_installed", lambda: False)
    panel = window.regions.panel
    assert panel.prompt_hint.isHidden()
    panel.prompt_edit.setText("person")
    qtbot.mouseClick(panel.prompt_button, QtCore.Qt.MouseButton.LeftButton)
    assert len(message_boxes) == 1 and "open_clip" in message_boxes[0]["text"]
    assert "pip install open_clip_torch" in message_boxes[0]["text"]


def test_find_runs_the_prompt_pipeline_and_adds_a_region(make_window, qtbot, tmp_path, monkeypatch) -> None:
    """Find runs ``prompt_masks`` (query image, coarse mask, refinement) with CLIP replaced by a stand-in."""
    pytest.importorskip("torch")
    from textdifuse_desktop.fusion import prompt_regions

    checkpoint = tmp_path / "ViT-B-32.safetensors"
    checkpoint.write_bytes(b"weights")
    seen: dict[str, object] = {}

    def fake_load_clip(path, model_name, device, **options):
        seen["checkpoint"] = str(path)
        return object()

    def fake_similarity(bundle, rgb, phrases):
        h, w = rgb.shape[:2]
        sim = np.zeros((len(phrases), h, w), np.float32)
        sim[0, h // 4: h // 2, w // 3: w // 2] = 1.0  # "person" where the stand-in CLIP sees it
        seen["phrases"] = list(phrases)
        return sim

    monkeypatch.setattr(region_actions, "open_clip_installed", lambda: True)
    monkeypatch.setattr(prompt_regions, "load_clip", fake_load_clip)
    monkeypatch.setattr(prompt_regions, "clip_similarity", fake_similarity)
    window = make_window(settings=AppSettings(clip_checkpoint=str(checkpoint)))
    window.open_demo("ir_vis")
    panel = window.regions.panel
    panel.prompt_edit.setText("person")
    with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
        qtbot.mouseClick(panel.prompt_button, QtCore.Qt.MouseButton.LeftButton)
        assert not panel.prompt_button.isEnabled()  # busy while the worker runs
    assert blocker.args == ["person", 1]
    assert window.regions.actions.wait(10000) and panel.prompt_button.isEnabled()
    region = window.regions.region_set[0]
    assert region.name == "person" and region.origin == "text" and region.mask.any()
    assert seen == {"checkpoint": str(checkpoint), "phrases": ["person"]}
    assert "person" in window.statusBar().currentMessage()


def test_settings_dialog_refreshes_the_prompt_hint(make_window, tmp_path, monkeypatch) -> None:
    from textdifuse_desktop.gui import main_menus

    window = make_window()
    panel = window.regions.panel
    assert not panel.prompt_hint.isHidden()
    checkpoint = tmp_path / "clip.bin"
    checkpoint.write_bytes(b"x")
    window.settings.clip_checkpoint = str(checkpoint)  # what the dialog's OK does
    main_menus._open_settings(window)  # QDialog.exec returns at once in tests
    assert panel.prompt_hint.isHidden()


def test_every_menu_action_reacts(make_window, monkeypatch) -> None:
    """Trigger each menu action of the real window; file dialogs answer "cancel", no action may raise."""
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    window = make_window()
    window.interactive = False
    skip = {strings.ACTION_QUIT}
    for action in window.findChildren(QtGui.QAction):
        if action.parent() is not window or action.text() in skip or not action.isEnabled():
            continue
        action.trigger()
        QtWidgets.QApplication.processEvents()
    assert window.raw["a"] is not None  # the demo actions opened a pair
    assert window.isVisible()


def test_high_uptake_on_pet_volumes_makes_3d_regions(make_window, qtbot) -> None:
    from gui_helpers import make_volume

    pet = make_volume(shape=(6, 32, 40), units="SUV", modality="PT")
    pet.pixels[:] = np.clip(pet.pixels / 100.0 + 1.0, 0, None)  # body about 1 SUV, a block at 9 SUV
    mr = make_volume(shape=(6, 32, 40), units="", modality="MR", seed=4)
    window = make_window()
    window.set_sources(mr, pet)
    qtbot.mouseClick(window.regions.panel.proposal_buttons["high_uptake"], QtCore.Qt.MouseButton.LeftButton)
    region_set = window.regions.region_set
    assert len(region_set) == 1 and region_set[0].source == "B"
    assert region_set[0].mask.shape == (6, 32, 40) and region_set[0].mask[:, 6:14, 8:20].all()


_INPUT_SIGNALS = {
    QtWidgets.QComboBox: ("currentIndexChanged(int)", "activated(int)", "currentTextChanged(QString)"),
    QtWidgets.QAbstractSpinBox: ("valueChanged(int)", "valueChanged(double)", "editingFinished()"),
    QtWidgets.QSlider: ("valueChanged(int)", "sliderMoved(int)"),
    QtWidgets.QLineEdit: ("returnPressed()", "textChanged(QString)", "editingFinished()"),
}


def _nudge(control: QtWidgets.QWidget) -> None:
    if isinstance(control, QtWidgets.QComboBox):
        control.setCurrentIndex((control.currentIndex() + 1) % control.count())
    elif isinstance(control, QtWidgets.QAbstractSpinBox):
        step = control.singleStep()
        control.setValue(control.value() + step if control.value() + step <= control.maximum()
                         else control.value() - step)
    else:
        raise AssertionError(f"no way to change {control!r}")


def test_every_panel_control_is_connected_or_read_by_the_fusion_parameters(make_window) -> None:
    """Input controls either have a slot or are read when fusing: changing them changes the parameters."""
    window = make_window()
    window.open_demo("ir_vis")
    panel = window.fusion_panel
    read_on_demand = []
    for cls, signatures in _INPUT_SIGNALS.items():
        for control in window.findChildren(cls):
            if control.objectName().startswith("qt_") or type(control) is QtWidgets.QScrollBar:
                continue
            undo_recorder = 1 if control in window.undo_controls.watched else 0  # Edit > Undo only records
            if sum(_receivers(control, s) for s in signatures) - undo_recorder > 0:
                continue
            assert panel.isAncestorOf(control), f"unconnected control {control!r} ({control.toolTip()!r})"
            before = panel.params()
            _nudge(control)
            assert panel.params() != before, f"{control!r} changes no fusion parameter"
            read_on_demand.append(control)
    assert len(read_on_demand) >= 5  # steps, rule, restoration, device, seed
