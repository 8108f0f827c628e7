"""``write_image``: one entry point that picks the writer by format or suffix."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import WriteError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers.atomic import (
    atomic_file,
    atomic_folder,
    check_not_input,
    write_error,
)

log = logging.getLogger(__name__)

FORMATS = ("png", "tiff", "nifti", "dicom", "mp4")

_SUFFIXES = {
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".dcm": "dicom",
    ".mp4": "mp4",
}


def infer_format(path: PathLike) -> str | None:
    """The format implied by ``path``'s suffix, or None."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return "nifti"
    return _SUFFIXES.get(Path(name).suffix)


def _normalise_format(format: str | None, path: Path) -> str:
    if format is None:
        inferred = infer_format(path)
        if inferred is None:
            raise WriteError(
                "cannot tell the output format from the file name",
                path=path,
                hint=f"use a suffix ({', '.join(sorted(_SUFFIXES))}) or pass a format: {', '.join(FORMATS)}",
            )
        return inferred
    key = format.lower().lstrip(".")
    key = {"tif": "tiff", "nii": "nifti", "nii.gz": "nifti", "dcm": "dicom", "video": "mp4"}.get(key, key)
    if key not in FORMATS:
        raise WriteError(f"unknown output format {format!r}", path=path, hint=f"choose one of {', '.join(FORMATS)}")
    return key


def check_output(path: PathLike, format: str | None = None, *, inputs: Sequence[PathLike] = ()) -> str:
    """Validate an output before any computation; returns the normalised format.

    Checks, without writing anything that stays: the format is known (from
    ``format`` or the suffix), the path is not one of ``inputs``, and the
    nearest existing folder on the way to ``path`` is a folder in which an
    entry can be created (a probe folder is created and removed at once).

    Raises
    ------
    WriteError
        Unknown suffix or format, a parent that is a file, or a folder that
        cannot be written (permission denied, read-only file system).
    OverwriteInputError
        ``path`` is an input.
    """
    path = Path(path).expanduser()
    fmt = _normalise_format(format, path)
    check_not_input(path, inputs)
    _check_writable_parent(path)
    return fmt


def check_output_folder(path: PathLike, *, inputs: Sequence[PathLike] = ()) -> None:
    """Validate an output *folder* before any computation (reports, region sets, degraded copies).

    Raises WriteError when ``path`` is an existing file, lies under a file,
    or its nearest existing folder cannot be written; OverwriteInputError
    when it is, or contains, an input.
    """
    path = Path(path).expanduser()
    check_not_input(path, inputs, folder=True)
    if path.exists() and not path.is_dir():
        raise WriteError("the output must be a folder, but a file of that name exists", path=path,
                         hint="choose another name")
    _check_writable_parent(path / "probe")


def _check_writable_parent(path: Path) -> None:
    """The nearest existing folder on the way to ``path`` must accept a new entry (probed, then removed)."""
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise WriteError("cannot write: a parent of the path is a file, not a folder", path=path,
                         hint="choose another path")
    probe = ancestor / f".textdifuse-probe-{uuid.uuid4().hex[:12]}"
    try:
        probe.mkdir()
    except OSError as error:
        cause = write_error(ancestor, error)
        reason = cause.reason.removeprefix("cannot write: ")
        raise WriteError(f"cannot write into the folder {ancestor}: {reason}", path=path,
                         hint=cause.hint or "choose a folder you can write to") from error
    with contextlib.suppress(OSError):
        probe.rmdir()


def input_paths(image: Image, reference: Image | None, inputs: Sequence[PathLike]) -> list[str]:
    """Every path the output must not overwrite."""
    paths = [str(p) for p in inputs]
    paths += list(image.provenance.source_paths)
    if reference is not None:
        paths += list(reference.provenance.source_paths)
    return paths


def write_image(
    image: Image,
    path: PathLike,
    *,
    format: str | None = None,
    inputs: Sequence[PathLike] = (),
    reference: Image | None = None,
    deidentify: bool = False,
    description: str = "",
    dtype: str | None = None,
) -> list[Path]:
    """Write ``image`` atomically; returns the files written.

    Parameters
    ----------
    image:
        The image, volume or frame stack to write.
    path:
        Output file; for DICOM series and PNG slices of a volume, a folder.
    format:
        ``png`` | ``tiff`` | ``nifti`` | ``dicom`` | ``mp4``; None infers it
        from the suffix.
    inputs:
        Input files of the computation; never overwritten (nor are
        ``image``'s or ``reference``'s source paths).
    reference:
        The image whose study and grid a DICOM export derives from
        (defaults to ``image`` itself).
    deidentify:
        De-identify DICOM output (see :mod:`~.deidentify`).
    description:
        Method and parameters, recorded in DICOM DerivationDescription /
        SeriesDescription and the NIfTI ``descrip``.
    dtype:
        TIFF sample type: ``"float32"`` or ``"uint16"`` (default: float32
        for grey, uint8 for RGB in 0..255).

    Raises
    ------
    OverwriteInputError
        ``path`` is (or, for folder outputs, contains) an input.
    WriteError
        The format is unknown or unsuitable, or the file cannot be written.
    """
    path = Path(path).expanduser()
    fmt = _normalise_format(format, path)
    protected = input_paths(image, reference, inputs)
    is_folder = (fmt == "dicom" and not _single_dicom_file(image, path)) or (
        fmt == "png" and image.axes not in ("YX", "YXC")
    )
    target = path.with_suffix("") if fmt == "png" and is_folder and path.suffix.lower() == ".png" else path
    check_not_input(target, protected, folder=is_folder)
    if image.axes.startswith("T") and fmt not in ("mp4", "png", "nifti", "tiff"):
        raise WriteError(f"frame stacks cannot be written as {fmt}", path=path, hint="use mp4, png, tiff or nifti")
    if fmt == "png":
        from textdifuse_desktop.io.writers.raster import write_png

        return write_png(image, path)
    if fmt == "tiff":
        from textdifuse_desktop.io.writers.raster import write_tiff

        return write_tiff(image, path, dtype=dtype)
    if fmt == "nifti":
        from textdifuse_desktop.io.writers.nifti import write_nifti

        return write_nifti(image, path, description=description)
    if fmt == "mp4":
        from textdifuse_desktop.io.writers.video import write_video

        frames = image.pixels if image.axes[0] in "TZ" else image.pixels[None]
        from textdifuse_desktop.io.writers._mapping import to_uint8

        return [write_video((to_uint8(image, f) for f in frames), path, fps=float(image.meta.get("fps", 10.0)))]
    return _write_dicom(image, path, reference=reference, deidentify=deidentify, description=description)


def _single_dicom_file(image: Image, path: Path) -> bool:
    """A colour image or volume (one SC instance) or a 2D grey image with a ``.dcm`` name."""
    return image.has_channels or (path.suffix.lower() == ".dcm" and not image.is_volume)


def _write_dicom(
    image: Image, path: Path, *, reference: Image | None, deidentify: bool, description: str
) -> list[Path]:
    from textdifuse_desktop.io.writers import dicom_common as dc

    if image.has_channels:
        from textdifuse_desktop.io.writers.dicom_secondary import (
            build_secondary_capture,
        )

        dataset = build_secondary_capture(image, reference, description=description, deidentify=deidentify)
        if path.suffix.lower() != ".dcm":
            path = path / "SC_0001.dcm"
        with atomic_file(path) as tmp:
            dc.save(dataset, tmp)
        return [path]
    from textdifuse_desktop.io.writers.dicom_derived import (
        build_derived_series,
        write_derived_series,
    )

    datasets = build_derived_series(image, reference, description=description, deidentify=deidentify)
    if _single_dicom_file(image, path):
        with atomic_file(path) as tmp:
            dc.save(datasets[0], tmp)
        return [path]
    with atomic_folder(path) as tmp:
        names = [p.name for p in write_derived_series(datasets, tmp)]
    log.info("wrote a derived DICOM series of %d instances to %s", len(names), path)
    return [path / name for name in names]
