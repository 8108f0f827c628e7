"""Rigid registration with progress, cancel, a readable transform and a session record."""

from __future__ import annotations

import numpy as np
import pytest
from test_align_registration import _phantom, _rotation

from textdifuse_desktop.errors import FusionCancelled, RegistrationError
from textdifuse_desktop.fusion.request import CancelToken
from textdifuse_desktop.imaging.image import Image, affine_from_spacing
from textdifuse_desktop.imaging.registration import RigidResult, iter_register_rigid


def _pair():
    fixed = Image(_phantom((24, 28, 28)), axes="ZYX", affine=affine_from_spacing((2.0,) * 3, origin=(-27, -27, -23)))
    moving = fixed.with_pixels(200.0 - fixed.pixels, affine=affine_from_spacing((2.0,) * 3, origin=(-24, -27, -23)))
    return fixed, moving


def test_progress_is_reported_and_the_result_returned() -> None:
    fixed, moving = _pair()
    gen = iter_register_rigid(fixed, moving, iterations=40, sampling=0.3)
    reports = []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as stop:
            result = stop.value
            break
    assert reports and {r.levels for r in reports} == {3}
    assert 0 < reports[-1].fraction <= 1 and all(np.isfinite(r.metric) for r in reports)
    assert isinstance(result, RigidResult) and result.matrix.shape == (4, 4)


def test_cancel_stops_the_registration() -> None:
    fixed, moving = _pair()
    token = CancelToken()
    gen = iter_register_rigid(fixed, moving, token, iterations=400, sampling=0.3)
    next(gen)
    token.cancel()
    with pytest.raises(FusionCancelled, match="registration cancelled"):
        for _ in gen:
            pass


def test_summary_and_round_trip_of_the_transform() -> None:
    matrix = _rotation("z", 10.0) @ _rotation("x", -5.0)
    matrix[:3, 3] = (3.0, -4.0, 12.0)
    result = RigidResult(matrix=matrix, metric=-0.5, iterations=12)
    rx, ry, rz = result.euler_degrees
    assert rx == pytest.approx(-5.0) and ry == pytest.approx(0.0, abs=1e-9) and rz == pytest.approx(10.0)
    text = result.summary()
    assert "R -5.00\u00b0" in text and "S +10.00\u00b0" in text and "S +12.0 mm" in text and "|t| 13.0 mm" in text
    again = RigidResult.from_dict(result.to_dict())
    np.testing.assert_allclose(again.matrix, matrix, atol=1e-9)
    with pytest.raises(RegistrationError, match="not a rigid 4x4"):
        RigidResult.from_dict({"matrix": np.diag([2.0, 1, 1, 1]).tolist()})
