"""What the Regions panel's "Hot objects", "High uptake" and "Find" buttons do in the application.

:class:`RegionActions` is installed on the panel by
:class:`~textdifuse_desktop.gui.regions_bridge.RegionsBridge` (so every main
window has it, whoever builds the window) as the panel's ``proposal_handler``
and ``prompt_handler``:

* a **proposal** runs :func:`textdifuse_desktop.session.proposals.propose` on
  the current pair (on A's grid; the current frame of a video) and adds one
  region per connected component, or says in the status bar that nothing was
  found;
* **Find** runs :func:`textdifuse_desktop.fusion.prompt_regions.prompt_masks`
  in a background thread with the CLIP checkpoint of the settings and adds a
  region per phrase found.  Without a checkpoint, or without the
  ``open_clip`` package, a dialog says why and how to enable it.

Errors go to the window's error dialog; the app keeps running.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore

from textdifuse_desktop.errors import FeatureUnavailableError
from textdifuse_desktop.gui import pipeline, strings
from textdifuse_desktop.imaging.image import Image

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)


def open_clip_installed() -> bool:
    """True when the optional ``open_clip`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("open_clip") is not None


class RegionActions(QtCore.QObject):
    """Proposals and text prompts on the window's current pair.

    Signals
    -------
    proposals_added(str, int):
        The proposal kind and how many regions were added (0 = none found).
    prompt_finished(str, int):
        The prompt and how many regions were added; also emitted (with -1)
        when it failed or could not start.
    """

    proposals_added = QtCore.Signal(str, int)
    prompt_finished = QtCore.Signal(str, int)

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.prompt_worker: Any = None
        self._prompt_text = ""

    def attach(self, panel: Any) -> None:
        """Make ``panel``'s proposal and prompt buttons call this object."""
        panel.proposal_handler = self.propose
        panel.prompt_handler = self.find

    # ------------------------------------------------------------- proposals
    def propose(self, kind: str) -> None:
        """Add the proposals of ``kind`` (``"hot_objects"`` / ``"high_uptake"``) as regions; returns None."""
        window = self.window
        label = strings.PROPOSAL_LABELS.get(kind, kind)
        try:
            a, b = self._pair()
            region_set = window.regions.region_set
            from textdifuse_desktop.session.proposals import add_regions, propose

            QtCore.QCoreApplication.processEvents()
            regions = propose(kind, a, b)
            if regions and tuple(regions[0].mask.shape) != tuple(region_set.shape):
                raise FeatureUnavailableError(strings.PROPOSAL_GRID_MISMATCH)
            indices = add_regions(region_set, regions)
        except Exception as error:  # noqa: BLE001 - shown in a dialog, the app goes on
            window.report_error(error)
            self.proposals_added.emit(kind, -1)
            return None
        panel = window.regions.panel
        if indices and panel is not None:
            panel.set_active_index(indices[0])
        source = regions[0].source if regions else ""
        message = (strings.STATUS_PROPOSED.format(count=len(indices), label=label, source=source) if indices
                   else strings.STATUS_NOTHING_PROPOSED.format(label=label))
        window.statusBar().showMessage(message, 10000)
        self.proposals_added.emit(kind, len(indices))
        return None

    # ------------------------------------------------------------- text prompts
    def find(self, text: str) -> None:
        """Start finding the regions named by ``text`` (in a worker thread); returns None."""
        window = self.window
        if self.prompt_worker is not None:
            window.statusBar().showMessage(strings.STATUS_PROMPT_BUSY, 5000)
            return None
        try:
            checkpoint, device = self._clip_setup()
            a, b = self._pair()
            if not isinstance(a, Image) or a.is_volume:
                raise FeatureUnavailableError(strings.PROMPT_NEEDS_2D)
        except Exception as error:  # noqa: BLE001
            window.report_error(error)
            self.prompt_finished.emit(text, -1)
            return None
        from textdifuse_desktop.gui.workers import create_worker

        def job(cancel: Any) -> Any:
            yield None
            from textdifuse_desktop.fusion.prompt_regions import prompt_masks
            from textdifuse_desktop.session.proposals import salient_source

            return prompt_masks(text, a, b, source=salient_source(a, b), checkpoint=checkpoint, device=device)

        self._prompt_text = text
        self._set_busy(True)
        window.statusBar().showMessage(strings.STATUS_PROMPT_RUNNING.format(prompt=text))
        self.prompt_worker = create_worker(job, on_return=self._on_prompt_masks, on_error=self._on_prompt_error,
                                           on_finish=self._on_prompt_done)
        return None

    def wait(self, timeout_ms: int = 60000) -> bool:
        """Process events until a running prompt ends (tests, shutdown); True when none runs."""
        deadline = QtCore.QDeadlineTimer(timeout_ms)
        app = QtCore.QCoreApplication.instance()
        while self.prompt_worker is not None and not deadline.hasExpired():
            if app is not None:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            QtCore.QThread.msleep(5)
        return self.prompt_worker is None

    def shutdown(self) -> None:
        """Cancel and join a running prompt (the window is closing)."""
        if self.prompt_worker is not None:
            self.prompt_worker.quit()
            self.prompt_worker.wait(30000)

    def _clip_setup(self) -> tuple[str, str]:
        settings = self.window.settings
        checkpoint = getattr(settings, "clip_checkpoint", None)
        if not checkpoint:
            raise FeatureUnavailableError(strings.PROMPT_NO_CHECKPOINT, hint=strings.PROMPT_ENABLE_HINT)
        if not getattr(settings, "clip_available", False):
            raise FeatureUnavailableError(strings.PROMPT_CHECKPOINT_MISSING.format(path=checkpoint),
                                          hint=strings.PROMPT_ENABLE_HINT)
        if not open_clip_installed():
            raise FeatureUnavailableError(strings.PROMPT_NO_OPEN_CLIP, hint=strings.PROMPT_OPEN_CLIP_HINT)
        device = str(getattr(settings, "device", "cpu") or "cpu")
        return str(checkpoint), device if device.startswith("cuda") else "cpu"

    def _on_prompt_masks(self, found: Any) -> None:
        window = self.window
        region_set = window.regions.region_set
        added = []
        for item in found or []:
            if tuple(item.mask.shape) != tuple(region_set.shape):
                log.warning("prompt mask %s does not fit the regions grid %s", item.mask.shape, region_set.shape)
                continue
            region_set.add(item.name, source=item.source, origin="text", mask=item.mask)
            added.append(len(region_set) - 1)
        panel = window.regions.panel
        if added and panel is not None:
            panel.set_active_index(added[0])
        text = self._prompt_text
        message = (strings.STATUS_PROMPT_FOUND.format(count=len(added), prompt=text) if added
                   else strings.STATUS_PROMPT_NOTHING.format(prompt=text))
        window.statusBar().showMessage(message, 10000)
        self.prompt_finished.emit(text, len(added))

    def _on_prompt_error(self, error: BaseException) -> None:
        if isinstance(error, ImportError):
            error = FeatureUnavailableError(strings.PROMPT_NO_OPEN_CLIP, hint=strings.PROMPT_OPEN_CLIP_HINT)
        self.window.report_error(error)
        self.prompt_finished.emit(self._prompt_text, -1)

    def _on_prompt_done(self) -> None:
        self.prompt_worker = None
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        panel = self.window.regions.panel
        if panel is not None and hasattr(panel, "prompt_button"):
            panel.prompt_button.setEnabled(not busy)
            panel.prompt_button.setText(strings.PROMPT_BUTTON_BUSY if busy else strings.PROMPT_BUTTON)

    def _pair(self) -> tuple[Any, Any]:
        """The current pair on A's grid (the frame on screen for videos)."""
        window = self.window
        if window.paired is None or window.regions.region_set is None:
            raise FeatureUnavailableError(strings.NEED_TWO_SOURCES)
        a, b = window.paired
        if not isinstance(a, Image) or not isinstance(b, Image):
            a, b, _ = pipeline.frame_pair(a, b, window.panes["a"].current_slice)
        return a, b
