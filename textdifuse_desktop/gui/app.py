"""Entry point of the desktop app: ``textdifuse-desktop [--demo] [--open A B] [--fuse] [--screenshot PNG] [--quit]``.

Sets up logging to a file in the user log folder, the Qt application
(HiDPI pass-through scaling, dark theme, ``imageAxisOrder='row-major'``), an
exception hook that shows unexpected errors in a dialog (the app keeps
running), and the main window.  The headless flags open a pair (or a demo),
optionally fuse and wait, save a screenshot and, with ``--quit``, exit.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from textdifuse_desktop import __version__

log = logging.getLogger(__name__)

LOG_FILE_NAME = "textdifuse-desktop.log"


class _OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) with exit status 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        """Print ``textdifuse-desktop: error: <message>`` and exit with status 2 (argument error)."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


#: Exit status of a bad command line (argparse's convention); 3 = an input given to ``--open`` is missing.
EXIT_USAGE = 2
EXIT_MISSING_INPUT = 3


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the desktop app."""
    from textdifuse_desktop.fusion.request import MAX_STEPS, METHODS

    parser = _OneLineParser(prog="textdifuse-desktop", description="TextDiFuse Desktop: multi-modal image fusion.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--demo", nargs="?", const="ir_vis", choices=("ir_vis", "mri_pet"),
                        help="open a bundled demo pair (default: ir_vis, infrared + visible)")
    parser.add_argument("--open", nargs=2, metavar=("A", "B"), help="open two sources (files or DICOM folders)")
    parser.add_argument("--fuse", action="store_true", help="fuse once the sources are open (waits for the result)")
    parser.add_argument("--method", choices=METHODS, help="fusion method for --fuse")
    parser.add_argument("--steps", type=_steps_type(MAX_STEPS), help=f"sampling steps for --fuse (1..{MAX_STEPS})")
    parser.add_argument("--allow-different-patients", action="store_true",
                        help="fuse sources of different patients or frames of reference without asking")
    parser.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the main window")
    parser.add_argument("--size", metavar="WxH", type=_size_type, help="window size, e.g. 1480x860")
    parser.add_argument("--quit", action="store_true", help="exit when done (no dialogs; errors go to stderr)")
    parser.add_argument("--debug", action="store_true", help="debug logging")
    return parser


def _steps_type(max_steps: int) -> Any:
    def steps(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= max_steps:
            raise argparse.ArgumentTypeError(f"{value} is outside 1..{max_steps}")
        return value

    return steps


def _size_type(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1480x860)")
    return int(width), int(height)


def check_inputs(args: argparse.Namespace) -> str | None:
    """One-line error for inputs that cannot be opened (checked before any window exists), or None."""
    for role, path in zip(("A", "B"), args.open or ()):
        if not Path(path).exists():
            return f"source {role} not found: {path}"
    if args.screenshot and Path(args.screenshot).is_dir():
        return f"--screenshot needs a file name, got the folder {args.screenshot}"
    return None


def create_main_window(settings: Any = None, log_file: Path | None = None) -> Any:
    """The application's main window, fully wired: the one factory ``textdifuse-desktop`` and the tests use."""
    from textdifuse_desktop.gui.main_window import MainWindow
    from textdifuse_desktop.gui.source_tools import install_source_tools

    window = MainWindow(settings=settings, log_file=log_file)
    install_source_tools(window)  # frame selectors, temperature scale, rigid registration
    return window


def configure_logging(log_dir: Path | None = None, *, debug: bool = False) -> Path | None:
    """Log to ``<log_dir>/textdifuse-desktop.log`` (rotating) and warnings to stderr; returns the file."""
    if log_dir is None:
        from textdifuse_desktop.config import default_log_dir

        log_dir = Path(default_log_dir())
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    log_file: Path | None = Path(log_dir) / LOG_FILE_NAME
    try:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3,
                                                                       encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"))
        root.addHandler(handler)
    except OSError as error:
        log_file = None
        print(f"warning: cannot write the log file in {log_dir}: {error}", file=sys.stderr)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if debug else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    # Errors the window already shows (dialog, or one "error:" line in headless runs) are not repeated here.
    console.addFilter(lambda record: not getattr(record, "shown_to_user", False))
    root.addHandler(console)
    return log_file


def install_excepthook(window_getter: Any) -> None:
    """Route uncaught exceptions (GUI thread and others) to the log and an error dialog."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        window = window_getter()
        if window is not None and threading.current_thread() is threading.main_thread():
            window.report_error(exc)

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)  # type: ignore[arg-type]


def create_app(argv: Sequence[str] | None = None) -> Any:
    """The QApplication (created once) with HiDPI, theme and pyqtgraph options set."""
    from PySide6 import QtCore, QtGui, QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        QtGui.QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QtWidgets.QApplication(list(argv or [sys.argv[0]]))
    from textdifuse_desktop.gui import strings
    from textdifuse_desktop.gui.resources import icon_path
    from textdifuse_desktop.gui.theme import apply_theme

    app.setApplicationName(strings.APP_NAME)
    app.setOrganizationName(strings.ORG_NAME)
    app.setApplicationVersion(__version__)
    icon = next((p for p in (icon_path("textdifuse.png"), icon_path("textdifuse.svg")) if p.is_file()), None)
    if icon is not None:
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    apply_theme(app)
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    return app


def _load_settings() -> Any:
    try:
        from textdifuse_desktop.config import load_settings

        return load_settings()
    except Exception as error:  # noqa: BLE001 - broken settings must not stop the app
        log.warning("settings unavailable: %s", error)
        return None


def run_startup(window: Any, args: argparse.Namespace) -> int:
    """Carry out the headless flags on an existing window; returns an exit status (never raises)."""
    try:
        return _run_startup(window, args)
    except Exception as error:  # noqa: BLE001 - reported (dialog or stderr); the caller still quits
        window.report_error(error)
        return 1


def _run_startup(window: Any, args: argparse.Namespace) -> int:
    ok = True
    window.allow_different_patients = bool(getattr(args, "allow_different_patients", False))
    if args.demo:
        ok = window.open_demo(args.demo)
    if args.open:
        ok = window.open_pair(*args.open) and ok
    if args.fuse and ok:
        from textdifuse_desktop.fusion.request import FusionParams

        params = window.fusion_panel.params()
        changes = {k: v for k, v in (("method", args.method), ("steps", args.steps)) if v is not None}
        if changes:
            params = FusionParams.from_dict({**params.to_dict(), **changes})
            window.fusion_panel.set_params(params)
        started = window.run_fusion(params)
        ok = started and window.wait_for_fusion(30 * 60 * 1000) and window.result is not None and ok
    if args.screenshot:
        try:
            window.save_screenshot(args.screenshot)
        except Exception as error:  # noqa: BLE001
            window.report_error(error)
            ok = False
    return 0 if ok and not window.errors_shown else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Start the desktop app; returns the exit status."""
    args = build_parser().parse_args(argv)  # a bad option exits here (status 2), before Qt starts
    problem = check_inputs(args)
    if problem:
        print(f"textdifuse-desktop: error: {problem}", file=sys.stderr)
        return EXIT_MISSING_INPUT
    # torch keeps all cores: benchmarks/bench_gui_latency.py shows < 25 ms event-loop
    # latency during CPU diffusion either way, and one thread fewer is ~35 % slower on 2 cores.
    settings = _load_settings()
    log_dir = getattr(settings, "effective_log_dir", None)
    log_file = configure_logging(log_dir, debug=args.debug)
    log.info("TextDiFuse Desktop %s starting (log: %s)", __version__, log_file)
    try:
        app = create_app([sys.argv[0]])
        from PySide6 import QtCore

        import textdifuse_desktop.gui.main_window  # noqa: F401 - fail here, with the hint, when Qt is missing
    except ImportError as error:
        print(f"error: the desktop app needs PySide6 and pyqtgraph ({error}); "
              "install them with: pip install 'textdifuse-desktop'", file=sys.stderr)
        return 7
    window = create_main_window(settings=settings, log_file=log_file)
    window.interactive = not args.quit
    if args.size:
        window.resize(*args.size)
    install_excepthook(lambda: window)
    window.show()
    status = {"code": 0}

    def startup() -> None:
        try:
            status["code"] = run_startup(window, args)
        finally:
            if args.quit:
                window.close()
                app.quit()

    QtCore.QTimer.singleShot(0, startup)
    if not (args.fuse or args.quit):
        QtCore.QTimer.singleShot(0, window.preload_model)
    if args.quit and not (args.demo or args.open or args.screenshot):
        QtCore.QTimer.singleShot(0, app.quit)
    app.exec()
    return status["code"]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
