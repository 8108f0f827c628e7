"""Draw regions over an image pane and paint them with the mouse.

:class:`RegionOverlay` adds one RGBA :class:`pyqtgraph.ImageItem` above the
pane's image (z = 20, between the pane's own overlay layer and its crosshair)
showing the regions of the current slice, a brush outline, and a rubber band
for the box tool.  With a painting tool active, a left-button drag on the
image paints (brush), erases (eraser) or fills a box into the active region;
one drag is one undo step.  With the ``"navigate"`` tool, or any other
button, events go to the view box as usual (pan, zoom, window/level).

The pane only needs ``view_box``, ``image_item``, ``current_slice`` and a
``slice_changed(int)`` signal (see ``gui.viewers.image_pane``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.session.regions import RegionSet

log = logging.getLogger(__name__)

Z_VALUE = 20


class _OverlayItem(pg.ImageItem):
    """ImageItem that forwards mouse events to its :class:`RegionOverlay`."""

    def __init__(self, owner: RegionOverlay):
        super().__init__(axisOrder="row-major")
        self._owner = owner
        self.setAcceptHoverEvents(True)

    def mouseDragEvent(self, ev: Any) -> None:
        if not self._owner.handle_drag(ev):
            ev.ignore()

    def mouseClickEvent(self, ev: Any) -> None:
        if not self._owner.handle_click(ev):
            ev.ignore()

    def hoverEvent(self, ev: Any) -> None:
        self._owner.handle_hover(ev)


class RegionOverlay(QtCore.QObject):
    """Regions of ``region_set`` drawn on ``pane`` and painted by mouse.

    Parameters
    ----------
    pane:
        An image pane (``view_box``, ``image_item``, ``current_slice``,
        ``slice_changed``).
    region_set:
        The regions, or None until :meth:`set_region_set`.
    panel:
        A :class:`~textdifuse_desktop.gui.regions_panel.RegionsPanel`: the
        tool, brush radius and active region follow it.  Without a panel set
        :attr:`tool`, :attr:`brush_radius` and :attr:`active_index` directly.
    opacity:
        Opacity of the region fill.
    """

    stroke_finished = QtCore.Signal()

    def __init__(self, pane: Any, region_set: RegionSet | None = None, panel: Any = None, *,
                 opacity: float = 0.45, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.pane = pane
        self.panel = panel
        self.opacity = float(opacity)
        self.tool = "navigate"
        self.brush_radius = 8.0
        self.active_index = -1
        self._rs: RegionSet | None = None
        self._last: tuple[float, float] | None = None
        self._box_start: tuple[float, float] | None = None
        self._stroke_index = -1

        self.item = _OverlayItem(self)
        self.item.setZValue(Z_VALUE)
        pane.view_box.addItem(self.item)
        pen = pg.mkPen((255, 255, 255, 200), width=1, cosmetic=True)
        self.cursor_item = QtWidgets.QGraphicsEllipseItem()
        self.cursor_item.setPen(pen)
        self.cursor_item.setZValue(Z_VALUE + 1)
        self.cursor_item.setVisible(False)
        pane.view_box.addItem(self.cursor_item, ignoreBounds=True)
        self.box_item = QtWidgets.QGraphicsRectItem()
        self.box_item.setPen(pg.mkPen((255, 255, 255, 220), width=1, style=QtCore.Qt.PenStyle.DashLine,
                                      cosmetic=True))
        self.box_item.setZValue(Z_VALUE + 1)
        self.box_item.setVisible(False)
        pane.view_box.addItem(self.box_item, ignoreBounds=True)

        pane.slice_changed.connect(self._on_slice_changed)
        self.panel = None
        self.set_panel(panel)
        self.set_region_set(region_set)

    # ------------------------------------------------------------- public
    @property
    def region_set(self) -> RegionSet | None:
        """The regions drawn."""
        return self._rs

    def set_region_set(self, region_set: RegionSet | None) -> None:
        """Draw (and paint into) ``region_set``; None clears the overlay."""
        if self._rs is not None:
            self.end_stroke()
            self._rs.changed.disconnect(self._on_model_changed)
        self._rs = region_set
        if region_set is not None:
            region_set.changed.connect(self._on_model_changed)
        self.refresh()

    def set_panel(self, panel: Any) -> None:
        """Follow ``panel``'s tool, brush radius and active region (None: use the attributes)."""
        if self.panel is not None:
            self.panel.tool_changed.disconnect(self._on_tool_changed)
            self.panel.brush_radius_changed.disconnect(self._on_radius_changed)
        self.panel = panel
        if panel is not None:
            self.tool = panel.tool
            self.brush_radius = panel.brush_radius
            panel.tool_changed.connect(self._on_tool_changed)
            panel.brush_radius_changed.connect(self._on_radius_changed)

    def detach(self) -> None:
        """Remove the overlay's items from the pane and stop listening."""
        self.set_region_set(None)
        self.set_panel(None)
        for item in (self.item, self.cursor_item, self.box_item):
            self.pane.view_box.removeItem(item)
        self.pane.slice_changed.disconnect(self._on_slice_changed)

    def set_visible(self, visible: bool) -> None:
        """Show or hide the overlay (painting still works)."""
        self.item.setVisible(bool(visible))

    def slice_index(self) -> int | None:
        """Slice of the region set on screen (None for 2D region sets)."""
        if self._rs is None or not self._rs.is_volume:
            return None
        return int(min(max(int(getattr(self.pane, "current_slice", 0)), 0), self._rs.shape[0] - 1))

    def render_rgba(self) -> np.ndarray | None:
        """The overlay of the current slice as ``(H, W, 4)`` uint8, or None."""
        if self._rs is None:
            return None
        z = self.slice_index()
        rgba = np.zeros(self._rs.shape[-2:] + (4,), dtype=np.uint8)
        alpha = int(round(255 * self.opacity))
        for region in self._rs:
            if not region.visible:
                continue
            mask = region.mask if z is None else region.mask[z]
            if mask.any():
                rgba[mask] = (*region.color, alpha)
        return rgba

    def refresh(self) -> None:
        """Redraw the current slice."""
        rgba = self.render_rgba()
        if rgba is None:
            self.item.clear()
            return
        self.item.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.item.setTransform(self.pane.image_item.transform())

    # -------------------------------------------------- painting (image pixels)
    def _current_index(self, origin: str) -> int:
        if self.panel is not None:
            return self.panel.ensure_active_region(origin)
        if self._rs is None:
            return -1
        if not 0 <= self.active_index < len(self._rs):
            self._rs.add(origin=origin)
            self.active_index = len(self._rs) - 1
        return self.active_index

    def begin_stroke(self, x: float, y: float) -> bool:
        """Start a brush/eraser stroke at pixel ``(x, y)`` (pixel centres are integers)."""
        if self._rs is None or self.tool not in ("brush", "eraser"):
            return False
        index = self._current_index("brush")
        if index < 0:
            return False
        self._stroke_index = index
        self._rs.begin_stroke(index)
        self._rs.stamp_disc(index, (x, y), self.brush_radius, self.slice_index(), erase=self.tool == "eraser")
        self._last = (x, y)
        return True

    def continue_stroke(self, x: float, y: float) -> None:
        """Extend the stroke to ``(x, y)`` without gaps."""
        if self._rs is None or self._last is None:
            return
        self._rs.stamp_line(self._stroke_index, self._last, (x, y), self.brush_radius, self.slice_index(),
                            erase=self.tool == "eraser")
        self._last = (x, y)

    def end_stroke(self) -> None:
        """Finish the stroke: one undo step."""
        if self._rs is None or self._last is None:
            return
        self._last = None
        self._rs.end_stroke()
        self.stroke_finished.emit()

    def begin_box(self, x: float, y: float) -> bool:
        """Start a box at ``(x, y)``."""
        if self._rs is None or self.tool != "box":
            return False
        self._box_start = (x, y)
        self.update_box(x, y)
        self.box_item.setVisible(True)
        return True

    def update_box(self, x: float, y: float) -> None:
        """Move the box's free corner (rubber band only)."""
        if self._box_start is None:
            return
        (x0, y0) = self._box_start
        rect = QtCore.QRectF(QtCore.QPointF(x0 + 0.5, y0 + 0.5), QtCore.QPointF(x + 0.5, y + 0.5)).normalized()
        self.box_item.setRect(self.pane.image_item.mapRectToParent(rect))

    def finish_box(self, x: float, y: float) -> None:
        """Fill the box from the start corner to ``(x, y)`` into the active region."""
        self.box_item.setVisible(False)
        start, self._box_start = self._box_start, None
        if self._rs is None or start is None:
            return
        index = self._current_index("box")
        if index >= 0:
            self._rs.fill_box(index, (start[0], start[1], x, y), self.slice_index())
            self.stroke_finished.emit()

    # ----------------------------------------------------------- mouse events
    def _pixel(self, item_pos: QtCore.QPointF) -> tuple[float, float]:
        # Pixel (i, j) covers [i, i+1) x [j, j+1) in item coordinates: its centre is i + 0.5.
        return float(item_pos.x()) - 0.5, float(item_pos.y()) - 0.5

    def handle_drag(self, ev: Any) -> bool:
        """Handle a pyqtgraph drag event; False lets the view box have it."""
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or self.tool == "navigate" or self._rs is None:
            return False
        ev.accept()
        x, y = self._pixel(ev.pos())
        if self.tool == "box":
            if ev.isStart():
                sx, sy = self._pixel(ev.buttonDownPos())
                self.begin_box(sx, sy)
            self.update_box(x, y)
            if ev.isFinish():
                self.finish_box(x, y)
        else:
            if ev.isStart():
                sx, sy = self._pixel(ev.buttonDownPos())
                self.begin_stroke(sx, sy)
            self.continue_stroke(x, y)
            self._move_cursor(x, y)
            if ev.isFinish():
                self.end_stroke()
        return True

    def handle_click(self, ev: Any) -> bool:
        """A click with the brush or eraser stamps one disc."""
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or self.tool not in ("brush", "eraser"):
            return False
        ev.accept()
        x, y = self._pixel(ev.pos())
        if self.begin_stroke(x, y):
            self.end_stroke()
        return True

    def handle_hover(self, ev: Any) -> None:
        """Show the brush outline under the mouse."""
        if ev.isExit() or self.tool not in ("brush", "eraser"):
            self.cursor_item.setVisible(False)
            return
        self._move_cursor(*self._pixel(ev.pos()))

    def _move_cursor(self, x: float, y: float) -> None:
        r = self.brush_radius
        rect = QtCore.QRectF(x + 0.5 - r, y + 0.5 - r, 2 * r, 2 * r)
        self.cursor_item.setRect(self.pane.image_item.mapRectToParent(rect))
        self.cursor_item.setVisible(True)

    # ---------------------------------------------------------------- slots
    def _on_model_changed(self, _kind: str = "") -> None:
        self.refresh()

    def _on_slice_changed(self, _index: int) -> None:
        self.end_stroke()
        self.refresh()

    def _on_tool_changed(self, name: str) -> None:
        self.end_stroke()
        self.tool = name
        self.cursor_item.setVisible(False)

    def _on_radius_changed(self, radius: float) -> None:
        self.brush_radius = float(radius)
