"""Event-loop latency of the desktop app while a fusion runs in the background (CPU).

A QTimer probe fires every 10 ms on the GUI thread; the latency of each tick
is how late it fires.  We report median, p95, p99 and max over the whole
fusion, for a classical method and for the diffusion model (the shipped
weights when present, otherwise a random network of the shipped
architecture, which costs the same per step).

Usage::

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_latency.py [--steps 4] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--demo", default="ir_vis", choices=("ir_vis", "mri_pet"))
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own, all cores, as in the app)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from textdifuse_desktop.gui import app as gui_app

    if args.threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    qt_app = gui_app.create_app()
    from PySide6 import QtCore

    from textdifuse_desktop.fusion.request import FusionParams
    from textdifuse_desktop.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1480, 860)
    window.show()
    window.open_demo(args.demo)
    qt_app.processEvents()

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    backend = _backend(args.steps)
    window.controller.backend = backend
    print(f"cores={os.cpu_count()} torch_threads={torch.get_num_threads()} image={window.panes['a'].image.grid_shape[1:]} "
          f"weights={'shipped' if backend is None else 'random (shipped architecture)'}")

    for params in (FusionParams(method="laplacian"), FusionParams(method="guided"),
                   FusionParams(method="textdifuse", steps=args.steps)):
        window.controller.cache.clear()
        lat: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            lat.append((now - last[0]) * 1000.0 - 10.0)
            last[0] = now

        timer = QtCore.QTimer()
        timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        timer.timeout.connect(tick)
        timer.start(10)
        started = time.perf_counter()
        window.run_fusion(params)
        window.wait_for_fusion(600_000)
        seconds = time.perf_counter() - started
        timer.stop()
        lat = sorted(max(0.0, x) for x in lat[1:])
        if not lat:
            lat = [0.0]
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        print(f"{params.method:>10} steps={params.steps if params.uses_model else '-':>2}: fusion {seconds:6.2f} s, "
              f"{len(lat)} probe ticks, latency median {statistics.median(lat):5.1f} ms, p95 {p(0.95):5.1f} ms, "
              f"p99 {p(0.99):5.1f} ms, max {lat[-1]:5.1f} ms")
    window.close()
    return 0


def _backend(steps: int):  # type: ignore[no-untyped-def]
    """None (use the shipped weights) or a random network of the shipped architecture."""
    from textdifuse_desktop.model.weights import default_weights_path

    if default_weights_path().is_file():
        return None
    import torch

    from textdifuse_desktop.fusion._model_backend import ModelBackend
    from textdifuse_desktop.model.network import build_model
    from textdifuse_desktop.model.sampler import DDIMSampler
    from textdifuse_desktop.model.weights import LoadedModel

    torch.manual_seed(0)
    net = build_model().eval()
    loaded = LoadedModel(net, DDIMSampler(prediction_type="x0"), {}, "random")
    return ModelBackend(loaded, torch.device("cpu"), steps=steps, rule="fcm", seed=0)


if __name__ == "__main__":
    sys.exit(main())
