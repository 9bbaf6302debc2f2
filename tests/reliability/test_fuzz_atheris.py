"""A short coverage-guided run of the OTLP decoders under atheris (see fuzz_atheris.py):
5,000 inputs from real requests, mutated; any exception but BadRequest fails it.

``LAMINA_ATHERIS_RUNS=100000`` makes it the long run recorded in docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("LAMINA_ATHERIS_RUNS", "5000"))


def test_no_input_makes_the_decoders_fail(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.reliability.fuzz_atheris",
            f"-runs={RUNS}",
            "-max_len=16384",
            "-timeout=10",  # seconds for one input: a hang, not a slow machine
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/crash-",
            "-seed=1",
            str(tmp_path / "corpus"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60 + RUNS / 50,
    )
    report = run.stderr[-4000:]
    assert run.returncode == 0, report
    done = re.search(r"Done (\d+) runs", run.stderr)
    assert done is not None and int(done[1]) == RUNS, report
    assert not list(tmp_path.glob("crash-*")), "libFuzzer saved a crashing input"
