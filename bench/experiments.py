"""Experiments at the issue's scale (issue #22): ``lamina.evaluate`` over 1,000 items,
and the page of the run it made.

    python -m bench.experiments [--items 1000] [--runs 30]

On a fresh `lamina serve`, the SDK in this process (``Laminar.initialize`` pointed at
it, as an application would be):

- **evaluate**: ``lamina.evaluate`` over ``--items`` items (default 1,000) with an
  executor that takes 10 ms (``time.sleep``) and three evaluators (an exact match, a
  length and an overlap, each a few microseconds), concurrency 4: the seconds from the
  call until it returned (each executor call traced, its traces flushed, the run and
  its items kept on the server). The target: 5 s, so the SDK's cost per item is well
  under the executor's (1,000 x 10 ms / 4 is 2.5 s of executing alone).
- **experiment page**: the run's page (``/p/default/experiments/<id>``, every item in
  its table), signed in, its server time from the Server-Timing header, p50 of
  ``--runs``. The target: 200 ms. The API's ``GET /api/v1/experiments/<id>`` is
  printed beside it, unjudged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import page_times
from bench.server import BenchServer

EXECUTOR_SECONDS = 0.01
CONCURRENCY = 4

# name -> (target, unit, higher is better), as bench.__main__ judges them
TARGETS: dict[str, tuple[float, str, bool]] = {
    "evaluate: 1,000 items": (5, "s", False),
    "experiment page (1,000 items)": (200, "ms server", False),
}


def _executor(given: dict[str, Any]) -> str:
    time.sleep(EXECUTOR_SECONDS)  # the application's own work
    return f"The answer to {given['question']} is {given['n'] % 7}."


def _exact(output: str, expected: str | None, item: dict[str, Any]) -> bool:
    return output == expected


def _length(output: str, expected: str | None, item: dict[str, Any]) -> float:
    return len(output)


def _overlap(output: str, expected: str | None, item: dict[str, Any]) -> float:
    said, wanted = set(output.split()), set((expected or "").split())
    return len(said & wanted) / max(len(wanted), 1)


def items(count: int) -> list[dict[str, Any]]:
    return [
        {
            "input": {"question": f"question {n}", "n": n},
            "expected_output": f"The answer to question {n} is {n % 5}.",
            "metadata": {"n": n},
        }
        for n in range(count)
    ]


def measure(count: int, runs: int) -> dict[str, float]:
    """The figures of :data:`TARGETS` (and the API's p50), on a fresh server."""
    from lamina import Laminar, evaluate

    with tempfile.TemporaryDirectory() as tmp, BenchServer(Path(tmp)) as server:
        Laminar.initialize(project_api_key=server.key, base_url=server.url, instrument_modules=[])
        try:
            data = items(count)
            evaluators = {"exact": _exact, "length": _length, "overlap": _overlap}
            printed = io.StringIO()
            started = time.perf_counter()
            with contextlib.redirect_stdout(printed):  # its summary table: not ours to print
                result = evaluate(
                    data, _executor, evaluators, name="bench", concurrency=CONCURRENCY
                )
            seconds = time.perf_counter() - started
        finally:
            Laminar.shutdown()
        if result.failed or len(result.items) != count:
            raise RuntimeError(f"the bench's evaluate failed:\n{printed.getvalue()}")
        path = f"/p/default/experiments/{result.experiment_id}"
        page = page_times(server.url, runs, {"experiment page": (path, {})})
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            api = []
            for _ in range(runs):
                began = time.perf_counter()
                client.get(f"/api/v1/experiments/{result.experiment_id}").raise_for_status()
                api.append((time.perf_counter() - began) * 1000)
    print(
        f"experiments: evaluate over {count:,} items ({EXECUTOR_SECONDS * 1000:.0f} ms "
        f"executor, 3 evaluators, concurrency {CONCURRENCY}) in {seconds:.2f} s",
        file=sys.stderr,
    )
    return {
        "evaluate: 1,000 items": seconds * 1000 / count,  # scaled to 1,000 items
        "experiment page (1,000 items)": page["experiment page"][0],
        "experiment API (1,000 items)": statistics.median(api),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30, help="timed loads of the page")
    args = parser.parse_args(argv)
    figures = measure(args.items, args.runs)
    failed = 0
    for name, (target, unit, higher) in TARGETS.items():
        value = figures[name]
        ok = value >= target if higher else value <= target
        failed += not ok
        print(f"{name:<32}{value:>10,.2f}  {f'{target:,g} {unit}':<16}{'pass' if ok else 'FAIL'}")
    api = figures["experiment API (1,000 items)"]
    print(f"{'experiment API (1,000 items)':<32}{api:>10,.1f}  ms p50")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
