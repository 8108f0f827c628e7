"""Writers: all atomic, never overwrite an input.

* :func:`write_image` - PNG, TIFF, NIfTI, DICOM (derived series or
  Secondary Capture), MP4; the format comes from ``format=`` or the suffix.
* :func:`write_seg` - region masks as DICOM SEG.
* :func:`write_label_nifti` - an integer label map as NIfTI.
* :func:`write_video` - frames as MP4 (H.264).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers.atomic import check_not_input
from textdifuse_desktop.io.writers.dispatch import FORMATS, infer_format, write_image
from textdifuse_desktop.io.writers.video import write_video

__all__ = ["FORMATS", "infer_format", "write_image", "write_label_nifti", "write_seg", "write_video"]


def write_seg(
    masks: Sequence[np.ndarray],
    names: Sequence[str],
    reference: Image,
    path: PathLike,
    *,
    deidentify: bool = False,
    algorithm_type: str = "MANUAL",
) -> Path:
    """Write region masks as one DICOM Segmentation file.

    Parameters
    ----------
    masks:
        Boolean masks on ``reference``'s grid (HxW or ZxHxW), one per segment.
    names:
        Segment labels, one per mask.
    reference:
        The segmented image; its DICOM source instances are referenced.
        Without DICOM headers it is written first as a derived series in
        ``<path stem>_images/``.
    path:
        Output ``.dcm`` file (atomic; never an input).
    deidentify:
        Apply the basic de-identification profile.
    algorithm_type:
        ``"MANUAL"`` (brush/box) or ``"SEMIAUTOMATIC"`` (text/proposal regions).
    """
    from textdifuse_desktop.io.writers.dicom_seg import write_seg as _write_seg

    path = Path(path).expanduser()
    check_not_input(path, reference.provenance.source_paths)
    return _write_seg(masks, names, reference, path, deidentify=deidentify, algorithm_type=algorithm_type)


def write_label_nifti(label_map: np.ndarray, reference: Image, path: PathLike) -> Path:
    """Write an integer label map on ``reference``'s grid as NIfTI (``.nii``/``.nii.gz``)."""
    from textdifuse_desktop.io.writers.nifti import write_label_nifti as _write

    path = Path(path).expanduser()
    check_not_input(path, reference.provenance.source_paths)
    return _write(label_map, reference, path)
