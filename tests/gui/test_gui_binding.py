"""Guard against Qt-binding bugs that would crash a long GUI session."""

from __future__ import annotations

import gc
import sys

from PySide6 import QtCore


class _Emitter(QtCore.QObject):
    sig = QtCore.Signal(object)


def test_signal_emit_keeps_bool_refcount(qapp) -> None:
    # PySide6 6.12.0 on Python 3.11 drops a reference to True on every Python-side emit();
    # after a few thousand mouse moves the interpreter aborts ("bool_dealloc").
    emitter = _Emitter()
    received: list[object] = []
    emitter.sig.connect(received.append)
    gc.collect()
    before = sys.getrefcount(True)
    for index in range(2000):
        emitter.sig.emit(index)
    gc.collect()
    assert len(received) == 2000
    assert sys.getrefcount(True) - before > -100, "this PySide6 build leaks references to True; use another version"
