"""The consent dialog for the one-time CLIP weights download: what, how big, which licence, Download / Cancel.

Shown by :class:`~textdifuse_desktop.gui.region_actions.RegionActions` when a
typed prompt has words outside the word list and no CLIP model is here.
**Download** fetches the weights in a background thread
(:func:`textdifuse_desktop.fusion.clip_models.download_weights`) with a
progress bar; **Cancel** closes the dialog, or stops a running download
(nothing half-written is kept).  The dialog is accepted when the file is in
the cache; otherwise it is rejected and :attr:`error` holds what went wrong
(None when the user cancelled).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui.workers import create_worker

log = logging.getLogger(__name__)

TITLE = "Download the CLIP model?"


def _size_text(size: int | None) -> str:
    return f"about {size / 1e6:.0f} MB" if size else "shown when the download starts"


class ClipDownloadDialog(QtWidgets.QDialog):
    """Ask before downloading ``weights`` (a :class:`~textdifuse_desktop.fusion.clip_models.ClipWeights`).

    Signals
    -------
    progressed(object, object):
        Bytes done and expected (emitted from the download thread, shown in the bar).
    """

    progressed = QtCore.Signal(object, object)

    def __init__(self, weights: Any, words: list[str], cache_folder: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.weights = weights
        self.path: Path | None = None
        self.error: BaseException | None = None
        self.worker: Any = None
        self._cancel = False
        self.setWindowTitle(TITLE)
        self.setModal(True)
        layout = QtWidgets.QVBoxLayout(self)
        quoted = ", ".join(f"\u201c{w}\u201d" for w in words)
        intro = QtWidgets.QLabel(f"{quoted} need{'s' if len(words) == 1 else ''} a CLIP model, which is not on this "
                                 "computer yet. Download it once? It is kept in the standard model cache and used "
                                 "offline from then on.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QtWidgets.QFormLayout()
        self.model_label = QtWidgets.QLabel(weights.label)
        self.size_label = QtWidgets.QLabel(_size_text(weights.size_bytes))
        self.licence_label = QtWidgets.QLabel(weights.licence or "see the model card")
        card = QtWidgets.QLabel(f'<a href="{weights.card_url}">{weights.card_url}</a>')
        card.setOpenExternalLinks(True)
        form.addRow("Model:", self.model_label)
        form.addRow("Size:", self.size_label)
        form.addRow("Licence:", self.licence_label)
        form.addRow("Model card:", card)
        form.addRow("Saved in:", QtWidgets.QLabel(cache_folder))
        layout.addLayout(form)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setVisible(False)
        layout.addWidget(self.progress_bar)
        self.status_label = QtWidgets.QLabel("")
        layout.addWidget(self.status_label)
        buttons = QtWidgets.QDialogButtonBox()
        self.download_button = buttons.addButton("Download", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button.clicked.connect(self.cancel)
        layout.addWidget(buttons)
        self.progressed.connect(self._show_progress)

    @property
    def downloading(self) -> bool:
        """True while the download thread runs."""
        return self.worker is not None

    def start_download(self) -> None:
        """Fetch the weights in a worker thread (the user clicked Download)."""
        if self.downloading:
            return
        from textdifuse_desktop.fusion.clip_models import download_weights

        self.download_button.setEnabled(False)
        self.progress_bar.setVisible(True)
        self.progress_bar.setRange(0, 0)  # busy until the size is known
        self.status_label.setText("Downloading\u2026")

        def job(cancel: Any) -> Any:
            yield None
            return download_weights(self.weights, progress=self.progressed.emit,
                                    cancelled=lambda: self._cancel or cancel.cancelled)

        self.worker = create_worker(job, on_return=self._done, on_error=self._failed, on_finish=self._finished)

    def cancel(self) -> None:
        """Stop a running download (it ends at its next chunk), or close the dialog."""
        if self.downloading:
            self._cancel = True
            self.status_label.setText("Cancelling\u2026")
            self.cancel_button.setEnabled(False)
        else:
            self.reject()

    def reject(self) -> None:
        """Escape / the close button: cancel a running download first."""
        if self.downloading:
            self.cancel()
            return
        super().reject()

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Process events until the download thread ends (tests); True when none runs."""
        deadline = QtCore.QDeadlineTimer(timeout_ms)
        while self.downloading and not deadline.hasExpired():
            QtCore.QCoreApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            QtCore.QThread.msleep(5)
        return not self.downloading

    def _show_progress(self, done: object, total: object) -> None:
        if isinstance(total, int) and total > 0:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(1000 * int(done) / total))  # type: ignore[call-overload]
            self.status_label.setText(f"{int(done) / 1e6:.1f} of {total / 1e6:.1f} MB")  # type: ignore[call-overload]

    def _done(self, path: Any) -> None:
        self.path = Path(path)
        self.status_label.setText("Downloaded.")

    def _failed(self, error: BaseException) -> None:
        from textdifuse_desktop.fusion.clip_models import DownloadCancelled

        self.error = None if isinstance(error, DownloadCancelled) else error

    def _finished(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait(5000)  # its QThread must have stopped before the last reference goes
        if self.path is not None:
            self.accept()
        else:
            super().reject()
