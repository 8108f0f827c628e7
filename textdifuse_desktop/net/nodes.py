"""PACS nodes and DICOMweb endpoints: validated records kept in ``pacs_nodes.json`` beside ``settings.json``.

A node is either a DIMSE peer (``protocol="dimse"``: called AE title, host,
port, our calling AE title, optional TLS files, C-GET or C-MOVE for
retrieves) or a DICOMweb endpoint (``protocol="dicomweb"``: base URL).  A
DICOMweb bearer token is never part of the file: see :mod:`.secrets`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textdifuse_desktop.errors import SessionError, UsageError, WriteError

log = logging.getLogger(__name__)

NODES_FILE = "pacs_nodes.json"
PROTOCOLS = ("dimse", "dicomweb")
RETRIEVE_METHODS = ("get", "move")
DEFAULT_CALLING_AE = "TEXTDIFUSE"


@dataclass
class PacsNode:
    """One remote archive.  Validate with :meth:`validated` before use."""

    name: str
    protocol: str = "dimse"
    ae_title: str = ""
    host: str = ""
    port: int = 104
    calling_ae: str = DEFAULT_CALLING_AE
    retrieve: str = "get"
    move_port: int = 11113
    listen_host: str = "0.0.0.0"
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    url: str = ""
    timeout_s: float = 30.0

    @property
    def is_dicomweb(self) -> bool:
        """True for a DICOMweb endpoint."""
        return self.protocol == "dicomweb"

    def describe(self) -> str:
        """One line naming the node without secrets (for status bars and logs)."""
        if self.is_dicomweb:
            return f"{self.name} ({self.url})"
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"

    def validated(self) -> PacsNode:
        """Return ``self`` after checking every field; raises :class:`UsageError` naming the bad one."""
        where = f"PACS node {self.name!r}"
        if not self.name.strip():
            raise UsageError("a PACS node needs a name")
        if self.protocol not in PROTOCOLS:
            raise UsageError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        _check_timeout(self.timeout_s, where)
        if self.is_dicomweb:
            if not self.url.startswith(("http://", "https://")):
                raise UsageError(f"{where}: the DICOMweb URL must start with http:// or https://, got {self.url!r}")
            return self
        check_ae_title(self.ae_title, f"{where}: called AE title")
        check_ae_title(self.calling_ae, f"{where}: calling AE title")
        if not self.host.strip():
            raise UsageError(f"{where}: the host is empty", hint="enter the PACS host name or IP address")
        check_port(self.port, f"{where}: port")
        if self.retrieve not in RETRIEVE_METHODS:
            raise UsageError(f"{where}: retrieve must be 'get' or 'move', got {self.retrieve!r}")
        if self.retrieve == "move":
            check_port(self.move_port, f"{where}: C-MOVE storage port")
        for label, value in (("CA file", self.ca_file), ("certificate", self.cert_file), ("key", self.key_file)):
            if self.tls and value and not Path(value).is_file():
                raise UsageError(f"{where}: the TLS {label} does not exist", hint=str(value))
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (never contains a token)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PacsNode:
        """Build a node from its JSON form; unknown keys are ignored, values are validated."""
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            node = cls(**{k: v for k, v in data.items() if k in known})
            node.port, node.move_port, node.timeout_s = int(node.port), int(node.move_port), float(node.timeout_s)
        except (TypeError, ValueError) as error:
            raise UsageError(f"invalid PACS node entry: {error}") from error
        return node.validated()


def check_ae_title(value: str, what: str) -> str:
    """An AE title: 1-16 characters of printable ASCII without backslash, not only spaces."""
    if not isinstance(value, str) or not value.strip() or len(value) > 16:
        raise UsageError(f"{what} must have 1 to 16 characters, got {value!r}")
    if "\\" in value or not all(32 <= ord(c) < 127 for c in value):
        raise UsageError(f"{what} may only use printable ASCII without backslash, got {value!r}")
    return value


def check_port(value: Any, what: str) -> int:
    """A TCP port 1..65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise UsageError(f"{what} must be 1..65535, got {value!r}")
    return value


def _check_timeout(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise UsageError(f"{where}: timeout must be between 0 and 3600 seconds, got {value!r}")


def nodes_path() -> Path:
    """``pacs_nodes.json`` in the settings folder (``$TEXTDIFUSE_CONFIG_DIR`` wins)."""
    from textdifuse_desktop.config import config_dir

    return config_dir() / NODES_FILE


def load_nodes(path: Path | None = None) -> list[PacsNode]:
    """The saved nodes (empty when there is no file).

    Raises
    ------
    SessionError
        The file exists but is not a valid node list (named, with the bad entry).
    """
    path = Path(path) if path is not None else nodes_path()
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["nodes"] if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ValueError("no 'nodes' list")
        return [PacsNode.from_dict(entry) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SessionError(f"the PACS node list is unreadable: {error}", path=path,
                           hint="fix or delete the file and add the nodes again") from error


def save_nodes(nodes: list[PacsNode], path: Path | None = None) -> Path:
    """Write the node list atomically (names must be unique); returns the path."""
    path = Path(path) if path is not None else nodes_path()
    names = [node.validated().name for node in nodes]
    if len(set(names)) != len(names):
        raise UsageError("two PACS nodes have the same name", hint="give every node its own name")
    text = json.dumps({"nodes": [node.to_dict() for node in nodes]}, indent=2)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot save the PACS nodes: {error.strerror or error}", path=path) from error
    return path


def find_node(nodes: list[PacsNode], name: str) -> PacsNode:
    """The node called ``name``; :class:`UsageError` listing the known names otherwise."""
    for node in nodes:
        if node.name == name:
            return node
    known = ", ".join(node.name for node in nodes) or "none saved"
    raise UsageError(f"no PACS node named {name!r} (known: {known})",
                     hint="add it in File > Open from PACS > Nodes, or give --host/--port/--aet or --url")
