"""Widgets of the Regions dock, built for :class:`~textdifuse_desktop.gui.regions_panel.RegionsPanel`.

:func:`build` creates the panel's child widgets (region list, editing
buttons, favoured source and strength, tools and brush size, text prompt,
proposal buttons), stores them as attributes of the panel and connects them
to its methods; the panel keeps the behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from textdifuse_desktop.session.region import DEFAULT_KAPPA, KAPPA_RANGE

if TYPE_CHECKING:
    from textdifuse_desktop.gui.regions_panel import RegionsPanel

TOOLS = ("navigate", "brush", "eraser", "box")
PROPOSALS = {"hot_objects": "Hot objects", "high_uptake": "High uptake"}
TOOL_LABELS = {"navigate": "Pan", "brush": "Brush", "eraser": "Eraser", "box": "Box"}
TOOL_TIPS = {
    "navigate": "Pan and zoom the view (no painting)",
    "brush": "Paint the selected region (drag); one undo step per stroke",
    "eraser": "Erase from the selected region (drag)",
    "box": "Drag a box to add it to the selected region",
}
CLIP_MISSING_HINT = ("Without a CLIP model these words work: hot, person, car, vehicle, animal (infrared); "
                     "uptake, lesion, tumour (PET/SPECT); bone (CT). Other words ask to download CLIP ViT-B-32 "
                     "once (about 605 MB), or choose a checkpoint in File \u25b8 Settings\u2026")
KAPPA_SCALE = 100  # slider units per kappa unit



def build(panel: RegionsPanel) -> None:
    """Create and connect the panel's widgets (see the module docstring)."""
    layout = QtWidgets.QVBoxLayout(panel)
    layout.setContentsMargins(4, 4, 4, 4)

    panel.tree = QtWidgets.QTreeWidget()
    panel.tree.setColumnCount(4)
    panel.tree.setHeaderLabels(["Region", "Favours", "\u03ba", "Made by"])
    panel.tree.setRootIsDecorated(False)
    panel.tree.setUniformRowHeights(True)
    panel.tree.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked
                              | QtWidgets.QAbstractItemView.EditTrigger.EditKeyPressed)
    panel.tree.header().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
    panel.tree.itemChanged.connect(panel._on_item_changed)
    panel.tree.currentItemChanged.connect(panel._on_current_changed)
    layout.addWidget(panel.tree, 1)

    row = QtWidgets.QHBoxLayout()
    panel.add_button = QtWidgets.QPushButton("Add")
    panel.add_button.setToolTip("Add an empty region to paint")
    panel.remove_button = QtWidgets.QPushButton("Remove")
    panel.undo_button = QtWidgets.QToolButton()
    panel.redo_button = QtWidgets.QToolButton()
    panel.undo_action = QtGui.QAction("Undo region edit", panel)
    panel.undo_action.setShortcut(QtGui.QKeySequence.StandardKey.Undo)
    panel.redo_action = QtGui.QAction("Redo region edit", panel)
    panel.redo_action.setShortcut(QtGui.QKeySequence.StandardKey.Redo)
    for action in (panel.undo_action, panel.redo_action):
        action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
        panel.addAction(action)
    panel.undo_button.setDefaultAction(panel.undo_action)
    panel.redo_button.setDefaultAction(panel.redo_action)
    panel.undo_button.setText("Undo")
    panel.redo_button.setText("Redo")
    panel.add_button.clicked.connect(lambda: panel.add_region())
    panel.remove_button.clicked.connect(panel.remove_region)
    panel.undo_action.triggered.connect(panel.undo)
    panel.redo_action.triggered.connect(panel.redo)
    for widget in (panel.add_button, panel.remove_button, panel.undo_button, panel.redo_button):
        row.addWidget(widget)
    layout.addLayout(row)

    form = QtWidgets.QFormLayout()
    panel.source_combo = QtWidgets.QComboBox()
    panel.source_combo.setToolTip("The source this region favours in the fused result")
    panel.source_combo.currentIndexChanged.connect(panel._on_source_changed)
    panel.kappa_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
    panel.kappa_slider.setRange(int(KAPPA_RANGE[0] * KAPPA_SCALE), int(KAPPA_RANGE[1] * KAPPA_SCALE))
    panel.kappa_slider.setValue(int(DEFAULT_KAPPA * KAPPA_SCALE))
    panel.kappa_slider.setToolTip(f"Strength \u03ba ({KAPPA_RANGE[0]}..{KAPPA_RANGE[1]}): 1.0 = no change, "
                                 "higher favours the region's source more")
    panel.kappa_slider.valueChanged.connect(panel._on_kappa_changed)
    panel.kappa_label = QtWidgets.QLabel()
    kappa_row = QtWidgets.QHBoxLayout()
    kappa_row.addWidget(panel.kappa_slider, 1)
    kappa_row.addWidget(panel.kappa_label)
    form.addRow("Favours", panel.source_combo)
    form.addRow("Strength", kappa_row)
    layout.addLayout(form)

    tools = QtWidgets.QHBoxLayout()
    panel.tool_group = QtWidgets.QButtonGroup(panel)
    panel.tool_group.setExclusive(True)
    panel.tool_buttons = {}
    for name in TOOLS:
        button = QtWidgets.QToolButton()
        button.setText(TOOL_LABELS[name])
        button.setToolTip(TOOL_TIPS[name])
        button.setCheckable(True)
        panel.tool_group.addButton(button)
        panel.tool_buttons[name] = button
        button.toggled.connect(lambda checked, n=name: checked and panel._on_tool(n))
        tools.addWidget(button)
    panel.tool_buttons["navigate"].setChecked(True)
    panel.brush_spin = QtWidgets.QSpinBox()
    panel.brush_spin.setRange(1, 256)
    panel.brush_spin.setValue(8)
    panel.brush_spin.setSuffix(" px")
    panel.brush_spin.setToolTip("Brush and eraser radius in image pixels")
    panel.brush_spin.valueChanged.connect(lambda v: panel.brush_radius_changed.emit(float(v)))
    tools.addWidget(panel.brush_spin)
    layout.addLayout(tools)

    prompt = QtWidgets.QHBoxLayout()
    panel.prompt_edit = QtWidgets.QLineEdit()
    panel.prompt_edit.setPlaceholderText("Describe a region, e.g. \"person\" or \"tumour\"")
    panel.prompt_edit.returnPressed.connect(panel.request_prompt)
    panel.prompt_button = QtWidgets.QPushButton("Find")
    panel.prompt_button.clicked.connect(panel.request_prompt)
    prompt.addWidget(panel.prompt_edit, 1)
    prompt.addWidget(panel.prompt_button)
    layout.addLayout(prompt)
    panel.prompt_hint = QtWidgets.QLabel(CLIP_MISSING_HINT)
    panel.prompt_hint.setWordWrap(True)
    panel.prompt_hint.setStyleSheet("color: #a0a7b4; font-size: small;")
    layout.addWidget(panel.prompt_hint)

    proposals = QtWidgets.QHBoxLayout()
    panel.proposal_buttons = {}
    for kind, label in PROPOSALS.items():
        button = QtWidgets.QPushButton(label)
        button.clicked.connect(lambda _=False, k=kind: panel.request_proposal(k))
        proposals.addWidget(button)
        panel.proposal_buttons[kind] = button
    panel.proposal_buttons["hot_objects"].setToolTip("Propose regions of warm objects (infrared)")
    panel.proposal_buttons["high_uptake"].setToolTip("Propose regions of high tracer uptake (PET/SPECT)")
    layout.addLayout(proposals)
    panel._update_source_combo()
