"""Atomic output files and folders, and the never-overwrite-an-input rule.

Every writer goes through :func:`atomic_file` or :func:`atomic_folder`: the
data is written under a hidden temporary name *in the destination folder*
(same file system, so the final :func:`os.replace` is atomic) and only
renamed to the requested name once it is complete.  A failure part-way
leaves no partial output behind and the previous output, if any, intact.
Files and folders are created with the user's umask (never mkstemp's 0600 or
mkdtemp's 0700), so outputs are as readable as any file the user saves.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import OverwriteInputError, TextDifuseError, WriteError

log = logging.getLogger(__name__)

_REASONS = {
    errno.ENOSPC: ("disk full", "free some space or choose another drive"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or choose another drive"),
    errno.EACCES: ("permission denied", "choose a folder you can write to"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write to"),
    errno.EROFS: ("read-only file system", "choose a writable folder"),
    errno.ENAMETOOLONG: ("file name too long", "choose a shorter name"),
    errno.ENOTDIR: ("a parent of the path is a file, not a folder", "choose another path"),
    errno.EISDIR: ("the path is an existing folder", "choose a file name"),
}


def write_error(path: PathLike, error: BaseException) -> WriteError:
    """A :class:`WriteError` for ``path`` that names the reason of ``error``."""
    if isinstance(error, WriteError):
        return error
    if isinstance(error, OSError) and error.errno in _REASONS:
        reason, hint = _REASONS[error.errno]
        return WriteError(f"cannot write: {reason}", path=path, hint=hint)
    detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return WriteError(f"cannot write: {detail or type(error).__name__}", path=path)


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    with contextlib.suppress(OSError):
        return a.exists() and b.exists() and os.path.samefile(a, b)
    return False


def check_not_input(path: PathLike, inputs: Iterable[PathLike], *, folder: bool = False) -> None:
    """Refuse to write ``path`` when it is (or, for a folder output, contains) an input.

    Parameters
    ----------
    path:
        The output file or folder.
    inputs:
        Input files or folders (symbolic and hard links are followed).
    folder:
        True when ``path`` is a folder that will be replaced as a whole: then
        an input *inside* it is refused too.

    Raises
    ------
    OverwriteInputError
        Naming the output and the input it would overwrite.
    """
    out = Path(path).expanduser().resolve()
    for item in inputs:
        if not item:
            continue
        source = Path(item).expanduser().resolve()
        inside = folder and out in source.parents
        # A file output inside an input folder adds a file; replacing the folder would not.
        if _same(out, source) or inside:
            raise OverwriteInputError(
                f'refusing to overwrite the input {"inside this folder " if inside else ""}"{source}"',
                path=path,
                hint="choose another output name; inputs are never overwritten",
            )


def _prepare_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(path.parent, error) from error


@contextlib.contextmanager
def _cleanup_on_error(tmp: Path, path: Path) -> Iterator[None]:
    """Remove ``tmp`` on any failure; foreign exceptions become a WriteError naming ``path``."""
    try:
        yield
    except TextDifuseError:
        _remove(tmp)
        raise
    except BaseException as error:
        _remove(tmp)
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        raise write_error(path, error) from error


@contextlib.contextmanager
def atomic_file(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    The temporary file keeps the suffix(es) of ``path`` (``.nii.gz``, ``.png``)
    so that libraries choosing the format by suffix work.  Any exception
    removes it and is re-raised as :class:`WriteError` naming ``path``
    (errors already derived from :class:`TextDifuseError` pass through).
    """
    path = Path(path)
    _prepare_parent(path)
    if path.is_dir():
        raise WriteError("cannot write: the path is an existing folder", path=path, hint="choose a file name")
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    tmp = path.parent / f".{path.stem[:40]}.{uuid.uuid4().hex[:12]}.tmp{suffix}"
    with _cleanup_on_error(tmp, path):
        yield tmp
        if not tmp.exists():
            raise WriteError("cannot write: the writer produced no file", path=path)
        os.replace(tmp, path)
    log.debug("wrote %s", path)


@contextlib.contextmanager
def atomic_folder(path: PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; it becomes ``path`` on success.

    An existing ``path`` (a previous export) is replaced as a whole only once
    the new folder is complete.  Callers must run :func:`check_not_input`
    with ``folder=True`` first.
    """
    path = Path(path)
    _prepare_parent(path)
    if path.exists() and not path.is_dir():
        raise WriteError("cannot write a folder: a file of that name exists", path=path, hint="choose another name")
    # os.mkdir (mode 0o777 minus the umask), not tempfile.mkdtemp (always 0o700): the finished
    # folder must get the same permissions as any folder the user creates.
    tmp = path.parent / f".{path.name[:40]}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        tmp.mkdir()
    except OSError as error:
        raise write_error(path, error) from error
    with _cleanup_on_error(tmp, path):
        yield tmp
        _replace_folder(tmp, path)
    log.debug("wrote folder %s", path)


def _replace_folder(new: Path, path: Path) -> None:
    if not path.exists():
        os.replace(new, path)
        return
    old = path.parent / f".{path.name[:40]}.{uuid.uuid4().hex[:12]}.old"
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)  # put the previous export back
        raise
    _remove(old)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as error:  # leftover temp files are harmless; never mask the real error
        log.warning("could not remove temporary %s: %s", path, error)
