"""Background fusion: classical result, diffusion with a stand-in model (preview first), cancel, cache."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.fusion.request import FusionParams, Progress
from textdifuse_desktop.gui.pipeline import PreviewResult, ResultCache, fusion_job
from textdifuse_desktop.gui.workers import GeneratorWorker


def test_classical_fusion_fills_fused_pane_and_cache(make_window, qtbot) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    with qtbot.waitSignal(window.fusion_done, timeout=30000) as blocker:
        assert window.run_fusion(FusionParams(method="laplacian"))
    result = blocker.args[0]
    assert window.wait_for_fusion(10000)
    fused = window.panes["fused"]
    assert fused.image is result.image and result.image.grid_shape == window.panes["a"].image.grid_shape
    assert result.image.has_channels  # colour restored from the visible source
    assert "Laplacian" in fused._header.text()
    a_rect, f_rect = window.panes["a"].view_box.viewRect(), fused.view_box.viewRect()
    assert a_rect.center().x() == pytest.approx(f_rect.center().x())
    assert a_rect.center().y() == pytest.approx(f_rect.center().y())
    assert window.display_panel.layout_mode == "stacked"  # 640x480: A/B stacked, fused large
    assert fused.view_box.width() > window.panes["a"].view_box.width()
    assert window.fusion_panel.run_button.isEnabled() and not window.fusion_panel.cancel_button.isEnabled()
    assert not window.controller.last_from_cache
    # Same parameters again: served from the cache without a worker.
    with qtbot.waitSignal(window.fusion_done, timeout=1000) as again:
        window.run_fusion(FusionParams(method="laplacian"))
    assert again.args[0] is result and window.controller.last_from_cache
    assert "cache" in window.statusBar().currentMessage()
    window.run_fusion(FusionParams(method="max"))
    assert window.wait_for_fusion(30000) and window.result is not result


def test_diffusion_shows_classical_preview_then_model_result(make_window, qtbot, sleepy_backend) -> None:
    window = make_window()
    window.open_demo("mri_pet")
    backend = sleepy_backend(steps=3, delay=0.01)
    window.controller.backend = backend
    previews: list[object] = []
    window.controller.preview.connect(previews.append)
    progress: list[Progress] = []
    window.controller.progress.connect(progress.append)
    with qtbot.waitSignal(window.fusion_done, timeout=30000) as blocker:
        window.run_fusion(FusionParams(method="textdifuse", steps=3))
        assert window.fusion_panel.cancel_button.isEnabled()
    result = blocker.args[0]
    assert backend.calls == 1 and result.params.method == "textdifuse"
    assert previews, "the classical preview must be shown before the model result"
    assert previews[0].grid_shape == result.image.grid_shape
    assert progress[-1].done == progress[-1].total
    assert window.panes["fused"].image is result.image


def test_cancel_stops_a_running_fusion(make_window, qtbot, sleepy_backend) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    window.controller.backend = sleepy_backend(steps=25, delay=0.3)
    with qtbot.waitSignal(window.controller.progress, timeout=10000):
        window.run_fusion(FusionParams(method="textdifuse", steps=25))
    with qtbot.waitSignal(window.controller.cancelled, timeout=10000):
        window.actions.cancel.trigger()
    assert window.wait_for_fusion(10000)
    assert window.result is None and "cancelled" in window.statusBar().currentMessage().lower()
    assert window.fusion_panel.run_button.isEnabled()
    assert len(window.controller.cache) == 0


def test_worker_signals_arrive_in_gui_thread(qapp, qtbot) -> None:
    threads: list[bool] = []

    def job(cancel):
        threads.append(threading.current_thread() is threading.main_thread())
        yield 1
        yield 2
        return "done"

    worker = GeneratorWorker(job)
    got: list[object] = []
    worker.yielded.connect(lambda v: got.append(v))
    with qtbot.waitSignal(worker.returned, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["done"] and threads == [False]
    qtbot.waitUntil(lambda: got == [1, 2], timeout=2000)
    assert worker.wait(5000)


def test_worker_reports_errors_and_cancellation(qapp, qtbot) -> None:
    def failing(cancel):
        yield 1
        raise ValueError("boom")

    worker = GeneratorWorker(failing)
    with qtbot.waitSignal(worker.errored, timeout=5000) as blocker:
        worker.start()
    assert isinstance(blocker.args[0], ValueError)
    assert worker.wait(5000)

    def endless(cancel):
        while True:
            yield 0

    worker = GeneratorWorker(endless)
    worker.quit()
    with qtbot.waitSignal(worker.errored, timeout=5000) as blocker:
        worker.start()
    assert isinstance(blocker.args[0], FusionCancelled)
    assert worker.wait(5000)


def test_fusion_job_preview_only_for_model(sleepy_backend) -> None:
    from textdifuse_desktop.fusion.request import FusionRequest
    from textdifuse_desktop.imaging.image import Image

    rng = np.random.default_rng(0)
    a = Image(rng.uniform(0, 255, (16, 24)).astype(np.float32))
    b = Image(rng.uniform(0, 255, (16, 24)).astype(np.float32))
    items = list(_drain(fusion_job(FusionRequest(a, b, FusionParams(method="mean")))))
    assert not any(isinstance(i, PreviewResult) for i in items)
    items = list(_drain(fusion_job(FusionRequest(a, b, FusionParams(steps=2)), backend=sleepy_backend(steps=2))))
    kinds = [type(i).__name__ for i in items]
    assert kinds.index("PreviewResult") < len(kinds) - 1
    key1 = ResultCache.key(1, FusionRequest(a, b, FusionParams(steps=2)))
    key2 = ResultCache.key(1, FusionRequest(a, b, FusionParams(steps=2), kappa_b=np.ones((16, 24), np.float32)))
    assert key1 != key2 and key1 == ResultCache.key(1, FusionRequest(a, b, FusionParams(steps=2)))


def _drain(gen):
    while True:
        try:
            yield next(gen)
        except StopIteration:
            return


def test_fusion_panel_round_trips_parameters_including_restoration(make_window) -> None:
    from textdifuse_desktop.fusion.request import FusionParams

    panel = make_window().fusion_panel
    wanted = FusionParams(method="textdifuse", steps=8, rule="max", device="cpu", seed=7, restore=0.25)
    assert panel.params().restore == 1.0
    panel.set_params(wanted)
    got = panel.params()
    assert (got.steps, got.rule, got.device, got.seed, got.restore) == (8, "max", "cpu", 7, 0.25)
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("guided"))
    assert not panel.restore_spin.isEnabled()
