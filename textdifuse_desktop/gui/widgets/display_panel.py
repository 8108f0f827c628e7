"""The display dock: layout (side by side / overlay), link switch, colour maps, window/level presets, slices.

It only emits what the user asked for; the main window applies it to the
panes, so this widget never touches a pane directly.
"""

from __future__ import annotations

import logging

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.gui.viewers.colormaps import colormap_names

log = logging.getLogger(__name__)

PANE_KEYS = ("a", "b", "fused")


class DisplayPanel(QtWidgets.QWidget):
    """View controls.

    Signals
    -------
    colormap_changed(str, str):
        pane key (``"a"``, ``"b"``, ``"fused"``), colour map name.
    preset_requested(str, str):
        pane key (or ``"all"``), preset label.
    overlay_changed():
        layout, overlay layer, opacity or overlay colour map changed.
    link_toggled(bool), crosshair_toggled(bool), slice_requested(int), play_toggled(bool).
    """

    colormap_changed = QtCore.Signal(str, str)
    preset_requested = QtCore.Signal(str, str)
    overlay_changed = QtCore.Signal()
    link_toggled = QtCore.Signal(bool)
    crosshair_toggled = QtCore.Signal(bool)
    slice_requested = QtCore.Signal(int)
    play_toggled = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        names = colormap_names()
        self.link_check = QtWidgets.QCheckBox("Link pan, zoom, crosshair and slice")
        self.link_check.setChecked(True)
        self.crosshair_check = QtWidgets.QCheckBox("Show crosshair")
        self.crosshair_check.setChecked(True)

        self.layout_combo = QtWidgets.QComboBox()
        self.layout_combo.addItem(strings.ACTION_LAYOUT_SIDE, "side")
        self.layout_combo.addItem(strings.ACTION_LAYOUT_STACKED, "stacked")
        self.layout_combo.addItem(strings.ACTION_LAYOUT_OVERLAY, "overlay")
        self.layout_chosen_by_user = False
        self.layout_combo.activated.connect(lambda _i: setattr(self, "layout_chosen_by_user", True))
        self.overlay_layer = QtWidgets.QComboBox()
        self.overlay_layer.addItem("Fused over A", "fused")
        self.overlay_layer.addItem("Source B over A", "b")
        self.opacity_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.overlay_cmap = QtWidgets.QComboBox()
        self.overlay_cmap.addItems(names)
        self.overlay_cmap.setCurrentText("Hot")

        self.cmap_combos: dict[str, QtWidgets.QComboBox] = {}
        self.preset_combos: dict[str, QtWidgets.QComboBox] = {}
        maps = QtWidgets.QGridLayout()
        maps.addWidget(QtWidgets.QLabel("Colour map"), 0, 1)
        maps.addWidget(QtWidgets.QLabel("Window preset"), 0, 2)
        for row, key in enumerate(PANE_KEYS, start=1):
            combo = QtWidgets.QComboBox()
            combo.addItems(names)
            combo.currentTextChanged.connect(lambda name, k=key: self.colormap_changed.emit(k, name))
            preset = QtWidgets.QComboBox()
            preset.addItems(self.preset_labels())
            preset.setToolTip("Right-drag in a pane to adjust the window by hand")
            preset.activated.connect(lambda _i, k=key, p=preset: self.preset_requested.emit(k, p.currentText()))
            self.cmap_combos[key] = combo
            self.preset_combos[key] = preset
            maps.addWidget(QtWidgets.QLabel(strings.PANE_TITLES[key]), row, 0)
            maps.addWidget(combo, row, 1)
            maps.addWidget(preset, row, 2)

        self.slice_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slice_slider.setRange(0, 0)
        self.slice_label = QtWidgets.QLabel("\u2013")
        self.slice_label.setMinimumWidth(70)
        self.play_button = QtWidgets.QToolButton()
        self.play_button.setText("\u25b6")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play / pause the frames (videos) or slices")
        slices = QtWidgets.QHBoxLayout()
        slices.addWidget(self.play_button)
        slices.addWidget(self.slice_slider, 1)
        slices.addWidget(self.slice_label)

        overlay = QtWidgets.QFormLayout()
        overlay.addRow("Layout", self.layout_combo)
        overlay.addRow("Overlay", self.overlay_layer)
        overlay.addRow("Opacity", self.opacity_slider)
        overlay.addRow("Overlay map", self.overlay_cmap)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.link_check)
        layout.addWidget(self.crosshair_check)
        layout.addLayout(maps)
        layout.addLayout(overlay)
        layout.addWidget(QtWidgets.QLabel("Slice / frame (PgUp/PgDn, arrows)"))
        layout.addLayout(slices)
        layout.addStretch(1)

        self.link_check.toggled.connect(self.link_toggled.emit)
        self.crosshair_check.toggled.connect(self.crosshair_toggled.emit)
        for widget in (self.layout_combo, self.overlay_layer, self.overlay_cmap):
            widget.currentIndexChanged.connect(lambda _i: self.overlay_changed.emit())
        self.opacity_slider.valueChanged.connect(lambda _v: self.overlay_changed.emit())
        self.slice_slider.valueChanged.connect(self.slice_requested.emit)
        self.play_button.toggled.connect(self._on_play_toggled)
        self._update_overlay_enabled()
        self.layout_combo.currentIndexChanged.connect(lambda _i: self._update_overlay_enabled())

    @staticmethod
    def preset_labels() -> list[str]:
        """Every preset label, in menu order."""
        return [display.DEFAULT_PRESET, display.FILE_PRESET, display.AUTO_PRESET, display.FULL_PRESET,
                display.THERMAL_PRESET, *display.PRESETS, display.SUV_PRESET]

    # ------------------------------------------------------------- state
    @property
    def overlay_mode(self) -> bool:
        """True when the overlay layout is chosen."""
        return self.layout_combo.currentData() == "overlay"

    @property
    def layout_mode(self) -> str:
        """``"side"``, ``"stacked"`` or ``"overlay"``."""
        return str(self.layout_combo.currentData())

    def set_layout_mode(self, mode: str) -> None:
        """Select a layout programmatically (does not count as the user's choice)."""
        self.layout_combo.setCurrentIndex(self.layout_combo.findData(mode))

    def set_colour_image(self, key: str, rgb: bool) -> None:
        """Colour images are shown as they are: disable their colour map and window controls."""
        for combo in (self.cmap_combos[key], self.preset_combos[key]):
            combo.setEnabled(not rgb)
            combo.setToolTip("Colour image: shown with its own colours" if rgb else "")

    @property
    def overlay_source(self) -> str:
        """``"fused"`` or ``"b"``."""
        return str(self.overlay_layer.currentData())

    @property
    def opacity(self) -> float:
        """Overlay opacity in [0, 1]."""
        return self.opacity_slider.value() / 100.0

    def set_colormap(self, key: str, name: str) -> None:
        """Select ``name`` for pane ``key`` (emits colormap_changed)."""
        self.cmap_combos[key].setCurrentText(name)

    def set_units(self, key: str, units: str) -> None:
        """Enable only the presets that make sense for ``units`` in pane ``key``'s list."""
        combo = self.preset_combos[key]
        model = combo.model()
        for row in range(combo.count()):
            item = model.item(row)  # type: ignore[attr-defined]
            item.setEnabled(display.preset_applies(combo.itemText(row), units))

    def set_slice_range(self, count: int, current: int, kind: str = "slice") -> None:
        """Configure the slider for ``count`` slices/frames without emitting slice_requested."""
        blocker = QtCore.QSignalBlocker(self.slice_slider)
        self.slice_slider.setRange(0, max(count - 1, 0))
        self.slice_slider.setValue(current)
        del blocker
        self.slice_slider.setEnabled(count > 1)
        self.play_button.setEnabled(count > 1)
        self.slice_label.setText(f"{kind} {current + 1}/{count}" if count > 1 else "\u2013")

    def _on_play_toggled(self, playing: bool) -> None:
        self.play_button.setText("\u23f8" if playing else "\u25b6")
        self.play_toggled.emit(playing)

    def _update_overlay_enabled(self) -> None:
        for widget in (self.overlay_layer, self.opacity_slider, self.overlay_cmap):
            widget.setEnabled(self.overlay_mode)
