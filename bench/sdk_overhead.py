"""The caller-thread cost of tracing a call with the Lamina SDK.

Measures, in one run and one process, the time a traced call adds to the
thread that makes it, for:

- a bare OpenTelemetry span (``with tracer.start_as_current_span(...)``, the
  SDK's ``BatchSpanProcessor``), the baseline;
- an ``@observe``'d call (input and output recorded);
- ``with Laminar.with_session(...)`` around an ``@observe``'d call;
- an ``@observe``'d call inside an active session scope (session attributes on
  the span, the common case of a chatbot turn).

Export happens on background threads in every case; both pipelines hand their
spans to an exporter that discards them, so the figures are the caller's cost
alone and do not depend on a server. The traced function itself does nothing
(its own cost, measured, is subtracted). Costs are the calling thread's CPU
time (``time.thread_time_ns``), which the machine's other work does not
inflate the way it does wall time. The cases take turns, round after round;
the table shows each case's best round (the least disturbed by other work on
the machine) and its median, in microseconds per call, and the ratio of the
best rounds to the bare span's.

    .venv/bin/python bench/sdk_overhead.py [--calls 5000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from lamina import Laminar, observe
from lamina.sdk.config import SdkSettings
from lamina.sdk.runtime import STATE, Runtime

TARGET_RATIO = 1.5
QUEUE = 100_000  # span queue bound of both pipelines: more than one sample's spans


class DiscardingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def work(question: str, turn: int) -> str:
    return "answer"


def measure(
    cases: dict[str, Callable[[int], Any]], calls: int, rounds: int, drain: Callable[[], Any]
) -> dict[str, list[float]]:
    """µs of the calling thread's CPU time per call of each case, one sample per
    round. CPU time, not wall time: the time the thread spends descheduled or
    waiting for the GIL (while the export threads work) is not its cost. The
    cases take turns within each round, so a change in the machine's load falls
    on all of them alike. ``drain`` empties the span queues between samples,
    untimed, so that no case ever meets a full queue (dropping is cheaper than
    queueing for one pipeline, and logs for the other)."""
    for loop in cases.values():
        loop(calls // 10)  # warm up
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(rounds):
        for label, loop in cases.items():
            drain()
            gc.collect()
            start = time.thread_time_ns()
            loop(calls)
            samples[label].append((time.thread_time_ns() - start) / calls / 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5_000, help="calls per sample")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    # Baseline: a plain OpenTelemetry set-up, as an application would write it.
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter(), max_queue_size=QUEUE))
    tracer = provider.get_tracer("bench")

    # Lamina, with the same discarding exporter in place of OTLP/HTTP.
    settings = SdkSettings(
        project_api_key="bench", instrument_modules=frozenset(), max_queue_size=QUEUE
    )
    STATE.start(Runtime(settings, exporter=DiscardingExporter()))

    observed = observe()(work)

    def bare_function(n: int) -> None:
        for i in range(n):
            work("What is the capital of France?", i)

    def bare_span(n: int) -> None:
        for i in range(n):
            with tracer.start_as_current_span("work"):
                work("What is the capital of France?", i)

    def observe_call(n: int) -> None:
        for i in range(n):
            observed("What is the capital of France?", i)

    def session_and_observe(n: int) -> None:
        for i in range(n):
            with Laminar.with_session("session-1", user_id="user-1"):
                observed("What is the capital of France?", i)

    def observe_in_session(n: int) -> None:
        with Laminar.with_session("session-1", user_id="user-1"):
            for i in range(n):
                observed("What is the capital of France?", i)

    cases: dict[str, Callable[[int], Any]] = {
        "undecorated function": bare_function,
        "bare OpenTelemetry span": bare_span,
        "@observe": observe_call,
        "with_session + @observe": session_and_observe,
        "@observe inside a session": observe_in_session,
    }

    def drain() -> None:
        provider.force_flush()
        Laminar.flush()

    samples = measure(cases, args.calls, args.rounds, drain)
    Laminar.shutdown()
    provider.shutdown()

    # The fastest round is the one least disturbed by other work on the machine.
    best = {label: min(values) for label, values in samples.items()}
    median = {label: statistics.median(values) for label, values in samples.items()}
    function_cost = best.pop("undecorated function")
    median.pop("undecorated function")
    baseline = best["bare OpenTelemetry span"]
    print(
        f"caller-thread CPU time per call: best and median of {args.rounds} rounds of {args.calls}"
    )
    print(f"calls, in µs, less the undecorated function's own {function_cost:.2f} µs\n")
    print(f"{'case':<28}{'best':>9}{'median':>9}{'best / bare span':>19}")
    for label, cost in best.items():
        extra = cost - function_cost
        ratio = extra / (baseline - function_cost)
        print(f"{label:<28}{extra:>9.2f}{median[label] - function_cost:>9.2f}{ratio:>19.2f}")
    ratio = (best["@observe"] - function_cost) / (baseline - function_cost)
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"\n@observe / bare span = {ratio:.2f} ({verdict} the target of {TARGET_RATIO}x)")


if __name__ == "__main__":
    main()
