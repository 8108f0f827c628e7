"""Turn two source Images into luminance stacks for fusion, and the result back into an Image.

Intensity convention (documented for users in the result metadata):

* Each source is mapped to the model's [0, 1] range through its fusion
  window (:func:`fusion_window`): for PET and SPECT the body's 1-99.5 %
  percentile window (:func:`~textdifuse_desktop.imaging.intensity.body_percentile_window`;
  the file's own window is often far wider than the data, and the uptake
  would reach the model nearly black); otherwise the display window:
  ``image.window`` when set, the full 0..255 range for 8-bit-looking data
  without units, else a 0.5-99.5 % percentile window
  (:func:`textdifuse_desktop.imaging.intensity.display_window`).  Two sources
  sharing one window (kept units, :func:`shared_unit_window`) keep it.
  Values outside the window are clipped.
* Colour sources are windowed per channel to 0..255 and split into Y/CbCr
  (full-range BT.601); only Y is fused.  The chroma of the colour source
  (:func:`~textdifuse_desktop.imaging.color.chroma_source`) is put back
  on the fused Y; two grey sources give a grey result.
* The fused result is float32 in 0..255 (``window = (127.5, 255)``), with
  source A's geometry and provenance and ``modality = "OT"``: its values are
  display intensities in arbitrary units, never HU or SUV.  Its
  ``meta["fusion"]`` records both sources' modalities and units
  (``source_modalities`` / ``source_units``) so that writers can say what was
  fused with what.
* Keeping physical units is explicit (``--keep-units``): both sources must
  have the same modality and the same physical unit;
  :func:`shared_unit_window` gives them one common window covering both
  value ranges (so nothing is clipped) and :func:`restore_units` maps the
  fused 0..255 back through that window, so that the values really are in
  the sources' units (a re-weighting within one modality).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from textdifuse_desktop.errors import GeometryError, ImageDataError
from textdifuse_desktop.imaging.image import Image, tone_corrections
from textdifuse_desktop.imaging.intensity import (
    UPTAKE_MODALITIES,
    body_percentile_window,
    display_window,
    window_to_unit,
)

log = logging.getLogger(__name__)


@dataclass
class PreparedPair:
    """Luminance stacks ``(N, H, W)`` in [0, 1] plus what is needed to rebuild an Image."""

    ya: np.ndarray
    yb: np.ndarray
    chroma: np.ndarray | None  # (N, H, W, 2) CbCr of the colour source, or None
    chroma_from: str | None  # "a", "b" or None
    windows: dict[str, tuple[float, float]]
    stacked: bool  # True for volumes/frames (ZYX/TYX), False for 2D
    modalities: dict[str, str] | None = None  # {"a": "CT", "b": "PT"}
    units: dict[str, str] | None = None  # {"a": "HU", "b": "SUV"}


def _label(image: Image, name: str) -> str:
    paths = image.provenance.source_paths
    return f"source {name} ({paths[0]})" if paths else f"source {name}"


def check_sources(a: Image, b: Image) -> None:
    """Raise ImageDataError for NaN/inf, GeometryError for sources not on one grid."""
    for name, image in (("A", a), ("B", b)):
        if not np.isfinite(image.pixels).all():
            path = image.provenance.source_paths[0] if image.provenance.source_paths else None
            raise ImageDataError(
                f"{_label(image, name)} contains NaN or infinite values",
                path=path,
                hint="fill or mask the invalid voxels before fusing",
            )
    if a.is_volume != b.is_volume or a.spatial_shape != b.spatial_shape:
        raise GeometryError(
            f"sources are not on one grid: A is {a.axes} {a.spatial_shape}, B is {b.axes} {b.spatial_shape}",
            hint="align them first (imaging.align.align_pair; the CLI and GUI do this automatically)",
        )


def _rgb(pixels: np.ndarray) -> np.ndarray:
    channels = pixels.shape[-1]
    if channels >= 3:
        return pixels[..., :3]
    return np.repeat(pixels[..., :1], 3, axis=-1)


def _split(image: Image, window: tuple[float, float]) -> tuple[np.ndarray, np.ndarray | None]:
    """``(Y stack (N,H,W) in [0,1], CbCr stack (N,H,W,2) in 0..255 or None)``."""
    from textdifuse_desktop.imaging.color import rgb_to_ycbcr

    pixels = image.pixels
    if not image.has_channels or pixels.shape[-1] == 1:
        grey = pixels[..., 0] if image.has_channels else pixels
        unit = window_to_unit(grey, *window)
        return (unit if unit.ndim == 3 else unit[None]), None
    rgb255 = window_to_unit(_rgb(pixels), *window) * np.float32(255.0)
    stack = rgb255 if rgb255.ndim == 4 else rgb255[None]
    ycc = np.stack([rgb_to_ycbcr(plane) for plane in stack]).astype(np.float32)
    y = np.clip(ycc[..., 0] / np.float32(255.0), 0.0, 1.0)
    return y, ycc[..., 1:]


def fusion_window(image: Image) -> tuple[float, float]:
    """The (centre, width) window that maps ``image`` to the model's [0, 1] input (see the module docstring)."""
    if str(image.modality or "").upper() in UPTAKE_MODALITIES and not image.has_channels:
        return body_percentile_window(image.pixels)
    return display_window(image)


def prepare_pair(a: Image, b: Image) -> PreparedPair:
    """Check and convert two sources on one grid into luminance stacks in [0, 1]."""
    from textdifuse_desktop.imaging.color import chroma_source

    check_sources(a, b)
    if a.window is not None and a.window == b.window:
        wa = wb = a.window  # one shared window (kept units): the result maps back through it
    else:
        wa, wb = fusion_window(a), fusion_window(b)
    ya, ca = _split(a, wa)
    yb, cb = _split(b, wb)
    which = chroma_source(a, b)
    chroma = {"a": ca, "b": cb}.get(which) if which else None
    if chroma is None:
        which = None
    return PreparedPair(
        ya=np.ascontiguousarray(ya, dtype=np.float32),
        yb=np.ascontiguousarray(yb, dtype=np.float32),
        chroma=chroma,
        chroma_from=which,
        windows={"a": (float(wa[0]), float(wa[1])), "b": (float(wb[0]), float(wb[1]))},
        stacked=a.is_volume or a.axes.startswith("T"),
        modalities={"a": a.modality, "b": b.modality},
        units={"a": a.units, "b": b.units},
    )


def as_stack(array: np.ndarray | None, shape: tuple[int, int, int], name: str) -> np.ndarray | None:
    """A kappa / mask map as a float32 ``(N, H, W)`` stack (2D maps are broadcast over slices)."""
    if array is None:
        return None
    values = np.asarray(array, dtype=np.float32)
    if values.shape == shape[1:]:
        values = np.broadcast_to(values, shape).copy()
    if values.shape != shape:
        raise GeometryError(
            f"{name} has shape {np.asarray(array).shape}, expected {shape[1:]} or {shape}",
            hint="region maps must be on the grid of the aligned sources",
        )
    if not np.isfinite(values).all():
        raise ImageDataError(f"{name} contains NaN or infinite values")
    return np.ascontiguousarray(values)


def build_result_image(a: Image, pair: PreparedPair, fused_unit: np.ndarray, meta: dict[str, Any]) -> Image:
    """The fused Image: Y in 0..255, chroma restored, geometry/provenance of source A."""
    from textdifuse_desktop.imaging.color import merge_luma

    y255 = np.clip(fused_unit, 0.0, 1.0) * np.float32(255.0)
    spatial_axes = a.axes[:-1] if a.has_channels else a.axes
    if pair.chroma is not None:
        pixels = merge_luma(y255, pair.chroma)
        axes = spatial_axes + "C"
    else:
        pixels, axes = y255.astype(np.float32), spatial_axes
    if not pair.stacked:
        pixels = pixels[0]
    record = meta.get("fusion")
    if isinstance(record, dict):
        record.setdefault("source_modalities", dict(pair.modalities or {}))
        record.setdefault("source_units", dict(pair.units or {}))
    return Image(
        pixels=pixels,
        axes=axes,
        affine=a.affine.copy(),
        modality="OT",
        units="",
        window=(127.5, 255.0),
        provenance=a.provenance,
        meta=meta,
    )


#: Units in which a fusion may keep its values (``--keep-units``).
PHYSICAL_UNITS = ("HU", "SUV", "Bq/ml", "degC")


def check_units_compatible(a: Image, b: Image) -> None:
    """Raise ImageDataError unless A and B are grey, of one modality and in one physical unit."""
    if a.has_channels or b.has_channels:
        raise ImageDataError("physical units cannot be kept for colour sources",
                             hint="drop --keep-units, or fuse grey sources")
    if a.modality != b.modality or a.units != b.units or a.units not in PHYSICAL_UNITS:
        raise ImageDataError(
            f"physical units can only be kept for two sources of one modality in one unit "
            f"({', '.join(PHYSICAL_UNITS)}); A is {a.modality} in {a.units or 'arbitrary units'}, "
            f"B is {b.modality} in {b.units or 'arbitrary units'}",
            hint="drop --keep-units: the fused values are then written in arbitrary units",
        )


def shared_unit_window(a: Image, b: Image) -> tuple[Image, Image]:
    """A and B with one window spanning both value ranges (see :func:`restore_units`)."""
    check_units_compatible(a, b)
    lo = float(min(np.nanmin(a.pixels), np.nanmin(b.pixels)))
    hi = float(max(np.nanmax(a.pixels), np.nanmax(b.pixels)))
    width = max(hi - lo, 1e-6)
    window = (lo + width / 2.0, width)
    return a.with_pixels(a.pixels, window=window), b.with_pixels(b.pixels, window=window)


def restore_units(fused: Image, a: Image, b: Image) -> Image:
    """Map a fused result (0..255) back to the units of A and B.

    Only valid when the fusion ran on sources prepared by
    :func:`shared_unit_window` (both intensity windows equal): then
    ``value = lo + fused / 255 * width`` is a weighted mixture of the sources'
    physical values.  Raises ImageDataError otherwise.
    """
    check_units_compatible(a, b)
    record = fused.meta.get("fusion") if isinstance(fused.meta, dict) else None
    windows = (record or {}).get("intensity_windows") or {}
    window_a, window_b = windows.get("a"), windows.get("b")
    if window_a is None or window_b is None or not np.allclose(window_a, window_b):
        raise ImageDataError("the fusion did not use one window for both sources; units cannot be restored",
                             hint="prepare the sources with shared_unit_window first")
    if tone_corrections(record):
        raise ImageDataError("the network's tone correction changed the sources' values; units cannot be restored",
                             hint="fuse with the tone correction off (FusionParams(tone=False), which "
                                  "`textdifuse fuse --keep-units` does)")
    center, width = (float(v) for v in window_a)
    lo = center - width / 2.0
    values = (lo + fused.pixels.astype(np.float64) / 255.0 * width).astype(np.float32)
    meta = dict(fused.meta)
    meta["fusion"] = {**record, "units_kept": True}
    window = a.window if a.window is not None else (center, width)
    return replace(fused, pixels=values, modality=a.modality, units=a.units, window=window, meta=meta)
