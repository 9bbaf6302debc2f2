"""Server time of the session page for a session of 100 traces (not a test).

    python -m tests.web.measure_session_page [--rounds 9] [--turns 100]

Starts `lamina serve` on a new data dir, sends one session of ``--turns`` traces of 3
spans through the OpenTelemetry SDK's OTLP exporter, signs in and asks for the session
page ``--rounds`` times, printing the median of the ``Server-Timing`` header, the
median wall time, and how many of its turns the page showed whole (the rest it shows
from their previews and fills in as they scroll into view).
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import run_cli, start_server
from tests.web.conftest import PASSWORD, send_turns

SESSION = "measure-session"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lamina-measure-") as folder:
        data_dir = Path(folder)
        server = start_server(data_dir)
        try:
            made = run_cli(
                "users", "create", "bench@example.com", "--password-stdin", "--data-dir",
                str(data_dir), input=PASSWORD + "\n",
            )  # fmt: skip
            assert made.returncode == 0, made.stderr
            turns = [(f"question {n}", f"answer {n}") for n in range(args.turns)]
            send_turns(server, SESSION, turns, remember=False)
            server.wait_for(f"/api/v1/sessions/{SESSION}", lambda s: s["trace_count"] == args.turns)
            with httpx.Client(base_url=server.url, timeout=60) as client:
                form = client.get("/signin").text
                token = re.search(r'name="csrf" value="([^"]+)"', form)
                assert token is not None
                client.post(
                    "/signin",
                    data={"email": "bench@example.com", "password": PASSWORD, "csrf": token[1]},
                )
                server_ms, wall_ms, whole = [], [], set()
                for _ in range(args.rounds):
                    began = time.perf_counter()
                    page = client.get(f"/p/default/sessions/{SESSION}")
                    wall_ms.append((time.perf_counter() - began) * 1000)
                    assert page.status_code == 200, page.status_code
                    timing = re.search(r"dur=([\d.]+)", page.headers["server-timing"])
                    assert timing is not None
                    server_ms.append(float(timing[1]))
                    articles = re.findall(r'<article class="turn([^"]*)"', page.text)
                    whole.add(sum("turn-preview" not in found for found in articles))
            print(
                f"session page, {args.turns} traces of 3 spans, median of {args.rounds}: "
                f"server {statistics.median(server_ms):.1f} ms, "
                f"wall {statistics.median(wall_ms):.1f} ms, "
                f"turns shown whole: {sorted(whole)}"
            )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
