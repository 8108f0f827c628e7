"""Undo/redo commands for :class:`~textdifuse_desktop.session.regions.RegionSet`.

Mask edits keep only the changed bounding box, before and after, bit-packed
(one bit per voxel), so a brush stroke on a 300x512x512 volume costs a few
kilobytes rather than a 75 MB mask copy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from textdifuse_desktop.session.region import Region

Block = tuple[slice, ...]


class Command(Protocol):
    """One undoable step; ``kind`` is the ``changed`` signal argument."""

    kind: str

    def redo(self, regions: list[Region]) -> None: ...

    def undo(self, regions: list[Region]) -> None: ...

    @property
    def nbytes(self) -> int: ...


def bbox_of(changed: np.ndarray) -> Block | None:
    """Tight bounding box (tuple of slices) of the True values, or None."""
    if not changed.any():
        return None
    block = []
    for axis in range(changed.ndim):
        other = tuple(a for a in range(changed.ndim) if a != axis)
        hits = np.flatnonzero(changed.any(axis=other))
        block.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(block)


@dataclass(eq=False)
class BlockEdit:
    """A mask change limited to ``block``: the packed values before and after."""

    region: Region
    block: Block
    shape: tuple[int, ...]
    before: np.ndarray
    after: np.ndarray
    kind: str = "mask"

    @classmethod
    def from_arrays(cls, region: Region, block: Block, before: np.ndarray, after: np.ndarray) -> BlockEdit:
        """Pack ``before``/``after`` (bool arrays of the block's shape)."""
        return cls(region, block, before.shape, np.packbits(before, axis=None), np.packbits(after, axis=None))

    def _unpack(self, packed: np.ndarray) -> np.ndarray:
        count = int(np.prod(self.shape))
        return np.unpackbits(packed, count=count).astype(bool).reshape(self.shape)

    def before_array(self) -> np.ndarray:
        """The block as it was before the edit."""
        return self._unpack(self.before)

    def redo(self, regions: list[Region]) -> None:
        self.region.mask[self.block] = self._unpack(self.after)

    def undo(self, regions: list[Region]) -> None:
        self.region.mask[self.block] = self._unpack(self.before)

    @property
    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)


def block_edit(region: Region, block: Block, new: np.ndarray) -> BlockEdit:
    """Edit that sets ``region.mask[block] = new`` (not yet applied)."""
    return BlockEdit.from_arrays(region, block, region.mask[block].copy(), np.asarray(new, dtype=bool))


@dataclass(eq=False)
class ListEdit:
    """Insert (``insert=True``) or remove a region at ``index``."""

    region: Region
    index: int
    insert: bool
    kind: str = "list"

    def _add(self, regions: list[Region]) -> None:
        regions.insert(min(self.index, len(regions)), self.region)

    def _drop(self, regions: list[Region]) -> None:
        for i, r in enumerate(regions):
            if r is self.region:
                del regions[i]
                return

    def redo(self, regions: list[Region]) -> None:
        (self._add if self.insert else self._drop)(regions)

    def undo(self, regions: list[Region]) -> None:
        (self._drop if self.insert else self._add)(regions)

    @property
    def nbytes(self) -> int:
        # The region's mask lives on the stack while it is removed, but it is
        # a reference to the region's own array, not a copy.
        return 0


@dataclass(eq=False)
class PropertyEdit:
    """A change of one attribute (name, kappa, source, visibility, colour)."""

    region: Region
    name: str
    old: Any
    new: Any
    kind: str = "property"

    def redo(self, regions: list[Region]) -> None:
        setattr(self.region, self.name, self.new)

    def undo(self, regions: list[Region]) -> None:
        setattr(self.region, self.name, self.old)

    @property
    def nbytes(self) -> int:
        return 0


class UndoStack:
    """Two bounded stacks of commands."""

    def __init__(self, max_steps: int = 200):
        self._undo: deque[Command] = deque(maxlen=max(int(max_steps), 1))
        self._redo: list[Command] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._undo) + sum(c.nbytes for c in self._redo)

    def push(self, command: Command) -> None:
        self._undo.append(command)
        self._redo.clear()

    def merge_property(self, command: PropertyEdit) -> bool:
        """Fold ``command`` into the last step if it edits the same attribute."""
        if not self._undo:
            return False
        top = self._undo[-1]
        if isinstance(top, PropertyEdit) and top.region is command.region and top.name == command.name:
            top.new = command.new
            self._redo.clear()
            return True
        return False

    def pop_undo(self) -> Command | None:
        if not self._undo:
            return None
        command = self._undo.pop()
        self._redo.append(command)
        return command

    def pop_redo(self) -> Command | None:
        if not self._redo:
            return None
        command = self._redo.pop()
        self._undo.append(command)
        return command

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()


def merge_stroke(region: Region, pieces: list[BlockEdit]) -> BlockEdit | None:
    """One edit for a brush stroke's stamps (applied in order), over their joint box.

    None when the stroke left the mask as it was (e.g. it only painted painted pixels).
    """
    ndim = len(pieces[0].block)
    lo = [min(p.block[d].start for p in pieces) for d in range(ndim)]
    hi = [max(p.block[d].stop for p in pieces) for d in range(ndim)]
    union = tuple(slice(a, b) for a, b in zip(lo, hi))
    after = region.mask[union].copy()
    before = after.copy()
    for piece in reversed(pieces):  # rewind each stamp to recover the stroke's starting state
        local = tuple(slice(s.start - u.start, s.stop - u.start) for s, u in zip(piece.block, union))
        before[local] = piece.before_array()
    if np.array_equal(before, after):
        return None
    return BlockEdit.from_arrays(region, union, before, after)
