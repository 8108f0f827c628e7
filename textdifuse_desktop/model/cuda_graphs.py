"""Replay the denoiser of a fusion as a CUDA graph.

Why: at desktop sizes the network is small for a GPU, and one call launches about 700 kernels. On an H200 a
640x480 call took 13 ms of CPU-side launching for about 4 ms of GPU work (``benchmarks/profile_cuda.py``).
A CUDA graph records the launches once per image shape and replays them with one call.

The graph reads its inputs from fixed buffers. A fusion copies its own noisy state, timestep, conditions,
restoration strength and the base layers of the two-scale split (computed eagerly) into them before each
replay, so consecutive fusions of one shape (video frames, a folder of pairs, re-fusing in the GUI) share one
graph. Fusions with region maps (kappa), other rules than the learned FCM, and any failure to capture fall back
to eager calls. ``TEXTDIFUSE_CUDA_GRAPHS=0`` turns graphs off.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor

log = logging.getLogger(__name__)

MAX_GRAPHS = 4  # graphs kept per network (each holds its activations' memory pool); a tiled image has up to 4 tile shapes


def graphs_enabled(device: torch.device) -> bool:
    """Whether fusions on ``device`` may use CUDA graphs (CUDA, and not switched off by the environment)."""
    return device.type == "cuda" and os.environ.get("TEXTDIFUSE_CUDA_GRAPHS", "1") not in ("0", "false", "no")


class GraphedDenoiser:
    """One captured two-source denoiser call for a fixed shape; see the module docstring."""

    def __init__(self, net: torch.nn.Module, x: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor,
                 restore: Tensor, statistics: Tensor | None = None):
        self.net = net
        self.x, self.t = x.clone(), t.clone()
        self.cond = (cond_a.clone(), cond_b.clone())
        self.restore = restore.clone()
        self.bases = net.compute_bases(*self.cond, statistics)
        self._pin_base_cache()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up: cuDNN picks its kernels outside the capture
            for _ in range(2):
                self._call()
        torch.cuda.current_stream().wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = self._call()

    def _call(self) -> Tensor:
        return self.net(self.x, self.t, *self.cond, restore=self.restore)

    def _pin_base_cache(self) -> None:
        # The network looks its base layers up by the identity of the conditions: point that cache at the
        # fixed buffers, which load() refreshes for every fusion.
        self.net.__dict__["_base_cache"] = (weakref.ref(self.cond[0]), weakref.ref(self.cond[1]), self.bases)

    def load(self, cond_a: Tensor, cond_b: Tensor, restore: Tensor, statistics: Tensor | None = None) -> None:
        """Copy one fusion's fixed inputs into the graph's buffers and recompute its base layers (and degradation
        statistics, unless given) there."""
        for buffer, value in zip(self.cond, (cond_a, cond_b)):
            buffer.copy_(value)
        self.restore.copy_(restore)
        for buffer, value in zip(self.bases, self.net.compute_bases(*self.cond, statistics)):
            buffer.copy_(value)
        self._pin_base_cache()

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        """The denoiser's output for this state and timestep (a new tensor)."""
        self.x.copy_(x)
        self.t.copy_(t)
        self.graph.replay()
        return self.out.clone()


def release_graphs(net: torch.nn.Module) -> None:
    """Drop the network's captured graphs and their memory pools (before retrying after running out of memory)."""
    for name in ("_cuda_graphs", "_cuda_graphs_failed", "_base_cache"):
        net.__dict__.pop(name, None)


def _key(x: Tensor, cond_a: Tensor, restore: Tensor) -> tuple:
    return (tuple(x.shape), x.dtype, x.device, x.stride(), cond_a.stride(), tuple(restore.shape))


def graphed_denoiser(net: torch.nn.Module, x: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor,
                     restore: float | Tensor, statistics: Tensor | None = None
                     ) -> Callable[[Tensor, Tensor], Tensor] | None:
    """A graphed denoiser for this fusion (loaded with its inputs), or None where graphs do not apply or
    capturing failed (the caller then calls the network eagerly)."""
    if not graphs_enabled(x.device) or torch.is_grad_enabled() or not hasattr(net, "compute_bases"):
        return None
    restore_t = torch.as_tensor(restore, dtype=torch.float32, device=x.device).reshape(-1, 1, 1, 1)
    restore_t = restore_t.expand(x.shape[0], 1, 1, 1).contiguous()
    graphs: OrderedDict = net.__dict__.setdefault("_cuda_graphs", OrderedDict())
    failed: set = net.__dict__.setdefault("_cuda_graphs_failed", set())
    key = _key(x, cond_a, restore_t)
    if key in failed:
        return None
    graph = graphs.get(key)
    try:
        if graph is None:
            graph = GraphedDenoiser(net, x, t, cond_a, cond_b, restore_t, statistics)
            graphs[key] = graph
            while len(graphs) > MAX_GRAPHS:
                graphs.popitem(last=False)
        else:
            graphs.move_to_end(key)
        graph.load(cond_a, cond_b, restore_t, statistics)
    except Exception as error:  # noqa: BLE001 - any capture failure: the eager path still works
        log.warning("CUDA graph capture failed (%s); fusing without graphs", error)
        graphs.pop(key, None)
        failed.add(key)
        net.__dict__.pop("_base_cache", None)
        return None
    return graph
