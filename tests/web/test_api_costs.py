"""Costs in the JSON API read as people write them: sums of float prices are rounded to
10 significant digits (0.1 + 0.2 is 0.3, not 0.30000000000000004)."""

from __future__ import annotations

import re
import time

from tests.conftest import LaminaServer
from tests.support import otlp


def test_costs_are_rounded_to_ten_significant_digits(server: LaminaServer) -> None:
    session_id = otlp.uid("costs")
    trace = otlp.new_trace_id()
    root = otlp.span(
        trace,
        "root",
        start_ns=time.time_ns(),
        attributes={"session.id": session_id, "gen_ai.usage.cost": 0.1},
    )
    spans = [
        root,
        otlp.span(trace, "a", parent=root.span_id, attributes={"gen_ai.usage.cost": 0.2}),
        otlp.span(
            trace,
            "b",
            parent=root.span_id,
            attributes={"gen_ai.usage.cost": 4.2000000000000004e-05},
        ),
    ]
    assert otlp.post(server.url, server.api_key, otlp.export(spans)).status_code == 200

    body = otlp.get(server, f"/api/v1/traces/{trace.hex()}").text
    costs = re.findall(r'"cost":([^,}]+)', body)  # the attributes keep what was sent
    assert sorted(costs) == ["0.000042", "0.1", "0.2", "0.300042"], costs
    detail = otlp.api(server, f"/api/v1/traces/{trace.hex()}")
    assert detail["cost"] == 0.300042
    assert sorted(span["cost"] for span in detail["spans"]) == [4.2e-05, 0.1, 0.2]
    session = otlp.api(server, f"/api/v1/sessions/{session_id}")
    assert session["cost"] == 0.300042 and session["traces"][0]["cost"] == 0.300042
    listed = otlp.api(server, "/api/v1/traces", session_id=session_id)["items"]
    assert [item["cost"] for item in listed] == [0.300042]
