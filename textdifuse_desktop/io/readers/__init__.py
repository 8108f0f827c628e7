"""Built-in readers; importing this package registers them.

Priorities (higher is tried first): DICOM (files and series folders) 30,
NIfTI 20, raster images 10, video 10.  Each reader claims a path cheaply
(suffix or magic bytes) in ``can_read``; :func:`read_image` tries the
claimants in turn and reports every failure.
"""

from __future__ import annotations

from textdifuse_desktop.io.readers.dicom_series import DicomReader
from textdifuse_desktop.io.readers.nifti import NiftiReader
from textdifuse_desktop.io.readers.raster import RasterReader
from textdifuse_desktop.io.readers.video import VideoReader, VideoSequence
from textdifuse_desktop.io.registry import register_reader

register_reader(DicomReader(), priority=30)
register_reader(NiftiReader(), priority=20)
register_reader(RasterReader(), priority=10)
register_reader(VideoReader(), priority=10)

__all__ = ["DicomReader", "NiftiReader", "RasterReader", "VideoReader", "VideoSequence"]
