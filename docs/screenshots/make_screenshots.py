"""Regenerate the README screenshots (run from the repository root; needs /work/shared/data for the volume).

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/make_screenshots.py [--method textdifuse]

Writes empty.png, ir_vis_fused.png, mri_pet_fused.png, mri_pet_hot.png and volume_slices.png next to this file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOLUME_A = Path("/work/shared/data/volumes/nifti/mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz")
VOLUME_B = Path("/work/shared/data/volumes/nifti/mni152_2009a/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--method", default=None, help="fusion method (default: textdifuse when weights exist)")
    parser.add_argument("--size", default="1480x860")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from textdifuse_desktop.gui import app as gui_app

    qt_app = gui_app.create_app()
    from PySide6 import QtWidgets

    from textdifuse_desktop.fusion.request import FusionParams
    from textdifuse_desktop.gui.main_window import MainWindow
    from textdifuse_desktop.model.weights import default_weights_path

    method = args.method or ("textdifuse" if default_weights_path().is_file() else "laplacian")
    width, height = (int(v) for v in args.size.split("x"))

    def fresh() -> MainWindow:
        window = MainWindow()
        window.interactive = False
        window.resize(width, height)
        window.show()
        qt_app.processEvents()
        return window

    def fuse(window: MainWindow, params: FusionParams) -> None:
        window.fusion_panel.set_params(params)
        window.run_fusion(params)
        window.wait_for_fusion(30 * 60 * 1000)
        QtWidgets.QApplication.processEvents()

    window = fresh()
    window.save_screenshot(HERE / "empty.png")
    window.close()

    window = fresh()
    window.open_demo("ir_vis")
    fuse(window, FusionParams(method=method))
    window.panes["a"].cursor_moved.emit((455.0, 250.0))
    window.save_screenshot(HERE / "ir_vis_fused.png")
    window.close()

    window = fresh()
    window.open_demo("mri_pet")
    fuse(window, FusionParams(method=method))
    dp = window.display_panel
    window.panes["a"].cursor_moved.emit((128.0, 100.0))
    window.save_screenshot(HERE / "mri_pet_fused.png")
    # The Harvard PET is pseudo-colour RGB; the overlay shows its intensity through the hot table.
    dp.overlay_cmap.setCurrentText("Hot")
    dp.overlay_layer.setCurrentIndex(dp.overlay_layer.findData("b"))
    dp.opacity_slider.setValue(60)
    dp.layout_combo.setCurrentIndex(dp.layout_combo.findData("overlay"))
    window.save_screenshot(HERE / "mri_pet_hot.png")
    window.close()

    if VOLUME_A.is_file():
        window = fresh()
        window.open_pair(VOLUME_A, VOLUME_B)
        window.display_panel.set_colormap("b", "Hot")
        fuse(window, FusionParams(method="laplacian"))
        window.set_slice(110)
        window.panes["a"].cursor_moved.emit((98.0, 120.0))
        window.save_screenshot(HERE / "volume_slices.png")
        window.close()
    for shot in sorted(HERE.glob("*.png")):
        _shrink(shot)
        print(f"{shot.name}: {shot.stat().st_size // 1024} KB")
    return 0


def _shrink(path: Path) -> None:
    """Keep README screenshots small: a 256-colour palette is plenty for UI captures."""
    from PIL import Image as PILImage

    with PILImage.open(path) as shot:
        rgb = shot.convert("RGB")
    for colours in (256, 128, 64):
        small = rgb.quantize(colours, method=PILImage.Quantize.MEDIANCUT, dither=PILImage.Dither.NONE)
        small.save(path, optimize=True)
        if path.stat().st_size < 290_000:
            break


if __name__ == "__main__":
    sys.exit(main())
