"""Evaluate folders of fused images: pair files by name, compute every metric, average per method.

Files are paired by stem (``00537D.png`` in the A folder with ``00537D.jpg``
in a fused folder).  Problems with single files (missing partner, unreadable,
size mismatch, ambiguous names) never abort the run: each becomes an
:class:`Issue` that the report and the CLI show, and the file is skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import ImageDataError, ReadError, TextDifuseError
from textdifuse_desktop.metrics import METRICS, compute_all
from textdifuse_desktop.metrics.grey import load_grey

log = logging.getLogger(__name__)

#: Suffixes recognised as images, in the order preferred when a stem is ambiguous.
IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Issue:
    """A file that was skipped, and why.  ``method`` is ``None`` for a problem with the sources."""

    image: str
    reason: str
    path: Path | None = None
    method: str | None = None

    def __str__(self) -> str:
        where = f'"{self.path}"' if self.path is not None else self.image
        who = f"[{self.method}] " if self.method else ""
        return f"{who}{where}: {self.reason}"


@dataclass(frozen=True)
class ImageSet:
    """The files of one image name: sources (and clean references) plus each method's output."""

    name: str
    a: Path
    b: Path
    fused: dict[str, Path]
    reference_a: Path | None = None
    reference_b: Path | None = None


@dataclass
class EvaluationResult:
    """Per-image metric values of every method, plus the skipped files."""

    methods: list[str]
    metric_names: list[str]
    rows: list[tuple[str, str, dict[str, float]]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    image_sets: list[ImageSet] = field(default_factory=list)
    uses_references: bool = False

    def values(self, method: str) -> dict[str, np.ndarray]:
        """Metric name -> per-image values of one method (in image order)."""
        per = [v for m, _, v in self.rows if m == method]
        return {k: np.array([v[k] for v in per], dtype=np.float64) for k in self.metric_names}

    def means(self) -> dict[str, dict[str, float]]:
        """Method -> metric -> arithmetic mean over the method's evaluated images (NaN if none)."""
        out: dict[str, dict[str, float]] = {}
        for method in self.methods:
            vals = self.values(method)
            out[method] = {k: float(np.mean(v)) if v.size else float("nan") for k, v in vals.items()}
        return out

    def counts(self) -> dict[str, int]:
        """Method -> number of images evaluated."""
        return {m: sum(1 for r in self.rows if r[0] == m) for m in self.methods}


def list_images(folder: PathLike) -> tuple[dict[str, Path], list[Issue]]:
    """Map stem -> image file of a folder (non-recursive).

    Raises
    ------
    ReadError
        The folder does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ReadError("not a folder", path=folder, hint="give a folder of PNG/JPEG/BMP/TIFF images")
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            found.setdefault(path.stem, []).append(path)
    images: dict[str, Path] = {}
    issues: list[Issue] = []
    for stem, paths in found.items():
        paths.sort(key=lambda p: IMAGE_SUFFIXES.index(p.suffix.lower()))
        images[stem] = paths[0]
        for other in paths[1:]:
            issues.append(Issue(stem, f"ignored: same name as {paths[0].name}", other))
    return images, issues


def pair_folders(
    a_dir: PathLike,
    b_dir: PathLike,
    fused_dirs: dict[str, PathLike],
    *,
    reference_a: PathLike | None = None,
    reference_b: PathLike | None = None,
) -> tuple[list[ImageSet], list[Issue]]:
    """Pair the files of the source, reference and fused folders by stem.

    Returns the image sets (each with the fused outputs that exist) and an
    issue for every file without a partner.
    """
    issues: list[Issue] = []
    sources: dict[str, dict[str, Path]] = {}
    roles = {"A": a_dir, "B": b_dir}
    if reference_a is not None and reference_b is not None:
        roles.update({"reference A": reference_a, "reference B": reference_b})
    for role, folder in roles.items():
        images, found_issues = list_images(folder)
        issues += found_issues
        sources[role] = images
    stems_by_role = {role: set(images) for role, images in sources.items()}
    common = set.intersection(*stems_by_role.values())
    for role, stems in stems_by_role.items():
        others = [r for r in roles if r != role]
        for stem in sorted(stems - common):
            missing = [r for r in others if stem not in stems_by_role[r]]
            issues.append(Issue(stem, f"no matching image in {', '.join(missing)} folder", sources[role][stem]))

    fused: dict[str, dict[str, Path]] = {}
    for method, folder in fused_dirs.items():
        images, found_issues = list_images(folder)
        issues += [Issue(i.image, i.reason, i.path, method) for i in found_issues]
        fused[method] = images
        for stem in sorted(set(images) - common):
            issues.append(Issue(stem, "no matching source pair", images[stem], method))
        for stem in sorted(common - set(images)):
            issues.append(Issue(stem, f"no fused image in {folder}", sources["A"][stem], method))

    sets = []
    for stem in sorted(common):
        sets.append(
            ImageSet(
                name=sources["A"][stem].name,
                a=sources["A"][stem],
                b=sources["B"][stem],
                fused={m: imgs[stem] for m, imgs in fused.items() if stem in imgs},
                reference_a=sources.get("reference A", {}).get(stem),
                reference_b=sources.get("reference B", {}).get(stem),
            )
        )
    return sets, issues


def evaluate_image_set(
    image_set: ImageSet, metric_names: Sequence[str]
) -> tuple[list[tuple[str, str, dict[str, float]]], list[Issue]]:
    """Compute the metrics of every method's output for one image set (runs in worker processes)."""
    rows: list[tuple[str, str, dict[str, float]]] = []
    issues: list[Issue] = []
    ref_a = image_set.reference_a or image_set.a
    ref_b = image_set.reference_b or image_set.b
    try:
        a, b = load_grey(ref_a), load_grey(ref_b)
        if a.shape != b.shape:
            raise ImageDataError(f"size mismatch: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]} "
                                 f"({ref_b.name})", path=ref_a, hint="the two sources must have the same size")
    except TextDifuseError as error:
        return rows, [Issue(image_set.name, f"{error.reason}; skipped for every method", error.path)]
    for method, path in image_set.fused.items():
        try:
            f = load_grey(path)
            if f.shape != a.shape:
                raise ImageDataError(
                    f"size mismatch: fused {f.shape[1]}x{f.shape[0]}, sources {a.shape[1]}x{a.shape[0]}", path=path
                )
            rows.append((method, image_set.name, compute_all(a, b, f, metric_names)))
        except TextDifuseError as error:
            issues.append(Issue(image_set.name, error.reason, error.path or path, method))
    return rows, issues


def _evaluate_star(args: tuple[ImageSet, Sequence[str]]):  # type: ignore[no-untyped-def]
    return evaluate_image_set(*args)


def evaluate_folders(
    a_dir: PathLike,
    b_dir: PathLike,
    fused_dirs: Sequence[PathLike],
    *,
    names: Sequence[str] | None = None,
    reference_a: PathLike | None = None,
    reference_b: PathLike | None = None,
    metric_names: Sequence[str] | None = None,
    jobs: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> EvaluationResult:
    """Evaluate one or more folders of fused images against the source folders.

    Parameters
    ----------
    a_dir, b_dir:
        Folders of source A (IR / MRI) and source B (VIS / PET / ...) images.
    fused_dirs:
        One folder per method, with files named like the sources.
    names:
        Method names (default: each folder's name).
    reference_a, reference_b:
        Clean sources for the composite-degradation protocol: the fused images
        were made from the (degraded) A/B folders but are scored against these.
    metric_names:
        Metrics to compute (default: all of :data:`METRICS`).
    jobs:
        Worker processes (1 = in this process).
    on_progress:
        Called with ``(done, total)`` after each image set.

    Raises
    ------
    ReadError
        A folder is missing.
    ImageDataError
        Bad arguments: method names that clash, or only one reference folder.
    """
    fused_dirs = [Path(d) for d in fused_dirs]
    if not fused_dirs:
        raise ImageDataError("no fused-image folder given", hint="pass at least one FUSED_DIR")
    if (reference_a is None) != (reference_b is None):
        raise ImageDataError("give both reference folders or neither", hint="use --reference-a and --reference-b together")
    method_names = list(names) if names else [d.resolve().name for d in fused_dirs]
    if len(method_names) != len(fused_dirs):
        raise ImageDataError(f"{len(method_names)} names for {len(fused_dirs)} fused folders",
                             hint="give one --names entry per fused folder")
    if len(set(method_names)) != len(method_names):
        raise ImageDataError(f"method names are not unique: {method_names}", hint="name the methods with --names")
    selected = list(metric_names) if metric_names is not None else list(METRICS)
    image_sets, issues = pair_folders(a_dir, b_dir, dict(zip(method_names, fused_dirs)),
                                      reference_a=reference_a, reference_b=reference_b)
    result = EvaluationResult(method_names, selected, issues=issues, image_sets=image_sets,
                              uses_references=reference_a is not None)
    tasks = [(s, selected) for s in image_sets]
    jobs = max(1, min(jobs, len(tasks)))
    if jobs == 1:
        outputs = map(_evaluate_star, tasks)
        executor = None
    else:
        executor = ProcessPoolExecutor(max_workers=jobs)
        outputs = executor.map(_evaluate_star, tasks, chunksize=max(1, len(tasks) // (8 * jobs)))
    try:
        for done, (rows, set_issues) in enumerate(outputs, start=1):
            result.rows += rows
            result.issues += set_issues
            if on_progress is not None:
                on_progress(done, len(tasks))
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    order = {m: i for i, m in enumerate(method_names)}
    result.rows.sort(key=lambda r: order[r[0]])
    log.info("evaluated %d rows, %d issues", len(result.rows), len(result.issues))
    return result


def default_jobs() -> int:
    """Worker processes used by the CLI by default: the CPU count, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))
