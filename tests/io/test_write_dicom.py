"""DICOM export: derived series, Secondary Capture, SEG and de-identification."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from _writer_fixtures import PHI, make_ct_series, oblique_affine

from textdifuse_desktop.errors import OverwriteInputError
from textdifuse_desktop.imaging.image import LPS_TO_RAS, Image
from textdifuse_desktop.io.writers import dicom_common as dc
from textdifuse_desktop.io.writers import write_image, write_seg


def _read_series(files):
    return [pydicom.dcmread(f) for f in files]


def _affine_from_datasets(datasets) -> np.ndarray:
    """Our RAS (col, row, slice) affine rebuilt from the written DICOM geometry."""
    first, second = datasets[0], datasets[1]
    iop = np.array(first.ImageOrientationPatient, dtype=float)
    row_spacing, col_spacing = (float(v) for v in first.PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0] = iop[:3] * col_spacing
    lps[:3, 1] = iop[3:] * row_spacing
    lps[:3, 2] = np.array(second.ImagePositionPatient, float) - np.array(first.ImagePositionPatient, float)
    lps[:3, 3] = np.array(first.ImagePositionPatient, float)
    return LPS_TO_RAS @ lps


def test_derived_series_of_ct_keeps_study_geometry_and_values(tmp_path):
    source = make_ct_series(tmp_path / "src")
    fused = source.with_pixels(source.pixels * 0.5 + 10.25)  # non-integer: rescaled storage
    files = write_image(fused, tmp_path / "out", format="dicom", reference=source, description="fcm steps=4")
    assert len(files) == 4 and all(f.parent == tmp_path / "out" for f in files)
    datasets = _read_series(files)
    ref = source.provenance.dicom_headers
    series_uids = {d.SeriesInstanceUID for d in datasets}
    assert len(series_uids) == 1 and source.provenance.series_uid not in series_uids
    assert len({d.SOPInstanceUID for d in datasets}) == 4
    for k, d in enumerate(datasets):
        assert d.StudyInstanceUID == source.provenance.study_uid
        assert d.FrameOfReferenceUID == source.provenance.frame_of_reference_uid
        assert d.PatientName == PHI["PatientName"] and d.PatientID == PHI["PatientID"]
        assert d.SOPClassUID == dc.CT_IMAGE_STORAGE
        assert list(d.ImageType)[:2] == ["DERIVED", "SECONDARY"]
        assert "fcm steps=4" in d.DerivationDescription
        assert d.SourceImageSequence[0].ReferencedSOPInstanceUID == ref[k].SOPInstanceUID
        assert d.ReferencedImageSequence[0].ReferencedSOPClassUID == dc.CT_IMAGE_STORAGE
        assert d.SeriesNumber != ref[k].SeriesNumber and d.SeriesDescription
        values = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
        assert np.abs(values - fused.pixels[k]).max() <= float(d.RescaleSlope) / 2 + 1e-6
        assert (float(d.WindowCenter), float(d.WindowWidth)) == (40.0, 400.0)
    np.testing.assert_allclose(_affine_from_datasets(datasets), source.affine, atol=1e-5)


def test_integer_hu_is_stored_exactly(tmp_path):
    source = make_ct_series(tmp_path / "src", nz=2)
    files = write_image(source, tmp_path / "out", format="dicom")
    for k, d in enumerate(_read_series(files)):
        assert (float(d.RescaleSlope), float(d.RescaleIntercept)) == (1.0, 0.0)
        np.testing.assert_array_equal(d.pixel_array.astype(np.float32), source.pixels[k])


def test_volume_without_headers_becomes_new_anonymous_study(tmp_path, rng):
    volume = Image(rng.uniform(0, 1, (3, 5, 7)).astype(np.float32), "ZYX", oblique_affine(), modality="MR")
    files = write_image(volume, tmp_path / "mr", format="dicom")
    datasets = _read_series(files)
    assert {d.SOPClassUID for d in datasets} == {dc.MR_IMAGE_STORAGE}
    assert len({d.StudyInstanceUID for d in datasets}) == 1
    assert str(datasets[0].PatientName).startswith("Anonymous") and datasets[0].PatientID
    assert "SourceImageSequence" not in datasets[0]
    np.testing.assert_allclose(_affine_from_datasets(datasets), volume.affine, atol=1e-5)
    d = datasets[1]
    values = d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
    assert np.abs(values - volume.pixels[1]).max() < 1e-4


def test_pet_like_grey_result_becomes_secondary_capture(tmp_path, rng):
    volume = Image(rng.uniform(0, 9, (2, 4, 4)), "ZYX", modality="PT")
    datasets = _read_series(write_image(volume, tmp_path / "pt", format="dicom"))
    assert datasets[0].SOPClassUID == dc.SC_IMAGE_STORAGE and datasets[0].Modality == "PT"


def test_colour_result_is_secondary_capture_rgb(tmp_path, rng):
    source = make_ct_series(tmp_path / "src", nz=1)
    rgb = Image(rng.integers(0, 256, (8, 6, 3)).astype(np.float32), "YXC", source.affine, modality="CT")
    files = write_image(rgb, tmp_path / "colour.dcm", reference=source)
    d = pydicom.dcmread(files[0])
    assert d.SOPClassUID == dc.SC_IMAGE_STORAGE
    assert d.PhotometricInterpretation == "RGB" and d.PlanarConfiguration == 0 and d.SamplesPerPixel == 3
    assert d.StudyInstanceUID == source.provenance.study_uid
    np.testing.assert_array_equal(d.pixel_array, rgb.pixels.astype(np.uint8))


def test_colour_volume_is_multiframe_true_color(tmp_path, rng):
    rgb = Image(rng.integers(0, 256, (3, 4, 6, 3)).astype(np.float32), "ZYXC", modality="MR")
    d = pydicom.dcmread(write_image(rgb, tmp_path / "mf.dcm")[0])
    assert d.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7.4" and int(d.NumberOfFrames) == 3
    np.testing.assert_array_equal(d.pixel_array, rgb.pixels.astype(np.uint8))


def test_deidentify_removes_phi_and_remaps_uids_consistently(tmp_path):
    source = make_ct_series(tmp_path / "src", nz=2)
    files = write_image(source, tmp_path / "anon", format="dicom", deidentify=True)
    seg_path = write_seg([source.pixels > 0], ["bone"], source, tmp_path / "anon_seg.dcm", deidentify=True)
    datasets = _read_series(files)
    seg = pydicom.dcmread(seg_path)
    originals = set(source.provenance.sop_instance_uids) | {
        source.provenance.study_uid,
        source.provenance.frame_of_reference_uid,
    }
    for d in [*datasets, seg]:
        text = str(d)
        for key, value in PHI.items():
            if key != "PatientSex":
                assert value not in text, key
        assert "private secret" not in text and "General Hospital" not in text
        assert d.PatientIdentityRemoved == "YES" and d.DeidentificationMethod
        assert d.StudyInstanceUID not in originals and d.FrameOfReferenceUID not in originals
        assert d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID
    # Same original UID -> same replacement everywhere: the SEG still points at the exported study.
    assert seg.StudyInstanceUID == datasets[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == datasets[0].FrameOfReferenceUID
    assert datasets[0].SourceImageSequence[0].ReferencedSOPInstanceUID not in originals
    assert datasets[0].PatientID == datasets[1].PatientID == seg.PatientID != PHI["PatientID"]


def test_seg_has_one_segment_per_region_and_references_sources(tmp_path):
    import highdicom as hd

    source = make_ct_series(tmp_path / "src", nz=3)
    masks = [source.pixels > 500, source.pixels < -500]
    path = write_seg(masks, ["dense", "air"], source, tmp_path / "seg.dcm")
    seg = hd.seg.segread(path)
    assert [seg.get_segment_description(i).SegmentLabel for i in (1, 2)] == ["dense", "air"]
    assert seg.SegmentationType == "BINARY"
    assert seg.StudyInstanceUID == source.provenance.study_uid
    referenced = {
        item.ReferencedSOPInstanceUID
        for series in seg.ReferencedSeriesSequence
        for item in series.ReferencedInstanceSequence
    }
    assert referenced == set(source.provenance.sop_instance_uids)
    uids = list(source.provenance.sop_instance_uids)
    pixels = seg.get_pixels_by_source_instance(uids, combine_segments=False)
    np.testing.assert_array_equal(pixels[..., 0].astype(bool), masks[0])
    np.testing.assert_array_equal(pixels[..., 1].astype(bool), masks[1])


def test_seg_without_dicom_reference_writes_source_series(tmp_path, rng):
    volume = Image(rng.uniform(0, 100, (2, 6, 5)), "ZYX", oblique_affine(), modality="MR")
    path = write_seg([volume.pixels > 50], ["bright"], volume, tmp_path / "regions.dcm")
    images = sorted((tmp_path / "regions_images").glob("*.dcm"))
    assert path.exists() and len(images) == 2
    seg = pydicom.dcmread(path)
    image_uids = {pydicom.dcmread(f).SOPInstanceUID for f in images}
    referenced = {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == image_uids


def test_dicom_export_refuses_to_replace_input_folder(tmp_path):
    source = make_ct_series(tmp_path / "src", nz=2)
    with pytest.raises(OverwriteInputError, match="refusing"):
        write_image(source, tmp_path / "src", format="dicom")
    assert len(list((tmp_path / "src").iterdir())) == 2
