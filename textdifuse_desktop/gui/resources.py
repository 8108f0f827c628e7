"""The one resolver for files under ``resources/`` (demo pairs, colour tables, icons, style).

Looks, in order, at ``$TEXTDIFUSE_RESOURCES``, a frozen build's bundle
directory (PyInstaller ``sys._MEIPASS``), the source checkout next to the
package, and ``sys.prefix/share/textdifuse-desktop/resources``.  The model card
lives in ``models/`` and is resolved the same way by :func:`model_card_path`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]

#: Demo pairs: name -> (source A, source B) relative to ``resources/demo``.
DEMO_PAIRS: dict[str, tuple[str, str]] = {
    "ir_vis": ("ir_vis/vi.png", "ir_vis/ir.png"),
    "mri_pet": ("mri_pet/mri.png", "mri_pet/pet.png"),
}
#: What the demo PNGs show (their files record no modality).
DEMO_MODALITIES: dict[str, tuple[str, str]] = {"ir_vis": ("VIS", "IR"), "mri_pet": ("MR", "PT")}


def _candidate_roots(folder: str) -> list[Path]:
    roots: list[Path] = []
    env = os.environ.get("TEXTDIFUSE_RESOURCES")
    if env and folder == "resources":
        roots.append(Path(env))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        roots.append(Path(bundle) / folder)
    roots.append(_PACKAGE_ROOT / folder)
    roots.append(Path(sys.prefix) / "share" / "textdifuse-desktop" / folder)
    return roots


def resources_dir() -> Path:
    """The ``resources/`` folder in use (the first candidate that exists)."""
    for root in _candidate_roots("resources"):
        if root.is_dir():
            return root
    return _candidate_roots("resources")[-2]


def resource_path(*parts: str) -> Path:
    """Path of a file under ``resources/``; it may not exist (callers check)."""
    return resources_dir().joinpath(*parts)


def demo_pair(name: str) -> tuple[Path, Path]:
    """Paths of the bundled demo pair ``name`` (``"ir_vis"`` or ``"mri_pet"``).

    For ``ir_vis`` source A is the visible image (it carries the colour) and
    source B the infrared one; for ``mri_pet`` A is the MRI and B the PET.
    """
    first, second = DEMO_PAIRS[name]
    return resource_path("demo", first), resource_path("demo", second)


def lut_dir() -> Path:
    """Folder of the MRIcron ``.lut`` colour tables."""
    return resource_path("luts")


def icon_path(name: str) -> Path:
    """Path of an icon in ``resources/icons`` (PNG or SVG)."""
    return resource_path("icons", name)


def model_card_path() -> Path:
    """The shipped model card, ``models/textdifuse-compact/model_card.json``."""
    for root in _candidate_roots("models"):
        card = root / "textdifuse-compact" / "model_card.json"
        if card.is_file():
            return card
    return _PACKAGE_ROOT / "models" / "textdifuse-compact" / "model_card.json"
