"""The benchmark helpers (tiny configurations only; real figures come from benchmarks/)."""

from __future__ import annotations

import math

from textdifuse_desktop.cli.main import main
from textdifuse_desktop.fusion.benchmark import (
    BenchRow,
    markdown_table,
    run_benchmark,
    synthetic_pair,
)


def test_synthetic_pair_shapes_and_range() -> None:
    a, b = synthetic_pair(64, 48)
    assert a.pixels.shape == (48, 64) and b.pixels.shape == (48, 64, 3)
    assert a.pixels.min() >= 0 and b.pixels.max() <= 255


def test_run_benchmark_in_process_and_table() -> None:
    rows = run_benchmark(sizes=[(64, 48)], methods=["max", "mean"], devices=["cpu"], repeats=1, isolate=False)
    assert [r.method for r in rows] == ["max", "mean"] and all(not r.error for r in rows)
    assert all(r.seconds > 0 and math.isclose(r.ms_per_mp, 1000 * r.seconds / (64 * 48 / 1e6)) for r in rows)
    failed = BenchRow("textdifuse", "cuda", 8, 8, 4, math.nan, math.nan, math.nan, 0, "no GPU")
    table = markdown_table([*rows, failed]).splitlines()
    assert table[0].startswith("| method") and len(table) == 5 and "failed: no GPU" in table[-1]


def test_benchmark_command_isolated(capsys) -> None:
    code = main(["benchmark", "--methods", "mean", "--sizes", "32x32", "--repeats", "1", "--devices", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "| mean | cpu | 32x32 |" in out
