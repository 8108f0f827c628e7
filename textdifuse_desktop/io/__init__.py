"""Readers and writers.  Torch-free and Qt-free.

Use :func:`read_image` to read any supported file or DICOM folder; writers
live in :mod:`textdifuse_desktop.io.writers`.
"""

from textdifuse_desktop.io.registry import (
    available_readers,
    read_image,
    register_reader,
)

__all__ = ["available_readers", "read_image", "register_reader"]
