"""The JSON API against its own OpenAPI description, with schemathesis: for generated
requests to every operation (valid and not), no 5xx, and every answer has a status,
content type and body the description allows. A real server, with data, and a key.
``LAMINA_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (default 25).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from tests.conftest import LaminaServer, start_server
from tests.reliability.test_data_lifecycle import send_session
from tests.support import otlp
from tests.support.otlp import IN_PROCESS

EXAMPLES = int(os.environ.get("LAMINA_SCHEMATHESIS_EXAMPLES", "25"))

# An import's body: lines of an export, which a JSON schema cannot describe. These are
# valid span lines; schemathesis mutates them for the negative cases.
_SPAN_LINE = st.fixed_dictionaries(
    {
        "kind": st.just("span"),
        "trace_id": st.binary(min_size=16, max_size=16).map(bytes.hex),
        "span_id": st.binary(min_size=8, max_size=8).map(bytes.hex),
        "name": st.text(max_size=20),
        "start_ns": st.integers(0, 2**62),
        "end_ns": st.integers(0, 2**62),
    }
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
# A dataset import's body (application/jsonl): valid item lines.
_ITEM_LINE = st.fixed_dictionaries(
    {"input": _JSON.filter(lambda value: value is not None)},
    optional={"expected_output": _JSON, "metadata": st.dictionaries(st.text(max_size=5), _JSON)},
)


def _lines(line: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.lists(line, max_size=3).map(
        lambda lines: b"".join(orjson.dumps(one) + b"\n" for one in lines)
    )


schemathesis.openapi.media_type("application/x-ndjson", _lines(_SPAN_LINE))
schemathesis.openapi.media_type("application/jsonl", _lines(_ITEM_LINE))


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
    """With a project key: a managing operation is a 403 the description allows."""
    server, key = described
    operations = _operations(server)
    assert len(operations) == 68
    for operation in operations:
        _check(server, operation, mode, key)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_managing_operation_keeps_to_its_description_with_the_admin_token(
    described: tuple[LaminaServer, str], mode: GenerationMode
) -> None:
    """Projects, keys and accounts with generated names (none is the project that holds
    the data: deleting one that does not exist is a 404)."""
    server, _ = described
    token = (server.data_dir / "admin.token").read_text().strip()
    managing = [op for op in _operations(server) if op.path.split("/")[3] in _MANAGING]
    assert len(managing) == 13
    for operation in managing:
        _check(server, operation, mode, token)


_MANAGING = {"projects", "keys", "accounts", "quarantine"}
# Bodies whose fields depend on each other or on the project's score configs (a value
# or a label as the name's config says; categories only for a categorical config),
# which a schema cannot say: a schema-valid body may rightly be a 400 there.
_CHECKED_AGAINST = {
    ("POST", "/api/v1/scores"),
    ("POST", "/api/v1/score-configs"),
    # an evaluator's fields depend on its kind and its check's type
    ("POST", "/api/v1/evaluators"),
    ("PUT", "/api/v1/evaluators/{evaluator_id}"),
    # a metric takes only some group_by values, and status means ok/error for a trace
    # metric, active/ended for a session one; since before until; at most 1000 points
    ("GET", "/api/v1/metrics"),
    ("GET", "/api/v1/metrics/distribution"),
    # a query is SQL the guard reads (any text fits the schema; most is no SELECT), and a
    # saved query's name may not be spaces only
    ("POST", "/api/v1/sql"),
    ("PUT", "/api/v1/sql/queries/{name}"),
    # an experiment's item names its scores, and a score's name follows a rule (a
    # schema of this OpenAPI version cannot say what an object's keys may be)
    ("POST", "/api/v1/experiments/{experiment_id}/items"),
    # Laminar's routes (test_openapi_laminar.py): a datapoint's scores are named by the
    # score rule; a dataset is given by name or by datasetId, not both; a query is SQL;
    # a metadata key is text of at most 200 characters
    ("POST", "/v1/evals/{eval_id}/datapoints"),
    ("POST", "/v1/evals/{eval_id}/datapoints/{datapoint_id}"),
    ("POST", "/v1/datasets/datapoints"),
    ("GET", "/v1/datasets/datapoints"),
    ("POST", "/v1/sql/query"),
    ("POST", "/v1/traces/metadata"),
    # a score is given by traceId or by spanId (not both), a span's id as a UUID whose
    # first half is zeros, and its value as the name's config says
    ("POST", "/v1/evaluators/score"),
}


def _operations(server: LaminaServer, laminar: bool = False) -> list[Any]:
    """The described operations: Lamina's own, or (``laminar``) Laminar's API's."""
    schema = schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path.startswith("/v1/") == laminar]


def _check(server: LaminaServer, operation: Any, mode: GenerationMode, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}

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
        if "cursor" in (case.query or {}) or (case.method, case.path) in _CHECKED_AGAINST:
            excluded.append(positive_data_acceptance)
        case.call_and_validate(base_url=server.url, headers=headers, excluded_checks=excluded)

    check()


def test_the_description_is_served_without_a_key_and_names_every_route(
    described: tuple[LaminaServer, str],
) -> None:
    from lamina.web import api, comments, metrics, scores, shares

    server, _ = described
    answer = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["openapi"].startswith("3.")
    described_routes = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    for route in [*api.routes, *scores.routes, *shares.routes, *comments.routes, *metrics.routes]:
        path = route.path.replace(":path}", "}")  # type: ignore[attr-defined]
        if path == "/api/v1/openapi.json":
            continue
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert (method, path) in described_routes, f"{method} {path} is not described"


def test_the_description_names_every_evaluator_route(
    described: tuple[LaminaServer, str],
) -> None:
    from lamina.web import evaluators

    server, _ = described
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    for route in evaluators.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert method.lower() in document["paths"][route.path]  # type: ignore[attr-defined]


def test_the_description_names_every_experiment_route(
    described: tuple[LaminaServer, str],
) -> None:
    from lamina.web import experiments

    server, _ = described
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    for route in experiments.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert method.lower() in document["paths"][route.path]  # type: ignore[attr-defined]


def test_the_description_names_every_dataset_route(described: tuple[LaminaServer, str]) -> None:
    from lamina.web import datasets

    server, _ = described
    document = httpx.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    for route in datasets.routes:
        for method in route.methods or ():  # type: ignore[attr-defined]
            if method != "HEAD":
                assert method.lower() in document["paths"][route.path]  # type: ignore[attr-defined]


def test_a_described_pattern_of_text_matches_what_the_server_counts_as_blank() -> None:
    """Every ``pattern`` of the description accepts a string only where Python's
    str.strip() (the server's test for blank names, ids and bodies) leaves something:
    a schema-valid id of ECMAScript non-space characters Python strips (\\x1c-\\x1f,
    \\x85) was a 400 for a valid request (schemathesis found one, now and then)."""
    from lamina.web.openapi import document

    patterns = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document())
    assert patterns
    blank_to_python = [" ", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u3000"]
    for pattern in patterns:
        for text in blank_to_python:
            assert not re.search(_as_ecmascript(pattern), text), (pattern, text)


# ECMAScript's \s (what a JSON Schema pattern means): no \x1c-\x1f or \x85, as Python's has
_ECMA_SPACE = "\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _as_ecmascript(pattern: str) -> str:
    r"""The pattern for Python's re with \s and \S as ECMAScript reads them (\s only
    inside a character class, as the description's patterns use it)."""
    return pattern.replace("\\S", f"[^{_ECMA_SPACE}]").replace("\\s", _ECMA_SPACE)


def test_an_operation_with_two_shapes_of_success_describes_both() -> None:
    """Adding many dataset items answers ``{"added", "item_ids"}``, one item
    ``{"item"}``: the description's 201 allows both (it named the one-item shape only,
    so schemathesis's positive run failed on ``{"items": []}`` now and then)."""
    from lamina.web.openapi import document

    answer = document()["paths"]["/api/v1/datasets/{name}/items"]["post"]["responses"]["201"]
    shapes = answer["content"]["application/json"]["schema"]["oneOf"]
    assert {shape["$ref"].rsplit("/", 1)[1] for shape in shapes} == {
        "DatasetItemGiven",
        "DatasetItemsAdded",
    }
