"""The region list of the Regions dock: one row per region (name, colour, shown/hidden, favoured source, kappa).

A mixin of :class:`~textdifuse_desktop.gui.regions_panel.RegionsPanel`: it
fills the panel's ``tree`` from its region set and turns the user's edits of
a row (tick box, rename, selection) into region-set edits.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.session.region import Region


def _swatch(color: tuple[int, int, int]) -> QtGui.QIcon:
    pixmap = QtGui.QPixmap(14, 14)
    pixmap.fill(QtGui.QColor(*color))
    return QtGui.QIcon(pixmap)


class RegionTreeMixin:
    """Methods of the Regions panel that keep its region list in step with the region set."""

    tree: QtWidgets.QTreeWidget
    _rs: Any
    _labels: dict[str, str]
    _updating: bool
    active_changed: Any
    active_index: int
    _update_editor: Any
    _update_buttons: Any

    def _source_text(self, region: Region) -> str:
        label = self._labels[region.source]
        return region.source if label == region.source else f"{region.source} {label}"

    def _fill_item(self, item: QtWidgets.QTreeWidgetItem, region: Region) -> None:
        item.setText(0, region.name)
        item.setIcon(0, _swatch(region.color))
        item.setCheckState(0, QtCore.Qt.CheckState.Checked if region.visible else QtCore.Qt.CheckState.Unchecked)
        item.setText(1, self._source_text(region))
        item.setText(2, f"{region.kappa:.2f}")
        made_by = region.provenance or region.origin
        item.setText(3, made_by)
        item.setToolTip(3, made_by)
        item.setToolTip(0, f"{region.name}: made by {made_by}, {region.pixel_count} pixels; "
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
