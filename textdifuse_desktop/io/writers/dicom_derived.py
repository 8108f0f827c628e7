"""A grey image as a DICOM *derived series* of the reference study.

One single-frame instance per slice, in a folder ``IM_0001.dcm``...:

* patient and study modules copied from ``reference.provenance.dicom_headers``
  (same StudyInstanceUID and FrameOfReferenceUID); without headers (NIfTI
  or PNG reference, or a fusion of two patients written without identity)
  a new anonymous study and frame of reference are made;
* **what the values are decides the IOD, never the reference**
  (:mod:`~textdifuse_desktop.io.writers.dicom_semantics`):

  - values truly in the modality's units (an unfused CT in HU, an MR, or a
    fusion mapped back to units with ``--keep-units``) keep *CT Image
    Storage* / *MR Image Storage* and their Modality, so a viewer's HU
    readout is right;
  - everything else, and in particular every fused image (display
    intensities 0..255 in arbitrary units), is written as *Secondary Capture
    Image Storage* with **Modality OT** and ``RescaleType = US``
    (unspecified, PS3.3 C.11.1.1.2), so that no viewer can take it for HU or
    SUV.  PET/NM values are never written as a PET or NM IOD (which would
    require acquisition and decay data we cannot vouch for) and no ``Units``
    (BQML/GML) attribute is written; an unfused PT/NM image keeps its
    Modality in a Secondary Capture and says its units in the
    DerivationDescription.  Secondary Capture has no Image Plane module;
    ImagePositionPatient/ImageOrientationPatient/PixelSpacing are still
    written (dciodvfy: warnings, not errors) so that viewers can place the
    slices.  The Multi-frame Grayscale Word SC IOD was not chosen because it
    fixes RescaleSlope 1 / RescaleIntercept 0, which would lose the values;
* geometry: per-slice ImagePositionPatient, ImageOrientationPatient,
  PixelSpacing and SliceThickness from the image affine (RAS -> LPS);
* values: unsigned 16-bit with ``RescaleSlope``/``RescaleIntercept`` so the
  float values come back within slope/2 (integer data such as HU exactly,
  signed for CT).  The MR IOD has no Modality LUT, so dciodvfy warns about
  the rescale in MR instances; it is kept because the values would be lost
  without it (pydicom, dcm2niix and most viewers apply it) and left out
  when the data are integers that fit uint16;
* ``ImageType = DERIVED\\SECONDARY``, SourceImageSequence and
  ReferencedImageSequence to the reference slices, and a DerivationDescription
  naming the fused modalities, the method and the meaning of the values.
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
from textdifuse_desktop.io.writers._mapping import finite_range, uint16_mapping
from textdifuse_desktop.io.writers.deidentify import deidentify_dataset
from textdifuse_desktop.io.writers.dicom_semantics import (
    derivation_description,
    export_modality,
    values_in_units,
)

log = logging.getLogger(__name__)

MAX_SHARED_SOURCES = 32


def choose_sop_class(image: Image, header: Dataset | None = None) -> str:
    """The SOP class of the derived instances (see the module docstring).

    ``header`` (the reference's) is accepted for compatibility and ignored:
    the IOD follows what the image's own values are.
    """
    if values_in_units(image) and image.modality == "CT":
        return dc.CT_IMAGE_STORAGE
    if values_in_units(image) and image.modality == "MR":
        return dc.MR_IMAGE_STORAGE
    return dc.SC_IMAGE_STORAGE


def _window(image: Image) -> tuple[float, float]:
    if image.window is not None and image.window[1] > 0:
        return float(image.window[0]), float(image.window[1])
    finite = image.pixels[np.isfinite(image.pixels)]
    lo, hi = (float(v) for v in np.percentile(finite, (0.5, 99.5)))
    return (lo + hi) / 2.0, max(hi - lo, 1e-3)


def build_derived_series(
    image: Image,
    reference: Image | None = None,
    *,
    description: str = "",
    deidentify: bool = False,
) -> list[Dataset]:
    """The datasets (with pixels and file meta) of the derived series, one per slice."""
    if image.has_channels or image.axes.startswith("T"):
        raise WriteError(f"a derived DICOM series needs a grey image or volume, got axes {image.axes!r}")
    reference = reference if reference is not None else image
    header = dc.reference_header(reference)
    sop_class = choose_sop_class(image, header)
    pixels = image.pixels if image.is_volume else image.pixels[None]
    nz, rows, cols = pixels.shape
    stored, slope, intercept, signed = uint16_mapping(pixels, signed_ok=sop_class == dc.CT_IMAGE_STORAGE)
    lo, hi = finite_range(pixels)
    center, width = _window(image)
    geometry = dc.plane_geometry(image.affine)
    if not np.allclose(image.affine, reference.affine, atol=1e-3) and reference is not image:
        log.warning("exported image grid differs from the reference grid; its own geometry is written")
    modality = export_modality(image)
    series_uid = generate_uid()
    frame_uid = (
        str(getattr(header, "FrameOfReferenceUID", "") or "")
        or reference.provenance.frame_of_reference_uid
        or generate_uid()
    )
    sources = dc.source_instances(reference)
    per_slice = len(sources) == nz
    if not per_slice and len(sources) > MAX_SHARED_SOURCES:
        # Slices cannot be matched to sources; listing hundreds in every instance helps no one.
        log.info("%d source instances for %d slices: source references omitted", len(sources), nz)
        sources = []
    text = description or "TextDiFuse derived image"
    storage = (f"stored 16-bit, value = stored * {dc.ds(slope)} + {dc.ds(intercept)}; "
               f"value range {dc.ds(lo)}..{dc.ds(hi)}")
    derivation = derivation_description(image, text, storage)

    template = Dataset()
    if header is not None:
        dc.copy_keywords(template, header, dc.PATIENT_STUDY_KEYWORDS)
        if "StudyInstanceUID" not in template:
            template.StudyInstanceUID = reference.provenance.study_uid or generate_uid()
        for keyword in dc.TYPE2_PATIENT_STUDY:
            template.setdefault(keyword, "")
    else:
        dc.new_study(template, reference)
    dc.common_series(
        template,
        modality=modality,
        series_uid=series_uid,
        series_number=dc.series_number_after(header),
        description=text,
        header=header,
    )
    template.FrameOfReferenceUID = frame_uid
    template.PositionReferenceIndicator = str(getattr(header, "PositionReferenceIndicator", "") or "")
    template.SOPClassUID = sop_class
    template.ImageType = _image_type(sop_class, header)
    if sop_class in (dc.CT_IMAGE_STORAGE, dc.MR_IMAGE_STORAGE):
        template.PatientPosition = str(getattr(header, "PatientPosition", "") or "")
    template.DerivationDescription = derivation
    template.ImageOrientationPatient = geometry["ImageOrientationPatient"]
    template.PixelSpacing = geometry["PixelSpacing"]
    template.SliceThickness = geometry["SliceThickness"]
    template.SamplesPerPixel = 1
    template.PhotometricInterpretation = "MONOCHROME2"
    template.Rows, template.Columns = rows, cols
    template.BitsAllocated = 16
    template.BitsStored = 16
    template.HighBit = 15
    template.PixelRepresentation = 1 if signed else 0
    if sop_class != dc.MR_IMAGE_STORAGE or (slope, intercept) != (1.0, 0.0):
        # The MR IOD has no Modality LUT: dciodvfy warns, but the values would be lost without it.
        template.RescaleIntercept = dc.ds(intercept)
        template.RescaleSlope = dc.ds(slope)
        if sop_class == dc.SC_IMAGE_STORAGE:
            template.RescaleType = "US"  # unspecified units: a fused value, not HU
    template.WindowCenter = dc.ds(center)
    template.WindowWidth = dc.ds(width)
    template.PatientOrientation = ""
    template.BurnedInAnnotation = "NO"
    if sop_class == dc.MR_IMAGE_STORAGE:
        _mr_module(template, header)
    elif sop_class == dc.CT_IMAGE_STORAGE:
        _ct_module(template, header)
    else:
        template.ConversionType = "WSD"  # workstation: a computed result

    datasets: list[Dataset] = []
    for k in range(nz):
        item = dc.clone_dataset(template)
        item.SOPInstanceUID = generate_uid()
        item.InstanceNumber = k + 1
        item.ImagePositionPatient = geometry["origin"](k)
        refs = [sources[k]] if per_slice else sources
        if refs:
            item.SourceImageSequence = DicomSequence([dc.source_item(c, u) for c, u in refs])
            item.ReferencedImageSequence = DicomSequence([dc.referenced_item(c, u) for c, u in refs])
        item.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        dc.ensure_charset(item)
        dc.finish_file(item)
        if deidentify:
            deidentify_dataset(item)
        datasets.append(item)
    if deidentify:
        # Copies share the template's original UIDs; the per-salt map keeps them consistent.
        log.info("de-identified %d instances", nz)
    return datasets


def _image_type(sop_class: str, header: Dataset | None) -> list[str]:
    """DERIVED\\SECONDARY plus the third value CT and MR require."""
    if sop_class == dc.CT_IMAGE_STORAGE:
        return ["DERIVED", "SECONDARY", "AXIAL"]
    if sop_class == dc.MR_IMAGE_STORAGE:
        source = list(getattr(header, "ImageType", []) or []) if header is not None else []
        third = str(source[2]) if len(source) > 2 and str(getattr(header, "Modality", "")) == "MR" else "OTHER"
        return ["DERIVED", "SECONDARY", third or "OTHER"]
    return ["DERIVED", "SECONDARY"]


def _mr_module(target: Dataset, header: Dataset | None) -> None:
    mr = header if header is not None and str(getattr(header, "Modality", "")) == "MR" else None
    dc.copy_keywords(target, mr, dc.MR_KEYWORDS)
    target.setdefault("ScanningSequence", "RM")  # research mode: not an acquisition
    target.setdefault("SequenceVariant", "NONE")
    for keyword in ("ScanOptions", "MRAcquisitionType", "EchoTime", "EchoTrainLength", "RepetitionTime"):
        target.setdefault(keyword, None)


def _ct_module(target: Dataset, header: Dataset | None) -> None:
    ct = header if header is not None and str(getattr(header, "Modality", "")) == "CT" else None
    dc.copy_keywords(target, ct, dc.CT_KEYWORDS)
    target.setdefault("KVP", None)
    target.setdefault("AcquisitionNumber", None)


def write_derived_series(datasets: list[Dataset], folder: Path) -> list[Path]:
    """Save ``datasets`` as ``folder/IM_0001.dcm``... (``folder`` is a temporary folder)."""
    paths = []
    for index, dataset in enumerate(datasets, start=1):
        path = folder / f"IM_{index:04d}.dcm"
        dc.save(dataset, path)
        paths.append(path)
    return paths
