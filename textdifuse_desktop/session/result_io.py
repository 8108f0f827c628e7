"""The fused result inside a session file, so that reopening shows exactly what was saved (no re-fusion).

Two archive members: ``fused.npy`` (the float32 pixels, ``numpy.save`` format, no pickles) and
``fused.json`` (axes, affine, modality, units, display window and the record of how it was made).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ImageDataError, SessionError
from textdifuse_desktop.imaging.image import Image, Provenance

PIXELS_NAME = "fused.npy"
META_NAME = "fused.json"


def result_to_files(image: Image, record: dict[str, Any] | None = None) -> dict[str, bytes]:
    """``{member name: bytes}`` of ``image`` (the fused result) and its ``record`` (JSON-serialisable)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(image.pixels, dtype=np.float32), allow_pickle=False)
    meta = {
        "axes": image.axes,
        "affine": np.asarray(image.affine, dtype=np.float64).tolist(),
        "modality": image.modality,
        "units": image.units,
        "window": list(image.window) if image.window is not None else None,
        "description": image.provenance.description,
        "record": dict(record or {}),
    }
    return {PIXELS_NAME: buffer.getvalue(), META_NAME: json.dumps(meta, indent=2).encode("utf-8")}


def result_from_files(read: Callable[[str], bytes], path: PathLike | None = None) -> tuple[Image, dict[str, Any]]:
    """Inverse of :func:`result_to_files`; ``read(name)`` returns a member's bytes.

    Raises
    ------
    SessionError
        When a member is missing, corrupt, or the pixels do not match the described image.
    """
    try:
        meta = json.loads(read(META_NAME).decode("utf-8"))
        pixels = np.load(io.BytesIO(read(PIXELS_NAME)), allow_pickle=False)
        window = meta.get("window")
        image = Image(pixels, axes=str(meta["axes"]), affine=np.asarray(meta["affine"], dtype=np.float64),
                      modality=str(meta.get("modality") or "OT"), units=str(meta.get("units") or ""),
                      window=(float(window[0]), float(window[1])) if window else None,
                      provenance=Provenance(reader="session", description=str(meta.get("description") or "")))
    except KeyError as error:
        raise SessionError(f"the session's fused result is incomplete (missing {error})", path=path,
                           hint="save the session again from the app") from error
    except (ValueError, TypeError, OSError, ImageDataError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SessionError(f"the session's fused result is corrupt: {error}", path=path,
                           hint="save the session again from the app") from error
    record = meta.get("record")
    return image, dict(record) if isinstance(record, dict) else {}
