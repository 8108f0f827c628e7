"""One patient per fusion, in the app: ask before fusing sources of different patients.

Before a fusion starts, :func:`confirm_same_patient` runs
:func:`textdifuse_desktop.io.patient_identity.check_same_patient` on the two
sources as read.  When it raises :class:`DifferentPatientsError`, a
confirmation dialog names both files, the differing field and its two
values.  "Fuse anyway" fuses deliberately (the check is repeated with
``allow_different=True`` and the answer is kept for this pair until new
sources are opened); "Cancel" starts nothing and leaves the sources, regions
and any fused result as they were.  Headless runs (``--quit``) never ask:
the refusal is reported like any other error, as on the command line, unless
``--allow-different-patients`` was given.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6 import QtWidgets

from textdifuse_desktop.gui import strings
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)


def confirm_same_patient(window: Any) -> bool:
    """True when the window's pair may be fused (same patient, or the user confirmed); False otherwise."""
    from textdifuse_desktop.io.patient_identity import (
        DifferentPatientsError,
        check_same_patient,
    )

    a, b = window.raw.get("a"), window.raw.get("b")
    if not isinstance(a, Image) or not isinstance(b, Image):
        return True  # videos and missing sources carry no patient identity
    allowed = window._patients_confirmed == window._sources_token or bool(window.allow_different_patients)
    try:
        check_same_patient(a, b, allow_different=allowed, registered=False)
    except DifferentPatientsError as error:
        if not window.interactive:
            window.report_error(error)
            return False
        if not ask_fuse_different_patients(window, error):
            log.info("fusion of different patients declined: %s", error)
            window.statusBar().showMessage(strings.STATUS_PATIENTS_DECLINED, 10000)
            return False
        log.warning("user chose to fuse different patients: %s", error)
        window._patients_confirmed = window._sources_token
        check_same_patient(a, b, allow_different=True, registered=False)
    return True


def ask_fuse_different_patients(parent: QtWidgets.QWidget | None, error: Any) -> bool:
    """Modal question naming both files and the differing field; True for "Fuse anyway"."""
    frames = error.field == "FrameOfReferenceUID"
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
    box.setWindowTitle(strings.PATIENTS_TITLE_FRAMES if frames else strings.PATIENTS_TITLE)
    box.setText(strings.PATIENTS_TEXT.format(
        what=strings.PATIENTS_WHAT_FRAMES if frames else strings.PATIENTS_WHAT, field=error.field,
        path_a=error.path_a, path_b=error.path_b, value_a=error.value_a, value_b=error.value_b))
    box.setInformativeText(strings.PATIENTS_QUESTION)
    buttons = QtWidgets.QMessageBox.StandardButton
    box.setStandardButtons(buttons.Yes | buttons.Cancel)
    box.setDefaultButton(buttons.Cancel)
    box.button(buttons.Yes).setText(strings.PATIENTS_PROCEED)
    answer = box.exec()
    box.deleteLater()
    try:
        return buttons(answer) == buttons.Yes
    except ValueError:
        return False
