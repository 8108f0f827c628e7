"""Colour look-up tables: built-in grey/hot/PET/thermal tables plus MRIcron ``.lut`` files.

Every table is a ``(256, 3)`` uint8 array; :func:`lookup_table` returns it by
display name.  MRIcron tables are 768 bytes (256 reds, 256 greens, 256 blues);
ImageJ-style tables with a 32-byte header are accepted too.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np

from textdifuse_desktop.gui.resources import lut_dir

log = logging.getLogger(__name__)


def _ramp(points: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """Piecewise-linear 256-entry table through ``(position 0..1, rgb)`` points."""
    xs = np.array([p for p, _ in points])
    colours = np.array([c for _, c in points], dtype=np.float64)
    grid = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(grid, xs, colours[:, k]) for k in range(3)], axis=1)
    return np.round(table).astype(np.uint8)


def _builtin_tables() -> dict[str, np.ndarray]:
    return {
        "Grey": _ramp([(0, (0, 0, 0)), (1, (255, 255, 255))]),
        "Inverted grey": _ramp([(0, (255, 255, 255)), (1, (0, 0, 0))]),
        "Hot": _ramp([(0, (0, 0, 0)), (0.375, (255, 0, 0)), (0.75, (255, 255, 0)), (1, (255, 255, 255))]),
        "PET (rainbow)": _ramp(
            [(0, (0, 0, 0)), (0.15, (60, 0, 120)), (0.35, (0, 0, 255)), (0.5, (0, 200, 120)),
             (0.65, (0, 255, 0)), (0.8, (255, 255, 0)), (0.92, (255, 80, 0)), (1, (255, 255, 255))]
        ),
        "Thermal (ironbow)": _ramp(
            [(0, (0, 0, 16)), (0.2, (60, 0, 140)), (0.45, (200, 30, 120)), (0.7, (250, 130, 0)),
             (0.9, (255, 220, 60)), (1, (255, 255, 230))]
        ),
        "Cool": _ramp([(0, (0, 0, 0)), (0.5, (0, 120, 255)), (1, (180, 255, 255))]),
    }


def read_lut(path: Path) -> np.ndarray:
    """Read an MRIcron/ImageJ binary ``.lut`` file into a ``(256, 3)`` uint8 table.

    Raises
    ------
    ValueError
        The file is not a 768-byte table (optionally after a 32-byte header).
    """
    data = Path(path).read_bytes()
    if len(data) == 800:  # ImageJ: 32-byte header then the planar table
        data = data[32:]
    if len(data) != 768:
        raise ValueError(f'"{path}": {len(data)} bytes, expected a 768-byte binary colour table')
    return np.frombuffer(data, dtype=np.uint8).reshape(3, 256).T.copy()


@functools.lru_cache(maxsize=1)
def available_colormaps() -> dict[str, np.ndarray]:
    """All tables by display name: built-ins first, then the ``.lut`` files in resources/luts."""
    tables = _builtin_tables()
    folder = lut_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.lut"), key=lambda p: p.stem.lower()):
            try:
                tables[f"{path.stem} (MRIcron)"] = read_lut(path)
            except (OSError, ValueError) as error:
                log.warning("skipping colour table %s: %s", path, error)
    return tables


def colormap_names() -> list[str]:
    """Display names of every colour map, in menu order."""
    return list(available_colormaps())


def lookup_table(name: str) -> np.ndarray:
    """The ``(256, 3)`` uint8 table called ``name``; unknown names give grey."""
    tables = available_colormaps()
    if name not in tables:
        log.warning("unknown colour map %r; using grey", name)
        return tables["Grey"]
    return tables[name]


def default_colormap(modality: str) -> str:
    """A sensible default per modality: PET/SPECT rainbow, IR thermal, the rest grey."""
    if modality in ("PT", "NM"):
        return "PET (rainbow)"
    return "Grey"
