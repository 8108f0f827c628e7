"""Three-plane display of volumes inside an :class:`~textdifuse_desktop.gui.viewers.image_pane.ImagePane`.

A mixin of ``ImagePane``: when ``planes_mode`` is ``"2x2"``, ``"1x3"`` or ``"3x1"`` and the pane shows a
volume, its page is an :class:`MprGrid` whose axial, coronal and sagittal views are cut through
``world_point`` (RAS mm).  Window, colour map and overlay are the pane's own, so every plane follows them.
The pane never moves its own crosshair from a click: it emits ``world_picked(xyz)`` and the window's
:class:`~textdifuse_desktop.gui.viewers.crosshair.WorldCrosshair` calls :meth:`set_world_point` on every
linked pane, so all planes of all sources meet at one world point.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.gui.viewers.colormaps import lookup_table
from textdifuse_desktop.gui.viewers.mpr_grid import ARRANGEMENTS, MprGrid
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.planes import AXIS_LETTERS, PLANES, VolumeGeometry


class PanePlanesMixin:
    """Planes of volumes for ``ImagePane`` (see the module docstring)."""

    source: Any
    world_picked: Any
    plane_range_changed: Any
    crosshair_enabled: bool
    _window: tuple[float, float]
    _colormap: str
    _slice: int
    _stack: Any
    _graphics: Any
    _footer: Any

    def _init_planes(self) -> None:
        self.planes_mode = "single"
        self.mpr: MprGrid | None = None
        #: Returns the shared world point (set by the window's crosshair) for a newly shown volume.
        self.world_source: Callable[[], np.ndarray | None] | None = None
        self._world: np.ndarray | None = None
        self._geometry: tuple[int, VolumeGeometry] | None = None

    # ------------------------------------------------------------- state
    @property
    def uses_planes(self) -> bool:
        """True when the three planes are on screen (a volume in a three-plane arrangement)."""
        return self.planes_mode != "single" and isinstance(self.source, Image) and self.source.is_volume

    @property
    def geometry(self) -> VolumeGeometry | None:
        """World geometry of the volume shown, or None for 2D images and videos."""
        source = self.source
        if not isinstance(source, Image) or not source.is_volume:
            return None
        if self._geometry is None or self._geometry[0] != id(source):
            self._geometry = (id(source), VolumeGeometry.of(source))
        return self._geometry[1]

    @property
    def world_point(self) -> np.ndarray | None:
        """The crosshair's world point (RAS mm) in this pane, or None."""
        return None if self._world is None else self._world.copy()

    def set_planes_mode(self, mode: str) -> None:
        """``"single"`` (one slice, as for 2D images) or a three-plane arrangement of :data:`ARRANGEMENTS`."""
        if mode not in ARRANGEMENTS:
            return
        was = self.uses_planes
        self.planes_mode = mode
        self._update_planes_page()
        if was and not self.uses_planes and self.source is not None:
            # Back to one slice: show the slice the crosshair reached (the regions overlay follows the signal).
            self._plane = display.plane(self.source, self._slice)
            self._render()
            self.slice_changed.emit(self._slice)  # type: ignore[attr-defined]
        self._update_header()  # type: ignore[attr-defined]

    def set_world_point(self, xyz: Any) -> None:
        """Cut the planes through world point ``xyz`` (mm); the classic slice follows it silently."""
        geometry = self.geometry
        if xyz is None or geometry is None:
            return
        self._world = np.asarray(xyz, dtype=np.float64).copy()
        voxel = geometry.world_to_voxel(self._world)
        self._slice = int(np.clip(np.floor(voxel[2] + 0.5), 0, geometry.voxel_shape[2] - 1))
        if self.uses_planes:
            self._render_planes()

    def world_step(self, plane: str, step: int) -> np.ndarray | None:
        """The world point one slice (``step``) further through ``plane``."""
        geometry = self.geometry
        if geometry is None or self._world is None:
            return None
        index = geometry.slice_index(plane, self._world) + int(step)
        return geometry.at_slice(plane, index, self._world)

    # ------------------------------------------------------------- page
    def _update_planes_page(self) -> None:
        if not self.uses_planes:
            if self.source is not None and self.mpr is not None and self._stack.currentWidget() is self.mpr:
                self._stack.setCurrentWidget(self._graphics)
            return
        if self.mpr is None:
            self.mpr = MprGrid()
            self._stack.addWidget(self.mpr)
            for view in self.mpr.views.values():
                view.point_picked.connect(self._on_plane_picked)
                view.scrolled.connect(self._on_plane_scrolled)
                view.window_drag.connect(self._on_window_drag)  # type: ignore[attr-defined]
                view.activated.connect(lambda _plane: self.activated.emit())  # type: ignore[attr-defined]
                view.view_box.sigRangeChangedManually.connect(
                    lambda *_args, v=view: self.plane_range_changed.emit(v.plane, v.view_range()))
        self.mpr.set_arrangement(self.planes_mode)
        self._stack.setCurrentWidget(self.mpr)
        if self._world is None or self.geometry is not None and self.geometry.nearest_voxel(self._world) is None:
            shared = self.world_source() if self.world_source is not None else None
            self._world = np.asarray(shared if shared is not None else self.geometry.center, dtype=np.float64)
        self._render_planes()

    def _reset_planes(self) -> None:
        """A new source: the planes are fitted again and the world point comes from the shared crosshair."""
        self._world = None
        self._geometry = None
        if self.mpr is not None:
            for view in self.mpr.views.values():
                view.clear()
        self._update_planes_page()

    # ------------------------------------------------------------- rendering
    def _render_planes(self) -> None:
        geometry, source, world = self.geometry, self.source, self._world
        if self.mpr is None or geometry is None or world is None:
            return
        rgb = source.has_channels and source.pixels.shape[-1] in (3, 4)
        center, width = self._window
        levels = None if rgb else (center - width / 2, center + width / 2)
        lut = None if rgb else lookup_table(self._colormap)
        for plane, view in self.mpr.views.items():
            index = geometry.slice_index(plane, world)
            pixels = geometry.plane_pixels(source.pixels, plane, index)
            if not rgb and pixels.ndim == 3:
                pixels = pixels[..., 0]
            view.show_image(pixels, geometry.plane_rect(plane), levels=levels, lut=lut)
            view.set_crosshair(geometry.screen_point(plane, world) if self.crosshair_enabled else None)
            view.set_title(f"{plane.capitalize()}  {index + 1}/{geometry.slice_count(plane)}")
        self._render_plane_overlays()
        text = self.planes_readout()
        self._footer.setText(text or " ")
        self.mpr.info.setText(text.replace("   ", "\n"))

    def _render_plane_overlays(self) -> None:
        overlay = getattr(self, "_overlay_source", None)
        if self.mpr is None or self._world is None:
            return
        if not isinstance(overlay, Image) or not overlay.is_volume:
            for view in self.mpr.views.values():
                view.show_overlay(None)
            return
        geometry = VolumeGeometry.of(overlay)
        window = getattr(self, "_overlay_window", None) or display.window_for_preset(display.DEFAULT_PRESET, overlay)
        levels = (window[0] - window[1] / 2, window[0] + window[1] / 2)
        lut = lookup_table(getattr(self, "_overlay_colormap", "Hot"))
        opacity = float(self.overlay_item.opacity())  # type: ignore[attr-defined]
        for plane, view in self.mpr.views.items():
            pixels = geometry.plane_pixels(overlay.pixels, plane, geometry.slice_index(plane, self._world))
            grey = pixels if pixels.ndim == 2 else pixels[..., :3].mean(axis=-1)
            view.show_overlay(grey, geometry.plane_rect(plane), levels=levels, lut=lut, opacity=opacity)

    def planes_readout(self) -> str:
        """``"R 12.0  A -4.5  S 20.0 mm   voxel (i, j, k)   value units"`` at the world point, "" without one."""
        geometry, world = self.geometry, self._world
        if geometry is None or world is None:
            return ""
        position = "  ".join(f"{AXIS_LETTERS[c][0] if world[c] >= 0 else AXIS_LETTERS[c][1]} {abs(world[c]):.1f}"
                             for c in range(3)) + " mm"
        voxel = geometry.nearest_voxel(world)
        if voxel is None:
            return position + "   (outside the volume)"
        i, j, k = voxel
        return f"{position}   voxel ({i}, {j}, {k})   {self.value_at_world(world)}"

    def value_at_world(self, xyz: Any) -> str:
        """The value under world point ``xyz`` with its units, "" outside the volume or for 2D images."""
        geometry = self.geometry
        if geometry is None or xyz is None:
            return ""
        voxel = geometry.nearest_voxel(np.asarray(xyz, dtype=np.float64))
        if voxel is None:
            return ""
        i, j, k = voxel
        return display.value_text(display.plane(self.source, k), i, j)

    # ------------------------------------------------------------- events and session
    def _on_plane_picked(self, plane: str, u: float, v: float) -> None:
        if self.geometry is None or self._world is None:
            return
        self.world_picked.emit(self.geometry.clamp(self.geometry.world_from_screen(plane, u, v, self._world)))

    def _on_plane_scrolled(self, plane: str, step: int) -> None:
        moved = self.world_step(plane, step)
        if moved is not None:
            self.world_picked.emit(moved)

    def plane_ranges(self) -> dict[str, list[list[float]]]:
        """Zoom and pan of each plane (screen mm), empty when the planes were never shown."""
        if self.mpr is None or not self.uses_planes:
            return {}
        return {plane: view.view_range() for plane, view in self.mpr.views.items()}

    def set_plane_ranges(self, ranges: dict[str, Any]) -> None:
        """Restore :meth:`plane_ranges`; malformed entries are skipped."""
        if self.mpr is None:
            return
        self.mpr.cancel_fit()
        for plane in PLANES:
            try:
                self.mpr.views[plane].set_view_range(ranges[plane])
            except (KeyError, TypeError, ValueError):
                continue

    def extra_view_state(self) -> dict[str, Any]:
        """Session hook (``gui.session_io``): the planes' zoom and pan."""
        ranges = self.plane_ranges()
        return {"plane_ranges": ranges} if ranges else {}

    def apply_extra_view_state(self, extra: dict[str, Any]) -> None:
        """Session hook: restore :meth:`extra_view_state`."""
        ranges = extra.get("plane_ranges")
        if isinstance(ranges, dict):
            self.set_plane_ranges(ranges)
