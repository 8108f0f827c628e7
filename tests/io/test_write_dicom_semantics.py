"""Fused DICOM objects say truthfully what their values are (issue 15, case 1).

Each exported object is read back with pydicom: a fused image is never CT/PT
storage nor Modality CT/PT, never carries PET Units, has ImageType
DERIVED\\SECONDARY, RescaleType US and a DerivationDescription naming the fused
modalities and the method.  ``--keep-units`` (shared window + restore_units)
writes values that really are HU.  dciodvfy (dicom3tools) checks every object
and is skipped cleanly when absent.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _writer_fixtures import make_ct_series

from textdifuse_desktop.fusion._sources import restore_units, shared_unit_window
from textdifuse_desktop.fusion.engine import fuse
from textdifuse_desktop.fusion.request import FusionParams, FusionRequest
from textdifuse_desktop.imaging.image import Image, Provenance
from textdifuse_desktop.io.writers import dicom_common as dc
from textdifuse_desktop.io.writers import write_image

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"


def _pet_like(ct: Image, rng: np.random.Generator) -> Image:
    """A PT image on the CT's grid whose headers claim BQML (as a reader would give, in SUV)."""
    headers = []
    for header in ct.provenance.dicom_headers:
        pet = copy.deepcopy(header)
        pet.Modality, pet.SOPClassUID, pet.Units = "PT", PET_STORAGE, "BQML"
        pet.SOPInstanceUID = pydicom.uid.generate_uid()
        headers.append(pet)
    provenance = Provenance(source_paths=("pet.dcm",), dicom_headers=tuple(headers),
                            frame_of_reference_uid=ct.provenance.frame_of_reference_uid)
    return Image(rng.uniform(0, 8, ct.pixels.shape), ct.axes, ct.affine, modality="PT", units="SUV",
                 provenance=provenance)


def _fused(a: Image, b: Image, method: str = "mean") -> Image:
    return fuse(FusionRequest(a, b, FusionParams(method=method))).image


def _read(paths: list[Path]) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in paths]


def _assert_arbitrary_units(d: pydicom.Dataset, sop_class: str = dc.SC_IMAGE_STORAGE) -> None:
    assert d.SOPClassUID == sop_class and d.file_meta.MediaStorageSOPClassUID == sop_class
    assert d.Modality == "OT"
    assert list(d.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert "Units" not in d and "DecayCorrection" not in d
    assert "arbitrary units" in d.DerivationDescription and "not HU" in d.DerivationDescription


@pytest.fixture
def sources(tmp_path, rng):
    ct = make_ct_series(tmp_path / "ct", nz=2)
    return ct, _pet_like(ct, rng)


@pytest.fixture
def exports(tmp_path, sources, rng):
    """Every kind of fused DICOM object the app writes, by name."""
    ct, pet = sources
    ct2d = ct.with_pixels(ct.pixels[0], axes="YX")
    ct2d.provenance = Provenance(dicom_headers=ct.provenance.dicom_headers[:1], source_paths=("ct.dcm",),
                                 frame_of_reference_uid=ct.provenance.frame_of_reference_uid)
    pet2d = pet.with_pixels(pet.pixels[0], axes="YX")
    colour = Image(rng.uniform(0, 255, (*ct2d.pixels.shape, 3)), "YXC", ct2d.affine, modality="VIS")
    ct_b = ct.with_pixels(ct.pixels * 0.5 + 20.0)
    shared_a, shared_b = shared_unit_window(ct, ct_b)
    kept = restore_units(_fused(shared_a, shared_b), shared_a, shared_b)
    return {
        "ct+pt series": (write_image(_fused(ct, pet), tmp_path / "ctpt", format="dicom", reference=ct,
                                     description="fusion test"), ct, pet),
        "pt+ct file": (write_image(_fused(pet2d, ct2d, "max"), tmp_path / "ptct.dcm", reference=pet2d), pet2d, ct2d),
        "colour": (write_image(_fused(ct2d, colour), tmp_path / "colour.dcm", reference=ct2d), ct2d, colour),
        "kept HU": (write_image(kept, tmp_path / "kept", format="dicom", reference=ct), ct, ct_b),
    }


def test_fused_ct_pet_series_is_secondary_capture_in_arbitrary_units(exports) -> None:
    paths, ct, pet = exports["ct+pt series"]
    datasets = _read(paths)
    assert len(datasets) == 2
    for d in datasets:
        _assert_arbitrary_units(d)
        assert d.RescaleType == "US"
        text = d.DerivationDescription
        assert "fusion test" in text and "CT (HU)" in text and "PT (SUV)" in text and "mean" in text
        assert d.PatientID == ct.provenance.dicom_headers[0].PatientID  # same patient: same study
        assert d.StudyInstanceUID == ct.provenance.study_uid


def test_fused_pet_reference_is_not_written_as_pet(exports) -> None:
    (path,), _, _ = exports["pt+ct file"]
    d = pydicom.dcmread(path)
    _assert_arbitrary_units(d)
    assert d.SOPClassUID != PET_STORAGE and d.RescaleType == "US"
    assert "max" in d.DerivationDescription and "PT (SUV)" in d.DerivationDescription


def test_fused_colour_is_rgb_secondary_capture_with_modality_ot(exports) -> None:
    (path,), _, _ = exports["colour"]
    d = pydicom.dcmread(path)
    _assert_arbitrary_units(d)
    assert d.PhotometricInterpretation == "RGB"
    assert "CT (HU)" in d.DerivationDescription and "VIS" in d.DerivationDescription


def test_keep_units_writes_real_hounsfield_units(exports) -> None:
    paths, ct, ct_b = exports["kept HU"]
    lo = min(ct.pixels.min(), ct_b.pixels.min())
    width = max(ct.pixels.max(), ct_b.pixels.max()) - lo
    for k, d in enumerate(_read(paths)):
        assert d.SOPClassUID == dc.CT_IMAGE_STORAGE and d.Modality == "CT"
        assert list(d.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert "mapped back to HU" in d.DerivationDescription
        values = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
        expected = (ct.pixels[k] + ct_b.pixels[k]) / 2.0
        # the model works in 0..255 through the shared window: at most one grey level (+ storage) off
        assert np.abs(values - expected).max() <= width / 255.0 + float(d.RescaleSlope)


def test_keep_units_refuses_mixed_modalities(sources) -> None:
    from textdifuse_desktop.errors import ImageDataError

    ct, pet = sources
    with pytest.raises(ImageDataError, match="one modality"):
        shared_unit_window(ct, pet)


def _dciodvfy() -> str:
    found = shutil.which("dciodvfy") or shutil.which("dciodvfy", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    return found


def test_dciodvfy_reports_no_errors_on_fused_objects(exports) -> None:
    tool = _dciodvfy()
    problems = {}
    for name, (paths, _, _) in exports.items():
        for path in paths:
            result = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
            errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
            if errors:
                problems[f"{name}: {Path(path).name}"] = errors
    assert problems == {}
