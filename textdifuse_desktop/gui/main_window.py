"""The main window: three linked panes (A, B, fused), menus, docks, status bar, drag and drop.

Sources are loaded with :func:`pipeline.load_source`, paired on A's grid with
``align_pair`` (warnings go to the status bar), and fused in the background by
:class:`FusionController`.  Errors are shown by :meth:`MainWindow.report_error`
(dialog with the message, the hint and the log file path); the app keeps running.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.fusion.request import (
    FusionParams,
    FusionResult,
)
from textdifuse_desktop.gui import pipeline, strings
from textdifuse_desktop.gui.fusion_controller import FusionController
from textdifuse_desktop.gui.fusion_controls import FusionControlsMixin
from textdifuse_desktop.gui.main_menus import build_menus
from textdifuse_desktop.gui.regions_bridge import RegionsBridge
from textdifuse_desktop.gui.resources import demo_pair
from textdifuse_desktop.gui.view_controls import ViewControlsMixin
from textdifuse_desktop.gui.viewers import display
from textdifuse_desktop.gui.viewers.colormaps import default_colormap
from textdifuse_desktop.gui.viewers.image_pane import ImagePane
from textdifuse_desktop.gui.viewers.linking import ViewLinker
from textdifuse_desktop.gui.widgets import dialogs
from textdifuse_desktop.gui.widgets.display_panel import PANE_KEYS, DisplayPanel
from textdifuse_desktop.gui.widgets.fusion_panel import FusionPanel
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


class MainWindow(FusionControlsMixin, ViewControlsMixin, QtWidgets.QMainWindow):
    """The application window (see the module docstring).

    Attributes
    ----------
    panes:
        ``{"a": ImagePane, "b": ImagePane, "fused": ImagePane}``.
    linker:
        The :class:`ViewLinker` of the three panes (``linker.enabled`` = linked).
    raw:
        Sources as loaded (``{"a": ..., "b": ...}``; Image or video sequence).
    paired:
        Sources on one grid (B resampled onto A), or None until both are loaded.
    result:
        The last :class:`FusionResult`, or None.
    """

    sources_changed = QtCore.Signal()
    fusion_done = QtCore.Signal(object)

    def __init__(self, settings: Any = None, log_file: Path | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(strings.APP_NAME)
        self.setAcceptDrops(True)
        self.resize(1480, 860)
        self.settings = settings
        self.log_file = log_file
        self.raw: dict[str, Any] = {"a": None, "b": None}
        self.paired: tuple[Any, Any] | None = None
        self.result: FusionResult | None = None
        self.pair_warnings: list[str] = []
        self._sources_token = 0
        self.errors_shown: list[BaseException] = []
        self.interactive = True  # False in headless runs (--quit): errors go to stderr, no dialogs

        self.panes = {key: ImagePane(key) for key in PANE_KEYS}
        self.linker = ViewLinker(self)
        self._outer = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self._left = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        for splitter in (self._outer, self._left):
            splitter.setHandleWidth(3)
            splitter.setChildrenCollapsible(False)
        for pane in self.panes.values():
            self.linker.add(pane)
            self._outer.addWidget(pane)
            pane.files_dropped.connect(lambda paths, key=pane.slot: self._on_files_dropped(paths, key))
            pane.slice_changed.connect(self._on_slice_changed)
        self._outer.addWidget(self._left)
        self._left.hide()
        self.setCentralWidget(self._outer)
        self.linker.cursor_changed.connect(self._on_cursor)

        self.fusion_panel = FusionPanel()
        self.display_panel = DisplayPanel()
        self.fusion_dock = self._add_dock(strings.DOCK_FUSION, self.fusion_panel, "fusion")
        self.display_dock = self._add_dock(strings.DOCK_DISPLAY, self.display_panel, "display")
        self.controller = FusionController(self)
        self.regions = RegionsBridge(self)
        if settings is not None:
            self.fusion_panel.set_params(FusionParams(method=getattr(settings, "default_method", "textdifuse"),
                                                      steps=getattr(settings, "default_steps", 2),
                                                      device=getattr(settings, "device", "auto")))

        self.readout = QtWidgets.QLabel("")
        self.readout.setStyleSheet("font-family: monospace; padding-right: 6px;")
        self.statusBar().addPermanentWidget(self.readout)
        self.statusBar().showMessage(strings.STATUS_READY)
        self.play_timer = QtCore.QTimer(self)
        self.play_timer.timeout.connect(self._on_play_tick)
        self.actions = build_menus(self)
        self._connect()

    # ------------------------------------------------------------- construction
    def _add_dock(self, title: str, widget: QtWidgets.QWidget, name: str) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        dock.setMinimumWidth(300)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _connect(self) -> None:
        fp, dp, ctl = self.fusion_panel, self.display_panel, self.controller
        fp.run_requested.connect(self.run_fusion)
        fp.cancel_requested.connect(ctl.cancel)
        ctl.progress.connect(self._on_progress)
        ctl.preview.connect(self._on_preview)
        ctl.finished_result.connect(self._on_result)
        ctl.failed.connect(self.report_error)
        ctl.cancelled.connect(lambda: self.statusBar().showMessage(strings.STATUS_CANCELLED, 5000))
        ctl.running_changed.connect(self._on_running_changed)
        dp.link_toggled.connect(self.set_linked)
        dp.crosshair_toggled.connect(self._on_crosshair_toggled)
        dp.colormap_changed.connect(lambda key, name: self.panes[key].set_colormap(name))
        dp.preset_requested.connect(self.apply_preset)
        dp.overlay_changed.connect(self._update_overlay)
        dp.slice_requested.connect(self.set_slice)
        dp.play_toggled.connect(self._on_play_toggled)

    # ------------------------------------------------------------- loading
    def open_source(self, key: str, path: str | Path, **options: Any) -> bool:
        """Load ``path`` as source ``key`` (``"a"`` or ``"b"``); errors go to a dialog. True on success."""
        try:
            source = pipeline.load_source(path, **options)
        except Exception as error:  # noqa: BLE001 - every failure is shown, the app goes on
            self.report_error(error)
            return False
        self.raw[key] = source
        self._remember(path)
        self.statusBar().showMessage(strings.STATUS_LOADED.format(
            slot=strings.PANE_TITLES[key], name=Path(path).name, desc=pipeline.describe(source)), 8000)
        self._sources_updated()
        return True

    def open_pair(self, path_a: str | Path, path_b: str | Path) -> bool:
        """Load both sources (A first); True when both loaded."""
        return self.open_source("a", path_a) and self.open_source("b", path_b)

    def open_demo(self, name: str = "ir_vis") -> bool:
        """Open the bundled demo pair ``"ir_vis"`` or ``"mri_pet"``."""
        path_a, path_b = demo_pair(name)
        self.raw = {"a": None, "b": None}
        ok = self.open_pair(path_a, path_b)
        if ok and name == "mri_pet":
            self.display_panel.set_colormap("fused", "Grey")
        return ok

    def set_sources(self, a: Any, b: Any) -> None:
        """Show already-loaded sources (Images or video sequences; None leaves a slot empty)."""
        self.raw = {"a": a, "b": b}
        self._sources_updated()

    def _sources_updated(self) -> None:
        self._sources_token += 1
        self.controller.cache.clear()
        self.result = None
        self.paired = None
        self.pair_warnings = []
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

    # ------------------------------------------------------------- export, screenshot, errors
    def show_export_dialog(self) -> None:
        """Open the export dialog (modal)."""
        from textdifuse_desktop.gui.widgets.export_dialog import ExportDialog

        dialog = self.make_export_dialog(ExportDialog)
        dialog.exec()
        dialog.deleteLater()

    def make_export_dialog(self, cls: Any = None) -> Any:
        """Build (not show) the export dialog bound to the current result and regions."""
        from textdifuse_desktop.gui.export_jobs import ExportRequest
        from textdifuse_desktop.gui.widgets.export_dialog import ExportDialog

        def make_request(fmt: str, path: Path, deidentify: bool) -> ExportRequest:
            if fmt != "seg" and self.result is None and not (fmt == "mp4" and self._is_video()):
                from textdifuse_desktop.errors import FeatureUnavailableError

                raise FeatureUnavailableError(strings.NOTHING_TO_EXPORT)
            masks, names = self.regions.masks()
            a, b = (self.paired if self.paired is not None else (self.raw["a"], self.raw["b"]))
            return ExportRequest(fmt, path, fused=self.result.image if self.result else None,
                                 a=self.raw["a"] if not isinstance(a, Image) else a,
                                 b=self.raw["b"] if not isinstance(b, Image) else b,
                                 masks=masks, names=names, deidentify=deidentify,
                                 params=self.result.params if self.result else self.fusion_panel.params(),
                                 plane=self.panes["fused"].current_slice)

        last = getattr(self.settings, "last_export_dir", None)
        dialog = (cls or ExportDialog)(make_request, self.report_error, self,
                                       default_dir=Path(last) if last else Path.home())
        dialog.exported.connect(lambda paths: self.statusBar().showMessage(
            strings.STATUS_EXPORTED.format(count=len(paths), path=paths[0] if paths else ""), 10000))
        return dialog

    def save_screenshot(self, path: str | Path) -> Path:
        """Render the whole window to a PNG (atomic write)."""
        import os

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        QtWidgets.QApplication.processEvents()
        pixmap = self.grab()
        tmp = path.with_name(path.name + ".part.png")
        if not pixmap.save(str(tmp), "PNG"):
            from textdifuse_desktop.errors import WriteError

            raise WriteError("could not save the screenshot", path=path, hint="check the folder is writable")
        os.replace(tmp, path)
        self.statusBar().showMessage(strings.STATUS_SCREENSHOT.format(path=path), 5000)
        return path

    def report_error(self, error: BaseException) -> None:
        """Log ``error`` and show it in a dialog with the log file path."""
        self.errors_shown.append(error)
        log.error("%s", dialogs.error_text(error), exc_info=error if not hasattr(error, "reason") else None)
        self.statusBar().showMessage(dialogs.error_text(error), 15000)
        if self.interactive:
            dialogs.show_error(self, error, self.log_file)
        else:
            import sys

            print(f"error: {dialogs.error_text(error)}", file=sys.stderr)

    def show_about(self) -> None:
        """The About box with the model card."""
        dialog = dialogs.AboutDialog(self, self.log_file)
        dialog.exec()
        dialog.deleteLater()

    # ------------------------------------------------------------- drag and drop, close
    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self._on_files_dropped(paths, None)

    def _on_files_dropped(self, paths: list[str], key: str | None) -> None:
        if len(paths) >= 2:
            self.open_pair(paths[0], paths[1])
        elif key in ("a", "b"):
            self.open_source(key, paths[0])
        else:
            self.open_source("a" if self.raw["a"] is None else "b", paths[0])

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.play_timer.stop()
        self.controller.shutdown()
        if self.preload_worker is not None:
            self.preload_worker.wait(30000)  # a warm-up cannot be interrupted mid-import; it takes a few seconds
        super().closeEvent(event)
