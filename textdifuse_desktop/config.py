"""User settings of the desktop app and the CLI (``settings.json``).

Stored in ``platformdirs.user_config_dir("textdifuse-desktop")``, or in
``$TEXTDIFUSE_CONFIG_DIR`` when that is set (tests, portable installs).  A
missing file gives the defaults; a corrupt one gives the defaults and a
warning, never a crash.  Each value of the wrong type falls back to its
default on its own, so one bad entry does not lose the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import WriteError

#: Sampling steps of a fusion unless the user chooses: the fewest within 1 % of the best mean VIF and Qabf on
#: training pairs for the shipped weights (docs/results/README.md, "Steps").
DEFAULT_STEPS = 2

log = logging.getLogger(__name__)

APP_NAME = "textdifuse-desktop"
SETTINGS_FILE = "settings.json"
SETTINGS_SCHEMA_VERSION = 1
MAX_RECENT_FILES = 10
ENV_CONFIG_DIR = "TEXTDIFUSE_CONFIG_DIR"

DEVICES = ("auto", "cpu", "cuda", "mps")
METHODS = ("textdifuse", "max", "mean", "laplacian", "guided")


def config_dir() -> Path:
    """Folder of ``settings.json`` (``$TEXTDIFUSE_CONFIG_DIR`` wins)."""
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_log_dir() -> str:
    """The platform's user log folder for the app."""
    import platformdirs

    return str(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    """Path of the settings file in use."""
    return config_dir() / SETTINGS_FILE


@dataclass
class AppSettings:
    """Persistent user preferences.

    Attributes
    ----------
    device:
        Compute device preference: ``"auto"``, ``"cpu"``, ``"cuda"`` (or
        ``"cuda:N"``) or ``"mps"``.
    default_steps:
        DDIM steps for new fusions (1..1000).
    default_method:
        ``"textdifuse"`` or a classical rule.
    clip_checkpoint:
        Path of an open_clip checkpoint file for text prompts, or None
        (then the standard weights below are used).
    clip_model, clip_pretrained:
        The open_clip architecture and pretrained tag of the standard
        weights used for text prompts (fetched once, with consent).
    clip_allow_download:
        True: the CLI may fetch those weights without ``--allow-download``.
    recent_files:
        Most recent first, at most :data:`MAX_RECENT_FILES`.
    log_dir:
        Where log files go; None = :func:`default_log_dir`.
    last_export_dir:
        Folder proposed by the next export dialog.
    """

    device: str = "auto"
    default_steps: int = DEFAULT_STEPS
    default_method: str = "textdifuse"
    clip_checkpoint: str | None = None
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"
    clip_allow_download: bool = False
    recent_files: list[str] = field(default_factory=list)
    log_dir: str | None = None
    last_export_dir: str | None = None
    schema_version: int = SETTINGS_SCHEMA_VERSION

    @property
    def clip_available(self) -> bool:
        """True when a CLIP checkpoint is configured and the file exists."""
        return bool(self.clip_checkpoint) and Path(str(self.clip_checkpoint)).is_file()

    @property
    def effective_log_dir(self) -> Path:
        """``log_dir`` or the platform default."""
        return Path(self.log_dir) if self.log_dir else Path(default_log_dir())

    def add_recent_file(self, path: PathLike) -> None:
        """Put ``path`` first in :attr:`recent_files` (no duplicates, capped)."""
        text = str(Path(path).expanduser().absolute())
        self.recent_files = [text] + [p for p in self.recent_files if p != text]
        del self.recent_files[MAX_RECENT_FILES:]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> tuple[AppSettings, list[str]]:
        """Build settings from a parsed file; returns ``(settings, problems)``.

        Unknown keys are ignored; each invalid value is replaced by its
        default and listed in ``problems``.
        """
        defaults = cls()
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name, check in _VALIDATORS.items():
            if name not in data:
                continue
            try:
                values[name] = check(data[name])
            except (TypeError, ValueError) as error:
                problems.append(f"{name}: {error}; using {getattr(defaults, name)!r}")
        settings = dataclasses.replace(defaults, **values)
        settings.schema_version = SETTINGS_SCHEMA_VERSION
        return settings, problems


def _device(value: Any) -> str:
    text = str(value)
    if text.split(":")[0] not in DEVICES:
        raise ValueError(f"unknown device {value!r}")
    return text


def _steps(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= int(value) <= 1000:
        raise ValueError(f"steps must be 1..1000, got {value!r}")
    return int(value)


def _method(value: Any) -> str:
    if value not in METHODS:
        raise ValueError(f"unknown method {value!r}")
    return str(value)


def _optional_path(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a path, got {type(value).__name__}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a name, got {value!r}")
    return value.strip()


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _recent(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise TypeError("expected a list of paths")
    return [str(p) for p in value if isinstance(p, str)][:MAX_RECENT_FILES]


_VALIDATORS = {
    "device": _device,
    "default_steps": _steps,
    "default_method": _method,
    "clip_checkpoint": _optional_path,
    "clip_model": _name,
    "clip_pretrained": _name,
    "clip_allow_download": _flag,
    "recent_files": _recent,
    "log_dir": _optional_path,
    "last_export_dir": _optional_path,
}


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def load_settings(path: PathLike | None = None) -> AppSettings:
    """Read the settings (defaults when the file is missing or corrupt).

    Never raises for a bad file: it warns (``RuntimeWarning`` and the log)
    and returns the defaults, or the defaults for the bad entries only.
    """
    path = Path(path) if path is not None else settings_path()
    if not path.exists():
        return AppSettings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        _warn(f'settings file "{path}" is unreadable ({error}); using the defaults')
        return AppSettings()
    version = data.get("schema_version", SETTINGS_SCHEMA_VERSION)
    if isinstance(version, int) and version > SETTINGS_SCHEMA_VERSION:
        log.info("settings %s come from a newer version (schema %s); reading what is known", path, version)
    settings, problems = AppSettings.from_dict(data)
    if problems:
        _warn(f'settings file "{path}" has invalid entries: ' + "; ".join(problems))
    return settings


def save_settings(settings: AppSettings, path: PathLike | None = None) -> Path:
    """Write the settings atomically; returns the path written.

    Raises
    ------
    WriteError
        When the folder cannot be created or written.
    """
    path = Path(path) if path is not None else settings_path()
    text = json.dumps(settings.to_dict(), indent=2)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot save the settings: {error.strerror or error}", path=path,
                         hint="check that the folder is writable") from error
    return path
