"""Compute-device choice: cuda > mps > cpu."""

from __future__ import annotations

import logging

import torch

from textdifuse_desktop.errors import DeviceError

log = logging.getLogger(__name__)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(preference: str = "auto") -> torch.device:
    """The device to run on.

    Parameters
    ----------
    preference:
        ``"auto"`` (CUDA, then Apple MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Raises
    ------
    DeviceError
        If the requested device is not available on this machine.
    """
    pref = (preference or "auto").strip().lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref == "cpu":
        return torch.device("cpu")
    if pref == "mps":
        if not _mps_available():
            raise DeviceError("Apple MPS was requested but is not available", hint="use --device cpu or auto")
        return torch.device("mps")
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"{preference} was requested but no CUDA GPU is available",
                              hint="use --device cpu or auto")
        try:
            device = torch.device(pref)
        except RuntimeError as error:
            raise DeviceError(f"invalid device {preference!r}", hint="use cuda or cuda:N") from error
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{preference} was requested but only {torch.cuda.device_count()} GPU(s) exist",
                              hint="use cuda:0 or auto")
        return device
    raise DeviceError(f"unknown device {preference!r}", hint="use auto, cpu, cuda, cuda:N or mps")
