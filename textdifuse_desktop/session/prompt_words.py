"""Typed words that need no model: a fixed vocabulary mapped to the weight-free proposals.

On a fresh install (no CLIP weights) the most frequent requests still work:

=====================  ================================================  ==========================
pair                   words (singular and plural)                       region
=====================  ================================================  ==========================
infrared / visible     hot, warm, person, people, pedestrian, car,       hot objects of the infrared
                       vehicle, animal, hot object, warm object          source (:func:`propose_hot`)
PET / SPECT            uptake, high uptake, hot spot, hot, lesion,       high-uptake proposal of the
                       tumour (tumor), metastasis                        PET/SPECT source
CT (in HU)             bone, skeleton                                    CT >= :data:`BONE_HU` HU
=====================  ================================================  ==========================

The pair's kind comes from the sources' modalities (``IR``/``VIS``, ``PT``/
``NM``, ``CT``); a plain raster (``OT``) next to a colour image with a pure
black background (a colour-coded PET/SPECT) counts as PET/SPECT, any other
raster pair as infrared/visible (also a dark night photograph: it is not
black).  The hot-object words all give the same mask: the proposal
cannot tell a person from a car; a CLIP model can (``fusion.prompt_regions``).

Every region says which path made it (:attr:`Region.provenance`, e.g.
``"hot-object proposal for 'person'"``).  :func:`check_prompt` validates the
typed text first (empty, too long, non-Latin script) with one-line errors.
"""

from __future__ import annotations

import unicodedata

import numpy as np

from textdifuse_desktop.errors import UsageError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.session.region import DEFAULT_KAPPA, Region, clamp_kappa

INFRARED, NUCLEAR, CT = "infrared", "nuclear", "ct"
DOMAIN_NAMES = {INFRARED: "infrared/visible pair", NUCLEAR: "PET/SPECT pair", CT: "CT pair"}
#: Longest prompt accepted (CLIP reads 77 tokens per phrase; longer text is a paste accident, not a prompt).
MAX_PROMPT_CHARS = 200
#: Bone on CT: above soft tissue and contrast-free blood (< 100 HU), at the low end of trabecular bone.
BONE_HU = 300.0

_HOT = ("hot", "warm", "person", "people", "pedestrian", "car", "vehicle", "animal", "hot object", "warm object")
_HOT_PLURALS = ("persons", "pedestrians", "cars", "vehicles", "animals", "hot objects", "warm objects")
_UPTAKE = ("uptake", "high uptake", "hot spot", "hotspot", "hot", "lesion", "tumour", "tumor", "metastasis")
_UPTAKE_PLURALS = ("hot spots", "hotspots", "lesions", "tumours", "tumors", "metastases")
_BONE = ("bone", "bones", "skeleton")

#: Per pair kind: typed word -> proposal kind (``"hot"``, ``"uptake"``, ``"bone"``).
VOCABULARY: dict[str, dict[str, str]] = {
    INFRARED: {w: "hot" for w in _HOT + _HOT_PLURALS},
    NUCLEAR: {w: "uptake" for w in _UPTAKE + _UPTAKE_PLURALS},
    CT: {w: "bone" for w in _BONE},
}
#: The words listed in messages (no plural forms).
LISTED = {INFRARED: _HOT[:8], NUCLEAR: ("uptake", "hot spot", "lesion", "tumour", "metastasis"), CT: ("bone",)}
PROVENANCE = {"hot": "hot-object proposal", "uptake": "high-uptake proposal", "bone": f"CT >= {BONE_HU:g} HU"}


def parse_phrases(text: str) -> list[str]:
    """Comma- (or semicolon-) separated phrases, whitespace collapsed, empty ones and repeats dropped."""
    phrases: list[str] = []
    for part in str(text).replace(";", ",").split(","):
        phrase = " ".join(part.split())
        if phrase and phrase.lower() not in (p.lower() for p in phrases):
            phrases.append(phrase)
    return phrases


def check_prompt(text: str) -> list[str]:
    """The phrases of a typed prompt, or a one-line :class:`UsageError`.

    Rejected: no phrase at all, more than :data:`MAX_PROMPT_CHARS`
    characters, letters outside the Latin script (the word list and the
    default CLIP models are English), control characters.
    """
    text = str(text or "")
    example = 'type comma-separated English words, e.g. "person, car"'
    if len(text) > MAX_PROMPT_CHARS:
        raise UsageError(f"the text prompt is {len(text)} characters long, more than {MAX_PROMPT_CHARS}",
                         hint=f"{example}; one short phrase per object")
    for char in text:
        if unicodedata.category(char).startswith("C") and char not in "\t\n":
            raise UsageError(f"the text prompt contains a control character (U+{ord(char):04X})", hint=example)
        if char.isalpha() and not unicodedata.name(char, "").startswith("LATIN"):
            raise UsageError(f"the text prompt contains non-Latin text ({char!r}); prompts are read as English",
                             hint=example)
    phrases = parse_phrases(text)
    if not phrases:
        raise UsageError("the text prompt is empty", hint=example)
    return phrases


def pair_domain(a: Image, b: Image) -> str | None:
    """``"infrared"``, ``"nuclear"``, ``"ct"`` or None (e.g. MRI next to a grey raster): see the module docstring."""
    from textdifuse_desktop.imaging.color import is_colour, is_colour_coded_nuclear

    modalities = {a.modality, b.modality}
    if modalities & {"PT", "NM"}:
        return NUCLEAR
    if "CT" in modalities:
        return CT
    if modalities & {"IR", "VIS", "VL"}:
        return INFRARED
    if modalities - {"OT", ""}:
        return None
    colour_a, colour_b = is_colour(a), is_colour(b)
    if colour_a != colour_b and is_colour_coded_nuclear(a if colour_a else b):
        return NUCLEAR
    return INFRARED


def word_kind(phrase: str, domain: str | None) -> str | None:
    """The proposal kind a typed phrase maps to on a pair of ``domain``, or None."""
    return VOCABULARY.get(domain or "", {}).get(" ".join(str(phrase).lower().split()))


def working_words(domain: str | None) -> str:
    """The words that work without a model, for messages: ``"hot, warm, person, ... (infrared/visible pair)"``."""
    if domain is None:
        return "none on this pair (the word list covers infrared/visible, PET/SPECT and CT in HU)"
    return f"{', '.join(LISTED[domain])} (on this {DOMAIN_NAMES[domain]})"


def bone_mask(image: Image, *, hu: float = BONE_HU) -> np.ndarray:
    """Voxels of a CT in Hounsfield units at or above ``hu``; UsageError for a CT without HU."""
    from textdifuse_desktop.session.proposals import intensity_of

    if image.units != "HU":
        raise UsageError("'bone' needs a CT in Hounsfield units; this CT has none (e.g. a PNG export)",
                         hint="open the CT's DICOM series, or draw the region")
    return np.nan_to_num(intensity_of(image), nan=-np.inf) >= float(hu)


def _bone_source(a: Image, b: Image) -> str:
    return "A" if a.modality == "CT" and a.units == "HU" else "B"


def word_region(phrase: str, kind: str, a: Image, b: Image, *, kappa: float = DEFAULT_KAPPA,
                min_size: int | None = None) -> Region | None:
    """One region named ``phrase`` from the ``kind`` proposal (all its components), or None when nothing is found.

    Its provenance names the path, e.g. ``"hot-object proposal for 'person'"``.
    """
    from textdifuse_desktop.session.proposals import (
        default_min_size,
        propose,
        split_components,
    )

    if kind == "bone":
        source = _bone_source(a, b)
        values = bone_mask(a if source == "A" else b)
        size = default_min_size(values.shape) if min_size is None else int(min_size)
        parts = split_components(values, size)
        mask = np.logical_or.reduce(parts) if parts else None
    else:
        found = propose(kind, a, b, min_size=min_size, max_regions=None)
        source = found[0].source if found else "A"
        mask = np.logical_or.reduce([r.mask for r in found]) if found else None
    if mask is None or not mask.any():
        return None
    return Region(name=phrase, mask=mask, source=source, kappa=clamp_kappa(kappa), origin="text",
                  provenance=f"{PROVENANCE[kind]} for '{phrase}'")
