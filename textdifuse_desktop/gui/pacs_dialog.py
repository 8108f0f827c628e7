"""File > Open from PACS…: query a node, pick a study and a series, retrieve it into source A or B.

Every network call runs in a worker thread (:func:`gui.workers.create_worker`);
the window stays responsive.  Retrieve shows a progress bar counting
instances and a Cancel that aborts the association; the verified cache
folder then opens through the window's own
:meth:`~textdifuse_desktop.gui.source_loading.SourceLoadingMixin.open_source`.
Failures (rejected association, timeout, dropped association, non-DICOM
answer) go to the window's error dialog; a capped query says so in the
status line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import Any

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.gui import pacs_strings as texts
from textdifuse_desktop.gui import pipeline
from textdifuse_desktop.gui.pacs_widgets import (
    NodePicker,
    QueryForm,
    blocking_call,
    fill_table,
    selected_row,
)
from textdifuse_desktop.gui.workers import create_worker
from textdifuse_desktop.net import service
from textdifuse_desktop.net.query import SERIES_FIELDS, STUDY_FIELDS, QueryFilter

log = logging.getLogger(__name__)


class PacsDialog(QtWidgets.QDialog):
    """The query/retrieve dialog of ``window`` (a MainWindow)."""

    retrieved = QtCore.Signal(str, object)  # slot key, RetrievedSeries (after the source opened)

    def __init__(self, window: Any):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle(texts.OPEN_TITLE)
        self.resize(980, 620)
        self._worker: Any = None
        self.timings: dict[str, float] = {}
        self.nodes = NodePicker(self, window.report_error)
        self.form = QueryForm()
        self.form.search_button.clicked.connect(self.search)
        self.studies = QtWidgets.QTableWidget()
        self.series = QtWidgets.QTableWidget()
        for table in (self.studies, self.series):
            table.setSortingEnabled(True)
            table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
            table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
            table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.studies.itemSelectionChanged.connect(self._study_chosen)
        self.series.itemSelectionChanged.connect(self._update_buttons)
        self.status = QtWidgets.QLabel(texts.NO_NODES if not self.nodes.nodes else "")
        self.status.setWordWrap(True)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setVisible(False)
        self.retrieve_a = QtWidgets.QPushButton("Retrieve into A")
        self.retrieve_b = QtWidgets.QPushButton("Retrieve into B")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        close = QtWidgets.QPushButton("Close")
        self.retrieve_a.clicked.connect(lambda: self.retrieve("a"))
        self.retrieve_b.clicked.connect(lambda: self.retrieve("b"))
        self.cancel_button.clicked.connect(self.cancel)
        close.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.retrieve_a, self.retrieve_b, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.studies)
        split.addWidget(self.series)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.nodes)
        layout.addWidget(self.form)
        layout.addWidget(split, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        self._update_buttons()
        window.installEventFilter(self)  # the main window closing stops our threads first

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self.window_ and event.type() == QtCore.QEvent.Type.Close:
            self.shutdown()
        return False

    def shutdown(self) -> None:
        """Cancel and wait for any running job (window close)."""
        self.cancel()
        self.wait(10000)
        self.nodes.wait()

    # ------------------------------------------------------------- state
    @property
    def busy(self) -> bool:
        """True while a query or a retrieve runs."""
        return self._worker is not None and self._worker.is_running

    def _update_buttons(self) -> None:
        running = self._worker is not None
        can_retrieve = not running and selected_row(self.series) is not None
        self.retrieve_a.setEnabled(can_retrieve)
        self.retrieve_b.setEnabled(can_retrieve)
        self.cancel_button.setEnabled(running)
        self.form.search_button.setEnabled(not running)

    def _run(self, job: Any, on_return: Any, on_yield: Any = None) -> None:
        self._worker = create_worker(job, on_yield=on_yield, on_return=on_return, on_error=self._failed,
                                     on_finish=self._finished)
        self._update_buttons()

    def _finished(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait(5000)  # its QThread must have stopped before the last reference goes
        self.progress.setVisible(False)
        self._update_buttons()

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, FusionCancelled):
            self.status.setText(texts.CANCELLED)
            return
        self.status.setText(texts.SEARCH_FAILED.format(error=error))
        self.window_.report_error(error)

    # ------------------------------------------------------------- query
    def search(self) -> None:
        """Study query with the form's keys (worker thread)."""
        node = self.nodes.current()
        if node is None:
            self.status.setText(texts.NO_NODES)
            return
        try:
            query = self.form.query().validated()
        except Exception as error:  # noqa: BLE001 - a bad date: shown, nothing sent
            self.window_.report_error(error)
            return
        self.status.setText(texts.SEARCHING)
        self.series.setRowCount(0)
        limit = self.form.limit.value()
        self._run(lambda cancel: blocking_call(service.find, node, "study", query, limit=limit, cancel=cancel),
                  self._show_studies)

    def _show_studies(self, result: Any) -> None:
        fill_table(self.studies, texts.STUDY_HEADERS, STUDY_FIELDS, result.rows)
        self.status.setText(result.message)

    def _study_chosen(self) -> None:
        row = selected_row(self.studies)
        node = self.nodes.current()
        if row is None or node is None or self._worker is not None:
            return
        study_uid = row["StudyInstanceUID"]
        self.status.setText(texts.SEARCHING)
        self._run(lambda cancel: blocking_call(service.find, node, "series", QueryFilter(study_uid=study_uid),
                                       cancel=cancel), self._show_series)

    def _show_series(self, result: Any) -> None:
        fill_table(self.series, texts.SERIES_HEADERS, SERIES_FIELDS[:-1], result.rows)
        self.status.setText(f"{result.message}. {texts.PICK_SERIES}")

    # ------------------------------------------------------------- retrieve
    def retrieve(self, key: str) -> None:
        """Retrieve the selected series into the cache, then open it as source ``key``."""
        row, node = selected_row(self.series), self.nodes.current()
        if row is None or node is None or self._worker is not None:
            return
        self.timings = {"start": time.perf_counter()}
        method = service.default_method(node)
        self.status.setText(texts.RETRIEVING.format(what=row.get("SeriesDescription") or "the series"))
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._run(lambda cancel: _retrieve_and_read(node, row, method, cancel),
                  lambda loaded: self._open(key, *loaded), on_yield=self._progress)

    def _progress(self, progress: Any) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
            self.progress.setFormat("%v of %m instances")
        if progress.done == 1 and "first_instance" not in self.timings:
            self.timings["first_instance"] = time.perf_counter() - self.timings.get("start", time.perf_counter())
        if progress.message:
            self.status.setText(progress.message)

    def _open(self, key: str, result: Any, source: Any) -> None:
        self.timings["retrieved"] = time.perf_counter() - self.timings.get("start", time.perf_counter())
        self.window_.show_loaded(key, source, result.folder)
        QtWidgets.QApplication.processEvents()
        self.timings["shown"] = time.perf_counter() - self.timings.get("start", time.perf_counter())
        self.status.setText(texts.RETRIEVED.format(count=result.count, method=texts.METHOD_LABELS[result.method],
                                                   seconds=result.seconds, slot=key.upper()))
        self.retrieved.emit(key, result)

    def cancel(self) -> None:
        """Abort the running query or retrieve (the association is aborted at once)."""
        if self._worker is not None:
            self._worker.quit()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the running job ended (tests, close)."""
        return self._worker is None or self._worker.wait(msecs)

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)


def open_pacs_dialog(window: Any) -> PacsDialog:
    """Show the dialog non-modally (the main window stays usable while a retrieve runs)."""
    dialog = getattr(window, "_pacs_dialog", None)
    if dialog is None:
        dialog = PacsDialog(window)
        window._pacs_dialog = dialog
    dialog.nodes.reload()
    dialog.show()
    dialog.raise_()
    return dialog


def _retrieve_and_read(node: Any, row: dict[str, Any], method: str, cancel: Any) -> Generator[Any, None, Any]:
    """Worker job: retrieve the series, then read it with the app's reader, both off the GUI thread."""
    result = yield from service.retrieve_series(node, row["StudyInstanceUID"], row["SeriesInstanceUID"],
                                                method=method, cancel=cancel)
    return result, pipeline.load_source(result.folder)
