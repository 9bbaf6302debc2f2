"""Server time of the main pages with a million spans in the store (not a test).

    python tests/web/measure_pages.py [DATA_DIR] [--spans 1000000]

Fills DATA_DIR (once) with 100k traces of 10 spans in 20k sessions, written
straight into the DuckDB store; then starts `lamina serve` on it, signs in and
times each page ``ROUNDS`` times, printing the median and worst of the
``Server-Timing: app;dur=…`` header the pages send, and the wall time.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from pathlib import Path

import httpx
import orjson

from lamina import operations
from lamina.store.duckdb.store import DuckDBStore
from tests.conftest import run_cli, start_server
from tests.spans.record import SpanRecord
from tests.store.writing import write

ROUNDS = 15
SPANS_PER_TRACE = 10
TRACES_PER_SESSION = 5
PASSWORD = "measure-pages-password"


def fill(data_dir: Path, spans: int) -> None:
    store = DuckDBStore(data_dir)
    try:
        if store.count_spans() >= spans:
            return
        project, _ = operations.ensure_default_project(store)
        rng = random.Random(1)
        start = time.time_ns() - 30 * 86_400 * 10**9
        traces = spans // SPANS_PER_TRACE
        batch: list[SpanRecord] = []
        began = time.monotonic()
        for t in range(traces):
            session = f"sess-{t // TRACES_PER_SESSION:06d}"
            user = f"u-{rng.randint(1, 5000)}"
            trace_id = f"{rng.getrandbits(128):032x}"
            at = start + t * 25 * 10**9
            root_id = f"{rng.getrandbits(64):016x}"
            question = f"Question {t}: where is order {rng.randint(1, 99999)}?"
            answer = f"Answer {t}: it ships in {rng.randint(1, 9)} days."
            messages = [
                {"role": "system", "content": "You are a support agent. " * 20},
                {"role": "user", "content": question},
            ]
            for s in range(SPANS_PER_TRACE):
                is_root = s == 0
                llm = s == 2
                span_start = at + s * 50_000_000
                batch.append(
                    SpanRecord(
                        project_id=project.id,
                        trace_id=trace_id,
                        span_id=root_id if is_root else f"{rng.getrandbits(64):016x}",
                        parent_span_id=None if is_root else root_id,
                        name="handle_turn" if is_root else ("openai.chat" if llm else f"step_{s}"),
                        span_type="LLM" if llm else ("TOOL" if s % 3 == 0 else "DEFAULT"),
                        start_ns=span_start,
                        end_ns=span_start + (900_000_000 if is_root else 40_000_000),
                        status="error" if (is_root and t % 97 == 0) else "ok",
                        session_id=session if is_root else None,
                        user_id=user if is_root else None,
                        input=orjson.dumps(messages).decode()
                        if llm
                        else orjson.dumps({"user_message": question}).decode(),
                        output=orjson.dumps([{"role": "assistant", "content": answer}]).decode()
                        if llm
                        else orjson.dumps(answer).decode(),
                        model="gpt-4o-mini" if llm else None,
                        provider="openai" if llm else None,
                        input_tokens=400 if llm else None,
                        output_tokens=40 if llm else None,
                        cost=0.000084 if llm else None,
                        tags=("bench",) if is_root else (),
                    )
                )
            if len(batch) >= 20_000:
                write(store, batch)
                batch = []
                done = (t + 1) * SPANS_PER_TRACE
                rate = done / (time.monotonic() - began)
                print(f"\r  {done:,} spans written ({rate:,.0f}/s)", end="", file=sys.stderr)
        if batch:
            write(store, batch)
        print(file=sys.stderr)
    finally:
        store.close()


def measure(data_dir: Path) -> None:
    result = run_cli(
        "users",
        "create",
        "bench@example.com",
        "--password-stdin",
        "--data-dir",
        str(data_dir),
        input=PASSWORD + "\n",
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise SystemExit(result.stderr)
    server = start_server(data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            form = client.get("/signin").text
            token = re.search(r'name="csrf" value="([^"]+)"', form)
            assert token is not None
            client.post(
                "/signin",
                data={"email": "bench@example.com", "password": PASSWORD, "csrf": token[1]},
            )
            api = client.get("/api/v1/traces", params={"project": "default", "limit": 1}).json()
            trace_id = api["items"][0]["trace_id"]
            session_id = api["items"][0]["session_id"]
            pages = {
                "Sessions tab": "/p/default/traces?tab=sessions",
                "Sessions tab, by cost": "/p/default/traces?tab=sessions&sort=cost",
                "Sessions tab, one user": "/p/default/traces?tab=sessions&user_id=u-42",
                "Session expansion": f"/p/default/sessions/{session_id}?fragment=traces",
                "Traces tab": "/p/default/traces",
                "Traces tab, errors": "/p/default/traces?status=error",
                "Trace view": f"/p/default/traces/{trace_id}",
                "Span detail": f"/p/default/traces/{trace_id}?fragment=span",
                "Session page": f"/p/default/sessions/{session_id}",
                "Search (q=)": "/p/default/traces?q=order+4242",
            }
            spans = client.get("/healthz").json()
            print(
                f"\n{spans.get('spans_written', '?')} spans written by this server; store: "
                f"{data_dir}\n"
            )
            print(f"{'page':<26}{'server median':>15}{'server max':>12}{'wall median':>13}")
            for label, path in pages.items():
                server_ms, wall_ms = [], []
                for _ in range(ROUNDS):
                    began = time.perf_counter()
                    response = client.get(path)
                    wall_ms.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
                    timing = re.search(r"dur=([\d.]+)", response.headers["server-timing"])
                    assert timing is not None
                    server_ms.append(float(timing[1]))
                print(
                    f"{label:<26}{statistics.median(server_ms):>12.1f} ms"
                    f"{max(server_ms):>9.1f} ms{statistics.median(wall_ms):>10.1f} ms"
                )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", nargs="?", default="/tmp/lamina-1m")
    parser.add_argument("--spans", type=int, default=1_000_000)
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    fill(data_dir, args.spans)
    measure(data_dir)


if __name__ == "__main__":
    main()
