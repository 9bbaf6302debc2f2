"""The JSON API against its own OpenAPI description, with schemathesis: for generated
requests to every operation (valid and not), no 5xx, and every answer has a status,
content type and body the description allows. A real server, with data, and a key.
``LAMINA_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (default 25).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from tests.conftest import LaminaServer, start_server
from tests.core import otlp
from tests.core.otlp import IN_PROCESS
from tests.reliability.test_data_lifecycle import send_session

EXAMPLES = int(os.environ.get("LAMINA_SCHEMATHESIS_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def described() -> Iterator[tuple[LaminaServer, str]]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        running = start_server(Path(directory) / "data", *IN_PROCESS)
        _, key = otlp.new_project(running, "openapi")
        for n in range(3):
            send_session(running, key, f"s-{n}", 2)
        yield running, key
        running.kill()


# schemathesis's pytest plugin does not run under this pytest, so each operation's
# strategy is drawn from directly, positive and negative (malformed) requests alike.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_to_its_description(
    described: tuple[LaminaServer, str], mode: GenerationMode
) -> None:
    server, key = described
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8
    headers = {"Authorization": f"Bearer {key}"}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            # a cursor is opaque: one the server did not issue is rightly a 400; and the
            # API ignores parameters it does not know (documented), so a malformed
            # request may rightly succeed: it must only never be a 5xx or off-schema
            excluded = [negative_data_rejection]
            if "cursor" in (case.query or {}):
                excluded.append(positive_data_acceptance)
            case.call_and_validate(base_url=server.url, headers=headers, excluded_checks=excluded)

        check()


def test_the_description_is_served_without_a_key_and_names_every_route(
    described: tuple[LaminaServer, str],
) -> None:
    from lamina.web import api

    server, _ = described
    answer = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["openapi"].startswith("3.")
    described_routes = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    for route in api.routes:
        path = route.path.replace(":path}", "}")  # type: ignore[attr-defined]
        if path == "/api/v1/openapi.json":
            continue
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert (method, path) in described_routes, f"{method} {path} is not described"
