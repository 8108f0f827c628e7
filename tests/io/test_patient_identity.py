"""One patient per fusion: io.patient_identity refuses mixed patients and frames of reference."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from textdifuse_desktop.errors import GeometryError
from textdifuse_desktop.imaging.image import Image, Provenance
from textdifuse_desktop.io.patient_identity import (
    DifferentPatientsError,
    check_same_patient,
    find_difference,
    mixed_patient_output,
)


def _image(path: str, frame: str = "1.2.3", **identity: str) -> Image:
    header = Dataset()
    for key, value in {"PatientID": "P1", "PatientName": "Doe^John", "PatientBirthDate": "19700101",
                       **identity}.items():
        setattr(header, key, value)
    header.FrameOfReferenceUID = frame
    provenance = Provenance(source_paths=(path,), dicom_headers=(header,), frame_of_reference_uid=frame)
    return Image(np.zeros((4, 4), np.float32), provenance=provenance)


def test_same_patient_passes() -> None:
    check_same_patient(_image("a.dcm"), _image("b.dcm", PatientName="DOE^JOHN^^"))


@pytest.mark.parametrize(("field", "value"), [("PatientID", "P2"), ("PatientName", "Roe^Jane"),
                                              ("PatientBirthDate", "19800101")])
def test_different_patient_field_is_refused(field: str, value: str) -> None:
    with pytest.raises(DifferentPatientsError) as caught:
        check_same_patient(_image("a.dcm"), _image("b.dcm", **{field: value}))
    error = caught.value
    assert isinstance(error, GeometryError) and error.exit_code == 4
    assert (error.field, error.path_a, error.path_b) == (field, "a.dcm", "b.dcm")
    assert error.value_b == value
    text = str(error)
    assert "\n" not in text and "a.dcm" in text and "b.dcm" in text and field in text


def test_different_frame_of_reference_needs_registration() -> None:
    a, b = _image("a.dcm", frame="1.2.3"), _image("b.dcm", frame="1.2.4")
    with pytest.raises(DifferentPatientsError) as caught:
        check_same_patient(a, b)
    assert caught.value.field == "FrameOfReferenceUID"
    check_same_patient(a, b, registered=True)


def test_allow_different_and_sources_without_identity() -> None:
    a, b = _image("a.dcm"), _image("b.dcm", PatientID="P2")
    check_same_patient(a, b, allow_different=True)
    assert mixed_patient_output(a, b)
    assert find_difference(a, b) == ("PatientID", "P1", "P2")
    plain = Image(np.zeros((4, 4), np.float32))
    check_same_patient(a, plain)
    assert not mixed_patient_output(a, plain)
