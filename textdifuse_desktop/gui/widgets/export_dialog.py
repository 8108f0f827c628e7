"""One export dialog for PNG, TIFF 16-bit, NIfTI, DICOM, DICOM SEG and MP4, with de-identify and progress."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.export_jobs import FORMATS, ExportRequest, export_job
from textdifuse_desktop.gui.workers import GeneratorWorker

log = logging.getLogger(__name__)


class ExportDialog(QtWidgets.QDialog):
    """Pick a format and a path, then export in a background worker.

    ``make_request(format, path, deidentify) -> ExportRequest`` is supplied by
    the main window (it knows the sources, the result and the regions).
    Errors go to ``on_error`` (the main window's error dialog); the dialog
    stays open so the user can pick another path.

    Signals
    -------
    exported(list):
        The paths written.
    """

    exported = QtCore.Signal(list)

    def __init__(self, make_request: Callable[[str, Path, bool], ExportRequest],
                 on_error: Callable[[BaseException], None], parent: QtWidgets.QWidget | None = None,
                 *, default_dir: Path | None = None, available: tuple[str, ...] = FORMATS):
        super().__init__(parent)
        self.setWindowTitle(strings.EXPORT_TITLE)
        self.setMinimumWidth(520)
        self._make_request = make_request
        self._on_error = on_error
        self._default_dir = default_dir or Path.home()
        self.worker: GeneratorWorker | None = None
        self.written: list[Path] = []

        self.format_combo = QtWidgets.QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(strings.EXPORT_FORMATS[fmt], fmt)
            if fmt not in available:
                self.format_combo.model().item(self.format_combo.count() - 1).setEnabled(False)  # type: ignore[attr-defined]
        self.path_edit = QtWidgets.QLineEdit()
        browse = QtWidgets.QPushButton("Browse\u2026")
        browse.clicked.connect(self._browse)
        path_row = QtWidgets.QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.deidentify_check = QtWidgets.QCheckBox(strings.EXPORT_DEIDENTIFY)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self._close_or_cancel)

        form = QtWidgets.QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("Save to", path_row)
        form.addRow("", self.deidentify_check)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        first_enabled = next((i for i, f in enumerate(FORMATS) if f in available), 0)
        self.format_combo.setCurrentIndex(first_enabled)
        self._on_format_changed()

    @property
    def format(self) -> str:
        """The selected format key (``png``, ``tiff``, ``nifti``, ``dicom``, ``seg``, ``mp4``)."""
        return str(self.format_combo.currentData())

    def set_format(self, fmt: str) -> None:
        """Select ``fmt``."""
        self.format_combo.setCurrentIndex(FORMATS.index(fmt))

    def set_path(self, path: Path | str) -> None:
        """Set the output path."""
        self.path_edit.setText(str(path))

    def _on_format_changed(self) -> None:
        fmt = self.format
        self.deidentify_check.setEnabled(fmt in ("dicom", "seg"))
        current = self.path_edit.text().strip()
        base = Path(current).parent if current else self._default_dir
        stem = "fused_regions" if fmt == "seg" else "fused"
        self.path_edit.setText(str(base / (stem + strings.EXPORT_SUFFIX[fmt])))

    def _browse(self) -> None:
        if self.format == "dicom":
            folder = QtWidgets.QFileDialog.getExistingDirectory(self, "DICOM output folder", self.path_edit.text())
            if folder:
                self.path_edit.setText(folder)
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text())
        if path:
            self.path_edit.setText(path)

    def start_export(self) -> None:
        """Build the request and run it in a worker (no-op while one runs)."""
        if self.worker is not None and self.worker.is_running:
            return
        text = self.path_edit.text().strip()
        if not text:
            self.status.setText("Choose where to save the export.")
            return
        try:
            request = self._make_request(self.format, Path(text).expanduser(), self.deidentify_check.isChecked())
        except Exception as error:  # noqa: BLE001 - shown to the user
            self._on_error(error)
            return
        worker = GeneratorWorker(lambda cancel: export_job(request, cancel, report=worker.yielded.emit))
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_failed)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.export_button.setEnabled(False)
        self.close_button.setText("Cancel")
        self.progress.setRange(0, 0)
        worker.start()

    def _on_progress(self, progress: object) -> None:
        done, total = getattr(progress, "done", 0), getattr(progress, "total", 1)
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))
        self.status.setText(str(getattr(progress, "message", "")))

    def _on_done(self, paths: object) -> None:
        self.written = [Path(p) for p in paths]  # type: ignore[union-attr]
        self.status.setText(strings.STATUS_EXPORTED.format(count=len(self.written), path=self.path_edit.text()))
        self.exported.emit(self.written)

    def _on_failed(self, error: object) -> None:
        self.status.setText(f"Export failed: {error}")
        self._on_error(error)  # type: ignore[arg-type]

    def _on_finished(self) -> None:
        self.export_button.setEnabled(True)
        self.close_button.setText("Close")
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.written else 0)

    def _close_or_cancel(self) -> None:
        if self.worker is not None and self.worker.is_running:
            self.worker.quit()
            return
        self.reject()

    def done(self, result: int) -> None:
        """Wait for a running export before closing (it is cancelled first)."""
        if self.worker is not None and self.worker.is_running:
            self.worker.quit()
            self.worker.wait(10000)
        super().done(result)
