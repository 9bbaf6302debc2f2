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
(its own cost, measured, is subtracted). Prints the median of several rounds
per case, in microseconds per call, and the ratio to the bare span.

    .venv/bin/python bench/sdk_overhead.py [--calls 20000] [--rounds 7]
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


class DiscardingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def work(question: str, turn: int) -> str:
    return "answer"


def per_call_us(loop: Callable[[int], Any], calls: int, rounds: int) -> float:
    loop(calls // 10)  # warm up
    samples = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter_ns()
        loop(calls)
        samples.append((time.perf_counter_ns() - start) / calls / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    # Baseline: a plain OpenTelemetry set-up, as an application would write it.
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
    tracer = provider.get_tracer("bench")

    # Lamina, with the same discarding exporter in place of OTLP/HTTP.
    settings = SdkSettings(project_api_key="bench", instrument_modules=frozenset())
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

    cases: list[tuple[str, Callable[[int], Any]]] = [
        ("bare OpenTelemetry span", bare_span),
        ("@observe", observe_call),
        ("with_session + @observe", session_and_observe),
        ("@observe inside a session", observe_in_session),
    ]
    function_cost = per_call_us(bare_function, args.calls, args.rounds)
    results = {
        label: per_call_us(loop, args.calls, args.rounds) - function_cost for label, loop in cases
    }
    Laminar.shutdown()
    provider.shutdown()

    baseline = results["bare OpenTelemetry span"]
    print(f"caller-thread cost per call, median of {args.rounds} rounds of {args.calls} calls")
    print(f"(the undecorated function's own {function_cost:.2f} µs subtracted)\n")
    print(f"{'case':<30}{'µs/call':>10}{'x bare span':>14}")
    for label, cost in results.items():
        print(f"{label:<30}{cost:>10.2f}{cost / baseline:>14.2f}")
    ratio = results["@observe"] / baseline
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"\n@observe / bare span = {ratio:.2f} ({verdict} the target of {TARGET_RATIO}x)")


if __name__ == "__main__":
    main()
