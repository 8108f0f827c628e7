"""The three planes of one volume arranged 2x2 (with a read-out cell), 1x3 (a row) or 3x1 (a column)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui.viewers.plane_view import PlaneView
from textdifuse_desktop.imaging.planes import PLANES

#: Arrangements of the planes: key -> label shown in the display panel and the View menu.
ARRANGEMENTS = {
    "single": "One slice (classic)",
    "3x1": "Three planes, one column",
    "1x3": "Three planes, one row",
    "2x2": "Three planes, 2\u00d72",
}

#: ``arrangement -> {plane: (row, column)}``; the 2x2 grid keeps its fourth cell for the read-out.
_CELLS = {
    "3x1": {"axial": (0, 0), "coronal": (1, 0), "sagittal": (2, 0)},
    "1x3": {"axial": (0, 0), "coronal": (0, 1), "sagittal": (0, 2)},
    "2x2": {"axial": (0, 0), "coronal": (0, 1), "sagittal": (1, 0)},
}
_INFO_STYLE = "QLabel { background: #0b0d10; color: #a3be8c; padding: 8px; font-family: monospace; }"


class MprGrid(QtWidgets.QWidget):
    """``views[plane]`` are :class:`PlaneView` objects; ``info`` is the read-out cell of the 2x2 grid."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.views = {plane: PlaneView(plane) for plane in PLANES}
        self.info = QtWidgets.QLabel(" ", self)
        self.info.setStyleSheet(_INFO_STYLE)
        self.info.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self._grid = QtWidgets.QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.arrangement = ""
        self._fit_pending = False
        self.set_arrangement("3x1")

    def set_arrangement(self, arrangement: str) -> None:
        """Place the planes as ``"2x2"``, ``"1x3"`` or ``"3x1"`` (others are ignored)."""
        if arrangement not in _CELLS or arrangement == self.arrangement:
            return
        for widget in (*self.views.values(), self.info):
            self._grid.removeWidget(widget)
        for row in range(3):
            self._grid.setRowStretch(row, 0)
            self._grid.setColumnStretch(row, 0)
        cells = _CELLS[arrangement]
        for plane, (row, column) in cells.items():
            self._grid.addWidget(self.views[plane], row, column)
            self._grid.setRowStretch(row, 1)
            self._grid.setColumnStretch(column, 1)
        if arrangement == "2x2":
            self._grid.addWidget(self.info, 1, 1)
        self.info.setVisible(arrangement == "2x2")
        self.arrangement = arrangement
        self._fit_pending = True  # once the views have their new sizes, unless a saved zoom comes first
        QtCore.QTimer.singleShot(0, self._deferred_fit)

    def cancel_fit(self) -> None:
        """Drop the pending fit of :meth:`set_arrangement` (a saved zoom was just restored)."""
        self._fit_pending = False

    def _deferred_fit(self) -> None:
        if self._fit_pending:
            self._fit_pending = False
            self.fit()

    def fit(self) -> None:
        """Fit every plane into its view."""
        for view in self.views.values():
            view.fit()
