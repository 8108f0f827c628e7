"""Panes and linking: pan/zoom, crosshair and read-out, slices, window/level, colour maps, overlay."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import make_volume
from PySide6 import QtCore
from PySide6.QtTest import QTest

from textdifuse_desktop.gui.viewers import colormaps, display
from textdifuse_desktop.gui.viewers.image_pane import ImagePane
from textdifuse_desktop.gui.viewers.linking import ViewLinker


def _pan(pane, x_range, y_range) -> None:
    """Set the range as a mouse pan/zoom would (pyqtgraph emits sigRangeChangedManually)."""
    pane.view_box.setRange(xRange=x_range, yRange=y_range, padding=0)
    pane.view_box.sigRangeChangedManually.emit(pane.view_box.state["mouseEnabled"])


def _ranges(pane):
    """Centre of a pane's view and the size of the region both panes must show."""
    rect = pane.view_box.viewRect()
    return np.array([rect.center().x(), rect.center().y()])


def _shows(pane, x_range, y_range) -> bool:
    rect = pane.view_box.viewRect()
    return (rect.left() <= x_range[0] + 1e-6 and rect.right() >= x_range[1] - 1e-6
            and rect.top() <= y_range[0] + 1e-6 and rect.bottom() >= y_range[1] - 1e-6)


def test_pan_zoom_linked_and_unlinked(make_window) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    a, b, fused = (window.panes[k] for k in ("a", "b", "fused"))
    _pan(a, (100, 200), (50, 150))
    assert np.allclose(_ranges(b), _ranges(a)) and _shows(b, (100, 200), (50, 150))
    assert not _shows(b, (0, 640), (0, 480))  # zoomed in, not just showing everything
    assert fused.image is None  # empty panes keep their hint centred; they sync when a result arrives
    window.set_linked(False)
    assert not window.actions.link.isChecked() and not window.display_panel.link_check.isChecked()
    _pan(a, (0, 40), (0, 30))
    assert not np.allclose(_ranges(b), _ranges(a))
    window.actions.link.trigger()  # relink: B copies A again
    assert window.linker.enabled
    assert np.allclose(_ranges(b), _ranges(a))


def test_crosshair_and_readout_in_every_pane_with_units(make_window) -> None:
    window = make_window()
    ct = make_volume(units="HU")
    pet = make_volume(units="SUV", modality="PT", seed=1)
    pet.pixels[:] = 2.5
    window.set_sources(ct, pet)
    window.planes.set_mode("single")  # the classic one-slice view (volumes open in three planes)
    a, b = window.panes["a"], window.panes["b"]
    a.cursor_moved.emit((10.2, 8.7))  # inside the bright block
    assert a._vline.isVisible() and b._vline.isVisible()
    assert b._vline.value() == pytest.approx(10.2)
    assert a._footer.text().startswith("(10, 8)") and a._footer.text().endswith("HU")
    assert "2.5 SUV" in b._footer.text()
    assert "HU" in window.readout.text() and "SUV" in window.readout.text()
    window.set_linked(False)
    a.cursor_moved.emit((3.0, 3.0))
    assert b._footer.text().strip() == ""  # unlinked panes keep their own crosshair


def test_slices_linked_with_keyboard_and_slider(make_window) -> None:
    window = make_window()
    window.set_sources(make_volume(), make_volume(seed=2))
    window.planes.set_mode("single")  # the classic one-slice view (volumes open in three planes)
    a, b = window.panes["a"], window.panes["b"]
    assert a.slice_count == 5 and a.current_slice == 2
    a.setFocus()
    QTest.keyClick(a, QtCore.Qt.Key.Key_PageUp)
    assert a.current_slice == 3 and b.current_slice == 3
    assert window.display_panel.slice_slider.value() == 3
    QTest.keyClick(a, QtCore.Qt.Key.Key_Down)
    assert b.current_slice == 2
    window.display_panel.slice_slider.setValue(0)
    assert a.current_slice == 0 and b.current_slice == 0
    assert "slice 1/5" in a._header.text()
    window.set_linked(False)
    a.set_slice(4)
    assert b.current_slice == 0


def test_window_level_drag_and_presets(make_window) -> None:
    window = make_window()
    window.set_sources(make_volume(units="HU"), make_volume(units="HU", seed=3))
    a = window.panes["a"]
    center, width = a.window
    a.view_box.sig_window_drag.emit(40.0, -20.0)  # right-drag: wider and brighter centre
    new_center, new_width = a.window
    assert new_width > width and new_center > center
    window.apply_preset("a", "Brain (C40 W80 HU)")
    assert a.window == (40.0, 80.0)
    levels = a.image_item.getLevels()
    assert np.allclose(levels, (0.0, 80.0))
    window.apply_preset("all", display.FULL_PRESET)
    low, high = window.panes["b"].plane_image.value_range()
    assert window.panes["b"].window == pytest.approx(((low + high) / 2, high - low))
    assert display.preset_applies("Brain (C40 W80 HU)", "HU") and not display.preset_applies(display.SUV_PRESET, "HU")


def test_colormaps_builtin_and_mricron_luts(tmp_path) -> None:
    names = colormaps.colormap_names()
    assert {"Grey", "Hot", "PET (rainbow)"} <= set(names)
    assert any(name.endswith("(MRIcron)") for name in names)
    hot = colormaps.lookup_table("Hot")
    assert hot.shape == (256, 3) and tuple(hot[0]) == (0, 0, 0) and tuple(hot[-1]) == (255, 255, 255)
    lut = tmp_path / "ramp.lut"
    lut.write_bytes(bytes(range(256)) + bytes(256) + bytes(255 - i for i in range(256)))
    table = colormaps.read_lut(lut)
    assert tuple(table[10]) == (10, 0, 245)
    (tmp_path / "short.lut").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="768"):
        colormaps.read_lut(tmp_path / "short.lut")


def test_colormap_applies_to_pane(make_window) -> None:
    window = make_window()
    window.set_sources(make_volume(), make_volume(seed=4))
    window.display_panel.set_colormap("b", "Hot")
    assert window.panes["b"].colormap == "Hot"
    assert np.array_equal(window.panes["b"].image_item.lut, colormaps.lookup_table("Hot"))


def test_overlay_mode_shows_b_over_a(make_window) -> None:
    window = make_window()
    window.open_demo("mri_pet")
    dp = window.display_panel
    dp.overlay_layer.setCurrentIndex(dp.overlay_layer.findData("b"))
    dp.layout_combo.setCurrentIndex(dp.layout_combo.findData("overlay"))
    assert window.panes["b"].isHidden() and window.panes["fused"].isHidden()
    assert window.panes["a"].overlay_item.isVisible()
    dp.opacity_slider.setValue(30)
    assert window.panes["a"].overlay_item.opacity() == pytest.approx(0.3)
    dp.layout_combo.setCurrentIndex(dp.layout_combo.findData("side"))
    assert not window.panes["b"].isHidden() and not window.panes["a"].overlay_item.isVisible()


def test_linker_holds_panes_weakly(qapp) -> None:
    linker = ViewLinker()
    pane = ImagePane("a")
    linker.add(pane)
    assert linker.panes() == [pane]
    pane.deleteLater()
    del pane
    import gc

    gc.collect()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    assert linker.panes() == []


def test_value_text_formats_units() -> None:
    from textdifuse_desktop.imaging.image import Image

    thermal = Image(np.full((4, 4), 36.6, np.float32), units="degC", modality="IR")
    assert display.value_text(thermal, 1.5, 2.5) == "36.6 \u00b0C"
    assert display.value_text(thermal, -1, 0) == "" and display.value_text(thermal, 4, 0) == ""
    rgb = Image(np.zeros((2, 2, 3), np.float32), axes="YXC")
    assert display.value_text(rgb, 0, 0) == "RGB(0, 0, 0)"


def test_video_pair_frames_slider_play_and_fuse(make_window, tmp_path, qtbot) -> None:
    from textdifuse_desktop.fusion.request import FusionParams
    from textdifuse_desktop.io.writers import write_video

    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(100 + 20 * i, 10, (32, 48)), 0, 255).astype(np.uint8) for i in range(6)]
    path_a = write_video(frames, tmp_path / "a.mp4", 5)
    path_b = write_video([255 - f for f in frames], tmp_path / "b.mp4", 5)
    window = make_window()
    assert window.open_pair(path_a, path_b)
    a = window.panes["a"]
    assert display.is_video(a.source) and a.slice_count == 6
    assert a.image is not None and a.image.pixels.shape[:2] == (32, 48)  # the current frame
    assert "frame 1/6" in a._header.text()
    window.display_panel.slice_slider.setValue(3)
    assert window.panes["b"].current_slice == 3 and "frame 4/6" in window.display_panel.slice_label.text()
    window.display_panel.play_button.setChecked(True)
    qtbot.waitUntil(lambda: a.current_slice != 3, timeout=3000)
    window.display_panel.play_button.setChecked(False)
    assert not window.play_timer.isActive()
    with qtbot.waitSignal(window.fusion_done, timeout=30000) as blocker:
        window.run_fusion(FusionParams(method="max"))
    assert blocker.args[0].image.pixels.shape[:2] == (32, 48)
    assert window.wait_for_fusion(10000)
    dialog = window.make_export_dialog()
    dialog.set_format("mp4")
    dialog.set_path(tmp_path / "fused.mp4")
    dialog.start_export()
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled(), timeout=60000)
    assert dialog.written and dialog.written[0].stat().st_size > 0
    dialog.deleteLater()
