"""Qt-free export jobs behind the export dialog (one generator per request, run by a worker).

Every writer is atomic and refuses to overwrite an input
(:class:`~textdifuse_desktop.errors.OverwriteInputError`); the job passes the
paths of both sources as ``inputs`` so that the check covers them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textdifuse_desktop.errors import FeatureUnavailableError, OverwriteInputError
from textdifuse_desktop.fusion.request import CancelToken, FusionParams, Progress
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

FORMATS = ("png", "tiff", "nifti", "dicom", "seg", "mp4")


@dataclass
class ExportRequest:
    """What to export and where.

    ``fused`` is the fused Image (needed for every format but ``seg`` and
    video ``mp4``); ``a``/``b`` are the sources as loaded (for provenance,
    the DICOM reference and the never-overwrite check); ``masks``/``names``
    are region masks for DICOM SEG; ``plane`` selects one slice for 2D
    formats (PNG) when the result is a volume.  ``anonymous`` (sources of
    different patients fused deliberately) writes the fused image without
    either patient's identity (a new anonymous study), as the CLI's
    ``--allow-different-patients`` does.
    """

    format: str
    path: Path
    fused: Image | None = None
    a: Any = None
    b: Any = None
    masks: Sequence[np.ndarray] = ()
    names: Sequence[str] = ()
    deidentify: bool = False
    description: str = "TextDiFuse fusion"
    params: FusionParams = field(default_factory=FusionParams)
    plane: int | None = None
    fps: float = 25.0
    anonymous: bool = False


def source_paths(*sources: Any) -> list[str]:
    """Every file a source came from (Images' provenance, videos' ``path``)."""
    paths: list[str] = []
    for source in sources:
        if source is None:
            continue
        if isinstance(source, Image):
            paths.extend(source.provenance.source_paths)
        elif getattr(source, "path", None) is not None:
            paths.append(str(source.path))
    return paths


def export_job(
    request: ExportRequest, cancel: CancelToken | None = None, report: Callable[[Progress], None] | None = None
) -> Generator[Progress, None, list[Path]]:
    """Write the export; yields Progress and returns the written paths.

    Raises
    ------
    OverwriteInputError, WriteError, FeatureUnavailableError, FusionCancelled
    """
    from textdifuse_desktop.io import writers

    fmt = request.format
    inputs = source_paths(request.a, request.b)
    reference = request.a if isinstance(request.a, Image) else None
    yield Progress(0, 1, f"writing {fmt.upper()}\u2026")
    if fmt == "seg":
        if not request.masks:
            raise FeatureUnavailableError("there are no regions to export", hint="draw regions first")
        if reference is None:
            raise FeatureUnavailableError("DICOM SEG needs an image source A", hint="open an image or volume as A")
        out = writers.write_seg(list(request.masks), list(request.names), reference, request.path,
                                deidentify=request.deidentify)
        written = [Path(out)]
    elif fmt == "mp4":
        written = yield from _export_video(request, cancel, report)
    else:
        image = request.fused
        if image is None:
            raise FeatureUnavailableError("nothing to export", hint="run a fusion first")
        if fmt == "png" and image.axes[0] in "ZT" and request.plane is not None:
            from textdifuse_desktop.gui.viewers.display import plane

            image = plane(image, request.plane)
        extra = {"dtype": "uint16"} if fmt == "tiff" else {}  # the dialog promises 16-bit TIFF
        if request.anonymous:
            from textdifuse_desktop.io.patient_identity import without_identity

            log.warning("sources of different patients: the export carries no patient identity")
            image = without_identity(image)
            reference = without_identity(reference) if reference is not None else None
        out = writers.write_image(image, request.path, format=fmt, inputs=inputs, reference=reference,
                                  deidentify=request.deidentify, description=request.description, **extra)
        written = [Path(p) for p in (out if isinstance(out, (list, tuple)) else [out])]
    yield Progress(1, 1, "done")
    log.info("exported %s -> %s", fmt, written)
    return written


def _export_video(
    request: ExportRequest, cancel: CancelToken | None, report: Callable[[Progress], None] | None
) -> Generator[Progress, None, list[Path]]:
    from textdifuse_desktop.io import writers

    a, b = request.a, request.b
    target = Path(request.path).resolve()
    if any(Path(p).resolve() == target for p in source_paths(a, b)):
        raise OverwriteInputError("refusing to overwrite an input", path=request.path,
                                  hint="choose another output file name")
    if not isinstance(a, Image) or not isinstance(b, Image):
        from textdifuse_desktop.fusion.video import run_video_fusion

        fps = float(getattr(a, "fps", None) or getattr(b, "fps", None) or request.fps)
        frames = run_video_fusion(a, b, request.params, cancel, on_progress=report)
    elif request.fused is not None and request.fused.axes[0] in "ZT":
        fused = request.fused
        fps = request.fps

        def _planes() -> Generator[np.ndarray, None, None]:
            for index in range(fused.pixels.shape[0]):
                if cancel is not None:
                    cancel.raise_if_cancelled()
                if report is not None:
                    report(Progress(index + 1, fused.pixels.shape[0], f"frame {index + 1}"))
                yield np.clip(fused.pixels[index], 0, 255)

        frames = _planes()
    else:
        raise FeatureUnavailableError("MP4 export needs a video pair or a multi-slice result",
                                      hint="export a 2D result as PNG or TIFF")
    yield Progress(0, 1, "fusing and encoding frames\u2026")
    out = writers.write_video(frames, request.path, fps)
    return [Path(out)]
