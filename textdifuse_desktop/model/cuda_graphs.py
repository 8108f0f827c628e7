"""Replay the denoiser of a fusion as a CUDA graph.

Why: at desktop sizes the network is small for a GPU, and one call launches about 700 kernels. On an H200 a
640x480 call took 13 ms of CPU-side launching for about 4 ms of GPU work (``benchmarks/profile_cuda.py``).
A CUDA graph records the launches once per image shape and replays them with one call.

The graph reads its inputs from fixed buffers. A fusion copies its own noisy state, timestep, conditions,
restoration weight and mix inputs (base layers and saliency prior, computed eagerly) into them before each
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
                 restore: Tensor, mix_conds: tuple[Tensor, Tensor] | None):
        self.net = net
        self.x, self.t = x.clone(), t.clone()
        self.cond = (cond_a.clone(), cond_b.clone())
        self.restore = restore.clone()
        self.mix_conds = None if mix_conds is None else (mix_conds[0].clone(), mix_conds[1].clone())
        mix_a, mix_b = self.mix_conds or self.cond
        self.bases, self.prior = net.compute_mix_inputs(mix_a, mix_b)
        self._pin_mix_cache()
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
        return self.net(self.x, self.t, *self.cond, restore=self.restore, mix_conds=self.mix_conds)

    def _pin_mix_cache(self) -> None:
        # The network looks its mix inputs up by the identity of the mix conditions: point that cache at the
        # fixed buffers, which load() refreshes for every fusion.
        mix_a, mix_b = self.mix_conds or self.cond
        self.net.__dict__["_mix_cache"] = (weakref.ref(mix_a), weakref.ref(mix_b), self.bases, self.prior)

    def load(self, cond_a: Tensor, cond_b: Tensor, restore: Tensor, mix_conds: tuple[Tensor, Tensor] | None) -> None:
        """Copy one fusion's fixed inputs into the graph's buffers and recompute its mix inputs there."""
        for buffer, value in zip(self.cond, (cond_a, cond_b)):
            buffer.copy_(value)
        self.restore.copy_(restore)
        if self.mix_conds is not None and mix_conds is not None:
            for buffer, value in zip(self.mix_conds, mix_conds):
                buffer.copy_(value)
        bases, prior = self.net.compute_mix_inputs(*(self.mix_conds or self.cond))
        for buffer, value in zip(self.bases + (self.prior or ()), bases + (prior or ())):
            buffer.copy_(value)
        self._pin_mix_cache()

    def __call__(self, x: Tensor, t: Tensor) -> Tensor:
        """The denoiser's output for this state and timestep (a new tensor)."""
        self.x.copy_(x)
        self.t.copy_(t)
        self.graph.replay()
        return self.out.clone()


def release_graphs(net: torch.nn.Module) -> None:
    """Drop the network's captured graphs and their memory pools (before retrying after running out of memory)."""
    for name in ("_cuda_graphs", "_cuda_graphs_failed", "_mix_cache"):
        net.__dict__.pop(name, None)


def _key(x: Tensor, cond_a: Tensor, restore: Tensor, mix_conds: tuple[Tensor, Tensor] | None) -> tuple:
    return (tuple(x.shape), x.dtype, x.device, x.stride(), cond_a.stride(), tuple(restore.shape),
            mix_conds is None)


def graphed_denoiser(net: torch.nn.Module, x: Tensor, t: Tensor, cond_a: Tensor, cond_b: Tensor,
                     restore: float | Tensor, mix_conds: tuple[Tensor, Tensor] | None) -> Callable[[Tensor, Tensor], Tensor] | None:
    """A graphed denoiser for this fusion (loaded with its inputs), or None where graphs do not apply or
    capturing failed (the caller then calls the network eagerly)."""
    if not graphs_enabled(x.device) or torch.is_grad_enabled() or not hasattr(net, "compute_mix_inputs"):
        return None
    restore_t = torch.as_tensor(restore, dtype=torch.float32, device=x.device).reshape(-1, 1, 1, 1)
    restore_t = restore_t.expand(x.shape[0], 1, 1, 1).contiguous()
    graphs: OrderedDict = net.__dict__.setdefault("_cuda_graphs", OrderedDict())
    failed: set = net.__dict__.setdefault("_cuda_graphs_failed", set())
    key = _key(x, cond_a, restore_t, mix_conds)
    if key in failed:
        return None
    graph = graphs.get(key)
    try:
        if graph is None:
            graph = GraphedDenoiser(net, x, t, cond_a, cond_b, restore_t, mix_conds)
            graphs[key] = graph
            while len(graphs) > MAX_GRAPHS:
                graphs.popitem(last=False)
        else:
            graphs.move_to_end(key)
        graph.load(cond_a, cond_b, restore_t, mix_conds)
    except Exception as error:  # noqa: BLE001 - any capture failure: the eager path still works
        log.warning("CUDA graph capture failed (%s); fusing without graphs", error)
        graphs.pop(key, None)
        failed.add(key)
        net.__dict__.pop("_mix_cache", None)
        return None
    return graph
