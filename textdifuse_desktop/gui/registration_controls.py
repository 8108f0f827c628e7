"""Fusion > Register B to A (rigid): mutual-information registration in the background, with progress and cancel.

The transform found (``imaging.registration.RigidResult``) is applied to source B's affine (no resampling
until B is paired with A again), shown to the user in degrees and millimetres, kept in B's
``meta["registration"]`` and saved in sessions (``SessionDocument.registration``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.errors import FeatureUnavailableError, FusionCancelled
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

ACTION_REGISTER = "Register B to A (rigid)\u2026"
TITLE = "Rigid registration"
NEED_VOLUMES = "Rigid registration needs two volumes: open a volume as A and one as B."
RUNNING = "Registering B to A (mutual information)\u2026"
DONE = "B registered to A: {summary}"
CANCELLED = "Registration cancelled; B is unchanged."


class RegistrationControls(QtCore.QObject):
    """The menu action, the worker and the progress dialog of a rigid registration of B to A."""

    def __init__(self, window: Any, menu: QtWidgets.QMenu | None):
        super().__init__(window)
        self.window = window
        self.action = QtGui.QAction(ACTION_REGISTER, window)
        self.action.setObjectName("action_register_rigid")
        self.action.setToolTip("Find the rotation and translation that align B with A (SimpleITK, Mattes MI)")
        self.action.triggered.connect(lambda: self.start())
        if menu is not None:
            menu.addSeparator()
            menu.addAction(self.action)
        self.worker: Any = None
        self.progress_dialog: QtWidgets.QProgressDialog | None = None
        self.last_summary = ""

    @property
    def is_running(self) -> bool:
        """True while a registration runs."""
        return self.worker is not None

    def start(self, iterations: int = 200) -> bool:
        """Register the current B to the current A in the background; False (message shown) when it cannot."""
        a, b = self.window.raw.get("a"), self.window.raw.get("b")
        if self.is_running:
            return False
        if not (isinstance(a, Image) and isinstance(b, Image) and a.is_volume and b.is_volume):
            self.window.report_error(FeatureUnavailableError(NEED_VOLUMES))
            return False
        from textdifuse_desktop.gui.workers import create_worker
        from textdifuse_desktop.imaging.registration import iter_register_rigid

        moving = b

        def job(cancel: Any) -> Any:
            return (yield from iter_register_rigid(a, moving, cancel, iterations=iterations))

        dialog = QtWidgets.QProgressDialog(RUNNING, "Cancel", 0, 1000, self.window)
        dialog.setWindowTitle(TITLE)
        dialog.setWindowModality(QtCore.Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(self.cancel)
        self.progress_dialog = dialog
        self.window.statusBar().showMessage(RUNNING)
        self.worker = create_worker(job, on_yield=self._on_progress, on_return=lambda result: self._on_done(moving, result),
                                    on_error=self._on_error, on_finish=self._on_finish)
        dialog.show()
        return True

    def cancel(self) -> None:
        """Stop the running registration at its next optimiser iteration; B stays as it was."""
        if self.worker is not None:
            self.worker.quit()

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Process events until the registration ends (tests, headless use)."""
        deadline = QtCore.QDeadlineTimer(timeout_ms)
        while self.is_running and not deadline.hasExpired():
            QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
        return not self.is_running

    # ------------------------------------------------------------- worker reports (GUI thread)
    def _on_progress(self, report: Any) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setValue(int(report.fraction * 999))
            self.progress_dialog.setLabelText(
                f"{RUNNING}\nlevel {report.level + 1}/{report.levels}, iteration {report.iteration}, "
                f"metric {report.metric:.4f}")

    def _on_done(self, moving: Image, result: Any) -> None:
        if self.window.raw.get("b") is not moving:
            log.info("dropping a registration of a B that has been replaced meanwhile")
            return
        apply_registration(self.window, result)
        self.last_summary = DONE.format(summary=result.summary())
        self.window.statusBar().showMessage(self.last_summary)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, TITLE, self.last_summary,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self.window)
        box.setInformativeText(f"Mattes mutual information {result.metric:.4f} after {result.iterations} "
                               "iterations. The transform is saved with the session.")
        box.exec()

    def _on_error(self, error: BaseException) -> None:
        if isinstance(error, FusionCancelled):
            self.window.statusBar().showMessage(CANCELLED, 8000)
            return
        self.window.report_error(error)

    def _on_finish(self) -> None:
        self.worker = None
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel)
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None


def apply_registration(window: Any, result: Any) -> None:
    """Put the transform on source B (affine only) and pair B with A again."""
    from textdifuse_desktop.imaging.registration import RigidResult, apply_rigid

    previous = registration_record(window)
    registered = apply_rigid(window.raw["b"], result)
    if previous is not None:  # B was registered before: the record holds the whole map from the file's B
        result = RigidResult(np.asarray(previous["matrix"]) @ result.matrix, result.metric, result.iterations)
    registered.meta["registration"] = result.to_dict()
    window.raw["b"] = registered
    window._sources_updated()


def registration_record(window: Any) -> dict[str, Any] | None:
    """The registration of the current B (``RigidResult.to_dict()``), or None."""
    source = window.raw.get("b")
    record = source.meta.get("registration") if isinstance(source, Image) else None
    return dict(record) if isinstance(record, dict) and "matrix" in record else None


def restore_registration(window: Any, record: dict[str, Any] | None) -> None:
    """Re-apply a session's saved registration to the freshly read B (errors are shown, B stays as read)."""
    if not record:
        return
    from textdifuse_desktop.imaging.registration import RigidResult

    try:
        apply_registration(window, RigidResult.from_dict(record))
    except Exception as error:  # noqa: BLE001 - shown to the user; the session stays open
        window.report_error(error)
