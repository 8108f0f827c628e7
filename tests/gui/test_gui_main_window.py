"""Main window: demo, opening files, drag and drop, recent files, errors, About box."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from textdifuse_desktop.gui.resources import demo_pair


def test_open_demo_ir_vis_shows_both_sources(make_window) -> None:
    window = make_window()
    assert window.open_demo("ir_vis")
    a, b = window.panes["a"].image, window.panes["b"].image
    assert a is not None and b is not None
    assert a.grid_shape == b.grid_shape  # B is on A's grid
    assert a.has_channels and not b.has_channels  # visible carries the colour
    assert window.panes["fused"].image is None
    assert Path(window.raw["a"].provenance.source_paths[0]).name == demo_pair("ir_vis")[0].name
    assert window.settings.recent_files[0].endswith("ir.png")
    assert window.actions.recent_menu.actions()[0].isEnabled()


def test_open_demo_mri_pet_menu_entry(make_window) -> None:
    window = make_window()
    window.actions.demo_mri_pet.trigger()
    assert window.panes["a"].image is not None and window.panes["b"].image is not None
    assert window.panes["a"].image.grid_shape == (1, 256, 256)
    assert "pet.png" in window.panes["b"].title + window.panes["b"]._header.text()


def test_bad_file_shows_dialog_with_log_path_and_app_survives(make_window, tmp_path, message_boxes) -> None:
    window = make_window()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    assert not window.open_source("a", bad)
    assert len(message_boxes) == 1
    box = message_boxes[0]
    assert "broken.png" in box["text"]
    assert str(tmp_path / "textdifuse-desktop.log") in box["info"]
    assert window.raw["a"] is None
    assert window.open_demo("ir_vis")  # still usable


def test_missing_file_error_names_the_path(make_window, tmp_path, message_boxes) -> None:
    window = make_window()
    assert not window.open_source("b", tmp_path / "nope.nii.gz")
    assert "nope.nii.gz" in message_boxes[0]["text"] and "not found" in message_boxes[0]["text"]


def test_drop_two_files_opens_a_pair(make_window, png_pair) -> None:
    window = make_window()
    window._on_files_dropped([str(png_pair[0]), str(png_pair[1])], None)
    assert window.paired is not None
    window._on_files_dropped([str(png_pair[0])], "b")  # drop on pane B replaces B
    assert window.raw["b"].has_channels


def test_fusion_without_sources_explains_what_to_do(make_window, message_boxes) -> None:
    window = make_window()
    assert not window.run_fusion()
    assert "Open two sources" in message_boxes[0]["text"]


def test_about_box_shows_model_card(make_window, tmp_path, monkeypatch) -> None:
    from textdifuse_desktop.gui.widgets import dialogs

    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({"name": "textdifuse-compact", "sha256": "abc123", "training_data": ["MSRS"]}))
    monkeypatch.setattr(dialogs, "model_card_path", lambda: card)
    window = make_window()
    dialog = dialogs.AboutDialog(window, window.log_file)
    text = dialog.browser.toPlainText()
    assert "textdifuse-compact" in text and "abc123" in text and "MSRS" in text
    missing = dialogs.model_card_html(None, tmp_path / "gone.json")
    assert "gone.json" in missing
    dialog.deleteLater()


def test_screenshot_written(make_window, tmp_path) -> None:
    window = make_window()
    window.open_demo("ir_vis")
    out = window.save_screenshot(tmp_path / "shots" / "main.png")
    from PIL import Image as PILImage

    with PILImage.open(out) as shot:
        assert shot.size[0] >= 600 and np.asarray(shot).std() > 5


def test_session_save_and_reopen(make_window, png_pair, tmp_path) -> None:
    from textdifuse_desktop.gui import session_actions

    if not session_actions.available():
        import pytest

        pytest.skip("gui.session_io not installed")
    window = make_window()
    window.open_pair(*png_pair)
    window.fusion_panel.steps_spin.setValue(7)
    window.set_linked(False)
    saved = session_actions.save_session_as(window, tmp_path / "case")
    assert saved is not None and saved.exists()
    other = make_window()
    assert session_actions.open_session(other, saved)
    assert other.raw["a"].provenance.source_paths[0] == str(png_pair[0])
    assert other.fusion_panel.params().steps == 7
    assert not other.linker.enabled


def test_dicom_ct_readout_in_hu(make_window) -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    window = make_window()
    assert window.open_pair(path, path)
    a = window.panes["a"]
    assert a.image.modality == "CT" and a.image.units == "HU"
    a.cursor_moved.emit((64.0, 64.0))
    assert a._footer.text().endswith("HU")
    window.apply_preset("a", "Soft tissue (C40 W400 HU)")
    assert a.window == (40.0, 400.0)
