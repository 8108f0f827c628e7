"""Write an :class:`EvaluationResult` as ``metrics.csv``, ``metrics.md`` and a self-contained ``report.html``."""

from __future__ import annotations

import base64
import csv
import html
import io
import logging
import math
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textdifuse_desktop._typing import PathLike
from textdifuse_desktop.errors import WriteError
from textdifuse_desktop.metrics import LOWER_IS_BETTER
from textdifuse_desktop.metrics.evaluation import EvaluationResult

log = logging.getLogger(__name__)

#: Columns of the Markdown table, in the layout of the Text-DiFuse paper's tables.
MARKDOWN_COLUMNS = ("EN", "AG", "SD", "SCD", "VIF", "Qabf", "SSIM", "MI")
MEAN_ROW = "MEAN"


def _atomic_write(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open with 0o666 lets the umask decide the permissions, unlike mkstemp's 0o600.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise WriteError(f"cannot write ({error.strerror or error})", path=path,
                         hint="check that the folder is writable and the disk not full") from error
    return path


def _fmt(value: float, digits: int = 6) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


def csv_text(result: EvaluationResult) -> str:
    """``method,image,<metrics>`` with one row per method and image, then a ``MEAN`` row per method."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "image", *result.metric_names])
    means = result.means()
    for method in result.methods:
        for m, image, values in result.rows:
            if m == method:
                writer.writerow([method, image, *(_fmt(values[k]) for k in result.metric_names)])
        writer.writerow([method, MEAN_ROW, *(_fmt(means[method][k]) for k in result.metric_names)])
    return buffer.getvalue()


def _best(means: dict[str, dict[str, float]], metric: str) -> float | None:
    values = [v[metric] for v in means.values() if not math.isnan(v[metric])]
    if not values:
        return None
    return min(values) if metric in LOWER_IS_BETTER else max(values)


def markdown_text(result: EvaluationResult, columns: Sequence[str] = MARKDOWN_COLUMNS) -> str:
    """Markdown table of the per-method means (best per column in bold) plus the list of skipped files."""
    columns = [c for c in columns if c in result.metric_names]
    means = result.means()
    counts = result.counts()
    lines = ["| Method | " + " | ".join(columns) + " | Images |",
             "|---|" + "---:|" * len(columns) + "---:|"]
    best = {c: _best(means, c) for c in columns}
    for method in result.methods:
        cells = []
        for c in columns:
            text = _fmt(means[method][c], 4)
            cells.append(f"**{text}**" if best[c] is not None and means[method][c] == best[c] else text)
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {counts[method]} |")
    text = "\n".join(lines) + "\n"
    if result.uses_references:
        text += "\nScored against the clean reference sources (composite-degradation protocol).\n"
    if result.issues:
        text += f"\n### Skipped files ({len(result.issues)})\n\n" + "".join(f"- {i}\n" for i in result.issues)
    return text


def _png_base64(figure) -> str:  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def bar_charts_base64(result: EvaluationResult, columns: int = 4) -> str:
    """PNG (base64) with one bar chart per metric: the mean per method, error bars = per-image std.

    All metrics share one figure because drawing a figure dominates the cost.
    """
    from matplotlib.figure import Figure

    names = result.metric_names
    rows = max(1, math.ceil(len(names) / columns))
    width = max(2.6, 0.45 * len(result.methods) + 1.2)
    figure = Figure(figsize=(width * columns, 2.5 * rows), dpi=80)
    means = result.means()
    x = np.arange(len(result.methods))
    for i, metric in enumerate(names):
        ax = figure.add_subplot(rows, columns, i + 1)
        per_image = [result.values(m)[metric] for m in result.methods]
        heights = [means[m][metric] if np.isfinite(means[m][metric]) else 0.0 for m in result.methods]
        stds = [float(np.std(v)) if v.size and np.all(np.isfinite(v)) else 0.0 for v in per_image]
        ax.bar(x, heights, yerr=stds, color="#4c72b0", capsize=3)
        ax.set_xticks(x, result.methods, rotation=30, ha="right", fontsize=7)
        ax.set_title(metric + (" (lower is better)" if metric in LOWER_IS_BETTER else ""), fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    figure.subplots_adjust(left=0.06, right=0.98, top=0.93, bottom=0.15, hspace=0.75, wspace=0.3)
    return _png_base64(figure)


def thumbnail_base64(path: Path, size: int = 160) -> str | None:
    """Small PNG (base64) of an image file for the thumbnail grid; ``None`` if unreadable."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as im:
            im = im.convert("RGB") if im.mode not in ("L", "RGB") else im.copy()
            im.thumbnail((size, size))
            buffer = io.BytesIO()
            im.save(buffer, format="PNG")
    except OSError as error:
        log.warning("no thumbnail for %s: %s", path, error)
        return None
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img_tag(path: Path | None, title: str) -> str:
    data = thumbnail_base64(path) if path is not None else None
    if data is None:
        return "<td>(missing)</td>"
    return f'<td><img src="data:image/png;base64,{data}" alt="{html.escape(title)}" title="{html.escape(title)}"></td>'


def html_text(result: EvaluationResult, thumbnails: int = 4) -> str:
    """Self-contained HTML report: means table, a bar chart per metric, a thumbnail grid, skipped files."""
    means = result.means()
    counts = result.counts()
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>Fusion metrics</title><style>",
             "body{font-family:sans-serif;margin:1.5em} table{border-collapse:collapse} "
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right} th{background:#eee} "
             ".charts img{margin:4px} .grid td{text-align:center}</style></head><body>",
             "<h1>Fusion metrics</h1>"]
    if result.uses_references:
        parts.append("<p>Scored against clean reference sources (composite-degradation protocol).</p>")
    parts.append("<h2>Means per method</h2><table><tr><th>Method</th><th>Images</th>"
                 + "".join(f"<th>{html.escape(k)}</th>" for k in result.metric_names) + "</tr>")
    for method in result.methods:
        cells = []
        for k in result.metric_names:
            text = _fmt(means[method][k], 4)
            best = _best(means, k)
            cells.append(f"<td><b>{text}</b></td>" if best is not None and means[method][k] == best
                         else f"<td>{text}</td>")
        parts.append(f"<tr><th>{html.escape(method)}</th><td>{counts[method]}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    if result.rows:
        parts.append("<h2>Charts</h2><div class='charts'>"
                     f'<img alt="bar charts of the mean of each metric per method" '
                     f'src="data:image/png;base64,{bar_charts_base64(result)}"></div>')
    shown = [s for s in result.image_sets if s.fused][:thumbnails]
    if shown:
        headers = ["Image", "A", "B"]
        if result.uses_references:
            headers += ["Reference A", "Reference B"]
        parts.append("<h2>Examples</h2><table class='grid'><tr>"
                     + "".join(f"<th>{html.escape(h)}</th>" for h in headers + result.methods) + "</tr>")
        for s in shown:
            row = [f"<th>{html.escape(s.name)}</th>", _img_tag(s.a, "A"), _img_tag(s.b, "B")]
            if result.uses_references:
                row += [_img_tag(s.reference_a, "reference A"), _img_tag(s.reference_b, "reference B")]
            row += [_img_tag(s.fused.get(m), m) for m in result.methods]
            parts.append("<tr>" + "".join(row) + "</tr>")
        parts.append("</table>")
    if result.issues:
        parts.append(f"<h2>Skipped files ({len(result.issues)})</h2><ul>")
        parts += [f"<li>{html.escape(str(i))}</li>" for i in result.issues]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(result: EvaluationResult, folder: PathLike, *, thumbnails: int = 4) -> list[Path]:
    """Write ``metrics.csv``, ``metrics.md`` and ``report.html`` into ``folder`` (atomically, each file).

    Raises
    ------
    WriteError
        A file cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create the report folder ({error.strerror or error})", path=folder) from error
    return [
        _atomic_write(folder / "metrics.csv", csv_text(result).encode("utf-8")),
        _atomic_write(folder / "metrics.md", markdown_text(result).encode("utf-8")),
        _atomic_write(folder / "report.html", html_text(result, thumbnails).encode("utf-8")),
    ]
