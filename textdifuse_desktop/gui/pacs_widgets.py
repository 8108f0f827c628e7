"""Widgets shared by the PACS dialogs: the node picker (with Nodes… and Test connection),
the query form, and sortable result tables whose rows keep their full values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui import pacs_strings as texts
from textdifuse_desktop.gui.workers import create_worker
from textdifuse_desktop.net.nodes import PacsNode, load_nodes
from textdifuse_desktop.net.query import DEFAULT_MAX_RESULTS, QueryFilter

ROW_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1


class NodePicker(QtWidgets.QWidget):
    """Combo of saved nodes, a Nodes… editor button and a one-line connection test."""

    def __init__(self, parent: QtWidgets.QWidget, report_error: Any):
        super().__init__(parent)
        self.report_error = report_error
        self.nodes: list[PacsNode] = []
        self._worker: Any = None
        self.combo = QtWidgets.QComboBox()
        self.combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.edit_button = QtWidgets.QPushButton("Nodes\u2026")
        self.edit_button.clicked.connect(self.edit_nodes)
        self.test_button = QtWidgets.QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_label = QtWidgets.QLabel("")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QtWidgets.QLabel("PACS node"))
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.edit_button)
        layout.addWidget(self.test_button)
        layout.addWidget(self.test_label, 2)
        self.reload()

    def reload(self) -> None:
        """Re-read the saved nodes (a broken file is reported, the list stays empty)."""
        current = self.combo.currentText()
        try:
            self.nodes = load_nodes()
        except Exception as error:  # noqa: BLE001
            self.nodes = []
            self.report_error(error)
        self.combo.clear()
        for node in self.nodes:
            self.combo.addItem(node.describe(), node.name)
        index = self.combo.findText(current)
        self.combo.setCurrentIndex(max(index, 0))

    def current(self) -> PacsNode | None:
        """The selected node, or None."""
        index = self.combo.currentIndex()
        return self.nodes[index] if 0 <= index < len(self.nodes) else None

    def edit_nodes(self) -> None:
        """Open the node editor (modal), then reload."""
        from textdifuse_desktop.gui.pacs_nodes_dialog import NodesDialog

        dialog = NodesDialog(self, self.report_error)
        dialog.exec()
        dialog.wait()
        dialog.deleteLater()
        self.reload()

    def test_connection(self) -> None:
        """C-ECHO or QIDO-RS to the selected node (worker thread); the answer in one line."""
        node = self.current()
        if node is None:
            self.test_label.setText(texts.NO_NODES)
            return
        self.test_button.setEnabled(False)
        self._worker = start_echo(node, self.test_label, self._test_done)

    def _test_done(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait(5000)  # its QThread must have stopped before the last reference goes
        self.test_button.setEnabled(True)

    def wait(self, msecs: int = 30000) -> bool:
        """Wait for a running connection test."""
        return self._worker is None or self._worker.wait(msecs)


class QueryForm(QtWidgets.QGroupBox):
    """Patient ID / name (wildcards), modality, study dates, accession, result cap, Search."""

    def __init__(self) -> None:
        super().__init__("Query")
        self.patient_id, self.patient_name = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        self.patient_name.setPlaceholderText("e.g. DOE^J*")
        self.patient_id.setPlaceholderText("* and ? allowed")
        self.modality = QtWidgets.QComboBox()
        self.modality.setEditable(True)
        self.modality.addItems(["", "CT", "MR", "PT", "NM", "US", "CR", "DX", "OT"])
        self.date_from, self.date_to = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        for edit in (self.date_from, self.date_to):
            edit.setPlaceholderText("YYYYMMDD")
            edit.setMaxLength(8)
        self.accession = QtWidgets.QLineEdit()
        self.limit = QtWidgets.QSpinBox()
        self.limit.setRange(1, 100_000)
        self.limit.setValue(DEFAULT_MAX_RESULTS)
        self.search_button = QtWidgets.QPushButton("Search")
        self.search_button.setDefault(True)
        grid = QtWidgets.QGridLayout(self)
        cells = (("Patient ID", self.patient_id), ("Patient name", self.patient_name), ("Modality", self.modality),
                 ("Study date from", self.date_from), ("to", self.date_to), ("Accession", self.accession),
                 ("At most", self.limit))
        for index, (label, widget) in enumerate(cells):
            grid.addWidget(QtWidgets.QLabel(label), index // 4, 2 * (index % 4))
            grid.addWidget(widget, index // 4, 2 * (index % 4) + 1)
        grid.addWidget(self.search_button, 1, 7)

    def query(self) -> QueryFilter:
        """The form as a (not yet validated) QueryFilter."""
        return QueryFilter(patient_id=self.patient_id.text().strip(), patient_name=self.patient_name.text().strip(),
                           modality=self.modality.currentText().strip().upper(),
                           date_from=self.date_from.text().strip(), date_to=self.date_to.text().strip(),
                           accession=self.accession.text().strip())


class _SortItem(QtWidgets.QTableWidgetItem):
    """Numbers sort as numbers, text as text."""

    def __lt__(self, other: QtWidgets.QTableWidgetItem) -> bool:
        mine, theirs = self.text(), other.text()
        if mine.isdigit() and theirs.isdigit():
            return int(mine) < int(theirs)
        return mine < theirs


def fill_table(table: QtWidgets.QTableWidget, headers: Sequence[str], fields: Sequence[str],
               rows: Sequence[dict[str, str]]) -> None:
    """Show ``rows`` (one column per field); each row's dict is kept on its first cell."""
    table.setSortingEnabled(False)
    table.clearContents()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, name in enumerate(fields):
            item = _SortItem(row.get(name, ""))
            if c == 0:
                item.setData(ROW_ROLE, dict(row))
            table.setItem(r, c, item)
    table.setSortingEnabled(True)
    table.resizeColumnsToContents()


def selected_row(table: QtWidgets.QTableWidget) -> dict[str, str] | None:
    """The dict of the selected row, or None."""
    rows = table.selectionModel().selectedRows() if table.selectionModel() else []
    if not rows:
        return None
    item = table.item(rows[0].row(), 0)
    return item.data(ROW_ROLE) if item is not None else None


def blocking_call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """A one-step generator around a blocking call (what a worker drives)."""
    yield None
    return function(*args, **kwargs)


def start_echo(node: Any, label: QtWidgets.QLabel, on_finish: Any) -> Any:
    """C-ECHO or QIDO-RS to ``node`` in a worker thread; the answer, or the failure, in one line on ``label``."""
    from textdifuse_desktop.net import service

    label.setText(texts.TESTING)
    return create_worker(lambda _cancel: blocking_call(service.echo, node),
                         on_return=lambda text: label.setText(f"OK: {text}"),
                         on_error=lambda error: label.setText(texts.TEST_FAILED.format(error=error)),
                         on_finish=on_finish)
