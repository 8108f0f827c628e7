"""The entry point: headless flags, logging to a file, the exception hook."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textdifuse_desktop.gui import app as gui_app


def test_parser_flags() -> None:
    args = gui_app.build_parser().parse_args(["--demo", "--fuse", "--screenshot", "x.png", "--quit"])
    assert args.demo == "ir_vis" and args.fuse and args.quit and args.screenshot == "x.png"
    assert gui_app.build_parser().parse_args(["--demo", "mri_pet"]).demo == "mri_pet"
    assert gui_app.build_parser().parse_args(["--open", "a.png", "b.png"]).open == ["a.png", "b.png"]
    with pytest.raises(SystemExit):
        gui_app.build_parser().parse_args(["--demo", "nope"])


def test_run_startup_demo_fuse_screenshot(make_window, tmp_path) -> None:
    window = make_window()
    args = gui_app.build_parser().parse_args(
        ["--demo", "mri_pet", "--fuse", "--method", "laplacian", "--screenshot", str(tmp_path / "shot.png")])
    assert gui_app.run_startup(window, args) == 0
    assert window.result is not None and window.result.params.method == "laplacian"
    assert window.fusion_panel.params().method == "laplacian"
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_run_startup_reports_bad_input(make_window, tmp_path, message_boxes) -> None:
    window = make_window()
    window.interactive = False
    args = gui_app.build_parser().parse_args(["--open", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--fuse"])
    assert gui_app.run_startup(window, args) == 1
    assert not message_boxes  # headless: no dialog, the error goes to stderr and the log
    assert window.result is None


def test_excepthook_shows_dialog_and_logs(make_window, message_boxes, caplog) -> None:
    window = make_window()
    old_hook = sys.excepthook
    try:
        gui_app.install_excepthook(lambda: window)
        with caplog.at_level(logging.ERROR):
            try:
                raise RuntimeError("surprise")
            except RuntimeError:
                sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = old_hook
    assert "surprise" in message_boxes[0]["text"] and "RuntimeError" in message_boxes[0]["text"]
    assert "surprise" in caplog.text


def test_configure_logging_writes_file(tmp_path) -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        log_file = gui_app.configure_logging(tmp_path / "logs")
        logging.getLogger("textdifuse_desktop.test").warning("hello log")
        for handler in root.handlers:
            handler.flush()
        assert log_file is not None and "hello log" in log_file.read_text()
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()


def test_entry_point_headless_subprocess(tmp_path, png_pair) -> None:
    shot = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEXTDIFUSE_CONFIG_DIR=str(tmp_path / "cfg"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    cmd = [sys.executable, "-m", "textdifuse_desktop.gui.app", "--open", str(png_pair[0]), str(png_pair[1]),
           "--fuse", "--method", "mean", "--screenshot", str(shot), "--size", "900x600", "--quit"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.stat().st_size > 5_000
    logs = list(Path(tmp_path / "state").rglob("textdifuse-desktop.log"))
    assert logs and "starting" in logs[0].read_text()


def _desktop(args: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TEXTDIFUSE_CONFIG_DIR=str(tmp_path / "cfg"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    return subprocess.run([sys.executable, "-m", "textdifuse_desktop.gui.app", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


@pytest.mark.parametrize("bad, needle", [
    (["--fuse", "--steps", "0", "--quit"], "--steps: 0 is outside 1..25"),
    (["--fuse", "--steps", "two"], "--steps: 'two' is not a whole number"),
    (["--fuse", "--method", "foo"], "--method: invalid choice: 'foo'"),
    (["--size", "big", "--quit"], "--size: 'big' is not WIDTHxHEIGHT"),
])
def test_bad_arguments_exit_at_once_with_one_line(tmp_path, png_pair, bad, needle) -> None:
    """Before: a traceback in the event loop and a window that never closed (issue 15, case 4)."""
    result = _desktop(["--open", str(png_pair[0]), str(png_pair[1]), *bad], tmp_path, timeout=30)
    assert result.returncode == gui_app.EXIT_USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("textdifuse-desktop: error:") and needle in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_main_rejects_bad_arguments_before_any_window(monkeypatch, capsys) -> None:
    from textdifuse_desktop.gui import main_window

    monkeypatch.setattr(main_window, "MainWindow", None)  # building a window would fail loudly
    with pytest.raises(SystemExit) as stop:
        gui_app.main(["--demo", "--fuse", "--steps", "0"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_main_reports_a_missing_input_in_one_line(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(gui_app, "create_app", lambda *a: pytest.fail("Qt must not start"))
    code = gui_app.main(["--open", str(tmp_path / "nope.png"), str(tmp_path / "b.png"), "--fuse"])
    err = capsys.readouterr().err.strip()
    assert code == gui_app.EXIT_MISSING_INPUT
    assert err == f"textdifuse-desktop: error: source A not found: {tmp_path / 'nope.png'}"


def test_run_startup_never_raises(make_window, tmp_path) -> None:
    window = make_window()
    window.interactive = False

    def broken(*_args):
        raise RuntimeError("reader exploded")

    window.open_pair = broken
    args = gui_app.build_parser().parse_args(["--open", "a.png", "b.png", "--fuse", "--quit"])
    assert gui_app.run_startup(window, args) == 1
    assert "reader exploded" in str(window.errors_shown[-1])


def test_headless_error_is_printed_once(tmp_path, png_pair) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a PNG")
    result = _desktop(["--open", str(png_pair[0]), str(broken), "--fuse", "--quit"], tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "broken.png" in line]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    logs = list(Path(tmp_path / "state").rglob("textdifuse-desktop.log"))
    assert logs and "broken.png" in logs[0].read_text()  # the log file still has it
