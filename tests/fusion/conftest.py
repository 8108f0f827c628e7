"""Fixtures for the fusion tests: a per-pixel stand-in for the diffusion model."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import pytest

from textdifuse_desktop.fusion._tiling import OutOfDeviceMemory


class PixelBackend:
    """Fuses with ``max(ya * ka, yb * kb)`` per pixel; records every call.

    Being per pixel, tiled and untiled runs must agree exactly, which tests the
    tiling/padding machinery independently of the network.
    """

    def __init__(self, steps: int = 3, multiple: int = 16, oom_above: int | None = None):
        self.steps = steps
        self.multiple = multiple
        self.oom_above = oom_above
        self.calls: list[dict] = []

    def run(self, ya, yb, ka, kb, preview) -> Generator[np.ndarray | None, None, np.ndarray]:
        assert ya.shape == yb.shape and ya.ndim == 3
        assert ya.shape[1] % self.multiple == 0 and ya.shape[2] % self.multiple == 0
        self.calls.append({"shape": ya.shape, "kappa": ka is not None or kb is not None})
        if self.oom_above is not None and max(ya.shape[1:]) > self.oom_above:
            raise OutOfDeviceMemory("fake", RuntimeError("CUDA out of memory"))
        ka = np.ones_like(ya) if ka is None else ka
        kb = np.ones_like(yb) if kb is None else kb
        out = np.clip(np.maximum(ya * ka, yb * kb), 0, 1).astype(np.float32)
        for step in range(self.steps):
            yield out * (step + 1) / self.steps if preview else None
        return out


@pytest.fixture
def pixel_backend() -> type[PixelBackend]:
    """The PixelBackend class (instantiate with the wanted steps/multiple)."""
    return PixelBackend


@pytest.fixture(autouse=True)
def _fresh_engine_cache() -> Generator[None, None, None]:
    from textdifuse_desktop.fusion import engine

    engine._BASE_CACHE.clear()
    yield
    engine._BASE_CACHE.clear()
