"""Progress records and cancellation shared by the DIMSE and DICOMweb transfers.

Transfers are generators that yield :class:`TransferProgress` and return
their result, so a GUI worker thread or the CLI can drive them the same way.
Cancellation is any object with a ``cancelled`` property (the GUI worker's
token, or :class:`textdifuse_desktop.fusion.request.CancelToken` in the CLI); :func:`abort_on_cancel`
watches it and aborts the DICOM association at once, so a Cancel never waits for the server.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from textdifuse_desktop.errors import TransferCancelled

_POLL_S = 0.05


class Cancellable(Protocol):
    """Anything with a ``cancelled`` flag (``fusion.request.CancelToken`` fits)."""

    @property
    def cancelled(self) -> bool: ...


@dataclass(frozen=True)
class TransferProgress:
    """``done`` of ``total`` instances (total 0 = unknown) and a short status line."""

    done: int
    total: int
    message: str = ""
    item: Any = None


def raise_if_cancelled(cancel: Cancellable | None, what: str = "transfer") -> None:
    """Raise :class:`TransferCancelled` when ``cancel`` is set."""
    if cancel is not None and cancel.cancelled:
        raise TransferCancelled(f"{what} cancelled by the user")


@contextlib.contextmanager
def abort_on_cancel(assoc: Any, cancel: Cancellable | None) -> Iterator[None]:
    """Abort ``assoc`` from a watcher thread as soon as ``cancel`` is set (while the block runs)."""
    if cancel is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(_POLL_S):
            if cancel.cancelled:
                if assoc.is_established:
                    assoc.abort()
                return

    watcher = threading.Thread(target=watch, name="textdifuse-pacs-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(1.0)
