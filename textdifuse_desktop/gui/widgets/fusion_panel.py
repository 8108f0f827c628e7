"""The fusion dock: method, steps, device, rule and seed; Run / Cancel; progress."""

from __future__ import annotations

import logging

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.fusion import request as _request
from textdifuse_desktop.fusion.request import DEVICES, METHODS, RULES, FusionParams
from textdifuse_desktop.gui import strings

log = logging.getLogger(__name__)

#: Progress bar units for 100 %.
PROGRESS_SCALE = 1000


class FusionPanel(QtWidgets.QWidget):
    """Parameter form plus Run/Cancel buttons and a progress bar.

    Signals
    -------
    run_requested(object):
        The :class:`FusionParams` chosen, when Run is pressed.
    cancel_requested():
        Cancel was pressed.
    """

    run_requested = QtCore.Signal(object)
    cancel_requested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.method_combo = QtWidgets.QComboBox()
        for method in METHODS:
            self.method_combo.addItem(strings.METHOD_LABELS.get(method, method), method)
        self.steps_spin = QtWidgets.QSpinBox()
        self.steps_spin.setRange(1, int(getattr(_request, "MAX_STEPS", 250)))
        self.steps_spin.setValue(FusionParams().steps)
        self.steps_spin.setToolTip("DDIM sampling steps: more steps are slower and a little sharper")
        self.rule_combo = QtWidgets.QComboBox()
        for rule in RULES:
            self.rule_combo.addItem(strings.RULE_LABELS.get(rule, rule), rule)
        self.device_combo = QtWidgets.QComboBox()
        for device in DEVICES:
            self.device_combo.addItem(strings.DEVICE_LABELS.get(device, device), device)
        self.seed_spin = QtWidgets.QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.restore_spin = QtWidgets.QDoubleSpinBox()
        self.restore_spin.setRange(*_request.RESTORE_RANGE)
        self.restore_spin.setSingleStep(0.1)
        self.restore_spin.setDecimals(2)
        self.restore_spin.setValue(1.0)
        self.restore_spin.setToolTip("How strongly the model restores the sources (its learned restorer: noise, "
                                     "stripes, impulses and blur; its correction of low contrast, low light and "
                                     "over-exposure): 1 = as shipped, 0 = fuse only")
        self.run_button = QtWidgets.QPushButton("Run fusion")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Fuse source A and source B (Ctrl+R)")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.status_label = QtWidgets.QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet("color: #9aa4b2;")

        form = QtWidgets.QFormLayout()
        form.addRow("Method", self.method_combo)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Fusion rule", self.rule_combo)
        form.addRow("Restoration", self.restore_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Seed", self.seed_spin)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        self.run_button.clicked.connect(lambda: self.run_requested.emit(self.params()))
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self._on_method_changed()

    def params(self) -> FusionParams:
        """The parameters currently chosen."""
        return FusionParams(
            method=self.method_combo.currentData(),
            steps=self.steps_spin.value(),
            rule=self.rule_combo.currentData(),
            device=self.device_combo.currentData(),
            seed=self.seed_spin.value(),
            restore=self.restore_spin.value(),
        )

    def set_params(self, params: FusionParams) -> None:
        """Show ``params`` in the form (e.g. from a session or the settings)."""
        for combo, value in ((self.method_combo, params.method), (self.rule_combo, params.rule),
                             (self.device_combo, str(params.device).split(":")[0])):
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)
        self.steps_spin.setValue(params.steps)
        self.seed_spin.setValue(params.seed)
        self.restore_spin.setValue(params.restore)

    def set_running(self, running: bool, *, succeeded: bool = False) -> None:
        """Switch the buttons between the idle and the running state."""
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first progress report
        else:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if succeeded else 0)

    def set_progress(self, done: int, total: int, message: str = "") -> None:
        """Show ``done / total`` and an optional message."""
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))
        if message:
            self.status_label.setText(message)

    def set_fraction(self, fraction: float, message: str = "") -> None:
        """Show the share of the job done (0..1; the caller keeps it below 1 while the job runs)."""
        self.progress.setRange(0, PROGRESS_SCALE)
        self.progress.setValue(round(min(max(fraction, 0.0), 1.0) * PROGRESS_SCALE))
        if message:
            self.status_label.setText(message)

    def _on_method_changed(self) -> None:
        uses_model = self.method_combo.currentData() == "textdifuse"
        for widget in (self.steps_spin, self.rule_combo, self.restore_spin, self.device_combo,
                       self.seed_spin):
            widget.setEnabled(uses_model)
