"""Render resources/icons/textdifuse.svg to a 256 px PNG with Qt (run from the repository root).

    QT_QPA_PLATFORM=offscreen python packaging/render_icon.py [size]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import QtCore, QtGui, QtSvg

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"


def render(size: int = 256) -> Path:
    """Write ``textdifuse.png`` (``size`` x ``size``) next to the SVG and return its path."""
    renderer = QtSvg.QSvgRenderer(str(ICONS / "textdifuse.svg"))
    if not renderer.isValid():
        raise SystemExit(f"cannot parse {ICONS / 'textdifuse.svg'}")
    image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out = ICONS / "textdifuse.png"
    if not image.save(str(out)):
        raise SystemExit(f"cannot write {out}")
    return out


if __name__ == "__main__":
    app = QtGui.QGuiApplication(sys.argv[:1])
    print(render(int(sys.argv[1]) if len(sys.argv) > 1 else 256))
