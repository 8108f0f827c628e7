"""Fusion: torch-free request/result types here; the engine lives in :mod:`.engine`.

Importing this package never loads torch; ``from textdifuse_desktop.fusion.engine
import run_fusion`` does (lazily, only when the diffusion model is used).
"""

from textdifuse_desktop.fusion.request import (
    CLASSICAL_METHODS,
    METHODS,
    RULES,
    CancelToken,
    FusionParams,
    FusionRequest,
    FusionResult,
    Progress,
)

__all__ = [
    "CLASSICAL_METHODS",
    "METHODS",
    "RULES",
    "CancelToken",
    "FusionParams",
    "FusionRequest",
    "FusionResult",
    "Progress",
]
