"""Laminar's own API (#24): the official Laminar Python SDK (``lmnr``), unchanged,
pointed at a real ``lamina serve`` with ``base_url``/``http_port``/``grpc_port``/
``project_api_key``, runs ``evaluate`` (an inline list with a sync executor, a dataset
pulled from Lamina with an async one, two evaluators each; a run deleted after, traces
and all), updates a datapoint by its id, and ``lmnr eval`` on a file,
pushes and pulls a dataset, queries with ``sql.query`` (its own key and another
project's), tags a trace and gives it metadata, and calls a feature Lamina does not have
(apps/laminar_api_app.py is the application). Read back through Lamina's own JSON API:
the experiments, items, scores and traces are exactly what the app computed.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.compat.conftest import APPS, REPO, Launched, assert_clean, new_run
from tests.conftest import LaminaServer
from tests.fakes.llm import FakeLLM
from tests.support import otlp

_CLIENT_PREFIXES = ("OTEL_", "LMNR_", "TRACELOOP_", "LAMINA_", "OPENAI_", "ANTHROPIC_")


@dataclass(frozen=True)
class Ran:
    run: str
    output: dict[str, Any]
    stderr: str


@pytest.fixture(scope="module")
def ran(
    server: LaminaServer,
    compat_python: Path,
    fake_llm: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
) -> Ran:
    _, other_key = otlp.new_project(server, "lmnr-stranger")
    run = new_run()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_PREFIXES)},
        "PYTHONUNBUFFERED": "1",
        "LAMINA_URL": server.url,
        "LAMINA_GRPC_PORT": server.grpc_target.rsplit(":", 1)[1],
        "LAMINA_KEY": server.api_key,
        "OTHER_KEY": other_key,
        "OPENAI_BASE_URL": fake_llm.openai_base_url,
        "EVAL_DIR": str(tmp_path_factory.mktemp("lmnr-eval")),
        "RUN": run,
    }
    process = subprocess.Popen(
        [str(compat_python), str(APPS / "laminar_api_app.py")],
        env=environment,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    app = Launched("laminar_api_app.py", process, run).result()
    return Ran(run, app.output, app.stderr)


def _items(server: LaminaServer, experiment_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    run = server.api(f"/api/v1/experiments/{experiment_id}")["experiment"]
    return run, run["items"]


def _check_items(server: LaminaServer, items: list[dict[str, Any]], expected: list[Any]) -> None:
    """Each item holds the output and scores the app computed, and its trace holds the
    executor's call and the same scores."""
    assert [item["index"] for item in items] == [case["index"] for case in expected]
    for item, case in zip(items, expected, strict=True):
        output = case["output"]
        assert item["output"] == output
        assert item["scores"] == {
            "exact": case["exact"],
            "length": float(len(output)),
            "half": len(output) / 2,
        }
        trace = server.wait_for(
            f"/api/v1/traces/{item['trace_id']}", lambda t: len(t["spans"]) >= 4
        )
        names = {span["name"] for span in trace["spans"]}
        assert {"evaluation", "executor", "exact", "length"} <= names
        given = {s["name"]: s["value"] for s in trace["scores"] if s["source"] == "experiment"}
        assert given == item["scores"]
        assert item["trace_url"].endswith(f"/traces/{item['trace_id']}")


def test_evaluate_over_an_inline_list_is_an_experiment_with_its_scores(
    server: LaminaServer, ran: Ran
) -> None:
    inline = ran.output["inline"]
    run, items = _items(server, inline["id"])
    assert run["name"] == f"inline-{ran.run}"
    assert run["group"] == f"lmnr-group-{ran.run}"
    assert [item["input"] for item in items] == ["one", "two"]
    assert [item["expected_output"] for item in items] == [{"answer": "ONE"}, {"answer": "2"}]
    _check_items(server, items, inline["expected"])
    assert run["averages"] == pytest.approx(inline["averages"])
    # each call asked the model: the traces' costs (the run's traces are in no session)
    costs = [item["cost"] for item in items]
    assert all(cost is not None and cost > 0 for cost in costs), costs
    assert run["cost"] == pytest.approx(sum(costs))
    assert_clean(ran.stderr)


def test_evaluate_over_a_dataset_pulled_from_lamina_links_its_items(
    server: LaminaServer, ran: Ran
) -> None:
    dataset = f"lmnr-ds-{ran.run}"
    stored = server.api(f"/api/v1/datasets/{dataset}/items", limit=50)["items"]
    run, items = _items(server, ran.output["from_dataset"]["id"])
    assert run["group"] == f"lmnr-group-{ran.run}"
    assert [item["item_id"] for item in items] == [item["item_id"] for item in stored]
    assert [item["input"] for item in items] == [item["input"] for item in stored]
    _check_items(server, items, ran.output["from_dataset"]["expected"])
    assert run["averages"] == pytest.approx(ran.output["from_dataset"]["averages"])
    group = server.api("/api/v1/experiments", group=f"lmnr-group-{ran.run}")["items"]
    assert {g["experiment_id"] for g in group} == {ran.output["inline"]["id"], run["experiment_id"]}


def test_a_datapoint_made_then_updated_by_its_id_holds_its_results(
    server: LaminaServer, ran: Ran
) -> None:
    """The manual evaluation API (create_datapoint, then update_datapoint by the id it
    answered): the item holds the executor's output as the Python SDK sends it (its
    JSON text, kept as Laminar keeps it) and the scores, moved to the trace given and
    given to it."""
    manual = ran.output["manual"]
    assert "error" not in manual, manual["error"]
    run, items = _items(server, manual["id"])
    assert (run["name"], run["group"]) == (f"manual-{ran.run}", f"lmnr-manual-{ran.run}")
    (item,) = items
    assert (item["index"], item["input"], item["expected_output"]) == (
        0,
        {"q": "two plus two"},
        "4",
    )
    assert item["output"] == '{"answer":"4"}'
    assert item["scores"] == {"right": 1.0, "unsure": None}
    assert item["trace_id"] == manual["trace"]
    given = server.api("/api/v1/scores", trace_id=manual["trace"])["items"]
    assert {s["name"]: s["value"] for s in given}["right"] == 1.0


def test_deleting_a_run_laminar_made_deletes_its_traces_too(server: LaminaServer, ran: Ran) -> None:
    """Laminar's SDK puts a run's traces in no session: deleting the run through
    Lamina's API takes the traces its items point to, with their scores."""
    run_id = ran.output["doomed"]["id"]
    _, items = _items(server, run_id)
    (trace_id,) = [item["trace_id"] for item in items]
    server.wait_for(f"/api/v1/traces/{trace_id}", lambda t: len(t["spans"]) >= 3)
    answer = httpx.delete(
        f"{server.url}/api/v1/experiments/{run_id}",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["traces"], answer.json()["spans"]) == (1, 3)
    assert server.get(f"/api/v1/traces/{trace_id}").status_code == 404
    assert server.api("/api/v1/scores", trace_id=trace_id)["items"] == []


def test_lmnr_eval_runs_a_file_and_its_link_opens_the_experiment_page(
    server: LaminaServer, ran: Ran
) -> None:
    cli = ran.output["cli"]
    assert cli["code"] == 0, cli["stderr"]
    (result,) = cli["results"]
    assert result["scores"] == {"same": 1.0}
    run, items = _items(server, result["evaluation_id"])
    assert run["group"] == f"lmnr-file-{ran.run}"
    assert [(item["input"], item["output"], item["scores"]) for item in items] == [
        ("x", "X", {"same": 1.0})
    ]
    link = urlsplit(result["url"])
    assert f"{link.scheme}://{link.netloc}" == server.url  # the frontend port given
    opened = httpx.get(result["url"], follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == run["url"]


def test_the_experiments_page_shows_the_runs_outputs_and_scores(
    server: LaminaServer, ran: Ran
) -> None:
    """Signed in, the link evaluate printed opens the run's page: its outputs and scores."""
    inline = ran.output["inline"]
    browser = _signed_in(server)
    try:
        page = browser.get(inline["url"].replace("http://127.0.0.1:5667", server.url))
        assert page.status_code == 200, page.text
        assert str(page.url).endswith(f"/experiments/{inline['id']}")
        assert f"inline-{ran.run}" in page.text
        for case in inline["expected"]:
            assert f">{case['output']}<" in page.text or f"{case['output']}" in page.text
        assert "exact" in page.text and "length" in page.text and "half" in page.text
        listed = browser.get(f"{server.url}/p/default/experiments")
        assert listed.status_code == 200 and f"lmnr-group-{ran.run}" in listed.text
    finally:
        browser.close()


def _signed_in(server: LaminaServer) -> httpx.Client:
    email = f"lmnr-{new_run()}@example.com"
    token = (server.data_dir / "admin.token").read_text().strip()
    made = httpx.post(
        f"{server.url}/api/v1/accounts",
        json={"email": email, "password": "correct horse battery", "is_admin": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    browser = httpx.Client(follow_redirects=True, timeout=30)
    form = browser.get(f"{server.url}/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    signed = browser.post(
        f"{server.url}/signin",
        data={
            "csrf": csrf.group(1),
            "next": "/",
            "email": email,
            "password": "correct horse battery",
        },
    )
    assert signed.status_code == 200, signed.text
    return browser


def test_datasets_push_creates_and_pull_reads_back(server: LaminaServer, ran: Ran) -> None:
    out = ran.output
    dataset = f"lmnr-ds-{ran.run}"
    assert out["pushed_dataset_id"] == out["found_id"]
    assert dataset in out["listed"]
    assert out["pulled"] == {
        "total": 3,
        "items": [
            {
                "data": f"case {n}",
                "target": {"answer": "1 esac" if n == 1 else "?"},
                "metadata": {"n": n},
            }
            for n in (1, 2)
        ],
    }
    stored = server.api(f"/api/v1/datasets/{dataset}/items", limit=50)["items"]
    assert [(i["input"], i["expected_output"], i["metadata"]) for i in stored] == [
        (f"case {n}", {"answer": "1 esac" if n == 1 else "?"}, {"n": n}) for n in range(3)
    ]


def test_sql_query_reads_the_project_and_not_another(ran: Ran) -> None:
    trace_id = ran.output["trace_id"]
    assert ran.output["sql"] == [
        {"id": trace_id, "top_span_name": f"tagged2-{ran.run}", "total_tokens": 0}
    ]
    assert ran.output["sql_other"] == []


def test_tags_and_metadata_land_on_the_trace_and_its_filters(
    server: LaminaServer, ran: Ran
) -> None:
    trace_hex = ran.output["trace_id"].replace("-", "")
    trace = server.api(f"/api/v1/traces/{trace_hex}")
    assert sorted(trace["tags"]) == ["lmnr-tag", "probe", "reviewed"]
    assert trace["metadata"] == {"reviewer": "alice", "score": "0.85"}
    # "lmnr-tag" is this app's alone ("reviewed" is also the TypeScript SDK test's,
    # which may run first on the same server)
    tagged = server.api("/api/v1/traces", tag="lmnr-tag")["items"]
    assert [t["trace_id"] for t in tagged] == [trace_hex]
    found = server.api("/api/v1/traces", metadata=["reviewer=alice"])["items"]
    assert [t["trace_id"] for t in found] == [trace_hex]


def test_a_feature_lamina_lacks_is_a_501_naming_it(ran: Ran) -> None:
    rollout = ran.output["rollout"]
    assert rollout["status"] == 501
    assert rollout["body"]["error"]["code"] == "not_supported"
    assert "rollout sessions" in rollout["body"]["error"]["message"]
