"""Thin adapters between the GUI and the core: loading, pairing, fusion jobs and a result cache.

Everything here is Qt-free so it can be unit-tested and driven from a worker
thread.  The fusion job wraps :func:`textdifuse_desktop.fusion.engine.run_fusion`;
for the diffusion model it first yields a fast classical result (so the user
sees something at once) and then the model's progress.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import GeometryError, ReadError
from textdifuse_desktop.fusion.request import (
    CancelToken,
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

#: Classical method used for the instant preview of a diffusion fusion.
PREVIEW_METHOD = "laplacian"


@dataclass
class PreviewResult:
    """Yielded by :func:`fusion_job` once the classical preview is ready."""

    result: FusionResult


# ---------------------------------------------------------------- loading
def load_source(path: str | Path, **options: Any) -> Any:
    """Read an image, volume, DICOM folder or video through :func:`io.read_image`.

    Raises
    ------
    ReadError, UnsupportedFormatError, ImageDataError
        From the readers, naming the file and what to do.
    """
    from textdifuse_desktop.io import available_readers, read_image

    path = ensure_readable(path)
    log.info("reading %s %s", path, options or "")
    if not available_readers() and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"):
        return _read_raster_fallback(path)
    return read_image(path, **options)


def _read_raster_fallback(path: Path) -> Image:
    # Only used while no reader is registered (partial installs, early development).
    from PIL import Image as PILImage

    with PILImage.open(path) as handle:
        rgb = handle.mode not in ("L", "I", "I;16", "F")
        pixels = np.asarray(handle.convert("RGB" if rgb else "F"), dtype=np.float32)
    from textdifuse_desktop.imaging.image import Provenance

    return Image(pixels, axes="YXC" if rgb else "YX", modality="VIS" if rgb else "OT",
                 provenance=Provenance(source_paths=(str(path),), reader="gui-fallback"))


def pair_sources(a: Any, b: Any) -> tuple[Any, Any, list[str]]:
    """Put ``b`` on ``a``'s grid with :func:`imaging.align.align_pair`; returns (a, b, warnings).

    Videos are paired frame by frame later (only their frame sizes are checked here).

    Raises
    ------
    GeometryError
        The sources do not overlap or cannot be paired.
    """
    if not isinstance(a, Image) or not isinstance(b, Image):
        return a, b, _check_video_pair(a, b)
    if a.is_volume != b.is_volume:
        raise GeometryError(
            "cannot fuse a volume with a 2D image",
            path=(b.provenance.source_paths or (None,))[0],
            hint="open two volumes (or two 2D images)",
        )
    try:
        from textdifuse_desktop.imaging.align import align_pair
    except ImportError:  # imaging.align not installed yet: same-size pairs only
        return a, _resize_fallback(a, b), []
    a2, b2, warnings = align_pair(a, b)
    return a2, b2, list(warnings)


def _resize_fallback(a: Image, b: Image) -> Image:
    if a.grid_shape == b.grid_shape:
        return b
    from textdifuse_desktop.imaging.resample import resize_to_shape

    return resize_to_shape(b, a.grid_shape[1:])


def _check_video_pair(a: Any, b: Any) -> list[str]:
    shape_a = getattr(a, "frame_shape", None) or _plane_shape(a)
    shape_b = getattr(b, "frame_shape", None) or _plane_shape(b)
    if tuple(shape_a)[:2] != tuple(shape_b)[:2]:
        return [f"frame sizes differ ({tuple(shape_a)[:2]} vs {tuple(shape_b)[:2]}); frames are resized to A's"]
    return []


def _plane_shape(source: Any) -> tuple[int, ...]:
    return tuple(source.pixels.shape[-3:-1] if source.has_channels else source.pixels.shape[-2:])


def frame_pair(a: Any, b: Any, index: int) -> tuple[Image, Image, list[str]]:
    """Frame ``index`` of a video pair (or of a video and an image), paired on A's grid."""
    from textdifuse_desktop.gui.viewers.display import plane

    fa, fb = plane(a, index), plane(b, index)
    return pair_sources(fa, fb)


# ---------------------------------------------------------------- fusion
def fusion_job(
    request: FusionRequest, cancel: CancelToken | None = None, *, backend: Any = None, preview: bool = True
) -> Generator[Progress | PreviewResult, None, FusionResult]:
    """Run a fusion; for the diffusion model, yield a classical :class:`PreviewResult` first.

    ``backend`` is passed to the engine (tests use a tiny stand-in model).
    """
    from textdifuse_desktop.fusion.engine import run_fusion

    params = request.params
    if preview and wants_classical_preview(request):
        quick = FusionRequest(request.a, request.b, FusionParams(method=PREVIEW_METHOD, seed=params.seed))
        yield Progress(0, 1, "classical preview")
        quick_result = yield from _drain(run_fusion(quick, cancel), keep_preview=False)
        yield PreviewResult(quick_result)
    kwargs = {"backend": backend} if backend is not None else {}
    result = yield from run_fusion(request, cancel, **kwargs)
    return result


def wants_classical_preview(request: FusionRequest) -> bool:
    """True when a diffusion fusion starts with an instant classical preview: for 2-D pairs only.

    A volume shows the model's own slices as they are fused (``Progress.partial``) after a fraction of a
    second; a classical pass over the whole volume first would only delay them by seconds.
    """
    return request.params.uses_model and not (request.a.is_volume or request.a.axes.startswith("T"))


def _drain(gen: Generator[Progress, None, FusionResult], *, keep_preview: bool) -> Generator[Progress, None, FusionResult]:
    while True:
        try:
            progress = next(gen)
        except StopIteration as stop:
            return stop.value
        if not keep_preview:
            progress.preview = None
        yield progress


def fingerprint(*arrays: np.ndarray | None) -> str:
    """Short content hash of arrays (None allowed), for cache keys."""
    digest = hashlib.blake2b(digest_size=12)
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        data = np.ascontiguousarray(array)
        digest.update(str((data.shape, data.dtype.str)).encode())
        digest.update(memoryview(data).cast("B"))
    return digest.hexdigest()


class ResultCache:
    """Fusion results keyed by sources, parameters and region maps (least recently used dropped)."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], FusionResult] = OrderedDict()

    @staticmethod
    def key(sources_token: Any, request: FusionRequest) -> tuple[Any, ...]:
        """Cache key of a request for the given sources token (changes when sources change)."""
        regions = fingerprint(request.kappa_a, request.kappa_b, request.blend_mask) if request.modulated else None
        return (sources_token, request.params.cache_key(), regions)

    def get(self, key: tuple[Any, ...]) -> FusionResult | None:
        """The cached result, or None."""
        result = self._items.get(key)
        if result is not None:
            self._items.move_to_end(key)
        return result

    def put(self, key: tuple[Any, ...], result: FusionResult) -> None:
        """Store ``result``; the oldest entries go beyond ``size``."""
        self._items[key] = result
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (new sources)."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def describe(source: Any) -> str:
    """One-line description for the status bar: size, modality, units."""
    if source is None:
        return ""
    if not isinstance(source, Image):
        shape = getattr(source, "frame_shape", ())
        size = "x".join(map(str, shape[:2][::-1]))
        return f"video {getattr(source, 'frame_count', '?')} frames {size} @ {getattr(source, 'fps', 0):.3g} fps"
    nz, ny, nx = source.grid_shape
    size = f"{nx}x{ny}" + (f"x{nz}" if source.is_volume or source.axes[0] == "T" else "")
    colour = " RGB" if source.has_channels else ""
    units = f" [{source.units}]" if source.units else ""
    return f"{source.modality}{colour} {size}{units}"


def short_name(source: Any) -> str:
    """File (or folder) name of a source, "" when unknown."""
    if source is None:
        return ""
    paths = getattr(getattr(source, "provenance", None), "source_paths", None)
    if paths:
        return Path(paths[0]).name if len(paths) == 1 else Path(paths[0]).parent.name
    path = getattr(source, "path", None)
    return Path(path).name if path else ""


def ensure_readable(path: str | Path) -> Path:
    """Path check before a read, so a missing file gives a clear error (not a reader list)."""
    path = Path(path)
    if not path.exists():
        raise ReadError("file or folder not found", path=path, hint="check the path or pick another file")
    return path
