"""One patient per fusion: refuse to fuse sources of different patients or frames of reference.

Fusing two images only makes sense when both show the same body in the same
space.  :func:`check_same_patient` compares what the DICOM headers of the two
sources say (``Image.provenance.dicom_headers``, plus ``frame_of_reference_uid``)
and raises :class:`DifferentPatientsError` before any computation when

* ``PatientID``, ``PatientName`` or ``PatientBirthDate`` differ (an attribute
  that is empty or missing on either side is not compared: a NIfTI or PNG
  source carries no identity, so it never conflicts), or
* both sources carry a ``FrameOfReferenceUID`` and they differ, unless the
  pair is ``registered`` (a rigid registration maps B into A's frame).

``allow_different=True`` (the CLI's ``--allow-different-patients``, the GUI's
confirmation dialog) skips both checks.  When the patients then really
differ (:func:`mixed_patient_output`), the result must carry no single
patient's identity: write it through :func:`without_identity`, which drops the
DICOM headers and UIDs, so the DICOM writers make a **new anonymous study**
(PatientName ``Anonymous^``, PatientID ``ANON``, empty birth date and sex,
new Study, Series and Frame of Reference UIDs, no references to either
source's instances).  This module is Qt-free and torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.image import Image

#: Patient attributes compared, in the order they are reported.
PATIENT_FIELDS = ("PatientID", "PatientName", "PatientBirthDate")

#: Pseudo-field reported when the frames of reference differ.
FRAME_OF_REFERENCE_FIELD = "FrameOfReferenceUID"


class DifferentPatientsError(GeometryError):
    """Two sources belong to different patients (or frames of reference) and may not be fused.

    Exit code 4 (geometry family: the sources do not describe one body in
    one space).  Attributes: ``field`` (the DICOM keyword that differs),
    ``path_a`` / ``path_b`` (the source files, or ``"source A"`` / ``"source B"``
    when unknown) and ``value_a`` / ``value_b`` (the differing values as text).
    """

    def __init__(self, field: str, path_a: str, path_b: str, value_a: str, value_b: str, *,
                 hint: str | None = None):
        self.field = field
        self.path_a = path_a
        self.path_b = path_b
        self.value_a = value_a
        self.value_b = value_b
        what = "frames of reference" if field == FRAME_OF_REFERENCE_FIELD else "patients"
        message = (f"refusing to fuse different {what}: {field} of {path_a} is {value_a!r}, "
                   f"of {path_b} is {value_b!r}")
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class PatientIdentity:
    """What one source says about its patient (empty strings when unknown)."""

    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    frame_of_reference_uid: str = ""

    def value(self, field: str) -> str:
        """The value of a keyword of :data:`PATIENT_FIELDS` or ``FrameOfReferenceUID``."""
        return {
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "PatientBirthDate": self.birth_date,
            FRAME_OF_REFERENCE_FIELD: self.frame_of_reference_uid,
        }[field]


def _text(header: Any, keyword: str) -> str:
    value = getattr(header, keyword, None)
    return "" if value is None else str(value).strip()


def _normalise_name(name: str) -> str:
    """PersonName compared without trailing empty components and case (``DOE^JOHN^^`` == ``Doe^John``)."""
    return "^".join(part.strip() for part in name.split("=")[0].split("^")).rstrip("^").upper()


def patient_identity(image: Image) -> PatientIdentity:
    """The identity recorded in ``image``'s first DICOM header (empty for non-DICOM sources)."""
    headers = image.provenance.dicom_headers
    header = headers[0] if headers else None
    frame = image.provenance.frame_of_reference_uid or (_text(header, "FrameOfReferenceUID") if header else "")
    if header is None:
        return PatientIdentity(frame_of_reference_uid=frame or "")
    return PatientIdentity(
        patient_id=_text(header, "PatientID"),
        patient_name=_text(header, "PatientName"),
        birth_date=_text(header, "PatientBirthDate"),
        frame_of_reference_uid=frame or "",
    )


def _path(image: Image, fallback: str) -> str:
    paths = image.provenance.source_paths
    return str(paths[0]) if paths else fallback


def _differs(field: str, value_a: str, value_b: str) -> bool:
    if not value_a or not value_b:
        return False
    if field == "PatientName":
        return _normalise_name(value_a) != _normalise_name(value_b)
    return value_a != value_b


def find_difference(image_a: Image, image_b: Image, *, registered: bool = False) -> tuple[str, str, str] | None:
    """The first differing ``(field, value_a, value_b)``, or None when the sources agree.

    Patient fields are checked first, then the frame of reference (skipped
    when ``registered``).  Never raises; the GUI uses it to word its
    confirmation dialog.
    """
    ident_a, ident_b = patient_identity(image_a), patient_identity(image_b)
    fields = PATIENT_FIELDS if registered else PATIENT_FIELDS + (FRAME_OF_REFERENCE_FIELD,)
    for field in fields:
        value_a, value_b = ident_a.value(field), ident_b.value(field)
        if _differs(field, value_a, value_b):
            return field, value_a, value_b
    return None


def check_same_patient(image_a: Image, image_b: Image, *, allow_different: bool = False,
                       registered: bool = False) -> None:
    """Refuse a fusion of two sources that belong to different patients or frames of reference.

    Parameters
    ----------
    image_a, image_b:
        The sources as read (:class:`~textdifuse_desktop.imaging.image.Image`);
        their DICOM headers and ``provenance.frame_of_reference_uid`` are
        compared.  Sources without DICOM headers (NIfTI, PNG...) carry no
        identity and never conflict on patient fields.
    allow_different:
        Skip the check (deliberate fusion of different patients); the output
        must then be written without a patient identity.
    registered:
        B is registered onto A (``--register``), so a different frame of
        reference is expected and not refused; patients are still compared.

    Raises
    ------
    DifferentPatientsError
        With ``field``, ``path_a``, ``path_b``, ``value_a``, ``value_b``.
    """
    if allow_different:
        return
    difference = find_difference(image_a, image_b, registered=registered)
    if difference is None:
        return
    field, value_a, value_b = difference
    if field == FRAME_OF_REFERENCE_FIELD:
        hint = "register B to A (--register) or pass --allow-different-patients to fuse anyway"
    else:
        hint = "pass --allow-different-patients (or confirm in the app) to fuse them deliberately"
    raise DifferentPatientsError(field, _path(image_a, "source A"), _path(image_b, "source B"),
                                 value_a, value_b, hint=hint)


def mixed_patient_output(image_a: Image, image_b: Image) -> bool:
    """True when A and B name different patients, so that no output may carry either identity."""
    difference = find_difference(image_a, image_b, registered=True)
    return difference is not None


def without_identity(image: Image) -> Image:
    """A copy of ``image`` that carries no patient identity (for fusions of different patients).

    The DICOM headers, study/series/frame-of-reference UIDs and source
    instance UIDs are dropped (``source_paths`` stay, so that inputs are still
    never overwritten); pixels, geometry, modality, units and ``meta`` are kept.
    """
    provenance = replace(image.provenance, study_uid=None, series_uid=None, frame_of_reference_uid=None,
                         sop_instance_uids=(), dicom_headers=(), description="")
    return replace(image, provenance=provenance, meta=dict(image.meta))
