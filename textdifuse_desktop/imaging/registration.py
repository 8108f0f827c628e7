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
from dataclasses import dataclass, replace

import numpy as np

from textdifuse_desktop.errors import FeatureUnavailableError, RegistrationError
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
    try:
        transform = method.Execute(fixed_itk, moving_itk)
    except RuntimeError as error:
        raise RegistrationError(f"registration failed: {error}", path=_first_path(moving)) from error
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
