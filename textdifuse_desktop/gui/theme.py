"""Dark workstation look: Fusion style, a dark palette and a small style sheet from resources/."""

from __future__ import annotations

import logging

from PySide6 import QtGui, QtWidgets

from textdifuse_desktop.gui.resources import resource_path

log = logging.getLogger(__name__)

_COLOURS = {
    QtGui.QPalette.ColorRole.Window: "#262a31",
    QtGui.QPalette.ColorRole.WindowText: "#d8dee9",
    QtGui.QPalette.ColorRole.Base: "#1b1e23",
    QtGui.QPalette.ColorRole.AlternateBase: "#2b3038",
    QtGui.QPalette.ColorRole.ToolTipBase: "#2e3440",
    QtGui.QPalette.ColorRole.ToolTipText: "#e5e9f0",
    QtGui.QPalette.ColorRole.Text: "#e5e9f0",
    QtGui.QPalette.ColorRole.Button: "#2f343d",
    QtGui.QPalette.ColorRole.ButtonText: "#e5e9f0",
    QtGui.QPalette.ColorRole.BrightText: "#ff6e6e",
    QtGui.QPalette.ColorRole.Highlight: "#3d7bd9",
    QtGui.QPalette.ColorRole.HighlightedText: "#ffffff",
    QtGui.QPalette.ColorRole.Link: "#88c0d0",
    QtGui.QPalette.ColorRole.PlaceholderText: "#7b8494",
}


def apply_theme(app: QtWidgets.QApplication) -> None:
    """Fusion style with a dark palette, plus ``resources/style/app.qss`` when present."""
    app.setStyle("Fusion")
    palette = QtGui.QPalette()
    for role, colour in _COLOURS.items():
        palette.setColor(role, QtGui.QColor(colour))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for role in (QtGui.QPalette.ColorRole.Text, QtGui.QPalette.ColorRole.ButtonText,
                 QtGui.QPalette.ColorRole.WindowText):
        palette.setColor(disabled, role, QtGui.QColor("#6b7280"))
    app.setPalette(palette)
    qss = resource_path("style", "app.qss")
    if qss.is_file():
        try:
            app.setStyleSheet(qss.read_text(encoding="utf-8"))
        except OSError as error:
            log.warning("could not read style sheet %s: %s", qss, error)
