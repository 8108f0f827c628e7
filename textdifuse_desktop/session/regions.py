"""Named regions that steer the fusion, with cheap undo/redo.

A :class:`RegionSet` holds boolean masks at image resolution (2D ``(H, W)`` or
3D ``(Z, H, W)``), one per :class:`~textdifuse_desktop.session.region.Region`
(its source and strength ``kappa``).  :meth:`RegionSet.kappa_maps` turns the
masks into Gaussian-feathered float maps, so the regions have soft edges and
leave no seams in the result.

Mask edits (discs, boxes, whole masks) are stored on the undo stack as
bounding-box diffs: only the changed sub-block, before and after, bit-packed.
A brush stroke of many stamps is one undo step (:meth:`RegionSet.stroke`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import numpy as np
from psygnal import Signal

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.session._undo import (
    BlockEdit,
    Command,
    ListEdit,
    PropertyEdit,
    UndoStack,
    bbox_of,
    block_edit,
    merge_stroke,
)
from textdifuse_desktop.session.feather import strength_maps
from textdifuse_desktop.session.region import (
    DEFAULT_KAPPA,
    ORIGINS,
    PALETTE,
    Box,
    Region,
    box_footprint,
    check_source,
    clamp_kappa,
    disc_footprint,
)

log = logging.getLogger(__name__)


class RegionSet:
    """An ordered list of regions over one image grid, with undo/redo.

    Parameters
    ----------
    shape:
        ``(H, W)`` or ``(Z, H, W)`` of the image the masks cover.
    affine:
        The image's 4x4 voxel-to-RAS affine, kept so that saved NIfTI masks
        line up with the source; identity if omitted.
    max_undo:
        Undo steps kept (oldest dropped first).

    The ``changed`` signal is emitted after every change with one argument,
    the kind: ``"mask"``, ``"list"`` or ``"property"``.  ``history_changed``
    is emitted whenever :attr:`can_undo` / :attr:`can_redo` may have changed.
    """

    changed = Signal(str)
    history_changed = Signal()

    def __init__(self, shape: Sequence[int], affine: np.ndarray | None = None, *, max_undo: int = 200):
        shape = tuple(int(s) for s in shape)
        if len(shape) not in (2, 3) or min(shape) < 1:
            raise ImageDataError(f"region masks need a 2D or 3D shape, got {shape}")
        self.shape: tuple[int, ...] = shape
        self.affine = np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64)
        self._regions: list[Region] = []
        self._undo = UndoStack(max_undo)
        self._stroke: list[BlockEdit] | None = None
        self._stroke_region: Region | None = None
        self._color_counter = 0

    @classmethod
    def for_image(cls, image: Image, **kwargs: object) -> RegionSet:
        """An empty set on ``image``'s grid: ``(Z, H, W)`` for volumes, else ``(H, W)``.

        Video frames (``TYX``) share one 2D set.
        """
        nz, ny, nx = image.grid_shape
        shape = (nz, ny, nx) if image.is_volume else (ny, nx)
        return cls(shape, affine=image.affine, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ list
    @property
    def regions(self) -> list[Region]:
        """The regions, in order (a copy of the list; the regions are shared)."""
        return list(self._regions)

    @property
    def is_volume(self) -> bool:
        """True when the masks are 3D."""
        return len(self.shape) == 3

    def __len__(self) -> int:
        return len(self._regions)

    def __getitem__(self, index: int) -> Region:
        return self._regions[index]

    def __iter__(self) -> Iterator[Region]:
        return iter(list(self._regions))

    def index_of(self, region: Region) -> int:
        """Position of ``region`` (by identity)."""
        for i, r in enumerate(self._regions):
            if r is region:
                return i
        raise ValueError("region is not in this set")

    def add(self, name: str | None = None, source: str = "B", kappa: float = DEFAULT_KAPPA,
            origin: str = "brush", *, mask: np.ndarray | None = None,
            color: tuple[int, int, int] | None = None, visible: bool = True, provenance: str = "") -> Region:
        """Append a new region (empty unless ``mask`` is given); undoable."""
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
        if mask is None:
            mask = np.zeros(self.shape, dtype=bool)
        else:
            mask = self._check_mask(mask).copy()
        if color is None:
            color = PALETTE[self._color_counter % len(PALETTE)]
            self._color_counter += 1
        region = Region(name=name or self._next_name(origin), mask=mask, source=check_source(source),
                        kappa=clamp_kappa(kappa), origin=origin, color=tuple(int(c) for c in color),
                        visible=bool(visible), provenance=str(provenance))
        self._push(ListEdit(region, len(self._regions), insert=True))
        return region

    def append_region(self, region: Region) -> None:
        """Append an existing :class:`Region` (used when loading; not undoable)."""
        region.mask = self._check_mask(region.mask)
        self._regions.append(region)
        self._color_counter += 1
        self.changed.emit("list")

    def remove(self, index: int) -> Region:
        """Remove the region at ``index``; undoable."""
        region = self._regions[index]
        self._push(ListEdit(region, index, insert=False))
        return region

    def rename(self, index: int, name: str) -> None:
        """Rename a region; undoable."""
        self._set_property(index, "name", str(name))

    def set_kappa(self, index: int, kappa: float) -> None:
        """Set a region's strength (clipped to :data:`KAPPA_RANGE`); undoable.

        Consecutive changes of the same region merge into one undo step, so
        dragging a slider does not flood the stack.
        """
        self._set_property(index, "kappa", clamp_kappa(kappa), merge=True)

    def set_source(self, index: int, source: str) -> None:
        """Set which source (``"A"``/``"B"``) the region favours; undoable."""
        self._set_property(index, "source", check_source(source))

    def set_visible(self, index: int, visible: bool) -> None:
        """Show or hide a region; undoable."""
        self._set_property(index, "visible", bool(visible))

    def set_color(self, index: int, color: tuple[int, int, int]) -> None:
        """Change the overlay colour; undoable."""
        self._set_property(index, "color", tuple(int(c) for c in color))

    # ----------------------------------------------------------------- masks
    def stamp_disc(self, index: int, center_xy: tuple[float, float], radius: float,
                   slice_index: int | None = None, erase: bool = False) -> None:
        """Set (or clear) a disc of ``radius`` pixels centred at ``(x, y)``.

        On a volume the disc is drawn in slice ``slice_index`` (required).
        """
        z = self._slice(slice_index)
        found = disc_footprint(center_xy, radius, self.shape[-2:])
        if found is None:
            return
        (y0, y1, x0, x1), disc = found
        self._edit_block(index, self._block(z, y0, y1, x0, x1), disc, erase)

    def stamp_line(self, index: int, start_xy: tuple[float, float], end_xy: tuple[float, float],
                   radius: float, slice_index: int | None = None, erase: bool = False) -> None:
        """Stamp discs along a segment, spaced so the painted line has no gaps."""
        (x0, y0), (x1, y1) = start_xy, end_xy
        length = float(np.hypot(x1 - x0, y1 - y0))
        n = max(int(np.ceil(length / max(radius * 0.5, 0.5))), 1)
        with self.stroke(index):
            for t in np.linspace(0.0, 1.0, n + 1)[1:] if length > 0 else [1.0]:
                self.stamp_disc(index, (x0 + t * (x1 - x0), y0 + t * (y1 - y0)), radius, slice_index, erase)

    def fill_box(self, index: int, box: Box, slice_index: int | None = None, erase: bool = False) -> None:
        """Set (or clear) the pixels of a box ``(x0, y0, x1, y1)``.

        Corners may come in any order; the box covers the pixels whose
        centres lie in ``[min, max]`` on both axes, clipped to the image.  On
        a volume, ``slice_index=None`` fills the box on every slice.
        """
        found = box_footprint(box, self.shape[-2:])
        if found is None:
            return
        y0, y1, x0, x1 = found
        if self.is_volume and slice_index is None:
            block = (slice(0, self.shape[0]), slice(y0, y1), slice(x0, x1))
        else:
            block = self._block(self._slice(slice_index), y0, y1, x0, x1)
        fill = np.ones(tuple(s.stop - s.start for s in block), dtype=bool)
        self._edit_block(index, block, fill, erase)

    def set_mask(self, index: int, mask: np.ndarray, *, union: bool = False) -> None:
        """Replace a region's mask (or add to it with ``union``); one undo step."""
        region = self._regions[index]
        new = self._check_mask(mask)
        if union:
            new = new | region.mask
        bbox = bbox_of(new != region.mask)
        if bbox is None:
            return
        self._push(block_edit(region, bbox, new[bbox]))

    def clear_mask(self, index: int) -> None:
        """Empty a region's mask; undoable."""
        self.set_mask(index, np.zeros(self.shape, dtype=bool))

    @contextlib.contextmanager
    def stroke(self, index: int) -> Iterator[None]:
        """Group the mask edits made inside the block into one undo step.

        Nested strokes join the outer one.
        """
        if self._stroke is not None:
            yield
            return
        self.begin_stroke(index)
        try:
            yield
        finally:
            self.end_stroke()

    def begin_stroke(self, index: int) -> None:
        """Start grouping mask edits of region ``index`` (see :meth:`stroke`)."""
        if self._stroke is not None:
            self.end_stroke()
        self._stroke = []
        self._stroke_region = self._regions[index]

    def end_stroke(self) -> None:
        """Finish the current stroke and push it as one bounding-box diff."""
        pieces, region = self._stroke, self._stroke_region
        self._stroke, self._stroke_region = None, None
        if not pieces or region is None:
            return
        edit = merge_stroke(region, pieces)
        if edit is None:
            return
        self._undo.push(edit)
        self.history_changed.emit()

    # ------------------------------------------------------------- undo/redo
    @property
    def can_undo(self) -> bool:
        """True when there is a step to undo."""
        return self._undo.can_undo

    @property
    def can_redo(self) -> bool:
        """True when there is a step to redo."""
        return self._undo.can_redo

    @property
    def undo_nbytes(self) -> int:
        """Bytes held by the undo and redo stacks (mask blocks only)."""
        return self._undo.nbytes

    def undo(self) -> bool:
        """Undo the last step; returns False when there was nothing to undo."""
        self.end_stroke()
        command = self._undo.pop_undo()
        if command is None:
            return False
        command.undo(self._regions)
        self.changed.emit(command.kind)
        self.history_changed.emit()
        return True

    def redo(self) -> bool:
        """Redo the last undone step; returns False when there was nothing to redo."""
        command = self._undo.pop_redo()
        if command is None:
            return False
        command.redo(self._regions)
        self.changed.emit(command.kind)
        self.history_changed.emit()
        return True

    def clear_history(self) -> None:
        """Forget all undo/redo steps."""
        self._undo.clear()
        self.history_changed.emit()

    # --------------------------------------------------------------- kappa
    def kappa_maps(self, feather_px: float = 4.0, slice_index: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feathered strength maps for the fusion engine.

        Parameters
        ----------
        feather_px:
            Gaussian sigma (pixels) that softens mask edges; 0 keeps them hard.
            Volumes are feathered within each slice only, since slices are
            often much thicker than pixels are wide.
        slice_index:
            For a volume, return 2D maps of this slice only (much cheaper).

        Returns
        -------
        kappa_a, kappa_b, blend_mask:
            float32 arrays at image resolution, as
            :func:`~textdifuse_desktop.session.feather.strength_maps` describes.
        """
        if slice_index is None or not self.is_volume:
            return strength_maps(((r, r.mask) for r in self._regions), self.shape, feather_px)
        z = self._slice(slice_index)
        return strength_maps(((r, r.mask[z]) for r in self._regions), self.shape[1:], feather_px)

    # ------------------------------------------------------------ save/load
    def save(self, folder: str) -> None:
        """Save to ``folder`` (JSON list + PNG/NIfTI masks); see :mod:`.region_io`."""
        from textdifuse_desktop.session.region_io import save_regions

        save_regions(self, folder)

    @classmethod
    def load(cls, folder: str) -> RegionSet:
        """Load a set saved by :meth:`save`."""
        from textdifuse_desktop.session.region_io import load_regions

        return load_regions(folder)

    # -------------------------------------------------------------- helpers
    def _next_name(self, origin: str) -> str:
        names = {r.name for r in self._regions}
        n = len(self._regions) + 1
        while f"{origin.capitalize()} {n}" in names:
            n += 1
        return f"{origin.capitalize()} {n}"

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != self.shape:
            raise ImageDataError(f"region mask shape {mask.shape} differs from the image shape {self.shape}")
        return mask.astype(bool, copy=False)

    def _slice(self, slice_index: int | None) -> int | None:
        if not self.is_volume:
            return None
        if slice_index is None:
            raise ValueError("slice_index is required for volume regions")
        z = int(slice_index)
        if not 0 <= z < self.shape[0]:
            raise IndexError(f"slice {z} outside 0..{self.shape[0] - 1}")
        return z

    def _block(self, z: int | None, y0: int, y1: int, x0: int, x1: int) -> tuple[slice, ...]:
        yx = (slice(y0, y1), slice(x0, x1))
        return yx if z is None else (slice(z, z + 1),) + yx

    def _edit_block(self, index: int, block: tuple[slice, ...], shape_mask: np.ndarray, erase: bool) -> None:
        region = self._regions[index]
        old = region.mask[block]
        shape_mask = shape_mask.reshape(old.shape)
        new = old & ~shape_mask if erase else old | shape_mask
        if np.array_equal(new, old):
            return
        edit = block_edit(region, block, new)
        if self._stroke is not None and region is self._stroke_region:
            edit.redo(self._regions)
            self._stroke.append(edit)
            self.changed.emit("mask")
        else:
            self._push(edit)

    def _push(self, command: Command) -> None:
        command.redo(self._regions)
        self._undo.push(command)
        self.changed.emit(command.kind)
        self.history_changed.emit()

    def _set_property(self, index: int, name: str, value: object, merge: bool = False) -> None:
        region = self._regions[index]
        old = getattr(region, name)
        if old == value:
            return
        command = PropertyEdit(region, name, old, value)
        if merge and self._undo.merge_property(command):
            setattr(region, name, value)
            self.changed.emit("property")
            self.history_changed.emit()
            return
        self._push(command)
