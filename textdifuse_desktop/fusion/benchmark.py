"""Speed and memory of fusion: milliseconds per megapixel and peak memory per configuration.

Each configuration runs in a fresh subprocess (``python -m
textdifuse_desktop.fusion.benchmark --one '{json}'``) so that its peak memory
is its own: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the run minus
the value before the first fusion (after imports and model loading), i.e.
the working memory of fusion beyond what imports and model loading already
reached (0 when fusion stays below that high-water mark); the process's
total peak RSS is reported too.  On CUDA the fusion peak is
``torch.cuda.max_memory_allocated`` (weights included).  tracemalloc does not see torch's
allocations, so it is not used.

Inputs are synthetic (a grey "infrared" and a colour "visible" image with
structure and noise); timing covers the whole engine (windowing, colour,
padding, tiling and the model) and is the median of ``repeats`` runs after
one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from textdifuse_desktop.fusion.request import (
    CLASSICAL_METHODS,
    FusionParams,
    FusionRequest,
)
from textdifuse_desktop.imaging.image import Image

log = logging.getLogger(__name__)

DEFAULT_SIZES = ((256, 256), (640, 480), (1280, 1024))
DEFAULT_STEPS = (1, 2, 4, 8)


@dataclass
class BenchRow:
    """One measured configuration."""

    method: str
    device: str
    width: int
    height: int
    steps: int | None
    seconds: float
    ms_per_mp: float
    peak_mb: float
    threads: int
    error: str = ""
    peak_rss_mb: float = float("nan")


def synthetic_pair(width: int, height: int, seed: int = 0) -> tuple[Image, Image]:
    """A grey IR-like and a colour VIS-like image with edges, gradients and noise (0..255)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    ir = 90 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0) + rng.normal(0, 8, (height, width))
    ir[height // 3 : height // 2, width // 4 : width // 3] = 230  # a hot target
    vis = np.stack([xx / width * 255, yy / height * 255, 128 + 100 * np.sin((xx + yy) / 31.0)], axis=-1)
    vis += rng.normal(0, 6, vis.shape)
    return (
        Image(np.clip(ir, 0, 255).astype(np.float32), modality="IR"),
        Image(np.clip(vis, 0, 255).astype(np.float32), axes="YXC", modality="VIS"),
    )


def _peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def measure_one(method: str, width: int, height: int, steps: int | None, device: str = "cpu",
                weights: str | None = None, repeats: int = 3) -> BenchRow:
    """Measure one configuration in this process (see the module docstring)."""
    from textdifuse_desktop.fusion.engine import fuse

    a, b = synthetic_pair(width, height)
    params = FusionParams(method=method, steps=steps or 1, device=device, weights=weights)
    threads, torch_module = 1, None
    if params.uses_model:
        import torch

        from textdifuse_desktop.fusion._model_backend import make_backend

        torch_module = torch
        threads = torch.get_num_threads()
        backend = make_backend(weights, device, steps=params.steps, rule=params.rule, seed=params.seed)
        device = str(backend.device)
        if backend.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    baseline = _peak_rss_mb()
    times = []
    for index in range(repeats + 1):
        started = time.perf_counter()
        fuse(FusionRequest(a, b, params))
        if torch_module is not None and device.startswith("cuda"):
            torch_module.cuda.synchronize()
        if index > 0:  # the first run warms up caches and kernels
            times.append(time.perf_counter() - started)
    if torch_module is not None and device.startswith("cuda"):
        peak = torch_module.cuda.max_memory_allocated() / 2**20
    else:
        peak = _peak_rss_mb() - baseline
    seconds = statistics.median(times)
    return BenchRow(method, device, width, height, steps if params.uses_model else None, seconds,
                    1000.0 * seconds / (width * height / 1e6), peak, threads, peak_rss_mb=_peak_rss_mb())


def _run_isolated(config: dict[str, Any], timeout: float) -> BenchRow:
    command = [sys.executable, "-m", "textdifuse_desktop.fusion.benchmark", "--one", json.dumps(config)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return _failed(config, f"timed out after {timeout:.0f} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return _failed(config, tail)
    return BenchRow(**json.loads(lines[-1]))


def _failed(config: dict[str, Any], error: str) -> BenchRow:
    return BenchRow(config["method"], config["device"], config["width"], config["height"], config.get("steps"),
                    float("nan"), float("nan"), float("nan"), 0, error)


def run_benchmark(
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    steps: Sequence[int] = DEFAULT_STEPS,
    devices: Sequence[str] | None = None,
    methods: Sequence[str] = ("textdifuse", *CLASSICAL_METHODS),
    weights: str | None = None,
    repeats: int = 3,
    isolate: bool = True,
    timeout: float = 600.0,
    on_row: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """Measure every (device, method, size, steps) configuration; model steps only apply to ``textdifuse``.

    ``devices`` defaults to the CPU plus CUDA when present.  Classical methods
    always run on the CPU (once per size).
    """
    if devices is None:
        devices = ["cpu"] + (["cuda"] if _cuda_available() else [])
    if "textdifuse" in methods and weights is None and not _default_weights_exist():
        weights = random_weights()
        log.warning("shipped weights not found; timing a random model of the shipped config (%s)", weights)
    configs = []
    for method in methods:
        for device in devices if method == "textdifuse" else ["cpu"]:
            for width, height in sizes:
                for n in steps if method == "textdifuse" else [None]:
                    configs.append({"method": method, "width": width, "height": height, "steps": n,
                                    "device": device, "weights": weights, "repeats": repeats})
    rows = []
    for config in configs:
        row = _run_isolated(config, timeout) if isolate else measure_one(**config)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def _default_weights_exist() -> bool:
    from textdifuse_desktop.model.weights import default_weights_path

    return default_weights_path().is_file()


def random_weights(folder: str | None = None) -> str:
    """Save a randomly initialised model of the shipped architecture; returns its path.

    Speed and memory do not depend on the weight values, so this stands in
    for the shipped weights when they are not there.
    """
    import tempfile
    from pathlib import Path

    import torch

    from textdifuse_desktop.model.network import build_model, default_config
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import save_model

    torch.manual_seed(0)
    path = Path(folder or tempfile.mkdtemp(prefix="textdifuse-bench-")) / "model.safetensors"
    save_model(build_model(default_config()), DDIMSampler().config, path, {"note": "random, for benchmarks"})
    return str(path)


def _cuda_available() -> bool:
    code = "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, check=False).returncode == 0


def markdown_table(rows: Sequence[BenchRow]) -> str:
    """The rows as a Markdown table."""
    lines = ["| method | device | size | steps | s / image | ms / MP | peak MB (fusion) | peak RSS MB (process) | threads |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        size = f"{r.width}x{r.height}"
        if r.error:
            lines.append(f"| {r.method} | {r.device} | {size} | {r.steps or '-'} | failed: {r.error} | | | | |")
            continue
        lines.append(f"| {r.method} | {r.device} | {size} | {r.steps or '-'} | {r.seconds:.3f} | "
                     f"{r.ms_per_mp:.0f} | {r.peak_mb:.0f} | {r.peak_rss_mb:.0f} | {r.threads} |")
    return "\n".join(lines)


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="internal: measure one benchmark configuration")
    parser.add_argument("--one", required=True, help="JSON configuration")
    config = json.loads(parser.parse_args(argv).one)
    row = measure_one(**config)
    print(json.dumps(asdict(row)))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
