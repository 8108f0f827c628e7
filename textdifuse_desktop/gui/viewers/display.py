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
    data_window,
    display_window,
    percentile_window,
    suv_range_window,
)

#: Presets offered in the display panel: label -> (center, width, units the preset expects or None).
PRESETS: dict[str, tuple[float, float, str | None]] = {
    "Brain (C40 W80 HU)": (*WINDOW_PRESETS["brain"], "HU"),
    "Soft tissue (C40 W400 HU)": (*WINDOW_PRESETS["soft tissue"], "HU"),
    "Bone (C480 W2500 HU)": (*WINDOW_PRESETS["bone"], "HU"),
    "Lung (C-600 W1500 HU)": (*WINDOW_PRESETS["lung"], "HU"),
}
AUTO_PRESET = "Auto (0.5-99.5 %)"
THERMAL_PRESET = "Thermal auto (2-98 %)"
FULL_PRESET = "Full range"
#: The window an image opens with: from its data (:func:`imaging.intensity.data_window`).
DEFAULT_PRESET = "Default (from the data)"
#: The window stored in the file (DICOM WindowCenter/Width...), when it has one.
FILE_PRESET = "Window in the file"
#: SUV from 0 to the body's robust maximum, rounded up (follows the data's range).
SUV_PRESET = "PET SUV 0-max (from the data)"
#: Presets computed from the data that only make sense in some units.
DATA_PRESET_UNITS: dict[str, str] = {SUV_PRESET: "SUV"}


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
    if preset == SUV_PRESET:
        return suv_range_window(image.pixels)
    if preset == FILE_PRESET:
        return display_window(image)
    return data_window(image)


def default_window(source: Any, plane_image: Image) -> tuple[float, float]:
    """The window a pane opens ``source`` with (:data:`DEFAULT_PRESET`, see :func:`window_for_source`)."""
    return window_for_source(DEFAULT_PRESET, source, plane_image)


def window_for_source(preset: str, source: Any, plane_image: Image) -> tuple[float, float]:
    """``preset`` applied to what a pane shows: the data-driven presets (default, SUV 0-max) look at the
    whole volume, so that every slice shares one window; the others, and videos, at the plane on screen."""
    whole = preset in (DEFAULT_PRESET, SUV_PRESET) and isinstance(source, Image)
    return window_for_preset(preset, source if whole else plane_image)


def preset_applies(preset: str, units: str) -> bool:
    """Whether ``preset`` makes sense for data in ``units`` (HU presets need HU, SUV needs SUV)."""
    expected = PRESETS[preset][2] if preset in PRESETS else DATA_PRESET_UNITS.get(preset)
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
