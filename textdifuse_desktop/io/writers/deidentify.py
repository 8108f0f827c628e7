"""De-identification on export: a subset of the DICOM PS3.15 Annex E basic profile.

What :func:`deidentify_dataset` does to every exported instance:

* patient identity: ``PatientName`` becomes ``"Anonymous^"``, ``PatientID`` a
  pseudonym hashed from the original (the same patient keeps the same
  pseudonym within a salt), birth date/time/sex emptied, addresses,
  telephone numbers, other IDs, names of relatives and comments removed;
* people and places: referring/performing/reading physicians, operators,
  institution name/address/department and station name removed, the
  device serial number replaced by a dummy; accession number and study ID emptied;
* dates and times: acquisition/creation dates removed, every other DA/DT/TM
  value emptied (ContentDate/Time, type 1 in SEG, get the dummy
  19000101/000000); ``LongitudinalTemporalInformationModified = REMOVED``;
* UIDs: every instance UID (study, series, SOP instance, frame of
  reference, referenced instances, inside sequences too) is replaced by a
  UID hashed from a secret salt and the original, so references between
  exported objects stay consistent; standard UIDs (SOP classes, transfer
  syntaxes, ``1.2.840.10008.*``) are kept;
* private tags, study description, comments and request attributes removed
  (our own SeriesDescription/DerivationDescription are kept);
* ``PatientIdentityRemoved = YES``, ``DeidentificationMethod`` and
  ``DeidentificationMethodCodeSequence`` (DCM 113100) set.

The salt is random per process by default: objects exported in one session
(a derived series and its SEG) reference each other; call :func:`set_salt`
with a kept secret for consistency across sessions.  Burned-in annotations
in the pixels are not detected.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

log = logging.getLogger(__name__)

_SALT = secrets.token_hex(16)
STANDARD_UID_ROOT = "1.2.840.10008."
METHOD = "PS3.15 E.1.1 basic profile subset; UIDs hashed; dates removed"  # LO: <= 64 chars

#: Removed wherever they occur (basic profile action X / X/Z with optional presence).
REMOVE = (
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "MilitaryRank",
    "BranchOfService",
    "MedicalRecordLocator",
    "Occupation",
    "AdditionalPatientHistory",
    "PatientComments",
    "EthnicGroup",
    "PatientReligiousPreference",
    "CountryOfResidence",
    "RegionOfResidence",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "MedicalAlerts",
    "Allergies",
    "PregnancyStatus",
    "SmokingStatus",
    "PatientBirthTime",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "ResponsiblePerson",
    "ResponsibleOrganization",
    "IssuerOfPatientID",
    "IssuerOfAccessionNumberSequence",
    "RequestAttributesSequence",
    "ReferencedPerformedProcedureStepSequence",
    "ReferencedStudySequence",
    "ReferencedPatientSequence",
    "PerformedProcedureStepID",
    "PerformedProcedureStepDescription",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "ScheduledProcedureStepID",
    "RequestedProcedureID",
    "ImageComments", "StudyDescription", "RequestedProcedureDescription", "ReasonForStudy",
    "StudyComments",
    "ProtocolName",
    "PersonName",
    "AcquisitionDateTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "PatientState",
    "AdmittingDiagnosesDescription",
    "AdmissionID",
    "FrameComments",
)

#: Kept but emptied (type-2 attributes of the IODs we write).
EMPTY = ("PatientBirthDate", "PatientSex", "ReferringPhysicianName", "AccessionNumber", "StudyID", "ContentCreatorName")


#: Dates that are type 1 in some IOD we write (SEG content date): a dummy value, not empty.
_DUMMY = {"ContentDate": "19000101", "ContentTime": "000000"}


#: Replaced by a dummy value (type 1 in the Enhanced General Equipment module of SEG).
REPLACE = {"DeviceSerialNumber": "0"}


def set_salt(salt: str) -> None:
    """Use ``salt`` (keep it secret) for the hashed UID map and patient pseudonyms."""
    global _SALT
    _SALT = salt


def remap_uid(uid: str) -> str:
    """The replacement of ``uid``: the same input always gives the same output (per salt)."""
    if not uid or uid.startswith(STANDARD_UID_ROOT):
        return uid
    return _hashed_uid(_SALT, uid)


@functools.lru_cache(maxsize=65536)
def _hashed_uid(salt: str, uid: str) -> str:
    return str(generate_uid(entropy_srcs=[salt, uid]))


def pseudonym(value: str) -> str:
    """A stable pseudonymous patient ID derived from ``value``."""
    digest = hashlib.sha256(f"{_SALT}|{value}".encode()).hexdigest()[:12].upper()
    return f"ANON-{digest}"


def _scrub(dataset: Dataset) -> None:
    for keyword in REMOVE:
        if keyword in dataset:
            del dataset[keyword]
    for keyword in EMPTY:
        if keyword in dataset:
            dataset[keyword].value = ""
    for keyword, dummy in REPLACE.items():
        if keyword in dataset:
            dataset[keyword].value = dummy
    dataset.remove_private_tags()
    for element in list(dataset):
        if element.VR == "UI" and element.value:
            if element.VM > 1:
                element.value = [remap_uid(str(v)) for v in element.value]
            else:
                element.value = remap_uid(str(element.value))
        elif element.VR in ("DA", "DT", "TM"):
            element.value = _DUMMY.get(element.keyword, "")
        elif element.VR == "SQ":
            for item in element.value:
                _scrub(item)


def deidentify_dataset(dataset: Dataset) -> Dataset:
    """De-identify ``dataset`` in place (and its file meta) and return it."""
    original_id = str(dataset.get("PatientID", "") or "")
    _scrub(dataset)
    dataset.PatientName = "Anonymous^"
    dataset.PatientID = pseudonym(original_id) if original_id else "ANON"
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    dataset.DeidentificationMethodCodeSequence = DicomSequence([code])
    dataset.LongitudinalTemporalInformationModified = "REMOVED"
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    return dataset
