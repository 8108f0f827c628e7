"""AppSettings: round trip, defaults, corrupt files, recent-file list."""

from __future__ import annotations

import json

import pytest

from textdifuse_desktop import config
from textdifuse_desktop.config import (
    DEFAULT_STEPS,
    MAX_RECENT_FILES,
    AppSettings,
    load_settings,
    save_settings,
)


@pytest.fixture(autouse=True)
def _config_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_CONFIG_DIR, str(tmp_path / "cfg"))


def test_defaults_when_missing(tmp_path):
    assert config.settings_path() == tmp_path / "cfg" / "settings.json"
    assert load_settings() == AppSettings()


def test_round_trip(tmp_path):
    checkpoint = tmp_path / "clip.safetensors"
    checkpoint.write_bytes(b"x")
    settings = AppSettings(device="cuda:1", default_steps=12, default_method="guided",
                           clip_checkpoint=str(checkpoint), log_dir=str(tmp_path / "logs"),
                           last_export_dir=str(tmp_path))
    settings.add_recent_file(tmp_path / "a.png")
    path = save_settings(settings)
    assert path == config.settings_path() and json.loads(path.read_text())["schema_version"] == 1
    loaded = load_settings()
    assert loaded == settings
    assert loaded.clip_available
    checkpoint.unlink()
    assert not load_settings().clip_available


def test_recent_files_are_unique_most_recent_first_and_capped(tmp_path):
    settings = AppSettings()
    for i in range(MAX_RECENT_FILES + 5):
        settings.add_recent_file(tmp_path / f"{i}.png")
    settings.add_recent_file(tmp_path / "7.png")
    assert len(settings.recent_files) == MAX_RECENT_FILES
    assert settings.recent_files[0] == str(tmp_path / "7.png")
    assert settings.recent_files.count(str(tmp_path / "7.png")) == 1
    assert str(tmp_path / "0.png") not in settings.recent_files


def test_corrupt_file_gives_defaults_and_a_warning():
    path = config.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("{ definitely not json")
    with pytest.warns(RuntimeWarning, match="unreadable"):
        assert load_settings() == AppSettings()
    path.write_text("[1, 2]")
    with pytest.warns(RuntimeWarning):
        assert load_settings() == AppSettings()


def test_bad_entries_fall_back_one_by_one():
    path = config.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"device": "tpu", "default_steps": 0, "default_method": "mean",
                                "recent_files": "nope", "future_key": 1, "schema_version": 5}))
    with pytest.warns(RuntimeWarning, match="device"):
        settings = load_settings()
    assert settings.device == "auto" and settings.default_steps == DEFAULT_STEPS and settings.recent_files == []
    assert settings.default_method == "mean"


def test_unwritable_folder_raises_write_error(tmp_path):
    from textdifuse_desktop.errors import WriteError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(WriteError, match="settings"):
        save_settings(AppSettings(), blocker / "sub" / "settings.json")
