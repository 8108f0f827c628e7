"""File > Save session / Open session: glue between the main window and ``gui.session_io``.

The session file format, the view-state protocol and the relocation dialogs
belong to the regions/session engineer (``session.document``,
``gui.session_io``); this module only collects the window's state into a
:class:`SessionDocument` and restores it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)


def available() -> bool:
    """True when ``gui.session_io`` (and the session package) are installed."""
    import importlib.util

    return importlib.util.find_spec("textdifuse_desktop.gui.session_io") is not None


def build_document(window: MainWindow) -> Any:
    """The current sources, fusion parameters, view state and regions as a SessionDocument."""
    from textdifuse_desktop.gui import session_io
    from textdifuse_desktop.gui.registration_controls import registration_record
    from textdifuse_desktop.gui.source_tools import read_options_of
    from textdifuse_desktop.session.document import SessionDocument

    document = SessionDocument()
    for key, role in (("a", "A"), ("b", "B")):
        path = _source_path(window.raw[key])
        if path:
            document.set_source(role, path, **read_options_of(window.raw[key]))  # the frame of a 4-D source
    document.registration = registration_record(window)
    document.set_fusion_params(window.fusion_panel.params())
    document.view_state = session_io.collect_view_state(
        window.panes, link_views=window.linker.enabled, link_slices=window.linker.enabled,
        link_cursor=window.linker.enabled, overlay_mode=window.display_panel.layout_mode)
    if window.regions.has_regions():
        document.regions = window.regions.region_set
    from textdifuse_desktop.gui import session_view

    session_view.collect(window, document)  # fused result, planes, crosshair, display choices
    return document


def save_session_as(window: MainWindow, path: str | Path | None = None) -> Path | None:
    """Ask for a path (unless given) and save; errors go to the window's error dialog."""
    from textdifuse_desktop.gui import session_io

    try:
        path = path or session_io.ask_save_path(window)
        if not path:
            return None
        saved = session_io.save_session(build_document(window), path)
    except Exception as error:  # noqa: BLE001 - shown to the user
        window.report_error(error)
        return None
    window.statusBar().showMessage(f"Session saved to {saved}", 8000)
    return saved


def open_session(window: MainWindow, path: str | Path | None = None) -> bool:
    """Ask for a session file (unless given), load its sources, view and regions, and fuse them."""
    from textdifuse_desktop.fusion.request import FusionParams
    from textdifuse_desktop.gui import session_io

    try:
        path = path or session_io.ask_open_path(window)
        if not path:
            return False
        document = session_io.open_session(path, window)
    except Exception as error:  # noqa: BLE001
        window.report_error(error)
        return False
    if document is None:
        return False
    refs = document.sources
    if "A" not in refs or "B" not in refs:
        window.report_error(ValueError("the session does not name two sources"))
        return False
    if not window.open_pair(refs["A"].path, refs["B"].path, refs["A"].options, refs["B"].options):
        return False
    from textdifuse_desktop.gui.registration_controls import restore_registration

    restore_registration(window, getattr(document, "registration", None))  # before the saved result is shown
    if document.fusion_params:
        try:
            window.fusion_panel.set_params(FusionParams.from_dict(document.fusion_params))
        except ValueError as error:
            log.warning("ignoring the session's fusion parameters: %s", error)
    state = document.view_state
    window.set_linked(bool(getattr(state, "link_views", True)))
    mode = getattr(state, "overlay_mode", "side")
    if mode in ("side", "stacked", "overlay"):
        window.display_panel.set_layout_mode(mode)
    if document.regions is not None:
        window.regions.adopt(document.regions)
    window.statusBar().showMessage(f"Session opened: {path}", 8000)
    # The fused result saved with the session is shown as it was; older sessions (or a result on another
    # grid) are fused again with the session's parameters and regions.  A failure is reported; the session
    # stays open.
    from textdifuse_desktop.gui import session_view

    session_view.restore(window, document)
    return True


def _source_path(source: Any) -> str | None:
    if source is None:
        return None
    paths = getattr(getattr(source, "provenance", None), "source_paths", None)
    if paths:
        first = Path(paths[0])
        # A DICOM series is reopened from its folder.
        return str(first.parent) if len(paths) > 1 else str(first)
    path = getattr(source, "path", None)
    return str(path) if path else None
