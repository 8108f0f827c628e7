"""Hooks the regions engineer's widgets into the main window, when they are installed.

* ``session.regions.RegionSet`` holds the masks (one per loaded pair, on A's grid);
* ``gui.regions_panel.RegionsPanel(region_set)`` goes into a "Regions" dock;
* ``gui.region_overlay.RegionOverlay(pane, region_set)`` is attached to each of
  the three panes, so the user can brush, erase or box in any of them;
* ``gui.region_actions.RegionActions`` answers the panel's proposal buttons
  and its text prompt ("Find").

When a new pair is loaded, a new RegionSet is made; widgets offering
``set_region_set(region_set)`` get it, otherwise they are rebuilt.  Without
those modules everything here is a no-op and fusion runs unmodulated.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.gui import strings
from textdifuse_desktop.gui.region_actions import RegionActions
from textdifuse_desktop.imaging.image import Image

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)

FEATHER_PX = 4.0


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        log.debug("%s.%s unavailable: %s", module, name, error)
        return None


class RegionsBridge:
    """Owns the RegionSet of the current pair and the regions dock/overlays."""

    def __init__(self, window: MainWindow):
        self.window = window
        self.region_set: Any = None
        self.panel: QtWidgets.QWidget | None = None
        self.overlays: list[Any] = []
        self.dock: QtWidgets.QDockWidget | None = None
        self.actions = RegionActions(window)
        self._region_set_cls = _optional("textdifuse_desktop.session.regions", "RegionSet")
        self._panel_cls = _optional("textdifuse_desktop.gui.regions_panel", "RegionsPanel")
        self._overlay_cls = _optional("textdifuse_desktop.gui.region_overlay", "RegionOverlay")
        if self._panel_cls is not None and self._region_set_cls is not None:
            self.dock = QtWidgets.QDockWidget(strings.DOCK_REGIONS, window)
            self.dock.setObjectName("dock_regions")
            window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
            window.tabifyDockWidget(window.display_dock, self.dock)
            window.fusion_dock.raise_()
            window.display_dock.raise_()
        self.reset(None)

    @property
    def available(self) -> bool:
        """True when the session.regions module is installed."""
        return self._region_set_cls is not None

    def reset(self, reference: Any) -> None:
        """New RegionSet on ``reference``'s grid (A after pairing); None = a 1x1 placeholder."""
        if self._region_set_cls is None:
            return
        shape, affine = _grid(reference)
        try:
            self.region_set = self._region_set_cls(shape, affine) if affine is not None else self._region_set_cls(shape)
        except Exception as error:  # noqa: BLE001 - a regions bug must not block loading images
            log.warning("could not create a RegionSet for %s: %s", shape, error)
            self.region_set = None
            return
        self._install_panel()
        self._install_overlays()
        if self.panel is not None:
            self.panel.setEnabled(reference is not None)

    def _install_panel(self) -> None:
        if self._panel_cls is None or self.dock is None:
            return
        if self.panel is not None and hasattr(self.panel, "set_region_set"):
            self.panel.set_region_set(self.region_set)
            return
        old, self.panel = self.panel, None
        try:
            self.panel = self._panel_cls(self.region_set, settings=self.window.settings)
        except Exception as error:  # noqa: BLE001
            log.warning("regions panel failed: %s", error)
            return
        self.dock.setWidget(self.panel)
        self.actions.attach(self.panel)
        if hasattr(self.panel, "regions_changed"):
            self.panel.regions_changed.connect(self.window.on_regions_changed)
        if old is not None:
            old.deleteLater()

    def _install_overlays(self) -> None:
        if self._overlay_cls is None:
            return
        if self.overlays and all(hasattr(o, "set_region_set") for o in self.overlays):
            for overlay in self.overlays:
                overlay.set_region_set(self.region_set)
            return
        for overlay in self.overlays:
            for method in ("detach", "remove", "close", "deleteLater"):
                if hasattr(overlay, method):
                    getattr(overlay, method)()
                    break
        self.overlays = []
        for pane in self.window.panes.values():
            try:
                overlay = self._overlay_cls(pane, self.region_set)
            except Exception as error:  # noqa: BLE001
                log.warning("region overlay failed on %s: %s", pane.slot, error)
                continue
            if self.panel is not None and hasattr(overlay, "set_panel"):
                overlay.set_panel(self.panel)  # the panel's tool and brush radius drive the mouse
            self.overlays.append(overlay)

    def refresh_settings(self) -> None:
        """Tell the panel the settings changed (e.g. a CLIP checkpoint was chosen)."""
        if self.panel is not None and hasattr(self.panel, "set_settings"):
            self.panel.set_settings(self.window.settings)

    def set_source_labels(self, label_a: str, label_b: str) -> None:
        """Tell the panel what A and B are (shown in its "favours" column)."""
        if self.panel is not None and hasattr(self.panel, "set_source_labels"):
            self.panel.set_source_labels(label_a, label_b)

    def adopt(self, region_set: Any) -> None:
        """Use ``region_set`` (e.g. from a session) if it fits the current grid."""
        current = getattr(self.region_set, "shape", None)
        if current is not None and tuple(getattr(region_set, "shape", ())) != tuple(current):
            log.warning("session regions %s do not fit the grid %s; ignored", region_set.shape, current)
            return
        self.region_set = region_set
        self._install_panel()
        self._install_overlays()

    def has_regions(self) -> bool:
        """True when at least one region has a non-empty mask."""
        regions = getattr(self.region_set, "regions", None) or []
        return any(np.any(region.mask) for region in regions)

    def kappa_maps(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(kappa_a, kappa_b, blend_mask)`` of the current regions, or three Nones."""
        if not self.has_regions():
            return None, None, None
        return tuple(self.region_set.kappa_maps(feather_px=FEATHER_PX))  # type: ignore[return-value]

    def masks(self) -> tuple[list[np.ndarray], list[str]]:
        """Non-empty region masks and their names (for DICOM SEG)."""
        regions = [r for r in (getattr(self.region_set, "regions", None) or []) if np.any(r.mask)]
        return [np.asarray(r.mask, dtype=bool) for r in regions], [str(r.name) for r in regions]


def _grid(reference: Any) -> tuple[tuple[int, ...], np.ndarray | None]:
    if reference is None:
        return (1, 1), None
    if isinstance(reference, Image):
        nz, ny, nx = reference.grid_shape
        return ((nz, ny, nx) if reference.is_volume else (ny, nx)), reference.affine
    shape = tuple(getattr(reference, "frame_shape", (1, 1)))[:2]
    return (int(shape[0]), int(shape[1])), None
