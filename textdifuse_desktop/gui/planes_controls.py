"""The window's three-plane controls: arrangement (display panel and View > Planes), shared crosshair, read-out.

Volumes open in three planes (axial, coronal, sagittal, one column per pane) unless the user picks
another arrangement; 2D images and videos always show one plane.  The shared
:class:`~textdifuse_desktop.gui.viewers.crosshair.WorldCrosshair` follows the window's link switch, and
its world point is written to the status bar with the value of every source under it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.viewers.crosshair import WorldCrosshair
from textdifuse_desktop.gui.viewers.mpr_grid import ARRANGEMENTS
from textdifuse_desktop.imaging.image import Image

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)

#: Arrangement of volumes until the user chooses one.
DEFAULT_VOLUME_ARRANGEMENT = "3x1"


class PlanesController(QtCore.QObject):
    """Installs and runs the three-plane controls of ``window`` (see the module docstring).

    Attributes
    ----------
    crosshair:
        The shared world crosshair.
    combo:
        The "Planes" choice in the display panel.
    actions:
        ``{arrangement: QAction}`` of View > Planes (checkable, exclusive).
    """

    mode_changed = QtCore.Signal(str)

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.mode = DEFAULT_VOLUME_ARRANGEMENT
        self.crosshair = WorldCrosshair(self)
        for pane in window.panes.values():
            pane.set_planes_mode(self.mode)
            self.crosshair.add(pane)
        self._build_panel()
        self._build_menu()
        self.crosshair.moved.connect(self._on_moved)
        window.sources_changed.connect(self._on_sources_changed)
        window.linker.linked_changed.connect(self._on_linked)
        self._update_enabled()

    # ------------------------------------------------------------- construction
    def _build_panel(self) -> None:
        self.combo = QtWidgets.QComboBox()
        for key, label in ARRANGEMENTS.items():
            self.combo.addItem(label, key)
        self.combo.setCurrentIndex(self.combo.findData(self.mode))
        self.combo.setToolTip("How volumes are shown: one slice, or axial, coronal and sagittal planes with a "
                              "shared crosshair (click: move it, wheel: scroll, Ctrl+wheel: zoom)")
        self.combo.activated.connect(lambda _i: self.set_mode(str(self.combo.currentData())))
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Planes (volumes)"))
        row.addWidget(self.combo, 1)
        layout = self.window.display_panel.layout()
        layout.insertLayout(2, row)  # under the link and crosshair switches

    def _build_menu(self) -> None:
        view_menu = next((action.menu() for action in self.window.menuBar().actions()
                          if action.text() == strings.MENU_VIEW and action.menu() is not None), None)
        menu = QtWidgets.QMenu("&Planes (volumes)", self.window)
        group = QtGui.QActionGroup(menu)
        self.actions: dict[str, QtGui.QAction] = {}
        for key, label in ARRANGEMENTS.items():
            action = QtGui.QAction(label, self.window)
            action.setCheckable(True)
            action.setChecked(key == self.mode)
            action.triggered.connect(lambda _checked=False, k=key: self.set_mode(k))
            group.addAction(action)
            menu.addAction(action)
            self.actions[key] = action
        if view_menu is not None:
            view_menu.addSeparator()
            view_menu.addMenu(menu)
        self.menu = menu

    # ------------------------------------------------------------- state
    def set_mode(self, mode: str) -> None:
        """Show volumes as ``mode`` (a key of :data:`ARRANGEMENTS`) in every pane."""
        if mode not in ARRANGEMENTS:
            return
        self.mode = mode
        for pane in self.window.panes.values():
            pane.set_planes_mode(mode)
        self.combo.setCurrentIndex(self.combo.findData(mode))
        self.actions[mode].setChecked(True)
        point = self.crosshair.point
        if point is not None and self.uses_planes():
            self.crosshair.set_point(point)
        self.window._update_slice_controls()
        self.mode_changed.emit(mode)

    def uses_planes(self) -> bool:
        """True when some pane shows the three planes."""
        return any(pane.uses_planes for pane in self.window.panes.values())

    def set_point(self, xyz: Any) -> None:
        """Move the shared crosshair to world point ``xyz`` (RAS mm)."""
        self.crosshair.set_point(xyz)

    # ------------------------------------------------------------- slots
    def _update_enabled(self) -> None:
        volume = any(isinstance(pane.source, Image) and pane.source.is_volume for pane in self.window.panes.values())
        self.combo.setEnabled(volume)
        self.menu.setEnabled(volume)

    def _on_sources_changed(self) -> None:
        self.crosshair.reset()
        self._update_enabled()
        pane = self.window.panes["a"] if self.window.panes["a"].geometry is not None else self.window.panes["b"]
        geometry = pane.geometry
        if geometry is not None:  # the centre voxel (not the grid's centre, which may fall between voxels)
            self.crosshair.set_point(geometry.voxel_to_world(np.floor(geometry.world_to_voxel(geometry.center) + 0.5)))
        panel = self.window.display_panel
        if self.uses_planes() and not panel.layout_chosen_by_user and panel.layout_mode == "stacked":
            panel.set_layout_mode("side")  # three columns of planes read better than A/B stacked

    def _on_linked(self, linked: bool) -> None:
        self.crosshair.linked = linked
        if linked:
            point = self.window.panes["a"].world_point
            if point is not None:
                self.crosshair.set_point(point)

    def _on_moved(self, point: np.ndarray) -> None:
        window = self.window
        if not self.uses_planes():
            return
        window._update_slice_controls()
        parts = [window.panes["a"].planes_readout().split("   ")[0] or
                 f"R {point[0]:.1f} A {point[1]:.1f} S {point[2]:.1f} mm"]
        for key, pane in window.panes.items():
            value = pane.value_at_world(point)
            if value:
                parts.append(f"{strings.PANE_TITLES[key]}: {value}")
        window.readout.setText("   ".join(parts))
