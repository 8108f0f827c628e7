"""Time each export format for a typical fused volume and a 2D image (seconds per write).

    .venv/bin/python benchmarks/bench_writers.py [--size 256 256 128] [--repeat 3]

Writes into a temporary folder on the same disk as ``--out`` (default: the
system temp dir); the figures include the atomic rename.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from textdifuse_desktop.imaging.image import Image, affine_from_spacing
from textdifuse_desktop.io.writers import write_image, write_seg


def _best(func, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=3, default=(256, 256, 128), metavar=("X", "Y", "Z"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    nx, ny, nz = args.size
    rng = np.random.default_rng(0)
    volume = Image(
        rng.uniform(0, 255, (nz, ny, nx)).astype(np.float32),
        "ZYX",
        affine_from_spacing((0.9, 0.9, 1.5)),
        modality="MR",
    )
    rgb = Image(rng.uniform(0, 255, (ny, nx, 3)).astype(np.float32), "YXC")
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        folder = Path(tmp)
        cases = {
            "nifti .nii.gz": lambda: write_image(volume, folder / "v.nii.gz"),
            "nifti .nii": lambda: write_image(volume, folder / "v.nii"),
            "dicom derived series": lambda: write_image(volume, folder / "series", format="dicom"),
            "dicom derived, deidentified": lambda: write_image(
                volume, folder / "anon", format="dicom", deidentify=True
            ),
            "png slices": lambda: write_image(volume, folder / "slices", format="png"),
            "tiff float32": lambda: write_image(volume, folder / "v.tif"),
            "dicom SEG (2 segments)": lambda: write_seg(
                [volume.pixels > 200, volume.pixels < 20], ["a", "b"], volume, folder / "seg.dcm"
            ),
            "png 2D rgb": lambda: write_image(rgb, folder / "c.png"),
            "dicom SC 2D rgb": lambda: write_image(rgb, folder / "c.dcm"),
        }
        print(f"volume {nx}x{ny}x{nz} float32, best of {args.repeat}")
        for name, func in cases.items():
            print(f"{name:30s} {_best(func, args.repeat):8.3f} s")


if __name__ == "__main__":
    main()
