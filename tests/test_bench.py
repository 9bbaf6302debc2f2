"""The benchmark suite runs end to end (a few seconds), so it cannot rot.

This judges nothing about speed: the figures of a tiny run on a busy test
machine mean little. It checks that the suite stores every span it sends and
prints its table.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_benchmark_run_prints_every_target() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for name in (
        "durable ingest",
        "sessions list",
        "one trace",
        "Sessions tab page",
        "users list",
        "Users page",
        "@observe / bare span",
        "sessions list filtered by a score",
        "sessions list sorted by a score",
        "score summary on sessions list",
        "POST /api/v1/scores",
        "POST /api/v1/scores, 1 a request",
        "ingest beside evaluators",
        "sessions checked",
        "judge down: RSS growth",
        "chart: sessions",
        "chart: cost histogram",
        "Dashboard page",
        "SQL: sessions by day",
        "ingest beside SQL queries",
        "evaluate: 1,000 items",
        "experiment page (1,000 items)",
    ):
        assert name in result.stdout
    assert "raw limits: decode" in result.stdout
    # every score given was answered 201; each read figure is a number
    assert re.search(r"scores: 300 given through POST /api/v1/scores", result.stdout)
    for line in result.stdout.splitlines():
        if "score" in line and ("ms p50" in line or "scores/s" in line):
            assert "nan" not in line, line


def test_growth_run_measures_every_read_at_every_stage() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.growth",
            "--stages",
            "2000,4000",
            "--runs",
            "2",
            "--settle",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("read (p50 ms)"))
    stages = [int(figure.replace(",", "")) for figure in header.split()[3:]]
    assert len(stages) == 2 and 2000 <= stages[0] < stages[1] and stages[1] >= 4000
    for name in ("sessions list", "one session", "one trace", "full-text search"):
        row = next(line for line in lines if line.startswith(name + " "))
        assert len(row.split()) == len(name.split()) + 2, row  # a figure for each stage
