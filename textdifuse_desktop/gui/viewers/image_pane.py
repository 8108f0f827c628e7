"""One image pane: a pyqtgraph view with window/level, colour map, crosshair, overlay and read-out.

Public API used by other widgets (e.g. the regions overlay) - keep it stable:

* ``pane.view_box`` - the :class:`pyqtgraph.ViewBox` (image pixel coordinates,
  x = column, y = row, y axis pointing down);
* ``pane.image_item`` - the :class:`pyqtgraph.ImageItem` of the base image;
  add your own items to ``view_box`` with a ``zValue`` above 10 (the overlay
  layer uses 10, the crosshair 100);
* ``pane.image`` - the :class:`Image` shown: the whole volume for ``ZYX``
  data (use ``current_slice``), the current frame for videos, None when empty;
* ``pane.source`` - what was loaded (Image or lazy video sequence);
* ``pane.current_slice`` (int) and the signal ``slice_changed(int)``;
* signals ``cursor_moved(object)`` (``(x, y)`` in pixels or None),
  ``window_changed(float, float)``, ``files_dropped(list)``, ``activated()``;
* volumes can also be shown as three planes (``set_planes_mode``, ``world_point``,
  ``set_world_point`` and the signal ``world_picked(object)``; see :mod:`.pane_planes`).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.gui.viewers.colormaps import lookup_table
from textdifuse_desktop.gui.viewers.pane_input import PaneInputMixin
from textdifuse_desktop.gui.viewers.pane_planes import PanePlanesMixin
from textdifuse_desktop.gui.viewers.windowing import WindowingViewBox, add_image_layers
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

_HEADER_STYLE = "QLabel { background: #20242b; color: #d8dee9; padding: 3px 6px; font-weight: 600; }"
_FOOTER_STYLE = "QLabel { background: #20242b; color: #a3be8c; padding: 2px 6px; font-family: monospace; }"


class ImagePane(PaneInputMixin, PanePlanesMixin, QtWidgets.QWidget):
    """A titled view of one display source (see the module docstring for the public API)."""

    slice_changed = QtCore.Signal(int)
    cursor_moved = QtCore.Signal(object)
    window_changed = QtCore.Signal(float, float)
    files_dropped = QtCore.Signal(list)
    activated = QtCore.Signal()
    world_picked = QtCore.Signal(object)  # RAS mm picked in a plane of a volume (gui.viewers.pane_planes)
    plane_range_changed = QtCore.Signal(str, object)  # plane, [[x0, x1], [y0, y1]] after a user pan/zoom

    def __init__(self, slot: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.slot = slot
        self.title = strings.PANE_TITLES.get(slot, slot)
        self.source: Any = None
        self._plane: Image | None = None
        self._slice = 0
        self._window: tuple[float, float] = (0.5, 1.0)
        self._colormap = "Grey"
        self._overlay_source: Any = None
        self._overlay_window: tuple[float, float] | None = None
        self._caption: str | None = None
        self._init_planes()
        self.setAcceptDrops(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

        self._header = QtWidgets.QLabel(self.title)
        self._header.setStyleSheet(_HEADER_STYLE)
        self._footer = QtWidgets.QLabel(" ")
        self._footer.setStyleSheet(_FOOTER_STYLE)
        self._graphics = pg.GraphicsView(background="#0b0d10")
        self.view_box = WindowingViewBox(lockAspect=True, invertY=True, enableMenu=True)
        self.view_box.setDefaultPadding(0.02)
        self._graphics.setCentralItem(self.view_box)
        pen = pg.mkPen((255, 210, 0, 170), width=1, style=QtCore.Qt.PenStyle.DashLine, cosmetic=True)
        self.image_item, self.overlay_item, self._vline, self._hline = add_image_layers(self.view_box, pen)
        slot_letter = {"a": "A", "b": "B"}.get(slot)
        hint = strings.EMPTY_PANE_HINT.format(slot=slot_letter) if slot_letter else strings.EMPTY_FUSED_HINT
        self._hint = QtWidgets.QLabel(hint)
        self._hint.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._hint.setWordWrap(True)
        self._hint.setStyleSheet("QLabel { background: #0b0d10; color: #7b8494; padding: 12px; }")
        self._stack = QtWidgets.QStackedWidget()
        self._stack.addWidget(self._hint)
        self._stack.addWidget(self._graphics)
        self.crosshair_enabled = True
        for label in (self._header, self._footer, self._hint):
            # Long file names must not force the window wider than the screen.
            label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._header)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self._footer)

        self.view_box.sig_window_drag.connect(self._on_window_drag)
        self._graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._graphics.scene().sigMouseClicked.connect(self._on_clicked)
        self._graphics.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self._update_header()

    # ------------------------------------------------------------- properties
    @property
    def image(self) -> Image | None:
        """The Image shown (volume for ZYX data, current frame for videos), or None."""
        if self.source is None:
            return None
        return self._plane if display.is_video(self.source) else self.source

    @property
    def plane_image(self) -> Image | None:
        """The 2D plane on screen (current slice or frame)."""
        return self._plane

    @property
    def current_slice(self) -> int:
        """Index of the slice (volume) or frame (video) on screen."""
        return self._slice

    @property
    def slice_count(self) -> int:
        """Number of slices or frames of the source (1 for 2D, 0 when empty)."""
        return display.plane_count(self.source)

    @property
    def window(self) -> tuple[float, float]:
        """Current ``(center, width)``."""
        return self._window

    @property
    def colormap(self) -> str:
        """Name of the colour map used for grey data."""
        return self._colormap

    # ------------------------------------------------------------- content
    def set_image(self, source: Any, window: tuple[float, float] | None = None, *, keep_view: bool = False) -> None:
        """Show ``source`` (Image, video sequence or None); ``window`` defaults to the image's own."""
        self.source = source
        self._caption = None
        self._slice = min(self._slice, max(self.slice_count - 1, 0)) if keep_view else 0
        if source is None:
            self._plane = None
            self.image_item.clear()
            self._stack.setCurrentWidget(self._hint)
            self._footer.setText(" ")
            self._reset_planes()
            self._update_header()
            return
        if not keep_view and self.slice_count > 1:
            self._slice = self.slice_count // 2 if not display.is_video(source) else 0
        self._plane = display.plane(source, self._slice)
        self._stack.setCurrentWidget(self._graphics)
        self._window = window if window is not None else display.default_window(source, self._plane)
        self._render()
        if not keep_view:
            self.reset_view()
            self._reset_planes()
        else:
            self._update_planes_page()
        self._update_header()

    def set_caption(self, caption: str | None) -> None:
        """Text shown after the title instead of the file name (e.g. the fusion method)."""
        self._caption = caption
        self._update_header()

    def set_slice(self, index: int) -> None:
        """Show slice/frame ``index`` (clipped); emits ``slice_changed`` when it changes."""
        if self.source is None:
            return
        index = int(min(max(index, 0), max(self.slice_count - 1, 0)))
        if self.uses_planes and self.geometry is not None and self._world is not None:
            voxel = self.geometry.world_to_voxel(self._world)
            voxel[2] = index  # the classic slice axis is the array's first (k)
            self.world_picked.emit(self.geometry.voxel_to_world(voxel))
            return
        if index == self._slice and self._plane is not None:
            return
        self._slice = index
        self._plane = display.plane(self.source, index)
        self._render()
        self._update_header()
        self.slice_changed.emit(index)

    def set_window(self, center: float, width: float) -> None:
        """Set the display window in the image's units; emits ``window_changed``."""
        self._window = (float(center), max(float(width), 1e-6))
        self._render()
        self.window_changed.emit(*self._window)

    def set_colormap(self, name: str) -> None:
        """Colour map for grey data (colour images are shown as they are)."""
        self._colormap = name
        self._render()

    def set_overlay(self, source: Any, *, opacity: float = 0.5, colormap: str = "Hot",
                    window: tuple[float, float] | None = None) -> None:
        """Draw ``source`` (same grid as this pane) over the image, or remove the overlay with None."""
        self._overlay_source = source
        self._overlay_window = window
        self._overlay_colormap = colormap
        self.overlay_item.setOpacity(float(opacity))
        self._render_overlay()

    def reset_view(self) -> None:
        """Fit the whole image into the pane."""
        if self._plane is not None:
            height, width = self._plane.pixels.shape[:2]
            self.view_box.setRange(QtCore.QRectF(0, 0, width, height), padding=0.02)

    def set_crosshair(self, pos: tuple[float, float] | None) -> None:
        """Show the crosshair at ``(x, y)`` pixels (None hides it) and update the read-out."""
        if self.uses_planes:  # the planes' crosshair is the shared world point (set_world_point)
            self._render_planes()
            return
        visible = pos is not None and self._plane is not None and self.crosshair_enabled
        self._vline.setVisible(visible)
        self._hline.setVisible(visible)
        if pos is None:
            self._footer.setText(" ")
            return
        if visible:
            self._vline.setPos(pos[0])
            self._hline.setPos(pos[1])
        self._footer.setText(self.readout(pos))

    def readout(self, pos: tuple[float, float]) -> str:
        """``"(x, y) value units"`` for the plane on screen, or "" outside the image."""
        value = display.value_text(self._plane, *pos)
        if not value:
            return ""
        return f"({int(pos[0])}, {int(pos[1])})  {value}"

    def value_at(self, pos: tuple[float, float]) -> str:
        """The value under ``(x, y)`` with its units (no coordinates), "" outside."""
        return display.value_text(self._plane, *pos)

    # ------------------------------------------------------------- rendering
    def _render(self) -> None:
        if self._plane is None:
            return
        pixels = self._plane.pixels
        if display.rgb_planes(self._plane):
            rgb = pixels[..., :3]
            levels = (0.0, 255.0) if float(np.nanmax(rgb)) > 1.5 else (0.0, 1.0)
            self.image_item.setImage(rgb, levels=levels, lut=None, autoLevels=False)
        else:
            grey = pixels[..., 0] if pixels.ndim == 3 else pixels
            center, width = self._window
            self.image_item.setImage(grey, levels=(center - width / 2, center + width / 2),
                                     lut=lookup_table(self._colormap), autoLevels=False)
        self._render_overlay()
        if self.uses_planes:
            self._render_planes()

    def _render_overlay(self) -> None:
        source = self._overlay_source
        if self.uses_planes:
            self._render_plane_overlays()
        if source is None or self._plane is None:
            self.overlay_item.setVisible(False)
            return
        overlay = display.plane(source, self._slice)
        grey = overlay.pixels if overlay.pixels.ndim == 2 else overlay.pixels[..., :3].mean(axis=-1)
        center, width = self._overlay_window or display.window_for_preset(display.DEFAULT_PRESET, overlay)
        self.overlay_item.setImage(grey, levels=(center - width / 2, center + width / 2),
                                   lut=lookup_table(self._overlay_colormap), autoLevels=False)
        self.overlay_item.setVisible(True)

    def _update_header(self) -> None:
        text = self.title
        if self.source is not None:
            if self.slice_count > 1 and not self.uses_planes:  # before the name, which may be elided
                kind = "frame" if display.is_video(self.source) or self.source.axes[0] == "T" else "slice"
                text += f"  [{kind} {self._slice + 1}/{self.slice_count}]"
            name = self._caption or _source_name(self.source)
            if name:
                text += f"  \u2014  {name}"
        self._header.setText(text)
        self._header.setToolTip(text)


def _source_name(source: Any) -> str:
    if display.is_video(source):
        path = getattr(source, "path", None)
        return str(getattr(path, "name", path or "video"))
    paths = source.provenance.source_paths
    if not paths:
        return str(source.meta.get("name", ""))
    from pathlib import Path

    return Path(paths[0]).name
