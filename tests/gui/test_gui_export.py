"""Export dialog: every format, de-identify, progress, and never overwriting an input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_helpers import make_volume

from textdifuse_desktop.errors import OverwriteInputError
from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.gui.export_jobs import ExportRequest, export_job


def _fused_window(make_window, qtbot, png_pair):
    window = make_window()
    assert window.open_pair(*png_pair)
    with qtbot.waitSignal(window.fusion_done, timeout=30000):
        window.run_fusion(FusionParams(method="mean"))
    assert window.wait_for_fusion(10000)
    return window


def _export(dialog, qtbot, fmt: str, path: Path) -> list[Path]:
    dialog.set_format(fmt)
    dialog.set_path(path)
    dialog.start_export()  # disables Export until the worker has finished
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled(), timeout=60000)
    return dialog.written


@pytest.mark.parametrize("fmt, name", [("png", "out.png"), ("tiff", "out.tiff"), ("nifti", "out.nii.gz")])
def test_export_raster_and_nifti(make_window, qtbot, png_pair, tmp_path, fmt, name, message_boxes) -> None:
    window = _fused_window(make_window, qtbot, png_pair)
    dialog = window.make_export_dialog()
    written = _export(dialog, qtbot, fmt, tmp_path / "out" / name)
    assert not message_boxes, message_boxes
    assert written and all(p.exists() and p.stat().st_size > 0 for p in written)
    assert dialog.progress.value() == dialog.progress.maximum()
    if fmt == "tiff":
        import tifffile

        data = tifffile.imread(written[0])
        assert data.dtype == np.uint16
    if fmt == "nifti":
        import nibabel

        assert nibabel.load(written[0]).shape[:2] == (64, 48)  # NIfTI is (x, y)
    dialog.deleteLater()


def test_export_dicom_deidentified(make_window, qtbot, png_pair, tmp_path, message_boxes) -> None:
    window = _fused_window(make_window, qtbot, png_pair)
    dialog = window.make_export_dialog()
    dialog.set_format("dicom")
    assert dialog.deidentify_check.isEnabled()
    dialog.deidentify_check.setChecked(True)
    written = _export(dialog, qtbot, "dicom", tmp_path / "dicom_out")
    assert not message_boxes, message_boxes
    import pydicom

    files = [p for p in written if p.is_file()] or sorted((tmp_path / "dicom_out").rglob("*.dcm"))
    ds = pydicom.dcmread(files[0])
    assert ds.Rows == 48 and ds.Columns == 64
    dialog.deleteLater()


def test_export_refuses_to_overwrite_an_input(make_window, qtbot, png_pair, message_boxes) -> None:
    window = _fused_window(make_window, qtbot, png_pair)
    before = png_pair[0].read_bytes()
    dialog = window.make_export_dialog()
    _export(dialog, qtbot, "png", png_pair[0])
    assert message_boxes and "overwrite" in message_boxes[0]["text"].lower()
    assert png_pair[0].read_bytes() == before
    assert "failed" in dialog.status.text().lower()
    dialog.deleteLater()


def test_export_without_result_explains(make_window, qtbot, png_pair, tmp_path, message_boxes) -> None:
    window = make_window()
    window.open_pair(*png_pair)
    dialog = window.make_export_dialog()
    dialog.set_format("png")
    dialog.set_path(tmp_path / "x.png")
    dialog.start_export()
    assert "run a fusion first" in message_boxes[0]["text"].lower()
    dialog.deleteLater()


def test_export_seg_from_regions(make_window, qtbot, tmp_path, message_boxes) -> None:
    window = make_window()
    window.set_sources(make_volume(), make_volume(seed=5))
    if not window.regions.available:
        pytest.skip("session.regions not installed")
    region_set = window.regions.region_set
    region_set.add(name="lesion", source="B")
    region_set.fill_box(0, (8, 6, 20, 14), slice_index=2)
    masks, names = window.regions.masks()
    assert names == ["lesion"] and masks[0].shape == (5, 24, 32) and masks[0][2].sum() > 0
    dialog = window.make_export_dialog()
    written = _export(dialog, qtbot, "seg", tmp_path / "seg" / "regions.dcm")
    assert not message_boxes, message_boxes
    import pydicom

    assert pydicom.dcmread(written[0]).Modality == "SEG"
    dialog.deleteLater()


def test_mp4_from_multislice_result(tmp_path) -> None:
    from textdifuse_desktop.imaging.image import Image

    frames = Image(np.random.default_rng(0).uniform(0, 255, (6, 32, 48)).astype(np.float32), axes="TYX")
    request = ExportRequest("mp4", tmp_path / "cine.mp4", fused=frames, a=frames, b=frames, fps=5)
    gen = export_job(request)
    progress = []
    while True:
        try:
            progress.append(next(gen))
        except StopIteration as stop:
            written = stop.value
            break
    assert written[0].exists() and written[0].stat().st_size > 0
    import av

    with av.open(str(written[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
    source = tmp_path / "cine.mp4"
    with pytest.raises(OverwriteInputError):
        list(export_job(ExportRequest("mp4", source, fused=frames,
                                      a=Image(frames.pixels, axes="TYX", provenance=_prov(source)), b=frames)))


def _prov(path: Path):
    from textdifuse_desktop.imaging.image import Provenance

    return Provenance(source_paths=(str(path),))
