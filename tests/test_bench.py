"""The benchmark suite runs end to end (a few seconds), so it cannot rot.

This judges nothing about speed: the figures of a tiny run on a busy test
machine mean little. It checks that the suite stores every span it sends and
prints its table.
"""

from __future__ import annotations

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
        "@observe / bare span",
    ):
        assert name in result.stdout
    assert "raw limits: decode" in result.stdout


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
