"""Runs fusions in the background for the main window: worker, cancel, cache, preview.

The controller owns at most one :class:`GeneratorWorker` at a time.  Results
are cached per (sources, parameters, region maps); asking again for a cached
combination shows the result at once without running anything.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from PySide6 import QtCore

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.fusion.request import FusionRequest, FusionResult, Progress
from textdifuse_desktop.gui.pipeline import (
    PreviewResult,
    ResultCache,
    fusion_job,
    wants_classical_preview,
)
from textdifuse_desktop.gui.workers import GeneratorWorker
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

#: Seconds between two displays of a volume's partial result (each is a copy of the whole volume).
PARTIAL_INTERVAL_S = 0.5


class FusionController(QtCore.QObject):
    """Background fusion with progress, classical preview, cancel and a result cache.

    Signals
    -------
    progress(object):
        :class:`Progress` reports.
    preview(object):
        An :class:`Image` to show meanwhile (classical result or the model's
        current estimate).
    finished_result(object):
        The :class:`FusionResult` (also emitted for cache hits).
    failed(object):
        The exception (not emitted for cancellation).
    cancelled():
        The user cancelled.
    running_changed(bool):
        A job started or ended.
    """

    progress = QtCore.Signal(object)
    preview = QtCore.Signal(object)
    finished_result = QtCore.Signal(object)
    failed = QtCore.Signal(object)
    cancelled = QtCore.Signal()
    running_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.cache = ResultCache()
        self.backend: Any = None  # a stand-in model for tests; None = the shipped model
        self.last_from_cache = False
        self._worker: GeneratorWorker | None = None
        self._request: FusionRequest | None = None
        self._key: tuple[Any, ...] | None = None
        self._last_preview = 0.0
        self.token: Any = None  # sources token of the job running, or of the last result emitted
        self._in_preview = False

    @property
    def is_running(self) -> bool:
        """True while a job runs."""
        return self._key is not None

    def run(self, request: FusionRequest, sources_token: Any) -> bool:
        """Start fusing ``request``; returns False (and does nothing) while another job runs."""
        if self.is_running:
            return False
        key = ResultCache.key(sources_token, request)
        self.token = sources_token
        cached = self.cache.get(key)
        if cached is not None:
            self.last_from_cache = True
            self.finished_result.emit(cached)
            return True
        self.last_from_cache = False
        self._request, self._key = request, key
        self._in_preview = wants_classical_preview(request)  # fusion_job shows a classical preview first
        backend = self.backend
        worker = GeneratorWorker(lambda cancel: fusion_job(request, cancel, backend=backend))
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        if self._worker is not None:
            # The previous job has ended (it emitted finished) but its QThread may still be winding down;
            # dropping the last reference to a running QThread aborts the process.
            self._worker.wait(5000)
        self._worker = worker
        self.running_changed.emit(True)
        worker.start()
        return True

    def fraction(self, progress: Progress) -> float:
        """Share of the whole job done, 0..0.99 while it runs (1.0 only once the result is in).

        For the diffusion model the classical preview counts for the first 10 %; the
        engine's last tick is not the end of the job (colour, geometry and the result
        image follow), so the bar stops short of 100 % until the result arrives.
        """
        done = min(max(progress.done / progress.total, 0.0), 1.0) if progress.total > 0 else 0.0
        if self._request is not None and self._request.params.uses_model:
            done = 0.1 * done if self._in_preview else 0.1 + 0.9 * done
        return min(done, 0.99)

    def cancel(self) -> None:
        """Ask the running job to stop (the engine checks between steps)."""
        if self._worker is not None:
            self._worker.quit()

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Process events until the running job ends; True if it ended in time."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        app = QtCore.QCoreApplication.instance()
        while self.is_running and time.monotonic() < deadline:
            if app is not None:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        return not self.is_running

    def shutdown(self) -> None:
        """Cancel and join the worker thread (called when the window closes)."""
        if self._worker is not None:
            self._worker.quit()
            self._worker.wait(15000)

    # ------------------------------------------------------------- worker signals
    def _on_yielded(self, value: object) -> None:
        if isinstance(value, PreviewResult):
            self._in_preview = False
            self.preview.emit(value.result.image)
            return
        if isinstance(value, Progress):
            self.progress.emit(value)
            now = time.monotonic()
            if value.partial is not None and self._request is not None:
                last = value.slices_done >= value.partial.shape[0]
                if last or now - self._last_preview > PARTIAL_INTERVAL_S:
                    self._last_preview = now
                    self.preview.emit(partial_volume_image(value, self._request.a))
                return
            if value.preview is not None and self._request is not None and now - self._last_preview > 0.2:
                self._last_preview = now
                self.preview.emit(_preview_image(value.preview, self._request.a))

    def _on_returned(self, result: object) -> None:
        if isinstance(result, FusionResult) and self._key is not None:
            self.cache.put(self._key, result)
            self.finished_result.emit(result)

    def _on_errored(self, error: object) -> None:
        if isinstance(error, FusionCancelled):
            self.cancelled.emit()
        else:
            self.failed.emit(error)

    def _on_finished(self) -> None:
        self._key = None
        self._request = None
        self.running_changed.emit(False)


def partial_volume_image(progress: Progress, reference: Image) -> Image:
    """The slices of a volume fused so far (grey, 0..255; the rest black) on the reference grid.

    ``meta["partial_slices"]`` is ``(done, total)``; the pane's caption says how far the fusion is.
    """
    pixels = np.asarray(progress.partial, dtype=np.float32) * np.float32(255.0)  # a copy: the engine still writes
    total = int(pixels.shape[0])
    return Image(pixels, axes="ZYX", affine=reference.affine, modality="OT", window=(127.5, 255.0),
                 meta={"partial_slices": (int(progress.slices_done), total)})


def _preview_image(luma: np.ndarray, reference: Image) -> Image:
    """The model's intermediate luminance (0..255) as a grey Image on the reference grid."""
    pixels = np.asarray(luma, dtype=np.float32)
    if reference.is_volume and pixels.ndim == 2:
        pixels = pixels[None]
    axes = "ZYX" if pixels.ndim == 3 else "YX"
    return Image(pixels, axes=axes, affine=reference.affine, modality="OT", window=(127.5, 255.0))
