"""The "Sources" dock: frame selectors for 4-D sources, the modality of plain images and the temperature scale
of thermal images.

* **Frames.**  A 4-D NIfTI or a DICOM series with several images per slice position (time points, phases,
  echoes) reports ``meta["frame_count"]``; a spin box per such source re-reads it with ``frame=k``
  (the other source stays).  The frame is saved in sessions as the source's read option.
* **Modality.**  A plain image or video (PNG, TIFF, JPEG, MP4...) or a NIfTI volume records no modality and
  reads as ``OT``; a combo box per such source names it (infrared, visible, MRI, CT, PET, SPECT) by re-reading
  the file with ``modality=`` (for NIfTI, CT also means values in HU, as the reader documents), and the session
  keeps it.  The network's tone correction (contrast, low light, exposure) runs only on sources of known
  modality.  A DICOM file's modality is its own and gets no combo box.
* **Temperature scale.**  A thermal source in degrees Celsius (a radiometric image with its calibration:
  ``temperature_scale`` option or a ``<stem>.json`` sidecar, see ``io.readers.raster``) gets a colour bar
  from the low to the high end of its window, in degrees C, with the calibration it came from.  A thermal
  or 16-bit grey source without one is labelled uncalibrated: its values are raw counts, never shown as
  degrees.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

ROLES = (("a", "A"), ("b", "B"))
UNCALIBRATED = ("{role}: uncalibrated \u2014 the values are not temperatures (the file carries no calibration; "
                "add {stem}.json with temperature_gain and temperature_offset to read degrees C)")
CALIBRATED = "{role}: \u00b0C = counts \u00d7 {gain:g} {sign} {offset:g}"


def frame_info(source: Any) -> tuple[int, int] | None:
    """``(frame, frame_count)`` of a source with several frames, else None."""
    meta = getattr(source, "meta", None)
    if not isinstance(meta, dict) or int(meta.get("frame_count") or 1) < 2:
        return None
    return int(meta.get("frame") or 0), int(meta["frame_count"])


#: The modalities a plain image can be given (code, label); "OT" = not known.
MODALITY_CHOICES = (("OT", "Unknown"), ("IR", "Infrared (IR)"), ("VIS", "Visible (VIS)"), ("MR", "MRI (MR)"),
                    ("CT", "CT"), ("PT", "PET (PT)"), ("NM", "SPECT (NM)"))
#: Readers of formats that record no modality (the file cannot contradict the user's choice).
PLAIN_READERS = ("raster", "video", "gui-fallback", "nifti")


def modality_settable(source: Any) -> bool:
    """Whether the user names ``source``'s modality: a plain image, video or NIfTI volume, whose file records
    none."""
    provenance = getattr(source, "provenance", None)
    return provenance is not None and provenance.reader in PLAIN_READERS


def read_options_of(source: Any) -> dict[str, Any]:
    """Read options to save in a session for ``source`` (its frame, when it has several; the modality the user
    gave a plain image)."""
    info = frame_info(source)
    options: dict[str, Any] = {"frame": info[0]} if info else {}
    modality = str(getattr(source, "modality", "") or "OT")
    if modality_settable(source) and modality != "OT":
        options["modality"] = modality
    return options


def thermal_state(source: Any) -> str:
    """``"calibrated"`` (values in degrees C), ``"uncalibrated"`` (thermal-looking raw counts) or ``""``."""
    if not isinstance(source, Image) or source.has_channels:
        return ""
    if source.units == "degC":
        return "calibrated"
    raw_16bit = source.meta.get("bit_depth", 0) == 16 or float(np.max(source.pixels, initial=0)) > 255
    if source.modality == "IR" or (raw_16bit and not source.units and source.axes == "YX"):
        return "uncalibrated"
    return ""


class TemperatureBar(QtWidgets.QWidget):
    """A horizontal colour bar with its low and high ends in degrees C."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.table = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
        self.low, self.high = 0.0, 1.0
        self.setMinimumHeight(34)

    def set_scale(self, table: np.ndarray, low: float, high: float) -> None:
        """Show ``table`` (256x3 RGB) from ``low`` to ``high`` degrees C."""
        self.table, self.low, self.high = np.asarray(table, dtype=np.uint8), float(low), float(high)
        self.update()

    def labels(self) -> tuple[str, str]:
        """The texts at the two ends of the bar."""
        return f"{self.low:.1f} \u00b0C", f"{self.high:.1f} \u00b0C"

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QtGui.QPainter(self)
        bar = QtCore.QRectF(0, 0, self.width(), self.height() * 0.5)
        gradient = QtGui.QLinearGradient(bar.topLeft(), bar.topRight())
        for index in range(0, 256, 15):
            r, g, b = (int(v) for v in self.table[index])
            gradient.setColorAt(index / 255.0, QtGui.QColor(r, g, b))
        painter.fillRect(bar, gradient)
        low, high = self.labels()
        text_box = QtCore.QRectF(0, bar.height(), self.width(), self.height() - bar.height())
        painter.drawText(text_box, int(QtCore.Qt.AlignmentFlag.AlignLeft), low)
        painter.drawText(text_box, int(QtCore.Qt.AlignmentFlag.AlignRight), high)
        painter.end()


class SourceTools(QtWidgets.QWidget):
    """Frame spin boxes, modality choices and temperature scales of sources A and B (hidden when they do not
    apply)."""

    def __init__(self, window: Any):
        super().__init__()
        self.window = window
        layout = QtWidgets.QFormLayout(self)
        self.frame_spins: dict[str, QtWidgets.QSpinBox] = {}
        self.modality_combos: dict[str, QtWidgets.QComboBox] = {}
        self.thermal_labels: dict[str, QtWidgets.QLabel] = {}
        self.bars: dict[str, TemperatureBar] = {}
        for key, role in ROLES:
            spin = QtWidgets.QSpinBox()
            spin.setObjectName(f"frame_spin_{key}")
            spin.setToolTip(f"Time point (frame) of source {role}: re-reads the file")
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(lambda value, k=key: self.set_frame(k, value))
            layout.addRow(f"Frame {role}", spin)
            self.frame_spins[key] = spin
            combo = QtWidgets.QComboBox()
            combo.setObjectName(f"modality_combo_{key}")
            for code, label in MODALITY_CHOICES:
                combo.addItem(label, code)
            combo.setToolTip(f"What source {role} shows; its file does not say.  The network's tone correction "
                             "(contrast, low light, exposure) runs only when both sources' modalities are known")
            combo.activated.connect(lambda index, k=key, c=combo: self.set_modality(k, c.itemData(index)))
            layout.addRow(f"Modality {role}", combo)
            self.modality_combos[key] = combo
            label = QtWidgets.QLabel()
            label.setWordWrap(True)
            bar = TemperatureBar()
            layout.addRow(label)
            layout.addRow(bar)
            self.thermal_labels[key], self.bars[key] = label, bar
        self.empty = QtWidgets.QLabel("Nothing to set: no 4-D, plain-image or thermal source is open.")
        self.empty.setWordWrap(True)
        layout.addRow(self.empty)
        window.sources_changed.connect(self.refresh)
        self.refresh()

    def set_frame(self, key: str, frame: int) -> bool:
        """Re-read source ``key`` at ``frame`` (the other source stays); True when it loaded."""
        source = self.window.raw.get(key)
        info = frame_info(source)
        if info is None or info[0] == frame:
            return False
        path = source.provenance.source_paths[0] if len(source.provenance.source_paths) == 1 else None
        if path is None:  # a DICOM series: reopen its folder
            from pathlib import Path

            path = str(Path(source.provenance.source_paths[0]).parent)
        return bool(self.window.open_source(key, path, frame=int(frame)))

    def set_modality(self, key: str, modality: str) -> bool:
        """Re-read plain source ``key`` as ``modality`` (``"IR"``, ``"VIS"``, ``"MR"``...; ``"OT"`` = unknown),
        keeping its frame; True when it loaded."""
        source = self.window.raw.get(key)
        if not modality_settable(source) or str(source.modality or "OT") == modality:
            return False
        options = {k: v for k, v in read_options_of(source).items() if k != "modality"}
        if modality != "OT":
            options["modality"] = modality
        return bool(self.window.open_source(key, source.provenance.source_paths[0], **options))

    def refresh(self) -> None:
        """Show the controls that apply to the current sources."""
        from textdifuse_desktop.gui.viewers.colormaps import lookup_table

        visible = False
        for key, role in ROLES:
            source = self.window.raw.get(key)
            info = frame_info(source)
            spin = self.frame_spins[key]
            spin.blockSignals(True)
            spin.setRange(0, (info[1] - 1) if info else 0)
            spin.setValue(info[0] if info else 0)
            spin.setSuffix(f" of {info[1]} (0-based)" if info else "")
            spin.blockSignals(False)
            self._show_row(spin, info is not None)
            combo = self.modality_combos[key]
            settable = modality_settable(source)
            combo.blockSignals(True)
            combo.setCurrentIndex(max(combo.findData(str(getattr(source, "modality", "") or "OT")), 0))
            combo.blockSignals(False)
            self._show_row(combo, settable)
            state = thermal_state(source)
            label, bar = self.thermal_labels[key], self.bars[key]
            if state == "calibrated":
                gain, offset = source.meta.get("temperature_scale", (1.0, 0.0))
                label.setText(CALIBRATED.format(role=role, gain=gain, sign="+" if offset >= 0 else "\u2212",
                                                offset=abs(offset)))
                center, width = self.window.panes[key].window if self.window.panes[key].image is not None else (
                    float(source.pixels.mean()), float(np.ptp(source.pixels)) or 1.0)
                name = self.window.display_panel.cmap_combos[key].currentText()
                bar.set_scale(lookup_table(name), center - width / 2, center + width / 2)
            elif state == "uncalibrated":
                stem = source.provenance.source_paths[0].rsplit("/", 1)[-1].rsplit(".", 1)[0] \
                    if source.provenance.source_paths else "<image>"
                label.setText(UNCALIBRATED.format(role=role, stem=stem))
            label.setVisible(bool(state))
            bar.setVisible(state == "calibrated")
            visible = visible or info is not None or bool(state) or settable
        self.empty.setVisible(not visible)
        self._fit_dock()

    def _fit_dock(self) -> None:
        """Grow the Sources dock to show its rows (up to 40 % of the window) when they no longer fit; never
        shrink it, so that a height the user chose stays."""
        dock = getattr(self.window, "source_dock", None)
        if dock is None or dock.isFloating():
            return
        missing = self.sizeHint().height() - self.parentWidget().height() if self.parentWidget() else 0
        if missing > 0:
            height = min(dock.height() + missing, int(self.window.height() * 0.4))
            # The Fusion dock is named with the height its panel needs, so the space comes from the Display dock.
            fusion = self.window.fusion_dock
            needed = max(fusion.height(), self.window.fusion_panel.sizeHint().height() + 40)
            self.window.resizeDocks([fusion, dock], [needed, height], QtCore.Qt.Orientation.Vertical)

    def _show_row(self, field: QtWidgets.QWidget, shown: bool) -> None:
        layout = self.layout()
        assert isinstance(layout, QtWidgets.QFormLayout)
        layout.setRowVisible(field, shown)


def install_source_tools(window: Any) -> None:
    """Add the Sources dock and the registration action to a main window (called by ``create_main_window``)."""
    from textdifuse_desktop.gui import strings
    from textdifuse_desktop.gui.registration_controls import RegistrationControls

    window.source_tools = SourceTools(window)
    # Scrolls like the other docks: in a short window the wrapped calibration notes would otherwise be cut off.
    window.source_dock = window.add_dock("Sources", window.source_tools, "sources")
    menus = {action.text().replace("&", ""): action.menu() for action in window.menuBar().actions()}
    window.registration = RegistrationControls(window, menus.get(strings.MENU_FUSION.replace("&", "")))
    view_menu = menus.get(strings.MENU_VIEW.replace("&", ""))
    if view_menu is not None:
        view_menu.addAction(window.source_dock.toggleViewAction())
    # The colour bar follows the IR pane's colour map and window.
    window.display_panel.colormap_changed.connect(lambda *_: window.source_tools.refresh())
