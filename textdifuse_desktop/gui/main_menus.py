"""Menus and keyboard shortcuts of the main window (File, View, Fusion, Help)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtGui, QtWidgets

from textdifuse_desktop.gui import strings

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)


class MenuActions:
    """The actions other code needs to reach (enable/disable, check), plus the recent-files menu."""

    def __init__(self, window: MainWindow):
        self.window = window
        self.run: QtGui.QAction
        self.cancel: QtGui.QAction
        self.link: QtGui.QAction
        self.export: QtGui.QAction
        self.demo_ir_vis: QtGui.QAction
        self.demo_mri_pet: QtGui.QAction
        self.recent_menu: QtWidgets.QMenu

    def refresh_recent(self) -> None:
        """Rebuild File > Open recent from the settings."""
        menu = self.recent_menu
        menu.clear()
        recent = list(getattr(self.window.settings, "recent_files", []) or [])
        if not recent:
            action = menu.addAction(strings.ACTION_RECENT_EMPTY)
            action.setEnabled(False)
            return
        for index, path in enumerate(recent):
            action = menu.addAction(f"&{index + 1}  {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _c=False, p=path: self._open_recent(p))

    def _open_recent(self, path: str) -> None:
        # Fill B when only A is loaded, otherwise (re)start with A.
        window = self.window
        key = "b" if window.raw["a"] is not None and window.raw["b"] is None else "a"
        window.open_source(key, path)


def _action(window: QtWidgets.QWidget, menu: QtWidgets.QMenu, text: str, slot: object,
            shortcut: str | QtGui.QKeySequence.StandardKey | None = None, checkable: bool = False) -> QtGui.QAction:
    action = QtGui.QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QtGui.QKeySequence(shortcut))
    action.setCheckable(checkable)
    action.triggered.connect(slot)  # type: ignore[arg-type]
    menu.addAction(action)
    return action


def build_menus(window: MainWindow) -> MenuActions:
    """Create the menu bar of ``window`` and return the actions it needs later."""
    actions = MenuActions(window)
    bar = window.menuBar()

    file_menu = bar.addMenu(strings.MENU_FILE)
    _action(window, file_menu, strings.ACTION_OPEN_A, lambda: _ask_open(window, "a"), "Ctrl+O")
    _action(window, file_menu, strings.ACTION_OPEN_B, lambda: _ask_open(window, "b"), "Ctrl+Shift+O")
    _action(window, file_menu, strings.ACTION_OPEN_A_FOLDER, lambda: _ask_open(window, "a", folder=True))
    _action(window, file_menu, strings.ACTION_OPEN_B_FOLDER, lambda: _ask_open(window, "b", folder=True))
    actions.recent_menu = file_menu.addMenu(strings.ACTION_RECENT)
    file_menu.addSeparator()
    from textdifuse_desktop.gui import session_actions

    if session_actions.available():
        _action(window, file_menu, strings.ACTION_OPEN_SESSION, lambda: session_actions.open_session(window))
        _action(window, file_menu, strings.ACTION_SAVE_SESSION, lambda: session_actions.save_session_as(window),
                QtGui.QKeySequence.StandardKey.Save)
        file_menu.addSeparator()
    actions.export = _action(window, file_menu, strings.ACTION_EXPORT, window.show_export_dialog, "Ctrl+E")
    _add_pacs_actions(window, file_menu)
    _action(window, file_menu, strings.ACTION_SCREENSHOT, lambda: _ask_screenshot(window))
    if _settings_dialog_available():
        _action(window, file_menu, strings.ACTION_SETTINGS, lambda: _open_settings(window))
    file_menu.addSeparator()
    _action(window, file_menu, strings.ACTION_QUIT, window.close, QtGui.QKeySequence.StandardKey.Quit)

    view_menu = bar.addMenu(strings.MENU_VIEW)
    actions.link = _action(window, view_menu, strings.ACTION_LINK, window.set_linked, "Ctrl+L", checkable=True)
    actions.link.setChecked(True)
    _action(window, view_menu, strings.ACTION_RESET_VIEW, window.reset_view, "Ctrl+0")
    view_menu.addSeparator()
    view_menu.addAction(window.fusion_dock.toggleViewAction())
    view_menu.addAction(window.display_dock.toggleViewAction())
    if window.regions.dock is not None:
        view_menu.addAction(window.regions.dock.toggleViewAction())

    fusion_menu = bar.addMenu(strings.MENU_FUSION)
    actions.run = _action(window, fusion_menu, strings.ACTION_RUN, lambda: window.run_fusion(), "Ctrl+R")
    actions.cancel = _action(window, fusion_menu, strings.ACTION_CANCEL, window.cancel_fusion, "Esc")
    actions.cancel.setEnabled(False)

    help_menu = bar.addMenu(strings.MENU_HELP)
    actions.demo_ir_vis = _action(window, help_menu, strings.ACTION_DEMO_IRVIS, lambda: window.open_demo("ir_vis"))
    actions.demo_mri_pet = _action(window, help_menu, strings.ACTION_DEMO_MRIPET, lambda: window.open_demo("mri_pet"))
    help_menu.addSeparator()
    _action(window, help_menu, strings.ACTION_ABOUT, window.show_about)
    actions.refresh_recent()
    return actions


def _ask_open(window: MainWindow, key: str, folder: bool = False) -> None:
    start = str(Path(window.settings.recent_files[0]).parent) if getattr(window.settings, "recent_files", None) else ""
    if folder:
        path = QtWidgets.QFileDialog.getExistingDirectory(window, strings.PANE_TITLES[key], start)
    else:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(window, strings.PANE_TITLES[key], start, strings.FILE_FILTER)
    if path:
        window.open_source(key, path)


def _ask_screenshot(window: MainWindow) -> None:
    path, _ = QtWidgets.QFileDialog.getSaveFileName(window, strings.ACTION_SCREENSHOT.replace("&", ""),
                                                    "textdifuse-screenshot.png", "PNG (*.png)")
    if path:
        try:
            window.save_screenshot(path)
        except Exception as error:  # noqa: BLE001
            window.report_error(error)


def _add_pacs_actions(window: MainWindow, menu: QtWidgets.QMenu) -> None:
    """File > Open from PACS… and Send to PACS… (gui/pacs_dialog.py, gui/pacs_send.py)."""
    from textdifuse_desktop.gui import pacs_strings

    def run(module: str, function: str) -> None:
        import importlib

        try:
            getattr(importlib.import_module(f"textdifuse_desktop.gui.{module}"), function)(window)
        except Exception as error:  # noqa: BLE001 - e.g. a broken node file: a dialog, the app goes on
            window.report_error(error)

    menu.addSeparator()
    _action(window, menu, pacs_strings.ACTION_OPEN_PACS, lambda: run("pacs_dialog", "open_pacs_dialog"))
    _action(window, menu, pacs_strings.ACTION_SEND_PACS, lambda: run("pacs_send", "open_send_dialog"))
    menu.addSeparator()


def _settings_dialog_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("textdifuse_desktop.gui.settings_dialog") is not None


def _open_settings(window: MainWindow) -> None:
    from textdifuse_desktop.gui import settings_dialog

    cls = getattr(settings_dialog, "SettingsDialog", None)
    if cls is None:
        return
    try:
        dialog = cls(window.settings, window)
        dialog.exec()
        dialog.deleteLater()
        window.regions.refresh_settings()
    except Exception as error:  # noqa: BLE001 - a settings problem must not close the app
        window.report_error(error)
