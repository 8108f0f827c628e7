"""Fusion: request/result types and the engine.

Importing this package never loads torch: the engine imports it lazily, only
when the diffusion model runs (classical methods never load it).
"""

from textdifuse_desktop.fusion.engine import (
    clear_cache,
    fuse,
    run_fusion,
    run_video_fusion,
)
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
    "clear_cache",
    "fuse",
    "run_fusion",
    "run_video_fusion",
]
