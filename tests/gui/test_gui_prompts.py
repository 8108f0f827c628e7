"""Typed prompts in the real window (create_main_window): the word list without a model, the consent dialog for
the one-time CLIP download (name, size, licence, Download / Cancel, progress) against a hub stand-in on 127.0.0.1,
and a dialog for every failure while the app keeps running."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fusion"))  # the hub stand-in lives with the fusion tests

from textdifuse_desktop.config import AppSettings

pytest.importorskip("torch")
pytest.importorskip("open_clip")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    return tmp_path / "hub-cache"


def _find(window, qtbot, text: str) -> None:
    panel = window.regions.panel
    panel.prompt_edit.setText(text)
    qtbot.mouseClick(panel.prompt_button, QtCore.Qt.MouseButton.LeftButton)


def test_unknown_word_asks_before_downloading_and_cancel_lists_the_words(make_window, qtbot, message_boxes,
                                                                         empty_cache) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    _find(window, qtbot, "bicycle")
    dialog = window.regions.actions.consent_dialog
    assert dialog is not None and dialog.isVisible() and not message_boxes
    assert dialog.model_label.text() == "CLIP ViT-B-32 laion2b_s34b_b79k"
    assert dialog.size_label.text() == "about 605 MB" and dialog.licence_label.text() == "MIT"
    assert [dialog.download_button.text(), dialog.cancel_button.text()] == ["Download", "Cancel"]
    assert not dialog.progress_bar.isVisible()
    with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=10000) as blocker:
        qtbot.mouseClick(dialog.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == ["bicycle", -1] and len(message_boxes) == 1
    text = message_boxes[0]["text"] + message_boxes[0]["info"]
    assert "'bicycle' needs a CLIP model" in text and "person" in text and "car" in text
    assert len(window.regions.region_set) == 0 and window.isVisible()
    assert not list(empty_cache.rglob("*.safetensors"))


def _tiny_hub_window(make_window, tmp_path, monkeypatch):
    from local_hub import MODEL, TAG, register_tiny_clip

    from textdifuse_desktop.fusion import clip_dense

    register_tiny_clip(tmp_path / "configs", monkeypatch)
    clip_dense._load_cached.cache_clear()
    window = make_window(settings=AppSettings(clip_model=MODEL, clip_pretrained=TAG))
    window.open_demo("ir_vis")
    return window


def test_download_with_progress_then_clip_finds_the_region(make_window, qtbot, message_boxes, empty_cache, tmp_path,
                                                           monkeypatch) -> None:
    from local_hub import point_hub_at, serve_hub, tiny_checkpoint_bytes

    from textdifuse_desktop.fusion import clip_models, prompt_regions

    def stub_similarity(bundle, rgb, phrases):  # the downloaded model is loaded for real; its maps are random
        out = np.full((len(phrases), *rgb.shape[:2]), -0.05, np.float32)
        out[0, 10:40, 20:60] = 0.05
        return out

    monkeypatch.setattr(prompt_regions, "clip_similarity", stub_similarity)
    window = _tiny_hub_window(make_window, tmp_path, monkeypatch)
    body = tiny_checkpoint_bytes()
    with serve_hub({"open_clip_model.safetensors": body}) as hub:
        point_hub_at(hub.url, empty_cache, monkeypatch)
        _find(window, qtbot, "bicycle")
        dialog = window.regions.actions.consent_dialog
        assert dialog.size_label.text() == "shown when the download starts"
        bars = []
        dialog.progressed.connect(lambda done, total: bars.append(done / total))
        with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
            qtbot.mouseClick(dialog.download_button, QtCore.Qt.MouseButton.LeftButton)
            assert dialog.progress_bar.isVisible() and not dialog.download_button.isEnabled()
    assert blocker.args == ["bicycle", 1] and not message_boxes
    assert bars and bars[-1] == 1.0  # the bar went to the end (the dialog is gone now)
    region = window.regions.region_set[0]
    assert region.provenance == "CLIP TinyTest-ViT: 'bicycle'" and region.mask[20, 30]
    assert "CLIP TinyTest-ViT: 'bicycle'" in window.statusBar().currentMessage()
    assert clip_models.cached_weights(clip_models.standard_weights("TinyTest-ViT", "tinytest")) is not None
    assert window.regions.actions.consent_dialog is None and window.regions.actions.wait(10000)


def test_failed_download_is_a_dialog_and_words_still_work(make_window, qtbot, message_boxes, empty_cache, tmp_path,
                                                          monkeypatch) -> None:
    from local_hub import point_hub_at, serve_hub, tiny_checkpoint_bytes

    window = _tiny_hub_window(make_window, tmp_path, monkeypatch)
    body = tiny_checkpoint_bytes()
    with serve_hub({"open_clip_model.safetensors": body}, cut_after=len(body) // 2) as hub:
        point_hub_at(hub.url, empty_cache, monkeypatch)
        _find(window, qtbot, "bicycle")
        dialog = window.regions.actions.consent_dialog
        with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
            qtbot.mouseClick(dialog.download_button, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == ["bicycle", -1] and len(message_boxes) == 1
    assert "failed" in message_boxes[0]["text"] + message_boxes[0]["info"]
    with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
        _find(window, qtbot, "car")
    assert blocker.args == ["car", 1] and window.regions.region_set[0].provenance.startswith("hot-object")
    window.regions.region_set.add("brushed", mask=np.ones(window.regions.region_set.shape, bool))
    assert len(window.regions.region_set) == 2 and window.isVisible()


@pytest.mark.parametrize("text, expected", [
    ("", "empty"), (" , ;", "empty"), ("x" * 500, "500 characters"), ("\u884c\u4eba", "non-Latin"),
])
def test_bad_prompt_text_is_a_dialog(make_window, qtbot, message_boxes, text, expected) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    finished = []
    window.regions.actions.prompt_finished.connect(lambda *args: finished.append(args))
    _find(window, qtbot, text)
    assert len(message_boxes) == 1 and expected in message_boxes[0]["text"] + message_boxes[0]["info"]
    assert finished == [(text.strip(), -1)] and window.isVisible() and window.regions.actions.prompt_worker is None


def test_corrupt_checkpoint_and_out_of_memory_are_dialogs(make_window, qtbot, message_boxes, tmp_path,
                                                          monkeypatch) -> None:
    import torch

    from textdifuse_desktop.fusion import clip_dense, prompt_regions

    clip_dense._load_cached.cache_clear()
    checkpoint = tmp_path / "clip.bin"
    checkpoint.write_bytes(b"\x80\x02 truncated pickle")
    window = make_window(settings=AppSettings(clip_checkpoint=str(checkpoint)))
    window.open_demo("ir_vis")
    with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
        _find(window, qtbot, "person")
    assert blocker.args == ["person", -1] and "cannot load it as open_clip model" in message_boxes[-1]["text"]
    window.regions.actions.wait(10000)

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(prompt_regions, "load_clip", lambda *args, **kwargs: object())
    monkeypatch.setattr(prompt_regions, "clip_similarity", no_memory)
    with qtbot.waitSignal(window.regions.actions.prompt_finished, timeout=60000) as blocker:
        _find(window, qtbot, "person")
    assert blocker.args == ["person", -1] and "out of memory" in message_boxes[-1]["text"]
    assert len(message_boxes) == 2 and window.isVisible()
    QtWidgets.QApplication.processEvents()
