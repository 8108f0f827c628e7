"""Checks on a retrieved series before it is offered to the user.

Every file must be DICOM of the requested series, the SOP Instance UIDs must
be exactly those the server announced (no missing, no extra), and our own
reader must decode the result (one instance, or the whole folder).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from textdifuse_desktop.errors import NetworkError, ReadError

log = logging.getLogger(__name__)


def sop_uids_in(folder: Path, series_uid: str) -> dict[str, Path]:
    """SOP Instance UID -> file for every DICOM file in ``folder``; files of another series are an error."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError) as error:
            raise ReadError(f"a retrieved file is not readable DICOM: {error}", path=path) from error
        if str(ds.get("SeriesInstanceUID", "")) != series_uid:
            raise NetworkError("the server sent an instance of another series", path=path,
                               hint="the PACS answered the retrieve wrongly; try again or use another method")
        found[str(ds.SOPInstanceUID)] = path
    return found


def verify_series(folder: Path, series_uid: str, expected: Collection[str], *, read: str = "one") -> list[Path]:
    """Check ``folder`` against the announced ``expected`` SOP Instance UIDs; returns the files.

    ``read``: ``"one"`` decodes the first instance with the app's reader (the
    caller opens the folder next), ``"all"`` reads the whole folder, ``"none"``
    checks the headers only.

    Raises
    ------
    NetworkError
        Instances missing or unexpected (counts and the first UID named).
    ReadError, UnsupportedFormatError
        Our reader cannot decode the data.
    """
    found = sop_uids_in(folder, series_uid)
    expected_set = set(expected)
    missing = sorted(expected_set - set(found))
    extra = sorted(set(found) - expected_set)
    if missing:
        raise NetworkError(f"{len(missing)} of {len(expected_set)} announced instances did not arrive "
                           f"(first missing SOP Instance UID {missing[0]})", path=folder,
                           hint="retry the retrieve; if it persists the PACS may hold a broken series")
    if extra:
        raise NetworkError(f"{len(extra)} instances arrived that the server had not announced "
                           f"(first {extra[0]})", path=folder)
    files = sorted(found.values())
    if read != "none" and files:
        from textdifuse_desktop.io import read_image

        read_image(folder if read == "all" else files[0])
    log.info("verified %d retrieved instances in %s", len(files), folder)
    return files
