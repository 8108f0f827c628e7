"""One named region that steers the fusion, the limits on its strength, and the brush's footprints.

Each :class:`Region` favours one source (``"A"`` or ``"B"``, e.g. infrared or
PET) with a strength ``kappa``: 1.0 changes nothing, values above 1 favour the
region's source and values below 1 suppress it, within :data:`KAPPA_RANGE`.
:class:`~textdifuse_desktop.session.regions.RegionSet` holds them in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Accepted kappa range (1.0 = no change).
KAPPA_RANGE = (0.5, 3.0)
DEFAULT_KAPPA = 1.5
SOURCES = ("A", "B")
ORIGINS = ("brush", "box", "text", "proposal")

#: Distinct, colour-blind-friendly overlay colours (Okabe-Ito), used in turn.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66),
    (0, 114, 178), (213, 94, 0), (204, 121, 167), (255, 255, 255),
)

Box = tuple[float, float, float, float]


@dataclass(eq=False)
class Region:
    """One named region.

    Attributes
    ----------
    name:
        Display name (unique names are not enforced).
    mask:
        Boolean array with the region set's shape.
    source:
        ``"A"`` or ``"B"``: the source the region favours.
    kappa:
        Strength, within :data:`KAPPA_RANGE`; 1.0 = no change.
    origin:
        How it was made: ``"brush"``, ``"box"``, ``"text"`` or ``"proposal"``.
    color:
        Overlay colour ``(r, g, b)`` 0..255.
    visible:
        Hidden regions are neither drawn nor applied.
    provenance:
        What produced the mask, for the user: e.g. ``"hot-object proposal
        for 'person'"`` or ``"CLIP ViT-B-32: 'person'"``; empty for drawn ones.
    """

    name: str
    mask: np.ndarray
    source: str = "B"
    kappa: float = DEFAULT_KAPPA
    origin: str = "brush"
    color: tuple[int, int, int] = PALETTE[0]
    visible: bool = True
    provenance: str = ""

    @property
    def pixel_count(self) -> int:
        """Number of mask pixels set."""
        return int(np.count_nonzero(self.mask))


def check_source(source: str) -> str:
    """``source`` upper-cased, or ValueError unless it is ``"A"`` or ``"B"``."""
    source = str(source).upper()
    if source not in SOURCES:
        raise ValueError(f"source must be 'A' or 'B', got {source!r}")
    return source


def clamp_kappa(kappa: float) -> float:
    """Clip ``kappa`` into :data:`KAPPA_RANGE`."""
    return float(min(max(float(kappa), KAPPA_RANGE[0]), KAPPA_RANGE[1]))


def disc_footprint(center_xy: tuple[float, float], radius: float, plane_shape: tuple[int, ...]
                   ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """``((y0, y1, x0, x1), disc)``: the pixels within ``radius`` of ``(x, y)``, clipped to the plane.

    None when the disc misses the plane.  Radii under half a pixel paint half a pixel.
    """
    cx, cy = float(center_xy[0]), float(center_xy[1])
    r = max(float(radius), 0.5)
    h, w = plane_shape
    y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)) + 1, h)
    x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)) + 1, w)
    if y0 >= y1 or x0 >= x1:
        return None
    yy, xx = np.ogrid[y0:y1, x0:x1]
    return (y0, y1, x0, x1), (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def box_footprint(box: Box, plane_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` of the pixels whose centres lie in the box ``(x0, y0, x1, y1)``.

    Corners may come in any order; the result is clipped to the plane, None when empty.
    """
    xa, xb = sorted((float(box[0]), float(box[2])))
    ya, yb = sorted((float(box[1]), float(box[3])))
    h, w = plane_shape
    x0, x1 = max(int(np.ceil(xa)), 0), min(int(np.floor(xb)) + 1, w)
    y0, y1 = max(int(np.ceil(ya)), 0), min(int(np.floor(yb)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    return y0, y1, x0, x1
