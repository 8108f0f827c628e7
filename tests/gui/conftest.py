"""GUI test fixtures: offscreen Qt, isolated settings/logs, non-blocking dialogs, leak-checked windows."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

from PySide6 import QtCore, QtWidgets  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings and logs go to the test's tmp folder, never to the user's."""
    monkeypatch.setenv("TEXTDIFUSE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdgconfig"))


@pytest.fixture(autouse=True)
def message_boxes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Every QMessageBox shown during the test (they return at once instead of blocking)."""
    shown: list[dict[str, str]] = []

    def fake_exec(box: QtWidgets.QMessageBox) -> int:
        shown.append({"title": box.windowTitle(), "text": box.text(), "info": box.informativeText()})
        return int(QtWidgets.QMessageBox.StandardButton.Ok.value)

    monkeypatch.setattr(QtWidgets.QMessageBox, "exec", fake_exec)
    monkeypatch.setattr(QtWidgets.QDialog, "exec", lambda self: 0)
    return shown


@pytest.fixture
def make_window(qapp: QtWidgets.QApplication, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Main windows built by the app's own factory (``gui.app.create_main_window``, as ``textdifuse-desktop``
    builds them); closes them afterwards and fails on leaked top-level widgets."""
    import pyqtgraph as pg

    from textdifuse_desktop.config import AppSettings
    from textdifuse_desktop.gui.app import create_main_window
    from textdifuse_desktop.gui.main_window import MainWindow

    pg.setConfigOptions(imageAxisOrder="row-major")
    before = set(map(id, QtWidgets.QApplication.topLevelWidgets()))
    windows: list[MainWindow] = []

    def factory(show: bool = True, **kwargs: Any) -> MainWindow:
        kwargs.setdefault("settings", AppSettings())
        kwargs.setdefault("log_file", tmp_path / "textdifuse-desktop.log")
        window = create_main_window(**kwargs)
        window.resize(1200, 700)
        windows.append(window)
        if show:
            window.show()
            QtWidgets.QApplication.processEvents()
        return window

    yield factory
    for window in windows:
        window.close()
        window.deleteLater()
    for _ in range(3):
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
        QtWidgets.QApplication.processEvents()
    leaked = [w for w in QtWidgets.QApplication.topLevelWidgets() if id(w) not in before and w.isVisible()]
    assert not leaked, f"leaked top-level widgets: {leaked}"


class SleepyBackend:
    """A stand-in diffusion backend: sleeps per step (like a model releasing the GIL), returns the max."""

    multiple = 8

    def __init__(self, steps: int = 3, delay: float = 0.02):
        self.steps = steps
        self.delay = delay
        self.calls = 0
        self.sampler_config = {"name": "sleepy", "steps": steps}
        self.device = "cpu"

    def run(self, ya: np.ndarray, yb: np.ndarray, ka: Any, kb: Any, preview: bool) -> Generator[Any, None, np.ndarray]:
        self.calls += 1
        fused = np.maximum(ya, yb)
        for _ in range(self.steps):
            time.sleep(self.delay)
            yield fused if preview else None
        return fused


@pytest.fixture
def sleepy_backend() -> type[SleepyBackend]:
    """The SleepyBackend class."""
    return SleepyBackend


def make_png_pair(folder: Path, size: tuple[int, int] = (48, 64), seed: int = 0) -> tuple[Path, Path]:
    """Write a small RGB 'visible' PNG and a grey 'infrared' PNG; returns their paths."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    h, w = size
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    vis = np.stack([ramp, ramp[::-1], np.full_like(ramp, 90)], axis=-1) + rng.normal(0, 5, (h, w, 3))
    ir = np.zeros((h, w), np.float32)
    ir[h // 4: h // 2, w // 3: w // 2] = 230
    folder.mkdir(parents=True, exist_ok=True)
    a, b = folder / "vis.png", folder / "ir.png"
    PILImage.fromarray(np.clip(vis, 0, 255).astype(np.uint8)).save(a)
    PILImage.fromarray(ir.astype(np.uint8)).save(b)
    return a, b


@pytest.fixture
def png_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A small (visible RGB, infrared grey) PNG pair in tmp_path/src."""
    return make_png_pair(tmp_path / "src")
