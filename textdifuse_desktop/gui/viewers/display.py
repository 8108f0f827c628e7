"""Qt-free display helpers used by the panes: planes of volumes and videos, value read-outs, presets.

A *display source* is whatever a pane shows: an :class:`Image` (2D, volume
``ZYX[C]`` or frames ``TYX[C]``) or a lazy video sequence (anything with
``frame_count`` and ``frame(i)``).  :func:`plane` returns its 2D plane ``i``
as an :class:`Image`, so the panes never care which kind they hold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.imaging.intensity import (
    WINDOW_PRESETS,
    display_window,
    percentile_window,
)

#: Presets offered in the display panel: label -> (center, width, units the preset expects or None).
PRESETS: dict[str, tuple[float, float, str | None]] = {
    "Brain (C40 W80 HU)": (*WINDOW_PRESETS["brain"], "HU"),
    "Soft tissue (C40 W400 HU)": (*WINDOW_PRESETS["soft tissue"], "HU"),
    "Bone (C480 W2500 HU)": (*WINDOW_PRESETS["bone"], "HU"),
    "Lung (C-600 W1500 HU)": (*WINDOW_PRESETS["lung"], "HU"),
    "PET SUV 0-10": (*WINDOW_PRESETS["PET SUV 0-10"], "SUV"),
}
AUTO_PRESET = "Auto (0.5-99.5 %)"
THERMAL_PRESET = "Thermal auto (2-98 %)"
FULL_PRESET = "Full range"
DEFAULT_PRESET = "Image default"


def is_video(source: Any) -> bool:
    """True for a lazy video sequence (not an :class:`Image`)."""
    return not isinstance(source, Image) and hasattr(source, "frame_count") and hasattr(source, "frame")


def plane_count(source: Any) -> int:
    """Number of slices (volumes), frames (videos, ``TYX``) or 1 (2D)."""
    if source is None:
        return 0
    if is_video(source):
        return int(source.frame_count)
    if source.axes[0] in "ZT":
        return int(source.pixels.shape[0])
    return 1


def plane(source: Any, index: int) -> Image:
    """2D plane ``index`` of ``source`` as an Image with axes ``YX`` or ``YXC``.

    The index is clipped to the valid range.
    """
    count = plane_count(source)
    index = int(min(max(index, 0), max(count - 1, 0)))
    if is_video(source):
        return source.frame(index)
    if source.axes[0] in "ZT":
        affine = source.affine.copy()
        if source.axes[0] == "Z":
            affine[:3, 3] = affine[:3, 3] + affine[:3, 2] * index
        return source.with_pixels(source.pixels[index], axes=source.axes[1:], affine=affine)
    return source


def rgb_planes(image: Image) -> bool:
    """True when the plane is colour (shown without a colour map)."""
    return image.has_channels and image.pixels.shape[-1] in (3, 4)


def window_for_preset(preset: str, image: Image) -> tuple[float, float]:
    """``(center, width)`` for a preset label applied to ``image`` (a 2D plane or volume)."""
    if preset in PRESETS:
        center, width, _ = PRESETS[preset]
        return (float(center), float(width))
    if preset == AUTO_PRESET:
        return percentile_window(image.pixels)
    if preset == THERMAL_PRESET:
        return percentile_window(image.pixels, 2.0, 98.0)
    if preset == FULL_PRESET:
        low, high = image.value_range()
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            return (0.5, 1.0)
        return ((low + high) / 2.0, high - low)
    return display_window(image)


def preset_applies(preset: str, units: str) -> bool:
    """Whether ``preset`` makes sense for data in ``units`` (HU presets need HU, SUV needs SUV)."""
    expected = PRESETS.get(preset, (0, 0, None))[2]
    return expected is None or expected == units


def format_number(value: float) -> str:
    """Compact value text: integers plainly, others with 4 significant digits."""
    if not math.isfinite(value):
        return "NaN"
    if abs(value - round(value)) < 1e-6 and abs(value) < 1e7:
        return str(int(round(value)))
    return f"{value:.4g}"


def value_text(image: Image | None, x: float, y: float) -> str:
    """Text for the value of a 2D plane at ``(x, y)`` (column, row), with units; ``""`` outside."""
    if image is None:
        return ""
    col, row = int(math.floor(x)), int(math.floor(y))
    height, width = image.pixels.shape[:2]
    if not (0 <= row < height and 0 <= col < width):
        return ""
    value = image.pixels[row, col]
    units = f" {image.units}" if image.units else ""
    units = units.replace("degC", "\u00b0C")
    if np.ndim(value) == 0:
        return format_number(float(value)) + units
    return "RGB(" + ", ".join(str(int(round(float(v)))) for v in np.ravel(value)[:3]) + ")"
