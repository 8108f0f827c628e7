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
from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui import regions_panel_layout
from textdifuse_desktop.gui.regions_panel_layout import (  # noqa: F401 - re-exported
    CLIP_MISSING_HINT,
    KAPPA_SCALE,
    PROPOSALS,
    TOOLS,
)
from textdifuse_desktop.gui.regions_tree import RegionTreeMixin
from textdifuse_desktop.session.region import DEFAULT_KAPPA
from textdifuse_desktop.session.regions import RegionSet

log = logging.getLogger(__name__)

MaskHandler = Callable[[str], "np.ndarray | None"]


class RegionsPanel(RegionTreeMixin, QtWidgets.QWidget):
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
        regions_panel_layout.build(self)

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
        """Emit ``prompt_requested`` with the prompt text and run the handler (which explains an empty one)."""
        text = self.prompt_edit.text().strip()
        if not self.prompt_button.isEnabled() or (not text and self.prompt_handler is None):
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
            self.kappa_slider.setValue(int(round(region.kappa * KAPPA_SCALE)))
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

    def _on_source_changed(self, combo_index: int) -> None:
        index = self.active_index
        if self._rs is not None and index >= 0 and combo_index >= 0:
            self._rs.set_source(index, self.source_combo.itemData(combo_index))

    def _on_kappa_changed(self, value: int) -> None:
        index = self.active_index
        if self._rs is not None and index >= 0:
            self._rs.set_kappa(index, value / KAPPA_SCALE)

    def _on_tool(self, name: str) -> None:
        self.tool_changed.emit(name)
