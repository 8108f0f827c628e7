"""Rigid registration of volumes by mutual information (SimpleITK).

ITK works in LPS physical space; our affines are RAS.  The conversion happens
only here, at the boundary, with :data:`~textdifuse_desktop.imaging.image.LPS_TO_RAS`.

The transform returned by :func:`register_rigid` maps *fixed* world points
(RAS mm) to *moving* world points, as ITK does.  Applying it never resamples:
it only rewrites the moving image's affine (:func:`apply_rigid`), so that the
later resampling onto the fixed grid is a single interpolation.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from textdifuse_desktop.errors import (
    FeatureUnavailableError,
    FusionCancelled,
    RegistrationError,
)
from textdifuse_desktop.imaging.image import LPS_TO_RAS, Image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RigidResult:
    """Outcome of a rigid registration.

    Attributes
    ----------
    matrix:
        4x4 map from fixed RAS mm to moving RAS mm.
    metric:
        Final Mattes mutual information (negative; lower is better).
    iterations:
        Optimiser iterations at the finest level.
    """

    matrix: np.ndarray
    metric: float
    iterations: int

    @property
    def rotation_degrees(self) -> float:
        """Total rotation angle of the transform, in degrees."""
        rotation = self.matrix[:3, :3]
        cos_angle = np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0)
        return float(np.degrees(np.arccos(cos_angle)))

    @property
    def translation_mm(self) -> np.ndarray:
        """Translation part (RAS mm) of the transform."""
        return self.matrix[:3, 3].copy()

    @property
    def euler_degrees(self) -> np.ndarray:
        """Rotations about the R, A and S axes in degrees (``R = Rz @ Ry @ Rx``, as ITK's Euler3DTransform)."""
        r = self.matrix[:3, :3]
        about_a = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
        about_r = np.arctan2(r[2, 1], r[2, 2])
        about_s = np.arctan2(r[1, 0], r[0, 0])
        return np.degrees([about_r, about_a, about_s])

    def summary(self) -> str:
        """One line for people: rotation and translation of B onto A."""
        rx, ry, rz = self.euler_degrees
        tx, ty, tz = self.translation_mm
        return (f"rotation {self.rotation_degrees:.2f}\u00b0 (R {rx:+.2f}\u00b0, A {ry:+.2f}\u00b0, S {rz:+.2f}\u00b0), "
                f"translation R {tx:+.1f} mm, A {ty:+.1f} mm, S {tz:+.1f} mm (|t| {np.linalg.norm(self.translation_mm):.1f} mm)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable record (saved in sessions)."""
        return {"matrix": np.asarray(self.matrix, dtype=float).round(9).tolist(), "metric": float(self.metric),
                "iterations": int(self.iterations), "rotation_degrees": round(self.rotation_degrees, 4),
                "translation_mm": [round(float(v), 4) for v in self.translation_mm]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RigidResult:
        """Inverse of :meth:`to_dict`; RegistrationError when the matrix is not a rigid 4x4 transform."""
        matrix = np.asarray(data.get("matrix"), dtype=np.float64)
        if matrix.shape != (4, 4) or not np.isfinite(matrix).all() or \
                not np.allclose(matrix[:3, :3] @ matrix[:3, :3].T, np.eye(3), atol=1e-4):
            raise RegistrationError(f"the saved registration is not a rigid 4x4 transform: {data.get('matrix')!r}")
        return cls(matrix=matrix, metric=float(data.get("metric", 0.0)), iterations=int(data.get("iterations", 0)))


@dataclass(frozen=True)
class RegistrationProgress:
    """Where a running registration is: pyramid level (0-based of ``levels``), iteration and metric."""

    level: int
    levels: int
    iteration: int
    iterations: int
    metric: float

    @property
    def fraction(self) -> float:
        """Rough share done (levels count equally; a level may converge before its last iteration)."""
        return min(1.0, (self.level + min(self.iteration, self.iterations) / self.iterations) / self.levels)


def _sitk():  # type: ignore[no-untyped-def]
    try:
        import SimpleITK as sitk
    except ImportError as error:  # pragma: no cover - SimpleITK is a dependency
        raise FeatureUnavailableError("rigid registration needs SimpleITK", hint="pip install SimpleITK") from error
    return sitk


def to_sitk(image: Image):  # type: ignore[no-untyped-def]
    """A SimpleITK image (LPS geometry) of a grey volume."""
    sitk = _sitk()
    if not image.is_volume or image.has_channels:
        raise RegistrationError("rigid registration needs grey volumes (ZYX)", path=_first_path(image))
    itk = sitk.GetImageFromArray(np.ascontiguousarray(image.pixels, dtype=np.float32))
    affine = LPS_TO_RAS @ image.affine
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / spacing
    itk.SetSpacing([float(s) for s in spacing])
    itk.SetDirection([float(d) for d in direction.ravel()])
    itk.SetOrigin([float(o) for o in affine[:3, 3]])
    return itk


def _first_path(image: Image) -> str | None:
    return image.provenance.source_paths[0] if image.provenance.source_paths else None


def register_rigid(
    fixed: Image,
    moving: Image,
    *,
    iterations: int = 200,
    sampling: float = 0.25,
    seed: int = 0,
    on_progress: Callable[[RegistrationProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RigidResult:
    """Find the rigid transform that aligns ``moving`` to ``fixed`` (Mattes MI).

    Multi-resolution (shrink 4, 2, 1), centred initialisation by geometry,
    regular-step gradient descent on Euler angles and translation.  Mutual
    information makes it work across modalities (MRI to CT/PET).

    Raises
    ------
    RegistrationError
        The optimiser failed, or the result moved more than half the field of
        view (almost always a failure rather than a real misalignment).
    FusionCancelled
        ``should_stop()`` turned True (checked every optimiser iteration).
    """
    sitk = _sitk()
    fixed_itk, moving_itk = to_sitk(fixed), to_sitk(moving)
    initial = sitk.CenteredTransformInitializer(
        fixed_itk, moving_itk, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling, seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-4, numberOfIterations=iterations, gradientMagnitudeTolerance=1e-8
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 1.0, 0.0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    stopped = threading.Event()

    def on_iteration() -> None:
        if should_stop is not None and should_stop():
            stopped.set()
            method.StopRegistration()
        if on_progress is not None:
            on_progress(RegistrationProgress(int(method.GetCurrentLevel()), 3, int(method.GetOptimizerIteration()),
                                             iterations, float(method.GetMetricValue())))

    if on_progress is not None or should_stop is not None:
        method.AddCommand(sitk.sitkIterationEvent, on_iteration)
    try:
        transform = method.Execute(fixed_itk, moving_itk)
    except RuntimeError as error:
        if stopped.is_set():
            raise FusionCancelled("registration cancelled by the user") from error
        raise RegistrationError(f"registration failed: {error}", path=_first_path(moving)) from error
    if stopped.is_set():
        raise FusionCancelled("registration cancelled by the user")
    matrix_lps = _to_matrix(transform)
    matrix = LPS_TO_RAS @ matrix_lps @ LPS_TO_RAS
    result = RigidResult(matrix=matrix, metric=float(method.GetMetricValue()), iterations=int(method.GetOptimizerIteration()))
    extent = np.array(fixed.grid_shape[::-1]) * np.array(fixed.spacing)
    if np.linalg.norm(result.translation_mm) > 0.5 * np.linalg.norm(extent):
        raise RegistrationError(
            f"registration moved the image by {np.linalg.norm(result.translation_mm):.0f} mm, more than half the field of view",
            path=_first_path(moving),
            hint="check that both volumes show the same anatomy, or align them roughly first",
        )
    log.info("rigid registration: %.2f deg, %s mm, MI %.4f", result.rotation_degrees, result.translation_mm.round(2), result.metric)
    return result


def _to_matrix(transform) -> np.ndarray:  # type: ignore[no-untyped-def]
    """4x4 matrix of a (possibly composite) SimpleITK rigid transform."""
    sitk = _sitk()
    if isinstance(transform, sitk.CompositeTransform):
        matrix = np.eye(4)
        for index in range(transform.GetNumberOfTransforms()):
            # Composite transforms apply the last-added transform first.
            matrix = matrix @ _to_matrix(transform.GetNthTransform(index))
        return matrix
    if hasattr(transform, "Downcast"):
        transform = transform.Downcast()
    rotation = np.array(transform.GetMatrix()).reshape(3, 3)
    center = np.array(transform.GetCenter())
    translation = np.array(transform.GetTranslation())
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = center + translation - rotation @ center
    return matrix


def apply_rigid(moving: Image, result: RigidResult) -> Image:
    """``moving`` re-expressed in the fixed image's world (affine only, no resampling)."""
    affine = np.linalg.inv(result.matrix) @ moving.affine
    meta = dict(moving.meta)
    meta["registration"] = {"matrix": result.matrix.round(6).tolist(), "metric": result.metric}
    return replace(moving, affine=affine, meta=meta)


def iter_register_rigid(fixed: Image, moving: Image, cancel: Any = None,
                        **options: Any) -> Generator[RegistrationProgress, None, RigidResult]:
    """:func:`register_rigid` as a generator of progress (for GUI workers); returns the RigidResult.

    ``cancel`` is anything with a ``cancelled`` attribute (a CancelToken); the registration stops at its next
    optimiser iteration and FusionCancelled is raised.  ITK runs in a helper thread; reports are relayed here.
    """
    reports: queue.Queue[Any] = queue.Queue()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = register_rigid(fixed, moving, on_progress=reports.put,
                                               should_stop=lambda: bool(getattr(cancel, "cancelled", False)),
                                               **options)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = error
        finally:
            reports.put(None)

    thread = threading.Thread(target=work, name="rigid-registration", daemon=True)
    thread.start()
    while True:
        report = reports.get()
        if report is None:
            break
        yield report
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
