"""Start-up warm-up of the diffusion model: in the background, reported in the GUI thread, failures only logged."""

from __future__ import annotations

import threading

from textdifuse_desktop.fusion import _model_backend
from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.gui.fusion_controls import FusionControlsMixin


def test_preload_loads_the_shipped_model_off_the_gui_thread(make_window, qtbot, monkeypatch) -> None:
    _model_backend.clear_model_cache()
    ready_in_main: list[bool] = []
    original = FusionControlsMixin._on_model_ready

    def recording(self, message: str) -> None:
        ready_in_main.append(threading.current_thread() is threading.main_thread())
        original(self, message)

    monkeypatch.setattr(FusionControlsMixin, "_on_model_ready", recording)
    window = make_window()
    window.fusion_panel.set_params(FusionParams(method="textdifuse"))
    window.preload_model()
    assert window.preload_worker is not None
    qtbot.waitUntil(lambda: bool(ready_in_main), timeout=120000)
    assert ready_in_main == [True]
    assert window.statusBar().currentMessage().startswith("Diffusion model ready on cpu")
    assert len(_model_backend._CACHE) == 1  # the first fusion finds it loaded
    window.preload_model()  # once per window
    assert window.preload_worker.wait(1000)


def test_closing_the_window_during_the_warm_up_waits_for_it(make_window, qtbot) -> None:
    _model_backend.clear_model_cache()
    window = make_window()
    window.fusion_panel.set_params(FusionParams(method="textdifuse"))
    window.preload_model()
    window.close()  # joins the worker
    assert not window.preload_worker.is_running
    # The fixture's teardown deletes the window, then delivers the worker's queued report: it must not touch the
    # deleted window (pytest-qt fails the test on an "already deleted" error in the event loop).


def test_preload_failure_is_logged_not_shown(make_window, qtbot, tmp_path, monkeypatch, message_boxes, caplog) -> None:
    from textdifuse_desktop.model.weights import ENV_WEIGHTS

    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path / "missing.safetensors"))
    window = make_window()
    window.fusion_panel.set_params(FusionParams(method="textdifuse"))
    window.preload_model()
    qtbot.waitUntil(lambda: "model warm-up failed" in caplog.text, timeout=60000)
    assert "missing.safetensors" in caplog.text
    assert not message_boxes and not window.errors_shown  # the fusion that needs the model reports it


def test_no_preload_for_classical_methods(make_window) -> None:
    window = make_window()
    window.fusion_panel.set_params(FusionParams(method="laplacian"))
    window.preload_model()
    assert window.preload_worker is None
