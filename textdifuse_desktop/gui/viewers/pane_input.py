"""Mouse, keyboard and drag-and-drop input of an :class:`~textdifuse_desktop.gui.viewers.image_pane.ImagePane`.

A mixin of ``ImagePane``: right-drag window/level, cursor tracking, slice keys, focus and dropped files.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui

from textdifuse_desktop.gui.viewers import display


class PaneInputMixin:
    """Event handlers of ``ImagePane`` (it provides the attributes and signals used here)."""

    _plane: Any
    _window: tuple[float, float]
    _slice: int
    view_box: Any
    slice_count: int
    cursor_moved: Any
    activated: Any
    files_dropped: Any
    set_window: Any
    set_slice: Any
    setFocus: Any

    def _on_window_drag(self, dx: float, dy: float) -> None:
        if self._plane is None or display.rgb_planes(self._plane):
            return
        center, width = self._window
        low, high = self._plane.value_range()
        scale = max(high - low, 1e-3) / 400.0  # full data range over ~400 screen pixels
        self.set_window(center - dy * scale, max(width + dx * scale, scale))

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        if self._plane is None:
            return
        if not self.view_box.sceneBoundingRect().contains(scene_pos):
            self.cursor_moved.emit(None)
            return
        point = self.view_box.mapSceneToView(scene_pos)
        self.cursor_moved.emit((float(point.x()), float(point.y())))

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        steps = {
            QtCore.Qt.Key.Key_PageUp: 1, QtCore.Qt.Key.Key_Up: 1, QtCore.Qt.Key.Key_Right: 1,
            QtCore.Qt.Key.Key_PageDown: -1, QtCore.Qt.Key.Key_Down: -1, QtCore.Qt.Key.Key_Left: -1,
        }
        key = event.key()
        if key in steps and self.slice_count > 1:
            self.set_slice(self._slice + steps[key])
        elif key == QtCore.Qt.Key.Key_Home and self.slice_count > 1:
            self.set_slice(0)
        elif key == QtCore.Qt.Key.Key_End and self.slice_count > 1:
            self.set_slice(self.slice_count - 1)
        else:
            super().keyPressEvent(event)  # type: ignore[misc]

    def _on_clicked(self, _event: Any) -> None:
        self.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
        self.activated.emit()

    def focusInEvent(self, event: QtGui.QFocusEvent) -> None:
        self.activated.emit()
        super().focusInEvent(event)  # type: ignore[misc]

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
