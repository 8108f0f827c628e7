"""One plane (axial, coronal or sagittal) of a volume: image, overlay, crosshair and anatomical labels.

The view's coordinates are screen millimetres from :class:`imaging.planes.VolumeGeometry`
(x grows to the right, y downwards), so pixels keep the voxels' true aspect and views of
different volumes line up.  What to draw is computed by the pane that owns the view
(:mod:`gui.viewers.pane_planes`); this widget only draws it and reports the mouse.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.gui.viewers.windowing import PlaneViewBox, add_image_layers
from textdifuse_desktop.imaging.planes import plane_labels

_LABEL_STYLE = "QLabel { color: #ffd200; background: transparent; font-weight: 700; }"
_TITLE_STYLE = "QLabel { color: #d8dee9; background: rgba(11, 13, 16, 160); padding: 1px 4px; }"

Rect = tuple[float, float, float, float]


class PlaneView(QtWidgets.QWidget):
    """A titled, labelled view of one plane.

    Signals
    -------
    point_picked(str, float, float): plane name, screen ``(u, v)`` mm of a left click or drag.
    scrolled(str, int): plane name, +1/-1 slice (wheel, PgUp/PgDn, arrow keys).
    window_drag(float, float): right-drag motion in screen pixels.
    activated(str): the view got the focus.
    """

    point_picked = QtCore.Signal(str, float, float)
    scrolled = QtCore.Signal(str, int)
    window_drag = QtCore.Signal(float, float)
    activated = QtCore.Signal(str)

    def __init__(self, plane: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.plane = plane
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.graphics = pg.GraphicsView(background="#0b0d10")
        self.graphics.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.view_box = PlaneViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view_box.setDefaultPadding(0.02)
        self.graphics.setCentralItem(self.view_box)
        pen = pg.mkPen((255, 210, 0, 170), width=1, cosmetic=True)
        self.image_item, self.overlay_item, self.vline, self.hline = add_image_layers(self.view_box, pen)
        self.labels = {edge: self._label(letter) for edge, letter in plane_labels(plane).items()}
        self.title = QtWidgets.QLabel(plane.capitalize(), self.graphics)
        self.title.setStyleSheet(_TITLE_STYLE)
        self.title.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self._rect: Rect | None = None
        self.view_box.sig_point.connect(lambda u, v: self._picked(u, v))
        self.view_box.sig_scroll.connect(lambda step: self.scrolled.emit(self.plane, step))
        self.view_box.sig_window_drag.connect(self.window_drag.emit)

    def _label(self, letter: str) -> QtWidgets.QLabel:
        label = QtWidgets.QLabel(letter, self.graphics)
        label.setStyleSheet(_LABEL_STYLE)
        label.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.adjustSize()
        return label

    # ------------------------------------------------------------- content
    def show_image(self, pixels: np.ndarray, rect: Rect, *, levels: tuple[float, float] | None,
                   lut: np.ndarray | None) -> None:
        """Draw ``pixels`` (``[row, col]`` grey or ``[row, col, 3]`` colour) over ``rect`` (screen mm)."""
        first = self._rect is None
        if levels is None:  # colour: shown as it is
            rgb = pixels[..., :3]
            peak = float(np.nanmax(rgb)) if rgb.size else 1.0
            self.image_item.setImage(rgb, levels=(0.0, 255.0) if peak > 1.5 else (0.0, 1.0), lut=None,
                                     autoLevels=False)
        else:
            self.image_item.setImage(pixels, levels=levels, lut=lut, autoLevels=False)
        if rect != self._rect:
            self.image_item.setRect(QtCore.QRectF(*rect))
            self._rect = rect
        if first:
            self.fit()

    def show_overlay(self, pixels: np.ndarray | None, rect: Rect | None = None, *,
                     levels: tuple[float, float] = (0.0, 1.0), lut: np.ndarray | None = None,
                     opacity: float = 0.5) -> None:
        """Draw a grey overlay with its own rect, or hide it with None."""
        if pixels is None or rect is None:
            self.overlay_item.setVisible(False)
            return
        self.overlay_item.setImage(pixels, levels=levels, lut=lut, autoLevels=False)
        self.overlay_item.setRect(QtCore.QRectF(*rect))
        self.overlay_item.setOpacity(float(opacity))
        self.overlay_item.setVisible(True)

    def clear(self) -> None:
        """Forget the image (the next one is fitted to the view)."""
        self.image_item.clear()
        self.overlay_item.setVisible(False)
        self._rect = None
        self.set_crosshair(None)

    def set_crosshair(self, point: tuple[float, float] | None) -> None:
        """Crosshair at screen ``(u, v)`` mm, or hidden with None."""
        for line in (self.vline, self.hline):
            line.setVisible(point is not None)
        if point is not None:
            self.vline.setPos(point[0])
            self.hline.setPos(point[1])

    def set_title(self, text: str) -> None:
        """Plane name and slice shown in the top-left corner."""
        self.title.setText(text)
        self.title.adjustSize()

    def fit(self) -> None:
        """Fit the whole plane into the view."""
        if self._rect is not None:
            self.view_box.setRange(QtCore.QRectF(*self._rect), padding=0.02)

    def view_range(self) -> list[list[float]]:
        """``[[x0, x1], [y0, y1]]`` visible, in screen mm."""
        return [[float(a), float(b)] for a, b in self.view_box.viewRange()]

    def set_view_range(self, ranges: Any) -> None:
        """Show ``[[x0, x1], [y0, y1]]`` (screen mm)."""
        (x0, x1), (y0, y1) = ranges
        self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def widget_point(self, u: float, v: float) -> QtCore.QPoint:
        """Position in ``self.graphics.viewport()`` of screen mm ``(u, v)`` (for tests and tooltips)."""
        scene = self.view_box.mapViewToScene(QtCore.QPointF(u, v))
        return self.graphics.mapFromScene(scene)

    # ------------------------------------------------------------- events
    def _picked(self, u: float, v: float) -> None:
        self.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
        self.point_picked.emit(self.plane, u, v)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        width, height = self.graphics.width(), self.graphics.height()
        margin = 4
        positions = {
            "left": (margin, (height - self.labels["left"].height()) // 2),
            "right": (width - self.labels["right"].width() - margin, (height - self.labels["right"].height()) // 2),
            "top": ((width - self.labels["top"].width()) // 2, margin),
            "bottom": ((width - self.labels["bottom"].width()) // 2, height - self.labels["bottom"].height() - margin),
        }
        for edge, (x, y) in positions.items():
            self.labels[edge].move(int(x), int(y))
        self.title.move(margin, margin)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        steps = {QtCore.Qt.Key.Key_PageUp: 1, QtCore.Qt.Key.Key_Up: 1, QtCore.Qt.Key.Key_Right: 1,
                 QtCore.Qt.Key.Key_PageDown: -1, QtCore.Qt.Key.Key_Down: -1, QtCore.Qt.Key.Key_Left: -1}
        if event.key() in steps:
            self.scrolled.emit(self.plane, steps[event.key()])
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event: QtGui.QFocusEvent) -> None:
        self.activated.emit(self.plane)
        super().focusInEvent(event)
