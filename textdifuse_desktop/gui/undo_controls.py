"""Edit > Undo / Redo (Ctrl+Z, Ctrl+Shift+Z) for view and parameter changes, in one timeline with region edits.

A snapshot (view state without zoom/pan, plane arrangement, crosshair, display choices and the fusion
panel's parameters) is recorded shortly after each burst of user changes, so that a window/level drag
is one step.  Region edits keep their own undo stack (``session.regions``); they are entered in the same
timeline as markers, so Ctrl+Z takes back whatever the user did last.  The regions panel's own Undo and
Redo buttons still work; their keyboard shortcuts now belong to this menu (two owners would make the
shortcut ambiguous in Qt, and neither would fire).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.gui import session_io, session_view
from textdifuse_desktop.session.view_history import Snapshot, ViewHistory
from textdifuse_desktop.session.view_state import ViewState

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)

#: Quiet time (ms) that ends a burst of changes (one undo step per drag or spin).
SETTLE_MS = 350


class UndoController(QtCore.QObject):
    """Installs Edit > Undo/Redo on ``window`` and records its view and parameter changes."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.history = ViewHistory()
        self._applying = False
        self._ignore_regions = 0
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.checkpoint)
        self._build_menu()
        self._connect()
        self.history.reset(self.snapshot())
        self._update_actions()

    # ------------------------------------------------------------- construction
    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        menu = QtWidgets.QMenu("&Edit", self.window)
        actions = bar.actions()
        bar.insertMenu(actions[1] if len(actions) > 1 else None, menu)  # after File
        self.undo_action = QtGui.QAction("&Undo", self.window)
        self.undo_action.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
        self.redo_action = QtGui.QAction("&Redo", self.window)
        self.redo_action.setShortcuts([QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")])
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)
        self.menu = menu

    def _connect(self) -> None:
        window = self.window
        for pane in window.panes.values():
            pane.window_changed.connect(self.changed)
            pane.slice_changed.connect(self.changed)
        panel = window.display_panel
        for signal in (panel.colormap_changed, panel.preset_requested, panel.overlay_changed, panel.link_toggled,
                       panel.crosshair_toggled):
            signal.connect(self.changed)
        window.planes.crosshair.moved.connect(self.changed)
        window.planes.mode_changed.connect(self.changed)
        #: Fusion-panel controls whose change signal this controller listens to (one connection each).
        self.watched: list[QtWidgets.QWidget] = []
        for widget in window.fusion_panel.findChildren(QtWidgets.QWidget):
            for name in ("currentIndexChanged", "valueChanged", "toggled"):
                signal = getattr(widget, name, None)
                if isinstance(signal, QtCore.SignalInstance):
                    signal.connect(self.changed)
                    self.watched.append(widget)
                    break
        window.sources_changed.connect(self._on_sources_changed)
        window.fusion_done.connect(lambda _result: self._rebase())
        self._watch_regions()

    def _watch_regions(self) -> None:
        panel = getattr(self.window.regions, "panel", None)
        if panel is None or getattr(panel, "_undo_timeline_watched", False):
            return
        panel._undo_timeline_watched = True
        for name in ("undo_action", "redo_action"):
            action = getattr(panel, name, None)
            if action is not None:
                action.setShortcut(QtGui.QKeySequence())
                action.triggered.connect(self._panel_undo_pressed)
        if hasattr(panel, "regions_changed"):
            panel.regions_changed.connect(self._on_regions_changed)

    # ------------------------------------------------------------- snapshots
    def snapshot(self) -> Snapshot:
        """The undoable state of the window now (zoom and pan are not undone)."""
        window = self.window
        state = session_io.collect_view_state(window.panes, link_views=window.linker.enabled,
                                              link_slices=window.linker.enabled, link_cursor=window.linker.enabled,
                                              overlay_mode=window.display_panel.layout_mode)
        for view in state.panes.values():
            view.x_range = view.y_range = None
            view.extra = {}
            if view.window is not None:
                view.window = (round(view.window[0], 6), round(view.window[1], 6))
        point = window.planes.crosshair.point
        state.crosshair = None if point is None else tuple(round(float(v), 4) for v in point)  # type: ignore[assignment]
        state.planes = window.planes.mode
        state.extra["display"] = session_view.display_state(window)
        return {"view": state.to_dict(), "params": window.fusion_panel.params().to_dict()}

    def apply(self, snapshot: Snapshot) -> None:
        """Put the window in ``snapshot``'s state (recording nothing)."""
        window = self.window
        self._applying = True
        try:
            try:
                window.fusion_panel.set_params(FusionParams.from_dict(snapshot["params"]))
            except (KeyError, TypeError, ValueError) as error:
                log.warning("undo: fusion parameters not restored: %s", error)
            state = ViewState.from_dict(snapshot.get("view"))
            window.set_linked(state.link_views)
            if state.overlay_mode in ("side", "stacked", "overlay"):
                window.display_panel.set_layout_mode(state.overlay_mode)
            session_view.apply_view(window, state)
        finally:
            self._applying = False
        self._timer.stop()
        self.history.rebase(self.snapshot())

    # ------------------------------------------------------------- slots
    def changed(self, *_args: Any) -> None:
        """A user change happened: record it once the burst settles."""
        if not self._applying:
            self._timer.start()

    def checkpoint(self) -> None:
        """Record the current state now (ends a pending burst)."""
        self._timer.stop()
        if not self._applying and self.history.record(self.snapshot()):
            self._update_actions()

    def undo(self) -> None:
        """Take back the most recent view, parameter or region change."""
        self.checkpoint()
        step = self.history.undo()
        if step is not None:
            self._replay(step, undo=True)
        self._update_actions()

    def redo(self) -> None:
        """Do the most recently undone change again."""
        self.checkpoint()
        step = self.history.redo()
        if step is not None:
            self._replay(step, undo=False)
        self._update_actions()

    def _replay(self, step: Any, *, undo: bool) -> None:
        if step.kind == "view":
            self.apply(step.before if undo else step.after)
            return
        panel = getattr(self.window.regions, "panel", None)
        if panel is not None:
            (panel.undo if undo else panel.redo)()
            self._panel_undo_pressed()

    def _panel_undo_pressed(self) -> None:
        # The change notice of an undo or redo is not a new edit: swallow it (now, not after the pause).
        panel = self.window.regions.panel
        if getattr(panel, "change_pending", False):
            self._ignore_regions += 1
            panel.flush()

    def _on_regions_changed(self) -> None:
        if self._ignore_regions:
            self._ignore_regions -= 1
            return
        self.checkpoint()
        self.history.mark("regions")
        self._update_actions()

    def _on_sources_changed(self) -> None:
        self._timer.stop()
        self._watch_regions()
        self.history.reset(self.snapshot())
        self._update_actions()

    def _rebase(self) -> None:
        # A new fused result resets the fused pane's window: not a user change.
        if not self._timer.isActive():
            self.history.rebase(self.snapshot())

    def _update_actions(self) -> None:
        for action, step, word in ((self.undo_action, self.history.peek_undo(), "Undo"),
                                   (self.redo_action, self.history.peek_redo(), "Redo")):
            action.setEnabled(step is not None)
            action.setText(f"&{word} {step.label}" if step is not None else f"&{word}")
