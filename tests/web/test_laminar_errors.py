"""Laminar's own API (lamina.web.laminar, #24) refuses what it cannot use in the JSON
API's error shape, ``{"error": {"code", "message"}}``, with a message that names the
field (or the parameter, or the feature) for a person who never read the code: a 400
for a body or parameter it cannot use, a 404 for what the project does not have, a 501
for what Lamina does not do. One real server (the shared one)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import LaminaServer

MISSING = str(uuid.uuid4())


def _call(
    server: LaminaServer, method: str, path: str, body: Any = None, **params: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    if isinstance(body, bytes):
        return httpx.request(method, server.url + path, headers=headers, content=body, timeout=30)
    return httpx.request(
        method, server.url + path, headers=headers, json=body, params=params, timeout=30
    )


def _error(answer: httpx.Response, status: int, code: str, *words: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["code"] == code
    for word in words:
        assert word in error["message"], error["message"]


@pytest.fixture(scope="module")
def eval_id(server: LaminaServer) -> str:
    made = _call(server, "POST", "/v1/evals", {"name": "errors", "groupName": "errors"})
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/v1/evals", b"[1]", ("JSON object",)),
        ("/v1/evals", b"{not json", ("JSON object",)),
        ("/v1/evals", {"name": 3}, ("name", "text or null")),
        ("/v1/evals", {"name": "x" * 201}, ("name", "200")),
        ("/v1/evals", {"metadata": [1]}, ("metadata",)),
        ("/v1/evals/not-a-uuid", {}, ("evaluation's id", "UUID")),
        ("/v1/evals/{eval}/datapoints", {"points": "x"}, ('"points"',)),
        ("/v1/evals/{eval}/datapoints", {"points": [{"index": -1}]}, ("Datapoint 1", "index")),
        (
            "/v1/evals/{eval}/datapoints",
            {"points": [{"index": 0, "traceId": "t"}]},
            ("traceId", "UUID"),
        ),
        (
            "/v1/evals/{eval}/datapoints",
            {"points": [{"index": 0, "scores": {"": 1}}]},
            ("score name",),
        ),
        ("/v1/datasets/datapoints", {"datapoints": []}, ("name", "datasetId")),
        (
            "/v1/datasets/datapoints",
            {"name": "a", "datasetId": MISSING, "datapoints": []},
            ("one of them",),
        ),
        (
            "/v1/datasets/datapoints",
            {"name": "a", "datapoints": [{"data": None}]},
            ("Item 1", "data"),
        ),
        (
            "/v1/datasets/datapoints",
            {"name": "a", "datapoints": [{"data": 1, "x": 2}]},
            ("unknown field",),
        ),
        (
            "/v1/datasets/datapoints",
            {"name": "a b", "datapoints": [], "createDataset": True},
            ("name",),
        ),
        ("/v1/sql/query", {}, ('"query"',)),
        ("/v1/sql/query", {"query": "SELECT {n:UInt32}"}, ("{n}", "parameters")),
        ("/v1/sql/query", {"query": "SELECT * FROM events"}, ("events",)),
        ("/v1/sql/query", {"query": "DROP TABLE traces"}, ()),
        ("/v1/tag", {"traceId": "t", "names": ["a"]}, ("traceId", "UUID")),
        ("/v1/tag", {"traceId": MISSING, "names": []}, ('"names"',)),
        ("/v1/traces/metadata", {"traceId": MISSING, "metadata": {}}, ('"metadata"',)),
    ],
)
def test_what_cannot_be_used_is_a_400_naming_it(
    server: LaminaServer, eval_id: str, path: str, body: Any, words: tuple[str, ...]
) -> None:
    _error(_call(server, "POST", path.replace("{eval}", eval_id), body), 400, "bad_request", *words)


def test_a_pull_names_its_bad_parameters(server: LaminaServer) -> None:
    _error(
        _call(server, "GET", "/v1/datasets/datapoints", name="a", limit=0),
        400,
        "bad_request",
        "limit",
    )
    _error(_call(server, "GET", "/v1/datasets/datapoints"), 400, "bad_request", "datasetId")


def test_what_the_project_lacks_is_a_404(server: LaminaServer) -> None:
    _error(_call(server, "POST", f"/v1/evals/{MISSING}", {}), 404, "not_found", "No evaluation")
    point = {"points": [{"index": 0}]}
    _error(
        _call(server, "POST", f"/v1/evals/{MISSING}/datapoints", point), 404, "not_found", MISSING
    )
    _error(
        _call(server, "GET", "/v1/datasets/datapoints", name="nowhere"), 404, "not_found", "nowhere"
    )
    push = {"name": "nowhere", "datapoints": [{"data": 1}]}  # createDataset not given
    _error(_call(server, "POST", "/v1/datasets/datapoints", push), 404, "not_found", "nowhere")
    tag = {"traceId": MISSING, "names": ["a"]}
    _error(_call(server, "POST", "/v1/tag", tag), 404, "not_found", MISSING, "flush")
    answer = httpx.get(f"{server.url}/project/{MISSING}/evaluations/{MISSING}", timeout=30)
    assert answer.status_code == 404


def test_renaming_an_evaluation_is_a_501_and_keeping_its_name_is_not(
    server: LaminaServer, eval_id: str
) -> None:
    _error(
        _call(server, "POST", f"/v1/evals/{eval_id}", {"name": "renamed"}),
        501,
        "not_supported",
        "renaming",
        '"errors"',
    )
    same = _call(server, "POST", f"/v1/evals/{eval_id}", {"name": "errors", "metadata": {"a": 1}})
    assert same.status_code == 200 and same.json()["name"] == "errors"


def test_updating_a_datapoint_the_evaluation_has_not_says_so(
    server: LaminaServer, eval_id: str
) -> None:
    answer = _call(server, "POST", f"/v1/evals/{eval_id}/datapoints/{MISSING}", {"scores": {}})
    _error(answer, 404, "not_found", MISSING, "create_datapoint")
    answer = _call(server, "POST", f"/v1/evals/{MISSING}/datapoints/{MISSING}", {"scores": {}})
    _error(answer, 404, "not_found", "No evaluation")
    answer = _call(server, "POST", f"/v1/evals/{eval_id}/datapoints/d-1", {"scores": {}})
    _error(answer, 400, "bad_request", "datapoint's id", "UUID")
    body = {"scores": {"bad name!": 1}}
    answer = _call(server, "POST", f"/v1/evals/{eval_id}/datapoints/{MISSING}", body)
    _error(answer, 400, "bad_request", "score name")


def test_a_dataset_by_its_id_names_what_is_wrong(server: LaminaServer) -> None:
    _error(_call(server, "POST", "/v1/datasets", {"name": "no spaces"}), 400, "bad_request", "name")
    _error(_call(server, "GET", "/v1/datasets/not-a-uuid"), 400, "bad_request", "datasetId")
    for method in ("GET", "DELETE"):
        _error(_call(server, method, f"/v1/datasets/{MISSING}"), 404, "not_found", MISSING)
    _error(
        _call(server, "PATCH", f"/v1/datasets/{MISSING}", {"name": "b"}),
        501,
        "not_supported",
        "renaming of a dataset",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/signals/trigger"), ("GET", "/v1/llm-profiles"), ("POST", "/v1/cli/runs")],
)
def test_a_laminar_call_lamina_does_not_serve_is_a_404_naming_it(
    server: LaminaServer, method: str, path: str
) -> None:
    """Calls of the SDKs' clients with no Lamina counterpart and no route of their own."""
    _error(_call(server, method, path, {}), 404, "not_found", f"{method} {path}", "Laminar")
