"""RegionsPanel and RegionOverlay on a bare pyqtgraph ViewBox (offscreen)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402

from textdifuse_desktop.config import AppSettings  # noqa: E402
from textdifuse_desktop.gui.region_overlay import RegionOverlay  # noqa: E402
from textdifuse_desktop.gui.regions_panel import RegionsPanel  # noqa: E402
from textdifuse_desktop.session.regions import RegionSet  # noqa: E402


class FakePane(QtCore.QObject):
    """The part of the image pane the overlay relies on."""

    slice_changed = QtCore.Signal(int)

    def __init__(self, height: int, width: int):
        super().__init__()
        self.view_box = pg.ViewBox(invertY=True, lockAspect=True)
        self.image_item = pg.ImageItem(np.zeros((height, width), np.float32), axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        self.current_slice = 0

    def set_slice(self, index: int) -> None:
        self.current_slice = index
        self.slice_changed.emit(index)


class FakeDrag:
    """Enough of pyqtgraph's MouseDragEvent for the overlay."""

    def __init__(self, pos, down, *, start=False, finish=False, button=QtCore.Qt.MouseButton.LeftButton):
        self._pos, self._down, self._start, self._finish, self._button = pos, down, start, finish, button
        self.accepted = False

    def button(self):
        return self._button

    def pos(self):
        return QtCore.QPointF(*self._pos)

    def buttonDownPos(self):  # noqa: N802 - pyqtgraph name
        return QtCore.QPointF(*self._down)

    def isStart(self):  # noqa: N802
        return self._start

    def isFinish(self):  # noqa: N802
        return self._finish

    def accept(self):
        self.accepted = True


@pytest.fixture
def setup(qtbot):
    rs = RegionSet((64, 96))
    panel = RegionsPanel(rs, settings=AppSettings())
    qtbot.addWidget(panel)
    pane = FakePane(64, 96)
    overlay = RegionOverlay(pane, rs, panel)
    return rs, panel, pane, overlay


def test_brush_stroke_is_one_undo_step_and_is_drawn(setup, qtbot):
    rs, panel, pane, overlay = setup
    assert not panel.undo_action.isEnabled()
    panel.set_tool("brush")
    panel.set_brush_radius(4)
    assert overlay.tool == "brush" and overlay.brush_radius == 4.0
    overlay.begin_stroke(10, 20)  # no region yet: one is created and selected
    for x in range(12, 60, 3):
        overlay.continue_stroke(x, 20)
    overlay.end_stroke()
    assert len(rs) == 1 and panel.active_index == 0
    mask = rs[0].mask
    assert mask[20, 10:61].all() and not mask[30, 30]
    assert overlay.item.getViewBox() is pane.view_box and overlay.item.zValue() > pane.image_item.zValue()
    rgba = overlay.item.image
    assert rgba[20, 30, 3] > 0 and tuple(rgba[20, 30, :3]) == rs[0].color and rgba[40, 30, 3] == 0
    assert panel.undo_action.isEnabled()
    panel.undo_action.trigger()  # the whole stroke at once
    assert not rs[0].mask.any()
    assert overlay.item.image[20, 30, 3] == 0
    panel.redo()
    assert rs[0].mask[20, 30]


def test_eraser_and_box_tools_through_drag_events(setup):
    rs, panel, pane, overlay = setup
    panel.set_tool("box")
    steps = [FakeDrag((5.5, 6.5), (5.5, 6.5), start=True), FakeDrag((20.5, 12.5), (5.5, 6.5)),
             FakeDrag((30.5, 16.5), (5.5, 6.5), finish=True)]
    for ev in steps:
        assert overlay.handle_drag(ev) and ev.accepted
    box = np.zeros((64, 96), bool)
    box[6:17, 5:31] = True
    np.testing.assert_array_equal(rs[0].mask, box)
    assert rs[0].origin == "box"
    panel.set_tool("eraser")
    panel.set_brush_radius(2)
    for ev in (FakeDrag((10.5, 10.5), (10.5, 10.5), start=True), FakeDrag((20.5, 10.5), (10.5, 10.5), finish=True)):
        overlay.handle_drag(ev)
    assert not rs[0].mask[10, 10:21].any() and rs[0].mask[15, 15]
    panel.undo()
    np.testing.assert_array_equal(rs[0].mask, box)
    # right button and the navigate tool are left to the view box (pan / window-level)
    assert not overlay.handle_drag(FakeDrag((1, 1), (1, 1), start=True, button=QtCore.Qt.MouseButton.RightButton))
    panel.set_tool("navigate")
    assert not overlay.handle_drag(FakeDrag((1, 1), (1, 1), start=True))


def test_volume_overlay_paints_the_current_slice(qtbot):
    rs = RegionSet((5, 32, 32))
    pane = FakePane(32, 32)
    overlay = RegionOverlay(pane, rs)
    overlay.tool = "brush"
    overlay.brush_radius = 3
    pane.set_slice(3)
    overlay.begin_stroke(16, 16)
    overlay.end_stroke()
    assert rs[0].mask[3, 16, 16] and not rs[0].mask[2].any()
    assert overlay.item.image[16, 16, 3] > 0
    pane.set_slice(2)
    assert overlay.item.image[16, 16, 3] == 0


def test_panel_edits_list_kappa_visibility_and_name(setup, qtbot):
    rs, panel, pane, overlay = setup
    panel.set_source_labels("Visible", "Infrared")
    qtbot.mouseClick(panel.add_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.add_button, QtCore.Qt.MouseButton.LeftButton)
    assert len(rs) == 2 and panel.tree.topLevelItemCount() == 2 and panel.active_index == 1
    panel.kappa_slider.setValue(250)
    assert rs[1].kappa == pytest.approx(2.5) and panel.tree.topLevelItem(1).text(2) == "2.50"
    panel.source_combo.setCurrentIndex(0)
    assert rs[1].source == "A" and "Visible" in panel.tree.topLevelItem(1).text(1)
    item = panel.tree.topLevelItem(0)
    item.setCheckState(0, QtCore.Qt.CheckState.Unchecked)
    assert not rs[0].visible
    item = panel.tree.topLevelItem(0)
    item.setText(0, "road")
    assert rs[0].name == "road"
    panel.undo()
    assert rs[0].name != "road"
    panel.set_active_index(0)
    qtbot.mouseClick(panel.remove_button, QtCore.Qt.MouseButton.LeftButton)
    assert len(rs) == 1 and panel.tree.topLevelItemCount() == 1


def test_regions_changed_is_debounced(setup, qtbot):
    rs, panel, pane, overlay = setup
    emitted = []
    panel.regions_changed.connect(lambda: emitted.append(1))
    rs.add()
    for x in range(10):
        rs.stamp_disc(0, (x * 5, 10), 3)
    assert emitted == [] and panel.change_pending
    qtbot.wait(panel.DEBOUNCE_MS + 300)
    assert emitted == [1]
    rs.set_kappa(0, 2.0)
    panel.flush()
    assert emitted == [1, 1] and not panel.change_pending


def test_prompt_box_needs_a_clip_checkpoint(setup, qtbot, tmp_path):
    rs, panel, pane, overlay = setup
    # Without a checkpoint Find stays clickable (its handler explains why it cannot run) and the hint shows.
    assert panel.prompt_edit.isEnabled() and panel.prompt_button.isEnabled()
    assert "CLIP" in panel.prompt_button.toolTip()
    assert not panel.prompt_hint.isHidden()
    checkpoint = tmp_path / "clip.safetensors"
    checkpoint.write_bytes(b"x")
    panel.set_settings(AppSettings(clip_checkpoint=str(checkpoint)))
    assert panel.prompt_edit.isEnabled() and panel.prompt_hint.isHidden()
    found = np.zeros((64, 96), bool)
    found[1:5, 1:5] = True
    panel.prompt_handler = lambda text: found if text == "person" else None
    panel.prompt_edit.setText("person")
    with qtbot.waitSignal(panel.prompt_requested) as blocker:
        qtbot.mouseClick(panel.prompt_button, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == ["person"]
    assert len(rs) == 1 and rs[0].origin == "text" and rs[0].name == "person"
    np.testing.assert_array_equal(rs[0].mask, found)


def test_proposal_buttons_emit_and_call_the_handler(setup, qtbot):
    rs, panel, pane, overlay = setup
    calls = []
    panel.proposal_handler = lambda kind: calls.append(kind)  # returns None: the work happens elsewhere
    with qtbot.waitSignal(panel.proposal_requested) as blocker:
        qtbot.mouseClick(panel.proposal_buttons["high_uptake"], QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == ["high_uptake"] and calls == ["high_uptake"] and len(rs) == 0
    index = panel.add_mask_region(np.ones((64, 96), bool), "Hot objects")
    assert rs[index].origin == "proposal" and rs[index].source == "B" and panel.active_index == index


def test_panel_without_region_set_is_inert(qtbot):
    panel = RegionsPanel()
    qtbot.addWidget(panel)
    assert not panel.add_button.isEnabled() and panel.add_region() == -1
    panel.undo()
    rs = RegionSet((8, 8))
    panel.set_region_set(rs)
    assert panel.add_button.isEnabled()
    panel.set_region_set(None)
    rs.add()  # no longer connected
    assert panel.tree.topLevelItemCount() == 0


def test_overlay_can_be_attached_to_a_panel_later_and_detached(qtbot):
    rs = RegionSet((20, 20))
    panel = RegionsPanel(rs)
    qtbot.addWidget(panel)
    pane = FakePane(20, 20)
    overlay = RegionOverlay(pane, rs)  # as the main window's bridge builds it
    assert overlay.tool == "navigate"
    overlay.set_panel(panel)
    panel.set_tool("eraser")
    panel.set_brush_radius(3)
    assert (overlay.tool, overlay.brush_radius) == ("eraser", 3.0)
    overlay.detach()
    assert overlay.item.scene() is None
    rs.add()  # no longer listening: nothing is drawn
    assert overlay.item.image is None
    panel.set_tool("brush")
    assert overlay.tool == "eraser"
