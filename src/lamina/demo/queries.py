"""The demo's saved SQL queries (``PUT /api/v1/sql/queries/{name}``), so the SQL page
opens with examples of its own: sessions a day (pinned to the Dashboard), cost by model,
the slowest traces. Each is written to run on both stores' dialects. Saving again
replaces them."""

from __future__ import annotations

from urllib.parse import quote

import httpx

PINNED = "Sessions a day"
QUERIES = {
    "Sessions a day": (
        "SELECT date_trunc('day', start_time) AS day, count(*) AS sessions,\n"
        "  avg(trace_count) AS turns, sum(cost) AS cost\nFROM sessions\nGROUP BY 1\nORDER BY 1"
    ),
    "Cost by model": (
        "SELECT model, count(*) AS calls, sum(input_tokens) AS input_tokens,\n"
        "  sum(output_tokens) AS output_tokens, sum(cost) AS cost\nFROM spans\n"
        "WHERE model IS NOT NULL\nGROUP BY model\nORDER BY cost DESC"
    ),
    "Slowest traces": (
        "SELECT t.name, t.duration_ms, t.user_id, s.trace_count AS session_turns\n"
        "FROM traces t LEFT JOIN sessions s ON s.session_id = t.session_id\n"
        "ORDER BY t.duration_ms DESC\nLIMIT 10"
    ),
}


def send_queries(client: httpx.Client) -> int:
    """Save the queries through ``client`` (its base URL the server, its headers the key)."""
    for name, query in QUERIES.items():
        answer = client.put(
            f"/api/v1/sql/queries/{quote(name, safe='')}",
            json={"query": query, "pinned": name == PINNED},
        )
        if answer.status_code != 200:
            raise RuntimeError(
                f"The server refused the demo's saved query {name!r}: "
                f"{answer.status_code} {answer.text[:200]}"
            )
    return len(QUERIES)
