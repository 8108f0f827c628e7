"""Helpers shared by the GUI tests (imported as ``gui_helpers``; tests/gui is on sys.path)."""

from __future__ import annotations

import numpy as np

from textdifuse_desktop.imaging.image import Image, Provenance, affine_from_spacing


def make_volume(shape: tuple[int, int, int] = (5, 24, 32), units: str = "HU", modality: str = "CT",
                seed: int = 0, path: str = "") -> Image:
    """A small synthetic volume with a bright block (values in ``units``)."""
    rng = np.random.default_rng(seed)
    pixels = rng.normal(0, 10, shape).astype(np.float32)
    pixels[:, 6:14, 8:20] += 800.0
    return Image(pixels, axes="ZYX", affine=affine_from_spacing((1.0, 1.0, 2.0)), modality=modality, units=units,
                 provenance=Provenance(source_paths=(path,) if path else ()))
