"""View boxes of the panes: right-drag sets window/level; the plane views also pick points and scroll slices.

Mouse in a :class:`PlaneViewBox` (the three-plane views of volumes), as in ITK-SNAP:
left click or drag moves the crosshair, the wheel scrolls slices, Ctrl+wheel zooms,
middle drag pans and right drag changes the window (horizontal: width, vertical: centre).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore


class WindowingViewBox(pg.ViewBox):
    """A ViewBox whose right-button drag changes window/level instead of zooming.

    Horizontal motion changes the width (contrast), vertical motion the
    centre (brightness), as in ITK-SNAP and 3D Slicer.  Left drag pans and
    the wheel zooms, as usual.
    """

    sig_window_drag = QtCore.Signal(float, float)  # dx, dy in screen pixels since the last event

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() == QtCore.Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.pos() - ev.lastPos()
            self.sig_window_drag.emit(float(delta.x()), float(delta.y()))
            return
        super().mouseDragEvent(ev, axis)


class PlaneViewBox(WindowingViewBox):
    """The view box of one plane of a volume (see the module docstring for the mouse)."""

    sig_point = QtCore.Signal(float, float)  # view (screen mm) coordinates picked with the left button
    sig_scroll = QtCore.Signal(int)  # +1 / -1 slice

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapToView(ev.pos())
            self.sig_point.emit(float(point.x()), float(point.y()))
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapToView(ev.pos())
            self.sig_point.emit(float(point.x()), float(point.y()))
            return
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.sig_scroll.emit(1 if delta > 0 else -1)


def add_image_layers(view_box: pg.ViewBox, pen: Any) -> tuple[pg.ImageItem, pg.ImageItem, pg.InfiniteLine,
                                                                 pg.InfiniteLine]:
    """The layers every view draws in ``view_box``: the image, a hidden overlay above it and a hidden
    crosshair (vertical, horizontal line drawn with ``pen``) on top; returns them in that order."""
    image_item = pg.ImageItem(axisOrder="row-major")
    view_box.addItem(image_item)
    overlay_item = pg.ImageItem(axisOrder="row-major")
    overlay_item.setZValue(10)
    overlay_item.setVisible(False)
    view_box.addItem(overlay_item)
    vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
    hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
    for line in (vline, hline):
        line.setZValue(100)
        line.setVisible(False)
        view_box.addItem(line, ignoreBounds=True)
    return image_item, overlay_item, vline, hline
