"""The ``textdifuse`` command-line interface (heavy imports happen inside commands)."""
