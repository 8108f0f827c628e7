"""Shared pieces of the DICOM writers: geometry, study/patient modules, saving."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from textdifuse_desktop import __version__
from textdifuse_desktop.imaging.image import LPS_TO_RAS, Image

log = logging.getLogger(__name__)

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SC_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
IMPLEMENTATION_CLASS_UID = PYDICOM_IMPLEMENTATION_UID
MANUFACTURER = "TextDiFuse"
MODEL_NAME = "TextDiFuse Desktop"

#: Patient, study and patient-study attributes copied into derived objects.
PATIENT_STUDY_KEYWORDS = (
    "SpecificCharacterSet",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "OtherPatientIDsSequence",
    "PatientBirthName",
    "PatientMotherBirthName",
    "EthnicGroup",
    "PatientComments",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "PatientSpeciesDescription",
    "PatientBreedDescription",
    "ResponsiblePerson",
    "ResponsibleOrganization",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "IssuerOfAccessionNumberSequence",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "ProcedureCodeSequence",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "AdditionalPatientHistory",
)

#: Type-2 patient/study attributes: present, possibly empty, in every IOD we write.
TYPE2_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)

#: MR Image module attributes kept from an MR reference (type 1/2 need values or empties).
MR_KEYWORDS = (
    "ScanningSequence",
    "SequenceVariant",
    "ScanOptions",
    "MRAcquisitionType",
    "RepetitionTime",
    "EchoTime",
    "EchoTrainLength",
    "InversionTime",
    "MagneticFieldStrength",
    "ImagedNucleus",
    "SequenceName",
    "FlipAngle",
)
CT_KEYWORDS = ("KVP", "AcquisitionNumber", "ConvolutionKernel", "XRayTubeCurrent", "ExposureTime")


def ds(value: float) -> str:
    """A DICOM DS string (at most 16 characters) for ``value``."""
    for digits in (10, 9, 8, 7, 6):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.5e}"


def plane_geometry(affine: np.ndarray) -> dict[str, Any]:
    """DICOM image-plane attributes (LPS) from our RAS ``(col, row, slice)`` affine.

    Returns ``ImageOrientationPatient``, ``PixelSpacing`` (row spacing, column
    spacing), ``SliceThickness`` and an ``origin(k)`` function giving
    ``ImagePositionPatient`` of slice ``k`` (the centre of its first voxel).
    """
    lps = LPS_TO_RAS @ affine
    col_step, row_step, slice_step = lps[:3, 0], lps[:3, 1], lps[:3, 2]
    dx, dy, dz = (float(np.linalg.norm(v)) for v in (col_step, row_step, slice_step))
    orientation = np.concatenate([col_step / dx, row_step / dy])

    def origin(k: int) -> list[str]:
        return [ds(v) for v in (lps @ np.array([0.0, 0.0, float(k), 1.0]))[:3]]

    return {
        "ImageOrientationPatient": [ds(v) for v in orientation],
        "PixelSpacing": [ds(dy), ds(dx)],
        "SliceThickness": ds(dz),
        "origin": origin,
    }


def now() -> tuple[str, str]:
    """Current local date and time as DICOM DA and TM strings."""
    stamp = _dt.datetime.now()
    return stamp.strftime("%Y%m%d"), stamp.strftime("%H%M%S.%f")[:13]


def reference_header(image: Image | None) -> Dataset | None:
    """The first DICOM header of ``image``'s provenance, if it has one."""
    if image is None:
        return None
    headers = [h for h in image.provenance.dicom_headers if isinstance(h, Dataset)]
    return headers[0] if headers else None


def copy_keywords(target: Dataset, source: Dataset | None, keywords: Sequence[str]) -> None:
    """Copy the present ``keywords`` from ``source`` to ``target`` (deep copies)."""
    if source is None:
        return
    for keyword in keywords:
        if keyword in source:
            element = source[keyword]
            target.add_new(element.tag, element.VR, _copy_value(element.value))


def _copy_value(value: Any) -> Any:
    if isinstance(value, DicomSequence):
        from copy import deepcopy

        return deepcopy(value)
    return value


def new_study(target: Dataset, image: Image) -> None:
    """Fill the patient and study modules for a new, anonymous study."""
    date, time = now()
    target.PatientName = "Anonymous^"
    target.PatientID = "ANON"
    target.PatientBirthDate = ""
    target.PatientSex = ""
    target.StudyInstanceUID = image.provenance.study_uid or generate_uid()
    target.StudyDate = date
    target.StudyTime = time
    target.ReferringPhysicianName = ""
    target.StudyID = "1"
    target.AccessionNumber = ""
    target.StudyDescription = "TextDiFuse export"


def common_series(
    target: Dataset,
    *,
    modality: str,
    series_uid: str,
    series_number: int,
    description: str,
    header: Dataset | None = None,
) -> None:
    """General series and equipment attributes of a new derived series (laterality from ``header``)."""
    date, time = now()
    target.Modality = modality
    # Type 2C: empty means unknown, which is the truth unless the source says otherwise.
    target.Laterality = str(getattr(header, "Laterality", "") or "")
    target.SeriesInstanceUID = series_uid
    target.SeriesNumber = series_number
    target.SeriesDescription = description[:64]
    target.SeriesDate = date
    target.SeriesTime = time
    target.Manufacturer = MANUFACTURER
    target.ManufacturerModelName = MODEL_NAME
    target.SoftwareVersions = __version__
    target.InstanceCreationDate = date
    target.InstanceCreationTime = time
    target.ContentDate = date
    target.ContentTime = time


def series_number_after(header: Dataset | None) -> int:
    """A new series number: the reference's plus 1000 (stays clear of scanner numbering)."""
    try:
        base = int(header.SeriesNumber) if header is not None and "SeriesNumber" in header else 0
    except (TypeError, ValueError):
        base = 0
    return base + 1000


def source_item(sop_class: str, sop_instance: str) -> Dataset:
    """An item of SourceImageSequence: 'source image for image processing operation'."""
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    purpose = Dataset()
    purpose.CodeValue = "121322"
    purpose.CodingSchemeDesignator = "DCM"
    purpose.CodeMeaning = "Source image for image processing operation"
    item.PurposeOfReferenceCodeSequence = DicomSequence([purpose])
    return item


def referenced_item(sop_class: str, sop_instance: str) -> Dataset:
    """An item of ReferencedImageSequence."""
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class
    item.ReferencedSOPInstanceUID = sop_instance
    return item


def source_instances(image: Image | None) -> list[tuple[str, str]]:
    """``(SOPClassUID, SOPInstanceUID)`` of each source slice of ``image``, in slice order."""
    if image is None:
        return []
    pairs: list[tuple[str, str]] = []
    headers = image.provenance.dicom_headers
    uids = image.provenance.sop_instance_uids
    for index in range(max(len(headers), len(uids))):
        header = headers[index] if index < len(headers) else None
        sop_class = str(getattr(header, "SOPClassUID", "") or "")
        sop_uid = str(getattr(header, "SOPInstanceUID", "") or (uids[index] if index < len(uids) else ""))
        if sop_class and sop_uid:
            pairs.append((sop_class, sop_uid))
    return pairs


def clone_dataset(dataset: Dataset) -> Dataset:
    """A copy with new data elements (values shared; sequences deep-copied).

    Much faster than :func:`copy.deepcopy` (20 ms per slice): element values
    are immutable strings/numbers or replaced, never mutated, by our code.
    """
    from copy import deepcopy

    clone = Dataset()
    for element in dataset:
        value = deepcopy(element.value) if element.VR == "SQ" else element.value
        clone.add(DataElement(element.tag, element.VR, value))
    return clone


def ensure_charset(dataset: Dataset) -> None:
    """Declare UTF-8 when a text value (e.g. a user's description) is not ASCII."""
    if "SpecificCharacterSet" in dataset:
        return
    for element in dataset:
        if element.VR in ("LO", "SH", "ST", "LT", "PN", "UT") and isinstance(element.value, str):
            if not element.value.isascii():
                dataset.SpecificCharacterSet = "ISO_IR 192"
                return


def finish_file(dataset: Dataset) -> Dataset:
    """Attach file meta information (explicit VR little endian)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = f"TEXTDIFUSE_{__version__}"[:16]
    dataset.file_meta = meta
    dataset.preamble = b"\0" * 128
    return dataset


def save(dataset: Dataset, path: Path) -> None:
    """Write a complete Part-10 file (the caller provides atomicity)."""
    dataset.save_as(path, enforce_file_format=True)
