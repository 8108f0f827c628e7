"""A small content-keyed memo for per-source features.

When several fused images are scored against the same sources (one per
method), the source-side work of VIF, SSIM, Qabf and Nabf (filtered local
statistics, gradients) is identical.  The metric functions stay pure: the
memo is keyed by the array's bytes, so a hit returns exactly what a fresh
computation would.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

_MAX_ENTRIES = 12  # 4 feature kinds x 2 sources, with room to spare
_lock = threading.Lock()
_entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _key(tag: str, array: np.ndarray) -> tuple[Any, ...]:
    data = np.ascontiguousarray(array)
    digest = hashlib.blake2b(data.view(np.uint8).reshape(-1), digest_size=16).digest()
    return tag, data.shape, data.dtype.str, digest


def cached(tag: str, array: np.ndarray, compute: Callable[[], T]) -> T:
    """Return ``compute()`` for this ``(tag, array content)``, reusing a recent result.

    Results must be treated as read-only by the caller.
    """
    key = _key(tag, array)
    with _lock:
        if key in _entries:
            _entries.move_to_end(key)
            return _entries[key]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        _entries[key] = value
        while len(_entries) > _MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every memoised feature (used by benchmarks to time cold runs)."""
    with _lock:
        _entries.clear()
