"""View controls of the main window: linking, slices and playback, window presets, layout, overlay, readout.

A mixin of :class:`~textdifuse_desktop.gui.main_window.MainWindow`; it uses the window's ``panes``,
``linker``, ``display_panel``, ``actions``, ``play_timer``, ``raw``, ``readout`` and splitters.
"""

from __future__ import annotations

from typing import Any

from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.gui.widgets.display_panel import PANE_KEYS


class ViewControlsMixin:
    """Methods of the main window that change what the panes show (not what is loaded or fused)."""

    panes: dict[str, Any]
    linker: Any
    display_panel: Any
    actions: Any
    play_timer: Any
    raw: dict[str, Any]
    readout: Any
    _left: Any
    _outer: Any

    def set_linked(self, linked: bool) -> None:
        """Link or unlink pan/zoom, crosshair and slice across the panes."""
        self.linker.enabled = linked
        if self.display_panel.link_check.isChecked() != linked:
            self.display_panel.link_check.setChecked(linked)
        self.actions.link.setChecked(linked)

    def set_slice(self, index: int) -> None:
        """Show slice/frame ``index`` (all panes when linked)."""
        self.panes["a"].set_slice(index)
        if not self.linker.enabled:
            for key in ("b", "fused"):
                self.panes[key].set_slice(index)

    def apply_preset(self, key: str, preset: str) -> None:
        """Apply a window preset to pane ``key`` (or to every pane for ``"all"``)."""
        for pane_key in (PANE_KEYS if key == "all" else (key,)):
            pane = self.panes[pane_key]
            if pane.plane_image is not None:
                pane.set_window(*display.window_for_source(preset, pane.source, pane.plane_image))

    def reset_view(self) -> None:
        """Fit the images into the panes."""
        for pane in self.panes.values():
            pane.reset_view()

    def _on_crosshair_toggled(self, shown: bool) -> None:
        for pane in self.panes.values():
            pane.crosshair_enabled = shown
            pane.set_crosshair(None)

    def _on_slice_changed(self, _index: int) -> None:
        self._update_slice_controls()

    def _update_slice_controls(self) -> None:
        pane = self.panes["a"] if self.panes["a"].image is not None else self.panes["b"]
        source = pane.source
        kind = "frame" if source is not None and (display.is_video(source) or source.axes[0] == "T") else "slice"
        self.display_panel.set_slice_range(pane.slice_count, pane.current_slice, kind)

    def _on_play_toggled(self, playing: bool) -> None:
        fps = float(getattr(self.raw["a"], "fps", 0) or getattr(self.raw["b"], "fps", 0) or 10.0)
        if playing:
            self.play_timer.start(max(15, int(1000 / min(fps, 60.0))))
        else:
            self.play_timer.stop()

    def _on_play_tick(self) -> None:
        pane = self.panes["a"]
        if pane.slice_count <= 1:
            self.display_panel.play_button.setChecked(False)
            return
        self.set_slice((pane.current_slice + 1) % pane.slice_count)

    def _apply_layout(self, mode: str) -> None:
        a, b, fused = (self.panes[k] for k in PANE_KEYS)
        if mode == "stacked":
            self._left.insertWidget(0, a)
            self._left.insertWidget(1, b)
            self._outer.insertWidget(0, self._left)
            self._outer.insertWidget(1, fused)
            self._left.show()
            total = max(self._outer.width(), 3)
            self._outer.setSizes([total * 2 // 5, total * 3 // 5])
            self._left.setSizes([1, 1])
        elif a.parent() is self._left or self._left.isVisible():
            for index, pane in enumerate((a, b, fused)):
                self._outer.insertWidget(index, pane)
            self._left.hide()
            total = max(self._outer.width(), 3)
            self._outer.setSizes([total // 3] * 3 + [0])

    def _auto_layout(self) -> None:
        # Wide images (e.g. 640x480 thermal/visible) waste less space with A/B stacked.
        dp = self.display_panel
        image = self.panes["a"].plane_image
        if dp.layout_chosen_by_user or image is None or dp.layout_mode == "overlay":
            return
        height, width = image.pixels.shape[:2]
        dp.set_layout_mode("stacked" if width > 1.2 * height else "side")

    def _update_overlay(self) -> None:
        dp = self.display_panel
        overlay = dp.overlay_mode
        self._apply_layout("side" if overlay else dp.layout_mode)
        self.panes["b"].setVisible(not overlay)
        self.panes["fused"].setVisible(not overlay)
        layer = self.panes[dp.overlay_source] if overlay else None
        source = layer.source if layer is not None else None
        if source is not None and self.panes["a"].source is not None:
            self.panes["a"].set_overlay(source, opacity=dp.opacity, colormap=dp.overlay_cmap.currentText(),
                                        window=layer.window)
        else:
            self.panes["a"].set_overlay(None)

    def _on_cursor(self, pos: Any) -> None:
        if pos is None:
            self.readout.setText("")
            return
        parts = [f"x={int(pos[0])} y={int(pos[1])}"]
        for key, pane in self.panes.items():
            value = pane.value_at(pos)
            if value:
                parts.append(f"{strings.PANE_TITLES[key]}: {value}")
        self.readout.setText("   ".join(parts))
