"""PET standardised uptake value (SUV, body weight) from DICOM tags.

``SUVbw = C(Bq/ml) * weight(g) / dose(Bq)`` where the injected dose is
decay-corrected to the time the image values refer to:

* ``DecayCorrection == "START"``: the series reference time, i.e.
  ``SeriesDate/SeriesTime``, unless the series time is later than the
  earliest acquisition (a re-processed series), then the earliest
  ``AcquisitionDate/AcquisitionTime`` (QIBA FDG-PET profile rule);
* ``"ADMIN"``: the administration time, so the dose is used as is;
* ``"NONE"``: values are not decay corrected, so each slice uses its own
  acquisition time (one factor per slice).

Tissue density is taken as 1 g/ml.  When a tag is missing, no factor is
returned and the reason names the tag.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class SuvResult:
    """Outcome of the SUV computation for a series (slice order)."""

    factors: list[float] | None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        """True when every slice has a factor."""
        return self.factors is not None


def parse_dicom_datetime(date: Any, time: Any) -> datetime | None:
    """``DA`` + ``TM`` (or a ``DT`` passed as ``date`` with ``time=None``) -> datetime, or None."""
    text_date = str(date or "").strip().replace("-", "").replace(".", "")
    if time is None:  # DT: YYYYMMDDHHMMSS.FFFFFF&ZZXX
        raw = str(date or "").strip().split("+")[0].split("&")[0]
        text_date, time = raw[:8], raw[8:]
    text_time = str(time or "").strip().replace(":", "")
    if len(text_date) != 8 or not text_date.isdigit() or not text_time:
        return None
    whole, _, fraction = text_time.partition(".")
    whole = whole.ljust(6, "0")
    try:
        base = datetime.strptime(text_date + whole[:6], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    micros = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
    return base + timedelta(microseconds=micros)


def _float(ds: Any, keyword: str) -> float | None:
    try:
        value = ds.get(keyword)
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _acquisition(ds: Any) -> datetime | None:
    if ds.get("AcquisitionDateTime"):
        return parse_dicom_datetime(ds.AcquisitionDateTime, None)
    return parse_dicom_datetime(ds.get("AcquisitionDate") or ds.get("SeriesDate"), ds.get("AcquisitionTime"))


def suv_factors(headers: list[Any]) -> SuvResult:
    """Body-weight SUV factor per slice (multiply Bq/ml by it), or the reason it is unavailable.

    Parameters
    ----------
    headers:
        Pixel-free datasets of the series in slice order (one dataset for a
        multi-frame object).
    """
    ds = headers[0]
    units = str(ds.get("Units", "") or "").strip().upper()
    if units == "GML":
        return SuvResult([1.0] * len(headers), details={"units_tag": units})
    if units != "BQML":
        return SuvResult(None, f"Units (0054,1001) is {units or 'missing'!r}, not 'BQML'")
    corrected_value = ds.get("CorrectedImage") or []
    if isinstance(corrected_value, str):  # a single value is not a list in pydicom
        corrected_value = [corrected_value]
    corrected = [str(v).strip().upper() for v in corrected_value]
    if corrected and "ATTN" not in corrected:
        return SuvResult(None, "image is not attenuation corrected (CorrectedImage (0028,0051) lacks ATTN)")
    weight = _float(ds, "PatientWeight")
    if weight is None or weight <= 0:
        return SuvResult(None, "PatientWeight (0010,1030) is missing or zero")
    sequence = ds.get("RadiopharmaceuticalInformationSequence")
    if not sequence:
        return SuvResult(None, "RadiopharmaceuticalInformationSequence (0054,0016) is missing")
    radio = sequence[0]
    dose = _float(radio, "RadionuclideTotalDose")
    if dose is None or dose <= 0:
        return SuvResult(None, "RadionuclideTotalDose (0018,1074) is missing or zero")
    half_life = _float(radio, "RadionuclideHalfLife")
    decay = str(ds.get("DecayCorrection", "") or "").strip().upper()
    details: dict[str, Any] = {
        "weight_kg": weight,
        "dose_bq": dose,
        "half_life_s": half_life,
        "decay_correction": decay or "missing",
    }
    result = SuvResult(None, details=details)
    if decay == "ADMIN":
        result.factors = [weight * 1000.0 / dose] * len(headers)
        return result
    if decay not in ("START", "NONE"):
        return SuvResult(None, f"DecayCorrection (0054,1102) is {decay or 'missing'!r}", details)
    if half_life is None or half_life <= 0:
        return SuvResult(None, "RadionuclideHalfLife (0018,1075) is missing", details)
    injection = _injection_time(radio, ds)
    if injection is None:
        return SuvResult(
            None, "RadiopharmaceuticalStartTime (0018,1072) / StartDateTime (0018,1078) is missing", details
        )
    if decay == "START":
        reference = parse_dicom_datetime(ds.get("SeriesDate"), ds.get("SeriesTime"))
        acquisitions = [t for t in (_acquisition(h) for h in headers) if t is not None]
        if acquisitions and (reference is None or reference > min(acquisitions)):
            reference = min(acquisitions)
            details["reference"] = "earliest acquisition time"
        if reference is None:
            return SuvResult(None, "SeriesTime (0008,0031) and AcquisitionTime (0008,0032) are missing", details)
        times = [reference] * len(headers)
    else:
        times = [_acquisition(h) for h in headers]
        if any(t is None for t in times):
            return SuvResult(None, "AcquisitionTime (0008,0032) is missing (DecayCorrection NONE)", details)
    factors = []
    for time in times:
        if time is None:  # unreachable: checked above; keeps type checkers quiet
            return SuvResult(None, "AcquisitionTime (0008,0032) is missing", details)
        elapsed = (time - injection).total_seconds()
        if elapsed < 0 and not radio.get("RadiopharmaceuticalStartDateTime") and elapsed > -86400:
            elapsed += 86400.0  # injection before midnight, scan after it
            result.warnings.append("injection time is after the scan time; assumed the injection was the day before")
        if elapsed < 0 or elapsed > 20 * half_life:
            return SuvResult(None, f"implausible time between injection and scan ({elapsed:.0f} s)", details)
        decayed = dose * math.pow(2.0, -elapsed / half_life)
        factors.append(weight * 1000.0 / decayed)
    details["elapsed_s"] = ((times[0] or injection) - injection).total_seconds() % 86400.0
    result.factors = factors
    result.warnings = sorted(set(result.warnings))
    return result


def _injection_time(radio: Any, ds: Any) -> datetime | None:
    if radio.get("RadiopharmaceuticalStartDateTime"):
        parsed = parse_dicom_datetime(radio.RadiopharmaceuticalStartDateTime, None)
        if parsed is not None:
            return parsed
    if not radio.get("RadiopharmaceuticalStartTime"):
        return None
    date = ds.get("SeriesDate") or ds.get("AcquisitionDate") or ds.get("StudyDate")
    return parse_dicom_datetime(date, radio.RadiopharmaceuticalStartTime)
