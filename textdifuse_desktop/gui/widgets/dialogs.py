"""Small dialogs: the error box (message + what to do + log path) and the About box with the model card."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop import __version__
from textdifuse_desktop.errors import TextDifuseError
from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.resources import model_card_path

log = logging.getLogger(__name__)


def error_text(error: BaseException) -> str:
    """The user-facing text of ``error``: TextDifuseError messages as they are, others wrapped."""
    if isinstance(error, TextDifuseError):
        return str(error)
    if isinstance(error, MemoryError):
        return "Out of memory. Try a smaller image, fewer slices, or the CPU device."
    return strings.UNEXPECTED_ERROR.format(error=f"{type(error).__name__}: {error}")


def show_error(parent: QtWidgets.QWidget | None, error: BaseException, log_file: Path | str | None) -> None:
    """Modal error dialog with the message, the hint and the log file path; never raises."""
    text = error_text(error)
    informative = strings.ERROR_LOG_NOTE.format(log=log_file) if log_file else ""
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
    box.setWindowTitle(strings.ERROR_TITLE)
    box.setText(text)
    box.setInformativeText(informative)
    box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.exec()
    box.deleteLater()


def load_model_card(path: Path | None = None) -> dict | None:
    """The model card as a dict, or None when missing or unreadable."""
    path = path or model_card_path()
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.warning("cannot read model card %s: %s", path, error)
        return None


def model_card_html(card: dict | None, path: Path) -> str:
    """An HTML table of the model card's fields (nested values shown as compact JSON)."""
    if card is None:
        return f"<p><i>{html.escape(strings.ABOUT_NO_CARD.format(path=path))}</i></p>"
    rows = []
    for key, value in card.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > 400:
            text = text[:400] + "\u2026"
        rows.append(f"<tr><td valign='top'><b>{html.escape(str(key))}</b></td><td>{html.escape(text)}</td></tr>")
    return f"<p><b>Model card</b> ({html.escape(str(path))})</p><table cellspacing='4'>{''.join(rows)}</table>"


class AboutDialog(QtWidgets.QDialog):
    """Version, short description and the full model card of the shipped model."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, log_file: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle(strings.ACTION_ABOUT.replace("&", ""))
        self.resize(640, 520)
        path = model_card_path()
        self.card = load_model_card(path)
        browser = QtWidgets.QTextBrowser()
        browser.setOpenExternalLinks(True)
        extra = f"<p>Log file: {html.escape(str(log_file))}</p>" if log_file else ""
        browser.setHtml(strings.ABOUT_TEXT.format(version=__version__) + extra + model_card_html(self.card, path))
        self.browser = browser
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(browser)
        layout.addWidget(buttons)
