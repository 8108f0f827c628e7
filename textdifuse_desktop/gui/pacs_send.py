"""File > Send to PACS…: export the fused result (derived series / Secondary Capture) or the regions
(DICOM SEG) with the app's own writers, then C-STORE or STOW-RS it with one status per instance.

The export goes to a new folder of the PACS cache (``outbox``) and is kept
whatever happens: a failed or cancelled send deletes nothing.  Export and
send run in a worker thread; Cancel aborts the association.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from pathlib import Path
from typing import Any

from PySide6 import QtWidgets

from textdifuse_desktop.errors import FeatureUnavailableError, FusionCancelled
from textdifuse_desktop.gui import pacs_strings as texts
from textdifuse_desktop.gui.pacs_widgets import NodePicker
from textdifuse_desktop.gui.workers import create_worker
from textdifuse_desktop.net import cache, service
from textdifuse_desktop.net.transfer import TransferProgress

log = logging.getLogger(__name__)


def export_request(window: Any, kind: str, path: Path, deidentify: bool) -> Any:
    """The ExportRequest of the window's current result (the whole series: no plane is picked)."""
    if kind == "dicom" and window.result is None:
        raise FeatureUnavailableError(texts.NOTHING_TO_SEND)
    if kind == "seg" and not window.regions.masks()[0]:
        raise FeatureUnavailableError(texts.NOTHING_TO_SEND)
    return window.export_request(kind, path, deidentify)


def send_job(window: Any, node: Any, kind: str, deidentify: bool,
             cancel: Any) -> Generator[TransferProgress, None, tuple[Path, list[Any]]]:
    """Export into a new outbox folder, then send every file; returns ``(folder, statuses)``."""
    from textdifuse_desktop.gui.export_jobs import export_job

    partial, final = cache.new_folder("outbox", "fused" if kind == "dicom" else "seg")
    target = partial / ("fused" if kind == "dicom" else "regions_seg.dcm")
    try:
        request = export_request(window, kind, target, deidentify)
        yield TransferProgress(0, 0, texts.EXPORTING)
        for _ in export_job(request, cancel):
            yield TransferProgress(0, 0, texts.EXPORTING)
        cache.publish(partial, final)
    except BaseException:
        cache.discard(partial)
        raise
    files = service.expand_paths([final])
    statuses = yield from service.send_files(node, files, cancel=cancel)
    return final, statuses


class SendDialog(QtWidgets.QDialog):
    """Node, what to send, de-identification, Send / Cancel, progress and a per-instance status table."""

    def __init__(self, window: Any):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle(texts.SEND_TITLE)
        self.resize(760, 460)
        self._worker: Any = None
        self.folder: Path | None = None
        self.statuses: list[Any] = []
        self.nodes = NodePicker(self, window.report_error)
        self.kind = QtWidgets.QComboBox()
        self.kind.addItem(texts.KIND_DERIVED, "dicom")
        self.kind.addItem(texts.KIND_SEG, "seg")
        self.deidentify = QtWidgets.QCheckBox("De-identify (basic profile)")
        self.table = QtWidgets.QTableWidget(0, len(texts.SEND_HEADERS))
        self.table.setHorizontalHeaderLabels(list(texts.SEND_HEADERS))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.send_button, self.cancel_button = QtWidgets.QPushButton("Send"), QtWidgets.QPushButton("Cancel")
        close = QtWidgets.QPushButton("Close")
        self.send_button.clicked.connect(self.send)
        self.cancel_button.clicked.connect(self.cancel)
        close.clicked.connect(self.close)
        self.cancel_button.setEnabled(False)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.send_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.nodes)
        layout.addWidget(self.kind)
        layout.addWidget(self.deidentify)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        window.installEventFilter(self)  # the main window closing stops our thread first

    def eventFilter(self, watched: Any, event: Any) -> bool:
        from PySide6 import QtCore

        if watched is self.window_ and event.type() == QtCore.QEvent.Type.Close:
            self.cancel()
            self.wait(10000)
            self.nodes.wait()
        return False

    def send(self) -> None:
        """Export and send in a worker thread."""
        node = self.nodes.current()
        if node is None:
            self.status.setText(texts.NO_NODES)
            return
        kind, deidentify = self.kind.currentData(), self.deidentify.isChecked()
        self.table.setRowCount(0)
        self.statuses = []
        self.progress.setRange(0, 0)
        self.send_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._worker = create_worker(lambda cancel: send_job(self.window_, node, kind, deidentify, cancel),
                                     on_yield=self._progress, on_return=self._done, on_error=self._failed,
                                     on_finish=self._finished)

    def _progress(self, progress: TransferProgress) -> None:
        self.status.setText(progress.message)
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        if progress.item is not None:
            self._add_row(progress.item)

    def _add_row(self, status: Any) -> None:
        self.statuses.append(status)
        row = self.table.rowCount()
        self.table.insertRow(row)
        text = "stored" if status.ok else f"FAILED 0x{status.status:04X} {status.detail}".rstrip()
        for column, value in enumerate((status.path.name, status.sop_instance_uid, text)):
            self.table.setItem(row, column, QtWidgets.QTableWidgetItem(value))
        self.table.resizeColumnsToContents()

    def _done(self, result: tuple[Path, list[Any]]) -> None:
        self.folder, statuses = result
        node = self.nodes.current()
        error = service.failures_error(node, statuses) if node is not None else None
        if error is None:
            self.status.setText(texts.SENT.format(count=len(statuses), node=node.describe() if node else "",
                                                  folder=self.folder))
        else:
            self.status.setText(texts.SEND_FAILED.format(failed=sum(not s.ok for s in statuses),
                                                         count=len(statuses), folder=self.folder))
            self.window_.report_error(error)

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, FusionCancelled):
            self.status.setText(texts.SEND_CANCELLED.format(folder=cache.cache_dir() / "outbox"))
            return
        self.status.setText(texts.TEST_FAILED.format(error=error))
        self.window_.report_error(error)

    def _finished(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait(5000)  # its QThread must have stopped before the last reference goes
        self.progress.setRange(0, 1)
        self.send_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def cancel(self) -> None:
        """Stop the export or abort the association."""
        if self._worker is not None:
            self._worker.quit()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the running send ended (tests, close)."""
        return self._worker is None or self._worker.wait(msecs)

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        self.wait(10000)
        self.nodes.wait()
        super().closeEvent(event)


def open_send_dialog(window: Any) -> SendDialog:
    """Show the send dialog (non-modal); one per window."""
    dialog = getattr(window, "_pacs_send_dialog", None)
    if dialog is None:
        dialog = SendDialog(window)
        window._pacs_send_dialog = dialog
    dialog.nodes.reload()
    dialog.show()
    dialog.raise_()
    return dialog
