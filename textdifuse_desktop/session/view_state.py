"""What the viewer shows, as plain data that a session file can keep.

The GUI fills a :class:`ViewState` from its panes (see
``textdifuse_desktop.gui.session_io``) and applies it back when a session is
reopened.  Unknown keys are kept in ``extra`` so that newer GUIs can add
fields without a schema change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Overlay modes of the fused view (the GUI may add more; unknown ones are kept).
OVERLAY_MODES = ("none", "regions", "blend", "checker", "swipe")


def _pair(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        a, b = value
        return (float(a), float(b))
    except (TypeError, ValueError):
        log.warning("ignoring malformed pair in the view state: %r", value)
        return None


def _triple(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        x, y, z = (float(v) for v in value)
    except (TypeError, ValueError):
        log.warning("ignoring malformed point in the view state: %r", value)
        return None
    return (x, y, z)


@dataclass
class PaneView:
    """State of one image pane.

    Attributes
    ----------
    slice_index:
        Slice shown (0 for 2D images).
    window:
        ``(center, width)`` display window, or None for the automatic one.
    colormap:
        Colour map name (``"gray"``, ``"hot"``...).
    x_range, y_range:
        Visible range of the view box in image coordinates, or None for "fit".
    extra:
        Anything else the GUI wants to keep (JSON-serialisable).
    """

    slice_index: int = 0
    window: tuple[float, float] | None = None
    colormap: str = "gray"
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "slice_index": self.slice_index,
            "window": list(self.window) if self.window else None,
            "colormap": self.colormap,
            "x_range": list(self.x_range) if self.x_range else None,
            "y_range": list(self.y_range) if self.y_range else None,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaneView:
        """Lenient inverse of :meth:`to_dict` (malformed fields fall back to defaults)."""
        known = {"slice_index", "window", "colormap", "x_range", "y_range", "extra"}
        extra = dict(data.get("extra") or {})
        extra.update({k: v for k, v in data.items() if k not in known})
        try:
            slice_index = max(int(data.get("slice_index", 0)), 0)
        except (TypeError, ValueError):
            slice_index = 0
        return cls(
            slice_index=slice_index,
            window=_pair(data.get("window")),
            colormap=str(data.get("colormap") or "gray"),
            x_range=_pair(data.get("x_range")),
            y_range=_pair(data.get("y_range")),
            extra=extra,
        )


@dataclass
class ViewState:
    """State of the whole viewer: one :class:`PaneView` per pane plus links.

    Attributes
    ----------
    panes:
        Keyed by pane name (``"A"``, ``"B"``, ``"fused"``).
    link_views:
        Pan/zoom linked between panes.
    link_slices:
        Slice position linked between panes.
    link_cursor:
        Crosshair shown in every pane.
    overlay_mode:
        How the fused pane overlays things, one of :data:`OVERLAY_MODES` or a
        GUI-specific name.
    active_region:
        Index of the region selected in the regions panel, or None.
    crosshair:
        World point (RAS mm) of the crosshair shared by the planes of volumes, or None.
    planes:
        How volumes are shown: ``"single"`` (one slice) or a three-plane arrangement
        (``"3x1"``, ``"1x3"``, ``"2x2"``); empty when unknown (older sessions).
    extra:
        Anything else (JSON-serialisable).
    """

    panes: dict[str, PaneView] = field(default_factory=dict)
    link_views: bool = True
    link_slices: bool = True
    link_cursor: bool = True
    overlay_mode: str = "none"
    active_region: int | None = None
    crosshair: tuple[float, float, float] | None = None
    planes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "panes": {name: pane.to_dict() for name, pane in self.panes.items()},
            "link_views": self.link_views,
            "link_slices": self.link_slices,
            "link_cursor": self.link_cursor,
            "overlay_mode": self.overlay_mode,
            "active_region": self.active_region,
            "crosshair": list(self.crosshair) if self.crosshair is not None else None,
            "planes": self.planes,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ViewState:
        """Lenient inverse of :meth:`to_dict`."""
        data = dict(data or {})
        panes = data.get("panes") or {}
        active = data.get("active_region")
        return cls(
            panes={str(k): PaneView.from_dict(v) for k, v in panes.items() if isinstance(v, dict)},
            link_views=bool(data.get("link_views", True)),
            link_slices=bool(data.get("link_slices", True)),
            link_cursor=bool(data.get("link_cursor", True)),
            overlay_mode=str(data.get("overlay_mode") or "none"),
            active_region=int(active) if isinstance(active, int) else None,
            crosshair=_triple(data.get("crosshair")),
            planes=str(data.get("planes") or ""),
            extra=dict(data.get("extra") or {}),
        )
