"""Edit > Undo/Redo in the real window: view and parameter changes, and region edits in one timeline (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import make_volume
from PySide6 import QtCore
from PySide6.QtTest import QTest

from textdifuse_desktop.gui.undo_controls import UndoController


def _settle(window) -> None:
    window.undo_controls.checkpoint()  # what the settle timer does after a burst


def _press(window, sequence: str) -> None:
    window.activateWindow()
    window.panes["a"].setFocus()
    QTest.keySequence(window.panes["a"], sequence)
    QtCore.QCoreApplication.processEvents()


def test_ctrl_z_undoes_window_colormap_crosshair_plane_layout_and_parameters(make_window) -> None:
    window = make_window()
    window.set_sources(make_volume((8, 24, 32)), make_volume((8, 24, 32), seed=2))
    a = window.panes["a"]
    start_window, start_point = a.window, window.planes.crosshair.point
    for dx in (5.0, 5.0, 5.0):  # one right-drag: a burst of window changes
        a._on_window_drag(dx, -3.0)
    _settle(window)
    dragged = a.window
    window.display_panel.set_colormap("b", "Hot")
    _settle(window)
    window.planes.set_point(start_point + np.array([3.0, 0.0, 2.0]))
    _settle(window)
    window.planes.set_mode("2x2")
    _settle(window)
    window.fusion_panel.set_params(window.fusion_panel.params().__class__(method="laplacian"))
    _settle(window)
    assert window.undo_controls.undo_action.text() == "&Undo fusion parameters"

    _press(window, "Ctrl+Z")
    assert window.fusion_panel.params().method != "laplacian"
    _press(window, "Ctrl+Z")
    assert window.planes.mode == "3x1" and window.planes.combo.currentData() == "3x1"
    _press(window, "Ctrl+Z")
    assert np.allclose(window.planes.crosshair.point, start_point)
    _press(window, "Ctrl+Z")
    assert window.panes["b"].colormap == "Grey" and window.display_panel.cmap_combos["b"].currentText() == "Grey"
    _press(window, "Ctrl+Z")  # the whole drag is one step
    assert a.window == pytest.approx(start_window)
    assert not window.undo_controls.undo_action.isEnabled()
    _press(window, "Ctrl+Shift+Z")
    assert a.window == pytest.approx(dragged)
    _press(window, "Ctrl+Shift+Z")
    assert window.panes["b"].colormap == "Hot"


def test_region_edits_share_the_timeline(make_window) -> None:
    window = make_window()
    window.set_sources(make_volume(), make_volume(seed=2))
    panel = window.regions.panel
    if panel is None:
        pytest.skip("the regions panel is not installed")
    window.display_panel.set_colormap("a", "Hot")
    _settle(window)
    panel.add_region()
    panel.flush()
    assert len(window.regions.region_set) == 1
    window.undo_controls.undo()
    assert len(window.regions.region_set) == 0 and window.panes["a"].colormap == "Hot"
    window.undo_controls.undo()
    assert window.panes["a"].colormap == "Grey"
    window.undo_controls.redo()
    window.undo_controls.redo()
    assert len(window.regions.region_set) == 1
    assert panel.undo_action.shortcut().isEmpty()  # Ctrl+Z has one owner: Edit > Undo
    assert isinstance(window.undo_controls, UndoController)
