"""Region modulation: locality of the change and the cost of a re-fuse after a strength change.

For each pair: the largest weight-free proposal (hot objects / high uptake; a
centre box if none) becomes one region at ``--kappa``; the script prints the
plain fusion time, the first modulated fusion, a re-fuse after changing the
strength (the engine's cached plain result is re-used: "hit"), and the mean
absolute change of the fused luma inside the region, outside it (feather band
included) and in the feather band, with ratio = inside / outside.  "crop s" is
the same re-fuse with ``ReFuser(crop=True)`` (only the regions' box plus a
96 px margin is re-fused) and "crop err" the mean absolute difference, inside
the region, between the cropped and the full modulated result.

    .venv/bin/python benchmarks/bench_region_refuse.py [--weights W] [--steps 4] [--kappa 2] [--extra 4]

Without shipped weights (models/textdifuse-compact/model.safetensors) a random
model of the shipped architecture is used and flagged: its timings are
representative, its locality figures are not.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from textdifuse_desktop.fusion import FusionParams
from textdifuse_desktop.fusion.regions_apply import ReFuser, locality, region_maps
from textdifuse_desktop.imaging.align import align_pair
from textdifuse_desktop.io import read_image
from textdifuse_desktop.session.proposals import propose
from textdifuse_desktop.session.regions import RegionSet

REPO = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared/data")


def _pairs(extra: int) -> list[tuple[str, Path, Path, str]]:
    pairs = [("demo ir/vis", REPO / "resources/demo/ir_vis/ir.png", REPO / "resources/demo/ir_vis/vi.png", "hot"),
             ("demo mri/pet", REPO / "resources/demo/mri_pet/mri.png", REPO / "resources/demo/mri_pet/pet.png",
              "uptake")]
    ir_dir = SHARED / "ir_vis" / "msrs_test" / "ir"
    if ir_dir.is_dir():
        for path in sorted(ir_dir.glob("*.png"))[:extra]:
            pairs.append((f"msrs {path.stem}", path, path.parent.parent / "vi" / path.name, "hot"))
    pet_dir = SHARED / "medical" / "harvard" / "mri_pet"
    split = pet_dir / "splits" / "test.txt"
    if split.is_file():
        for name in split.read_text().split()[1:1 + extra // 2]:
            pairs.append((f"harvard {Path(name).stem}", pet_dir / "mri" / name, pet_dir / "pet" / name, "uptake"))
    return pairs


def _weights(path: str | None, tmp: str) -> tuple[str | None, str]:
    from textdifuse_desktop.model.weights import default_weights_path

    if path:
        return path, "given"
    if Path(default_weights_path()).is_file():
        return None, "shipped"
    import torch

    from textdifuse_desktop.model.network import build_model
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    random_path = Path(tmp) / "model.safetensors"
    save_model(build_model(), DDIMSampler().config, random_path)
    return str(random_path), "RANDOM (no shipped weights)"


def _region(kind: str, a, b, kappa: float) -> RegionSet:
    region_set = RegionSet.for_image(a)
    found = propose(kind, a, b, kappa=kappa)
    if found:
        region = found[0]
        region_set.add(region.name, source=region.source, kappa=kappa, origin="proposal", mask=region.mask)
    else:
        h, w = region_set.shape
        region_set.add("box", source="B", kappa=kappa)
        region_set.fill_box(0, (w * 0.4, h * 0.4, w * 0.6, h * 0.6))
    return region_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--kappa", type=float, default=2.0)
    parser.add_argument("--extra", type=int, default=4, help="pairs from /work/shared per domain (if present)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, device cpu")
    with tempfile.TemporaryDirectory() as tmp:
        weights, label = _weights(args.weights, tmp)
        print(f"weights: {label}; steps {args.steps}; one region at kappa {args.kappa} then {args.kappa + 0.5}")
        print(f"{'pair':18s} {'size':>9s} {'region px':>9s} {'plain s':>8s} {'1st mod s':>9s} {'re-fuse s':>9s} "
              f"{'hit':>4s} {'inside':>7s} {'outside':>8s} {'band':>7s} {'ratio':>7s} {'crop s':>7s} {'crop err':>8s}")
        ratios = []
        for name, path_a, path_b, kind in _pairs(args.extra):
            a, b, _ = align_pair(read_image(path_a), read_image(path_b))
            region_set = _region(kind, a, b, args.kappa)
            refuser = ReFuser(a, b, FusionParams(steps=args.steps, device="cpu", weights=weights))
            plain = refuser.fuse(None)
            plain_s = refuser.last_seconds
            first = refuser.fuse(region_set)
            first_s = refuser.last_seconds
            region_set.set_kappa(0, args.kappa + 0.5)
            refuser.fuse(region_set)
            again_s, hit = refuser.last_seconds, refuser.last_hit_cache
            region_set.set_kappa(0, args.kappa)
            cropper = ReFuser(a, b, FusionParams(steps=args.steps, device="cpu", weights=weights), crop=True)
            cropper.fuse(region_set)  # plain crop + first modulated crop
            region_set.set_kappa(0, args.kappa + 0.5)
            cropper.fuse(region_set)
            crop_s = cropper.last_seconds if cropper.last_crop is not None else float("nan")
            region_set.set_kappa(0, args.kappa)
            cropped = cropper.fuse(region_set)
            crop_err = locality(first.image, cropped.image, region_set[0].mask)["inside"]
            blend = region_maps(region_set)["blend_mask"]
            stats = locality(plain.image, first.image, region_set[0].mask, blend)
            ratios.append(stats["ratio"])
            h, w = region_set.shape[-2:]
            print(f"{name:18s} {w:4d}x{h:<4d} {region_set[0].pixel_count:9d} {plain_s:8.2f} {first_s:9.2f} "
                  f"{again_s:9.2f} {'yes' if hit else 'NO':>4s} {stats['inside']:7.2f} {stats['outside']:8.4f} "
                  f"{stats['outside_band']:7.3f} {stats['ratio']:7.1f} {crop_s:7.2f} {crop_err:8.2f}")
        print(f"locality ratio inside/outside: min {min(ratios):.1f}, median {float(np.median(ratios)):.1f} "
              f"over {len(ratios)} pairs (target >= 10)")


if __name__ == "__main__":
    main()
