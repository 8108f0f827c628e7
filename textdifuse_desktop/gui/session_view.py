"""What a session keeps of the window beyond the panes: fused result, planes, crosshair, display panel.

:func:`collect` adds them to a :class:`~textdifuse_desktop.session.document.SessionDocument` built by
``gui.session_actions``; :func:`restore` puts them back after the session's sources were opened.  The
fused result saved with the session is shown as it was (no re-fusion) when it lies on the reopened
pair's grid; otherwise the window fuses again and the fused pane's view is applied to the new result.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6 import QtCore

from textdifuse_desktop.fusion.request import FusionParams, FusionResult
from textdifuse_desktop.gui import session_io, strings
from textdifuse_desktop.gui.viewers.mpr_grid import ARRANGEMENTS
from textdifuse_desktop.gui.widgets.display_panel import PANE_KEYS
from textdifuse_desktop.imaging.image import Image

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow
    from textdifuse_desktop.session.document import SessionDocument
    from textdifuse_desktop.session.view_state import ViewState

log = logging.getLogger(__name__)

_DISPLAY_KEY = "display"


def display_state(window: MainWindow) -> dict[str, Any]:
    """The display panel's choices that the panes do not hold (overlay, crosshair switch, layout choice)."""
    panel = window.display_panel
    return {"overlay_layer": panel.overlay_source, "opacity": panel.opacity_slider.value(),
            "overlay_cmap": panel.overlay_cmap.currentText(), "crosshair_shown": panel.crosshair_check.isChecked(),
            "layout_chosen_by_user": panel.layout_chosen_by_user}


def apply_display_state(window: MainWindow, state: dict[str, Any]) -> None:
    """Inverse of :func:`display_state` (unknown or malformed entries are skipped)."""
    panel = window.display_panel
    index = panel.overlay_layer.findData(state.get("overlay_layer"))
    if index >= 0:
        panel.overlay_layer.setCurrentIndex(index)
    if isinstance(state.get("opacity"), int):
        panel.opacity_slider.setValue(state["opacity"])
    if isinstance(state.get("overlay_cmap"), str) and panel.overlay_cmap.findText(state["overlay_cmap"]) >= 0:
        panel.overlay_cmap.setCurrentText(state["overlay_cmap"])
    if isinstance(state.get("crosshair_shown"), bool):
        panel.crosshair_check.setChecked(state["crosshair_shown"])
    panel.layout_chosen_by_user = bool(state.get("layout_chosen_by_user", panel.layout_chosen_by_user))


def collect(window: MainWindow, document: SessionDocument) -> None:
    """Add the crosshair, plane arrangement, display choices and the fused result to ``document``."""
    state = document.view_state
    point = window.planes.crosshair.point
    state.crosshair = None if point is None else (float(point[0]), float(point[1]), float(point[2]))
    state.planes = window.planes.mode
    state.extra[_DISPLAY_KEY] = display_state(window)
    if window.result is not None:
        document.fused = window.result.image
        document.fused_record = window.result.record()


def apply_view(window: MainWindow, state: ViewState, keys: tuple[str, ...] = PANE_KEYS) -> None:
    """Planes, display choices, the panes ``keys`` (slices, windows, colour maps, zoom) and the crosshair."""
    if state.planes in ARRANGEMENTS:
        window.planes.set_mode(state.planes)
    display = state.extra.get(_DISPLAY_KEY)
    if isinstance(display, dict):
        apply_display_state(window, display)
    session_io.apply_view_state({k: window.panes[k] for k in keys}, state)
    sync_colormap_combos(window)
    if state.crosshair is not None:
        window.planes.set_point(state.crosshair)
    for key in keys:  # the crosshair re-cut the planes: put each pane's saved zoom back
        view = state.panes.get(key)
        if view is not None and view.extra:
            window.panes[key].apply_extra_view_state(view.extra)
    window._update_overlay()


def sync_colormap_combos(window: MainWindow) -> None:
    """Show each pane's colour map in the display panel without re-emitting the change."""
    for key, combo in window.display_panel.cmap_combos.items():
        name = window.panes[key].colormap
        if combo.currentText() != name and combo.findText(name) >= 0:
            blocker = QtCore.QSignalBlocker(combo)
            combo.setCurrentText(name)
            del blocker


def restore(window: MainWindow, document: SessionDocument) -> bool:
    """Apply the document's view after its sources were opened; True when its saved result is on screen.

    Without a usable saved result the window fuses again (as before) and the fused pane's saved view
    is applied when that result arrives.
    """
    state = document.view_state
    result = _saved_result(window, document)
    if result is not None:
        window.result = result
        window._show("fused", result.image)
        window.panes["fused"].set_caption(strings.METHOD_LABELS.get(result.params.method, result.params.method)
                                          + " (saved with the session)")
        window.fusion_panel.set_running(False, succeeded=True)
        apply_view(window, state)
        window.fusion_done.emit(result)  # a result is on screen, as after a fusion
        return True
    apply_view(window, state, keys=("a", "b"))

    def on_done(_result: Any) -> None:
        window.fusion_done.disconnect(on_done)
        apply_view(window, state, keys=("fused",))

    window.fusion_done.connect(on_done)
    if not window.run_fusion(window.fusion_panel.params()):
        window.fusion_done.disconnect(on_done)
    return False


def _saved_result(window: MainWindow, document: SessionDocument) -> FusionResult | None:
    fused = document.fused
    if fused is None or window.paired is None or not isinstance(window.paired[0], Image):
        return None
    reference = window.paired[0]
    if fused.grid_shape != reference.grid_shape or not np.allclose(fused.affine, reference.affine, atol=1e-4):
        log.info("the session's fused result is not on the reopened pair's grid: fusing again")
        return None
    record = document.fused_record
    try:
        params = FusionParams.from_dict(record.get("params") or document.fusion_params)
    except (TypeError, ValueError) as error:
        log.warning("the session's fused result has unreadable parameters (%s): fusing again", error)
        return None
    return FusionResult(fused, params, sampler_config=dict(record.get("sampler_config") or {}),
                        weights_sha256=record.get("weights_sha256"), seconds=float(record.get("seconds") or 0.0),
                        device=str(record.get("device") or "cpu"), warnings=list(record.get("warnings") or []))
