"""Fusion controls of the main window: build the request, run and cancel it, show progress, previews and results.

A mixin of :class:`~textdifuse_desktop.gui.main_window.MainWindow`; it uses the window's ``paired``, ``panes``,
``regions``, ``fusion_panel``, ``controller``, ``actions`` and ``result``, and its ``_show``, ``_update_overlay``,
``report_error`` and ``statusBar``.
"""

from __future__ import annotations

import logging
from typing import Any

from textdifuse_desktop.fusion.request import (
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)
from textdifuse_desktop.gui import pipeline, strings
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


class FusionControlsMixin:
    """Methods of the main window that start fusions and show what they return."""

    paired: Any
    panes: dict[str, Any]
    regions: Any
    fusion_panel: Any
    controller: Any
    actions: Any
    result: FusionResult | None
    fusion_done: Any
    _sources_token: int
    preload_worker: Any = None
    _pending_request: Any = None  # (request, token) waiting for the previous sources' job to stop

    def build_request(self, params: FusionParams | None = None) -> FusionRequest:
        """The FusionRequest for the current sources (the current frame for videos) and regions."""
        if self.paired is None:
            from textdifuse_desktop.errors import FeatureUnavailableError

            raise FeatureUnavailableError(strings.NEED_TWO_SOURCES)
        a, b = self.paired
        if not isinstance(a, Image) or not isinstance(b, Image):
            a, b, _ = pipeline.frame_pair(a, b, self.panes["a"].current_slice)
        kappa_a, kappa_b, blend = self.regions.kappa_maps()
        return FusionRequest(a, b, params or self.fusion_panel.params(), kappa_a, kappa_b, blend)

    def run_fusion(self, params: FusionParams | None = None) -> bool:
        """Start fusing the current pair; False when it could not start (message shown).

        Sources of different patients (or frames of reference) are fused only after the user
        confirms it (:func:`gui.patient_check.confirm_same_patient`).
        """
        if params is not None and params != self.fusion_panel.params():
            self.fusion_panel.set_params(params)  # the panel always shows what runs
        try:
            request = self.build_request(params)
        except Exception as error:  # noqa: BLE001
            self.report_error(error)
            return False
        from textdifuse_desktop.gui.patient_check import confirm_same_patient

        if not confirm_same_patient(self):
            return False
        token = (self._sources_token, self.panes["a"].current_slice if self._is_video() else None)
        label = strings.METHOD_LABELS.get(request.params.method, request.params.method)
        if self.controller.is_running and self._is_stale():
            # The job of the previous sources is stopping (cancelled when they were replaced): start after it.
            self._pending_request = (request, token)
            self.statusBar().showMessage(strings.STATUS_WAITING_FOR_STOP.format(method=label))
            return True
        self.statusBar().showMessage(strings.STATUS_FUSING.format(method=label))
        return self.controller.run(request, token)

    def preload_model(self) -> None:
        """Load and warm up the panel's diffusion model in the background (app start-up), so that the first
        fusion runs at full speed.  Failures are only logged: the fusion that needs the model reports them."""
        from textdifuse_desktop.fusion.engine import warm_up_model
        from textdifuse_desktop.gui.workers import create_worker

        params = self.fusion_panel.params()
        if not params.uses_model or self.preload_worker is not None:
            return

        def job(cancel: Any) -> Any:
            yield None
            return warm_up_model(params)

        # Bound methods of the window: the queued reports run in the GUI thread, and Qt drops them if the window
        # is deleted first.
        self.preload_worker = create_worker(job, on_return=self._on_model_ready, on_error=self._on_warm_up_failed)

    def _on_model_ready(self, message: str) -> None:
        log.info("%s", message)
        if not self.controller.is_running:
            self.statusBar().showMessage(message, 8000)

    def _on_warm_up_failed(self, error: BaseException) -> None:
        log.warning("model warm-up failed: %s", error)

    def on_regions_changed(self) -> None:
        """Regions were edited: re-fuse with the new modulation when a result is on screen."""
        if self.result is not None and self.result.params.uses_model and not self.controller.is_running:
            self.run_fusion(self.result.params)

    def cancel_fusion(self) -> None:
        """Cancel the running fusion, if any."""
        self.controller.cancel()

    def wait_for_fusion(self, timeout_ms: int = 120000) -> bool:
        """Process events until the running fusion ends (headless use and tests)."""
        return self.controller.wait(timeout_ms)

    def _is_video(self) -> bool:
        return self.paired is not None and not isinstance(self.paired[0], Image)

    def _on_running_changed(self, running: bool) -> None:
        if running:
            self.result = None
        self.fusion_panel.set_running(running, succeeded=self.result is not None)
        self.actions.run.setEnabled(not running)
        self.actions.cancel.setEnabled(running)
        if running or self._pending_request is None:
            return
        pending, self._pending_request = self._pending_request, None
        if pending[1][0] == self._sources_token:
            request, token = pending
            label = strings.METHOD_LABELS.get(request.params.method, request.params.method)
            self.statusBar().showMessage(strings.STATUS_FUSING.format(method=label))
            self.controller.run(request, token)

    def _is_stale(self) -> bool:
        """True when the job reporting belongs to sources that have been replaced since it started."""
        token = self.controller.token
        return token is not None and token[0] != self._sources_token

    def _on_cancelled(self) -> None:
        if not self._is_stale():  # a job cancelled because new sources were opened needs no message
            self.statusBar().showMessage(strings.STATUS_CANCELLED, 5000)

    def _on_progress(self, progress: Progress) -> None:
        if self._is_stale():
            return
        self.fusion_panel.set_fraction(self.controller.fraction(progress), progress.message)

    def _on_preview(self, image: Image) -> None:
        if self._is_stale():
            return
        self._show("fused", image, keep_view=self.panes["fused"].image is not None)
        partial = image.meta.get("partial_slices") if isinstance(image.meta, dict) else None
        self.panes["fused"].set_caption(strings.CAPTION_PARTIAL.format(done=partial[0], total=partial[1])
                                        if partial else "preview")
        if self.panes["fused"].image is image and not partial:
            self.statusBar().showMessage(strings.STATUS_PREVIEW)
        self._update_overlay()

    def _on_result(self, result: FusionResult) -> None:
        if self._is_stale():
            log.info("dropping a fusion result of sources replaced meanwhile")
            return
        self.result = result
        self._show("fused", result.image, keep_view=self.panes["fused"].image is not None)
        self.panes["fused"].set_caption(strings.METHOD_LABELS.get(result.params.method, result.params.method))
        if not self.controller.is_running:
            self.fusion_panel.set_running(False, succeeded=True)
        self._update_overlay()
        label = strings.METHOD_LABELS.get(result.params.method, result.params.method)
        message = (strings.STATUS_CACHED.format(method=label) if self.controller.last_from_cache else
                   strings.STATUS_FUSED.format(method=label, seconds=result.seconds, device=result.device))
        if result.warnings:
            message += "  \u2014  " + "; ".join(result.warnings)
        self.statusBar().showMessage(message)
        self.fusion_panel.status_label.setText(message)
        self.fusion_done.emit(result)
