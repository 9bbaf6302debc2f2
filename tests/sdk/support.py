"""Reading back what the SDK sent, through the server's JSON API."""

from __future__ import annotations

from typing import Any

from lamina import Laminar
from tests.conftest import LaminaServer


def flushed() -> None:
    """Every span ended so far is stored (the server acknowledges after commit)."""
    assert Laminar.flush(10), "flush timed out"


def session(server: LaminaServer, session_id: str) -> dict[str, Any]:
    flushed()
    result: dict[str, Any] = server.api(f"/api/v1/sessions/{session_id}")
    return result


def trace(server: LaminaServer, trace_id: str) -> dict[str, Any]:
    flushed()
    result: dict[str, Any] = server.api(f"/api/v1/traces/{trace_id}")
    return result


def traces(server: LaminaServer, **filters: Any) -> list[dict[str, Any]]:
    flushed()
    items: list[dict[str, Any]] = server.api("/api/v1/traces", limit=500, **filters)["items"]
    return items


def spans_by_name(trace_detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {span["name"]: span for span in trace_detail["spans"]}
