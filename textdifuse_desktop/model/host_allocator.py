"""The C allocator's settings for CPU inference (glibc only).

A fusion allocates and frees hundreds of feature maps of 1-5 MB.  glibc's defaults hand such blocks back to the
kernel as soon as they are freed (mmap for large blocks, heap trimming above 128 KB of free space at the top), so
the next step's maps start on fresh pages: about 20 000 page faults per 640x480 fusion, and about 10 % of its time
(`benchmarks/engine_timing.py`, 0.64-0.68 s against 0.57-0.59 s at 2 steps on 2 cores, alternating runs).  Serving
blocks under 32 MB from the heap and keeping up to 512 MB of free heap removes nearly all of those faults (22 850 ->
2 per fusion in the measurement of benchmarks/results/bench_fusion.md).  Larger blocks (whole volumes) are still
mapped and returned when freed, so what the process keeps after a big fusion is bounded.  The same tuning that
jemalloc or tcmalloc would give, without a preloaded library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os

log = logging.getLogger(__name__)

#: mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 512 << 20
#: Set to 0 to keep the C library's defaults.
ENV_SWITCH = "TEXTDIFUSE_TUNE_MALLOC"


@functools.cache
def tune_host_allocator() -> bool:
    """Apply the settings above once per process; True if they are in force.  Nothing happens outside glibc, with
    ``TEXTDIFUSE_TUNE_MALLOC=0``, or where the user set glibc's own ``MALLOC_MMAP_THRESHOLD_`` /
    ``MALLOC_TRIM_THRESHOLD_``."""
    applied = False
    wanted = os.environ.get(ENV_SWITCH, "1") != "0"
    user_set = any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"))
    if wanted and not user_set:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
            mallopt = None
        if mallopt is not None:
            # The mmap threshold first: setting either one turns glibc's dynamic adjustment off, and a trim
            # threshold alone would leave every block over 128 KB to mmap (2.5x slower, measured).
            applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                      TRIM_THRESHOLD))
            log.debug("host allocator tuned: %s", applied)
    return applied
