"""Entry point of the frozen build (PyInstaller).

With no arguments (double-click, desktop menu) it starts the desktop app;
with arguments it is the ``textdifuse`` command line, e.g.
``textdifuse-desktop fuse a.png b.png -o out.png``.  ``gui`` as the first
argument also starts the desktop app (with its own options).
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    args = sys.argv[1:]
    if not args or args[0] == "gui":
        from textdifuse_desktop.gui.app import main as gui_main

        if args:
            sys.argv = [sys.argv[0], *args[1:]]
        return int(gui_main() or 0)
    from textdifuse_desktop.cli.main import main as cli_main

    return int(cli_main(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
