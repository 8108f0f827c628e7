"""The reader contract shared by every format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from textdifuse_desktop.imaging.image import Image


@runtime_checkable
class ImageReader(Protocol):
    """What every reader implements.

    ``can_read`` must be cheap (suffix or magic bytes, never a full decode)
    and must not raise.  ``read`` returns an :class:`Image` (or a lazy video
    sequence for video readers) and raises only
    :class:`~textdifuse_desktop.errors.TextDifuseError` subclasses, with the
    path in the message.
    """

    name: str

    def can_read(self, path: Path) -> bool:
        """Whether this reader claims ``path`` (file or folder)."""
        ...

    def read(self, path: Path, **options: Any) -> Image:
        """Read ``path``; ``options`` are reader-specific (e.g. ``frame=``)."""
        ...
