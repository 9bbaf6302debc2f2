"""A JSON API body that is no JSON object gets one kind of answer on every route that
reads one (lamina.web.bodies.read_json): a 400 saying the body must be a JSON object,
what that object holds on this route, and what was wrong (not JSON at all, and where;
or a list, text, a number)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LaminaServer

# route -> what its 400 says the object holds
ROUTES = {
    "/api/v1/scores": 'one score, or {"scores": [...]}',
    "/api/v1/score-configs": "with name, type, min, max, categories, description",
    "/api/v1/experiments/run-1/items": '{"items": [...]}, the run\'s items',
    "/api/v1/evaluators": "an evaluator's fields",
    "/api/v1/comments": "with session_id, trace_id, span_id, body",
}


@pytest.mark.parametrize("path", list(ROUTES))
@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"name": ', "it could not be read as JSON: "),
        (b"[1, 2]", "it is a list."),
        (b'"fine"', "it is text."),
        (b"4", "it is a number."),
    ],
)
def test_a_body_that_is_no_json_object_is_told_what_it_should_be(
    server: LaminaServer, path: str, body: bytes, said: str
) -> None:
    answer = httpx.post(
        server.url + path,
        content=body,
        headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]["message"]
    assert message.startswith(f"The body must be a JSON object ({ROUTES[path]}"), message
    assert said in message, message
