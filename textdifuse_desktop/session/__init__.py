"""Qt-free application state: regions (with undo/redo), view state and session files.

* :class:`RegionSet` / :class:`Region` - named masks that steer the fusion
  (:mod:`.region`, :mod:`.regions`), saved by :mod:`.region_io`.
* :class:`SessionDocument` - sources, parameters, view state and regions in
  one ``.tdfsession`` file (:mod:`.document`).
* :class:`ViewState` / :class:`PaneView` - what the viewer shows (:mod:`.view_state`).
"""

from textdifuse_desktop.session.document import (
    SESSION_SUFFIX,
    SessionDocument,
    SourceRef,
)
from textdifuse_desktop.session.region import DEFAULT_KAPPA, KAPPA_RANGE, Region
from textdifuse_desktop.session.region_io import (
    export_label_nifti,
    export_seg,
    label_map,
)
from textdifuse_desktop.session.regions import RegionSet
from textdifuse_desktop.session.view_state import PaneView, ViewState

__all__ = [
    "DEFAULT_KAPPA",
    "KAPPA_RANGE",
    "SESSION_SUFFIX",
    "PaneView",
    "Region",
    "RegionSet",
    "SessionDocument",
    "SourceRef",
    "ViewState",
    "export_label_nifti",
    "export_seg",
    "label_map",
]
