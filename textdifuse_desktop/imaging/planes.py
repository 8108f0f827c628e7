"""Axial, coronal and sagittal planes of a volume in world (RAS mm) orientation, without Qt.

Display convention (3D Slicer's, radiological): in the **axial** plane the patient's
Right is on the screen's left and Anterior at the top; in the **coronal** plane Right
is on the left and Superior at the top; in the **sagittal** plane Anterior is on the
left and Superior at the top.  Every screen axis therefore runs *against* a world axis:
screen x grows towards Left (axial, coronal) or Posterior (sagittal), screen y grows
downwards towards Posterior (axial) or Inferior (coronal, sagittal).

A volume is first seen on its *closest canonical* axes (each voxel axis assigned to the
world axis it is most parallel to, flipped where it runs backwards): slicing is then a
numpy view, never an interpolation.  Screen coordinates are millimetres (``u``, ``v``),
so anisotropic voxels keep their true aspect, and they are (negated) world coordinates,
so volumes on different grids line up.  For oblique acquisitions the planes are the
closest canonical ones (as ITK-SNAP shows them); the world point of a voxel always comes
from the true affine.
"""

from __future__ import annotations

import numpy as np

from textdifuse_desktop.errors import ImageDataError
from textdifuse_desktop.imaging.image import Image

PLANES = ("axial", "coronal", "sagittal")

#: ``plane -> (horizontal, vertical, normal)`` canonical world axes (0 = R, 1 = A, 2 = S).
PLANE_AXES: dict[str, tuple[int, int, int]] = {"axial": (0, 1, 2), "coronal": (0, 2, 1), "sagittal": (1, 2, 0)}

#: Letters of the positive and negative direction of each world axis.
AXIS_LETTERS = (("R", "L"), ("A", "P"), ("S", "I"))


def _check_plane(plane: str) -> tuple[int, int, int]:
    if plane not in PLANE_AXES:
        raise ImageDataError(f"unknown plane {plane!r}; use one of {', '.join(PLANES)}")
    return PLANE_AXES[plane]


def assign_axes(linear: np.ndarray) -> tuple[tuple[int, int, int], tuple[bool, bool, bool]]:
    """For each voxel axis (column, row, slice): the world axis it is closest to and whether it runs backwards.

    The largest direction cosines are assigned first, so that a 45-degree tie never gives two voxel
    axes the same world axis.
    """
    cosines = np.abs(np.asarray(linear, dtype=np.float64)[:3, :3])
    norms = np.linalg.norm(cosines, axis=0)
    if np.any(norms <= 0) or not np.all(np.isfinite(cosines)):
        raise ImageDataError("the volume's affine is degenerate (a voxel axis has no direction)",
                             hint="check the file's orientation header")
    cosines = cosines / norms
    world_of = [-1, -1, -1]
    taken: set[int] = set()
    for flat in np.argsort(-cosines, axis=None):
        world, voxel = divmod(int(flat), 3)
        if world_of[voxel] < 0 and world not in taken:
            world_of[voxel] = world
            taken.add(world)
    flipped = tuple(bool(linear[world_of[n], n] < 0) for n in range(3))
    return (world_of[0], world_of[1], world_of[2]), flipped  # type: ignore[return-value]


def plane_labels(plane: str) -> dict[str, str]:
    """Anatomical letters at the ``left``, ``right``, ``top`` and ``bottom`` edges of ``plane``."""
    horizontal, vertical, _ = _check_plane(plane)
    return {"left": AXIS_LETTERS[horizontal][0], "right": AXIS_LETTERS[horizontal][1],
            "top": AXIS_LETTERS[vertical][0], "bottom": AXIS_LETTERS[vertical][1]}


class VolumeGeometry:
    """World <-> voxel <-> screen mapping of one volume's grid (see the module docstring).

    Voxel coordinates are ``(i, j, k)`` = (column, row, slice) as in :class:`Image`'s affine;
    canonical coordinates ``t`` index the grid along (R, A, S).
    """

    def __init__(self, affine: np.ndarray, grid_shape: tuple[int, int, int]):
        self.affine = np.asarray(affine, dtype=np.float64)
        self._inverse = np.linalg.inv(self.affine)
        nz, ny, nx = (int(n) for n in grid_shape)
        self.voxel_shape = (nx, ny, nz)
        world_of, flipped = assign_axes(self.affine[:3, :3])
        self.world_of = world_of
        self.flipped = flipped
        self.voxel_of = tuple(world_of.index(c) for c in range(3))
        spacing = np.linalg.norm(self.affine[:3, :3], axis=0)
        self.size = tuple(self.voxel_shape[self.voxel_of[c]] for c in range(3))
        self.spacing = tuple(float(spacing[self.voxel_of[c]]) for c in range(3))
        self.center = self.voxel_to_world((np.asarray(self.voxel_shape, dtype=np.float64) - 1) / 2)

    @classmethod
    def of(cls, image: Image) -> VolumeGeometry:
        """The geometry of a ``ZYX``/``ZYXC`` image."""
        if not image.is_volume:
            raise ImageDataError(f"planes need a volume, got axes {image.axes!r}")
        return cls(image.affine, image.grid_shape)

    # ---------------------------------------------------------------- world <-> voxel
    def world_to_voxel(self, xyz: np.ndarray) -> np.ndarray:
        """Continuous voxel ``(i, j, k)`` of world point ``xyz`` (mm)."""
        return (self._inverse @ np.append(np.asarray(xyz, dtype=np.float64), 1.0))[:3]

    def voxel_to_world(self, ijk: np.ndarray) -> np.ndarray:
        """World point (mm) of voxel ``(i, j, k)`` (may be fractional)."""
        return (self.affine @ np.append(np.asarray(ijk, dtype=np.float64), 1.0))[:3]

    def nearest_voxel(self, xyz: np.ndarray) -> tuple[int, int, int] | None:
        """The voxel containing ``xyz``, or None outside the grid."""
        ijk = np.floor(self.world_to_voxel(xyz) + 0.5).astype(int)
        if np.all(ijk >= 0) and np.all(ijk < np.asarray(self.voxel_shape)):
            return (int(ijk[0]), int(ijk[1]), int(ijk[2]))
        return None

    def voxel_to_canonical(self, ijk: np.ndarray) -> np.ndarray:
        """Canonical ``t`` (along R, A, S) of voxel ``ijk``."""
        t = np.empty(3)
        for c in range(3):
            n = self.voxel_of[c]
            t[c] = self.voxel_shape[n] - 1 - ijk[n] if self.flipped[n] else ijk[n]
        return t

    def canonical_to_voxel(self, t: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`voxel_to_canonical`."""
        ijk = np.empty(3)
        for c in range(3):
            n = self.voxel_of[c]
            ijk[n] = self.voxel_shape[n] - 1 - t[c] if self.flipped[n] else t[c]
        return ijk

    # ---------------------------------------------------------------- planes
    def slice_count(self, plane: str) -> int:
        """Number of slices of ``plane`` (along its normal)."""
        return int(self.size[_check_plane(plane)[2]])

    def slice_index(self, plane: str, xyz: np.ndarray) -> int:
        """The slice of ``plane`` nearest to world point ``xyz`` (clipped to the grid)."""
        normal = _check_plane(plane)[2]
        t = self.voxel_to_canonical(self.world_to_voxel(xyz))[normal]
        return int(np.clip(np.floor(t + 0.5), 0, self.size[normal] - 1))

    def at_slice(self, plane: str, index: int, xyz: np.ndarray) -> np.ndarray:
        """``xyz`` moved through ``plane`` to the centre of slice ``index`` (clipped)."""
        normal = _check_plane(plane)[2]
        t = self.voxel_to_canonical(self.world_to_voxel(xyz))
        t[normal] = float(np.clip(index, 0, self.size[normal] - 1))
        return self.voxel_to_world(self.canonical_to_voxel(t))

    def plane_pixels(self, pixels: np.ndarray, plane: str, index: int) -> np.ndarray:
        """Slice ``index`` of ``plane`` from ``pixels`` (``ZYX`` or ``ZYXC``) as ``[row, col(, C)]`` in screen order."""
        horizontal, vertical, normal = _check_plane(plane)
        grid = np.moveaxis(pixels, (0, 1, 2), (2, 1, 0))  # -> [i, j, k(, C)]
        order = [self.voxel_of[c] for c in range(3)]
        grid = np.transpose(grid, order + list(range(3, grid.ndim)))  # -> [tR, tA, tS(, C)]
        flips = tuple(slice(None, None, -1) if self.flipped[self.voxel_of[c]] else slice(None) for c in range(3))
        grid = grid[flips]
        index = int(np.clip(index, 0, self.size[normal] - 1))
        taken = np.take(grid, index, axis=normal)  # remaining axes keep their R, A, S order
        remaining = [c for c in range(3) if c != normal]
        taken = np.moveaxis(taken, (remaining.index(vertical), remaining.index(horizontal)), (0, 1))
        return np.ascontiguousarray(taken[::-1, ::-1])  # screen axes run against the world axes

    def _screen_from_t(self, axis: int, t: float) -> float:
        return -(float(self.center[axis]) + (t - (self.size[axis] - 1) / 2.0) * self.spacing[axis])

    def _t_from_screen(self, axis: int, u: float) -> float:
        return (-u - float(self.center[axis])) / self.spacing[axis] + (self.size[axis] - 1) / 2.0

    def plane_rect(self, plane: str) -> tuple[float, float, float, float]:
        """``(left, top, width, height)`` in screen millimetres of ``plane``'s pixels (voxel edges)."""
        horizontal, vertical, _ = _check_plane(plane)
        left = self._screen_from_t(horizontal, self.size[horizontal] - 1) - self.spacing[horizontal] / 2
        top = self._screen_from_t(vertical, self.size[vertical] - 1) - self.spacing[vertical] / 2
        return (left, top, self.size[horizontal] * self.spacing[horizontal],
                self.size[vertical] * self.spacing[vertical])

    def screen_point(self, plane: str, xyz: np.ndarray) -> tuple[float, float]:
        """Screen ``(u, v)`` mm of world point ``xyz`` in ``plane``."""
        horizontal, vertical, _ = _check_plane(plane)
        t = self.voxel_to_canonical(self.world_to_voxel(xyz))
        return (self._screen_from_t(horizontal, t[horizontal]), self._screen_from_t(vertical, t[vertical]))

    def world_from_screen(self, plane: str, u: float, v: float, xyz: np.ndarray) -> np.ndarray:
        """World point under screen ``(u, v)`` of ``plane``, on the slice that holds ``xyz``."""
        horizontal, vertical, normal = _check_plane(plane)
        t = self.voxel_to_canonical(self.world_to_voxel(xyz))
        t[normal] = float(np.clip(np.floor(t[normal] + 0.5), 0, self.size[normal] - 1))
        t[horizontal] = self._t_from_screen(horizontal, u)
        t[vertical] = self._t_from_screen(vertical, v)
        return self.voxel_to_world(self.canonical_to_voxel(t))

    def clamp(self, xyz: np.ndarray) -> np.ndarray:
        """``xyz`` moved onto the nearest point of the grid (voxel centres' bounding box)."""
        ijk = np.clip(self.world_to_voxel(xyz), 0, np.asarray(self.voxel_shape, dtype=np.float64) - 1)
        return self.voxel_to_world(ijk)


def value_at(image: Image, geometry: VolumeGeometry, xyz: np.ndarray) -> float | np.ndarray | None:
    """The value (or colour) of the voxel of ``image`` containing world point ``xyz``; None outside."""
    voxel = geometry.nearest_voxel(xyz)
    if voxel is None:
        return None
    i, j, k = voxel
    value = image.pixels[k, j, i]
    return float(value) if np.ndim(value) == 0 else np.asarray(value)
