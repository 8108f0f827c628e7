"""Keep pan/zoom, crosshair, slice/frame and (optionally) window linked across panes.

Modelled on pyqtgraph's ``linkView``: the linker holds only *weak* references
to the panes, and while it copies a change to the peers it sets a guard
(like ``blockLink``) so that the peers' own change signals do not bounce back
and loop.  ``enabled = False`` unlinks every pane at once; linking again
copies the view of the first pane to the others.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Iterator
from typing import Any

from PySide6 import QtCore

from textdifuse_desktop.gui.viewers.image_pane import ImagePane

log = logging.getLogger(__name__)


class ViewLinker(QtCore.QObject):
    """Links any number of :class:`ImagePane` objects (weakly held).

    Signals
    -------
    cursor_changed(object):
        ``(x, y)`` in pixels, or None when the mouse left every pane; emitted
        for every cursor move whether linked or not (the status bar uses it).
    """

    cursor_changed = QtCore.Signal(object)
    linked_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._panes: list[weakref.ReferenceType[ImagePane]] = []
        self._blocked = False
        self._enabled = True
        self.link_window = False

    # ------------------------------------------------------------- membership
    def add(self, pane: ImagePane) -> None:
        """Start linking ``pane``; the connections hold only a weak reference to it."""
        ref = weakref.ref(pane)
        self._panes.append(ref)
        # Only user pan/zoom (mouse drag, wheel) propagates; programmatic fits (reset_view)
        # are done on every pane by the window, so stale layout sizes never leak across.
        pane.view_box.sigRangeChangedManually.connect(lambda *_args, r=ref: self._on_range(r))
        pane.slice_changed.connect(lambda index, r=ref: self._on_slice(r, index))
        pane.cursor_moved.connect(lambda pos, r=ref: self._on_cursor(r, pos))
        pane.window_changed.connect(lambda c, w, r=ref: self._on_window(r, c, w))

    def panes(self) -> list[ImagePane]:
        """The panes still alive, in the order they were added."""
        alive = [ref() for ref in self._panes]
        self._panes = [ref for ref, pane in zip(self._panes, alive) if pane is not None]
        return [pane for pane in alive if pane is not None]

    @property
    def enabled(self) -> bool:
        """Whether changes propagate between panes."""
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        value = bool(value)
        if value == self._enabled:
            return
        self._enabled = value
        if value:
            self.sync_from(self.panes()[0] if self.panes() else None)
        else:
            for pane in self.panes():
                pane.set_crosshair(None)
        self.linked_changed.emit(value)

    def sync_from(self, source: ImagePane | None) -> None:
        """Copy ``source``'s view range and slice to every other pane that shows an image."""
        if source is None or source.image is None:
            return
        self._on_range(weakref.ref(source))
        self._on_slice(weakref.ref(source), source.current_slice)

    # ------------------------------------------------------------- guard
    @contextlib.contextmanager
    def _block(self) -> Iterator[None]:
        self._blocked = True
        try:
            yield
        finally:
            self._blocked = False

    def _peers(self, ref: weakref.ReferenceType[ImagePane]) -> tuple[ImagePane | None, list[ImagePane]]:
        source = ref()
        return source, [p for p in self.panes() if p is not source and p.image is not None]

    # ------------------------------------------------------------- slots
    def _on_range(self, ref: weakref.ReferenceType[ImagePane]) -> None:
        # Each peer shows (at least) the same region with the same centre; panes of
        # another shape or size widen it to their own aspect ratio (locked aspect).
        if self._blocked or not self._enabled:
            return
        source, peers = self._peers(ref)
        if source is None or source.image is None:
            return
        rect = source.view_box.viewRect()
        with self._block():
            for peer in peers:
                peer.view_box.setRange(rect, padding=0)

    def _on_slice(self, ref: weakref.ReferenceType[ImagePane], index: int) -> None:
        if self._blocked or not self._enabled:
            return
        _, peers = self._peers(ref)
        with self._block():
            for peer in peers:
                peer.set_slice(index)

    def _on_window(self, ref: weakref.ReferenceType[ImagePane], center: float, width: float) -> None:
        if self._blocked or not self._enabled or not self.link_window:
            return
        source, peers = self._peers(ref)
        units = source.image.units if source is not None and source.image is not None else None
        with self._block():
            for peer in peers:
                if peer.image is not None and peer.image.units == units:
                    peer.set_window(center, width)

    def _on_cursor(self, ref: weakref.ReferenceType[ImagePane], pos: Any) -> None:
        source = ref()
        if source is None:
            return
        targets = self.panes() if self._enabled else [source]
        for pane in targets:
            pane.set_crosshair(pos)
        self.cursor_changed.emit(pos)
