"""File > Open from PACS > Nodes…: add, edit, remove and test PACS nodes and DICOMweb endpoints.

Nodes are saved in ``pacs_nodes.json`` beside the settings; a DICOMweb token
goes to the OS keyring (or memory, as the note beside the field says), never
to that file.  "Test connection" runs C-ECHO or a QIDO-RS query in a worker
thread and reports the result in one line.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6 import QtWidgets

from textdifuse_desktop.gui import pacs_strings as texts
from textdifuse_desktop.gui.pacs_widgets import start_echo
from textdifuse_desktop.net import secrets
from textdifuse_desktop.net.nodes import PacsNode, load_nodes, save_nodes

log = logging.getLogger(__name__)


class NodesDialog(QtWidgets.QDialog):
    """Edits the node list; :attr:`nodes` holds the saved list after :meth:`save`."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, report_error: Any = None):
        super().__init__(parent)
        self.setWindowTitle(texts.NODES_TITLE)
        self.report_error = report_error or (lambda error: log.error("%s", error))
        self.nodes: list[PacsNode] = load_nodes()
        self._tokens: dict[str, str] = {}
        self._worker: Any = None
        self.node_list = QtWidgets.QListWidget()
        self.node_list.currentRowChanged.connect(self._show_node)
        self._build_form()
        add, remove = QtWidgets.QPushButton("Add"), QtWidgets.QPushButton("Remove")
        add.clicked.connect(self.add_node)
        remove.clicked.connect(self.remove_node)
        self.test_button = QtWidgets.QPushButton("Test connection")
        self.test_button.clicked.connect(self.test_connection)
        self.test_label = QtWidgets.QLabel("")
        self.test_label.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Save
                                             | QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.node_list)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        left.addLayout(row)
        top = QtWidgets.QHBoxLayout()
        top.addLayout(left, 1)
        top.addLayout(self.form, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.test_button)
        layout.addWidget(self.test_label)
        layout.addWidget(buttons)
        for node in self.nodes:
            self.node_list.addItem(node.name)
        self.node_list.setCurrentRow(0 if self.nodes else -1)
        self._update_enabled()

    def _build_form(self) -> None:
        self.form = QtWidgets.QFormLayout()
        self.name = QtWidgets.QLineEdit()
        self.protocol = QtWidgets.QComboBox()
        self.protocol.addItem("DIMSE (C-FIND / C-GET / C-MOVE / C-STORE)", "dimse")
        self.protocol.addItem("DICOMweb (QIDO-RS / WADO-RS / STOW-RS)", "dicomweb")
        self.protocol.currentIndexChanged.connect(self._update_enabled)
        self.ae_title, self.host, self.calling_ae = QtWidgets.QLineEdit(), QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        self.port, self.move_port = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        for spin in (self.port, self.move_port):
            spin.setRange(1, 65535)
        self.retrieve = QtWidgets.QComboBox()
        self.retrieve.addItem("C-GET", "get")
        self.retrieve.addItem("C-MOVE to our storage SCP", "move")
        self.tls = QtWidgets.QCheckBox("DICOM over TLS")
        self.ca_file, self.cert_file, self.key_file = (QtWidgets.QLineEdit() for _ in range(3))
        self.url, self.token = QtWidgets.QLineEdit(), QtWidgets.QLineEdit()
        self.token.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("optional bearer token; " + secrets.storage_note())
        self.timeout = QtWidgets.QDoubleSpinBox()
        self.timeout.setRange(1, 3600)
        for label, widget in (("Name", self.name), ("Protocol", self.protocol), ("Called AE title", self.ae_title),
                              ("Host", self.host), ("Port", self.port), ("Our AE title", self.calling_ae),
                              ("Retrieve with", self.retrieve), ("C-MOVE port (ours)", self.move_port),
                              ("", self.tls), ("TLS CA file", self.ca_file), ("TLS certificate", self.cert_file),
                              ("TLS key", self.key_file), ("DICOMweb URL", self.url), ("Token", self.token),
                              ("Timeout (s)", self.timeout)):
            self.form.addRow(label, widget)
        self.tls.toggled.connect(self._update_enabled)
        self._show_values(PacsNode("new"))

    def _update_enabled(self) -> None:
        web = self.protocol.currentData() == "dicomweb"
        for widget in (self.ae_title, self.host, self.port, self.calling_ae, self.retrieve, self.move_port, self.tls):
            widget.setEnabled(not web)
        for widget in (self.ca_file, self.cert_file, self.key_file):
            widget.setEnabled(not web and self.tls.isChecked())
        self.url.setEnabled(web)
        self.token.setEnabled(web)

    def _show_values(self, node: PacsNode) -> None:
        self.name.setText(node.name)
        self.protocol.setCurrentIndex(max(0, self.protocol.findData(node.protocol)))
        self.ae_title.setText(node.ae_title)
        self.host.setText(node.host)
        self.port.setValue(node.port)
        self.calling_ae.setText(node.calling_ae)
        self.retrieve.setCurrentIndex(max(0, self.retrieve.findData(node.retrieve)))
        self.move_port.setValue(node.move_port)
        self.tls.setChecked(node.tls)
        self.ca_file.setText(node.ca_file or "")
        self.cert_file.setText(node.cert_file or "")
        self.key_file.setText(node.key_file or "")
        self.url.setText(node.url)
        self.token.setText(self._tokens.get(node.name, ""))
        self.timeout.setValue(node.timeout_s)

    def form_node(self) -> PacsNode:
        """The node as the form shows it (validated; UsageError names a bad field)."""
        row = self.node_list.currentRow()
        listen = self.nodes[row].listen_host if 0 <= row < len(self.nodes) else PacsNode("x").listen_host
        return PacsNode(
            name=self.name.text().strip(), protocol=self.protocol.currentData(), ae_title=self.ae_title.text().strip(),
            host=self.host.text().strip(), port=self.port.value(), calling_ae=self.calling_ae.text().strip(),
            retrieve=self.retrieve.currentData(), move_port=self.move_port.value(), listen_host=listen,
            tls=self.tls.isChecked(), ca_file=self.ca_file.text() or None, cert_file=self.cert_file.text() or None,
            key_file=self.key_file.text() or None, url=self.url.text().strip(), timeout_s=self.timeout.value(),
        ).validated()

    def _show_node(self, row: int) -> None:
        if 0 <= row < len(self.nodes):
            self._show_values(self.nodes[row])
        self.test_label.setText("")

    def _commit_form(self) -> bool:
        """Store the form into the current node; False (error shown) when a field is invalid."""
        row = self.node_list.currentRow()
        if not 0 <= row < len(self.nodes):
            return True
        try:
            node = self.form_node()
        except Exception as error:  # noqa: BLE001 - shown in the dialog, nothing saved
            self.report_error(error)
            return False
        self.nodes[row] = node
        self.node_list.item(row).setText(node.name)
        if self.token.text():
            self._tokens[node.name] = self.token.text()
        return True

    def add_node(self) -> None:
        """Append a new node named ``pacs<N>`` and select it."""
        if not self._commit_form():
            return
        taken = {n.name for n in self.nodes}
        name = next(f"pacs{i}" for i in range(1, 1000) if f"pacs{i}" not in taken)
        self.nodes.append(PacsNode(name, ae_title="PACS", host="localhost", port=104))
        self.node_list.addItem(name)
        self.node_list.setCurrentRow(len(self.nodes) - 1)

    def remove_node(self) -> None:
        """Remove the selected node (saved on Save)."""
        row = self.node_list.currentRow()
        if 0 <= row < len(self.nodes):
            del self.nodes[row]
            self.node_list.takeItem(row)

    def save(self) -> bool:
        """Write the list (and tokens to the keyring / memory); True when saved."""
        if not self._commit_form():
            return False
        try:
            save_nodes(self.nodes)
            for name, token in self._tokens.items():
                secrets.store_token(name, token)
        except Exception as error:  # noqa: BLE001
            self.report_error(error)
            return False
        self.accept()
        return True

    def test_connection(self) -> None:
        """C-ECHO / QIDO-RS with the form's values, in a worker; the answer goes to the label."""
        try:
            node = self.form_node()
        except Exception as error:  # noqa: BLE001
            self.test_label.setText(texts.TEST_FAILED.format(error=error))
            return
        if self.token.text() and node.is_dicomweb:
            secrets.store_token(node.name, self.token.text())
        if self._worker is not None:
            self._worker.wait(5000)  # the previous test's QThread must stop before its last reference goes
        self.test_button.setEnabled(False)
        self._worker = start_echo(node, self.test_label, lambda: self.test_button.setEnabled(True))

    def wait(self, msecs: int = 30000) -> bool:
        """Wait for a running test (tests and shutdown)."""
        return self._worker is None or self._worker.wait(msecs)
