"""DICOMweb bearer tokens, kept out of ``pacs_nodes.json``.

Order of lookup for a node's token: the environment variable
``TEXTDIFUSE_DICOMWEB_TOKEN`` (one token for every endpoint, for scripts and
CI), the OS keyring (service ``textdifuse-desktop``, user = node name) when
the ``keyring`` package has a usable backend, then a value kept in memory
for this process only.  :func:`store_token` says where the token went so the
user can be told when it will not survive a restart.  Tokens are never
logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading

log = logging.getLogger(__name__)

SERVICE = "textdifuse-desktop"
ENV_TOKEN = "TEXTDIFUSE_DICOMWEB_TOKEN"

_memory: dict[str, str] = {}
_lock = threading.Lock()


def _keyring():  # type: ignore[no-untyped-def]
    """The keyring module when it has a real backend, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring setup behaves like none
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def store_token(node_name: str, token: str | None) -> str:
    """Keep ``token`` for ``node_name`` (None or "" deletes it); returns ``"keyring"`` or ``"memory"``."""
    ring = _keyring()
    if ring is not None:
        try:
            if token:
                ring.set_password(SERVICE, node_name, token)
            else:
                with contextlib.suppress(Exception):  # nothing stored is fine
                    ring.delete_password(SERVICE, node_name)
            return "keyring"
        except Exception as error:  # noqa: BLE001 - locked or unavailable keyring: keep it in memory
            log.warning("the OS keyring refused the DICOMweb token (%s); it is kept for this session only",
                        type(error).__name__)
    with _lock:
        if token:
            _memory[node_name] = token
        else:
            _memory.pop(node_name, None)
    return "memory"


def load_token(node_name: str) -> str | None:
    """The token for ``node_name`` (environment, keyring, then memory), or None."""
    env = os.environ.get(ENV_TOKEN)
    if env:
        return env
    ring = _keyring()
    if ring is not None:
        try:
            value = ring.get_password(SERVICE, node_name)
        except Exception:  # noqa: BLE001
            value = None
        if value:
            return str(value)
    with _lock:
        return _memory.get(node_name)


def storage_note() -> str:
    """Where a new token would be kept, in words (shown beside the token field)."""
    if _keyring() is not None:
        return "kept in the OS keyring, never in the settings file"
    return "no OS keyring available: kept in memory until the app closes (or set $" + ENV_TOKEN + ")"
