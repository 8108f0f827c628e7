"""A colour result as DICOM Secondary Capture (RGB, 8 bits, PlanarConfiguration 0).

A 2D colour image becomes one *Secondary Capture Image Storage* instance; a
colour volume one *Multi-frame True Color Secondary Capture* instance whose
frames are the slices.  Both join the reference study (same patient/study
modules and StudyInstanceUID) as a new series; without reference headers a
new anonymous study is made.  Secondary Capture carries no patient
geometry (its IODs have no image-plane module), so viewers show it
side by side, not registered; the pixel spacing goes in
``PixelSpacing`` for measurements.  Colour values go through
the same 8-bit mapping as PNG.

An RGB rendering is never in physical units: Modality is the image's own
only when it is an unfused image of that modality, ``OT`` for every fused
result (never the reference's CT or PT), and the DerivationDescription names
the fused sources and the method
(:mod:`~textdifuse_desktop.io.writers.dicom_semantics`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from textdifuse_desktop.errors import WriteError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers import dicom_common as dc
from textdifuse_desktop.io.writers._mapping import to_uint8
from textdifuse_desktop.io.writers.deidentify import deidentify_dataset
from textdifuse_desktop.io.writers.dicom_semantics import (
    derivation_description,
    fusion_record,
)

log = logging.getLogger(__name__)

MULTIFRAME_TRUE_COLOR_SC = "1.2.840.10008.5.1.4.1.1.7.4"


def build_secondary_capture(
    image: Image,
    reference: Image | None = None,
    *,
    description: str = "",
    deidentify: bool = False,
) -> Dataset:
    """One Secondary Capture dataset (with pixels and file meta) for an RGB image or volume."""
    if image.axes not in ("YXC", "ZYXC") or image.pixels.shape[-1] != 3:
        raise WriteError(f"Secondary Capture export needs an RGB image, got axes {image.axes!r} {image.pixels.shape}")
    reference = reference if reference is not None else image
    header = dc.reference_header(reference)
    rgb = to_uint8(image)
    multiframe = image.axes == "ZYXC"
    frames = rgb if multiframe else rgb[None]
    nz, rows, cols, _ = frames.shape
    text = description or "TextDiFuse fused colour image"

    dataset = Dataset()
    if header is not None:
        dc.copy_keywords(dataset, header, dc.PATIENT_STUDY_KEYWORDS)
        if "StudyInstanceUID" not in dataset:
            dataset.StudyInstanceUID = reference.provenance.study_uid or generate_uid()
        for keyword in dc.TYPE2_PATIENT_STUDY:
            dataset.setdefault(keyword, "")
    else:
        dc.new_study(dataset, reference)
    unfused = fusion_record(image) is None and image.modality in ("MR", "CT", "PT", "NM")
    dc.common_series(
        dataset,
        modality=image.modality if unfused else "OT",
        series_uid=generate_uid(),
        series_number=dc.series_number_after(header) + 1,
        description=text,
        header=header,
    )
    dataset.SOPClassUID = MULTIFRAME_TRUE_COLOR_SC if multiframe else dc.SC_IMAGE_STORAGE
    dataset.SOPInstanceUID = generate_uid()
    dataset.InstanceNumber = 1
    dataset.ConversionType = "WSD"
    dataset.ImageType = ["DERIVED", "SECONDARY"]
    dataset.DerivationDescription = derivation_description(image, text, "RGB 8-bit display rendering")
    dataset.PatientOrientation = ""
    dataset.BurnedInAnnotation = "NO"
    dataset.SamplesPerPixel = 3
    dataset.PhotometricInterpretation = "RGB"
    dataset.PlanarConfiguration = 0
    dataset.Rows, dataset.Columns = rows, cols
    dataset.BitsAllocated = 8
    dataset.BitsStored = 8
    dataset.HighBit = 7
    dataset.PixelRepresentation = 0
    spacing = image.spacing
    dataset.PixelSpacing = [dc.ds(spacing[1]), dc.ds(spacing[0])]
    if multiframe:
        # Frames are slices: the SC multi-frame module points at the SliceLocationVector.
        dataset.NumberOfFrames = nz
        dataset.SliceLocationVector = [dc.ds(k * image.spacing[2]) for k in range(nz)]
        dataset.FrameIncrementPointer = 0x00182005
    sources = dc.source_instances(reference)
    if sources:
        dataset.SourceImageSequence = DicomSequence([dc.source_item(c, u) for c, u in sources])
    dataset.PixelData = np.ascontiguousarray(frames).tobytes()
    dc.ensure_charset(dataset)
    dc.finish_file(dataset)
    if deidentify:
        deidentify_dataset(dataset)
    return dataset


def write_secondary_capture(dataset: Dataset, path: Path) -> list[Path]:
    """Save one Secondary Capture dataset to ``path`` (the caller provides atomicity)."""
    dc.save(dataset, path)
    return [path]
