"""The Regions dock: list of regions, tools, strength, text prompt and proposals.

The panel edits a Qt-free :class:`~textdifuse_desktop.session.regions.RegionSet`
and never paints itself: :class:`~textdifuse_desktop.gui.region_overlay.RegionOverlay`
does the painting on an image pane, reading the tool, brush radius and active
region from this panel.  After any edit the panel emits ``regions_changed``
once the user has paused for :attr:`RegionsPanel.DEBOUNCE_MS`, so the main
window can re-fuse automatically.

Text prompts and proposals are not computed here: the panel emits
``prompt_requested(text)`` / ``proposal_requested(kind)`` and, when the main
window has set :attr:`RegionsPanel.prompt_handler` /
:attr:`RegionsPanel.proposal_handler`, calls it; a handler that returns a mask
gets it added as a new region (return None to add it later, e.g. from a
worker, with :meth:`RegionsPanel.add_mask_region`).  In the application the
handlers are :class:`~textdifuse_desktop.gui.region_actions.RegionActions`
(installed by the main window's regions bridge).  "Find" is always clickable:
without a CLIP checkpoint the handler explains in a dialog how to enable it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.session.regions import (
    DEFAULT_KAPPA,
    KAPPA_RANGE,
    Region,
    RegionSet,
)

log = logging.getLogger(__name__)

TOOLS = ("navigate", "brush", "eraser", "box")
PROPOSALS = {"hot_objects": "Hot objects", "high_uptake": "High uptake"}
_TOOL_LABELS = {"navigate": "Pan", "brush": "Brush", "eraser": "Eraser", "box": "Box"}
_TOOL_TIPS = {
    "navigate": "Pan and zoom the view (no painting)",
    "brush": "Paint the selected region (drag); one undo step per stroke",
    "eraser": "Erase from the selected region (drag)",
    "box": "Drag a box to add it to the selected region",
}
CLIP_MISSING_HINT = ("Text prompts need a CLIP checkpoint. Choose one in File \u25b8 Settings\u2026 "
                     "(\"CLIP checkpoint\"), e.g. an open_clip ViT-B-32 .safetensors or .bin file.")
_KAPPA_SCALE = 100  # slider units per kappa unit

MaskHandler = Callable[[str], "np.ndarray | None"]


def _swatch(color: tuple[int, int, int]) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(14, 14)
    pixmap.fill(QtGui.QColor(*color))
    return QtGui.QIcon(pixmap)


class RegionsPanel(QtWidgets.QWidget):
    """Widget editing a region set (see the module docstring).

    Parameters
    ----------
    region_set:
        The regions to edit, or None (panel disabled) until :meth:`set_region_set`.
    settings:
        An ``AppSettings``-like object; its ``clip_available`` enables the prompt box.
    """

    regions_changed = QtCore.Signal()
    prompt_requested = QtCore.Signal(str)
    proposal_requested = QtCore.Signal(str)
    tool_changed = QtCore.Signal(str)
    brush_radius_changed = QtCore.Signal(float)
    active_changed = QtCore.Signal(int)

    DEBOUNCE_MS = 400

    def __init__(self, region_set: RegionSet | None = None, settings: Any = None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._rs: RegionSet | None = None
        self._updating = False
        self._labels = {"A": "A", "B": "B"}
        self.prompt_handler: MaskHandler | None = None
        self.proposal_handler: MaskHandler | None = None
        self.default_proposal_source = "B"

        self._debounce = QtCore.QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(self.DEBOUNCE_MS)
        self._debounce.timeout.connect(self.regions_changed.emit)

        self._build()
        self.set_settings(settings)
        self.set_region_set(region_set)

    # ------------------------------------------------------------------ build
    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        self.tree = QtWidgets.QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Region", "Favours", "\u03ba"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked
                                  | QtWidgets.QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.header().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(self._on_current_changed)
        layout.addWidget(self.tree, 1)

        row = QtWidgets.QHBoxLayout()
        self.add_button = QtWidgets.QPushButton("Add")
        self.add_button.setToolTip("Add an empty region to paint")
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.undo_button = QtWidgets.QToolButton()
        self.redo_button = QtWidgets.QToolButton()
        self.undo_action = QtGui.QAction("Undo region edit", self)
        self.undo_action.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
        self.redo_action = QtGui.QAction("Redo region edit", self)
        self.redo_action.setShortcut(QtGui.QKeySequence.StandardKey.Redo)
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.undo_button.setDefaultAction(self.undo_action)
        self.redo_button.setDefaultAction(self.redo_action)
        self.undo_button.setText("Undo")
        self.redo_button.setText("Redo")
        self.add_button.clicked.connect(lambda: self.add_region())
        self.remove_button.clicked.connect(self.remove_region)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)
        for widget in (self.add_button, self.remove_button, self.undo_button, self.redo_button):
            row.addWidget(widget)
        layout.addLayout(row)

        form = QtWidgets.QFormLayout()
        self.source_combo = QtWidgets.QComboBox()
        self.source_combo.setToolTip("The source this region favours in the fused result")
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.kappa_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.kappa_slider.setRange(int(KAPPA_RANGE[0] * _KAPPA_SCALE), int(KAPPA_RANGE[1] * _KAPPA_SCALE))
        self.kappa_slider.setValue(int(DEFAULT_KAPPA * _KAPPA_SCALE))
        self.kappa_slider.setToolTip(f"Strength \u03ba ({KAPPA_RANGE[0]}..{KAPPA_RANGE[1]}): 1.0 = no change, "
                                     "higher favours the region's source more")
        self.kappa_slider.valueChanged.connect(self._on_kappa_changed)
        self.kappa_label = QtWidgets.QLabel()
        kappa_row = QtWidgets.QHBoxLayout()
        kappa_row.addWidget(self.kappa_slider, 1)
        kappa_row.addWidget(self.kappa_label)
        form.addRow("Favours", self.source_combo)
        form.addRow("Strength", kappa_row)
        layout.addLayout(form)

        tools = QtWidgets.QHBoxLayout()
        self.tool_group = QtWidgets.QButtonGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_buttons: dict[str, QtWidgets.QToolButton] = {}
        for name in TOOLS:
            button = QtWidgets.QToolButton()
            button.setText(_TOOL_LABELS[name])
            button.setToolTip(_TOOL_TIPS[name])
            button.setCheckable(True)
            self.tool_group.addButton(button)
            self.tool_buttons[name] = button
            button.toggled.connect(lambda checked, n=name: checked and self._on_tool(n))
            tools.addWidget(button)
        self.tool_buttons["navigate"].setChecked(True)
        self.brush_spin = QtWidgets.QSpinBox()
        self.brush_spin.setRange(1, 256)
        self.brush_spin.setValue(8)
        self.brush_spin.setSuffix(" px")
        self.brush_spin.setToolTip("Brush and eraser radius in image pixels")
        self.brush_spin.valueChanged.connect(lambda v: self.brush_radius_changed.emit(float(v)))
        tools.addWidget(self.brush_spin)
        layout.addLayout(tools)

        prompt = QtWidgets.QHBoxLayout()
        self.prompt_edit = QtWidgets.QLineEdit()
        self.prompt_edit.setPlaceholderText("Describe a region, e.g. \"person\" or \"tumour\"")
        self.prompt_edit.returnPressed.connect(self.request_prompt)
        self.prompt_button = QtWidgets.QPushButton("Find")
        self.prompt_button.clicked.connect(self.request_prompt)
        prompt.addWidget(self.prompt_edit, 1)
        prompt.addWidget(self.prompt_button)
        layout.addLayout(prompt)
        self.prompt_hint = QtWidgets.QLabel(CLIP_MISSING_HINT)
        self.prompt_hint.setWordWrap(True)
        self.prompt_hint.setStyleSheet("color: #a0a7b4; font-size: small;")
        layout.addWidget(self.prompt_hint)

        proposals = QtWidgets.QHBoxLayout()
        self.proposal_buttons: dict[str, QtWidgets.QPushButton] = {}
        for kind, label in PROPOSALS.items():
            button = QtWidgets.QPushButton(label)
            button.clicked.connect(lambda _=False, k=kind: self.request_proposal(k))
            proposals.addWidget(button)
            self.proposal_buttons[kind] = button
        self.proposal_buttons["hot_objects"].setToolTip("Propose regions of warm objects (infrared)")
        self.proposal_buttons["high_uptake"].setToolTip("Propose regions of high tracer uptake (PET/SPECT)")
        layout.addLayout(proposals)
        self._update_source_combo()

    # --------------------------------------------------------------- public
    @property
    def region_set(self) -> RegionSet | None:
        """The region set edited, or None."""
        return self._rs

    def set_region_set(self, region_set: RegionSet | None) -> None:
        """Edit ``region_set`` (None disables the panel)."""
        if self._rs is not None:
            self._rs.changed.disconnect(self._on_model_changed)
            self._rs.history_changed.disconnect(self._update_buttons)
        self._rs = region_set
        if region_set is not None:
            region_set.changed.connect(self._on_model_changed)
            region_set.history_changed.connect(self._update_buttons)
        self._rebuild()
        if region_set is not None and len(region_set):
            self.set_active_index(0)

    def set_settings(self, settings: Any) -> None:
        """Show the CLIP hint unless ``settings.clip_available``; Find stays clickable and says why it cannot run."""
        available = bool(getattr(settings, "clip_available", False))
        for widget in (self.prompt_edit, self.prompt_button):
            widget.setEnabled(True)
            widget.setToolTip("Find regions described in words (comma-separated phrases)" if available
                              else CLIP_MISSING_HINT)
        self.prompt_hint.setVisible(not available)

    def set_source_labels(self, label_a: str, label_b: str) -> None:
        """Name the sources in the "Favours" combo (e.g. "Infrared")."""
        self._labels = {"A": label_a, "B": label_b}
        self._update_source_combo()
        self._rebuild()

    @property
    def tool(self) -> str:
        """Active tool: ``"navigate"``, ``"brush"``, ``"eraser"`` or ``"box"``."""
        for name, button in self.tool_buttons.items():
            if button.isChecked():
                return name
        return "navigate"

    def set_tool(self, name: str) -> None:
        """Select a tool by name."""
        if name not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {name!r}")
        self.tool_buttons[name].setChecked(True)

    @property
    def brush_radius(self) -> float:
        """Brush/eraser radius in image pixels."""
        return float(self.brush_spin.value())

    def set_brush_radius(self, radius: float) -> None:
        """Set the brush radius (clipped to the spin box range)."""
        self.brush_spin.setValue(int(round(radius)))

    @property
    def active_index(self) -> int:
        """Index of the selected region, or -1."""
        item = self.tree.currentItem()
        return self.tree.indexOfTopLevelItem(item) if item is not None else -1

    def set_active_index(self, index: int) -> None:
        """Select region ``index``."""
        item = self.tree.topLevelItem(index)
        if item is not None:
            self.tree.setCurrentItem(item)

    def ensure_active_region(self, origin: str = "brush") -> int:
        """Index of the selected region, adding (and selecting) a new one if none is."""
        if self._rs is None:
            return -1
        index = self.active_index
        if index < 0:
            index = self.add_region(origin=origin)
        return index

    def add_region(self, name: str | None = None, origin: str = "brush", source: str = "B",
                   kappa: float = DEFAULT_KAPPA) -> int:
        """Add an empty region, select it and return its index (-1 without a region set)."""
        if self._rs is None:
            return -1
        self._rs.add(name, source=source, kappa=kappa, origin=origin)
        index = len(self._rs) - 1
        self.set_active_index(index)
        return index

    def add_mask_region(self, mask: np.ndarray, name: str, origin: str = "proposal",
                        source: str | None = None, kappa: float = DEFAULT_KAPPA) -> int:
        """Add a region with a ready mask (prompt or proposal result); returns its index."""
        if self._rs is None:
            return -1
        self._rs.add(name, source=source or self.default_proposal_source, kappa=kappa, origin=origin, mask=mask)
        index = len(self._rs) - 1
        self.set_active_index(index)
        return index

    def remove_region(self) -> None:
        """Remove the selected region."""
        index = self.active_index
        if self._rs is not None and index >= 0:
            self._rs.remove(index)
            self.set_active_index(min(index, len(self._rs) - 1))

    def undo(self) -> None:
        """Undo the last region edit."""
        if self._rs is not None:
            self._rs.undo()

    def redo(self) -> None:
        """Redo the last undone region edit."""
        if self._rs is not None:
            self._rs.redo()

    def request_prompt(self) -> None:
        """Emit ``prompt_requested`` with the prompt text and run the handler."""
        text = self.prompt_edit.text().strip()
        if not text or not self.prompt_button.isEnabled():
            return
        self.prompt_requested.emit(text)
        self._run_handler(self.prompt_handler, text, name=text, origin="text")

    def request_proposal(self, kind: str) -> None:
        """Emit ``proposal_requested(kind)`` and run the handler."""
        self.proposal_requested.emit(kind)
        self._run_handler(self.proposal_handler, kind, name=PROPOSALS.get(kind, kind), origin="proposal")

    def flush(self) -> None:
        """Emit a pending ``regions_changed`` now instead of after the pause."""
        if self._debounce.isActive():
            self._debounce.stop()
            self.regions_changed.emit()

    @property
    def change_pending(self) -> bool:
        """True while a debounced ``regions_changed`` is waiting."""
        return self._debounce.isActive()

    # -------------------------------------------------------------- private
    def _run_handler(self, handler: MaskHandler | None, argument: str, *, name: str, origin: str) -> None:
        if handler is None:
            return
        mask = handler(argument)
        if mask is not None:
            self.add_mask_region(np.asarray(mask, dtype=bool), name, origin=origin)

    def _update_source_combo(self) -> None:
        with QtCore.QSignalBlocker(self.source_combo):
            current = self.source_combo.currentIndex()
            self.source_combo.clear()
            for key in ("A", "B"):
                label = self._labels[key]
                self.source_combo.addItem(key if label == key else f"{key} ({label})", key)
            self.source_combo.setCurrentIndex(max(current, 0))

    def _source_text(self, region: Region) -> str:
        label = self._labels[region.source]
        return region.source if label == region.source else f"{region.source} {label}"

    def _fill_item(self, item: QtWidgets.QTreeWidgetItem, region: Region) -> None:
        item.setText(0, region.name)
        item.setIcon(0, _swatch(region.color))
        item.setCheckState(0, QtCore.Qt.CheckState.Checked if region.visible else QtCore.Qt.CheckState.Unchecked)
        item.setText(1, self._source_text(region))
        item.setText(2, f"{region.kappa:.2f}")
        item.setToolTip(0, f"{region.name}: made by {region.origin}, {region.pixel_count} pixels; "
                           "tick to show and apply, double-click to rename")

    def _rebuild(self) -> None:
        self._updating = True
        try:
            current = self.active_index
            self.tree.clear()
            flags = (QtCore.Qt.ItemFlag.ItemIsSelectable | QtCore.Qt.ItemFlag.ItemIsEnabled
                     | QtCore.Qt.ItemFlag.ItemIsEditable | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            for region in self._rs or []:
                item = QtWidgets.QTreeWidgetItem()
                item.setFlags(flags)
                self._fill_item(item, region)
                self.tree.addTopLevelItem(item)
            if self._rs is not None and len(self._rs):
                self.tree.setCurrentItem(self.tree.topLevelItem(min(max(current, 0), len(self._rs) - 1)))
        finally:
            self._updating = False
        self._update_editor()
        self._update_buttons()

    def _refresh_items(self) -> None:
        if self._rs is None or self.tree.topLevelItemCount() != len(self._rs):
            self._rebuild()
            return
        self._updating = True
        try:
            for i, region in enumerate(self._rs):
                self._fill_item(self.tree.topLevelItem(i), region)
        finally:
            self._updating = False
        self._update_editor()

    def _update_editor(self) -> None:
        index = self.active_index
        region = self._rs[index] if self._rs is not None and 0 <= index < len(self._rs) else None
        enabled = region is not None
        for widget in (self.source_combo, self.kappa_slider, self.remove_button):
            widget.setEnabled(enabled)
        self.add_button.setEnabled(self._rs is not None)
        for button in self.proposal_buttons.values():
            button.setEnabled(self._rs is not None)
        if region is None:
            self.kappa_label.setText("")
            return
        with QtCore.QSignalBlocker(self.source_combo), QtCore.QSignalBlocker(self.kappa_slider):
            self.source_combo.setCurrentIndex(0 if region.source == "A" else 1)
            self.kappa_slider.setValue(int(round(region.kappa * _KAPPA_SCALE)))
        self.kappa_label.setText(f"\u00d7{region.kappa:.2f}")

    def _update_buttons(self) -> None:
        self.undo_action.setEnabled(self._rs is not None and self._rs.can_undo)
        self.redo_action.setEnabled(self._rs is not None and self._rs.can_redo)

    def _on_model_changed(self, kind: str = "") -> None:
        if kind == "list":
            self._rebuild()
        elif kind == "property":
            self._refresh_items()
        self._debounce.start()

    def _on_item_changed(self, item: QtWidgets.QTreeWidgetItem, column: int) -> None:
        if self._updating or self._rs is None or column != 0:
            return
        index = self.tree.indexOfTopLevelItem(item)
        region = self._rs[index]
        visible = item.checkState(0) == QtCore.Qt.CheckState.Checked
        if visible != region.visible:
            self._rs.set_visible(index, visible)
        name = item.text(0).strip()
        if name and name != region.name:
            self._rs.rename(index, name)

    def _on_current_changed(self, *_: Any) -> None:
        if self._updating:
            return
        self._update_editor()
        self.active_changed.emit(self.active_index)

    def _on_source_changed(self, combo_index: int) -> None:
        index = self.active_index
        if self._rs is not None and index >= 0 and combo_index >= 0:
            self._rs.set_source(index, self.source_combo.itemData(combo_index))

    def _on_kappa_changed(self, value: int) -> None:
        index = self.active_index
        if self._rs is not None and index >= 0:
            self._rs.set_kappa(index, value / _KAPPA_SCALE)

    def _on_tool(self, name: str) -> None:
        self.tool_changed.emit(name)
