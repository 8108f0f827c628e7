"""Reader timings and peak memory: a synthetic CT series, real NIfTI volumes, a raster image.

Run:  .venv/bin/python benchmarks/bench_readers.py [--slices 200] [--size 512]

Prints, for each input, the wall time of ``read_image`` (best of 3 for the
small ones) and the peak Python-tracked memory (tracemalloc, includes numpy
buffers), next to nibabel's ``get_fdata()`` for the NIfTI files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "io"))

from textdifuse_desktop.io import read_image  # noqa: E402

SHARED = Path("/work/shared/data/volumes")


def measure(label: str, func, repeats: int = 1) -> None:
    """Best wall time over ``repeats`` untraced runs, then one run under tracemalloc for the peak."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    del result
    tracemalloc.start()
    result = func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    shape = getattr(getattr(result, "pixels", result), "shape", "?")
    print(f"{label:<62} {min(times):7.3f} s   peak {peak / 2**20:8.1f} MiB   shape {shape}")


def synthetic_series(folder: Path, slices: int, size: int) -> None:
    from test_read_dicom_series import write_slice  # the test factory

    rng = np.random.default_rng(0)
    for k in rng.permutation(slices):
        stored = rng.integers(0, 3000, (size, size)).astype(np.uint16)
        write_slice(folder / f"{rng.integers(1e9):09d}.dcm", series="1.2.3.9", position=(0, 0, 1.25 * k), stored=stored)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    read_image(SHARED / "dicom" / "pydicom" / "CT_small.dcm")  # warm imports
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "series"
        folder.mkdir()
        synthetic_series(folder, args.slices, args.size)
        measure(f"DICOM series, synthetic {args.slices} x {args.size}^2 (shuffled)", lambda: read_image(folder))
    if SHARED.exists():
        measure("DICOM series, real CT 17 slices", lambda: read_image(SHARED / "dicom" / "ct_series_17slices"), 3)
        measure(
            "DICOM J2K lossless MR 64^2",
            lambda: read_image(SHARED / "dicom" / "pydicom" / "MR_small_jp2klossless.dcm"),
            3,
        )
        measure(
            "DICOM enhanced CT (2 frames 512^2)",
            lambda: read_image(SHARED / "dicom" / "pydicom_data" / "eCT_Supplemental.dcm"),
            3,
        )
        import nibabel as nib

        for name in ("mni152_2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz", "niivue_images/CT_AVM.nii.gz"):
            path = SHARED / "nifti" / name
            if path.exists():
                measure(f"NIfTI read_image {path.name}", lambda: read_image(path))
                measure(f"NIfTI nibabel get_fdata {path.name}", lambda: nib.load(path).get_fdata())
        png = next((SHARED.parent / "ir_vis" / "msrs_test" / "vi").glob("*.png"), None)
        if png is not None:
            measure(f"PNG {png.name}", lambda: read_image(png), 3)


if __name__ == "__main__":
    main()
