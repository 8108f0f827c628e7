"""Slice-to-slice consistency of a fused volume (issue 18: no flicker in coronal and sagittal reformats).

A fusion that treats every slice on its own can change tone from one slice to the next; in a reformat
across the slices this shows as stripes.  :func:`neighbour_difference` is the mean absolute difference
between neighbouring slices along one axis; :func:`flicker_report` compares that figure of the fused
volume with the larger one of the two sources, per axis.  A ratio above 1.10 means the fusion adds
more than 10 % of slice-to-slice change that neither source has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textdifuse_desktop.errors import ImageDataError

AXIS_NAMES = ("Z (slice axis)", "Y (rows)", "X (columns)")
#: Largest accepted ratio of fused to source neighbour difference (issue 18).
MAX_RATIO = 1.10


def neighbour_difference(volume: np.ndarray, axis: int, mask: np.ndarray | None = None) -> float:
    """Mean ``|v[i+1] - v[i]|`` along ``axis`` of a ``(Z, Y, X)`` volume, over pairs where ``mask`` holds at both."""
    values = np.asarray(volume, dtype=np.float32)
    if values.ndim != 3:
        raise ImageDataError(f"a (Z, Y, X) volume is needed, got shape {values.shape}")
    if values.shape[axis] < 2:
        raise ImageDataError(f"axis {axis} has {values.shape[axis]} slice(s); two are needed")
    diff = np.abs(np.diff(values, axis=axis))
    if mask is None:
        return float(diff.mean(dtype=np.float64))
    both = np.logical_and(np.take(mask, range(mask.shape[axis] - 1), axis=axis),
                          np.take(mask, range(1, mask.shape[axis]), axis=axis))
    return float(diff[both].mean(dtype=np.float64)) if both.any() else 0.0


@dataclass
class AxisFlicker:
    """Neighbour differences along one axis: fused, each source, and fused / max(sources)."""

    axis: str
    fused: float
    source_a: float
    source_b: float

    @property
    def ratio(self) -> float:
        """Fused difference over the larger source difference (inf when both sources are constant)."""
        reference = max(self.source_a, self.source_b)
        return self.fused / reference if reference > 0 else (0.0 if self.fused == 0 else float("inf"))

    @property
    def passes(self) -> bool:
        """True when the fused volume changes at most 10 % more between slices than the larger source."""
        return self.ratio <= MAX_RATIO


def flicker_report(a: np.ndarray, b: np.ndarray, fused: np.ndarray) -> list[AxisFlicker]:
    """Per axis, the neighbour differences of ``fused`` and of the sources (all on one intensity scale).

    Only voxels where a source or the fused volume is non-zero count, so that a large black background
    does not dilute the figure.
    """
    if not (np.shape(a) == np.shape(b) == np.shape(fused)):
        raise ImageDataError(f"volumes differ in shape: {np.shape(a)}, {np.shape(b)}, {np.shape(fused)}")
    mask = (np.asarray(a) > 0) | (np.asarray(b) > 0) | (np.asarray(fused) > 0)
    return [
        AxisFlicker(name, neighbour_difference(fused, axis, mask), neighbour_difference(a, axis, mask),
                    neighbour_difference(b, axis, mask))
        for axis, name in enumerate(AXIS_NAMES)
    ]
