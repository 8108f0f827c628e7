"""Torch-free request/result types."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from textdifuse_desktop.errors import FusionCancelled
from textdifuse_desktop.fusion import (
    CancelToken,
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)
from textdifuse_desktop.imaging.image import Image


def test_params_defaults_round_trip_and_validation() -> None:
    params = FusionParams()
    assert (params.method, params.steps, params.rule, params.device, params.seed, params.tile) == (
        "textdifuse", 2, "fcm", "auto", 0, 1536)
    changed = FusionParams(method="max", steps=8, rule="variance", device="cuda:1", seed=3, weights="w.safetensors")
    assert FusionParams.from_dict({**changed.to_dict(), "future_key": 1}) == changed
    assert not changed.uses_model and params.uses_model
    assert params.cache_key() != FusionParams(seed=1).cache_key()
    assert params.restore == 1.0 and params.cache_key() != FusionParams(restore=0.0).cache_key()
    for bad in ({"method": "nope"}, {"rule": "min"}, {"steps": 0}, {"tile": -1}, {"device": "tpu"},
                {"restore": -0.1}, {"restore": 2.0}):
        with pytest.raises(ValueError):
            FusionParams(**bad)


def test_request_modulated_flag_and_progress_fraction() -> None:
    image = Image(np.zeros((4, 4), np.float32))
    assert not FusionRequest(image, image).modulated
    assert FusionRequest(image, image, kappa_b=np.ones((4, 4))).modulated
    assert Progress(3, 4).fraction == 0.75 and Progress(0, 0).fraction == 0.0


def test_result_record_is_plain_data() -> None:
    image = Image(np.zeros((4, 4), np.float32))
    result = FusionResult(image, FusionParams(steps=2), {"steps": 2}, "ab" * 32, 1.23456, "cpu", ["w"])
    record = result.record()
    assert record["params"]["steps"] == 2 and record["weights_sha256"] == "ab" * 32
    assert record["seconds"] == 1.2346 and record["warnings"] == ["w"]


def test_cancel_token_across_threads() -> None:
    token = CancelToken()
    assert not token.cancelled
    token.raise_if_cancelled()
    thread = threading.Thread(target=token.cancel)
    thread.start()
    thread.join()
    assert token.cancelled
    with pytest.raises(FusionCancelled):
        token.raise_if_cancelled()


def test_fusion_package_import_is_torch_free() -> None:
    code = ("import sys, textdifuse_desktop.fusion, textdifuse_desktop.fusion.engine, "
            "textdifuse_desktop.fusion.video, textdifuse_desktop.fusion.benchmark; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
