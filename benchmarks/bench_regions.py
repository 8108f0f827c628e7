"""Cost of region editing on a 300 x 512 x 512 volume (and a 2D image).

Prints: time of a 100-stamp brush stroke, undo-stack bytes versus one mask,
undo/redo time, kappa-map time (one slice and whole volume), save/load time
of the region folder and of a session file.

    .venv/bin/python benchmarks/bench_regions.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from textdifuse_desktop.session.document import SessionDocument
from textdifuse_desktop.session.regions import RegionSet


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shape = (300, 512, 512)
    rs = RegionSet(shape)
    rs.add("lesion", source="B", kappa=2.0)

    def stroke() -> None:
        with rs.stroke(0):
            for i in range(100):
                rs.stamp_disc(0, (100 + 3 * i, 150 + i), 12, slice_index=150)

    start = time.perf_counter()
    stroke()
    stroke_s = time.perf_counter() - start
    print(f"volume {shape}: 100-stamp stroke (r=12) {stroke_s * 1e3:.1f} ms")
    print(f"  undo stack {rs.undo_nbytes} bytes vs one mask {int(np.prod(shape))} bytes "
          f"({int(np.prod(shape)) / max(rs.undo_nbytes, 1):.0f}x smaller)")
    print(f"  undo+redo {_best(lambda: (rs.undo(), rs.redo()), args.repeat) * 1e3:.1f} ms")
    rs.kappa_maps(4.0, slice_index=150)  # warm-up (scipy import)
    one_slice = _best(lambda: rs.kappa_maps(4.0, slice_index=150), args.repeat)
    print(f"  kappa_maps(4 px) one slice {one_slice * 1e3:.1f} ms")
    print(f"  kappa_maps(4 px) whole volume {_best(lambda: rs.kappa_maps(4.0), args.repeat):.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "regions"
        print(f"  save folder (NIfTI) {_best(lambda: rs.save(folder), args.repeat):.2f} s, "
              f"{sum(p.stat().st_size for p in folder.iterdir()) / 1e3:.0f} kB")
        print(f"  load folder {_best(lambda: RegionSet.load(folder), args.repeat):.2f} s")
        document = SessionDocument(regions=rs)
        path = Path(tmp) / "s.tdfsession"
        save_s = _best(lambda: document.save(path), args.repeat)
        load_s = _best(lambda: SessionDocument.load(path), args.repeat)
        print(f"  save session {save_s:.2f} s, {path.stat().st_size / 1e3:.0f} kB; load {load_s:.2f} s")

    image = RegionSet((1024, 1280))
    image.add("hot", source="A")
    start = time.perf_counter()
    image.stamp_line(0, (50, 50), (1200, 900), radius=20)
    print(f"2D (1024, 1280): 1150-px line r=20 {(time.perf_counter() - start) * 1e3:.1f} ms, "
          f"undo {image.undo_nbytes} bytes; kappa_maps(4 px) "
          f"{_best(lambda: image.kappa_maps(4.0), args.repeat) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
