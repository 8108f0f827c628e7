"""A typed prompt -> regions, by the word list or by a CLIP model: the one decision the CLI and the GUI share.

* With a CLIP model ready (a checkpoint file, or standard weights already in
  the cache or agreed to be downloaded) every phrase goes to it: CLIP tells
  a person from a car, the word list cannot.
* Without one, each phrase must be a word of the list
  (:mod:`~textdifuse_desktop.session.prompt_words`) for the pair's kind;
  otherwise a :class:`FeatureUnavailableError` lists the words that work and
  how to get the model (``clip_hint``).

The CLIP step is passed in (``clip``), so that this module stays torch-free:
``clip(phrases) -> [found]``, each found item with ``name``, ``mask``,
``source`` and ``provenance`` (``fusion.prompt_regions.PromptMask``).
Phrases that give no region get a note saying so, never a false region.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from textdifuse_desktop.errors import FeatureUnavailableError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.session.prompt_words import (
    check_prompt,
    pair_domain,
    word_kind,
    word_region,
    working_words,
)
from textdifuse_desktop.session.region import DEFAULT_KAPPA, Region, clamp_kappa
from textdifuse_desktop.session.regions import RegionSet

log = logging.getLogger(__name__)

ClipStep = Callable[[Sequence[str]], Sequence[Any]]


@dataclass
class PromptOutcome:
    """The regions found for a prompt and one note per phrase that gave none."""

    regions: list[Region] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per region (``name: provenance, N px``) and per note."""
        lines = [f"{r.name}: {r.provenance}, {r.pixel_count} px" for r in self.regions]
        return "\n".join(lines + self.notes)


def unknown_phrases(text: str, a: Image, b: Image) -> list[str]:
    """The phrases of ``text`` that the word list does not cover on this pair (they need CLIP)."""
    domain = pair_domain(a, b)
    return [p for p in check_prompt(text) if word_kind(p, domain) is None]


def no_model_error(unknown: Sequence[str], a: Image, b: Image, hint: str) -> FeatureUnavailableError:
    """The one-line error for words that need a model that is not there."""
    words = ", ".join(f"'{w}'" for w in unknown)
    return FeatureUnavailableError(
        f"{words} need{'s' if len(unknown) == 1 else ''} a CLIP model; without one these words work: "
        f"{working_words(pair_domain(a, b))}", hint=hint)


def find_prompt_regions(text: str, a: Image, b: Image, *, clip: ClipStep | None = None, clip_hint: str = "",
                        kappa: float = DEFAULT_KAPPA, min_size: int | None = None) -> PromptOutcome:
    """Regions for the phrases of ``text`` on an aligned pair (see the module docstring).

    Raises
    ------
    UsageError
        Empty, too long or non-Latin prompt (before any work).
    FeatureUnavailableError
        ``clip`` is None and a phrase is not in the word list.
    """
    phrases = check_prompt(text)
    outcome = PromptOutcome()
    if clip is not None:
        found = {item.name: item for item in clip(phrases)}
        for phrase in phrases:
            item = found.get(phrase)
            if item is None:
                outcome.notes.append(f"no region for '{phrase}': nothing scores above the background phrases")
                continue
            outcome.regions.append(Region(name=phrase, mask=item.mask, source=item.source, kappa=clamp_kappa(kappa),
                                          origin="text", provenance=str(getattr(item, "provenance", ""))))
        return outcome
    domain = pair_domain(a, b)
    unknown = [p for p in phrases if word_kind(p, domain) is None]
    if unknown:
        raise no_model_error(unknown, a, b, clip_hint)
    for phrase in phrases:
        kind = str(word_kind(phrase, domain))
        region = word_region(phrase, kind, a, b, kappa=kappa, min_size=min_size)
        if region is None:
            outcome.notes.append(f"no region for '{phrase}': the {kind} proposal found nothing on this pair")
        else:
            outcome.regions.append(region)
    return outcome


def add_outcome(region_set: RegionSet, outcome: PromptOutcome) -> list[int]:
    """Add the outcome's regions to ``region_set`` (one undo step each, colours in turn); returns their indices."""
    indices = []
    for region in outcome.regions:
        if tuple(region.mask.shape) != tuple(region_set.shape):
            log.warning("prompt mask %s does not fit the regions grid %s", region.mask.shape, region_set.shape)
            continue
        region_set.add(region.name, source=region.source, kappa=region.kappa, origin="text", mask=region.mask,
                       provenance=region.provenance)
        indices.append(len(region_set) - 1)
    return indices
