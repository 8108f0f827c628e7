"""The main window: three linked panes (A, B, fused), menus, docks, status bar, drag and drop.

Sources are loaded with :func:`pipeline.load_source`, paired on A's grid with
``align_pair`` (warnings go to the status bar; see :mod:`gui.source_loading`), and fused in the background by
:class:`FusionController` (see :mod:`gui.fusion_controls`).  Errors are shown by :meth:`MainWindow.report_error`
(dialog with the message, the hint and the log file path); the app keeps running.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.config import DEFAULT_STEPS
from textdifuse_desktop.fusion.request import (
    FusionParams,
    FusionResult,
)
from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.fusion_controller import FusionController
from textdifuse_desktop.gui.fusion_controls import FusionControlsMixin
from textdifuse_desktop.gui.main_menus import build_menus
from textdifuse_desktop.gui.regions_bridge import RegionsBridge
from textdifuse_desktop.gui.source_loading import SourceLoadingMixin
from textdifuse_desktop.gui.view_controls import ViewControlsMixin
from textdifuse_desktop.gui.viewers.image_pane import ImagePane
from textdifuse_desktop.gui.viewers.linking import ViewLinker
from textdifuse_desktop.gui.widgets import dialogs
from textdifuse_desktop.gui.widgets.display_panel import PANE_KEYS, DisplayPanel
from textdifuse_desktop.gui.widgets.fusion_panel import FusionPanel
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


class MainWindow(SourceLoadingMixin, FusionControlsMixin, ViewControlsMixin, QtWidgets.QMainWindow):
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
        self._patients_confirmed: int | None = None  # sources token of a pair the user chose to fuse anyway
        self.allow_different_patients = False  # --allow-different-patients: never ask
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
        self.fusion_dock = self.add_dock(strings.DOCK_FUSION, self.fusion_panel, "fusion")
        self.display_dock = self.add_dock(strings.DOCK_DISPLAY, self.display_panel, "display")
        self.controller = FusionController(self)
        self.regions = RegionsBridge(self)
        if settings is not None:
            self.fusion_panel.set_params(FusionParams(method=getattr(settings, "default_method", "textdifuse"),
                                                      steps=getattr(settings, "default_steps", DEFAULT_STEPS),
                                                      device=getattr(settings, "device", "auto")))

        self.readout = QtWidgets.QLabel("")
        self.readout.setStyleSheet("font-family: monospace; padding-right: 6px;")
        self.statusBar().addPermanentWidget(self.readout)
        self.statusBar().showMessage(strings.STATUS_READY)
        self.play_timer = QtCore.QTimer(self)
        self.play_timer.timeout.connect(self._on_play_tick)
        self.actions = build_menus(self)
        self._connect()
        from textdifuse_desktop.gui.planes_controls import PlanesController

        self.planes = PlanesController(self)  # volumes in axial, coronal and sagittal planes, one world crosshair
        from textdifuse_desktop.gui.undo_controls import UndoController

        self.undo_controls = UndoController(self)  # Edit > Undo/Redo of view, parameter and region changes

    # ------------------------------------------------------------- construction
    def add_dock(self, title: str, widget: QtWidgets.QWidget, name: str) -> QtWidgets.QDockWidget:
        """A right-hand dock ``dock_<name>`` holding ``widget`` in a scroll area (for short windows)."""
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
        ctl.cancelled.connect(self._on_cancelled)
        ctl.running_changed.connect(self._on_running_changed)
        dp.link_toggled.connect(self.set_linked)
        dp.crosshair_toggled.connect(self._on_crosshair_toggled)
        dp.colormap_changed.connect(lambda key, name: self.panes[key].set_colormap(name))
        dp.preset_requested.connect(self.apply_preset)
        dp.overlay_changed.connect(self._update_overlay)
        dp.slice_requested.connect(self.set_slice)
        dp.play_toggled.connect(self._on_play_toggled)

    # ------------------------------------------------------------- export, screenshot, errors
    def show_export_dialog(self) -> None:
        """Open the export dialog (modal)."""
        from textdifuse_desktop.gui.widgets.export_dialog import ExportDialog

        dialog = self.make_export_dialog(ExportDialog)
        dialog.exec()
        dialog.deleteLater()

    def make_export_dialog(self, cls: Any = None) -> Any:
        """Build (not show) the export dialog bound to the current result and regions."""
        from textdifuse_desktop.gui.widgets.export_dialog import ExportDialog

        def make_request(fmt: str, path: Path, deidentify: bool) -> Any:
            if fmt != "seg" and self.result is None and not (fmt == "mp4" and self._is_video()):
                from textdifuse_desktop.errors import FeatureUnavailableError

                raise FeatureUnavailableError(strings.NOTHING_TO_EXPORT)
            return self.export_request(fmt, path, deidentify, plane=self.panes["fused"].current_slice)

        last = getattr(self.settings, "last_export_dir", None)
        dialog = (cls or ExportDialog)(make_request, self.report_error, self,
                                       default_dir=Path(last) if last else Path.home())
        dialog.exported.connect(lambda paths: self.statusBar().showMessage(
            strings.STATUS_EXPORTED.format(count=len(paths), path=paths[0] if paths else ""), 10000))
        return dialog

    def export_request(self, fmt: str, path: Path, deidentify: bool, plane: int | None = None) -> Any:
        """The ExportRequest of the current result, sources and regions (File > Export and Send to PACS)."""
        from textdifuse_desktop.gui.export_jobs import ExportRequest

        masks, names = self.regions.masks()
        a, b = (self.paired if self.paired is not None else (self.raw["a"], self.raw["b"]))
        return ExportRequest(fmt, path, fused=self.result.image if self.result else None,
                             a=self.raw["a"] if not isinstance(a, Image) else a,
                             b=self.raw["b"] if not isinstance(b, Image) else b,
                             masks=masks, names=names, deidentify=deidentify,
                             params=self.result.params if self.result else self.fusion_panel.params(),
                             plane=plane, anonymous=self._mixed_patients())

    def _mixed_patients(self) -> bool:
        """True when the sources as loaded name different patients (an export must then carry neither)."""
        a, b = self.raw["a"], self.raw["b"]
        if not isinstance(a, Image) or not isinstance(b, Image):
            return False
        from textdifuse_desktop.io.patient_identity import mixed_patient_output

        return mixed_patient_output(a, b)

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
        # Marked as shown to the user, so the console log does not print it a second time (gui.app).
        log.error("%s", dialogs.error_text(error), exc_info=error if not hasattr(error, "reason") else None,
                  extra={"shown_to_user": True})
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

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.play_timer.stop()
        self.controller.shutdown()
        self.regions.actions.shutdown()
        if self.preload_worker is not None:
            self.preload_worker.wait(30000)  # a warm-up cannot be interrupted mid-import; it takes a few seconds
        super().closeEvent(event)
