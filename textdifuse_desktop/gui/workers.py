"""Run a generator (e.g. a fusion job) on a QThread with yielded / returned / errored signals.

Modelled on superqt's ``thread_worker``: the generator runs in a worker
thread; each yielded value is delivered to the GUI thread through the
``yielded`` signal, the generator's return value through ``returned`` and
any exception through ``errored``.  :meth:`GeneratorWorker.quit` sets the
:class:`CancelToken`, which the fusion engine checks between steps; the
worker also stops at the next ``yield`` on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import Any

from PySide6 import QtCore

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.fusion.request import CancelToken

log = logging.getLogger(__name__)


class GeneratorWorker(QtCore.QObject):
    """Drives ``factory(cancel)`` to completion in a worker thread.

    Signals
    -------
    started():
        The generator began (worker thread).
    yielded(object):
        One yielded value.
    returned(object):
        The generator's return value.
    errored(object):
        The exception raised (FusionCancelled when cancelled).
    finished():
        Always emitted last, after returned or errored.
    """

    started = QtCore.Signal()
    yielded = QtCore.Signal(object)
    returned = QtCore.Signal(object)
    errored = QtCore.Signal(object)
    finished = QtCore.Signal()

    def __init__(self, factory: Callable[[CancelToken], Generator[Any, None, Any]], cancel: CancelToken | None = None):
        super().__init__()
        self._factory = factory
        self.cancel_token = cancel or CancelToken()
        self._thread: QtCore.QThread | None = None
        self.is_running = False

    @QtCore.Slot()
    def run(self) -> None:
        """Iterate the generator (called in the worker thread)."""
        self.is_running = True
        self.started.emit()
        try:
            gen = self._factory(self.cancel_token)
            while True:
                if self.cancel_token.cancelled:
                    gen.close()
                    raise FusionCancelled("fusion cancelled by the user")
                try:
                    value = next(gen)
                except StopIteration as stop:
                    self.returned.emit(stop.value)
                    break
                self.yielded.emit(value)
        except Exception as error:
            if not isinstance(error, FusionCancelled):
                log.exception("worker failed")
            self.errored.emit(error)
        finally:
            self.is_running = False
            app = QtCore.QCoreApplication.instance()
            if app is not None:  # hand the object back so the GUI thread may own and delete it
                self.moveToThread(app.thread())
            self.finished.emit()

    def quit(self) -> None:
        """Ask the job to stop at its next check point (thread-safe)."""
        self.cancel_token.cancel()

    def start(self) -> None:
        """Start on a new QThread (kept by this object until it is garbage-collected)."""
        thread = QtCore.QThread()
        thread.setObjectName("textdifuse-worker")
        self._thread = thread
        self.moveToThread(thread)
        thread.started.connect(self.run)
        self.finished.connect(thread.quit, QtCore.Qt.ConnectionType.DirectConnection)
        thread.start(QtCore.QThread.Priority.LowPriority)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the thread has finished (for shutdown and tests); True if it did."""
        thread = self._thread
        return True if thread is None else bool(thread.wait(QtCore.QDeadlineTimer(msecs)))


def create_worker(
    factory: Callable[[CancelToken], Generator[Any, None, Any]],
    *,
    on_yield: Callable[[Any], None] | None = None,
    on_return: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    on_finish: Callable[[], None] | None = None,
    start: bool = True,
) -> GeneratorWorker:
    """Build a :class:`GeneratorWorker`, connect the callbacks (run in the GUI thread) and start it."""
    worker = GeneratorWorker(factory)
    queued = QtCore.Qt.ConnectionType.QueuedConnection
    if on_yield is not None:
        worker.yielded.connect(on_yield, queued)
    if on_return is not None:
        worker.returned.connect(on_return, queued)
    if on_error is not None:
        worker.errored.connect(on_error, queued)
    if on_finish is not None:
        worker.finished.connect(on_finish, queued)
    if start:
        worker.start()
    return worker
