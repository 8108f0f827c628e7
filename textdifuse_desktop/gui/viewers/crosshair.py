"""One crosshair in world coordinates (RAS mm) shared by the planes of every pane.

Clicking (or scrolling) in any plane of any pane moves the shared point; every linked pane then cuts
its three planes through it, so sources on different grids stay on the same anatomy.  Like
:class:`~textdifuse_desktop.gui.viewers.linking.ViewLinker`, it holds the panes weakly, and it also
copies a plane's zoom/pan to the same plane of the other panes (their screen millimetres are world
millimetres, so the regions shown match).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from PySide6 import QtCore


class WorldCrosshair(QtCore.QObject):
    """The shared world point.

    Signals
    -------
    moved(object): the new point (``numpy`` array of 3 floats, RAS mm).
    """

    moved = QtCore.Signal(object)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._panes: list[weakref.ReferenceType[Any]] = []
        self._point: np.ndarray | None = None
        self.linked = True

    @property
    def point(self) -> np.ndarray | None:
        """The current world point, or None before a volume was shown."""
        return None if self._point is None else self._point.copy()

    def add(self, pane: Any) -> None:
        """Link ``pane`` (an ImagePane); new volumes in it open at the shared point."""
        ref = weakref.ref(pane)
        self._panes.append(ref)
        pane.world_source = lambda: self.point
        pane.world_picked.connect(lambda xyz, r=ref: self.set_point(xyz, r()))
        pane.plane_range_changed.connect(lambda plane, ranges, r=ref: self._on_range(r(), plane, ranges))

    def panes(self) -> list[Any]:
        """The panes still alive."""
        return [pane for pane in (ref() for ref in self._panes) if pane is not None]

    def set_point(self, xyz: Any, source: Any = None) -> None:
        """Move the crosshair to ``xyz``: every pane when linked, else only ``source`` (None: every pane)."""
        point = np.asarray(xyz, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(point)):
            return
        if self.linked or source is None:
            self._point = point.copy()
        targets = self.panes() if self.linked or source is None else [source]
        for pane in targets:
            pane.set_world_point(point)
        self.moved.emit(point.copy())

    def reset(self) -> None:
        """Forget the point (new sources): the next volume shown opens at its own centre."""
        self._point = None

    def _on_range(self, source: Any, plane: str, ranges: Any) -> None:
        if not self.linked or source is None:
            return
        for pane in self.panes():
            if pane is not source and pane.uses_planes and pane.mpr is not None:
                pane.mpr.views[plane].set_view_range(ranges)
