"""Region options shared by ``textdifuse fuse`` and ``textdifuse regions``.

``--propose hot|uptake`` adds weight-free proposals
(:mod:`textdifuse_desktop.session.proposals`); ``--prompt "person, car"``
adds one region per phrase found with a local CLIP checkpoint
(:mod:`textdifuse_desktop.fusion.prompt_regions`; ``--clip-checkpoint`` or
the ``clip_checkpoint`` setting).  ``fuse`` also has ``--mask`` (its own
option); :func:`region_maps_from_args` merges every source of regions into
the kappa / blend maps of the fusion request.  torch is imported only when
a prompt is given.
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
                       help='comma-separated phrases, one region each, e.g. "person, car" (needs a CLIP checkpoint)')
    group.add_argument("--clip-checkpoint", type=Path, default=None,
                       help="local open_clip checkpoint file (default: the clip_checkpoint setting)")
    group.add_argument("--clip-model", default="ViT-B-32",
                       help="open_clip architecture of the checkpoint (default: %(default)s)")
    group.add_argument("--prompt-threshold", type=float, default=0.5,
                       help="threshold on the normalised text similarity, 0..1 (default: %(default)s)")
    group.add_argument("--region-source", choices=("auto", "a", "b"), default="auto",
                       help="source the proposed/prompted regions favour; auto = the infrared or PET/SPECT one "
                            "(default: %(default)s)")
    group.add_argument("--min-region", type=int, default=None,
                       help="smallest region kept, in pixels (default: 0.02%% of the image, at least 20)")


def _check(args: argparse.Namespace) -> None:
    from textdifuse_desktop.errors import UsageError

    kappa = float(getattr(args, "kappa", 1.5))
    if not 0.5 <= kappa <= 3.0:
        raise UsageError(f"--kappa must be within 0.5..3.0, got {kappa}")
    if not 0.0 <= float(args.prompt_threshold) <= 1.0:
        raise UsageError(f"--prompt-threshold must be within 0..1, got {args.prompt_threshold}")


def _source(args: argparse.Namespace, kind: str, a: Any, b: Any) -> str:
    from textdifuse_desktop.session.proposals import pick_source, salient_source

    if args.region_source != "auto":
        return str(args.region_source).upper()
    return salient_source(a, b) if kind == "prompt" else pick_source(kind, a, b)


def _prompt_device(args: argparse.Namespace) -> str:
    from textdifuse_desktop.model.device import select_device

    return str(select_device(getattr(args, "device", "auto") or "auto"))


def build_region_set(args: argparse.Namespace, a: Any, b: Any) -> Any:
    """The RegionSet (on A's grid) of ``--propose`` and ``--prompt``; empty when neither is given.

    Raises FeatureUnavailableError for ``--prompt`` without a CLIP checkpoint.
    """
    from textdifuse_desktop.session.proposals import add_regions, propose
    from textdifuse_desktop.session.regions import RegionSet

    _check(args)
    region_set = RegionSet.for_image(a)
    kappa = float(getattr(args, "kappa", 1.5))
    for kind in dict.fromkeys(args.propose or ()):
        regions = propose(kind, a, b, source=_source(args, kind, a, b), kappa=kappa, min_size=args.min_region)
        if not regions:
            log.warning("no '%s' regions found", kind)
        add_regions(region_set, regions)
    if args.prompt:
        from textdifuse_desktop.fusion.prompt_regions import prompt_masks

        found = prompt_masks(args.prompt, a, b, source=_source(args, "prompt", a, b),
                             checkpoint=args.clip_checkpoint, model_name=args.clip_model,
                             device=_prompt_device(args), threshold=args.prompt_threshold, min_size=args.min_region)
        for item in found:
            region_set.add(item.name, source=item.source, kappa=kappa, origin="text", mask=item.mask)
    region_set.clear_history()
    return region_set


def region_maps_from_args(args: argparse.Namespace, a: Any, b: Any,
                          base: dict[str, Any] | None = None) -> dict[str, Any]:
    """kappa_a / kappa_b / blend_mask for a FusionRequest from ``--propose``/``--prompt``, merged with ``base``.

    ``base`` holds maps made elsewhere (``fuse --mask``).  Returns ``{}``
    when no region applies.
    """
    maps = dict(base or {})
    if not (args.propose or args.prompt):
        return maps
    from textdifuse_desktop.fusion.regions_apply import merge_maps, region_maps

    region_set = build_region_set(args, a, b)
    for region in region_set:
        log.info("region %r favours %s (kappa %.2f, %d px)", region.name, region.source, region.kappa,
                 region.pixel_count)
    return merge_maps(maps, region_maps(region_set, feather_px=float(getattr(args, "feather", 4.0))))
