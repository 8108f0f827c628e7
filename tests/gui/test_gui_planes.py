"""Volumes in three linked planes, driven through the real window (issue 18, points 1, 5 and 6).

The pair is written as NIfTI files with anisotropic, differently oriented affines, opened with
``open_pair`` as a user would, and clicked with the mouse in the coronal plane.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from textdifuse_desktop.fusion.request import FusionParams
from textdifuse_desktop.gui import session_actions
from textdifuse_desktop.imaging.planes import PLANES

SHAPE_XYZ = (24, 20, 10)  # NIfTI order: columns (i), rows (j), slices (k)


def _write_pair(folder: Path) -> tuple[Path, Path]:
    """A: RAS+ with 1.1 x 0.9 x 3.0 mm voxels; B: the same anatomy stored LPS-flipped, 1.6 mm in-plane."""
    x, y, z = np.meshgrid(np.arange(SHAPE_XYZ[0]), np.arange(SHAPE_XYZ[1]), np.arange(SHAPE_XYZ[2]), indexing="ij")
    affine_a = np.diag([1.1, 0.9, 3.0, 1.0])
    affine_a[:3, 3] = (-12.0, -8.0, -14.0)
    world = np.stack([x, y, z, np.ones_like(x)], -1) @ affine_a.T
    # A smooth "head" with a bright blob at the right-anterior-superior side (R > 0, A > 0, S > 0).
    head = 100.0 * np.exp(-((world[..., 0] / 14) ** 2 + (world[..., 1] / 10) ** 2 + (world[..., 2] / 16) ** 2))
    blob = 400.0 * np.exp(-(((world[..., 0] - 5) / 3) ** 2 + ((world[..., 1] - 3) / 3) ** 2
                            + ((world[..., 2] - 7) / 5) ** 2))
    path_a, path_b = folder / "mri.nii.gz", folder / "pet.nii.gz"
    nib.save(nib.Nifti1Image((head + blob).astype(np.float32), affine_a), str(path_a))
    affine_b = np.diag([-1.6, -1.6, 3.0, 1.0])
    affine_b[:3, 3] = (12.0, 8.0, -14.0)
    shape_b = (16, 12, 10)
    xb, yb, zb = np.meshgrid(*(np.arange(n) for n in shape_b), indexing="ij")
    world_b = np.stack([xb, yb, zb, np.ones_like(xb)], -1) @ affine_b.T
    uptake = 5.0 * np.exp(-(((world_b[..., 0] - 5) / 3) ** 2 + ((world_b[..., 1] - 3) / 3) ** 2
                            + ((world_b[..., 2] - 7) / 5) ** 2))
    nib.save(nib.Nifti1Image(uptake.astype(np.float32), affine_b), str(path_b))
    return path_a, path_b


def _click(view, u: float, v: float) -> None:
    """A real left click on ``view`` (a PlaneView) at screen millimetres ``(u, v)``."""
    point = view.widget_point(u, v)
    QTest.mouseClick(view.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier(0),
                     point)
    QtCore.QCoreApplication.processEvents()


def _open(make_window, folder: Path):
    window = make_window()
    window.resize(1400, 900)
    assert window.open_pair(*_write_pair(folder))
    QtCore.QCoreApplication.processEvents()
    return window


def test_click_in_coronal_moves_every_plane_and_readout_to_one_world_point(make_window, tmp_path) -> None:
    window = _open(make_window, tmp_path)
    panes = window.panes
    assert all(panes[k].uses_planes for k in ("a", "b"))
    a_geometry = panes["a"].geometry
    start = window.planes.crosshair.point
    # A world point on the coronal slice on screen (same A), 6 mm to the right and 9 mm up.
    target = a_geometry.world_from_screen("coronal", *a_geometry.screen_point("coronal", start), start)
    target = target + np.array([6.0, 0.0, 9.0])
    coronal = panes["b"].mpr.views["coronal"]
    _click(coronal, *panes["b"].geometry.screen_point("coronal", target))
    point = window.planes.crosshair.point
    # The click lands within half a voxel of the target (1.1 x 0.9 x 3.0 mm voxels on A's grid).
    assert np.allclose(point[[0, 2]], target[[0, 2]], atol=0.6)
    assert point[1] == pytest.approx(start[1])  # a coronal click keeps the coronal slice
    for key in ("a", "b"):
        pane = panes[key]
        assert np.allclose(pane.world_point, point)
        for plane in PLANES:
            view = pane.mpr.views[plane]
            assert view.title.text().startswith(f"{plane.capitalize()}  {pane.geometry.slice_index(plane, point) + 1}/")
            assert (view.vline.value(), view.hline.value()) == pytest.approx(pane.geometry.screen_point(plane, point))
    position = f"R {abs(point[0]):.1f}" if point[0] >= 0 else f"L {abs(point[0]):.1f}"
    assert position in panes["a"]._footer.text() and position in panes["b"]._footer.text()
    assert position in window.readout.text()
    assert "Source A:" in window.readout.text() and "Source B:" in window.readout.text()
    # The classic slice follows (k of A's grid) and so does the slider.
    assert window.display_panel.slice_slider.value() == panes["a"].current_slice
    # Anatomical labels of the axial plane: Right on the screen's left, Anterior on top.
    labels = panes["a"].mpr.views["axial"].labels
    assert (labels["left"].text(), labels["right"].text(), labels["top"].text()) == ("R", "L", "A")
    assert labels["left"].x() < labels["right"].x()


def test_blob_is_right_anterior_on_screen(make_window, tmp_path) -> None:
    """Anatomy check: the blob (patient's right, anterior) is left of centre and above centre in axial."""
    window = _open(make_window, tmp_path)
    pane = window.panes["a"]
    blob = np.array([5.0, 3.0, 7.0])
    window.planes.set_point(blob)
    axial = pane.mpr.views["axial"]
    pixels = axial.image_item.image
    row, col = np.unravel_index(int(np.argmax(pixels)), pixels.shape)
    assert col < pixels.shape[1] / 2 and row < pixels.shape[0] / 2


def test_scroll_window_colormap_and_overlay_in_every_plane(make_window, tmp_path) -> None:
    window = _open(make_window, tmp_path)
    pane = window.panes["a"]
    sagittal = pane.mpr.views["sagittal"]
    before = pane.geometry.slice_index("sagittal", window.planes.crosshair.point)
    sagittal.setFocus()
    QTest.keyClick(sagittal, QtCore.Qt.Key.Key_PageUp)
    after = pane.geometry.slice_index("sagittal", window.planes.crosshair.point)
    assert after == before + 1
    window.apply_preset("a", "Full range")
    low, high = pane.window[0] - pane.window[1] / 2, pane.window[0] + pane.window[1] / 2
    window.display_panel.set_colormap("a", "Hot")
    for view in pane.mpr.views.values():
        assert np.allclose(view.image_item.getLevels(), (low, high))
        assert view.image_item.lut is not None and tuple(view.image_item.lut[-1]) == (255, 255, 255)
    window.display_panel.set_layout_mode("overlay")
    window.display_panel.overlay_layer.setCurrentIndex(window.display_panel.overlay_layer.findData("b"))
    assert all(view.overlay_item.isVisible() for view in pane.mpr.views.values())
    window.planes.set_mode("2x2")
    assert pane.mpr.arrangement == "2x2" and pane.mpr.info.isVisibleTo(pane)
    window.planes.actions["single"].trigger()
    assert not pane.uses_planes and pane.current_slice == pane.geometry.nearest_voxel(window.planes.crosshair.point)[2]


def test_fuse_cancel_and_session_restores_result_and_views(make_window, tmp_path) -> None:
    window = _open(make_window, tmp_path)
    params = FusionParams(method="laplacian")
    assert window.run_fusion(params)
    window.cancel_fusion()
    assert window.wait_for_fusion(60000)
    assert window.run_fusion(params) and window.wait_for_fusion(60000)
    fused = window.panes["fused"]
    assert window.result is not None and fused.uses_planes
    window.planes.set_mode("2x2")
    window.display_panel.set_colormap("fused", "PET (rainbow)")
    window.panes["a"].set_window(55.0, 120.0)
    _click(window.panes["a"].mpr.views["axial"], *window.panes["a"].geometry.screen_point(
        "axial", np.array([4.0, 2.0, 7.0])))
    window.panes["fused"].mpr.views["sagittal"].set_view_range([[-10.0, 5.0], [-20.0, 0.0]])
    QtCore.QCoreApplication.processEvents()
    zoomed = window.panes["fused"].mpr.views["sagittal"].view_range()  # widened to the view's aspect
    point = window.planes.crosshair.point
    saved = session_actions.save_session_as(window, tmp_path / "study.tdfsession")
    assert saved is not None

    reopened = make_window()
    reopened.resize(1400, 900)
    assert session_actions.open_session(reopened, saved)
    QtCore.QCoreApplication.processEvents()
    assert not reopened.controller.is_running  # the saved result is shown, not fused again
    assert np.array_equal(reopened.result.image.pixels, window.result.image.pixels)
    assert reopened.planes.mode == "2x2" and reopened.planes.combo.currentData() == "2x2"
    assert np.allclose(reopened.planes.crosshair.point, point)
    assert reopened.panes["a"].window == pytest.approx((55.0, 120.0))
    assert reopened.panes["fused"].colormap == "PET (rainbow)"
    assert reopened.display_panel.cmap_combos["fused"].currentText() == "PET (rainbow)"
    for key in ("a", "b", "fused"):
        assert reopened.panes[key].window == pytest.approx(window.panes[key].window)
        assert np.allclose(reopened.panes[key].world_point, point)
    ranges = reopened.panes["fused"].mpr.views["sagittal"].view_range()
    assert np.allclose(ranges, zoomed, atol=1e-3)
    assert ranges[0][0] <= -10.0 and ranges[0][1] >= 5.0 and ranges[1][0] <= -20.0 and ranges[1][1] >= 0.0
