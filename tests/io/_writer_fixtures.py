"""Synthetic DICOM sources for the writer tests (built with pydicom in tmp_path)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from textdifuse_desktop.imaging.image import LPS_TO_RAS, Image, Provenance

PHI = {
    "PatientName": "Doe^John",
    "PatientID": "PID-12345",
    "PatientBirthDate": "19700101",
    "PatientSex": "M",
    "PatientAddress": "1 Main Street, Springfield",
    "InstitutionName": "General Hospital",
    "ReferringPhysicianName": "House^Gregory",
    "OperatorsName": "Tech^Tina",
    "AccessionNumber": "ACC999",
    "StudyDate": "20240102",
}


def oblique_affine(spacing=(0.7, 0.8, 2.0), origin=(-30.0, 12.5, 40.0), degrees=20.0) -> np.ndarray:
    """A RAS (col, row, slice) affine rotated about the z axis, slightly oblique."""
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = origin
    return affine


def make_ct_series(folder: Path, nz: int = 4, rows: int = 8, cols: int = 6, seed: int = 0) -> Image:
    """Write a small CT series with PHI to ``folder`` and return it as the reader would."""
    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 2000, size=(nz, rows, cols)).astype(np.int16)
    affine = oblique_affine()
    lps = LPS_TO_RAS @ affine
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    headers, paths = [], []
    for k in range(nz):
        ds = Dataset()
        for key, value in PHI.items():
            setattr(ds, key, value)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "CT"
        ds.SeriesNumber = 3
        ds.InstanceNumber = k + 1
        ds.PatientPosition = "HFS"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in np.concatenate([lps[:3, 0] / 0.7, lps[:3, 1] / 0.8])]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in (lps @ [0, 0, k, 1])[:3]]
        ds.PixelSpacing = ["0.8", "0.7"]
        ds.SliceThickness = "2.0"
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = "0", "1"
        ds.add_new(0x00091001, "LO", "private secret")
        ds.add_new(0x00090010, "LO", "ACME")
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PixelData = hu[k].tobytes()
        path = folder / f"CT{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        header = copy.deepcopy(ds)
        del header.PixelData
        headers.append(header)
        paths.append(str(path))
    provenance = Provenance(
        source_paths=tuple(paths),
        reader="test",
        study_uid=study,
        series_uid=series,
        frame_of_reference_uid=frame,
        sop_instance_uids=tuple(h.SOPInstanceUID for h in headers),
        dicom_headers=tuple(headers),
    )
    return Image(
        hu.astype(np.float32), "ZYX", affine, modality="CT", units="HU", window=(40, 400), provenance=provenance
    )
