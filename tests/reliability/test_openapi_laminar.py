"""Laminar's own API (lamina.web.laminar, #24) against its OpenAPI description, as
test_openapi.py holds Lamina's (its server and checks): for generated requests to each
of Laminar's described routes, valid and not, no 5xx and every answer as described;
every route Lamina serves is described, and the routes of features Lamina lacks answer
a 501 that names them (never a server error)."""

from __future__ import annotations

import httpx
import pytest
from schemathesis import GenerationMode

from lamina.web.laminar import routes
from tests.conftest import LaminaServer
from tests.reliability.test_openapi import _check, _operations
from tests.reliability.test_openapi import described as described

# Features Lamina lacks, and the results link (a page): answered, not described.
UNDESCRIBED = {
    ("PATCH", "/v1/datasets/{dataset_id}"),
    ("POST", "/v1/browser-sessions/events"),
    ("POST", "/v1/rollouts/{session_id}"),
    ("DELETE", "/v1/rollouts/{session_id}"),
    ("GET", "/v1/rollouts/{session_id}/blocks"),
    ("POST", "/v1/rollouts/{session_id}/blocks"),
    ("POST", "/v1/rollouts/{session_id}/cache"),
    ("GET", "/project/{project_uuid}/evaluations/{eval_id}"),
}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_laminar_operation_keeps_to_its_description(
    described: tuple[LaminaServer, str], mode: GenerationMode
) -> None:
    server, key = described
    operations = _operations(server, laminar=True)
    assert len(operations) == 14
    for operation in operations:
        _check(server, operation, mode, key)


def test_every_laminar_route_is_described_or_a_501(described: tuple[LaminaServer, str]) -> None:
    server, key = described
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    for route in routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method == "HEAD":
                continue
            path = route.path  # type: ignore[attr-defined]
            if (method, path) not in UNDESCRIBED:
                assert method.lower() in document["paths"][path], f"{method} {path}"
                continue
            if path.startswith("/project/"):
                continue
            called = path.replace("{eval_id}", "6f1b5a52-3f0e-4c36-9a55-2c0a0f6c1d24")
            called = called.replace("{datapoint_id}", "x").replace("{session_id}", "s")
            answer = httpx.request(
                method, server.url + called, json={}, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 501, (method, path, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "not_supported"
            assert error["message"].startswith("Lamina does not have Laminar's ")
