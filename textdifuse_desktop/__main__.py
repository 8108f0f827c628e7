"""``python -m textdifuse_desktop`` runs the command-line interface."""

from textdifuse_desktop.cli.main import main

raise SystemExit(main())
