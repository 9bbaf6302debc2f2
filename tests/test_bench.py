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
    for name in ("durable ingest", "sessions list", "one trace", "@observe / bare span"):
        assert name in result.stdout
    assert "raw limits: decode" in result.stdout
