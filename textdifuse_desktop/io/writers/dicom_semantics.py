"""What an exported DICOM object may claim about its values.

A fused image is a mixture of two sources mapped through display windows:
its values are *not* Hounsfield units, SUV or Bq/ml, even when its grid and
study come from a CT or PET reference.  The DICOM writers therefore decide
the IOD, Modality and RescaleType from the **image being written**, never
from the reference it derives from:

* :func:`values_in_units` is True only when the image's values are really in
  its modality's units: an unfused image (``textdifuse convert``, an
  exported source) or a fusion whose values were mapped back to physical
  units (``--keep-units``: ``meta["fusion"]["units_kept"]``).  A fused image
  (``meta["fusion"]`` present) or an image of modality ``OT`` never is.
* :func:`export_modality` is the image's modality when its values are in
  units, otherwise ``OT`` (PS3.3 C.7.3.1.1.1 "Other").
* :func:`derivation_description` says what was fused with what, by which
  method, and what the stored values mean (PS3.3 C.7.6.1.1.3 / C.8.6.2).
"""

from __future__ import annotations

from typing import Any

from textdifuse_desktop.imaging.image import Image, tone_corrections

#: Modalities a grey export may keep (Modality attribute of the General Series module).
KEEPABLE_MODALITIES = ("CT", "MR", "PT", "NM")

#: Units each modality's values may be in; "" = the modality's own arbitrary scale (MR signal, raw counts).
MODALITY_UNITS = {"CT": ("HU",), "MR": ("",), "PT": ("SUV", "Bq/ml", ""), "NM": ("",)}


def fusion_record(image: Image) -> dict[str, Any] | None:
    """The ``meta["fusion"]`` record of a fused image, or None for an unfused one."""
    record = image.meta.get("fusion") if isinstance(image.meta, dict) else None
    return record if isinstance(record, dict) else None


def values_in_units(image: Image) -> bool:
    """True when the values are truly in the units of ``image.modality`` (see module docstring)."""
    if image.modality not in MODALITY_UNITS or image.units not in MODALITY_UNITS[image.modality]:
        return False
    record = fusion_record(image)
    return record is None or bool(record.get("units_kept"))


def export_modality(image: Image) -> str:
    """The DICOM Modality to write: the image's own when its values are in its units, else ``OT``."""
    return image.modality if values_in_units(image) and image.modality in KEEPABLE_MODALITIES else "OT"


def _source_text(record: dict[str, Any], key: str) -> str:
    modalities = record.get("source_modalities") or {}
    units = record.get("source_units") or {}
    if isinstance(record.get("modalities"), list | tuple) and len(record["modalities"]) == 2:
        modalities = dict(zip("ab", record["modalities"], strict=True))
    modality = str(modalities.get(key, "") or "?")
    unit = str(units.get(key, "") or "")
    return f"{modality} ({unit})" if unit else modality


def _method_text(record: dict[str, Any]) -> str:
    params = record.get("params") or {}
    method = str(params.get("method") or record.get("method") or "unknown method")
    if method == "textdifuse":
        restore = params.get("restore", "?")
        return (f"Text-DiFuse diffusion model ({params.get('steps', '?')} steps, rule {params.get('rule', '?')}, "
                f"learned restoration of the sources at strength {restore})")
    return f"classical {method} rule"


def _tone_texts(record: dict[str, Any]) -> list[str]:
    """What the network's global tone correction did to each source (nothing where it changed nothing)."""
    texts = []
    for side, changed in sorted(tone_corrections(record).items()):
        total = len(record["tone_curves"][side])
        if total == 1:
            c = changed[0]
            texts.append(f"source {side.upper()} tone-corrected by the network before fusion (y' = y + "
                         f"{c.get('weight', 1.0):.3f} x (((y - {c['offset']:.3f}) x {c['gain']:.3f}) ^ "
                         f"{c['power']:.3f} - y))")
        else:
            texts.append(f"source {side.upper()} tone-corrected by the network before fusion "
                         f"({len(changed)} of {total} planes)")
    return texts


def derivation_description(image: Image, description: str, storage: str) -> str:
    """DerivationDescription text (at most 1024 characters).

    ``description`` is the caller's text (method and parameters), ``storage``
    how the stored integers map to values (e.g. ``"value = stored * s + i"``).
    """
    record = fusion_record(image)
    parts = [description.strip()] if description.strip() else []
    if record is not None:
        parts.append(f"fusion of source A {_source_text(record, 'a')} with source B {_source_text(record, 'b')} "
                     f"by {_method_text(record)}")
        parts += _tone_texts(record)
        if record.get("units_kept"):
            parts.append(f"values mapped back to {image.units or 'the sources'} units through a window shared "
                         "by both sources")
        else:
            parts.append("values are fused display intensities 0..255 in arbitrary units (not HU, not SUV)")
    elif not values_in_units(image):
        parts.append("values in arbitrary units")
    elif image.units:
        parts.append(f"values in {image.units}")
    parts.append(storage)
    return "; ".join(p for p in parts if p)[:1024]
