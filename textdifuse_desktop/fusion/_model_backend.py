"""The diffusion model as a tiling backend; the only fusion module that imports torch.

Models are loaded once and cached per (weights file, device), so that the
GUI's repeated runs and the CLI's folder loops do not reload them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textdifuse_desktop.errors import DeviceError
from textdifuse_desktop.fusion._tiling import OutOfDeviceMemory

log = logging.getLogger(__name__)

_CACHE: OrderedDict[tuple[str, str], Any] = OrderedDict()
_CACHE_SIZE = 2
_LOCK = threading.Lock()
_LOADING = threading.Lock()  # one load at a time: a fusion started during the start-up warm-up waits for it
WARM_UP_SIZE = 64  # pixels; big enough to run every level of the network


def resolve_device(preference: str) -> torch.device:
    """``params.device`` -> torch device (cuda > mps > cpu for "auto"); DeviceError if unavailable."""
    from textdifuse_desktop.model.device import select_device

    return select_device(preference)


def get_loaded_model(weights: str | None, device: torch.device) -> Any:
    """Load (or fetch from the cache) the model for ``weights`` on ``device``.

    Returns the model package's ``LoadedModel`` (``net``, ``sampler``,
    ``card``, ``sha256``).  Raises ModelLoadError / WeightsIntegrityError
    from :func:`textdifuse_desktop.model.weights.load_model`.
    """
    from textdifuse_desktop.model.host_allocator import tune_host_allocator
    from textdifuse_desktop.model.weights import default_weights_path, load_model

    tune_host_allocator()  # before the first fusion's allocations (see its module)
    path = Path(weights) if weights else Path(default_weights_path())
    key = (str(path.resolve()), str(device))
    with _LOADING:
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
        loaded = load_model(path, device=device)
        loaded.net.eval()
        with _LOCK:
            _CACHE[key] = loaded
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    log.info("loaded model %s on %s (sha256 %s)", path, device, str(loaded.sha256)[:12])
    return loaded


def warm_up(weights: str | None, device_pref: str) -> ModelBackend:
    """Load the model (cached) and run one small noisy pair through its restorer and its fusion.

    Importing torch, loading the weights and the first call's kernel set-up take about 2 s on 2 CPU cores.
    The GUI calls this in the background at start-up so that the user's first fusion does not pay for them.
    """
    backend = make_backend(weights, device_pref, steps=1, rule="fcm", seed=0)
    rng = np.random.default_rng(0)
    shape = (1, WARM_UP_SIZE, WARM_UP_SIZE)
    ya, yb = (rng.random(shape, dtype=np.float32) for _ in range(2))
    for stage in (backend.restorer_pass(), backend):  # as the engine runs them
        if stage is not None:
            for _ in stage.run(ya, yb, None, None, preview=False):
                pass
    return backend


def clear_model_cache() -> None:
    """Forget every cached model (frees their memory once no result refers to them)."""
    with _LOCK:
        _CACHE.clear()


def _is_oom(error: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(error, oom_type):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


class ModelBackend:
    """Runs :func:`textdifuse_desktop.model.inference.iter_fuse` on numpy stacks."""

    def __init__(self, loaded: Any, device: torch.device, *, steps: int, rule: str, seed: int,
                 restore: float = 1.0, statistics: torch.Tensor | None = None):
        self.loaded = loaded
        self.statistics = statistics  # the gate's degradation statistics of the whole acquisition (for_sources)
        self.device = device
        self.steps = int(steps)
        self.rule = rule
        self.seed = int(seed)
        self.multiple = int(getattr(loaded.net, "multiple", 16))
        self.restore = float(restore)
        self.cache_token = (str(loaded.sha256), str(device), self.steps, rule, self.seed, self.restore)

    @property
    def sampler_config(self) -> dict[str, Any]:
        """The sampler's configuration, recorded with every result."""
        return dict(getattr(self.loaded.sampler, "config", {}) or {})

    def start_noise(self, shape: tuple[int, int, int]) -> np.ndarray:
        """The seeded start noise of a whole ``(N, H, W)`` stack (the tiler crops it per tile)."""
        from textdifuse_desktop.model.inference import initial_noise

        return initial_noise((shape[0], 1, shape[1], shape[2]), self.seed, "cpu")[:, 0].numpy()

    def _tensor(self, x: np.ndarray | None) -> torch.Tensor | None:
        if x is None:
            return None
        return torch.from_numpy(np.require(x, np.float32, ["C", "W"]))[:, None].to(self.device)

    def restorer_pass(self) -> RestorerPass | None:
        """The network's restorer as a tiling backend, for the engine to restore whole stacks before the tone curves
        and the fusion; None without a restorer or at restoration strength 0."""
        return RestorerPass(self) if self.loaded.net.restorer is not None and self.restore > 0 else None

    def correct_tones(self, raw: tuple[np.ndarray, np.ndarray], restored: tuple[np.ndarray, np.ndarray],
                      one_acquisition: bool, modalities: tuple[str | None, str | None] = (None, None)
                      ) -> tuple[np.ndarray, np.ndarray, dict[str, list[dict[str, float]]] | None]:
        """The ``restored`` ``(N, H, W)`` stacks in [0, 1] through the network's learned tone curves, which read
        them and the ``raw`` ones (one curve per source for the whole stack with ``one_acquisition``, else one per
        plane), before any tiling.  ``modalities``: the sources' codes (``"IR"``, ``"MR"``...; None or ``"OT"``
        where unknown), which the correction reads.

        Also returns the corrections applied, for the result's record (None when none ran)."""
        from textdifuse_desktop.model.inference import correct_tones
        from textdifuse_desktop.model.tone import modalities_known

        if self.loaded.net.tone is None or self.restore <= 0 or not modalities_known(modalities):
            return restored[0], restored[1], None  # nothing to correct: no copy of the stacks to the device and back
        ta, tb, curves = correct_tones(self.loaded.net, tuple(map(self._tensor, raw)),
                                       tuple(map(self._tensor, restored)), self.restore, modalities=modalities,
                                       one_acquisition=one_acquisition, return_curves=True)
        record = {side: [describe_curve(row) for row in params.cpu().tolist()[:1 if one_acquisition else None]]
                  for side, params in zip("ab", curves)}
        return ta[:, 0].float().cpu().numpy(), tb[:, 0].float().cpu().numpy(), record

    def tone_note(self, modalities: tuple[str | None, str | None]) -> str | None:
        """Why the network's tone correction cannot run on sources of these ``modalities`` (one of them unknown),
        or None when it can or there is none to run."""
        from textdifuse_desktop.model.tone import modalities_known, modality_code

        if self.loaded.net.tone is None or self.restore <= 0 or modalities_known(modalities):
            return None
        sides = [side for side, m in zip("AB", modalities) if modality_code(m) is None]
        what = (f"the modality of source {sides[0]} is unknown" if len(sides) == 1
                else "the modalities of sources A and B are unknown")
        return (f"{what}, so the network's tone correction (contrast, low light, exposure) was not applied; name "
                f"{'it' if len(sides) == 1 else 'them'} (Sources panel, or --modality-a/--modality-b) to have it")

    def for_sources(self, ya: np.ndarray, yb: np.ndarray) -> ModelBackend:
        """This backend for one acquisition: ``(N, H, W)`` stacks in [0, 1] (a 2D pair, a volume, a clip), whose
        degradation statistics the network's gate then reads for every tile and slice (see
        :func:`~textdifuse_desktop.model.inference.acquisition_statistics`).  The same backend when the network
        has no such gate input."""
        from textdifuse_desktop.model.inference import acquisition_statistics

        if not self.loaded.net.gate_conditioned:
            return self  # no copy of the whole stacks to the device for nothing
        statistics = acquisition_statistics(self.loaded.net, self._tensor(ya), self._tensor(yb))
        return ModelBackend(self.loaded, self.device, steps=self.steps, rule=self.rule, seed=self.seed,
                            restore=self.restore, statistics=statistics)

    def run(
        self,
        ya: np.ndarray,
        yb: np.ndarray,
        ka: np.ndarray | None,
        kb: np.ndarray | None,
        preview: bool,
        noise: np.ndarray | None = None,
    ) -> Generator[np.ndarray | None, None, np.ndarray]:
        """Fuse padded ``(N, H, W)`` stacks; yields per step, returns ``(N, H, W)`` in [0, 1].

        ``noise``: the start noise (from :meth:`start_noise`, cropped like the inputs), or None to
        draw it from the seed.
        """
        from textdifuse_desktop.model.inference import iter_fuse

        try:
            gen = iter_fuse(
                self.loaded.net,
                self.loaded.sampler,
                self._tensor(ya),
                self._tensor(yb),
                steps=self.steps,
                rule=self.rule,
                kappa_a=self._tensor(ka),
                kappa_b=self._tensor(kb),
                seed=self.seed,
                noise=self._tensor(noise),
                restore=self.restore,
                prepared=True,  # restored and tone-corrected over the whole stack first (see the engine)
                statistics=self.statistics,
            )
            while True:
                try:
                    info = next(gen)
                except StopIteration as stop:
                    fused = stop.value
                    break
                if preview and getattr(info, "pred_x0", None) is not None:
                    yield info.pred_x0[:, 0].detach().float().clamp(0, 1).cpu().numpy()
                else:
                    yield None
            return fused[:, 0].detach().float().clamp(0, 1).cpu().numpy()
        except (RuntimeError, MemoryError) as error:
            self.raise_out_of_memory(error)
            raise

    def raise_out_of_memory(self, error: BaseException) -> None:
        """Raise :class:`OutOfDeviceMemory` (after freeing what can be freed) if ``error`` is an out-of-memory."""
        from textdifuse_desktop.model.cuda_graphs import release_graphs

        if isinstance(error, MemoryError) or _is_oom(error):
            if self.device.type == "cuda":
                release_graphs(self.loaded.net)
                torch.cuda.empty_cache()
            raise OutOfDeviceMemory(str(self.device), error) from error


class RestorerPass:
    """The network's restorer over ``(N, H, W)`` stacks as a one-step tiling backend (:class:`~._tiling.Backend`):
    the engine restores whole images and volumes with it, before the tone curves, which read the restored sources,
    and the fusion.  The restorer is local (nothing pools over the image), so tiles and slices restore alone."""

    steps = 1

    def __init__(self, backend: ModelBackend):
        self.backend = backend
        self.multiple = backend.multiple
        self.device = backend.device

    def run(self, ya: np.ndarray, yb: np.ndarray | None, ka: np.ndarray | None, kb: np.ndarray | None,
            preview: bool) -> Generator[None, None, np.ndarray]:
        """Restore the padded stack ``ya`` (``yb`` and the kappa maps are ignored: one source per pass)."""
        from textdifuse_desktop.model.inference import restore_sources

        net = self.backend.loaded.net
        try:
            restored = restore_sources(net, self.backend._tensor(ya), None, self.backend.restore)[0]
        except (RuntimeError, MemoryError) as error:
            self.backend.raise_out_of_memory(error)
            raise
        yield None
        return restored[:, 0].float().cpu().numpy()


def describe_curve(params: list[float]) -> dict[str, float]:
    """One tone correction ``y' = y + weight * (clamp((y - offset) * gain) ** power - y)`` as a readable record."""
    offset, log_gain, log_power, logit = params
    return {"offset": round(offset, 4), "gain": round(float(np.exp(log_gain)), 4),
            "power": round(float(np.exp(log_power)), 4), "weight": round(float(1 / (1 + np.exp(-logit))), 4)}


def make_backend(weights: str | None, device_pref: str, *, steps: int, rule: str, seed: int,
                 restore: float = 1.0) -> ModelBackend:
    """Select the device, load (cached) weights and wrap them as a backend."""
    device = resolve_device(device_pref)
    loaded = get_loaded_model(weights, device)
    return ModelBackend(loaded, device, steps=steps, rule=rule, seed=seed, restore=restore)


def cpu_fallback(backend: ModelBackend | RestorerPass, weights: str | None) -> ModelBackend | RestorerPass:
    """The same model (or restorer pass) on the CPU (after running out of memory on an accelerator)."""
    if isinstance(backend, RestorerPass):
        return RestorerPass(cpu_fallback(backend.backend, weights))  # type: ignore[arg-type]
    if backend.device.type == "cpu":
        raise DeviceError("out of memory on the CPU even with the smallest tiles",
                          hint="close other programs or fuse a smaller image")
    cpu = torch.device("cpu")
    loaded = get_loaded_model(weights, cpu)
    statistics = backend.statistics.cpu() if backend.statistics is not None else None
    return ModelBackend(loaded, cpu, steps=backend.steps, rule=backend.rule, seed=backend.seed,
                        restore=backend.restore, statistics=statistics)
