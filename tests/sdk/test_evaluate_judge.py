"""``lamina.judge`` (#22): a project's LLM judge evaluator named as an experiment's
evaluator. The server judges each output with the evaluator's own prompt, model and key
(``POST /api/v1/evaluators/{name}/judge``; the fake OpenAI-compatible server of
tests/fakes/llm.py, reached through the real ``openai`` client, on a loopback port the
server is told to allow); the SDK keeps the verdict as the item's score. A judge that
fails, or an evaluator the project does not have, is the item's error; another
project's key finds no evaluator; the judge's key is in no answer, and no run is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lamina
from lamina import Laminar, evaluate
from tests.conftest import LaminaServer, start_server
from tests.fakes.llm import FakeLLM, Reply, judgement
from tests.web.test_api_scores import Project, new_project

SECRET = "sk-judge-" + uuid.uuid4().hex
PROMPT = "Did the answer help? {{transcript}} Metadata: {{metadata}}"


@pytest.fixture(scope="module")
def judge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    data_dir: Path = tmp_path_factory.mktemp("judge-data")
    running = start_server(data_dir, "--evaluator-allowed-hosts", "127.0.0.1")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as running:
        yield running


@pytest.fixture(scope="module")
def project(judge_server: LaminaServer, fake: FakeLLM) -> Iterator[Project]:
    made = new_project(judge_server)
    llm = {
        "base_url": fake.openai_base_url,
        "model": "gpt-4o-mini",
        "api_key": SECRET,
        "prompt": PROMPT,
        "score": {"name": "helpfulness", "type": "numeric", "min": 0, "max": 1},
    }
    # a filter no experiment trace passes: an experiment judges every item all the same
    definition = {"name": "helpfulness", "kind": "llm_judge", "llm": llm}
    made.ok("POST", "/api/v1/evaluators", 201, json=definition | {"filter": {"tag": "live"}})
    Laminar.initialize(project_api_key=made.key, base_url=judge_server.url, instrument_modules=[])
    yield made
    Laminar.shutdown()


def answer(given: Any) -> str:
    return f"answer to {given}"


def test_a_judge_scores_each_output_as_the_evaluator_would_online(
    project: Project, fake: FakeLLM
) -> None:
    fake.script(judgement(score=0.9, reasoning="Clear."), judgement(score=0.2, turn=1))
    before = len(fake.chat_requests())
    data = [
        {"input": "question one", "metadata": {"channel": "web"}},
        {"input": "question two", "expected_output": "x"},
    ]
    result = evaluate(
        data,
        answer,
        {"helpful": lamina.judge("helpfulness"), "long": lambda o, e, i: len(o) > 5},
        concurrency=1,  # the scripted answers in the items' order
    )
    assert not result.failed, result.errors
    assert [item.scores for item in result.items] == [
        {"helpful": 0.9, "long": 1.0},
        {"helpful": 0.2, "long": 1.0},
    ]
    asked = fake.chat_requests()[before:]
    assert len(asked) == 2
    first = str(asked[0]["messages"])
    assert "question one" in first and "answer to question one" in first
    assert '{"channel":"web"}' in first  # the item's metadata fills {{metadata}}
    assert "answer to question two" in str(asked[1]["messages"])
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake.requests[-2:])
    shown = project.ok("GET", f"/api/v1/experiments/{result.experiment_id}")["experiment"]
    assert [item["scores"]["helpful"] for item in shown["items"]] == [0.9, 0.2]
    scores = project.ok("GET", "/api/v1/scores", params={"trace_id": result.items[0].trace_id})
    assert {(s["name"], s["value"], s["source"]) for s in scores["items"]} >= {
        ("helpful", 0.9, "experiment")
    }
    # the experiment keeps the score: the evaluator runs nothing and stores nothing itself
    (evaluator,) = project.ok("GET", "/api/v1/evaluators")["items"]
    assert project.ok("GET", f"/api/v1/evaluators/{evaluator['id']}/runs")["items"] == []


def test_the_judge_route_answers_the_verdict_and_never_the_key(
    project: Project, fake: FakeLLM
) -> None:
    fake.script(judgement(score=1.0, reasoning="Spot on.", turn=1))
    judged = project.call(
        "POST",
        "/api/v1/evaluators/helpfulness/judge",
        json={"input": "hi", "output": "hello", "trace_id": "ab" * 16},
    )
    assert judged.status_code == 200, judged.text
    found = judged.json()
    assert found["error"] is None and found["skipped"] is None
    assert found["score"]["value"] == 1.0 and found["score"]["name"] == "helpfulness"
    assert found["score"]["comment"] == "Spot on." and found["score"]["trace_id"] == "ab" * 16
    assert "User: hi" in found["prompt"] and "Assistant: hello" in found["prompt"]
    assert found["input_tokens"] > 0 and SECRET not in judged.text
    refused = project.call("POST", "/api/v1/evaluators/helpfulness/judge", json={"input": 1})
    assert refused.status_code == 400 and "output" in refused.json()["error"]["message"]


def test_a_failed_judge_or_an_unknown_evaluator_is_the_items_error(
    project: Project, fake: FakeLLM
) -> None:
    fake.script(Reply(content="no JSON"), Reply(content="still none"))
    result = evaluate(
        [{"input": "q"}],
        answer,
        {"helpful": lamina.judge("helpfulness"), "other": lamina.judge("no-such-judge")},
    )
    assert result.failed
    (item,) = result.items
    assert item.error is not None
    assert item.error.startswith("the evaluator 'helpful' raised ExperimentError: the judge")
    assert "did not answer in the JSON asked for" in item.error
    assert item.scores == {}
    shown = project.ok("GET", f"/api/v1/experiments/{result.experiment_id}")["experiment"]
    assert shown["errors"] == 1
    missing = evaluate([{"input": "q"}], answer, {"other": lamina.judge("no-such-judge")})
    (item,) = missing.items
    assert item.error is not None and 'No evaluator named "no-such-judge"' in item.error


def test_another_projects_key_finds_no_evaluator(
    project: Project, judge_server: LaminaServer, fake: FakeLLM
) -> None:
    other = new_project(judge_server)
    before = len(fake.requests)
    for name in ("helpfulness", project.ok("GET", "/api/v1/evaluators")["items"][0]["id"]):
        refused = other.call(
            "POST", f"/api/v1/evaluators/{name}/judge", json={"input": "q", "output": "a"}
        )
        assert refused.status_code == 404, refused.text
    assert len(fake.requests) == before


def test_lamina_judge_is_the_sdks_function_even_beside_the_servers_judging_package() -> None:
    """The server's LLM judge package was once ``lamina.judge`` too: once anything had
    imported it, ``lamina.judge`` was that module, and ``lamina.judge("helpfulness")``
    failed ("'module' object is not callable"). A fresh interpreter, both imported."""
    import subprocess
    import sys

    code = (
        "import lamina.judging, lamina.evaluation.runner\n"
        "import lamina\n"
        "from lamina import judge\n"
        "assert lamina.judge is judge and callable(judge), lamina.judge\n"
        "print(judge.__module__)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "lamina.sdk.judges"
