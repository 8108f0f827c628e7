"""What a PACS query asks for and what it answers, independent of DIMSE or DICOMweb.

:class:`QueryFilter` holds the form's fields (patient ID / name with ``*``
and ``?`` wildcards, modality, study date range, accession number, study UID
for series queries); :func:`filter_keys` turns them into DICOM matching
keys.  Every answer row is a plain ``dict`` keyed by the names in
:data:`STUDY_FIELDS` / :data:`SERIES_FIELDS`; a :class:`QueryResult` says
whether the server had more matches than the cap.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from textdifuse_desktop.errors import UsageError

LEVELS = ("study", "series")
DEFAULT_MAX_RESULTS = 500

STUDY_FIELDS = ("PatientName", "PatientID", "StudyDate", "StudyDescription", "AccessionNumber",
                "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
                "StudyInstanceUID")
SERIES_FIELDS = ("Modality", "SeriesNumber", "SeriesDescription", "NumberOfSeriesRelatedInstances",
                 "SeriesInstanceUID", "StudyInstanceUID")
INSTANCE_FIELDS = ("SOPInstanceUID", "SOPClassUID", "InstanceNumber")

_DATE = re.compile(r"^\d{8}$")


@dataclass
class QueryFilter:
    """Matching keys of a study or series query (empty = any)."""

    patient_id: str = ""
    patient_name: str = ""
    modality: str = ""
    date_from: str = ""
    date_to: str = ""
    accession: str = ""
    study_uid: str = ""

    def validated(self) -> QueryFilter:
        """Check the dates (YYYYMMDD, from <= to); raises :class:`UsageError`."""
        for label, value in (("start date", self.date_from), ("end date", self.date_to)):
            if value and (not _DATE.match(value) or not _real_date(value)):
                raise UsageError(f"the study {label} must be YYYYMMDD, got {value!r}")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UsageError(f"the study date range is empty ({self.date_from} is after {self.date_to})")
        return self

    @property
    def date_range(self) -> str:
        """DICOM range matching: ``A-B``, ``A-``, ``-B`` or empty."""
        if not (self.date_from or self.date_to):
            return ""
        if self.date_from == self.date_to:
            return self.date_from
        return f"{self.date_from}-{self.date_to}"


def _real_date(text: str) -> bool:
    try:
        dt.datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True


def filter_keys(level: str, query: QueryFilter) -> dict[str, str]:
    """The non-empty matching keys for ``level`` (keywords -> values)."""
    if level not in LEVELS:
        raise UsageError(f"query level must be one of {', '.join(LEVELS)}, got {level!r}")
    query.validated()
    keys = {
        "PatientID": query.patient_id,
        "PatientName": query.patient_name,
        "StudyDate": query.date_range,
        "AccessionNumber": query.accession,
        "StudyInstanceUID": query.study_uid,
    }
    keys["ModalitiesInStudy" if level == "study" else "Modality"] = query.modality
    if level == "series" and not query.study_uid:
        raise UsageError("a series query needs the study instance UID", hint="query studies first and pick one")
    return {k: v for k, v in keys.items() if v}


def find_identifier(level: str, query: QueryFilter) -> Dataset:
    """The C-FIND identifier: matching keys plus empty return keys of ``level``."""
    keys = filter_keys(level, query)
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY" if level == "study" else "SERIES"
    for name in STUDY_FIELDS if level == "study" else SERIES_FIELDS:
        setattr(ds, name, "")
    for name, value in keys.items():
        if level == "series" and name in ("PatientID", "PatientName", "StudyDate", "AccessionNumber"):
            continue  # study-level keys are not matched in a study-root series query
        setattr(ds, name, value)
    return ds


def row_from_dataset(ds: Dataset, level: str) -> dict[str, str]:
    """A table row (str values) from a C-FIND or QIDO answer."""
    row: dict[str, str] = {}
    for name in STUDY_FIELDS if level == "study" else SERIES_FIELDS:
        value: Any = ds.get(name, "")
        if value is None:
            value = ""
        elif not isinstance(value, str) and hasattr(value, "__iter__") and not hasattr(value, "family_name"):
            value = "\\".join(str(v) for v in value)
        row[name] = str(value)
    return row


@dataclass
class QueryResult:
    """Rows of a query; ``truncated`` when the server had more than ``limit`` matches."""

    level: str
    rows: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False
    limit: int = DEFAULT_MAX_RESULTS

    @property
    def message(self) -> str:
        """One line for the status label: the count, and what to do when capped."""
        noun = "studies" if self.level == "study" else "series"
        if self.truncated:
            return (f"more than {self.limit} {noun} match; showing the first {self.limit} "
                    "(narrow the query: patient ID, dates, modality)")
        if len(self.rows) == 1:
            noun = "study" if self.level == "study" else "series"
        return f"{len(self.rows)} {noun} found"


def check_limit(limit: int) -> int:
    """A result cap of 1..100000."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise UsageError(f"the result limit must be 1..100000, got {limit!r}")
    return limit
