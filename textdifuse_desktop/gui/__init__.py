"""The PySide6 desktop application: the only package that imports Qt.

Start it with ``textdifuse-desktop`` (:func:`textdifuse_desktop.gui.app.main`).
"""

try:
    import PySide6  # noqa: F401
except ImportError as _error:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the TextDiFuse desktop app needs PySide6, pyqtgraph and superqt; "
        "install them with: pip install PySide6-Essentials pyqtgraph superqt"
    ) from _error
