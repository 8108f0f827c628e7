"""Save and reopen ``.tdfsession`` files from the main window.

View-state protocol
-------------------
:func:`collect_view_state` / :func:`apply_view_state` read and restore panes
by duck typing; a pane provides whichever of these it supports (missing ones
are skipped):

* ``current_slice`` (int) and ``set_slice(index)``;
* ``window`` (``(center, width)``) and ``set_window(center, width)``;
* ``colormap`` (str) and ``set_colormap(name)``;
* ``view_box`` with ``viewRange()`` and ``setRange(xRange=, yRange=, padding=0)``;
* optionally ``extra_view_state() -> dict`` and ``apply_extra_view_state(dict)``
  for anything else (overlay opacity, ...).

Link flags, the overlay mode and the active region belong to the window;
pass them to :func:`collect_view_state` and read them back from the returned
:class:`~textdifuse_desktop.session.view_state.ViewState`.

Dialogs
-------
:func:`ask_save_path` / :func:`ask_open_path` show file dialogs;
:func:`open_session` loads a file and asks the user to relocate missing
sources (through ``chooser``, replaceable in tests).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6 import QtWidgets

from textdifuse_desktop.session.document import SESSION_SUFFIX, SessionDocument
from textdifuse_desktop.session.view_state import PaneView, ViewState

log = logging.getLogger(__name__)

SESSION_FILTER = f"TextDiFuse sessions (*{SESSION_SUFFIX});;All files (*)"

#: ``chooser(role, missing_path) -> new path or None`` used to relocate a source.
SourceChooser = Callable[[str, str], "str | None"]


# ------------------------------------------------------------------ view state
def collect_pane_view(pane: Any) -> PaneView:
    """Read one pane's state (see the module docstring for the protocol)."""
    view = PaneView()
    if hasattr(pane, "current_slice"):
        view.slice_index = int(pane.current_slice)
    window = getattr(pane, "window", None)
    if window is not None and not callable(window):
        view.window = (float(window[0]), float(window[1]))
    colormap = getattr(pane, "colormap", None)
    if isinstance(colormap, str):
        view.colormap = colormap
    view_box = getattr(pane, "view_box", None)
    if view_box is not None and hasattr(view_box, "viewRange"):
        (x0, x1), (y0, y1) = view_box.viewRange()
        view.x_range, view.y_range = (float(x0), float(x1)), (float(y0), float(y1))
    if hasattr(pane, "extra_view_state"):
        view.extra = dict(pane.extra_view_state())
    return view


def apply_pane_view(pane: Any, view: PaneView) -> None:
    """Restore one pane's state; setters the pane lacks are skipped."""
    if hasattr(pane, "set_slice"):
        pane.set_slice(view.slice_index)
    if view.window is not None and hasattr(pane, "set_window"):
        pane.set_window(*view.window)
    if view.colormap and hasattr(pane, "set_colormap"):
        pane.set_colormap(view.colormap)
    view_box = getattr(pane, "view_box", None)
    if view_box is not None and view.x_range and view.y_range:
        view_box.setRange(xRange=view.x_range, yRange=view.y_range, padding=0)
    if view.extra and hasattr(pane, "apply_extra_view_state"):
        pane.apply_extra_view_state(view.extra)


def collect_view_state(panes: Mapping[str, Any], *, link_views: bool = True, link_slices: bool = True,
                       link_cursor: bool = True, overlay_mode: str = "none",
                       active_region: int | None = None) -> ViewState:
    """The :class:`ViewState` of the window's panes plus its flags."""
    return ViewState(
        panes={name: collect_pane_view(pane) for name, pane in panes.items()},
        link_views=link_views, link_slices=link_slices, link_cursor=link_cursor,
        overlay_mode=overlay_mode, active_region=active_region if active_region is None or active_region >= 0
        else None,
    )


def apply_view_state(panes: Mapping[str, Any], state: ViewState) -> None:
    """Restore the panes named in ``state`` (others are left alone)."""
    for name, view in state.panes.items():
        pane = panes.get(name)
        if pane is None:
            log.info("session has a view for pane %r, which this window lacks", name)
            continue
        apply_pane_view(pane, view)


# --------------------------------------------------------------------- dialogs
def ask_save_path(parent: QtWidgets.QWidget | None, start: str | Path | None = None) -> Path | None:
    """Ask where to save a session; the suffix is added when missing."""
    path, _ = QtWidgets.QFileDialog.getSaveFileName(parent, "Save session", str(start or Path.home()),
                                                    SESSION_FILTER)
    if not path:
        return None
    path = Path(path)
    return path if path.suffix == SESSION_SUFFIX else path.with_name(path.name + SESSION_SUFFIX)


def ask_open_path(parent: QtWidgets.QWidget | None, start: str | Path | None = None) -> Path | None:
    """Ask for a session file to open."""
    path, _ = QtWidgets.QFileDialog.getOpenFileName(parent, "Open session", str(start or Path.home()),
                                                    SESSION_FILTER)
    return Path(path) if path else None


def _dialog_chooser(parent: QtWidgets.QWidget | None) -> SourceChooser:
    def choose(role: str, missing: str) -> str | None:
        answer = QtWidgets.QMessageBox.question(
            parent, "Source not found",
            f"Source {role} of this session is missing:\n{missing}\n\nLocate it now?",
            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.Cancel)
        if answer != QtWidgets.QMessageBox.StandardButton.Yes:
            return None
        start = Path(missing).parent
        path, _ = QtWidgets.QFileDialog.getOpenFileName(parent, f"Locate source {role} ({Path(missing).name})",
                                                        str(start if start.is_dir() else Path.home()))
        return path or None

    return choose


def relocate_missing_sources(document: SessionDocument, chooser: SourceChooser) -> bool:
    """Ask ``chooser`` for every missing source; False when the user gave up."""
    for role, missing in document.missing_sources().items():
        while True:
            new_path = chooser(role, missing)
            if not new_path:
                return False
            if Path(new_path).exists():
                document.relocate(role, new_path)
                break
    return True


def open_session(path: str | Path, parent: QtWidgets.QWidget | None = None,
                 chooser: SourceChooser | None = None) -> SessionDocument | None:
    """Load a session, relocating missing sources interactively.

    Returns None when the user cancelled relocation.  Errors in the file
    itself (``SessionError``) propagate, for the window's error dialog.
    """
    document = SessionDocument.load(path, check_sources=False)
    if document.missing_sources() and not relocate_missing_sources(document, chooser or _dialog_chooser(parent)):
        return None
    return document


def save_session(document: SessionDocument, path: str | Path) -> Path:
    """Save ``document`` to ``path`` (suffix added when missing); errors propagate."""
    path = Path(path)
    if path.suffix != SESSION_SUFFIX:
        path = path.with_name(path.name + SESSION_SUFFIX)
    return document.save(path)
