"""Loading sources into the main window: open A, B or a pair, pair them on A's grid, start afresh.

A mixin of :class:`~textdifuse_desktop.gui.main_window.MainWindow`.  Every
change of sources goes through :meth:`SourceLoadingMixin._sources_updated`,
which starts a new pair: the running fusion is cancelled (its result will
not be shown), the fused pane, the progress bar, the fusion status, the
value read-out and the pairing warnings are reset, and a new region set is
made on A's grid.  :meth:`SourceLoadingMixin.open_pair` reads both files
before showing either, so a new A is never paired with the old B.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6 import QtCore

from textdifuse_desktop.gui import pipeline, strings
from textdifuse_desktop.gui.resources import DEMO_MODALITIES, demo_pair
from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.gui.viewers.colormaps import default_colormap

log = logging.getLogger(__name__)


class SourceLoadingMixin:
    """Methods of the main window that load sources and reset everything derived from them."""

    raw: dict[str, Any]
    paired: tuple[Any, Any] | None
    result: Any
    pair_warnings: list[str]
    panes: dict[str, Any]
    linker: Any
    display_panel: Any
    fusion_panel: Any
    controller: Any
    regions: Any
    readout: Any
    settings: Any
    actions: Any
    sources_changed: Any
    _sources_token: int
    _patients_confirmed: int | None

    def open_source(self, key: str, path: str | Path, **options: Any) -> bool:
        """Load ``path`` as source ``key`` (``"a"`` or ``"b"``); errors go to a dialog. True on success.

        The other source stays: this pairs the new file with it (File > Open source A/B).
        """
        source = self._read(key, path, **options)
        if source is None:
            return False
        self.raw[key] = source
        self._sources_updated()
        return True

    def show_loaded(self, key: str, source: Any, path: str | Path) -> None:
        """Show a source already read from ``path`` elsewhere (a worker thread) as ``key``, like open_source."""
        self._loaded(key, source, path)
        self.raw[key] = source
        self._sources_updated()

    def open_pair(self, path_a: str | Path, path_b: str | Path, options_a: dict[str, Any] | None = None,
                  options_b: dict[str, Any] | None = None) -> bool:
        """Load a new pair: both files are read first, then shown together. True when both loaded.

        When A cannot be read nothing changes; when only B fails, the new A is shown alone
        (never with the previous B).  ``options_a``/``options_b`` go to the reader (e.g. ``frame``).
        """
        source_a = self._read("a", path_a, **(options_a or {}))
        if source_a is None:
            return False
        source_b = self._read("b", path_b, **(options_b or {}))
        self.raw = {"a": source_a, "b": source_b}
        self._sources_updated()
        return source_b is not None

    def open_demo(self, name: str = "ir_vis") -> bool:
        """Open the bundled demo pair ``"ir_vis"`` or ``"mri_pet"``."""
        path_a, path_b = demo_pair(name)
        modality_a, modality_b = DEMO_MODALITIES[name]
        ok = self.open_pair(path_a, path_b, {"modality": modality_a}, {"modality": modality_b})
        if ok and name == "mri_pet":
            self.display_panel.set_colormap("fused", "Grey")
        return ok

    def set_sources(self, a: Any, b: Any) -> None:
        """Show already-loaded sources (Images or video sequences; None leaves a slot empty)."""
        self.raw = {"a": a, "b": b}
        self._sources_updated()

    def _read(self, key: str, path: str | Path, **options: Any) -> Any:
        try:
            source = pipeline.load_source(path, **options)
        except Exception as error:  # noqa: BLE001 - every failure is shown, the app goes on
            self.report_error(error)
            return None
        self._loaded(key, source, path)
        return source

    def _loaded(self, key: str, source: Any, path: str | Path) -> None:
        self._remember(path)
        self.statusBar().showMessage(strings.STATUS_LOADED.format(
            slot=strings.PANE_TITLES[key], name=Path(path).name, desc=pipeline.describe(source)), 8000)

    def _sources_updated(self) -> None:
        self._sources_token += 1
        self._patients_confirmed = None
        if self.controller.is_running:
            self.controller.cancel()  # its result belongs to the old sources and will be dropped
        self.controller.cache.clear()
        self.result = None
        self.paired = None
        self.pair_warnings = []
        self._reset_fusion_state()
        a, b = self.raw["a"], self.raw["b"]
        if a is not None and b is not None:
            try:
                pa, pb, warnings = pipeline.pair_sources(a, b)
            except Exception as error:  # noqa: BLE001 - e.g. GeometryError: show B unpaired
                self.report_error(error)
                pa, pb, warnings = a, b, []
            else:
                self.paired = (pa, pb)
                self.pair_warnings = warnings
            a, b = pa, pb
        self._show("a", a)
        self._show("b", b)
        self._show("fused", None)
        self.regions.reset(self.paired[0] if self.paired else None)
        self.regions.set_source_labels(*(pipeline.short_name(self.raw[k]) or k.upper() for k in ("a", "b")))
        if self.pair_warnings:
            self.statusBar().showMessage("; ".join(self.pair_warnings), 15000)
        self._update_slice_controls()
        self._auto_layout()
        self._update_overlay()
        self.sources_changed.emit()

    def _reset_fusion_state(self) -> None:
        """Nothing derived from the previous sources stays on screen: read-out, progress, fusion status."""
        self.readout.setText("")
        for pane in self.panes.values():
            pane.set_crosshair(None)
        if not self.controller.is_running:
            self.fusion_panel.set_running(False, succeeded=False)
        self.fusion_panel.status_label.setText("")

    def _show(self, key: str, source: Any, *, keep_view: bool = False) -> None:
        pane = self.panes[key]
        pane.set_image(source, keep_view=keep_view)
        image = pane.plane_image
        if image is not None and not keep_view:
            self.display_panel.set_colormap(key, default_colormap(image.modality) if key != "fused"
                                            else self.display_panel.cmap_combos[key].currentText())
            self.display_panel.set_units(key, image.units)
        if image is not None:
            self.display_panel.set_colour_image(key, display.rgb_planes(image))
        if not keep_view and key == "fused" and source is not None:
            # Copy A's zoom once the pane has been laid out (its graphics page was hidden).
            QtCore.QTimer.singleShot(0, self._sync_fused_view)

    def _sync_fused_view(self) -> None:
        if self.linker.enabled and self.panes["a"].image is not None:
            self.linker.sync_from(self.panes["a"])

    def _remember(self, path: str | Path) -> None:
        if self.settings is None or not hasattr(self.settings, "add_recent_file"):
            return
        self.settings.add_recent_file(path)
        try:
            from textdifuse_desktop.config import save_settings

            save_settings(self.settings)
        except Exception as error:  # noqa: BLE001 - recent files are a convenience
            log.warning("could not save settings: %s", error)
        self.actions.refresh_recent()

    def _on_files_dropped(self, paths: list[str], key: str | None) -> None:
        if len(paths) >= 2:
            self.open_pair(paths[0], paths[1])
        elif key in ("a", "b"):
            self.open_source(key, paths[0])
        else:
            self.open_source("a" if self.raw["a"] is None else "b", paths[0])
