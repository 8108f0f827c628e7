"""Priority-ordered reader registry and the one public entry point :func:`read_image`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ReadError, TextDifuseError, UnsupportedFormatError
from textdifuse_desktop.io.base import ImageReader

log = logging.getLogger(__name__)

_READERS: list[tuple[int, ImageReader]] = []
_BUILTINS_LOADED = False


def register_reader(reader: ImageReader, priority: int = 0) -> None:
    """Add ``reader``; higher ``priority`` is tried first."""
    _READERS.append((priority, reader))
    _READERS.sort(key=lambda item: -item[0])


def _load_builtin_readers() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    # Importing a reader module registers its reader(s).
    from textdifuse_desktop.io import readers  # noqa: F401


def available_readers() -> list[ImageReader]:
    """Registered readers, in the order they are tried."""
    _load_builtin_readers()
    return [reader for _, reader in _READERS]


def read_image(path: PathLike, **options: Any) -> Any:
    """Read an image, volume, DICOM folder or video with the first reader that succeeds.

    Raises
    ------
    ReadError
        ``path`` does not exist or is empty.
    UnsupportedFormatError
        No reader claimed the file, or every reader that claimed it failed;
        the message lists each reader tried and why it failed.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError("file or folder not found", path=path, hint="check the path")
    if path.is_file() and path.stat().st_size == 0:
        raise ReadError("file is empty (0 bytes)", path=path)
    failures: list[str] = []
    errors: list[TextDifuseError] = []
    claimed = False
    for reader in available_readers():
        if not reader.can_read(path):
            continue
        claimed = True
        try:
            return reader.read(path, **options)
        except TextDifuseError as error:
            log.debug("reader %s failed on %s: %s", reader.name, path, error)
            errors.append(error)
            failures.append(f"{reader.name}: {error.reason}")
    if not claimed:
        names = ", ".join(reader.name for reader in available_readers())
        kind = f"'{path.suffix}' files" if path.suffix else "files without a known suffix or signature"
        raise UnsupportedFormatError(
            f"no reader supports {kind}",
            path=path,
            hint=f"readers tried by suffix and content: {names}",
        )
    if len(errors) == 1:
        raise errors[0]
    raise UnsupportedFormatError("every reader failed: " + "; ".join(failures), path=path)
