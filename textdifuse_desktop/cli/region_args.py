"""Region options shared by ``textdifuse fuse`` and ``textdifuse regions``.

``--propose hot|uptake`` adds weight-free proposals
(:mod:`textdifuse_desktop.session.proposals`); ``--prompt "person, car"``
adds one region per phrase found (:mod:`textdifuse_desktop.session.prompt_plan`):
by the word list without a model (``person`` -> hot objects on an
infrared/visible pair), or by CLIP (a ``--clip-checkpoint`` file, or the
standard open_clip weights, fetched once only with ``--allow-download`` or
the ``clip_allow_download`` setting).  ``fuse`` also has ``--mask`` (its own
option); :func:`region_maps_from_args` merges every source of regions into
the kappa / blend maps of the fusion request.  torch is imported only when
CLIP runs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROPOSAL_KINDS = ("hot", "uptake")


def add_region_arguments(parser: argparse.ArgumentParser, *, strength_options: bool = False) -> None:
    """Add ``--propose``, ``--prompt``, ``--clip-checkpoint``, ``--clip-model``, ``--region-source``...

    ``strength_options`` also adds ``--kappa`` and ``--feather`` (``fuse``
    already has them, next to ``--mask``).
    """
    group = parser.add_argument_group("regions (favour one source locally)")
    if strength_options:
        group.add_argument("--kappa", type=float, default=1.5,
                           help="strength of the regions, 0.5..3, 1 = no change (default: %(default)s)")
        group.add_argument("--feather", type=float, default=4.0,
                           help="feather sigma of the region edges in pixels (default: %(default)s)")
    group.add_argument("--propose", action="append", choices=PROPOSAL_KINDS, default=None,
                       help="weight-free region proposals: 'hot' objects in the infrared source, high 'uptake' "
                            "in the PET/SPECT source (repeatable)")
    group.add_argument("--prompt", default=None,
                       help='comma-separated phrases, one region each, e.g. "person, car"; without a CLIP model the '
                            "word list works (hot, person, car... on infrared/visible; uptake, lesion... on PET/SPECT; "
                            "bone on CT)")
    group.add_argument("--prompt-with", choices=("auto", "words", "clip"), default="auto",
                       help="auto: CLIP when its weights are here (or may be downloaded), else the word list; "
                            "words: the word list only; clip: CLIP only (default: %(default)s)")
    group.add_argument("--allow-download", action="store_true",
                       help="agree to fetch the standard CLIP weights once into the Hugging Face cache "
                            "(ViT-B-32 laion2b_s34b_b79k: about 605 MB, MIT licence) when a prompt needs them")
    group.add_argument("--clip-checkpoint", type=Path, default=None,
                       help="local open_clip checkpoint file (default: the clip_checkpoint setting)")
    group.add_argument("--clip-model", default=None,
                       help="open_clip architecture (default: the clip_model setting, ViT-B-32)")
    group.add_argument("--clip-pretrained", default=None,
                       help="open_clip pretrained tag of the standard weights (default: the clip_pretrained "
                            "setting, laion2b_s34b_b79k)")
    group.add_argument("--prompt-threshold", type=float, default=0.0,
                       help="CLIP evidence a pixel needs, 0..1 in cosine units above the background phrases and "
                            "the floor (default: %(default)s)")
    group.add_argument("--region-source", choices=("auto", "a", "b"), default="auto",
                       help="source the proposed/prompted regions favour; auto = the infrared or PET/SPECT one "
                            "(default: %(default)s)")
    group.add_argument("--min-region", type=int, default=None,
                       help="smallest region kept, in pixels (default: 0.02%% of the image, at least 20)")


def check_region_args(args: argparse.Namespace) -> None:
    """Validate the region options (kappa, threshold, the prompt text) before any reading; UsageError."""
    from textdifuse_desktop.errors import UsageError

    kappa = float(getattr(args, "kappa", 1.5))
    if not 0.5 <= kappa <= 3.0:
        raise UsageError(f"--kappa must be within 0.5..3.0, got {kappa}")
    if not 0.0 <= float(args.prompt_threshold) <= 1.0:
        raise UsageError(f"--prompt-threshold must be within 0..1, got {args.prompt_threshold}")
    if args.prompt is not None:
        from textdifuse_desktop.session.prompt_words import check_prompt

        check_prompt(args.prompt)


def _source(args: argparse.Namespace, kind: str, a: Any, b: Any) -> str:
    from textdifuse_desktop.session.proposals import pick_source, salient_source

    if args.region_source != "auto":
        return str(args.region_source).upper()
    return salient_source(a, b) if kind == "prompt" else pick_source(kind, a, b)


def _prompt_device(args: argparse.Namespace) -> str:
    from textdifuse_desktop.model.device import select_device

    return str(select_device(getattr(args, "device", "auto") or "auto"))


def _clip_step(args: argparse.Namespace, a: Any, b: Any) -> Any:
    """The CLIP step for the prompt, or None for the word list (see the module docstring)."""
    from textdifuse_desktop.config import load_settings
    from textdifuse_desktop.errors import FeatureUnavailableError
    from textdifuse_desktop.session.prompt_plan import no_model_error, unknown_phrases

    if args.prompt_with == "words":
        return None
    settings = load_settings()
    checkpoint = args.clip_checkpoint or settings.clip_checkpoint
    model = args.clip_model or settings.clip_model
    pretrained = None if checkpoint else (args.clip_pretrained or settings.clip_pretrained)
    allow = bool(args.allow_download or settings.clip_allow_download)
    unknown = unknown_phrases(args.prompt, a, b)
    if not checkpoint:
        from textdifuse_desktop.fusion.clip_models import (
            INSTALL_HINT,
            cached_weights,
            open_clip_installed,
            standard_weights,
        )

        if not open_clip_installed():
            if unknown or args.prompt_with == "clip":
                raise no_model_error(unknown or ["the prompt"], a, b, INSTALL_HINT)
            return None
        weights = standard_weights(model, str(pretrained))
        if cached_weights(weights) is None and not allow:
            if args.prompt_with == "clip":
                raise FeatureUnavailableError(f"{weights.label} is not downloaded yet",
                                              hint=f"run again with --allow-download to fetch it once: {weights.describe()}")
            if not unknown:
                return None
            raise no_model_error(unknown, a, b, f"run again with --allow-download to fetch {weights.describe()} "
                                                "once, or give --clip-checkpoint FILE")

    def step(phrases: Any) -> Any:
        from textdifuse_desktop.fusion.prompt_regions import prompt_masks

        return prompt_masks(", ".join(phrases), a, b, source=_source(args, "prompt", a, b), checkpoint=checkpoint,
                            model_name=model, pretrained=pretrained, allow_download=allow, progress=_console_progress(),
                            device=_prompt_device(args), threshold=args.prompt_threshold, min_size=args.min_region)

    return step


def _console_progress() -> Any:
    """Download progress on stderr: a percentage on a terminal, nothing otherwise."""
    import sys

    shown = [-1]

    def report(done: int, total: int | None) -> None:
        if total and sys.stderr.isatty() and int(100 * done / total) != shown[0]:
            shown[0] = int(100 * done / total)
            print(f"\rdownloading CLIP weights: {shown[0]} %", end="" if done < total else "\n", file=sys.stderr)

    return report


def build_region_set(args: argparse.Namespace, a: Any, b: Any) -> Any:
    """The RegionSet (on A's grid) of ``--propose`` and ``--prompt``; empty when neither is given.

    Each phrase that finds nothing is logged as a warning (one line).
    Raises FeatureUnavailableError for a prompt that needs a CLIP model
    that is not there (the message lists the words that work).
    """
    from textdifuse_desktop.session.proposals import add_regions, propose
    from textdifuse_desktop.session.regions import RegionSet

    check_region_args(args)
    region_set = RegionSet.for_image(a)
    kappa = float(getattr(args, "kappa", 1.5))
    for kind in dict.fromkeys(args.propose or ()):
        regions = propose(kind, a, b, source=_source(args, kind, a, b), kappa=kappa, min_size=args.min_region)
        if not regions:
            log.warning("no '%s' regions found", kind)
        add_regions(region_set, regions)
    if args.prompt is not None:
        from textdifuse_desktop.session.prompt_plan import (
            add_outcome,
            find_prompt_regions,
        )

        outcome = find_prompt_regions(args.prompt, a, b, clip=_clip_step(args, a, b), kappa=kappa,
                                      min_size=args.min_region)
        for note in outcome.notes:
            log.warning(note)
        add_outcome(region_set, outcome)
    region_set.clear_history()
    return region_set


def region_maps_from_args(args: argparse.Namespace, a: Any, b: Any,
                          base: dict[str, Any] | None = None) -> dict[str, Any]:
    """kappa_a / kappa_b / blend_mask for a FusionRequest from ``--propose``/``--prompt``, merged with ``base``.

    ``base`` holds maps made elsewhere (``fuse --mask``).  Returns ``{}``
    when no region applies.
    """
    maps = dict(base or {})
    if not args.propose and args.prompt is None:
        return maps
    from textdifuse_desktop.fusion.regions_apply import merge_maps, region_maps

    region_set = build_region_set(args, a, b)
    for region in region_set:
        log.info("region %r favours %s (kappa %.2f, %d px)", region.name, region.source, region.kappa,
                 region.pixel_count)
    return merge_maps(maps, region_maps(region_set, feather_px=float(getattr(args, "feather", 4.0))))
