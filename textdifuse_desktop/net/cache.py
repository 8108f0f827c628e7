"""The local cache of retrieved series and of outgoing exports (``platformdirs`` user cache).

Every retrieve lands in a new folder named after the series UID and the time
(``<cache>/retrieved/<series uid>_<yyyymmdd-hhmmss>_<n>``): it is filled as a
hidden ``.part`` folder and renamed only after verification, so a folder
that exists is complete, and nothing already on disk is ever overwritten.
Files are named by SOP Instance UID (never by patient name).
``$TEXTDIFUSE_CACHE_DIR`` replaces the platform folder (tests, portable installs).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import threading
from pathlib import Path

from textdifuse_desktop.errors import WriteError

ENV_CACHE_DIR = "TEXTDIFUSE_CACHE_DIR"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_lock = threading.Lock()


def cache_dir() -> Path:
    """Root of the PACS cache."""
    override = os.environ.get(ENV_CACHE_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    from textdifuse_desktop.config import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "pacs"


def safe_uid(uid: str) -> str:
    """``uid`` when it is a well-formed DICOM UID (usable as a file name), else a ValueError."""
    text = str(uid).strip()
    if not _UID.match(text) or len(text) > 64:
        raise ValueError(f"not a DICOM UID: {text[:70]!r}")
    return text


def new_folder(kind: str, stem: str, root: Path | None = None) -> tuple[Path, Path]:
    """``(partial, final)`` paths of a new, unused folder under ``<cache>/<kind>``; the partial one is created."""
    base = Path(root) if root is not None else cache_dir()
    parent = base / kind
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            for n in range(1, 10_000):
                final = parent / f"{stem}_{stamp}_{n}"
                partial = parent / f".{final.name}.part"
                if not final.exists() and not partial.exists():
                    partial.mkdir()
                    return partial, final
    except OSError as error:
        raise WriteError(f"cannot create a folder in the PACS cache: {error.strerror or error}", path=parent,
                         hint=f"free some space or set ${ENV_CACHE_DIR} to a writable folder") from error
    raise WriteError("too many retrieves of this series in one second", path=parent)


def publish(partial: Path, final: Path) -> Path:
    """Rename the completed ``partial`` folder to ``final`` (which must not exist)."""
    if final.exists():
        raise WriteError("refusing to replace an existing cache folder", path=final)
    try:
        os.rename(partial, final)
    except OSError as error:
        raise WriteError(f"cannot finish the retrieved folder: {error.strerror or error}", path=final) from error
    return final


def discard(partial: Path) -> None:
    """Remove an unfinished ``.part`` folder (only ever one this module created)."""
    if partial.name.startswith(".") and partial.name.endswith(".part"):
        shutil.rmtree(partial, ignore_errors=True)
