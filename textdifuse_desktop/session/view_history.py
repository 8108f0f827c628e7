"""Undo and redo of view and parameter changes, as snapshots (Qt-free).

The GUI records a snapshot (a JSON-like dict: view state and fusion parameters) after each burst of
user changes; :class:`ViewHistory` keeps the steps between consecutive snapshots.  Edits that have
their own undo stack (the regions') are kept in the same timeline as *markers*, so that one Undo
command always takes back the most recent change, whatever it was.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

Snapshot = dict[str, Any]

#: Words for the parts of a snapshot, used in the Undo/Redo menu texts.
_PART_NAMES = {
    "window": "window/level", "colormap": "colour map", "slice_index": "slice", "crosshair": "crosshair",
    "planes": "plane layout", "overlay_mode": "layout", "display": "overlay", "link_views": "linking",
    "params": "fusion parameters",
}


@dataclass(eq=False)
class Step:
    """One undoable change: ``kind`` ``"view"`` (snapshots ``before``/``after``) or a marker (e.g. ``"regions"``)."""

    kind: str
    before: Snapshot | None = None
    after: Snapshot | None = None

    @property
    def label(self) -> str:
        """What changed, in words (for "Undo <label>")."""
        if self.kind != "view":
            return f"{self.kind.removesuffix('s')} edit"
        before, after = self.before or {}, self.after or {}
        parts = changed_parts(before.get("view"), after.get("view"))
        if before.get("params") != after.get("params"):
            parts.append("params")
        return ", ".join(dict.fromkeys(_PART_NAMES.get(p, p.replace("_", " ")) for p in parts)) or "view change"


def changed_parts(before: Any, after: Any, name: str = "") -> list[str]:
    """Names of the innermost keys whose values differ between two snapshots (pane names skipped)."""
    if isinstance(before, dict) and isinstance(after, dict):
        parts: list[str] = []
        for key in dict.fromkeys([*before, *after]):
            parts += changed_parts(before.get(key), after.get(key), str(key))
        return parts
    return [] if before == after else [name]


class ViewHistory:
    """Bounded undo/redo of snapshots and markers (see the module docstring)."""

    def __init__(self, max_steps: int = 200):
        self._undo: deque[Step] = deque(maxlen=max(int(max_steps), 1))
        self._redo: list[Step] = []
        self.current: Snapshot | None = None

    @property
    def can_undo(self) -> bool:
        """True when there is a step to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """True when there is a step to redo."""
        return bool(self._redo)

    def peek_undo(self) -> Step | None:
        """The step :meth:`undo` would return."""
        return self._undo[-1] if self._undo else None

    def peek_redo(self) -> Step | None:
        """The step :meth:`redo` would return."""
        return self._redo[-1] if self._redo else None

    def reset(self, snapshot: Snapshot | None) -> None:
        """Forget every step; ``snapshot`` is the new starting point (e.g. new sources)."""
        self._undo.clear()
        self._redo.clear()
        self.current = snapshot

    def rebase(self, snapshot: Snapshot) -> None:
        """Accept ``snapshot`` as current without an undo step (a change the user did not make)."""
        self.current = snapshot

    def record(self, snapshot: Snapshot) -> bool:
        """Add the step from the current snapshot to ``snapshot``; False when nothing changed."""
        if self.current is None:
            self.current = snapshot
            return False
        if snapshot == self.current:
            return False
        self._undo.append(Step("view", self.current, snapshot))
        self._redo.clear()
        self.current = snapshot
        return True

    def mark(self, kind: str) -> None:
        """Record that an edit with its own undo stack (``kind``, e.g. ``"regions"``) happened now."""
        self._undo.append(Step(kind))
        self._redo.clear()

    def undo(self) -> Step | None:
        """Take back the latest step; for a view step, :attr:`current` becomes its ``before``."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        if step.kind == "view":
            self.current = step.before
        return step

    def redo(self) -> Step | None:
        """Do the latest undone step again; for a view step, :attr:`current` becomes its ``after``."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        if step.kind == "view":
            self.current = step.after
        return step
