"""Region masks as a DICOM Segmentation (highdicom, BINARY, one segment per region).

The SEG references the reference's source instances (one frame per source
slice).  When the reference has no DICOM headers (NIfTI/PNG source), the
reference is first written as a derived series next to the SEG
(``<name>_images/``) so that the SEG has images to point at; its path is
logged.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from textdifuse_desktop import __version__
from textdifuse_desktop.errors import GeometryError, TextDifuseError, WriteError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.io.writers import dicom_common as dc
from textdifuse_desktop.io.writers.atomic import atomic_file, atomic_folder
from textdifuse_desktop.io.writers.deidentify import deidentify_dataset

log = logging.getLogger(__name__)

_DISPLAY = [(255, 64, 64), (64, 200, 64), (64, 128, 255), (255, 200, 0), (200, 64, 255), (0, 220, 220)]


def _stack_masks(masks: Sequence[np.ndarray], grid: tuple[int, int, int], path: Path) -> np.ndarray:
    stacked = []
    for index, mask in enumerate(masks):
        array = np.asarray(mask).astype(bool)
        if array.ndim == 2:
            array = array[None]
        if array.shape != grid:
            raise GeometryError(
                f"mask {index} has shape {np.asarray(mask).shape}, the reference grid is {grid}", path=path
            )
        stacked.append(array)
    return np.stack(stacked, axis=-1).astype(np.uint8)  # (frames, rows, cols, segments)


def _source_datasets(reference: Image, path: Path, deidentify: bool) -> list[Dataset]:
    headers = [h for h in reference.provenance.dicom_headers if isinstance(h, Dataset)]
    if headers:
        return headers
    if reference.has_channels:
        raise WriteError(
            "the reference has no DICOM headers and is a colour image, so a SEG cannot reference it",
            path=path,
            hint="use a grey source (e.g. the MRI) as the reference",
        )
    from textdifuse_desktop.io.writers.dicom_derived import (
        build_derived_series,
        write_derived_series,
    )

    datasets = build_derived_series(reference, reference, description="Source images of TextDiFuse regions")
    folder = path.parent / f"{path.name.split('.')[0]}_images"
    with atomic_folder(folder) as tmp:
        write_derived_series([deidentify_dataset(copy.deepcopy(d)) if deidentify else d for d in datasets], tmp)
    log.info("the reference had no DICOM headers: wrote it as a DICOM series to %s for the SEG to reference", folder)
    return datasets


def build_seg(
    masks: Sequence[np.ndarray],
    names: Sequence[str],
    sources: Sequence[Dataset],
    grid: tuple[int, int, int],
    path: Path,
    *,
    algorithm_type: str = "MANUAL",
) -> Dataset:
    """The highdicom Segmentation dataset for ``masks`` on the ``sources`` slices."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if len(masks) != len(names) or not masks:
        raise WriteError(f"need one name per mask, got {len(masks)} masks and {len(names)} names", path=path)
    if len(sources) != grid[0]:
        raise GeometryError(f"the reference has {len(sources)} DICOM slices but the masks have {grid[0]}", path=path)
    pixels = _stack_masks(masks, grid, path)
    algorithm = None
    if algorithm_type.upper() != "MANUAL":
        algorithm = hd.AlgorithmIdentificationSequence(
            name="TextDiFuse regions", family=codes.cid7162.ArtificialIntelligence, version=__version__
        )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=str(name)[:64] or f"Region {number}",
            segmented_property_category=codes.SCT.SpatialAndRelationalConcept,
            segmented_property_type=codes.DCM.RegionInSpace,
            algorithm_type=algorithm_type.upper(),
            algorithm_identification=algorithm,
            tracking_uid=generate_uid(),
            tracking_id=str(name)[:64] or f"Region {number}",
            display_color=hd.color.CIELabColor.from_rgb(*_DISPLAY[(number - 1) % len(_DISPLAY)])
            if hasattr(hd.color.CIELabColor, "from_rgb")
            else None,
        )
        for number, name in enumerate(names, start=1)
    ]
    source_list = [copy.deepcopy(s) for s in sources]
    for source in source_list:  # highdicom inspects pixel attributes, not the pixel data
        if "PixelData" in source:
            del source.PixelData
        for keyword in dc.TYPE2_PATIENT_STUDY:  # copied by highdicom, type 2 in the SEG
            source.setdefault(keyword, "")
    try:
        seg = hd.seg.Segmentation(
            source_images=source_list,
            pixel_array=pixels if pixels.shape[-1] > 1 else pixels[..., 0],
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=generate_uid(),
            series_number=dc.series_number_after(sources[0]) + 2,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer=dc.MANUFACTURER,
            manufacturer_model_name=dc.MODEL_NAME,
            software_versions=__version__,
            device_serial_number="0",
            content_description="TextDiFuse fusion regions",
            content_label="REGIONS",
            omit_empty_frames=False,
        )
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        raise WriteError(f"cannot build the DICOM SEG: {error}", path=path) from error
    seg.SeriesDescription = "TextDiFuse regions"
    return seg


def write_seg(
    masks: Sequence[np.ndarray],
    names: Sequence[str],
    reference: Image,
    path: Path,
    *,
    deidentify: bool = False,
    algorithm_type: str = "MANUAL",
) -> Path:
    """Write the masks as one DICOM SEG file at ``path`` (see the module docstring)."""
    sources = _source_datasets(reference, path, deidentify)
    seg = build_seg(masks, names, sources, reference.grid_shape, path, algorithm_type=algorithm_type)
    if deidentify:
        deidentify_dataset(seg)
    try:
        with atomic_file(path) as tmp:
            seg.save_as(tmp, enforce_file_format=True)
    except TextDifuseError:
        raise
    return path
