"""Whole-volume fusion in the real window: fused slices appear as they are done, cancel stops within a slice."""

from __future__ import annotations

import numpy as np
from gui_helpers import make_volume

from textdifuse_desktop.fusion.request import FusionParams


def _volume_window(make_window, monkeypatch, backend):
    from textdifuse_desktop.fusion import _slice_runner

    monkeypatch.setattr(_slice_runner, "CPU_BATCH_PIXELS", 24 * 32)  # one slice per batch
    window = make_window()
    window.set_sources(make_volume((8, 24, 32), seed=1, modality="MR", units=""),
                       make_volume((8, 24, 32), seed=2, modality="MR", units=""))
    window.controller.backend = backend
    return window


def test_first_fused_slices_are_shown_while_the_rest_is_fused(make_window, qtbot, sleepy_backend, monkeypatch) -> None:
    backend = sleepy_backend(steps=1, delay=0.15)
    window = _volume_window(make_window, monkeypatch, backend)
    previews = []
    window.controller.preview.connect(previews.append)
    with qtbot.waitSignal(window.fusion_done, timeout=30000) as blocker:
        window.run_fusion(FusionParams(method="textdifuse"))
        qtbot.waitUntil(lambda: bool(previews), timeout=10000)
        assert window.controller.is_running  # shown before the volume is done
        first = previews[0]
        done, total = first.meta["partial_slices"]
        assert 1 <= done < total == 8
        shown = window.panes["fused"].image  # the newest partial result (more may have come meanwhile)
        assert shown.meta["partial_slices"][0] >= done
        assert window.panes["fused"]._caption == f"fusing: {shown.meta['partial_slices'][0]}/8 slices"
        assert first.pixels[:done].any() and not first.pixels[done:].any()
    result = blocker.args[0]
    np.testing.assert_allclose(first.pixels[:done], result.image.pixels[:done], atol=1e-3)
    assert window.panes["fused"].image is result.image
    assert backend.calls == 8


def test_cancel_of_a_volume_stops_within_one_slice(make_window, qtbot, sleepy_backend, monkeypatch) -> None:
    backend = sleepy_backend(steps=1, delay=0.2)
    window = _volume_window(make_window, monkeypatch, backend)
    previews = []
    window.controller.preview.connect(previews.append)
    window.run_fusion(FusionParams(method="textdifuse"))
    qtbot.waitUntil(lambda: bool(previews), timeout=10000)
    calls_at_cancel = backend.calls
    with qtbot.waitSignal(window.controller.cancelled, timeout=10000):
        window.actions.cancel.trigger()
    assert window.wait_for_fusion(10000)
    assert backend.calls <= calls_at_cancel + 1 < 8  # the slice under way finishes, no other starts
    assert window.result is None and "cancelled" in window.statusBar().currentMessage().lower()
