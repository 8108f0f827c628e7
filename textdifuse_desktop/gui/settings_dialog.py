"""Preferences dialog for :class:`~textdifuse_desktop.config.AppSettings`.

``SettingsDialog(settings, parent).exec()``: on OK the given settings object
is updated in place, saved with :func:`~textdifuse_desktop.config.save_settings`
(unless ``save=False``) and ``settings_changed(settings)`` is emitted, so the
main window can, e.g., enable the regions panel's prompt box.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.config import (
    DEVICES,
    METHODS,
    AppSettings,
    default_log_dir,
    save_settings,
)

log = logging.getLogger(__name__)

_CLIP_FILTER = "CLIP checkpoints (*.safetensors *.bin *.pt *.pth);;All files (*)"
_METHOD_LABELS = {"textdifuse": "Text-DiFuse (diffusion model)", "max": "Maximum", "mean": "Mean",
                  "laplacian": "Laplacian pyramid", "guided": "Guided filter"}
_DEVICE_LABELS = {"auto": "Automatic (GPU when available)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
                  "mps": "Apple GPU (MPS)"}


class SettingsDialog(QtWidgets.QDialog):
    """Edit device, default method and steps, CLIP checkpoint and log folder."""

    settings_changed = QtCore.Signal(object)

    def __init__(self, settings: AppSettings | None = None, parent: QtWidgets.QWidget | None = None, *,
                 save: bool = True):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings if settings is not None else AppSettings()
        self._save = save

        self.device_combo = QtWidgets.QComboBox()
        for key in DEVICES:
            self.device_combo.addItem(_DEVICE_LABELS[key], key)
        self.method_combo = QtWidgets.QComboBox()
        for key in METHODS:
            self.method_combo.addItem(_METHOD_LABELS.get(key, key), key)
        self.steps_spin = QtWidgets.QSpinBox()
        self.steps_spin.setRange(1, 1000)
        self.steps_spin.setToolTip("DDIM sampling steps of new fusions (more = slower, rarely better past ~10)")
        self.clip_edit = QtWidgets.QLineEdit()
        self.clip_edit.setPlaceholderText("none: text prompts are off")
        self.clip_edit.setToolTip("An open_clip checkpoint file; it enables the text prompt in the Regions panel")
        self.clip_button = QtWidgets.QPushButton("Browse\u2026")
        self.clip_button.clicked.connect(self._browse_clip)
        self.clip_status = QtWidgets.QLabel()
        self.clip_status.setWordWrap(True)
        self.clip_edit.textChanged.connect(self._update_clip_status)
        self.log_edit = QtWidgets.QLineEdit()
        self.log_edit.setPlaceholderText(str(_default_log_dir()))
        self.log_button = QtWidgets.QPushButton("Browse\u2026")
        self.log_button.clicked.connect(self._browse_log_dir)

        form = QtWidgets.QFormLayout()
        form.addRow("Compute device", self.device_combo)
        form.addRow("Default method", self.method_combo)
        form.addRow("Default steps", self.steps_spin)
        clip_row = QtWidgets.QHBoxLayout()
        clip_row.addWidget(self.clip_edit, 1)
        clip_row.addWidget(self.clip_button)
        form.addRow("CLIP checkpoint", clip_row)
        form.addRow("", self.clip_status)
        log_row = QtWidgets.QHBoxLayout()
        log_row.addWidget(self.log_edit, 1)
        log_row.addWidget(self.log_button)
        form.addRow("Log folder", log_row)

        self.buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                                  | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._load(self._settings)

    # ------------------------------------------------------------- values
    def _load(self, settings: AppSettings) -> None:
        device = settings.device.split(":")[0]
        self.device_combo.setCurrentIndex(max(self.device_combo.findData(device), 0))
        self.method_combo.setCurrentIndex(max(self.method_combo.findData(settings.default_method), 0))
        self.steps_spin.setValue(int(settings.default_steps))
        self.clip_edit.setText(settings.clip_checkpoint or "")
        self.log_edit.setText(settings.log_dir or "")
        self._update_clip_status()

    def values(self) -> dict[str, Any]:
        """The edited values, as AppSettings field names."""
        device = self.device_combo.currentData()
        if device == "cuda" and self._settings.device.startswith("cuda:"):
            device = self._settings.device  # keep an explicit GPU index set elsewhere
        return {
            "device": device,
            "default_method": self.method_combo.currentData(),
            "default_steps": self.steps_spin.value(),
            "clip_checkpoint": self.clip_edit.text().strip() or None,
            "log_dir": self.log_edit.text().strip() or None,
        }

    @property
    def settings(self) -> AppSettings:
        """The settings object edited (updated on OK)."""
        return self._settings

    def accept(self) -> None:
        """Apply, save and close; a save failure is shown and the dialog stays open."""
        for name, value in self.values().items():
            setattr(self._settings, name, value)
        if self._save:
            try:
                save_settings(self._settings)
            except Exception as error:  # noqa: BLE001 - WriteError or other OSError: tell, keep the dialog
                log.warning("settings not saved: %s", error)
                QtWidgets.QMessageBox.warning(self, "Settings not saved", str(error))
                return
        self.settings_changed.emit(self._settings)
        super().accept()

    # ------------------------------------------------------------- slots
    def _update_clip_status(self) -> None:
        text = self.clip_edit.text().strip()
        if not text:
            self.clip_status.setText("Text prompts are off until a checkpoint is chosen.")
        elif Path(text).is_file():
            self.clip_status.setText("Text prompts will use this checkpoint.")
        else:
            self.clip_status.setText("\u26a0 This file does not exist; text prompts stay off.")

    def _browse_clip(self) -> None:
        start = self.clip_edit.text().strip() or str(Path.home())
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a CLIP checkpoint", start, _CLIP_FILTER)
        if path:
            self.clip_edit.setText(path)

    def _browse_log_dir(self) -> None:
        start = self.log_edit.text().strip() or str(_default_log_dir())
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Choose the log folder", start)
        if path:
            self.log_edit.setText(path)


def _default_log_dir() -> Path:
    return Path(default_log_dir())


def edit_settings(settings: AppSettings, parent: QtWidgets.QWidget | None = None) -> bool:
    """Show the dialog modally; True when the user pressed OK (settings updated and saved)."""
    dialog = SettingsDialog(settings, parent)
    try:
        return dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted
    finally:
        dialog.deleteLater()
