"""A saved working session in one file (``.tdfsession``).

The file is a zip archive::

    session.json            schema_version, sources, fusion parameters, view state
    regions/regions.json    the region list (see :mod:`.region_io`)
    regions/mask_*.png|.nii.gz
    result/fused.npy|.json  the fused result as it was on screen (optional; see :mod:`.result_io`)

Sources are referenced by path (absolute, plus relative to the session file
so that a project folder can be moved as a whole), never copied.  Loading
checks that they still exist; :meth:`SessionDocument.load` with
``check_sources=False`` lets the GUI offer to relocate them.

Older files are upgraded by :data:`MIGRATIONS` (one function per version).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textdifuse_desktop import __version__
from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import SessionError, WriteError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers.atomic import atomic_file, check_not_input
from textdifuse_desktop.session.region_io import regions_from_files, regions_to_files
from textdifuse_desktop.session.regions import RegionSet
from textdifuse_desktop.session.result_io import result_from_files, result_to_files
from textdifuse_desktop.session.view_state import ViewState

log = logging.getLogger(__name__)

SESSION_SCHEMA_VERSION = 1
SESSION_SUFFIX = ".tdfsession"
_FORMAT = "textdifuse-session"
_INDEX = "session.json"
_REGIONS_DIR = "regions/"
_RESULT_DIR = "result/"

#: ``MIGRATIONS[n]`` upgrades the parsed ``session.json`` of version ``n`` to ``n + 1``.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_RELOCATE_HINT = "move the file back, or open the session with 'Relocate sources' and choose its new place"


def migrate(data: dict[str, Any], path: PathLike | None = None) -> dict[str, Any]:
    """Upgrade a parsed ``session.json`` to :data:`SESSION_SCHEMA_VERSION`."""
    version = data.get("schema_version")
    if not isinstance(version, int) or version < 0:
        raise SessionError(f"the session has no valid schema_version ({version!r})", path=path)
    if version > SESSION_SCHEMA_VERSION:
        raise SessionError(f"the session was saved by a newer version (schema {version})", path=path,
                           hint="update TextDiFuse Desktop to open it")
    while version < SESSION_SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SessionError(f"no migration from session schema {version}", path=path)
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
        log.info("migrated session %s to schema %d", path, version)
    return data


@dataclass
class SourceRef:
    """A source image by path, with the options to pass to ``io.read_image``."""

    path: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """True when the path exists (file or DICOM folder)."""
        return Path(self.path).exists()


@dataclass
class SessionDocument:
    """Everything needed to reopen a session.

    Attributes
    ----------
    sources:
        ``{"A": SourceRef, "B": SourceRef}`` (either may be missing).
    fusion_params:
        The fusion parameters as a dict (``dataclasses.asdict`` of
        ``fusion.request.FusionParams``; see :meth:`set_fusion_params`).
    view_state:
        Slices, windows, colour maps, zoom/pan, link flags, overlay mode.
    regions:
        The region set, or None.
    notes:
        Free text.
    fused, fused_record:
        The fused result shown when the session was saved (or None) and the record of how it was
        made (``FusionResult.record()``), so that reopening shows it exactly without fusing again.
    registration:
        The rigid transform that registered B to A (``RigidResult.to_dict()``: fixed-to-moving RAS mm
        matrix, metric, rotation, translation), re-applied when the session is opened; None when B was
        not registered.  Sessions saved before this field load with None.
    """

    sources: dict[str, SourceRef] = field(default_factory=dict)
    fusion_params: dict[str, Any] = field(default_factory=dict)
    view_state: ViewState = field(default_factory=ViewState)
    regions: RegionSet | None = None
    notes: str = ""
    fused: Image | None = None
    fused_record: dict[str, Any] = field(default_factory=dict)
    registration: dict[str, Any] | None = None

    # ----------------------------------------------------------- editing
    def set_source(self, role: str, path: PathLike, **options: Any) -> None:
        """Set source ``role`` (``"A"``/``"B"``) to ``path`` with read options."""
        self.sources[role] = SourceRef(str(Path(path).expanduser().absolute()), dict(options))

    def set_fusion_params(self, params: Any) -> None:
        """Store fusion parameters given as a dataclass (``FusionParams``) or a mapping."""
        self.fusion_params = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else dict(params)

    def missing_sources(self) -> dict[str, str]:
        """``{role: path}`` of the sources whose files no longer exist."""
        return {role: ref.path for role, ref in self.sources.items() if not ref.exists}

    def relocate(self, role: str, new_path: PathLike) -> None:
        """Point source ``role`` at a new path, keeping its read options."""
        if role not in self.sources:
            raise KeyError(f"no source {role!r} in this session")
        self.sources[role] = SourceRef(str(Path(new_path).expanduser().absolute()), self.sources[role].options)

    # ---------------------------------------------------------- save/load
    def to_dict(self, session_path: PathLike | None = None) -> dict[str, Any]:
        """The ``session.json`` content; relative paths are computed from ``session_path``."""
        sources = {}
        for role, ref in self.sources.items():
            relative = None
            if session_path is not None:
                try:
                    relative = os.path.relpath(ref.path, Path(session_path).absolute().parent)
                except ValueError:  # another drive on Windows
                    relative = None
            sources[role] = {"path": ref.path, "relative": relative, "options": ref.options}
        return {
            "format": _FORMAT,
            "schema_version": SESSION_SCHEMA_VERSION,
            "app_version": __version__,
            "sources": sources,
            "fusion_params": self.fusion_params,
            "view_state": self.view_state.to_dict(),
            "has_regions": self.regions is not None,
            "has_result": self.fused is not None,
            "notes": self.notes,
            "registration": self.registration,
        }

    def save(self, path: PathLike) -> Path:
        """Write the session to ``path`` (one zip file, written atomically).

        Raises
        ------
        OverwriteInputError
            When ``path`` is one of the sources.
        WriteError
            When the file cannot be written or a value is not serialisable.
        """
        path = Path(path)
        check_not_input(path, [ref.path for ref in self.sources.values()])
        try:
            index = json.dumps(self.to_dict(path), indent=2)
        except (TypeError, ValueError) as error:
            raise WriteError(f"the session holds a value that cannot be saved: {error}", path=path) from error
        region_files = regions_to_files(self.regions) if self.regions is not None else {}
        result_files = result_to_files(self.fused, self.fused_record) if self.fused is not None else {}
        with atomic_file(path) as tmp:
            with zipfile.ZipFile(tmp, "w") as archive:
                archive.writestr(_INDEX, index, compress_type=zipfile.ZIP_DEFLATED)
                for name, data in region_files.items():
                    # PNG and .nii.gz are already compressed.
                    method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                    archive.writestr(_REGIONS_DIR + name, data, compress_type=method)
                for name, data in result_files.items():
                    archive.writestr(_RESULT_DIR + name, data, compress_type=zipfile.ZIP_DEFLATED)
        log.info("saved session %s", path)
        return path

    @classmethod
    def load(cls, path: PathLike, *, check_sources: bool = True,
             relocate: Mapping[str, PathLike] | None = None) -> SessionDocument:
        """Read a session file.

        Parameters
        ----------
        path:
            The ``.tdfsession`` file.
        check_sources:
            Raise :class:`SessionError` when a source file is missing.  With
            False, call :meth:`missing_sources` and :meth:`relocate` instead.
        relocate:
            ``{role: new path}`` applied before the check.

        A source whose absolute path is gone but whose path relative to the
        session file exists (the folder was moved as a whole) is found there.
        """
        path = Path(path)
        if not path.is_file():
            raise SessionError("the session file does not exist", path=path)
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if _INDEX not in names:
                    raise SessionError("not a TextDiFuse session (no session.json)", path=path)
                data = json.loads(archive.read(_INDEX).decode("utf-8"))
                if not isinstance(data, dict) or data.get("format") != _FORMAT:
                    raise SessionError("not a TextDiFuse session file", path=path)
                data = migrate(data, path)
                regions = None
                if data.get("has_regions") and _REGIONS_DIR + "regions.json" in names:
                    regions = regions_from_files(lambda name: archive.read(_REGIONS_DIR + name), path)
                fused, fused_record = None, {}
                if data.get("has_result"):
                    fused, fused_record = result_from_files(lambda name: _member(archive, _RESULT_DIR + name), path)
        except zipfile.BadZipFile as error:
            raise SessionError("the session file is corrupt or not a session", path=path) from error
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SessionError(f"session.json is corrupt: {error}", path=path) from error
        except OSError as error:
            raise SessionError(f"cannot read the session: {error}", path=path) from error
        document = cls._from_dict(data, path, regions)
        document.fused, document.fused_record = fused, fused_record
        for role, new_path in (relocate or {}).items():
            document.relocate(role, new_path)
        if check_sources:
            for role, missing in document.missing_sources().items():
                raise SessionError(f"source {role} of session \"{path}\" is missing", path=missing,
                                   hint=_RELOCATE_HINT)
        return document

    @classmethod
    def _from_dict(cls, data: dict[str, Any], path: Path, regions: RegionSet | None) -> SessionDocument:
        sources: dict[str, SourceRef] = {}
        try:
            for role, entry in (data.get("sources") or {}).items():
                absolute = Path(str(entry["path"]))
                relative = entry.get("relative")
                if not absolute.exists() and relative:
                    moved = (path.absolute().parent / relative).resolve()
                    if moved.exists():
                        log.info("source %s found next to the session: %s", role, moved)
                        absolute = moved
                sources[str(role)] = SourceRef(str(absolute), dict(entry.get("options") or {}))
            return cls(
                sources=sources,
                fusion_params=dict(data.get("fusion_params") or {}),
                view_state=ViewState.from_dict(data.get("view_state")),
                regions=regions,
                notes=str(data.get("notes") or ""),
                registration=dict(data["registration"]) if isinstance(data.get("registration"), dict) else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise SessionError(f"session.json is malformed: {error}", path=path) from error


def _member(archive: zipfile.ZipFile, name: str) -> bytes:
    """``archive.read(name)``, with a missing member reported as a KeyError naming it."""
    try:
        return archive.read(name)
    except KeyError:
        raise KeyError(name) from None
