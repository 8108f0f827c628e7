"""What the Regions panel's "Hot objects", "High uptake" and "Find" buttons do in the application.

:class:`RegionActions` is installed on the panel by
:class:`~textdifuse_desktop.gui.regions_bridge.RegionsBridge` (so every main
window has it, whoever builds the window) as the panel's ``proposal_handler``
and ``prompt_handler``:

* a **proposal** runs :func:`textdifuse_desktop.session.proposals.propose` on
  the current pair (on A's grid; the current frame of a video) and adds one
  region per connected component, or says in the status bar that nothing was
  found;
* **Find** runs :func:`textdifuse_desktop.session.prompt_plan.find_prompt_regions`
  in a background thread: the word list without a model ("person" -> the
  hot-object proposal), CLIP when a checkpoint or the standard weights are
  here.  Words outside the list with no model open the consent dialog
  (:class:`~textdifuse_desktop.gui.clip_download_dialog.ClipDownloadDialog`);
  Cancel says which words work.  Each region's provenance is in the list
  and the status bar.

Errors go to the window's error dialog; the app keeps running.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING, Any

from PySide6 import QtCore, QtWidgets

from textdifuse_desktop.errors import FeatureUnavailableError
from textdifuse_desktop.gui import pipeline, strings
from textdifuse_desktop.imaging.image import Image

if TYPE_CHECKING:
    from textdifuse_desktop.gui.main_window import MainWindow

log = logging.getLogger(__name__)


def open_clip_installed() -> bool:
    """True when the optional ``open_clip`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("open_clip") is not None  # here, not in fusion: tests patch this name


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
        self.consent_dialog: Any = None
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
        """Find the regions named by ``text`` (in a worker thread); returns None.

        Words of the word list run at once without a model; other words
        need CLIP: a checkpoint file, standard weights in the cache, or the
        user's consent to download them (:class:`ClipDownloadDialog`).
        """
        window = self.window
        if self.prompt_worker is not None or self.consent_dialog is not None:
            window.statusBar().showMessage(strings.STATUS_PROMPT_BUSY, 5000)
            return None
        try:
            from textdifuse_desktop.session.prompt_words import check_prompt

            check_prompt(text)
            a, b = self._pair()
            clip = self._clip_choice(text, a, b)
        except Exception as error:  # noqa: BLE001 - shown in a dialog, the app goes on
            window.report_error(error)
            self.prompt_finished.emit(text, -1)
            return None
        if clip is not None and "consent" in clip:
            self._ask_consent(text, a, b, clip["consent"])
            return None
        self._run_prompt(text, a, b, clip)
        return None

    def _clip_choice(self, text: str, a: Any, b: Any) -> dict[str, Any] | None:
        """How to run CLIP: ``{checkpoint}``/``{pretrained}`` kwargs, ``{"consent": weights}``, or None (word list)."""
        from textdifuse_desktop.session.prompt_plan import (
            no_model_error,
            unknown_phrases,
        )

        settings = self.window.settings
        checkpoint = getattr(settings, "clip_checkpoint", None)
        model = str(getattr(settings, "clip_model", "ViT-B-32"))
        if checkpoint:
            if not getattr(settings, "clip_available", False):
                raise FeatureUnavailableError(strings.PROMPT_CHECKPOINT_MISSING.format(path=checkpoint),
                                              hint=strings.PROMPT_ENABLE_HINT)
            if not open_clip_installed():
                raise FeatureUnavailableError(strings.PROMPT_NO_OPEN_CLIP, hint=strings.PROMPT_OPEN_CLIP_HINT)
            return self._clip_2d(a, {"checkpoint": str(checkpoint), "model_name": model})
        unknown = unknown_phrases(text, a, b)
        if not open_clip_installed():
            if unknown:
                raise no_model_error(unknown, a, b, strings.PROMPT_OPEN_CLIP_HINT)
            return None
        from textdifuse_desktop.fusion.clip_models import (
            cached_weights,
            standard_weights,
        )

        weights = standard_weights(model, str(getattr(settings, "clip_pretrained", "laion2b_s34b_b79k")))
        if cached_weights(weights) is not None:
            return self._clip_2d(a, {"pretrained": weights.pretrained, "model_name": model})
        if unknown:
            self._clip_2d(a, {})
            return {"consent": weights, "unknown": unknown}
        return None

    @staticmethod
    def _clip_2d(a: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(a, Image) or a.is_volume:
            raise FeatureUnavailableError(strings.PROMPT_NEEDS_2D)
        return kwargs

    def _ask_consent(self, text: str, a: Any, b: Any, weights: Any) -> None:
        from textdifuse_desktop.fusion.clip_models import cache_folder
        from textdifuse_desktop.gui.clip_download_dialog import ClipDownloadDialog
        from textdifuse_desktop.session.prompt_plan import unknown_phrases

        unknown = unknown_phrases(text, a, b)
        dialog = ClipDownloadDialog(weights, unknown, cache_folder(), self.window)
        self.consent_dialog = dialog

        def decided(result: int) -> None:
            self.consent_dialog = None
            dialog.deleteLater()
            if result == QtWidgets.QDialog.DialogCode.Accepted:
                self._run_prompt(text, a, b, {"pretrained": weights.pretrained, "model_name": weights.model})
                return
            from textdifuse_desktop.session.prompt_plan import no_model_error

            self.window.report_error(dialog.error or no_model_error(unknown, a, b, strings.PROMPT_DOWNLOAD_HINT))
            self.prompt_finished.emit(text, -1)

        dialog.finished.connect(decided)
        dialog.open()

    def _run_prompt(self, text: str, a: Any, b: Any, clip: dict[str, Any] | None) -> None:
        from textdifuse_desktop.gui.workers import create_worker

        device = str(getattr(self.window.settings, "device", "cpu") or "cpu")
        device = device if device.startswith("cuda") else "cpu"

        def job(cancel: Any) -> Any:
            yield None
            from textdifuse_desktop.session.prompt_plan import find_prompt_regions
            from textdifuse_desktop.session.proposals import salient_source

            step = None
            if clip is not None:
                from textdifuse_desktop.fusion import prompt_regions

                def step(phrases: Any) -> Any:
                    return prompt_regions.prompt_masks(", ".join(phrases), a, b, source=salient_source(a, b),
                                                       device=device, **clip)
            return find_prompt_regions(text, a, b, clip=step, clip_hint=strings.PROMPT_ENABLE_HINT)

        self._prompt_text = text
        self._set_busy(True)
        running = strings.STATUS_PROMPT_RUNNING if clip is not None else strings.STATUS_PROMPT_WORDS
        self.window.statusBar().showMessage(running.format(prompt=text))
        self.prompt_worker = create_worker(job, on_return=self._on_prompt_outcome, on_error=self._on_prompt_error,
                                           on_finish=self._on_prompt_done)

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

    def _on_prompt_outcome(self, outcome: Any) -> None:
        from textdifuse_desktop.session.prompt_plan import add_outcome

        window = self.window
        added = add_outcome(window.regions.region_set, outcome)
        panel = window.regions.panel
        if added and panel is not None:
            panel.set_active_index(added[0])
        text = self._prompt_text
        made = "; ".join(f"{r.name}: {r.provenance}" for r in outcome.regions)
        message = (strings.STATUS_PROMPT_FOUND.format(count=len(added), prompt=text, made=made) if added
                   else strings.STATUS_PROMPT_NOTHING.format(prompt=text))
        window.statusBar().showMessage(" ".join([message, *outcome.notes]), 15000)
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
